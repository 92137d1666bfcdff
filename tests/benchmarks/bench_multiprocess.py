"""Multiprocess mode (PROMETHEUS_MULTIPROC_DIR): fastprom vs prometheus_client, same run, real processes.

    python tests/benchmarks/bench_multiprocess.py [--files 64] [--series 1000] [--rounds 5]
        [--ops 200000] [--writer fastprom|prometheus_client|mixed] [--quick]

Three tables, every figure a median:

(a) Scrape: ``--files`` worker processes (4 at a time), each with ``--series`` labelled series
    of one kind (counter; histogram; gauge in ``livesum`` mode), write one directory; then
    collector processes, alternately prometheus_client's and fastprom's, each build a
    ``CollectorRegistry`` holding a ``MultiProcessCollector`` over the directory and time
    ``generate_latest()`` (collection included) ``--rounds`` times after one untimed call.
    Both outputs are compared byte for byte (the run stops if they differ).
(b) Update cost in multiprocess mode: ``Counter.inc()``, ``Counter.labels(...).inc()``,
    ``Histogram.observe()`` (on a child), ``Gauge.set()`` (``livesum``), ns per call, timed in
    processes that have ``PROMETHEUS_MULTIPROC_DIR`` set, alternately one library and the other.
(c) Bytes on disk after the same workload (one process per library, ``--series`` series of each
    kind): fastprom's files must be no larger (the run stops otherwise).

The machine is shared and noisy: compare the ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

LIBS = ("prometheus_client", "fastprom")
KINDS = ("counter", "histogram", "gauge_livesum")


# ------------------------------------------------------------------ code run in the child processes


def write_series(lib: str, kind: str, series: int) -> None:
    """A worker: ``series`` series of ``kind``, each updated once (PROMETHEUS_MULTIPROC_DIR set)."""
    mod = importlib.import_module(lib)
    if kind == "counter":
        counter = mod.Counter("http_requests", "HTTP requests.", ["method", "path", "status"])
        for i in range(series):
            counter.labels("GET", f"/api/v1/item/{i}", "200").inc()
    elif kind == "histogram":
        histogram = mod.Histogram("http_request_duration_seconds", "HTTP latency.", ["method", "path"])
        for i in range(series):
            histogram.labels("GET", f"/api/v1/item/{i}").observe((i % 100) / 40.0)
    else:
        gauge = mod.Gauge("workers_busy", "Busy slots.", ["slot"], multiprocess_mode="livesum")
        for i in range(series):
            gauge.labels(str(i)).set(i)


def scrape(lib: str, directory: str, rounds: int, out: str) -> None:
    """A collector: time ``generate_latest`` over ``directory``; print the times (s), write the output."""
    mod = importlib.import_module(lib)
    multiprocess = importlib.import_module(f"{lib}.multiprocess")
    registry = mod.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    output = mod.generate_latest(registry)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        output = mod.generate_latest(registry)
        times.append(time.perf_counter() - started)
    Path(out).write_bytes(output)
    print(json.dumps(times))


UPDATES = {
    "Counter.inc()": "counter.inc()",
    "Counter.labels(...).inc()": "labelled.labels('GET', '/api/v1/items', '200').inc()",
    "Histogram.observe() (child)": "histogram.observe(0.3)",
    "Gauge.set() (livesum)": "gauge.set(1.5)",
}


def updates(lib: str, ops: int, rounds: int) -> None:
    """Per-call cost of each update, in ns: the median of ``rounds`` batches of ``ops`` calls."""
    mod = importlib.import_module(lib)
    namespace = {
        "counter": mod.Counter("plain", "A counter."),
        "labelled": mod.Counter("labelled", "A labelled counter.", ["method", "path", "status"]),
        "histogram": mod.Histogram("latency_seconds", "Latency.", ["route"]).labels("/api/v1/items"),
        "gauge": mod.Gauge("busy", "Busy.", multiprocess_mode="livesum"),
    }
    result = {}
    for case, statement in UPDATES.items():
        timer = timeit.Timer(statement, globals=namespace)
        timer.timeit(ops // 10)
        result[case] = statistics.median(timer.timeit(ops) / ops * 1e9 for _ in range(rounds))
    # The updates went into the files: the merged view of this process's directory has them all.
    registry = mod.CollectorRegistry()
    importlib.import_module(f"{lib}.multiprocess").MultiProcessCollector(registry)
    calls = ops // 10 + ops * rounds
    for name, labels in (("plain_total", {}), ("latency_seconds_count", {"route": "/api/v1/items"})):
        merged = registry.get_sample_value(name, labels)
        if merged != calls:
            raise SystemExit(f"{lib}: {name} is {merged} in the files after {calls} updates")
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------- driver


def environment(directory: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    if directory is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return env


def child(*args: str, directory: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args], env=environment(directory), stdout=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=600)
    if process.returncode:
        raise SystemExit(f"{process.args!r} failed with {process.returncode}")
    return out


def populate(directory: Path, writers: list[str], kind: str, series: int, parallel: int = 4) -> None:
    """One worker process per entry of ``writers`` (a library name), ``parallel`` at a time."""
    running: list[subprocess.Popen[str]] = []
    for lib in writers:
        running.append(child("--write", lib, kind, str(series), directory=directory))
        if len(running) == parallel:
            finish(running.pop(0))
    for process in running:
        finish(process)


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir())


def bench_scrape(work: Path, kind: str, args: argparse.Namespace) -> tuple[dict[str, float], int, int]:
    """Median scrape time (ms) of each library over one directory; output lines and bytes."""
    directory = work / f"scrape_{kind}"
    directory.mkdir()
    writers = [args.writer if args.writer != "mixed" else LIBS[i % 2] for i in range(args.files)]
    populate(directory, writers, kind, args.series)
    assert len(list(directory.iterdir())) == args.files, sorted(os.listdir(directory))
    times: dict[str, list[float]] = {lib: [] for lib in LIBS}
    outputs: dict[str, bytes] = {}
    for repeat in range(args.processes):
        for lib in LIBS if repeat % 2 == 0 else reversed(LIBS):
            out = work / f"out_{kind}_{lib}"
            times[lib] += json.loads(finish(child("--scrape", lib, str(directory), str(args.rounds), str(out))))
            outputs[lib] = out.read_bytes()
    if outputs["fastprom"] != outputs["prometheus_client"]:
        raise SystemExit(f"{kind}: fastprom's output differs from prometheus_client's (see {work})")
    output = outputs["fastprom"]
    return {lib: statistics.median(t) * 1e3 for lib, t in times.items()}, output.count(b"\n"), len(output)


def bench_updates(work: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, list[dict[str, float]]] = {lib: [] for lib in LIBS}
    for repeat in range(args.processes):
        for lib in LIBS if repeat % 2 == 0 else reversed(LIBS):
            directory = work / f"updates_{lib}_{repeat}"
            directory.mkdir()
            process = child("--updates", lib, str(args.ops), str(args.rounds), directory=directory)
            results[lib].append(json.loads(finish(process)))
            if not any(directory.glob("*.db")):
                raise SystemExit(f"{lib} wrote no .db file: its multiprocess mode is not active")
    return {lib: {case: statistics.median(r[case] for r in runs) for case in UPDATES} for lib, runs in results.items()}


def bench_sizes(work: Path, args: argparse.Namespace) -> dict[str, dict[str, int]]:
    sizes: dict[str, dict[str, int]] = {lib: {} for lib in LIBS}
    for lib in LIBS:
        for kind in KINDS:
            directory = work / f"sizes_{lib}_{kind}"
            directory.mkdir()
            populate(directory, [lib], kind, args.series)
            sizes[lib][kind] = disk_bytes(directory)
            if not sizes[lib][kind]:
                raise SystemExit(f"{lib} wrote no .db file: its multiprocess mode is not active")
    return sizes


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("| " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=64, help="worker files per scrape directory")
    parser.add_argument("--series", type=int, default=1000, help="series per worker file")
    parser.add_argument("--rounds", type=int, default=5, help="timed scrapes / update batches per process")
    parser.add_argument("--processes", type=int, default=2, help="timing processes per library")
    parser.add_argument("--ops", type=int, default=200_000, help="calls per update batch")
    parser.add_argument("--writer", choices=[*LIBS, "mixed"], default="fastprom", help="library of the workers")
    parser.add_argument("--quick", action="store_true", help="8 files, 3 rounds, 50 000 ops: a smoke run")
    parser.add_argument("--write", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--scrape", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--updates", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        return write_series(args.write[0], args.write[1], int(args.write[2]))
    if args.scrape:
        return scrape(args.scrape[0], args.scrape[1], int(args.scrape[2]), args.scrape[3])
    if args.updates:
        return updates(args.updates[0], int(args.updates[1]), int(args.updates[2]))
    if args.quick:
        args.files, args.rounds, args.ops = 8, 3, 50_000

    started = time.perf_counter()
    print(
        f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.files} files x {args.series} series, "
        f"written by {args.writer} workers; medians"
    )
    work = Path(tempfile.mkdtemp(prefix="fastprom_bench_mp_"))
    try:
        rows = []
        for kind in KINDS:
            ms, lines, size = bench_scrape(work, kind, args)
            pc, fp = ms["prometheus_client"], ms["fastprom"]
            rows.append((kind, f"{pc:.1f} ms", f"{fp:.2f} ms", f"{pc / fp:.1f}x", f"{lines} lines, {size} B"))
        print(f"\n(a) scrape of {args.files} files x {args.series} series, generate_latest(), output identical\n")
        table(("case", "prometheus_client", "fastprom", "speed-up", "output"), rows)

        per_op = bench_updates(work, args)
        rows = []
        for case in UPDATES:
            pc, fp = per_op["prometheus_client"][case], per_op["fastprom"][case]
            rows.append((case, f"{pc:.0f} ns", f"{fp:.0f} ns", f"{pc / fp:.1f}x"))
        print("(b) one update in multiprocess mode, ns per call\n")
        table(("case", "prometheus_client", "fastprom", "speed-up"), rows)

        sizes = bench_sizes(work, args)
        rows = []
        for kind in KINDS:
            pc_size, fp_size = sizes["prometheus_client"][kind], sizes["fastprom"][kind]
            rows.append((kind, f"{pc_size} B", f"{fp_size} B", f"{fp_size / pc_size:.2f}"))
        print(f"(c) bytes on disk after {args.series} series in one process\n")
        table(("case", "prometheus_client", "fastprom", "fastprom / pc"), rows)
        larger = [kind for kind in KINDS if sizes["fastprom"][kind] > sizes["prometheus_client"][kind]]
        if larger:
            raise SystemExit(f"fastprom's files are larger for {larger}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"# {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
