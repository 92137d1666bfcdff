"""Overhead of fastprom.gemini instrumentation per call, against the same metrics on prometheus_client.

    python tests/benchmarks/bench_gemini.py [--quick]

Two measurements, both with the real google-genai client and real response objects:

1. isolated: ``client.models.generate_content`` answered by a stub that returns a response
   received earlier from the local fake server, so the figure is the instrumentation alone
   (series lookup, usage normalisation, cost, ~12 metric updates);
2. end to end: real HTTP calls to the local fake server, plain versus instrumented, interleaved
   rounds; the difference is within the noise of a ~1 ms loopback round trip, so read (1) for
   the overhead and (2) as a sanity check.

"prometheus_client" is this same module recording into prometheus_client's Counter, Gauge and
Histogram (a second copy of the ``fastprom.gemini`` package imported with ``fastprom.metrics`` pointing at
``prometheus_client.metrics``), so the two columns differ only in the metrics library.
Medians are printed; the target is fastprom adding at most 20 µs per call.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import prometheus_client
import prometheus_client.metrics
from google import genai
from google.genai import types

import fastprom.gemini
from fastprom.registry import CollectorRegistry
from fastprom.testing import FakeGemini

MODEL = "gemini-2.5-flash"


def gemini_on_prometheus_client() -> ModuleType:
    """A private copy of the fastprom.gemini package whose metric classes are prometheus_client's."""
    ours = {name: sys.modules.pop(name) for name in list(sys.modules) if name.startswith("fastprom.gemini")}
    saved = sys.modules["fastprom.metrics"], sys.modules["fastprom.registry"]
    sys.modules["fastprom.metrics"] = prometheus_client.metrics
    sys.modules["fastprom.registry"] = prometheus_client.registry
    try:
        return importlib.import_module("fastprom.gemini")
    finally:
        sys.modules["fastprom.metrics"], sys.modules["fastprom.registry"] = saved
        for name in [name for name in sys.modules if name.startswith("fastprom.gemini")]:
            del sys.modules[name]
        sys.modules.update(ours)
        fastprom.gemini = ours["fastprom.gemini"]  # the parent package's attribute, rebound by the import


def per_call_us(fn: Callable[[], Any], calls: int, rounds: int) -> list[float]:
    """Per-call time in µs of each round."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - started) / calls * 1e6)
    return results


def new_client(url: str) -> Any:
    return genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args = parser.parse_args()
    isolated_calls, http_calls, rounds = (2_000, 50, 3) if args.quick else (20_000, 300, 9)

    libraries = {
        "fastprom": (fastprom.gemini, CollectorRegistry),
        "prometheus_client": (gemini_on_prometheus_client(), prometheus_client.CollectorRegistry),
    }
    print(
        f"metrics classes: fastprom={fastprom.gemini._metrics.Counter.__module__}, "
        f"prometheus_client={libraries['prometheus_client'][0]._metrics.Counter.__module__}"
    )
    with FakeGemini() as server:
        probe = new_client(server.url)
        response = probe.models.generate_content(model=MODEL, contents="hi")
        chunks = list(probe.models.generate_content_stream(model=MODEL, contents="hi"))

        print(f"\n1. isolated overhead, {isolated_calls} calls x {rounds} rounds, median µs per call")
        plain = stub_client(server.url, response, chunks)
        baseline = {
            "generate_content": statistics.median(
                per_call_us(lambda: plain.models.generate_content(model=MODEL, contents="hi"), isolated_calls, rounds)
            ),
            "stream (3 chunks)": statistics.median(
                per_call_us(
                    lambda: list(plain.models.generate_content_stream(model=MODEL, contents="hi")),
                    isolated_calls,
                    rounds,
                )
            ),
        }
        print(f"   {'call':<20}{'plain':>10}" + "".join(f"{name + ' +':>22}" for name in libraries))
        for call, base in baseline.items():
            row = f"   {call:<20}{base:>10.2f}"
            for module, registry_class in libraries.values():
                client = module.instrument(stub_client(server.url, response, chunks), registry=registry_class())
                if call == "generate_content":

                    def fn(c: Any = client) -> Any:
                        return c.models.generate_content(model=MODEL, contents="hi")
                else:

                    def fn(c: Any = client) -> Any:
                        return list(c.models.generate_content_stream(model=MODEL, contents="hi"))

                row += f"{statistics.median(per_call_us(fn, isolated_calls, rounds)) - base:>22.2f}"
            print(row)

        print(
            f"\n2. end to end against the local fake server, {http_calls} calls x {rounds} rounds, median µs per call"
        )
        clients = {"plain": new_client(server.url)}
        for name, (module, registry_class) in libraries.items():
            clients[name] = module.instrument(new_client(server.url), registry=registry_class())
        samples: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(rounds):  # interleaved, so that drift hits every column alike
            for name, client in clients.items():
                samples[name] += per_call_us(
                    lambda c=client: c.models.generate_content(model=MODEL, contents="hi"), http_calls, 1
                )
        base = statistics.median(samples["plain"])
        for name, values in samples.items():
            median = statistics.median(values)
            extra = "" if name == "plain" else f"  (+{median - base:.1f})"
            print(f"   {name:<20}{median:>10.1f}{extra}")


if __name__ == "__main__":
    main()
