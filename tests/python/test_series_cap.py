"""max_series: a cap on the series of a metric family (docs/series_cap.md).

Past the cap, a new label set is recorded into the family's overflow series (every label
``__overflow__``), counted in ``fastprom_series_overflow_total{metric}`` of the metric's registry,
with one ``SeriesOverflowWarning`` per metric. prometheus_client 0.26 is the oracle for the
uncapped behaviour.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from typing import Any

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

import fastprom
from fastprom import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, SeriesOverflowWarning, Summary

OVER = "__overflow__"
assert fastprom.metrics.OVERFLOW_LABEL_VALUE == OVER


@pytest.fixture(autouse=True)
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Single-process mode, whatever an earlier test left in the environment.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)


def overflow_total(registry: CollectorRegistry, metric: str) -> float | None:
    return registry.get_sample_value("fastprom_series_overflow_total", {"metric": metric})


def test_new_label_sets_past_the_cap_go_to_the_overflow_series() -> None:
    r = CollectorRegistry()
    c = Counter("c", "h", ["a", "b"], registry=r, max_series=2)
    c.labels("1", "x").inc()
    c.labels("2", "x").inc(2)
    assert overflow_total(r, "c") is None
    with pytest.warns(SeriesOverflowWarning, match=r"c reached max_series=2") as rec:
        c.labels("3", "x").inc(4)
    assert len(rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning for this metric
        c.labels("4", "y").inc(8)
        c.labels(a="5", b="z").inc(16)
        # An existing series keeps its own child.
        c.labels("1", "x").inc()
    assert r.get_sample_value("c_total", {"a": "1", "b": "x"}) == 2
    assert r.get_sample_value("c_total", {"a": "2", "b": "x"}) == 2
    assert r.get_sample_value("c_total", {"a": OVER, "b": OVER}) == 28
    assert r.get_sample_value("c_total", {"a": "3", "b": "x"}) is None
    assert overflow_total(r, "c") == 3
    # Three families: the metric (3 series) and the overflow counter; the text parses.
    text = fastprom.generate_latest(r).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert {s.labels["a"] for s in fams["c"].samples if s.name == "c_total"} == {"1", "2", OVER}
    assert [s.labels for s in fams["fastprom_series_overflow"].samples if s.name.endswith("_total")] == [
        {"metric": "c"}
    ]


def test_every_class_takes_max_series_and_shares_one_counter_per_registry() -> None:
    r = CollectorRegistry()
    metrics: list[Any] = [
        Gauge("g", "h", ["l"], registry=r, max_series=1),
        Summary("s", "h", ["l"], registry=r, max_series=1),
        Histogram("hi", "h", ["l"], registry=r, max_series=1),
        Info("i", "h", ["l"], registry=r, max_series=1),
        Enum("e", "h", ["l"], registry=r, states=["a", "b"], max_series=1),
    ]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for m in metrics:
            m.labels("one")
            m.labels("two")
            m.labels("three")
    assert [w.category for w in rec] == [SeriesOverflowWarning] * 5
    for name in ("g", "s", "hi", "i", "e"):
        assert overflow_total(r, name) == 2
    hist = r.get_sample_value("hi_bucket", {"l": OVER, "le": "+Inf"})
    assert hist == 0  # the overflow series exists, labels sorted with le apart
    assert r.get_sample_value("e", {"l": OVER, "e": "a"}) == 1


def test_remove_and_clear_free_room() -> None:
    r = CollectorRegistry()
    g = Gauge("g", "h", ["l"], registry=r, max_series=1)
    g.labels("a").set(1)
    with pytest.warns(SeriesOverflowWarning):
        g.labels("b").set(2)
    g.remove("a")
    g.labels("b").set(3)
    assert r.get_sample_value("g", {"l": "b"}) == 3
    g.clear()
    g.labels("c").set(4)
    assert r.get_sample_value("g", {"l": "c"}) == 4
    assert overflow_total(r, "g") == 1


def test_unregistered_metric_overflows_without_exposing() -> None:
    c = Counter("unreg", "h", ["l"], registry=None, max_series=1)
    c.labels("a").inc()
    with pytest.warns(SeriesOverflowWarning):
        c.labels("b").inc()
    assert "fastprom_series_overflow" not in fastprom.generate_latest(fastprom.REGISTRY).decode()
    assert [s.labels for s in c.collect()[0].samples if s.name == "unreg_total"] == [{"l": "a"}, {"l": OVER}]


@pytest.mark.parametrize(
    ("bad", "exc"),
    [
        (0, ValueError),
        (-1, ValueError),
        (-(2**70), ValueError),
        (True, TypeError),
        (1.5, TypeError),
        ("3", TypeError),
        ([1], TypeError),
    ],
)
def test_bad_max_series_raise_and_create_nothing(bad: object, exc: type[Exception]) -> None:
    r = CollectorRegistry()
    with pytest.raises(exc, match="max_series"):
        Counter("c", "h", ["l"], registry=r, max_series=bad)  # type: ignore[arg-type]
    assert fastprom.generate_latest(r) == b""
    Counter("c", "h", ["l"], registry=r)  # the name was not taken


def test_no_cap_is_prometheus_client_parity() -> None:
    def fill(lib: Any, **kw: Any) -> bytes:
        r = lib.CollectorRegistry()
        c = lib.Counter("c", "h", ["a"], registry=r, **kw)
        h = lib.Histogram("h", "h", ["a"], registry=r, **kw)
        for i in range(50):
            c.labels(str(i)).inc(i)
            h.labels(str(i % 7)).observe(i / 10)
        c.remove("3")
        return bytes(lib.generate_latest(r))

    assert fill(fastprom) == fill(fastprom, max_series=None) == fill(prometheus_client)
    # A cap never reached changes nothing either.
    assert fill(fastprom, max_series=50) == fill(prometheus_client)


def test_multiprocess_overflow_series_is_written(tmp_path: Any) -> None:
    code = textwrap.dedent(
        """
        import warnings
        from fastprom import CollectorRegistry, Counter, generate_latest
        from fastprom.multiprocess import MultiProcessCollector
        warnings.simplefilter("ignore")
        c = Counter("mp", "h", ["l"], max_series=2)
        for i in range(10):
            c.labels(str(i)).inc()
        r = CollectorRegistry()
        MultiProcessCollector(r)
        print(generate_latest(r).decode())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(out)
        for s in f.samples
    }
    assert samples[("mp_total", (("l", "0"),))] == 1
    assert samples[("mp_total", (("l", OVER),))] == 8
    assert samples[("fastprom_series_overflow_total", (("metric", "mp"),))] == 8
    assert not any(k[1] == (("l", "5"),) for k in samples)


# The start of the memory tests' subprocess scripts: rss_kb() reads the process's resident size.
RSS_PRELUDE = textwrap.dedent(
    """
    import random, warnings
    warnings.simplefilter("ignore")
    def rss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    """
)


def test_a_million_label_sets_under_a_cap_keep_memory_bounded() -> None:
    code = RSS_PRELUDE + textwrap.dedent(
        """
        from fastprom import Counter
        c = Counter("tool_calls", "h", ["tool"], registry=None, max_series=1000)
        rnd = random.Random(13)
        for i in range(2000):
            c.labels(f"warm{i}").inc()
        before = rss_kb()
        for _ in range(1_000_000):
            c.labels(f"{rnd.getrandbits(64):x}").inc()
        after = rss_kb()
        series = sum(1 for s in c.collect()[0].samples if s.name == "tool_calls_total")
        print(after - before, series)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    growth_kb, series = map(int, out.stdout.split())
    assert series == 1001
    assert growth_kb < 50 * 1024, f"RSS grew by {growth_kb} kB"


def test_gemini_families_are_capped() -> None:
    from fastprom._families import RUNTIME_MAX_SERIES
    from fastprom.gemini._metrics import GeminiMetrics

    m = GeminiMetrics(CollectorRegistry(), "", ())
    families = [v for v in vars(m).values() if isinstance(v, (Counter, Gauge, Histogram))]
    assert len(families) == 12  # with the last success, response bytes and role families
    assert {f._max_series for f in families} == {RUNTIME_MAX_SERIES} == {1000}
    assert Counter("plain", "h", registry=None)._max_series is None


def test_agent_families_are_capped() -> None:
    """Agent, tool and error names are runtime data: 1 001 tools give 1 000 series and the
    overflow series, not 1 001 series."""
    from fastprom._families import RUNTIME_MAX_SERIES
    from fastprom.agents import AgentMetrics

    registry = CollectorRegistry()
    agent = AgentMetrics("a", registry=registry)
    with pytest.warns(SeriesOverflowWarning):
        for i in range(RUNTIME_MAX_SERIES + 1):
            with agent.tool(f"t{i}"):
                pass
    tools = {
        s.labels.get("gen_ai_tool_name")
        for m in registry.collect()
        if m.name == "gen_ai_agent_tool_calls"
        for s in m.samples
        if s.name.endswith("_total")
    }
    assert len(tools) == RUNTIME_MAX_SERIES + 1 and OVER in tools


def test_a_million_tool_names_keep_an_agent_bounded() -> None:
    """1 000 000 random tool names through an agent's tool spans: the series stop at the cap
    and the process's memory stops growing (spans past the cap are not kept)."""
    code = RSS_PRELUDE + textwrap.dedent(
        """
        from fastprom import CollectorRegistry
        from fastprom.agents import AgentMetrics
        registry = CollectorRegistry()
        agent = AgentMetrics("a", registry=registry)
        rnd = random.Random(7)
        for i in range(20_000):  # past every cap before measuring
            with agent.tool(f"warm{i}"):
                pass
        before = rss_kb()
        for _ in range(1_000_000):
            with agent.tool(f"{rnd.getrandbits(64):x}"):
                pass
        after = rss_kb()
        calls = [s for m in registry.collect() if m.name == "gen_ai_agent_tool_calls" for s in m.samples
                 if s.name.endswith("_total")]
        print(after - before, len(calls), int(sum(s.value for s in calls)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    growth_kb, series, calls = map(int, out.stdout.split())
    assert series == 1001
    assert calls == 1_020_000
    assert growth_kb < 20 * 1024, f"RSS grew by {growth_kb} kB"
