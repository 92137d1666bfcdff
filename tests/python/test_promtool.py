"""`promtool check metrics` (Debian's Prometheus tools) on what fastprom's encoders write.

Errors are never acceptable; lint warnings are not acceptable on the names fastprom chooses
itself (the default registry's process, platform and GC metrics). promtool reads the text
format only; the OpenMetrics output is checked by a real Prometheus in test_prometheus_server.
"""

from __future__ import annotations

import subprocess

import pytest
from _servers import binary

import fastprom
from fastprom.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    SummaryMetricFamily,
    Timestamp,
)

PROMTOOL = binary("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")


def promtool(exposition: bytes) -> tuple[int, str]:
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=exposition, capture_output=True, timeout=30)
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace").strip()


class _Custom:
    def collect(self):
        yield CounterMetricFamily("jobs_done_total", "Jobs done.", value=3, created=1.5)
        g = GaugeMetricFamily("queue_depth", "Jobs waiting.", labels=["queue"])
        g.add_metric(["a"], 2, timestamp=Timestamp(1600000000, 5))
        yield g
        yield SummaryMetricFamily("batch_size", "Batch sizes.", count_value=2, sum_value=7)
        yield HistogramMetricFamily("work_seconds", "Work.", buckets=[("0.5", 1), ("+Inf", 2)], sum_value=1.2)
        yield GaugeHistogramMetricFamily("pending_bytes", "Pending.", buckets=[("10.0", 1), ("+Inf", 3)], gsum_value=9)
        yield InfoMetricFamily("service", "Service.", value={"name": "demo"})
        yield StateSetMetricFamily("mode", "Mode.", value={"on": True, "off": False})


def every_kind() -> fastprom.CollectorRegistry:
    reg = fastprom.CollectorRegistry(target_info={"service": "api"})
    fastprom.Counter("http_requests", "Requests.", ["method"], registry=reg).labels("GET").inc()
    fastprom.Gauge("temperature_celsius", 'Temp with "quotes" and \\ and\nnewline.', ["room"], registry=reg).labels(
        'a "b" \\ c\nd'
    ).set(-0.5)
    fastprom.Histogram("latency_seconds", "Latency.", registry=reg).observe(0.2)
    fastprom.Summary("payload_bytes", "Payload.", registry=reg).observe(512)
    fastprom.Info("build", "Build.", registry=reg).info({"version": "1.2.3"})
    fastprom.Enum("task_state", "State.", states=["idle", "busy"], registry=reg).state("busy")
    fastprom.Gauge("my.dotted.gauge", "UTF-8 name.", ["lab.el"], registry=reg).labels("v").set(1e21)
    reg.register(_Custom())
    return reg


def test_every_kind_has_no_errors() -> None:
    # Default escaping (underscores): Debian's promtool predates quoted UTF-8 names.
    code, output = promtool(fastprom.generate_latest(every_kind()))
    assert code in (0, 3), output  # 3: lint warnings only (the names above are this test's)
    assert "error" not in output.lower(), output


def test_fastprom_names_are_lint_clean() -> None:
    assert promtool(fastprom.generate_latest(fastprom.REGISTRY)) == (0, "")


def test_a_real_error_is_reported() -> None:
    """The check above can fail: promtool does reject a broken exposition."""
    code, output = promtool(b"broken{ 1\n")
    assert code == 1 and "error" in output
