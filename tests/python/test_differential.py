"""Same operations on prometheus_client and fastprom: byte-identical text and OpenMetrics.

Each scenario is a function of a ``Lib`` (see conftest.py) that builds a registry; it runs
once against each library and the outputs must match byte for byte, then parse back (with
prometheus_client's parsers) to the same families.
"""

from __future__ import annotations

import math
import sys

import pytest
from _helpers import (
    FP,
    PC,
    Lib,
    assert_parses_alike,
    assert_same_output,
    custom_families,
    everything,
    outputs,
    utf8_names,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_every_metric_type() -> None:
    text, om = assert_same_output(everything)
    assert b'requests_created{method="get"} 123.456\n' in text
    assert om.endswith(b"# EOF\n")


def test_created_disabled() -> None:
    def scenario(lib: Lib):
        lib.disable_created_metrics()
        reg = everything(lib)
        lib.Counter("empty", "Nothing yet", ["x"], registry=reg)
        return reg

    text, _ = assert_same_output(scenario)
    assert b"_created" not in text
    assert text.endswith(b"# HELP empty_total Nothing yet\n# TYPE empty_total counter\n")


def test_created_flag_reenabled() -> None:
    def scenario(lib: Lib):
        lib.disable_created_metrics()
        reg = lib.CollectorRegistry()
        lib.Counter("a", "a", registry=reg).inc()
        lib.enable_created_metrics()
        lib.Histogram("b", "b", registry=reg).observe(1)
        return reg

    text, _ = assert_same_output(scenario)
    assert b"a_created 123.456" in text


def test_metrics_module_use_created_flag() -> None:
    def scenario(lib: Lib):
        lib.module("metrics")._use_created = False
        reg = lib.CollectorRegistry()
        lib.Summary("s", "s", registry=reg).observe(3)
        return reg

    text, _ = assert_same_output(scenario)
    assert b"_created" not in text


def test_negative_buckets_have_no_sum() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        h = lib.Histogram("h", "h", ["l"], buckets=[-5, -1, 0, 3], registry=reg)
        h.labels("x").observe(-2)
        h.labels("y").observe(10)
        return reg

    text, _ = assert_same_output(scenario)
    assert b"h_sum" not in text


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        ("Counter", {}),
        ("Counter", {"unit": "bytes"}),
        ("Gauge", {"unit": "seconds"}),
        ("Summary", {"unit": "seconds"}),
        ("Histogram", {"unit": "seconds"}),
        ("Info", {}),
        ("Enum", {"states": ["a", "b"]}),
    ],
)
@pytest.mark.parametrize(
    ("name", "namespace", "subsystem"),
    [
        ("x", "", ""),
        ("x_total", "ns", ""),
        ("x_bytes", "", "sub"),
        ("x_seconds_total", "ns", "sub"),
        ("x_info", "ns", ""),
        ("total", "", ""),
        ("my.dotted-name", "ns.a", ""),
    ],
)
def test_naming(cls: str, kw: dict, name: str, namespace: str, subsystem: str) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        m = getattr(lib, cls)(name, "doc", namespace=namespace, subsystem=subsystem, registry=reg, **kw)
        if cls == "Info":
            m.info({"a": "b"})
        elif cls == "Enum":
            m.state("b")
        elif cls in ("Counter", "Gauge"):
            m.inc()
        else:
            m.observe(1)
        return reg

    assert_same_output(scenario)
    for escaping in ("allow-utf-8", "dots", "values"):
        assert_same_output(scenario, escaping=escaping)


def test_labelled_metrics_keep_creation_order_and_sort_labels() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        h = lib.Histogram("req_seconds", "Req", ["path", "method"], buckets=[0.1, 1], registry=reg)
        for path, method in [("/z", "GET"), ("/a", "POST"), ("/m", "GET")]:
            h.labels(path, method).observe(0.05)
        s = lib.Summary("sz", "sz", ["zz", "aa"], registry=reg)
        s.labels(zz="1", aa="2").observe(4)
        e = lib.Enum("st", "st", ["b", "a"], states=["x", "y"], registry=reg)
        e.labels("1", "2").state("y")
        i = lib.Info("inf", "inf", ["z"], registry=reg)
        i.labels("q").info({"b": "1", "a": "2"})
        return reg

    assert_same_output(scenario)


def test_reset_remove_clear() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("c", "c", ["a", "b"], registry=reg)
        for a in "xyz":
            for b in "12":
                c.labels(a, b).inc(3)
        c.remove("x", "1")
        c.remove_by_labels({"b": "2"})
        c.labels("x", "1").inc()  # re-created: goes to the end
        g = lib.Gauge("g", "g", ["a"], registry=reg)
        g.labels("1").set(1)
        g.clear()
        g.labels("2").set(2)
        u = lib.Counter("u", "u", registry=reg)
        u.inc(5)
        u.reset()
        u.inc(1)
        lc = lib.Counter("lc", "lc", ["a"], registry=reg)
        lc.labels("q").inc(7)
        lc.labels("q").reset()
        return reg

    assert_same_output(scenario)


def test_set_function_and_set_to_current_time() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        g = lib.Gauge("g", "g", registry=reg)
        g.set_function(lambda: 42)
        t = lib.Gauge("t", "t", registry=reg)
        t.set_to_current_time()
        return reg

    text, _ = assert_same_output(scenario)
    assert b"g 42.0\n" in text
    assert b"t 123.456\n" in text


def test_target_info() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry(target_info={"service": "api", "z": 'q"\n'})
        lib.Counter("c", "c", registry=reg).inc()
        return reg

    assert_same_output(scenario)


def test_target_info_set_and_unset() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        lib.Gauge("g", "g", registry=reg).set(1)
        reg.set_target_info({"a": "b"})
        return reg

    assert_same_output(scenario)

    def unset(lib: Lib):
        reg = scenario(lib)
        reg.set_target_info(None)
        assert reg.get_target_info() is None
        return reg

    assert_same_output(unset)


def test_get_sample_value() -> None:
    for lib in (PC, FP):
        reg = everything(lib)
        assert reg.get_sample_value("requests_total", {"method": "post"}) == 2.5
        assert reg.get_sample_value("requests_created", {"method": "get"}) == 123.456
        assert reg.get_sample_value("size_bytes_bucket", {"le": "10.0"}) == 1.0
        assert reg.get_sample_value("latency_seconds_sum") == 2.0
        assert reg.get_sample_value("build_info", {"version": "1.2.3", "commit": "abc"}) == 1.0
        assert reg.get_sample_value("state", {"state": "stopped"}) == 0.0
        assert reg.get_sample_value("requests_total", {"method": "nope"}) is None
        assert reg.get_sample_value("nope") is None


def _ts(ts):
    return None if ts is None else str(ts)  # the two Timestamp classes do not compare equal


def _ex(ex):
    return None if ex is None else (ex.labels, ex.value, _ts(ex.timestamp))


def families(registry) -> list:
    """Metric families as comparable data (NaN-safe; int and float values compare equal)."""
    return [
        (
            m.name,
            m.documentation,
            m.type,
            m.unit,
            [
                (s.name, s.labels, "nan" if s.value != s.value else s.value, _ts(s.timestamp), _ex(s.exemplar))
                for s in m.samples
            ],
        )
        for m in registry.collect()
    ]


def test_collect_yields_same_families() -> None:
    assert families(everything(FP)) == families(everything(PC))
    assert families(custom_families(FP)) == families(custom_families(PC))


def test_collect_repr_identical() -> None:
    assert repr(list(everything(FP).collect())) == repr(list(everything(PC).collect()))


def test_exemplars() -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("hits", "Hits", ["a"], registry=reg)
        c.labels("x").inc(3, exemplar={"trace_id": "xyz"})
        c.labels("x").inc(1, exemplar={"trace_id": "last"})
        c.labels("y").inc()
        h = lib.Histogram("req_seconds", "Req", buckets=[0.1, 1, 10], registry=reg)
        h.observe(0.05, exemplar={"trace_id": "abc", "span_id": 'q"\\\n'})
        h.observe(5, {"trace_id": "def"})
        h.observe(50)
        return reg

    text, om = assert_same_output(scenario)
    assert b"#" not in text.replace(b"# HELP", b"").replace(b"# TYPE", b"")
    assert b'# {trace_id="last"} 1.0 123.456' in om


# -- custom collector families ---------------------------------------------------------------


def test_custom_collector_families() -> None:
    text, _ = assert_same_output(custom_families)
    assert b'ts_gauge{k="v"} 3.0 1600000000123\n' in text


def test_families_in_default_registry_form(fp: Lib, pc: Lib) -> None:
    """A custom collector passed straight to generate_latest (not a registry)."""

    def scenario(lib: Lib):
        return custom_families(lib)._collector_to_names.__iter__().__next__()

    assert_same_output(scenario)


# -- escaping schemes on UTF-8 names --------------------------------------------------------------


@pytest.mark.parametrize(
    "escaping",
    [
        "underscores",
        "allow-utf-8",
        "dots",
        "values",
        pytest.param(
            "bogus",
            marks=pytest.mark.xfail(
                strict=True,
                raises=ValueError,
                reason="prometheus_client writes names unescaped for an unknown escaping; fastprom raises ValueError",
            ),
        ),
    ],
)
def test_escaping_schemes(escaping: str) -> None:
    assert_same_output(utf8_names, escaping=escaping, parse=escaping != "allow-utf-8")


@pytest.mark.parametrize("escaping", ["underscores", "allow-utf-8", "dots", "values"])
@pytest.mark.parametrize("name", ["abc", "a.b", "a_b", "a__b", "_x", ":c", "0a", "ü", "a:b", "a.b_c", "", "__"])
def test_escape_name_helpers(escaping: str, name: str) -> None:
    assert FP.om.escape_metric_name(name, escaping) == PC.om.escape_metric_name(name, escaping)
    assert FP.om.escape_label_name(name, escaping) == PC.om.escape_label_name(name, escaping)


def test_openmetrics_version_2() -> None:
    def scenario(lib: Lib):
        return everything(lib)

    want = PC.openmetrics(scenario(PC), version="2.0.0")
    got = FP.openmetrics(scenario(FP), version="2.0.0")
    assert got == want


# -- property-based ------------------------------------------------------------------------------

label_text = st.text(
    st.one_of(
        st.sampled_from(['"', "\\", "\n", "\r", "\t", " ", "{", "}", "=", ",", "#", "\u2028", "\x00", "é", "😀"]),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, sys.float_info.max, 1e21, 1e-7, 999999.0, 1000000.0]
    ),
    st.integers(min_value=-(2**63), max_value=2**63).map(float),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(float),
)


@SETTINGS
@given(values=st.lists(label_text, min_size=1, max_size=4), help_text=label_text)
@example(values=['a\\b"c\nd'], help_text='"q" \\ \n')
def test_label_values_and_help(values: list[str], help_text: str) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("c", help_text, ["l"], registry=reg)
        g = lib.Gauge("g", help_text, ["a", "b"], registry=reg)
        for i, v in enumerate(values):
            c.labels(v).inc(i)
            g.labels(v, str(i)).set(i)
        return reg

    assert_same_output(scenario)


@SETTINGS
@given(values=st.lists(floats, min_size=1, max_size=6))
def test_gauge_floats(values: list[float]) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        g = lib.Gauge("g", "g", ["i"], registry=reg)
        for i, v in enumerate(values):
            g.labels(str(i)).set(v)
        return reg

    assert_same_output(scenario)


@SETTINGS
@given(v=st.one_of(floats, st.floats(width=32), st.floats(width=16)))
@example(v=512.8047485351562)  # an exact tie between two 16-digit strings: repr rounds to even
def test_float_to_go_string(v: float) -> None:
    assert FP.module("utils").floatToGoString(v) == PC.module("utils").floatToGoString(v)


@SETTINGS
@given(
    amounts=st.lists(st.one_of(st.floats(min_value=0, allow_infinity=True), st.integers(0, 10**6)), max_size=6),
)
def test_counter_amounts(amounts: list[float]) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("c", "c", registry=reg)
        for a in amounts:
            c.inc(a)
        return reg

    assert_same_output(scenario)


@SETTINGS
@given(
    buckets=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=8, unique=True
    ).map(sorted),
    observations=st.lists(floats, max_size=10),
    with_inf=st.booleans(),
)
def test_histogram_buckets(buckets: list[float], observations: list[float], with_inf: bool) -> None:
    if with_inf:
        buckets = [*buckets, math.inf]

    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        h = lib.Histogram("h", "h", buckets=buckets, registry=reg)
        s = lib.Summary("s", "s", registry=reg)
        for v in observations:
            h.observe(v)
            s.observe(v)
        return reg

    if len(buckets) < 2 and not with_inf and buckets == [math.inf]:
        return
    assert_same_output(scenario)


exemplar_labels = st.dictionaries(
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True), label_text, min_size=1, max_size=3
).filter(lambda d: sum(len(k) + len(v) for k, v in d.items()) <= 128)


@SETTINGS
@given(
    ex=st.lists(st.tuples(exemplar_labels, st.floats(min_value=0, allow_nan=False)), min_size=1, max_size=4),
)
def test_exemplar_properties(ex: list[tuple[dict[str, str], float]]) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("c", "c", registry=reg)
        h = lib.Histogram("h", "h", buckets=[0.5, 100, 1e10], registry=reg)
        for labels, v in ex:
            c.inc(v, exemplar=labels)
            h.observe(v, exemplar=labels)
        return reg

    assert_same_output(scenario)


@SETTINGS
@given(
    samples=st.lists(
        st.tuples(label_text, floats, st.one_of(st.none(), st.floats(0, 2e9), st.integers(0, 2**40))), max_size=5
    ),
    help_text=label_text,
)
def test_custom_family_properties(samples: list, help_text: str) -> None:
    def scenario(lib: Lib):
        class C:
            def collect(self):
                g = lib.core.GaugeMetricFamily("g", help_text, labels=["l"])
                u = lib.core.UnknownMetricFamily("u", help_text, labels=["l"])
                for lv, v, ts in samples:
                    g.add_metric([lv], v, timestamp=ts)
                    u.add_metric([lv], v)
                return [g, u]

        reg = lib.CollectorRegistry()
        reg.register(C())
        return reg

    assert_same_output(scenario)


@pytest.mark.parametrize("openmetrics", [False, True])
def test_outputs_parse(openmetrics: bool) -> None:
    """Each output parses, and to the families the oracle's own output parses to."""
    for scenario in (everything, custom_families, utf8_names):
        want = outputs(PC, scenario(PC))[openmetrics]
        got = outputs(FP, scenario(FP))[openmetrics]
        assert_parses_alike(want, got, openmetrics)


utf8_name = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8).filter(
    lambda s: not s.startswith("__")
)


@SETTINGS
@given(metric=utf8_name, label=utf8_name, value=label_text, escaping=st.sampled_from(["underscores", "dots", "values"]))
def test_utf8_names_under_escaping(metric: str, label: str, value: str, escaping: str) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        lib.Gauge(metric, "h", [label], registry=reg).labels(value).set(1)
        return reg

    try:
        PC.Gauge(metric, "h", [label], registry=None)
    except ValueError:
        with pytest.raises(ValueError):
            FP.Gauge(metric, "h", [label], registry=None)
        return
    assert_same_output(scenario, escaping=escaping, parse=False)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["inc", "set", "observe", "remove", "clear", "reset", "remove_by_labels"]),
        st.sampled_from(["a", "b", "c"]),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ),
    max_size=25,
)


@SETTINGS
@given(ops=OPS)
def test_operation_sequences(ops: list[tuple[str, str, float]]) -> None:
    def scenario(lib: Lib):
        reg = lib.CollectorRegistry()
        c = lib.Counter("c", "c", ["k", "j"], registry=reg)
        g = lib.Gauge("g", "g", ["k"], registry=reg)
        h = lib.Histogram("h", "h", ["k"], buckets=[1, 100, 1e4], registry=reg)
        s = lib.Summary("s", "s", ["k"], registry=reg)
        for op, key, v in ops:
            if op == "inc":
                c.labels(key, "x").inc(v)
            elif op == "set":
                g.labels(key).set(v)
            elif op == "observe":
                h.labels(key).observe(v)
                s.labels(key).observe(v)
            elif op == "remove":
                for m in (g, h, s):
                    m.remove(key)  # also of children never created
            elif op == "clear":
                c.clear()
            elif op == "reset":
                c.labels(key, "x").reset()
            else:
                c.remove_by_labels({"k": key})
        return reg

    assert_same_output(scenario)
