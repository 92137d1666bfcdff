"""Overhead of fastprom.gemini instrumentation per call, against the same metrics on prometheus_client.

    python tests/benchmarks/bench_gemini.py                 # about 3 minutes
    python tests/benchmarks/bench_gemini.py --quick         # a smoke run
    python tests/benchmarks/bench_gemini.py --instructions  # valgrind counts, about 10 minutes

Every measurement uses the real google-genai client and real response objects:

1. isolated: ``client.models.generate_content`` answered by a stub that returns a response
   received earlier from the local fake server, so the figure is the instrumentation alone
   (series lookup, usage normalisation, cost, 11 metric updates) with warm caches;
2. real path: real HTTP calls to the local fake Gemini server, which runs in another process
   (``python -m fastprom.testing.fake_gemini``), so only the client's work is in this one.
   A bare client costs about 1 ms of CPU per call and the loopback round trip's wall-clock time
   varies by more than the overhead, so what is compared is the CPU time of this (the only)
   client thread, ``time.thread_time()``: round after round, each client makes a batch of calls
   in rotating order, the overhead is the median over the rounds of that round's difference
   against that round's bare batch, printed with a 95 % bootstrap interval. Here the
   instrumentation runs after the SDK has gone through a whole HTTP exchange, with its code and
   data no longer in the CPU's caches, which is why it costs more than in (1).

``--instructions`` instead counts, under valgrind's cachegrind, the instructions and the
(simulated) L1 cache misses of the real-path calls of each client (as ``bench_asgi.py
--instructions`` does): one child process per client and call kind makes a few and then many
calls, and the difference divided by the extra calls is the cost of one call. valgrind counts
the same whatever else the machine does (the server is a separate process, not counted).

"prometheus_client" is this same package recording into prometheus_client's Counter, Gauge and
Histogram (a second copy of the ``fastprom.gemini`` package imported with ``fastprom.metrics``
pointing at ``prometheus_client.metrics``), so the columns differ only in the metrics library.
The target is fastprom adding at most 20 µs per call on the real path.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import _cachegrind
import prometheus_client
from _on_prometheus_client import on_prometheus_client
from google import genai
from google.genai import types

import fastprom.gemini
from fastprom.registry import CollectorRegistry
from fastprom.testing import FakeGemini

MODEL = "gemini-2.5-flash"
CLIENTS = ("bare", "fastprom", "prometheus_client")
CALLS = ("generate_content", "async generate_content", "stream (3 chunks)", "async stream (3 chunks)")


def gemini_on_prometheus_client() -> ModuleType:
    """A private copy of the fastprom.gemini package whose metric classes are prometheus_client's."""
    (gemini,) = on_prometheus_client("fastprom.gemini")
    return gemini


def new_client(url: str) -> Any:
    return genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


def real_client(name: str, url: str, pc_gemini: ModuleType | None = None) -> Any:
    """A client of the server at ``url``: bare, or instrumented into a fresh registry of ``name``."""
    client = new_client(url)
    if name == "fastprom":
        return fastprom.gemini.instrument(client, registry=CollectorRegistry())
    if name == "prometheus_client":
        assert pc_gemini is not None
        return pc_gemini.instrument(client, registry=prometheus_client.CollectorRegistry())
    return client


def batch(client: Any, call: str, loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    """A function making ``n`` calls of kind ``call`` with ``client``."""
    models, aio = client.models, client.aio.models

    async def agenerate(n: int) -> None:
        for _ in range(n):
            await aio.generate_content(model=MODEL, contents="hi")

    async def astream(n: int) -> None:
        for _ in range(n):
            async for _chunk in await aio.generate_content_stream(model=MODEL, contents="hi"):
                pass

    def run(n: int, keep_alive: Any = client) -> None:  # a dropped Client closes its connections
        if call == "generate_content":
            for _ in range(n):
                models.generate_content(model=MODEL, contents="hi")
        elif call == "stream (3 chunks)":
            for _ in range(n):
                for _chunk in models.generate_content_stream(model=MODEL, contents="hi"):
                    pass
        elif call == "async generate_content":
            loop.run_until_complete(agenerate(n))
        else:
            loop.run_until_complete(astream(n))

    return run


# ---------------------------------------------------------------------------------- 1. isolated


def per_call_us(fn: Callable[[], Any], calls: int, rounds: int) -> list[float]:
    """Per-call time in µs of each round."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - started) / calls * 1e6)
    return results


def stub_client(url: str, response: Any, chunks: list[Any]) -> Any:
    """A real client whose generate methods answer instantly with real response objects."""
    client = new_client(url)

    def generate_content(**kwargs: Any) -> Any:
        return response

    def generate_content_stream(**kwargs: Any) -> Iterator[Any]:
        yield from chunks

    client.models.generate_content = generate_content
    client.models.generate_content_stream = generate_content_stream
    return client


def isolated(url: str, libraries: dict[str, tuple[ModuleType, Any]], calls: int, rounds: int) -> None:
    probe = new_client(url)
    response = probe.models.generate_content(model=MODEL, contents="hi")
    chunks = list(probe.models.generate_content_stream(model=MODEL, contents="hi"))
    print(f"\n1. isolated overhead, {calls} calls x {rounds} rounds, median µs per call (wall clock)", flush=True)
    plain = stub_client(url, response, chunks)
    baseline = {
        "generate_content": statistics.median(
            per_call_us(lambda: plain.models.generate_content(model=MODEL, contents="hi"), calls, rounds)
        ),
        "stream (3 chunks)": statistics.median(
            per_call_us(lambda: list(plain.models.generate_content_stream(model=MODEL, contents="hi")), calls, rounds)
        ),
    }
    print(f"   {'call':<26}{'bare':>10}" + "".join(f"{name + ' +':>22}" for name in libraries))
    for call, base in baseline.items():
        row = f"   {call:<26}{base:>10.2f}"
        for module, registry_class in libraries.values():
            client = module.instrument(stub_client(url, response, chunks), registry=registry_class())
            if call == "generate_content":

                def fn(c: Any = client) -> Any:
                    return c.models.generate_content(model=MODEL, contents="hi")
            else:

                def fn(c: Any = client) -> Any:
                    return list(c.models.generate_content_stream(model=MODEL, contents="hi"))

            row += f"{statistics.median(per_call_us(fn, calls, rounds)) - base:>22.2f}"
        print(row, flush=True)


# ------------------------------------------------------------------------------- 2. real path


def median_interval(values: list[float], resamples: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the median of ``values`` (a fixed seed: the same runs print the
    same interval)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(resamples * 0.025)], medians[int(resamples * 0.975) - 1]


def real_path(url: str, pc_gemini: ModuleType, calls: list[str], per_batch: int, rounds: int, fresh: int) -> None:
    print(
        f"\n2. real path: CPU time of the client thread per call (µs), {rounds} rounds of {per_batch} calls "
        f"per client in rotating order, fresh clients every {fresh} rounds; added = median over rounds of "
        "(client - bare) in the same round, [95 % bootstrap interval]",
        flush=True,
    )
    print(f"   {'call':<26}{'bare':>10}" + "".join(f"{name + ' added':>30}" for name in CLIENTS[1:]))
    loop = asyncio.new_event_loop()
    try:
        for call in calls:
            samples: dict[str, list[float]] = {name: [] for name in CLIENTS}
            runs: dict[str, Callable[[int], None]] = {}
            for r in range(rounds):
                if r % fresh == 0:
                    # One client keeps its luck (where its objects lie in memory, its connection)
                    # for its whole life, worth tens of µs per call either way: fresh clients
                    # every few rounds turn that bias into noise that the median absorbs.
                    runs = {name: batch(real_client(name, url, pc_gemini), call, loop) for name in CLIENTS}
                    for run in runs.values():
                        run(5)  # warm-up: connection open, series made
                order = CLIENTS[r % len(CLIENTS) :] + CLIENTS[: r % len(CLIENTS)]
                for name in order:
                    started = time.thread_time()
                    runs[name](per_batch)
                    samples[name].append((time.thread_time() - started) / per_batch * 1e6)
            row = f"   {call:<26}{statistics.median(samples['bare']):>10.1f}"
            for name in CLIENTS[1:]:
                added = [v - b for v, b in zip(samples[name], samples["bare"], strict=True)]
                low, high = median_interval(added)
                row += f"{statistics.median(added):>+14.1f} [{low:+6.1f}, {high:+6.1f}]"
            print(row, flush=True)
    finally:
        loop.close()


# --------------------------------------------------------------------------- instruction counts


def child(name: str, call: str, calls: int, url: str) -> None:
    """Make a few calls to warm up, then ``calls`` calls (what cachegrind counts)."""
    pc_gemini = gemini_on_prometheus_client() if name == "prometheus_client" else None
    loop = asyncio.new_event_loop()
    run = batch(real_client(name, url, pc_gemini), call, loop)
    run(5)
    # Start-up's objects out of the collector's sight: a full collection of them costs millions
    # of instructions, and whether one falls within the counted calls is luck, not overhead.
    gc.freeze()
    run(calls)
    loop.close()


def cachegrind_totals(name: str, call: str, calls: int, url: str, out: Path) -> dict[str, int]:
    """Event totals of one child process under cachegrind."""
    # dict probing depends on the hash seed: fixed, the counts repeat more closely
    env = dict(os.environ, PYTHONHASHSEED="0")
    return _cachegrind.cachegrind_totals(__file__, ["--child", name, call, str(calls), url], out, env, 3600)


def count_instructions(url: str, calls: list[str], low: int, high: int) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    print(
        f"\ninstructions and simulated L1 misses per real-path call under valgrind (cachegrind), "
        f"({high} - {low} calls) / {high - low}:",
        flush=True,
    )
    print(
        f"   {'call':<26}{'client':<19}{'instructions':>12}{'added':>9}{'L1i misses':>11}{'added':>8}{'L1d misses':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = {
            (call, name, n): pool.submit(cachegrind_totals, name, call, n, url, Path(tmp) / f"{i}.{name}.{n}.out")
            for i, call in enumerate(calls)
            for name in CLIENTS
            for n in (low, high)
        }
        for call in calls:
            per_call = {
                name: {
                    event: (jobs[call, name, high].result()[event] - jobs[call, name, low].result()[event])
                    / (high - low)
                    for event in ("Ir", "I1mr", "D1mr")
                }
                for name in CLIENTS
            }
            bare = per_call["bare"]
            for name, counts in per_call.items():
                line = f"   {call:<26}{name:<19}{counts['Ir']:12.0f}"
                if name == "bare":
                    line += f"{'':>9}{counts['I1mr']:11.0f}{'':>8}"
                else:
                    line += (
                        f"{counts['Ir'] - bare['Ir']:+9.0f}{counts['I1mr']:11.0f}{counts['I1mr'] - bare['I1mr']:+8.0f}"
                    )
                print(line + f"{counts['D1mr']:11.0f}", flush=True)


# --------------------------------------------------------------------------------------- main


def fake_server() -> tuple[subprocess.Popen[str], str]:
    """The fake Gemini server in a process of its own, and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fastprom.testing.fake_gemini", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    match = re.search(r"http://\S+", process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit("the fake Gemini server did not start")
    return process, match.group(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds, for a smoke run")
    parser.add_argument("--rounds", type=int, help="real-path rounds (default 240, 12 with --quick)")
    parser.add_argument("--fresh", type=int, default=4, help="real-path rounds between fresh clients (default 4)")
    parser.add_argument("--calls", nargs="+", choices=CALLS, default=list(CALLS), help="call kinds on the real path")
    parser.add_argument(
        "--instructions", action="store_true", help="only count instructions per real-path call under valgrind"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, call, calls, url = args.child
        child(name, call, int(calls), url)
        return
    isolated_calls, isolated_rounds = (2_000, 3) if args.quick else (20_000, 9)
    per_batch, rounds = (10, args.rounds or 12) if args.quick else (20, args.rounds or 240)

    server, url = fake_server()
    try:
        if args.instructions:
            count_instructions(url, args.calls, 20, 120 if args.quick else 220)
            return
        pc_gemini = gemini_on_prometheus_client()
        print(
            f"metrics classes: fastprom={fastprom.gemini._metrics.Counter.__module__}, "
            f"prometheus_client={pc_gemini._metrics.Counter.__module__}"
        )
        libraries = {
            "fastprom": (fastprom.gemini, CollectorRegistry),
            "prometheus_client": (pc_gemini, prometheus_client.CollectorRegistry),
        }
        with FakeGemini() as stub_server:  # in process: the stubs only fetch one response from it
            isolated(stub_server.url, libraries, isolated_calls, isolated_rounds)
        real_path(url, pc_gemini, args.calls, per_batch, rounds, args.fresh)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
