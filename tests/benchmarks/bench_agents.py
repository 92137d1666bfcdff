"""CPU cost of fastprom.agents + fastprom.gemini on one agent task, against the same metrics on
prometheus_client.

    python tests/benchmarks/bench_agents.py            # about 30 seconds
    python tests/benchmarks/bench_agents.py --quick    # a smoke run

One task: ``agent.task()`` around 3 ``agent.step()``, 2 ``agent.tool()`` calls and one
``client.models.generate_content`` of the real google-genai client instrumented by
``fastprom.gemini.instrument`` (its tokens and cost land on the task). The network is stubbed: the
client's ``generate_content`` returns a real response object received once, at start, from the
local fake Gemini server (``fastprom.testing.FakeGemini``), so the figures are the instrumentation
alone. "bare" is the same code without any instrumentation; "prometheus_client" is this same
package (a second copy of ``fastprom.agents`` and ``fastprom.gemini`` imported with
``fastprom.metrics`` pointing at ``prometheus_client.metrics``), so the columns differ only in the
metrics library. Each round times a batch of tasks of each variant, in rotating order, in CPU time
of this thread (``time.thread_time``); printed: the median per task over the rounds, and the
median over the rounds of each variant's difference against that round's bare batch.
Target: fastprom adds at most 10 µs per task, and less than prometheus_client.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import prometheus_client
from _on_prometheus_client import on_prometheus_client as copies_on_prometheus_client
from google import genai
from google.genai import types

import fastprom
import fastprom.agents
import fastprom.gemini
from fastprom.registry import CollectorRegistry
from fastprom.testing import FakeGemini

MODEL = "gemini-2.5-flash"


def on_prometheus_client() -> tuple[ModuleType, ModuleType]:
    """Private copies of fastprom.agents and fastprom.gemini whose metric classes are prometheus_client's."""
    agents, gemini = copies_on_prometheus_client("fastprom.agents", "fastprom.gemini")
    return agents, gemini


def stub_client(url: str, response: Any) -> Any:
    client = genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))

    def generate_content(**kwargs: Any) -> Any:
        return response

    client.models.generate_content = generate_content
    return client


def search(query: str) -> str:
    return query


def bare_task(client: Any) -> None:
    for i in range(3):
        if i == 0:
            client.models.generate_content(model=MODEL, contents="hi")
        else:
            search("q")


def instrumented_task(agent: Any, client: Any) -> Callable[[], None]:
    steps = [agent.step(name) for name in ("plan", "act", "reflect")]
    tool = agent.tool("search")

    def run() -> None:
        with agent.task():
            for i, step in enumerate(steps):
                with step:
                    if i == 0:
                        client.models.generate_content(model=MODEL, contents="hi")
                    else:
                        with tool:
                            search("q")

    return run


def cpu_us(fn: Callable[[], None], tasks: int) -> float:
    started = time.thread_time()
    for _ in range(tasks):
        fn()
    return (time.thread_time() - started) / tasks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    tasks, rounds = (500, 5) if args.quick else (5000, 31)
    with FakeGemini() as fake:
        probe = genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
        response = probe.models.generate_content(model=MODEL, contents="hi")
        probe.close()
        pc_agents, pc_gemini = on_prometheus_client()
        bare = stub_client(fake.url, response)
        fp_registry, pc_registry = CollectorRegistry(), prometheus_client.CollectorRegistry()
        fp_client = fastprom.gemini.instrument(stub_client(fake.url, response), registry=fp_registry)
        pc_client = pc_gemini.instrument(stub_client(fake.url, response), registry=pc_registry)
        variants: dict[str, Callable[[], None]] = {
            "bare": lambda: bare_task(bare),
            "fastprom": instrumented_task(fastprom.agents.AgentMetrics("a", registry=fp_registry), fp_client),
            "prometheus_client": instrumented_task(pc_agents.AgentMetrics("a", registry=pc_registry), pc_client),
        }
        for fn in variants.values():  # warm up: series created, caches filled
            cpu_us(fn, 200)
        per: dict[str, list[float]] = {name: [] for name in variants}
        over: dict[str, list[float]] = {name: [] for name in variants if name != "bare"}
        names = list(variants)
        for r in range(rounds):
            order = names[r % 3 :] + names[: r % 3]
            got = {name: cpu_us(variants[name], tasks) for name in order}
            for name, us in got.items():
                per[name].append(us)
                if name != "bare":
                    over[name].append(us - got["bare"])
        for c in (fp_client, pc_client, bare):
            c.close()
    sample = fastprom.generate_latest(fp_registry).decode()
    assert 'gen_ai_agent_task_token_usage_count{gen_ai_agent_name="a",gen_ai_token_type="input"}' in sample
    print(f"one task (3 steps, 2 tool calls, 1 Gemini call), {tasks} tasks x {rounds} rounds, CPU µs per task")
    print(f"   {'variant':<20}{'median':>10}{'added (median)':>18}")
    for name in names:
        added = f"{statistics.median(over[name]):>18.2f}" if name in over else f"{'':>18}"
        print(f"   {name:<20}{statistics.median(per[name]):>10.2f}{added}")
    ratio = statistics.median(over["prometheus_client"]) / statistics.median(over["fastprom"])
    print(f"   prometheus_client adds {ratio:.2f}x what fastprom adds")


if __name__ == "__main__":
    main()
