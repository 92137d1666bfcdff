"""fastprom vs prometheus_client, measured in the same process.

    python tests/benchmarks/bench_core.py [--quick]

Prints one table: per-operation medians (ns), scrape times (ms) and memory per labelled
child, with the speed-up of fastprom over prometheus_client. The machine is shared and
noisy: each figure is the median of several timed batches, never a single run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import statistics
import subprocess
import sys
import time
import timeit
from typing import Any

import prometheus_client as pc

import fastprom as fp

LIBS = {"prometheus_client": pc, "fastprom": fp}


def per_op_ns(stmt: str, namespace: dict[str, Any], n: int, repeats: int) -> float:
    """Median over `repeats` batches of `n` executions of `stmt`, in ns per execution.

    `timeit` compiles the statement into its loop, so no per-call lambda is measured.
    """
    timer = timeit.Timer(stmt, globals=namespace)
    timer.timeit(max(1, n // 10))  # warm up
    return statistics.median(timer.timeit(n) / n * 1e9 for _ in range(repeats))


def op_namespace(mod: Any) -> dict[str, Any]:
    """The objects the timed statements use, for one library."""
    reg = mod.CollectorRegistry()
    h = mod.Histogram("h", "h", registry=reg)
    cl = mod.Counter("cl", "cl", ["a", "b"], registry=reg)

    @h.time()
    def decorated(x: int) -> int:
        return x

    fresh = mod.Counter("fresh", "fresh", ["i"], registry=reg)
    return {
        "c": mod.Counter("c", "c", registry=reg),
        "cl": cl,
        "child": cl.labels("a", "b"),
        "g": mod.Gauge("g", "g", registry=reg),
        "h": h,
        "hl": mod.Histogram("hl", "hl", ["method", "path"], registry=reg),
        "s": mod.Summary("s", "s", registry=reg),
        "decorated": decorated,
        "new_child": fresh.labels,
        "next_label": map(str, itertools.count()).__next__,
    }


OPS = {
    "Counter.inc()": "c.inc()",
    "c.labels('a','b').inc()": "cl.labels('a', 'b').inc()",
    "cached child.inc()": "child.inc()",
    "Gauge.set(42.0)": "g.set(42.0)",
    "Histogram.observe(0.3)": "h.observe(0.3)",
    "h.labels(m,p).observe(0.3)": "hl.labels('GET', '/api').observe(0.3)",
    "Summary.observe(0.3)": "s.observe(0.3)",
    "with h.time(): pass": "with h.time(): pass",
    "@h.time() decorated call": "decorated(1)",
    "new labelled child": "new_child(next_label())",
}


def scrape_ms(mod: Any, kind: str, series: int, repeats: int) -> float:
    reg = mod.CollectorRegistry()
    if kind == "counter":
        m = mod.Counter("requests", "Requests", ["method", "path", "status"], registry=reg)
        for i in range(series):
            m.labels("GET", f"/api/{i}", "200").inc(i)
    else:
        m = mod.Histogram("latency_seconds", "Latency", ["path"], registry=reg)
        for i in range(series):
            m.labels(f"/api/{i}").observe(i / series)
    mod.generate_latest(reg)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mod.generate_latest(reg)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


MEMORY_PROBE = """
import gc, sys, resource
import {mod} as m
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()
reg = m.CollectorRegistry()
metric = m.{cls}('x', 'x', ['a', 'b'], registry=reg)
for i in range(2000):
    metric.labels('warm', str(i))
gc.collect(); before = rss()
for i in range({n}):
    metric.labels('GET', '/api/%d' % i)
gc.collect(); print((rss() - before) / {n})
"""


def memory_per_child(mod_name: str, cls: str, n: int) -> float:
    code = MEMORY_PROBE.format(mod=mod_name, cls=cls, n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and no 100 000-series scrape")
    args = ap.parse_args()
    n, repeats = (20_000, 5) if args.quick else (100_000, 9)
    rows: list[tuple[str, float, float, str]] = []

    namespaces = {name: op_namespace(mod) for name, mod in LIBS.items()}
    for case, stmt in OPS.items():
        count = n // 5 if "child" in case else n
        pc_ns = per_op_ns(stmt, namespaces["prometheus_client"], count, repeats)
        fp_ns = per_op_ns(stmt, namespaces["fastprom"], count, repeats)
        rows.append((case, pc_ns, fp_ns, "ns"))
        gc.collect()

    scrapes = [("counter", 1_000), ("counter", 10_000), ("histogram", 10_000)]
    if not args.quick:
        scrapes.insert(2, ("counter", 100_000))
    for kind, series in scrapes:
        r = 3 if series >= 100_000 else repeats
        pc_ms = scrape_ms(pc, kind, series, r)
        fp_ms = scrape_ms(fp, kind, series, r)
        rows.append((f"generate_latest, {series:,} {kind} series", pc_ms, fp_ms, "ms"))
        gc.collect()

    for cls in ("Counter", "Histogram"):
        count = 20_000
        pc_b = memory_per_child("prometheus_client", cls, count)
        fp_b = memory_per_child("fastprom", cls, count)
        rows.append((f"memory per labelled {cls.lower()} child", pc_b, fp_b, "B"))

    print(
        f"python {sys.version.split()[0]}, prometheus_client {pc_version()}, fastprom {fp.__version__}, "
        f"{os.cpu_count()} cpus, median of {repeats} batches"
    )
    print(f"| {'case':<42} | {'prometheus_client':>17} | {'fastprom':>10} | {'speed-up':>8} |")
    print(f"|{'-' * 44}|{'-' * 19}|{'-' * 12}|{'-' * 10}|")
    for case, a, b, unit in rows:
        ratio = a / b if b > 0 else float("inf")
        print(f"| {case:<42} | {a:>14.1f} {unit:<2} | {b:>7.1f} {unit:<2} | {ratio:>7.1f}x |")


def pc_version() -> str:
    from importlib.metadata import version

    return version("prometheus_client")


if __name__ == "__main__":
    main()
