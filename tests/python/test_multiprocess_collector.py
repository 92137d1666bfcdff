"""fastprom.multiprocess against prometheus_client 0.26's, over directories written by real
prometheus_client worker processes (mixed with fastprom's writer: test_mmap_compat.py).

The oracle is prometheus_client's ``MultiProcessCollector`` over the same files: the same
bytes in every format, the same ``Metric`` objects, the same errors. Where
prometheus_client fails a scrape on a bad file, fastprom serves the rest and warns once
per file and scrape (``MultiprocessWarning``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import prometheus_client as pc
import prometheus_client.multiprocess as pc_mp
import pytest
from _mpdir import (
    fp_registry,
    fp_views,
    metric_reprs,
    pc_registry,
    pc_views,
    run_many,
    run_workers,
    worker_env,
)
from prometheus_client.mmap_dict import MmapedDict, mmap_key

import fastprom
from fastprom.multiprocess import MultiProcessCollector, MultiprocessWarning, mark_process_dead
from fastprom.parser import text_string_to_metric_families
from fastprom.samples import Sample


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither variable set; both restored (or removed) after the test, whatever the code
    under test wrote into ``os.environ``."""
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        # Set first, so that monkeypatch removes the variable again even when it was absent
        # and the code under test wrote it (delenv of an absent variable records nothing).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


# ---------------------------------------------------------------------------- construction


@pytest.mark.parametrize("path", [None, "", "file", "missing"])
def test_path_must_be_a_directory(no_env: pytest.MonkeyPatch, tmp_path: Path, path: str | None) -> None:
    (tmp_path / "file").write_text("")
    arg = str(tmp_path / path) if path in ("file", "missing") else path
    with pytest.raises(ValueError) as theirs:
        pc_mp.MultiProcessCollector(None, path=arg)
    with pytest.raises(ValueError) as ours:
        MultiProcessCollector(None, path=arg)
    assert str(ours.value) == str(theirs.value) == "env PROMETHEUS_MULTIPROC_DIR is not set or not a directory"


def test_env_directory_and_registration(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run_workers(tmp_path, [0])
    no_env.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = fastprom.CollectorRegistry()
    unregistered = MultiProcessCollector(None)
    assert unregistered._path == str(tmp_path)
    assert fastprom.generate_latest(registry) == b""
    MultiProcessCollector(registry)
    theirs = pc.CollectorRegistry()
    pc_mp.MultiProcessCollector(theirs)
    assert fastprom.generate_latest(registry) == pc.generate_latest(theirs)
    assert b"requests_total" in fastprom.generate_latest(registry)
    assert metric_reprs(unregistered.collect()) == metric_reprs(theirs.collect())


def test_deprecated_lowercase_variable(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    caught = {}
    for name, cls in (("pc", pc_mp.MultiProcessCollector), ("fp", MultiProcessCollector)):
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        no_env.setenv("prometheus_multiproc_dir", str(tmp_path))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            cls(None)
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
        caught[name] = [(x.category, str(x.message)) for x in w]
    assert caught["fp"] == caught["pc"]
    assert len(caught["fp"]) == 1 and caught["fp"][0][0] is DeprecationWarning
    assert "PROMETHEUS_MULTIPROC_DIR" in caught["fp"][0][1]
    # With both set the upper-case one wins, without a warning.
    other = tmp_path / "other"
    other.mkdir()
    no_env.setenv("PROMETHEUS_MULTIPROC_DIR", str(other))
    assert MultiProcessCollector(None)._path == str(other)


def test_mark_process_dead_paths(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    for d in (upper, lower):
        d.mkdir()
        (d / "gauge_livesum_7.db").write_bytes(b"")
        (d / "gauge_sum_7.db").write_bytes(b"")
    with pytest.raises(TypeError):  # no directory at all: prometheus_client's TypeError
        pc_mp.mark_process_dead(7)
    with pytest.raises(TypeError):
        mark_process_dead(7)
    no_env.setenv("prometheus_multiproc_dir", str(lower))
    mark_process_dead(7)
    assert sorted(p.name for p in lower.iterdir()) == ["gauge_sum_7.db"]
    no_env.setenv("PROMETHEUS_MULTIPROC_DIR", str(upper))
    assert mark_process_dead("7") is None
    assert sorted(p.name for p in upper.iterdir()) == ["gauge_sum_7.db"]
    mark_process_dead(7, str(tmp_path / "missing"))  # nothing to remove: no error, as there


# ------------------------------------------------------------------------- same output


@pytest.fixture(scope="module")
def workers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six prometheus_client workers and twenty short-lived pids."""
    directory = tmp_path_factory.mktemp("workers")
    run_workers(directory, range(6))
    run_many(directory, 20)
    return directory


def test_every_format_is_byte_identical(workers_dir: Path) -> None:
    theirs = pc_views(pc_registry(workers_dir))
    ours = fp_views(fp_registry(workers_dir))
    assert ours == theirs
    text = theirs["text-utf8"]
    # The scenario ran: every gauge mode, per-pid series, histograms, summaries, odd labels.
    for needle in (
        b'g_all{a="x",pid=',
        b"g_mostrecent{",
        b'le="1e+06"',
        b"s_count",
        b"\\n",
        b"dotted.name",
        b'gp_sum{a="y"}',
        b'gp_all{a="y",pid="',
    ):
        assert needle in text


def test_collect_and_merge_give_the_same_metrics(workers_dir: Path) -> None:
    theirs = pc_registry(workers_dir)
    ours = fp_registry(workers_dir)
    assert metric_reprs(ours.collect()) == metric_reprs(theirs.collect())
    files = sorted(str(p) for p in workers_dir.glob("*.db"))
    for accumulate in (True, False):
        want = metric_reprs(pc_mp.MultiProcessCollector.merge(files, accumulate=accumulate))
        assert metric_reprs(MultiProcessCollector.merge(files, accumulate=accumulate)) == want
    assert metric_reprs(MultiProcessCollector.merge([Path(f) for f in reversed(files)])) == metric_reprs(
        pc_mp.MultiProcessCollector.merge(list(reversed(files)))
    )
    for name, labels in (
        ("requests_total", {"path": "/a", "code": "200"}),
        ("h_bucket", {"a": "x", "le": "2.5"}),
        ("h_count", {"a": "x"}),
        ("g_livesum", {"a": "x"}),
        ("c_total", {"w": "3"}),
    ):
        value = ours.get_sample_value(name, labels)
        assert value is not None and value == theirs.get_sample_value(name, labels)


@pytest.mark.parametrize("options", [{}, {"auto_describe": True}, {"support_collectors_without_names": True}], ids=str)
def test_restricted_registry(workers_dir: Path, options: dict[str, bool]) -> None:
    names = ["requests_total", "h_bucket", "g_sum", "plain"]
    theirs = pc_registry(workers_dir, **options).restricted_registry(names)
    ours = fp_registry(workers_dir, **options).restricted_registry(names)
    assert fp_views(ours) == pc_views(theirs)
    assert metric_reprs(ours.collect()) == metric_reprs(theirs.collect())
    if options:
        assert b"requests_total" in fastprom.generate_latest(ours)


def test_mark_process_dead_then_same_output(workers_dir: Path, tmp_path: Path) -> None:
    ours_dir, their_dir = tmp_path / "ours", tmp_path / "theirs"
    shutil.copytree(workers_dir, ours_dir)
    shutil.copytree(workers_dir, their_dir)
    pid = sorted(p.stem.rsplit("_", 1)[1] for p in workers_dir.glob("gauge_livesum_*.db"))[0]
    mark_process_dead(pid, ours_dir)
    pc_mp.mark_process_dead(pid, str(their_dir))
    assert sorted(p.name for p in ours_dir.iterdir()) == sorted(p.name for p in their_dir.iterdir())
    assert len(list(ours_dir.iterdir())) < len(list(workers_dir.iterdir()))
    assert fp_views(fp_registry(ours_dir)) == pc_views(pc_registry(their_dir))


# ----------------------------------------------------------- prometheus_client's own cases

SWITCHING = textwrap.dedent(
    """
    from prometheus_client import values, Counter, Gauge, Histogram
    pid = [0]
    values.ValueClass = values.MultiProcessValue(lambda: pid[0])
    labels = {i: i for i in 'abcd'}
    c = Counter('c', 'help', labelnames=labels.keys(), registry=None)
    g = Gauge('g', 'help', labelnames=labels.keys(), registry=None)
    h = Histogram('h', 'help', labelnames=labels.keys(), registry=None)
    hv = Histogram('hv', 'help', labelnames=['view'], registry=None)
    c.labels(**labels).inc(1)
    g.labels(**labels).set(1)
    h.labels(**labels).observe(1)
    hv.labels(view='view1').observe(1)
    pid[0] = 1
    c.labels(**labels).inc(1)
    g.labels(**labels).set(1)
    h.labels(**labels).observe(5)
    hv.labels(view='view1').observe(5)
    hv.labels(view='view2').observe(1)
    values.close_all_multiprocess_files()
    """
)

BOUNDS = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0"]


@pytest.fixture(scope="module")
def switching_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("switching")
    subprocess.run([sys.executable, "-c", SWITCHING], env=worker_env(directory), check=True)
    return directory


def _buckets(labels: dict[str, str], counts: list[float], name: str = "h") -> list[Sample]:
    bounds = [*BOUNDS, "+Inf"]
    return [Sample(name + "_bucket", {**labels, "le": le}, v) for le, v in zip(bounds, counts, strict=True)]


def test_collect_as_upstream_expects(switching_dir: Path) -> None:
    labels = {i: i for i in "abcd"}
    metrics = {m.name: m for m in MultiProcessCollector(None, path=str(switching_dir)).collect()}
    assert metrics["c"].samples == [Sample("c_total", labels, 2.0)]
    assert sorted(metrics["g"].samples, key=lambda s: s.labels["pid"]) == [
        Sample("g", {**labels, "pid": "0"}, 1.0),
        Sample("g", {**labels, "pid": "1"}, 1.0),
    ]
    # _sum first, then the buckets in order, then _count; label set after label set.
    counts = [0.0] * 9 + [1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert metrics["h"].samples == [
        Sample("h_sum", labels, 6.0),
        *_buckets(labels, counts),
        Sample("h_count", labels, 2.0),
    ]
    view1, view2 = {"view": "view1"}, {"view": "view2"}
    counts2 = [0.0] * 9 + [1.0] * 6
    assert metrics["hv"].samples == [
        Sample("hv_sum", view1, 6.0),
        *_buckets(view1, counts, "hv"),
        Sample("hv_count", view1, 2.0),
        Sample("hv_sum", view2, 1.0),
        *_buckets(view2, counts2, "hv"),
        Sample("hv_count", view2, 1.0),
    ]
    assert metrics["c"].documentation == "help" and metrics["h"].type == "histogram"


def test_merge_without_accumulating(switching_dir: Path) -> None:
    labels = {i: i for i in "abcd"}
    files = [str(p) for p in switching_dir.glob("*.db")]
    metrics = {m.name: m for m in MultiProcessCollector.merge(files, accumulate=False)}
    counts = [0.0] * 9 + [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert metrics["h"].samples == [Sample("h_sum", labels, 6.0), *_buckets(labels, counts)]


def test_restrict_as_upstream(switching_dir: Path) -> None:
    registry = fastprom.CollectorRegistry(support_collectors_without_names=True)
    MultiProcessCollector(registry, path=str(switching_dir))
    metrics = {m.name: m for m in registry.restricted_registry(["c_total"]).collect()}
    assert metrics.keys() == {"c"}
    assert metrics["c"].samples == [Sample("c_total", {i: i for i in "abcd"}, 2.0)]
    assert fastprom.generate_latest(registry.restricted_registry(["c_total"])) == (
        b'# HELP c_total help\n# TYPE c_total counter\nc_total{a="a",b="b",c="c",d="d"} 2.0\n'
    )


def test_subclass_collect_is_called(switching_dir: Path) -> None:
    class OnlyCounters(MultiProcessCollector):
        def collect(self):  # type: ignore[no-untyped-def]
            return [m for m in super().collect() if m.type == "counter"]

    registry = fastprom.CollectorRegistry()
    OnlyCounters(registry, path=str(switching_dir))
    assert fastprom.generate_latest(registry).startswith(b"# HELP c_total help\n")
    assert b"# TYPE h " not in fastprom.generate_latest(registry)


# ------------------------------------------------------------------------------ faults


def test_missing_live_gauge_file_is_skipped_silently(tmp_path: Path) -> None:
    files = [str(tmp_path / "gauge_liveall_9999999.db"), str(tmp_path / "gauge_livesum_9999999.db")]
    assert not pc_mp.MultiProcessCollector.merge(files)
    assert MultiProcessCollector.merge(files) == []


def test_missing_other_file_is_skipped_with_a_warning(workers_dir: Path) -> None:
    """prometheus_client raises FileNotFoundError; fastprom merges the rest and warns."""
    files = sorted(str(p) for p in workers_dir.glob("*.db"))
    gone = str(workers_dir / "counter_424242.db")
    with pytest.raises(FileNotFoundError):
        pc_mp.MultiProcessCollector.merge([*files, gone])
    with pytest.warns(MultiprocessWarning) as caught:
        merged = MultiProcessCollector.merge([*files, gone])
    assert len(caught) == 1 and "counter_424242.db" in str(caught[0].message)
    assert metric_reprs(merged) == metric_reprs(pc_mp.MultiProcessCollector.merge(files))


def _truncated(d: Path, source: Path) -> str:
    """A worker killed while its file grew: the header covers more than the file holds."""
    data = source.read_bytes()
    used = int.from_bytes(data[:4], "little")
    (d / "counter_9001.db").write_bytes(data[: used - 12])
    return "counter_9001.db"


def _garbage(d: Path, source: Path) -> str:
    (d / "counter_9002.db").write_bytes(b"garbage!" * 100)
    return "counter_9002.db"


def _bad_key(d: Path, source: Path) -> str:
    m = MmapedDict(str(d / "counter_9003.db"))
    m.write_value("not a json key", 1.0, 0.0)
    m.close()
    return "counter_9003.db"


def _misnamed(d: Path, source: Path) -> str:
    m = MmapedDict(str(d / "notes.db"))
    m.write_value(mmap_key("stray", "stray_total", [], [], "help"), 1.0, 0.0)
    m.close()
    return "notes.db"


FAULTS = {"truncated": _truncated, "garbage": _garbage, "bad_key": _bad_key, "misnamed": _misnamed}


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_file_is_left_out_with_one_warning_per_scrape(workers_dir: Path, tmp_path: Path, fault: str) -> None:
    shutil.copytree(workers_dir, tmp_path, dirs_exist_ok=True)
    want = pc_views(pc_registry(tmp_path))
    want_metrics = metric_reprs(pc_registry(tmp_path).collect())
    source = next(tmp_path.glob("counter_*.db"))
    name = FAULTS[fault](tmp_path, source)
    with pytest.raises(Exception):  # noqa: B017 - prometheus_client fails the whole scrape
        pc.generate_latest(pc_registry(tmp_path))
    registry = fp_registry(tmp_path)
    for _ in range(2):
        with pytest.warns(MultiprocessWarning) as caught:
            got = fp_views(registry)
        assert got == want
        # One warning per scrape (four formats rendered above), each naming the file.
        assert len(caught) == len(want)
        assert all(name in str(w.message) for w in caught)
    with pytest.warns(MultiprocessWarning) as caught:
        assert metric_reprs(registry.collect()) == want_metrics
    assert len(caught) == 1
    assert issubclass(MultiprocessWarning, UserWarning)


def test_zero_length_file_is_a_file_being_created(workers_dir: Path, tmp_path: Path) -> None:
    """A worker between creating its file and sizing it: nothing to read, nothing to warn
    about (prometheus_client fails the scrape)."""
    shutil.copytree(workers_dir, tmp_path, dirs_exist_ok=True)
    want = pc_views(pc_registry(tmp_path))
    (tmp_path / "gauge_all_9004.db").write_bytes(b"")
    with pytest.raises(Exception):  # noqa: B017
        pc.generate_latest(pc_registry(tmp_path))
    assert fp_views(fp_registry(tmp_path)) == want  # warnings are errors here


def test_rust_served_scrape_warns_once_on_stderr(
    workers_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(workers_dir, tmp_path, dirs_exist_ok=True)
    want = pc.generate_latest(pc_registry(tmp_path))
    _garbage(tmp_path, tmp_path)
    server, thread = fastprom.start_http_server(0, addr="127.0.0.1", registry=fp_registry(tmp_path))
    try:
        import urllib.request

        for _ in range(3):
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10) as r:
                assert r.read() == want
    finally:
        server.shutdown()
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "counter_9002.db" in line]
    assert len(lines) == 1 and lines[0].startswith("fastprom: warning: ")


@pytest.mark.timeout(300)
def test_a_thousand_dead_workers(tmp_path: Path) -> None:
    run_many(tmp_path, 1000)
    assert len(list(tmp_path.glob("*.db"))) == 3000
    registry = fp_registry(tmp_path)
    got = fastprom.generate_latest(registry)
    assert got == pc.generate_latest(pc_registry(tmp_path))
    assert b'c_total{w="6"}' in got and b"g 499500.0" in got


GROWER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Counter, Gauge
    c = Counter("grow", "keys added while scraped", ["k"])
    total = Counter("steady", "one series, incremented")
    g = Gauge("level", "livesum gauge", ["k"], multiprocess_mode="livesum")
    pad = "p" * 200
    deadline = time.monotonic() + float(sys.argv[1])
    i = 0
    while time.monotonic() < deadline:
        c.labels("%06d%s" % (i, pad)).inc(i)
        c.labels("%06d%s" % (i // 2, pad)).inc()
        total.inc()
        g.labels(str(i % 50)).set(i)
        i += 1
        if i % 500 == 0:
            time.sleep(0.001)
    print(i)
    """
)


@pytest.mark.timeout(120)
def test_scrapes_racing_a_growing_writer_always_parse(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", GROWER, "6"], env=worker_env(tmp_path), stdout=subprocess.PIPE, text=True
    )
    registry = fp_registry(tmp_path)
    last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    scrapes = 0
    try:
        while writer.poll() is None:
            text = fastprom.generate_latest(registry).decode()
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if family.type == "counter":
                        key = (s.name, tuple(sorted(s.labels.items())))
                        assert s.value >= last.get(key, 0.0), key
                        last[key] = s.value
            scrapes += 1
    finally:
        out, _ = writer.communicate(timeout=30)
    assert writer.returncode == 0
    written = int(out)
    # The writer's file grew past its first 1 MiB, and the scrapes saw it grow.
    assert (tmp_path / f"counter_{writer.pid}.db").stat().st_size > 1 << 20
    assert scrapes > 10 and written > 5000
    final = fastprom.generate_latest(registry)
    assert final == pc.generate_latest(pc_registry(tmp_path))
    assert f"steady_total {float(written)}".encode() in final
    assert time.monotonic() > 0


PID_LABELS = textwrap.dedent(
    """
    from prometheus_client import values, Counter, Gauge
    modes = ["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent",
             "livemostrecent"]
    current = [0]
    values.ValueClass = values.MultiProcessValue(lambda: current[0])
    for pid in (7, 8, 9):
        current[0] = pid
        for i, mode in enumerate(modes):
            # A label of the series named "pid", as the file's pid label is named.
            g = Gauge("g_" + mode, "help", ["pid", "x"], registry=None, multiprocess_mode=mode)
            g.labels(str(pid % 2), "a").set(pid * 10 + i)
            g.labels("u", "b").set(-pid)
        # One name in a counter file and in gauge files: the first file read gives the type.
        Counter("both", "as a counter", ["k"], registry=None).labels("c").inc(pid)
        Gauge("both", "as a gauge", ["k"], registry=None, multiprocess_mode="sum").labels("g").set(pid)
    values.close_all_multiprocess_files()
    """
)


def test_pid_labels_and_a_name_in_two_types_merge_as_prometheus_client(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", PID_LABELS], env=worker_env(tmp_path), check=True)
    assert fp_views(fp_registry(tmp_path)) == pc_views(pc_registry(tmp_path))
