"""A custom collector's bad sample fails the scrape as in prometheus_client.

prometheus_client appends the failing ``Metric`` to the exception's ``args``, so that a
caller can log which collector broke: the type must be the same, and ``exc.args[-1]``
the very object the collector returned. Every rendering path is tried: a registry (text
and OpenMetrics), a restricted registry, and a bare collector passed to the encoders.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import FP, PC, Lib

# (id, family type, the sample's value, its labels): every value the rendering refuses.
BAD_SAMPLES: list[tuple[str, str, Any, Any]] = [
    ("value-none", "gauge", None, {}),
    ("value-empty-str", "gauge", "", {}),
    ("value-x", "counter", "x", {}),
    ("value-list", "counter", [], {}),
    ("value-dict", "gauge", {}, {}),
    ("label-value-none", "gauge", 1.0, {"le": None}),
    ("label-value-int", "gauge", 1.0, {"a": 1}),
    ("label-name-int", "gauge", 1.0, {1: "a"}),
    ("labels-not-dict", "gauge", 1.0, [("a", "b")]),
]


class _Collector:
    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> list[Any]:
        return [self.metric]


def _metric(lib: Lib, kind: str, value: Any, labels: Any) -> Any:
    m = lib.core.Metric("m", "help", kind)
    m.add_sample("m_total" if kind == "counter" else "m", labels, value)
    return m


Render = Callable[[Lib, Any], bytes]
RENDERS: dict[str, Render] = {
    "text": lambda lib, reg: lib.text(reg),
    "text-allow-utf-8": lambda lib, reg: lib.text(reg, escaping="allow-utf-8"),
    "openmetrics": lambda lib, reg: lib.openmetrics(reg),
    "restricted": lambda lib, reg: lib.text(reg.restricted_registry(["m", "m_total"])),
    "bare-collector-text": lambda lib, reg: lib.text(_Collector(reg.metric)),
    "bare-collector-openmetrics": lambda lib, reg: lib.openmetrics(_Collector(reg.metric)),
}


def _outcome(lib: Lib, case: tuple[str, str, Any, Any], render: Render) -> tuple[Any, Any]:
    """What rendering the bad sample gave: (bytes or exception, the Metric object)."""
    _, kind, value, labels = case
    metric = _metric(lib, kind, value, labels)
    registry = lib.CollectorRegistry()
    registry.register(_Collector(metric))
    registry.metric = metric  # for the bare-collector renders
    try:
        return render(lib, registry), metric
    except Exception as exc:
        return exc, metric


@pytest.mark.parametrize("render", list(RENDERS), ids=list(RENDERS))
@pytest.mark.parametrize("case", BAD_SAMPLES, ids=[c[0] for c in BAD_SAMPLES])
def test_bad_sample_fails_like_prometheus_client(case: tuple[str, str, Any, Any], render: str) -> None:
    want, _ = _outcome(PC, case, RENDERS[render])
    got, metric = _outcome(FP, case, RENDERS[render])
    if not isinstance(want, Exception):
        # prometheus_client writes something (OpenMetrics writes a None value as nothing).
        assert got == want
        return
    assert isinstance(got, Exception), f"prometheus_client raised {want!r}; fastprom wrote {got!r}"
    assert type(got) is type(want), f"prometheus_client raised {want!r}; fastprom raised {got!r}"
    assert got.args[-1] is metric, "the failing Metric must be the exception's last argument"
    assert isinstance(got.args[0], str) and got.args[0], "the message must name the problem"


def test_the_cases_fail_on_the_oracle() -> None:
    """Each case is refused by prometheus_client's text format (else it tests nothing)."""
    for case in BAD_SAMPLES:
        want, metric = _outcome(PC, case, RENDERS["text"])
        assert isinstance(want, Exception), case[0]
        assert want.args[-1] is metric


def test_collect_failure_is_not_annotated() -> None:
    """An exception from ``collect()`` itself is raised as is, in both libraries."""

    class Broken:
        def collect(self) -> Any:
            raise KeyError("boom")

    for lib in (PC, FP):
        registry = lib.CollectorRegistry()
        registry.register(Broken())
        with pytest.raises(KeyError) as info:
            lib.text(registry)
        assert info.value.args == ("boom",)


def test_good_collectors_around_a_bad_one_are_untouched() -> None:
    """After a failed scrape, removing the bad collector renders as before."""
    registry = FP.CollectorRegistry()
    good = FP.Counter("good", "h", registry=registry)
    good.inc()
    before = FP.text(registry)
    bad = _Collector(_metric(FP, "gauge", "x", {}))
    registry.register(bad)
    with pytest.raises(ValueError):
        FP.text(registry)
    registry.unregister(bad)
    assert FP.text(registry) == before
