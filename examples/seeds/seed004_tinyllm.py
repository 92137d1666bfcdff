"""Seed 004, TinyLLM, on fastprom: its ``tinyllm_`` families and ``get_metrics_collector()``.

    python examples/seeds/seed004_tinyllm.py --port 9090 [--seconds N]

Graphs of nodes call a fake Gemini: requests, tokens, latency, node and graph runs, errors,
circuit breaker trips per model, cache hits and misses, rate-limiter waits, memory operations and
a priority queue. Queue rejections and active workers are labelled by priority (the original has
no label there; ``sum()`` gives its series back).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from _common import MODEL, WEATHER, main
from google.genai import types

from fastprom import Counter, Gauge, Histogram, Info, gemini
from fastprom.agents import AgentMetrics
from fastprom.infra import ServiceMetrics
from fastprom.testing import FakeGemini

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
NODE = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GRAPH = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
MG, NG = ("model", "graph"), ("node", "graph")


class MetricsCollector:
    """TinyLLM's metrics: one per process, from :func:`get_metrics_collector`."""

    def __init__(self) -> None:
        ns = {"namespace": "tinyllm"}
        self.infra = ServiceMetrics(breaker_label="model", **ns)
        self.agent = AgentMetrics("tinyllm")  # the same runs as OpenTelemetry GenAI spans
        self.system_info = Info("system", "TinyLLM version and app name.", **ns)
        self.requests = Counter("requests", "Requests.", (*MG, "request_type"), **ns)
        self.latency = Histogram("request_latency_seconds", "Request latency.", MG, buckets=LATENCY, **ns)
        self.active = Gauge("active_requests", "Requests in progress.", MG, multiprocess_mode="livesum", **ns)
        self.tokens_in = Counter("tokens_input", "Input tokens.", MG, **ns)
        self.tokens_out = Counter("tokens_output", "Output tokens.", MG, **ns)
        self.errors = Counter("errors", "Errors.", ("error_type", *MG), **ns)
        self.nodes = Counter("node_executions", "Node executions.", ("node", "graph"), **ns)
        self.node_time = Histogram("node_execution_duration_seconds", "Node time.", NG, buckets=NODE, **ns)
        self.node_errors = Counter("node_errors", "Node errors.", ("node", "graph", "error_type"), **ns)
        self.graphs = Counter("graph_executions", "Graph executions.", ("graph",), **ns)
        self.graph_time = Histogram("graph_execution_duration_seconds", "Graph time.", ("graph",), buckets=GRAPH, **ns)
        self.cache_hits = Counter("cache_hits", "Cache hits.", ("cache_type",), **ns)
        self.cache_misses = Counter("cache_misses", "Cache misses.", ("cache_type",), **ns)

    def increment_request_count(self, model: str, graph: str, request_type: str = "generate") -> None:
        self.requests.labels(model, graph, request_type).inc()

    def record_tokens(self, input_tokens: int, output_tokens: int, model: str, graph: str) -> None:
        self.tokens_in.labels(model, graph).inc(input_tokens)
        self.tokens_out.labels(model, graph).inc(output_tokens)

    @contextmanager
    def track_request_latency(self, model: str, graph: str) -> Iterator[None]:
        with self.active.labels(model, graph).track_inprogress(), self.latency.labels(model, graph).time():
            yield

    @contextmanager
    def track_node_execution(self, node: str, graph: str) -> Iterator[None]:
        self.nodes.labels(node, graph).inc()
        try:
            with self.agent.node(node, graph=graph), self.node_time.labels(node, graph).time():
                yield
        except Exception as exc:
            self.node_errors.labels(node, graph, gemini.error_type(exc)).inc()
            raise

    @contextmanager
    def track_graph_execution(self, graph: str) -> Iterator[None]:
        self.graphs.labels(graph).inc()
        with self.agent.graph(graph), self.graph_time.labels(graph).time():
            yield

    def increment_error_count(self, error_type: str, model: str, graph: str) -> None:
        self.errors.labels(error_type, model, graph).inc()

    def update_circuit_breaker_state(self, state: str, model: str) -> None:
        self.infra.set_breaker_state(model, state)

    def increment_circuit_breaker_failures(self, model: str) -> None:
        self.infra.breaker_failure(model)

    def record_cache_hit(self, cache_type: str) -> None:
        self.cache_hits.labels(cache_type).inc()

    def record_cache_miss(self, cache_type: str) -> None:
        self.cache_misses.labels(cache_type).inc()


@cache
def get_metrics_collector() -> MetricsCollector:
    """The process's one collector."""
    return MetricsCollector()


RESPONSES: dict[str, str] = {}
ROUNDS: list[int] = []
QUESTIONS = ("Weather in Paris?", "Summarise the news", "Weather in Paris?", "Plan a trip")


async def run_graph(client: Any, m: MetricsCollector, graph: str, question: str) -> None:
    """One request through the graph: router, cache, model (maybe a tool), answer."""
    m.infra.queue_request("normal")
    m.infra.queue_size("normal", random.randint(0, 3))
    queued = time.perf_counter()
    await asyncio.sleep(random.uniform(0, 0.01))
    m.infra.queue_wait("normal", time.perf_counter() - queued)
    m.increment_request_count(MODEL, graph, "stream" if graph == "chat" else "generate")
    with m.infra.queue_worker("normal"), m.track_graph_execution(graph), m.track_request_latency(MODEL, graph):
        with m.track_node_execution("router", graph):
            m.infra.memory_operation("retrieve")
        if question in RESPONSES:
            m.record_cache_hit("response")
            return
        m.record_cache_miss("response")
        m.infra.rate_limit_wait(MODEL, random.uniform(0.001, 0.02))
        if m.infra.breaker_state(MODEL) == "open":
            m.update_circuit_breaker_state("half-open", MODEL)
        try:
            with m.track_node_execution("llm", graph):
                if graph == "chat":
                    chunks = await client.aio.models.generate_content_stream(model=MODEL, contents=question)
                    text = "".join([c.text or "" async for c in chunks])
                    usage = None
                else:
                    config = types.GenerateContentConfig(tools=[WEATHER])
                    response = await client.aio.models.generate_content(model=MODEL, contents=question, config=config)
                    usage, text = response.usage_metadata, ""
                    for call in response.function_calls or []:
                        with m.track_node_execution("tool", graph):
                            text += f"{call.name}: sunny in {(call.args or {}).get('city')}"
        except Exception as exc:
            m.increment_error_count(gemini.error_type(exc), MODEL, graph)
            m.increment_circuit_breaker_failures(MODEL)
            m.update_circuit_breaker_state("open", MODEL)
            return
        if usage is not None:
            m.record_tokens(usage.prompt_token_count or 0, usage.candidates_token_count or 0, MODEL, graph)
        if m.infra.breaker_state(MODEL) == "half-open":
            m.update_circuit_breaker_state("closed", MODEL)
        RESPONSES[question] = text
        m.infra.memory_operation("store")


async def traffic(client: Any, fake: FakeGemini) -> None:
    """One round: a question through the qa and chat graphs; every few rounds a failure."""
    ROUNDS.append(len(ROUNDS))
    n, m = len(ROUNDS), get_metrics_collector()
    if n % 3 == 0:
        RESPONSES.clear()
    if n % 4 == 2:
        fake.fail_next((429, 500, 503)[n % 3])
    if n % 5 == 1:
        m.infra.queue_rejected("low")
    question = random.choice(QUESTIONS)
    await run_graph(client, m, "qa", question)
    await run_graph(client, m, "chat", question + "!")


if __name__ == "__main__":
    collector = get_metrics_collector()
    collector.system_info.info({"version": "0.1.0", "app_name": "tinyllm"})
    with collector.infra.model_load(MODEL):
        time.sleep(0.05)
    main(__doc__.splitlines()[0], traffic)
