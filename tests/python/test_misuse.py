"""The misuse catalogue: bad input is judged by prometheus_client 0.26's rules.

Each case runs against both libraries. fastprom must accept what prometheus_client
accepts (with the same output afterwards) and raise what it raises (the same class or a
subclass; for prometheus_client's own classes the same module path), with a message.
After a failed call fastprom's output is what it was before the call: where
prometheus_client half-applies a failed call, fastprom leaves the metric unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest
from _helpers import FP, PC, Lib, outputs

Setup = Callable[[Lib, Any], Any]
Action = Callable[[Lib, Any], Any]


def _counter(lib: Lib, reg: Any) -> Any:
    return lib.Counter("c", "help", registry=reg)


def _lcounter(lib: Lib, reg: Any) -> Any:
    c = lib.Counter("c", "help", ["a", "b"], registry=reg)
    c.labels("1", "2").inc()
    return c


def _gauge(lib: Lib, reg: Any) -> Any:
    return lib.Gauge("g", "help", registry=reg)


def _summary(lib: Lib, reg: Any) -> Any:
    s = lib.Summary("s", "help", registry=reg)
    s.observe(1)
    return s


def _histogram(lib: Lib, reg: Any) -> Any:
    h = lib.Histogram("h", "help", buckets=[1, 2], registry=reg)
    h.observe(1)
    return h


def _lhistogram(lib: Lib, reg: Any) -> Any:
    return lib.Histogram("h", "help", ["x"], registry=reg)


def _info(lib: Lib, reg: Any) -> Any:
    return lib.Info("i", "help", ["x"], registry=reg)


def _enum(lib: Lib, reg: Any) -> Any:
    e = lib.Enum("e", "help", states=["a", "b"], registry=reg)
    e.state("b")
    return e


def _none(lib: Lib, reg: Any) -> None:
    return None


def _legacy(lib: Lib) -> None:
    lib.validation.enable_legacy_validation()


# (id, setup, action). Actions that construct metrics register them in the same registry.
CASES: list[tuple[str, Setup, Action]] = [
    # -- names -----------------------------------------------------------------------------
    ("name-dots", _none, lambda lib, reg: lib.Counter("a.b", "h", registry=reg)),
    ("name-dash", _none, lambda lib, reg: lib.Gauge("a-b", "h", registry=reg)),
    ("name-unicode", _none, lambda lib, reg: lib.Gauge("äöü", "h", registry=reg)),
    ("name-digit-first", _none, lambda lib, reg: lib.Gauge("0abc", "h", registry=reg)),
    ("name-empty", _none, lambda lib, reg: lib.Gauge("", "h", registry=reg)),
    ("name-space", _none, lambda lib, reg: lib.Gauge("a b", "h", registry=reg)),
    ("name-colon", _none, lambda lib, reg: lib.Gauge("a:b", "h", registry=reg)),
    ("name-dunder", _none, lambda lib, reg: lib.Gauge("__a", "h", registry=reg)),
    ("name-legacy-dots", _none, lambda lib, reg: (_legacy(lib), lib.Counter("a.b", "h", registry=reg))),
    ("name-legacy-unicode", _none, lambda lib, reg: (_legacy(lib), lib.Gauge("ä", "h", registry=reg))),
    ("name-legacy-ok", _none, lambda lib, reg: (_legacy(lib), lib.Gauge("a:b_c", "h", registry=reg))),
    ("namespace-dots", _none, lambda lib, reg: lib.Gauge("a", "h", namespace="n.s", registry=reg)),
    (
        "namespace-legacy-dots",
        _none,
        lambda lib, reg: (_legacy(lib), lib.Gauge("a", "h", namespace="n.s", registry=reg)),
    ),
    ("unit-on-info", _none, lambda lib, reg: lib.Info("i", "h", unit="s", registry=reg)),
    ("unit-on-enum", _none, lambda lib, reg: lib.Enum("e", "h", unit="s", states=["a"], registry=reg)),
    ("name-not-str", _none, lambda lib, reg: lib.Gauge(5, "h", registry=reg)),
    ("doc-not-str", _none, lambda lib, reg: lib.Gauge("g", 5, registry=reg)),
    # -- label names -------------------------------------------------------------------------
    ("label-dots", _none, lambda lib, reg: lib.Gauge("g", "h", ["a.b"], registry=reg).labels("x").set(1)),
    ("label-unicode", _none, lambda lib, reg: lib.Gauge("g", "h", ["ä"], registry=reg).labels("x").set(1)),
    ("label-dunder", _none, lambda lib, reg: lib.Gauge("g", "h", ["__a"], registry=reg)),
    ("label-le-histogram", _none, lambda lib, reg: lib.Histogram("h", "h", ["le"], registry=reg)),
    ("label-le-gauge", _none, lambda lib, reg: lib.Gauge("g", "h", ["le"], registry=reg).labels("1").set(1)),
    ("label-quantile-summary", _none, lambda lib, reg: lib.Summary("s", "h", ["quantile"], registry=reg)),
    ("label-quantile-histogram", _none, lambda lib, reg: lib.Histogram("h", "h", ["quantile"], registry=reg)),
    ("label-legacy-dots", _none, lambda lib, reg: (_legacy(lib), lib.Gauge("g", "h", ["a.b"], registry=reg))),
    ("label-digit-first", _none, lambda lib, reg: lib.Gauge("g", "h", ["0a"], registry=reg).labels("x").set(1)),
    ("label-empty", _none, lambda lib, reg: lib.Gauge("g", "h", [""], registry=reg)),
    ("label-duplicate", _none, lambda lib, reg: lib.Gauge("g", "h", ["a", "a"], registry=reg)),
    ("label-enum-own-name", _none, lambda lib, reg: lib.Enum("e", "h", ["e"], states=["a"], registry=reg)),
    ("labelnames-str", _none, lambda lib, reg: lib.Gauge("g", "h", "ab", registry=reg).labels("1", "2").set(3)),
    # -- labels() -----------------------------------------------------------------------------
    ("labels-too-few", _lcounter, lambda lib, c: c.labels("1")),
    ("labels-too-many", _lcounter, lambda lib, c: c.labels("1", "2", "3")),
    ("labels-wrong-kw", _lcounter, lambda lib, c: c.labels(a="1", c="2")),
    ("labels-missing-kw", _lcounter, lambda lib, c: c.labels(a="1")),
    ("labels-both", _lcounter, lambda lib, c: c.labels("1", b="2")),
    ("labels-none", _lcounter, lambda lib, c: c.labels()),
    ("labels-non-str", _lcounter, lambda lib, c: c.labels(1, None).inc()),
    ("labels-on-unlabelled", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.labels("x")),
    ("labels-chained", _lcounter, lambda lib, c: c.labels("1", "2").labels("1", "2")),
    ("update-labelled-parent-inc", _lcounter, lambda lib, c: c.inc()),
    ("update-labelled-parent-observe", _lhistogram, lambda lib, h: h.observe(1)),
    ("update-labelled-parent-info", _info, lambda lib, i: i.info({"a": "b"})),
    ("update-labelled-parent-time", _lhistogram, lambda lib, h: h.time().__enter__()),
    ("remove-wrong-count", _lcounter, lambda lib, c: c.remove("1")),
    ("remove-missing", _lcounter, lambda lib, c: c.remove("9", "9")),
    ("remove-on-unlabelled", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.remove("x")),
    ("remove-by-labels-unknown", _lcounter, lambda lib, c: c.remove_by_labels({"zz": "1"})),
    ("remove-by-labels-on-unlabelled", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.remove_by_labels({})),
    ("clear-on-unlabelled", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.clear()),
    # -- values -------------------------------------------------------------------------------
    ("counter-negative", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(-1)),
    ("counter-str", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc("1")),
    ("counter-none", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(None)),
    ("counter-huge-int", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(10**400)),
    ("counter-nan", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(math.nan)),
    ("counter-bool", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(True)),
    ("counter-exemplar-bad-label", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(1, {"a.b": "x"})),
    ("counter-exemplar-too-long", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(1, {"a": "x" * 128})),
    ("counter-exemplar-non-str", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(1, {"a": 1})),
    ("counter-exemplar-dunder", lambda lib, reg: _counter(lib, reg), lambda lib, c: c.inc(1, {"__a": "x"})),
    ("gauge-set-str-float", _gauge, lambda lib, g: g.set("1.5")),
    ("gauge-set-str-bad", _gauge, lambda lib, g: g.set("abc")),
    ("gauge-set-none", _gauge, lambda lib, g: g.set(None)),
    ("gauge-inc-str", _gauge, lambda lib, g: g.inc("1")),
    ("gauge-dec-str", _gauge, lambda lib, g: g.dec("1")),
    ("gauge-inc-huge", _gauge, lambda lib, g: g.inc(10**400)),
    ("gauge-set-huge", _gauge, lambda lib, g: g.set(10**400)),
    ("gauge-inc-negative", _gauge, lambda lib, g: g.inc(-5)),
    (
        "gauge-mostrecent-inc",
        lambda lib, reg: lib.Gauge("g", "h", multiprocess_mode="mostrecent", registry=reg),
        lambda lib, g: g.inc(),
    ),
    ("gauge-bad-mode", _none, lambda lib, reg: lib.Gauge("g", "h", multiprocess_mode="bogus", registry=reg)),
    ("summary-observe-str", _summary, lambda lib, s: s.observe("x")),
    ("summary-observe-str-num", _summary, lambda lib, s: s.observe("2")),
    ("summary-observe-none", _summary, lambda lib, s: s.observe(None)),
    ("histogram-observe-str", _histogram, lambda lib, h: h.observe("x")),
    ("histogram-observe-str-num", _histogram, lambda lib, h: h.observe("0.5")),
    ("histogram-observe-nan", _histogram, lambda lib, h: h.observe(math.nan)),
    ("histogram-exemplar-bad", _histogram, lambda lib, h: h.observe(1.5, {"a-b": "x"})),
    ("histogram-exemplar-too-long", _histogram, lambda lib, h: h.observe(1.5, {"a": "x" * 200})),
    ("histogram-huge", _histogram, lambda lib, h: h.observe(10**400)),
    # -- buckets ------------------------------------------------------------------------------
    ("buckets-unsorted", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[2, 1], registry=reg)),
    ("buckets-duplicate", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[1, 1], registry=reg).observe(1)),
    ("buckets-one", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[1], registry=reg).observe(1)),
    ("buckets-only-inf", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[math.inf], registry=reg)),
    ("buckets-empty", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[], registry=reg)),
    ("buckets-str", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=["1", "2.5"], registry=reg).observe(2)),
    ("buckets-bad-str", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=["x"], registry=reg)),
    ("buckets-nan", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[1, math.nan], registry=reg)),
    ("buckets-inf-middle", _none, lambda lib, reg: lib.Histogram("h", "h", buckets=[1, math.inf, 5], registry=reg)),
    # -- registration ---------------------------------------------------------------------------
    (
        "duplicate-same",
        _none,
        lambda lib, reg: (lib.Counter("c", "h", registry=reg), lib.Counter("c", "h", registry=reg)),
    ),
    (
        "duplicate-total",
        _none,
        lambda lib, reg: (lib.Counter("c", "h", registry=reg), lib.Gauge("c_total", "h", registry=reg)),
    ),
    (
        "duplicate-created",
        _none,
        lambda lib, reg: (lib.Counter("c", "h", registry=reg), lib.Gauge("c_created", "h", registry=reg)),
    ),
    (
        "duplicate-bucket",
        _none,
        lambda lib, reg: (lib.Histogram("h", "h", registry=reg), lib.Gauge("h_bucket", "h", registry=reg)),
    ),
    (
        "duplicate-info",
        _none,
        lambda lib, reg: (lib.Info("i", "h", registry=reg), lib.Gauge("i_info", "h", registry=reg)),
    ),
    (
        "duplicate-target-info",
        _none,
        lambda lib, reg: (reg.set_target_info({"a": "b"}), lib.Gauge("target_info", "h", registry=reg)),
    ),
    ("unregister-unknown", _none, lambda lib, reg: reg.unregister(lib.Counter("c", "h", registry=None))),
    ("register-twice", _none, lambda lib, reg: reg.register(lib.Counter("c", "h", registry=reg))),
    # -- info / enum ----------------------------------------------------------------------------
    ("info-not-dict", lambda lib, reg: lib.Info("i", "h", registry=reg), lambda lib, i: i.info([("a", "b")])),
    ("info-overlap", lambda lib, reg: _info(lib, reg).labels("1"), lambda lib, i: i.info({"x": "b"})),
    ("info-non-str-value", lambda lib, reg: lib.Info("i", "h", registry=reg), lambda lib, i: i.info({"a": 1})),
    ("info-none-value", lambda lib, reg: lib.Info("i", "h", registry=reg), lambda lib, i: i.info({"a": None})),
    ("info-bad-key", lambda lib, reg: lib.Info("i", "h", registry=reg), lambda lib, i: i.info({"a.b": "x"})),
    ("enum-unknown-state", _enum, lambda lib, e: e.state("zzz")),
    ("enum-no-states", _none, lambda lib, reg: lib.Enum("e", "h", states=[], registry=reg)),
    ("enum-states-none", _none, lambda lib, reg: lib.Enum("e", "h", registry=reg)),
    # -- families -------------------------------------------------------------------------------
    ("family-bad-type", _none, lambda lib, reg: lib.core.Metric("m", "h", "bogus")),
    ("family-value-and-labels", _none, lambda lib, reg: lib.core.GaugeMetricFamily("m", "h", value=1, labels=["a"])),
    (
        "family-counter-value-and-labels",
        _none,
        lambda lib, reg: lib.core.CounterMetricFamily("m", "h", value=1, labels=["a"]),
    ),
    ("family-summary-partial", _none, lambda lib, reg: lib.core.SummaryMetricFamily("m", "h", count_value=1)),
    ("family-timestamp-bad-nsec", _none, lambda lib, reg: lib.core.Timestamp(1, 2e9)),
    ("family-untyped", _none, lambda lib, reg: lib.core.Metric("m", "h", "untyped").type),
]


def _render(lib: Lib, reg: Any) -> Any:
    """Both outputs, or the class of what rendering raised."""
    try:
        return b"".join(outputs(lib, reg))
    except Exception as exc:
        return type(exc)


def _run(lib: Lib, setup: Setup, action: Action) -> tuple[Any, bytes | None, Any, Any]:
    """Returns (what the action raised or returned, output before, registry, output after)."""
    reg = lib.CollectorRegistry()
    target = setup(lib, reg)
    before = None
    if target is not None:
        before = b"".join(outputs(lib, reg))
    else:
        target = reg
    try:
        result: Any = action(lib, target)
    except Exception as exc:
        result = exc
    finally:
        lib.validation.disable_legacy_validation()
    return result, before, reg, _render(lib, reg)


def _same_class(got: BaseException, want: BaseException) -> bool:
    want_cls = type(want)
    if want_cls.__module__.startswith("prometheus_client"):
        module = want_cls.__module__.replace("prometheus_client", "fastprom", 1)
        return any(c.__module__ == module and c.__name__ == want_cls.__name__ for c in type(got).__mro__)
    return isinstance(got, want_cls)


# Where fastprom deliberately differs: prometheus_client fails with an internal error.
DEVIATIONS = {
    "update-labelled-parent-info": "prometheus_client raises AttributeError (no _labelname_set on a parent Info); "
    "fastprom raises ValueError('info metric is missing label values') like the other metrics",
    "info-not-dict": "prometheus_client raises AttributeError ('list' has no .keys()); fastprom raises TypeError",
    "buckets-nan": "prometheus_client accepts [1, nan] (its sortedness check compares nan by identity) and "
    'writes le="NaN"; fastprom rejects NaN bounds',
}


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        pytest.param(*c[1:], id=c[0], marks=[pytest.mark.xfail(strict=True, reason=DEVIATIONS[c[0]])])
        if c[0] in DEVIATIONS
        else pytest.param(*c[1:], id=c[0])
        for c in CASES
    ],
)
def test_misuse(setup: Setup, action: Action) -> None:
    want, _, _, want_after = _run(PC, setup, action)
    got, before, _, got_after = _run(FP, setup, action)
    if not isinstance(want, Exception) and not isinstance(want_after, bytes):
        # prometheus_client takes the bad value, then every scrape fails: rejecting it
        # up front, or failing the scrape alike, both match.
        assert isinstance(got, Exception) or not isinstance(got_after, bytes)
    elif isinstance(want, Exception):
        assert isinstance(got, Exception), f"prometheus_client raised {want!r}; fastprom accepted it"
        assert _same_class(got, want), f"prometheus_client raised {want!r}; fastprom raised {got!r}"
        assert str(got), "the message must name the problem"
        if before is not None:
            assert got_after == before, "a failed call changed the metric"
    else:
        assert not isinstance(got, Exception), f"prometheus_client accepted this; fastprom raised {got!r}"
        assert got_after == want_after


def test_duplicate_timeseries_details() -> None:
    for lib in (PC, FP):
        reg = lib.CollectorRegistry()
        lib.Counter("c", "h", registry=reg)
        with pytest.raises(lib.module("registry").DuplicateTimeseries) as info:
            lib.Gauge("c_created", "h", registry=reg)
        assert isinstance(info.value, ValueError)
        assert info.value.duplicates == {"c_created"}
        assert "c_created" in str(info.value)
    assert FP.core.DuplicateTimeseries is FP.module("registry").DuplicateTimeseries


def test_messages_name_the_problem() -> None:
    c = FP.Counter("c", "h", ["m"], registry=None)
    with pytest.raises(ValueError, match="missing label values"):
        c.inc()
    with pytest.raises(ValueError, match="Incorrect label count"):
        c.labels("a", "b")
    with pytest.raises(ValueError, match="non-negative"):
        c.labels("a").inc(-1)
    with pytest.raises(ValueError, match="No label names were set when constructing counter:u"):
        FP.Counter("u", "h", registry=None).labels("a")
    with pytest.raises(ValueError, match="Buckets not in sorted order"):
        FP.Histogram("h", "h", buckets=[3, 1], registry=None)
    with pytest.raises(ValueError, match="zzz"):
        FP.Enum("e", "h", states=["a"], registry=None).state("zzz")
    assert str(c) == "counter:c"
    assert repr(FP.Counter("r", "h", registry=None)).endswith("Counter(r)")


def test_summary_observe_str_leaves_no_trace() -> None:
    """prometheus_client bumps ``_count`` before float('x') fails; fastprom changes nothing."""
    s = FP.Summary("s", "h", registry=None)
    with pytest.raises(TypeError):
        s.observe("x")
    assert [x.value for x in next(iter(s.collect())).samples[:2]] == [0.0, 0.0]
    pc = PC.Summary("s", "h", registry=None)
    with pytest.raises(TypeError):
        pc.observe("x")
    assert next(iter(pc.collect())).samples[0].value == 1.0  # the oracle's half-applied call


def test_invalid_exemplar_leaves_no_trace() -> None:
    """prometheus_client increments before validating the exemplar; fastprom does neither."""
    for lib in (FP, PC):
        c = lib.Counter("c", "h", registry=None)
        with pytest.raises(ValueError, match="exceeding the limit of 128"):
            c.inc(2, exemplar={"trace_id": "x" * 128})
        assert next(iter(c.collect())).samples[0].value == (0.0 if lib is FP else 2.0)
    h = FP.Histogram("h", "h", buckets=[1, 2], registry=None)
    with pytest.raises(ValueError):
        h.observe(1.5, exemplar={"a": "x" * 200})
    assert all(s.value == 0.0 for s in next(iter(h.collect())).samples if not s.name.endswith("_created"))


@pytest.mark.parametrize("env", ["true", "1", "T"])
def test_legacy_validation_env(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PROMETHEUS_LEGACY_NAME_VALIDATION`` is read when the validation module is imported."""
    import importlib

    import fastprom.validation

    monkeypatch.setenv("PROMETHEUS_LEGACY_NAME_VALIDATION", env)
    try:
        importlib.reload(fastprom.validation)
        assert fastprom.validation.get_legacy_validation()
        with pytest.raises(ValueError):
            FP.Gauge("a.b", "h", registry=None)
    finally:
        monkeypatch.delenv("PROMETHEUS_LEGACY_NAME_VALIDATION")
        fastprom.validation.disable_legacy_validation()
        importlib.reload(fastprom.validation)
    assert not fastprom.validation.get_legacy_validation()
    FP.Gauge("a.b", "h", registry=None)
