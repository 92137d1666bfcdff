"""Interop both ways between fastprom and prometheus_client registries and families."""

from __future__ import annotations

import prometheus_client
import prometheus_client.core as pcc
import prometheus_client.openmetrics.exposition as pc_om
import pytest
from _helpers import FP, PC, Lib, custom_families, everything

import fastprom
import fastprom.core as fpc
import fastprom.openmetrics.exposition as fp_om


def _metrics(lib: Lib, registry):
    c = lib.Counter("c", "counter", ["a"], registry=registry)
    c.labels("x").inc(2, exemplar={"trace": "1"})
    lib.Gauge("g", "gauge", unit="bytes", registry=registry).set(1e21)
    h = lib.Histogram("h", "hist", ["q"], buckets=[0.5, 1], registry=registry)
    h.labels('"\\\n').observe(0.7, {"t": "2"})
    lib.Summary("s", "sum", registry=registry).observe(3)
    lib.Info("i", "info", registry=registry).info({"v": "1"})
    lib.Enum("e", "enum", states=["a", "b"], registry=registry).state("b")


def test_fastprom_metrics_in_prometheus_client_registry() -> None:
    want_reg = prometheus_client.CollectorRegistry()
    _metrics(PC, want_reg)
    got_reg = prometheus_client.CollectorRegistry()
    _metrics(FP, got_reg)
    assert prometheus_client.generate_latest(got_reg) == prometheus_client.generate_latest(want_reg)
    assert pc_om.generate_latest(got_reg) == pc_om.generate_latest(want_reg)
    assert got_reg.get_sample_value("c_total", {"a": "x"}) == 2.0


def test_prometheus_client_metrics_in_fastprom_registry() -> None:
    want_reg = prometheus_client.CollectorRegistry()
    _metrics(PC, want_reg)
    got_reg = fastprom.CollectorRegistry()
    _metrics(PC, got_reg)
    assert fastprom.generate_latest(got_reg) == prometheus_client.generate_latest(want_reg)
    assert fp_om.generate_latest(got_reg) == pc_om.generate_latest(want_reg)


def test_mixed_registry_keeps_registration_order() -> None:
    got_reg = fastprom.CollectorRegistry()
    want_reg = prometheus_client.CollectorRegistry()
    for i in range(4):
        PC.Counter(f"c{i}", "c", registry=want_reg).inc(i)
    for i, lib in enumerate([PC, FP, PC, FP]):
        lib.Counter(f"c{i}", "c", registry=got_reg).inc(i)
    assert fastprom.generate_latest(got_reg) == prometheus_client.generate_latest(want_reg)
    with pytest.raises(fastprom.registry.DuplicateTimeseries):
        PC.Gauge("c1_total", "dup", registry=got_reg)


@pytest.mark.parametrize("families_lib", [PC, FP], ids=["pc-families", "fp-families"])
@pytest.mark.parametrize("registry_lib", [PC, FP], ids=["pc-registry", "fp-registry"])
def test_custom_collectors_any_families(families_lib: Lib, registry_lib: Lib) -> None:
    """Custom collectors returning either library's families, in either library's registry."""
    want = custom_families(PC)
    collector = next(iter(custom_families(families_lib)._collector_to_names))
    reg = registry_lib.CollectorRegistry()
    reg.register(collector)
    for render_lib in (PC, FP):
        assert render_lib.text(reg) == PC.text(want)
        assert render_lib.openmetrics(reg) == PC.openmetrics(want)


def test_everything_rendered_by_the_other_library() -> None:
    want = everything(PC)
    got = everything(FP)
    assert prometheus_client.generate_latest(got) == prometheus_client.generate_latest(want)
    assert pc_om.generate_latest(got) == pc_om.generate_latest(want)
    assert fastprom.generate_latest(want) == prometheus_client.generate_latest(want)
    assert fp_om.generate_latest(want) == pc_om.generate_latest(want)


def test_families_and_samples_are_interchangeable() -> None:
    pc_family = pcc.CounterMetricFamily("x", "h", labels=["a"])
    pc_family.add_metric(["1"], 2, exemplar=pcc.Exemplar({"t": "1"}, 2, pcc.Timestamp(3, 4)))
    fp_family = fpc.CounterMetricFamily("x", "h", labels=["a"])
    fp_family.add_metric(["1"], 2, exemplar=fpc.Exemplar({"t": "1"}, 2, fpc.Timestamp(3, 4)))
    for family in (pc_family, fp_family):

        class C:
            def collect(self, family=family):
                return [family]

        assert fp_om.generate_latest(C()) == pc_om.generate_latest(C())
        assert fastprom.generate_latest(C()) == prometheus_client.generate_latest(C())
    assert [s[:3] for s in fp_family.samples] == [s[:3] for s in pc_family.samples]
    assert str(fpc.Timestamp(3, 4)) == str(pcc.Timestamp(3, 4))
    assert float(fpc.Timestamp(-3, 4)) == float(pcc.Timestamp(-3, 4))
