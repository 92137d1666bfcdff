"""Updates in multiprocess mode: fastprom vs prometheus_client, measured in the same process.

    python tests/benchmarks/bench_mp_update.py [--quick]

Both libraries run in multiprocess mode with the default process identifier (the pid),
each writing its own temporary directory: prometheus_client's metrics are created while
``PROMETHEUS_MULTIPROC_DIR`` names one directory, fastprom's while it names the other (a
file is opened when its first value is created; updates do not read the variable). Each
figure is the median of several batches, the statements taking turns batch by batch. The
last rows compare the directories' sizes after the same series were created (the files
are sparse: allocated bytes, then apparent length).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

import prometheus_client as pc
import prometheus_client.values as pc_values

import fastprom as fp
import fastprom.values as fp_values

OPS = {
    "Counter.inc()": "c.inc()",
    "c.labels('a','b').inc()": "cl.labels('a', 'b').inc()",
    "cached child.inc()": "child.inc()",
    "Gauge.set(42.0)": "g.set(42.0)",
    "Gauge(livesum).inc()": "gl.inc()",
    "Histogram.observe(0.3)": "h.observe(0.3)",
    "h.labels(m,p).observe(0.3)": "hl.labels('GET', '/api').observe(0.3)",
    "Summary.observe(0.3)": "s.observe(0.3)",
}


def namespace(mod: Any, values: Any, directory: Path) -> dict[str, Any]:
    """The metrics of one library, their files created in `directory`."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    reg = mod.CollectorRegistry()
    cl = mod.Counter("cl", "cl", ["a", "b"], registry=reg)
    ns = {
        "c": mod.Counter("c", "c", registry=reg),
        "cl": cl,
        "child": cl.labels("a", "b"),
        "g": mod.Gauge("g", "g", registry=reg),
        "gl": mod.Gauge("gl", "gl", registry=reg, multiprocess_mode="livesum"),
        "h": mod.Histogram("h", "h", registry=reg),
        "hl": mod.Histogram("hl", "hl", ["method", "path"], registry=reg),
        "s": mod.Summary("s", "s", registry=reg),
    }
    ns["hl"].labels("GET", "/api")
    # Series for the size comparison: 1 000 labelled counters and 100 histograms.
    many = mod.Counter("many", "many series", ["i"], registry=reg)
    hist = mod.Histogram("hist", "many histograms", ["i"], registry=reg)
    for i in range(1000):
        many.labels(str(i)).inc()
    for i in range(100):
        hist.labels(str(i)).observe(0.1)
    return ns


def per_op_ns(timed: list[tuple[str, dict[str, Any]]], n: int, repeats: int) -> list[float]:
    timers = [timeit.Timer(stmt, globals=ns) for stmt, ns in timed]
    for t in timers:
        t.timeit(max(1, n // 10))
    batches: list[list[float]] = [[] for _ in timers]
    for _ in range(repeats):
        for t, times in zip(timers, batches, strict=True):
            times.append(t.timeit(n) / n * 1e9)
    return [statistics.median(b) for b in batches]


def sizes(directory: Path) -> tuple[int, int]:
    files = list(directory.iterdir())
    return sum(p.stat().st_blocks * 512 for p in files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    n, repeats = (20_000, 5) if args.quick else (100_000, 9)
    root = Path(tempfile.mkdtemp(prefix="bench_mp_update_"))
    try:
        (root / "pc").mkdir()
        (root / "fp").mkdir()
        pc_ns = namespace(pc, pc_values, root / "pc")
        fp_ns = namespace(fp, fp_values, root / "fp")
        print(
            f"python {sys.version.split()[0]}, fastprom {fp.__version__}, {os.cpu_count()} cpus, "
            f"multiprocess mode, median of {repeats} batches of {n:,}"
        )
        print(
            f"| {'update (multiprocess mode)':<30} | {'prometheus_client':>17} | {'fastprom':>10} | {'speed-up':>8} |"
        )
        print(f"|{'-' * 32}|{'-' * 19}|{'-' * 12}|{'-' * 10}|")
        for case, stmt in OPS.items():
            a, b = per_op_ns([(stmt, pc_ns), (stmt, fp_ns)], n, repeats)
            print(f"| {case:<30} | {a:>14.1f} ns | {b:>7.1f} ns | {a / b:>7.1f}x |")
        for label, index in (("allocated", 0), ("apparent", 1)):
            a, b = sizes(root / "pc")[index], sizes(root / "fp")[index]
            print(f"| {'directory size, ' + label:<30} | {a / 1024:>14.0f} KiB | {b / 1024:>7.0f} KiB | {'':>8} |")
    finally:
        fp_values.close_all_multiprocess_files()
        pc_values.close_all_multiprocess_files()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
