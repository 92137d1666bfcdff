"""Multiprocess directories written by real prometheus_client worker processes, and the
views of one by prometheus_client's collector (the oracle) and by fastprom's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import prometheus_client as pc
from prometheus_client.multiprocess import MultiProcessCollector as PcCollector
from prometheus_client.openmetrics import exposition as pc_om

import fastprom
from fastprom.multiprocess import MultiProcessCollector
from fastprom.openmetrics import exposition as fp_om

# A worker of role N: every metric type and gauge mode, odd label values, and metrics only
# some workers have (the family order follows the files).
WORKER = textwrap.dedent(
    """
    import sys
    from prometheus_client import Counter, Gauge, Histogram, Summary

    role = int(sys.argv[1])
    modes = ["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent",
             "livemostrecent"]
    odd = 'é"\\\\\\n😀\\t\\x01 \\x7f{}=,'
    if role % 3 == 1:
        Counter("late", "only some workers").inc(role)
    c = Counter("requests", "counter help " + odd, ["path", "code"])
    c.labels("/a", "200").inc(role + 1)
    c.labels(odd, "500").inc(1e-05)
    c.labels("only%d" % role, "200").inc(0.25)
    Counter("dotted.name", "a UTF-8 name", ["label.x"]).labels("v").inc()
    for i, mode in enumerate(modes):
        g = Gauge("g_" + mode, "gauge " + mode, ["a"], multiprocess_mode=mode)
        g.labels("x").set(role * 1.5 - i)
        g.labels("r%d" % (role % 2)).set(-role)
        if role == 0:
            g.labels("untouched")
        # A user label named "pid": dropped with the file's pid by the aggregating modes,
        # overridden by it in all/liveall.
        Gauge("gp_" + mode, "user pid " + mode, ["pid", "a"], multiprocess_mode=mode).labels(
            "u%d" % (role % 2), "y").set(role + i)
    Gauge("plain", "no labels", multiprocess_mode="max").set(role)
    h = Histogram("h", "custom buckets", ["a"], buckets=[0.1, 1, 2.5, 1e6])
    for v in (0.05, 0.5, 2, 3e6, role):
        h.labels("x").observe(v)
    h.labels(str(role % 2)).observe(0.2)
    Histogram("latency_seconds", "default buckets").observe(0.3 * role)
    s = Summary("s", "summary", ["a"])
    s.labels("x").observe(0.1 * (role + 1))
    s.labels(odd).observe(role)
    """
)

# One process writing the files of many pids, as workers that came and went: pid P has
# counters, a livesum gauge and a histogram.
MANY = textwrap.dedent(
    """
    import sys
    from prometheus_client import values
    from prometheus_client import Counter, Gauge, Histogram

    current = [0]
    values.ValueClass = values.MultiProcessValue(lambda: current[0])
    for pid in range(int(sys.argv[1])):
        current[0] = 1000 + pid
        Counter("c", "help", ["w"], registry=None).labels(str(pid % 7)).inc(pid)
        Gauge("g", "help", multiprocess_mode="livesum", registry=None).set(pid)
        Histogram("h", "help", registry=None, buckets=[1, 10]).observe(pid % 13)
    values.close_all_multiprocess_files()
    """
)


def worker_env(directory: Path) -> dict[str, str]:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    env.pop("prometheus_multiproc_dir", None)
    return env


def run_workers(directory: Path, roles: Iterable[int]) -> None:
    """One prometheus_client worker process per role, one after the other."""
    for role in roles:
        subprocess.run([sys.executable, "-c", WORKER, str(role)], env=worker_env(directory), check=True)


def run_many(directory: Path, pids: int) -> None:
    subprocess.run([sys.executable, "-c", MANY, str(pids)], env=worker_env(directory), check=True)


def pc_registry(directory: Path, **kwargs: bool) -> pc.CollectorRegistry:
    registry = pc.CollectorRegistry(**kwargs)
    PcCollector(registry, path=str(directory))
    return registry


def fp_registry(directory: Path, **kwargs: bool) -> fastprom.CollectorRegistry:
    registry = fastprom.CollectorRegistry(**kwargs)
    MultiProcessCollector(registry, path=str(directory))
    return registry


# (name, prometheus_client renderer, fastprom renderer): the text format with both
# escapings (0.0.4 and 1.0.0), OpenMetrics 1.0.0 and 2.0.0.
FORMATS = [
    ("text", lambda r: pc.generate_latest(r), lambda r: fastprom.generate_latest(r)),
    (
        "text-utf8",
        lambda r: pc.generate_latest(r, escaping="allow-utf-8"),
        lambda r: fastprom.generate_latest(r, escaping="allow-utf-8"),
    ),
    ("om1", lambda r: pc_om.generate_latest(r), lambda r: fp_om.generate_latest(r)),
    (
        "om2",
        lambda r: pc_om.generate_latest(r, escaping="allow-utf-8", version="2.0.0"),
        lambda r: fp_om.generate_latest(r, escaping="allow-utf-8", version="2.0.0"),
    ),
]


def pc_views(registry: object) -> dict[str, bytes]:
    return {name: render(registry) for name, render, _ in FORMATS}


def fp_views(registry: object) -> dict[str, bytes]:
    return {name: render(registry) for name, _, render in FORMATS}


def metric_reprs(metrics: Iterable[object]) -> list[str]:
    """The families as ``repr`` (name, help, type, unit and samples with their label order):
    the two libraries' ``Metric`` classes never compare equal to each other."""
    return [repr(m) for m in metrics]
