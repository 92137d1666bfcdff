"""Scrape of a multiprocess directory through the Python API: fastprom's
``MultiProcessCollector`` against prometheus_client's, over the same files, in the same run.

The directory is written by prometheus_client (one process taking the pid of each worker in
turn): FILES counter files of SERIES series each. Measured: ``generate_latest(registry)``
(what ``/metrics`` serves) and ``registry.collect()`` (``Metric`` objects), medians of ROUNDS.
Both outputs are compared byte for byte first.

    python tests/benchmarks/bench_mp_scrape.py [FILES SERIES ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import prometheus_client as pc
from prometheus_client.multiprocess import MultiProcessCollector as PcCollector

import fastprom
from fastprom.multiprocess import MultiProcessCollector

WRITER = """
import sys
from prometheus_client import values, Counter
files, series = int(sys.argv[1]), int(sys.argv[2])
pid = [0]
values.ValueClass = values.MultiProcessValue(lambda: pid[0])
for p in range(files):
    pid[0] = 10000 + p
    c = Counter("requests", "Requests handled.", ["route", "status"], registry=None)
    for i in range(series):
        c.labels("/route/%d" % (i // 4), str(200 + i % 4)).inc(p + i)
values.close_all_multiprocess_files()
"""


def median_seconds(f: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    files, series, rounds = (int(a) for a in (sys.argv[1:] or ["64", "1000", "15"]))
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=d)
        subprocess.run([sys.executable, "-c", WRITER, str(files), str(series)], env=env, check=True)
        ours = fastprom.CollectorRegistry()
        MultiProcessCollector(ours, path=d)
        theirs = pc.CollectorRegistry()
        PcCollector(theirs, path=d)
        assert fastprom.generate_latest(ours) == pc.generate_latest(theirs), "outputs differ"
        print(f"{files} files x {series} series, median of {rounds}")
        for what, f_ours, f_theirs in (
            ("generate_latest", lambda: fastprom.generate_latest(ours), lambda: pc.generate_latest(theirs)),
            ("collect()", lambda: list(ours.collect()), lambda: list(theirs.collect())),
        ):
            a = median_seconds(f_ours, rounds)
            b = median_seconds(f_theirs, rounds)
            print(f"{what:16} fastprom {a * 1e3:8.2f} ms   prometheus_client {b * 1e3:8.2f} ms   x{b / a:6.1f}")


if __name__ == "__main__":
    main()
