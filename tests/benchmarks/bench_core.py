"""fastprom vs prometheus_client, measured in the same process.

    python tests/benchmarks/bench_core.py [--quick]

Prints one table: per-operation medians (ns), scrape times (ms) and memory per labelled
child, with the speed-up of fastprom over prometheus_client. The machine is shared and
noisy: each figure is the median of several timed batches, never a single run.

The first row times the cheapest C method call of the interpreter, `[].clear()` on a list
made beforehand, the way every other operation is timed: the column "x floor" says how
many such calls each fastprom operation costs, i.e. how far it is from the limit on this
machine and interpreter (the floor is timed in turn with each operation; the median of
those timings is the divisor). Below the table, the growth of `generate_latest` from
10 000 to 100 000 counter series (1 000 to 10 000 with --quick) for both libraries, in CPU
time, the median of rounds that time both sizes in turn: linear scaling is 10x.
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


def per_op_ns(timed: list[tuple[str, dict[str, Any]]], n: int, repeats: int) -> list[float]:
    """Per (statement, namespace): the median over `repeats` batches of `n` executions, in ns.

    The statements take turns batch by batch, so that a change of the machine's load hits
    them alike. `timeit` compiles each statement into its loop: no per-call lambda is timed.
    """
    timers = [timeit.Timer(stmt, globals=namespace) for stmt, namespace in timed]
    for timer in timers:
        timer.timeit(max(1, n // 10))  # warm up
    batches: list[list[float]] = [[] for _ in timers]
    for _ in range(repeats):
        for timer, times in zip(timers, batches, strict=True):
            times.append(timer.timeit(n) / n * 1e9)
    return [statistics.median(times) for times in batches]


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
        "floor": [],
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


FLOOR = "[].clear() (floor)"

OPS = {
    FLOOR: "floor.clear()",
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


def scrape_registry(mod: Any, kind: str, series: int) -> Any:
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
    return reg


def scrape_times_ms(mod: Any, reg: Any, repeats: int, clock: Any = time.perf_counter) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = clock()
        mod.generate_latest(reg)
        times.append((clock() - t0) * 1000)
    return times


def scrape_ms(mod: Any, kind: str, series: int, repeats: int) -> float:
    return statistics.median(scrape_times_ms(mod, scrape_registry(mod, kind, series), repeats))


def scrape_growth(mod: Any, small: int, rounds: int) -> tuple[float, float, float]:
    """Median ms of scraping `small` and `10 * small` counter series, and the growth between them.

    Each round times the small registry (median of 5 scrapes) then the large one (median of 3),
    so that both see the same load. The growth is the median over rounds of the ratio of CPU
    times (`time.thread_time`: the scrape runs in the calling thread in both libraries), which
    the time slices of other processes do not inflate as they do a long scrape's wall time.
    """
    regs = [scrape_registry(mod, "counter", small), scrape_registry(mod, "counter", 10 * small)]
    wall: tuple[list[float], list[float]] = ([], [])
    growth = []
    for _ in range(rounds):
        cpu = []
        for i, reps in enumerate((5, 3)):
            wall[i].extend(scrape_times_ms(mod, regs[i], reps))
            cpu.append(statistics.median(scrape_times_ms(mod, regs[i], reps, time.thread_time)))
        growth.append(cpu[1] / cpu[0])
    del regs
    gc.collect()
    return statistics.median(wall[0]), statistics.median(wall[1]), statistics.median(growth)


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

    pc_ns, fp_ns = op_namespace(pc), op_namespace(fp)
    floors: dict[str, float] = {}  # the floor timed in turn with each operation
    for case, stmt in OPS.items():
        count = n // 5 if "child" in case else n
        pc_op, fp_op, floors[case] = per_op_ns([(stmt, pc_ns), (stmt, fp_ns), (OPS[FLOOR], fp_ns)], count, repeats)
        rows.append((case, pc_op, fp_op, "ns"))
        gc.collect()

    if not args.quick:
        rows.append(
            (
                "generate_latest, 1,000 counter series",
                scrape_ms(pc, "counter", 1_000, repeats),
                scrape_ms(fp, "counter", 1_000, repeats),
                "ms",
            )
        )
    small = 1_000 if args.quick else 10_000
    rounds = 3 if args.quick else 5
    scaling = {name: scrape_growth(mod, small, rounds) for name, mod in LIBS.items()}
    for i, series in enumerate((small, 10 * small)):
        pc_ms, fp_ms = scaling["prometheus_client"][i], scaling["fastprom"][i]
        rows.append((f"generate_latest, {series:,} counter series", pc_ms, fp_ms, "ms"))
    pc_ms = scrape_ms(pc, "histogram", 10_000, repeats)
    fp_ms = scrape_ms(fp, "histogram", 10_000, repeats)
    rows.append(("generate_latest, 10,000 histogram series", pc_ms, fp_ms, "ms"))
    gc.collect()

    for cls in ("Counter", "Histogram"):
        count = 20_000
        pc_b = memory_per_child("prometheus_client", cls, count)
        fp_b = memory_per_child("fastprom", cls, count)
        rows.append((f"memory per labelled {cls.lower()} child", pc_b, fp_b, "B"))

    # One divisor for every row: the median of the floor's timings taken with each operation
    # (one of them may fall in a burst of load).
    floor_ns = statistics.median(floors.values())
    print(
        f"python {sys.version.split()[0]}, prometheus_client {pc_version()}, fastprom {fp.__version__}, "
        f"{os.cpu_count()} cpus, median of {repeats} batches"
    )
    print(f"| {'case':<42} | {'prometheus_client':>17} | {'fastprom':>10} | {'speed-up':>8} | {'x floor':>7} |")
    print(f"|{'-' * 44}|{'-' * 19}|{'-' * 12}|{'-' * 10}|{'-' * 9}|")
    for case, a, b, unit in rows:
        ratio = a / b if b > 0 else float("inf")
        floor = f"{b / floor_ns:>6.1f}x" if unit == "ns" else ""
        print(f"| {case:<42} | {a:>14.1f} {unit:<2} | {b:>7.1f} {unit:<2} | {ratio:>7.1f}x | {floor:>7} |")
    print(
        f"generate_latest growth {small // 1000}k→{10 * small // 1000}k counter series "
        f"(CPU time, median of {rounds} rounds; linear: 10.0x): "
        + ", ".join(f"{name} {scaling[name][2]:.1f}x" for name in LIBS)
    )


def pc_version() -> str:
    from importlib.metadata import version

    return version("prometheus_client")


if __name__ == "__main__":
    main()
