"""Seed 003, NGX agents, on fastprom: its ``ngx_agents_`` families and helpers.

    python examples/seeds/seed003_ngx_agents.py --port 9091 [--seconds N]

HTTP handlers run agents that call a fake Gemini (with a tool), stream chat answers chunk by
chunk, look up a response cache, read and write tables and trip the Gemini circuit breaker on
errors. ``track_time`` is :func:`fastprom.agents.track_time` (a decorator of ``async def``
functions and a context manager around awaited code). The cache and
breaker-change counters carry one more label than the original (``cache``, ``from_state``).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from _common import MODEL, WEATHER, main
from google.genai import types

from fastprom import Counter, Gauge, Histogram, gemini
from fastprom.agents import TrackTime, track_time
from fastprom.infra import ServiceMetrics
from fastprom.testing import FakeGemini

NS: dict[str, Any] = {"namespace": "ngx_agents"}
HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
AGENT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

http_requests = Counter("http_requests", "HTTP requests.", ("method", "endpoint", "status"), **NS)
http_duration = Histogram(
    "http_request_duration_seconds", "HTTP request duration.", ("endpoint",), buckets=HTTP_BUCKETS, **NS
)
http_active = Gauge("http_requests_active", "HTTP requests in progress.", multiprocess_mode="livesum", **NS)
agent_invocations = Counter("agent_invocations", "Agent invocations.", ("agent_id", "status"), **NS)
agent_response_time = Histogram(
    "agent_response_time_seconds", "Agent response time.", ("agent_id",), buckets=AGENT_BUCKETS, **NS
)
agents_active = Gauge("agents_active", "Agents running.", multiprocess_mode="livesum", **NS)
redis_pool = Gauge("redis_pool_connections", "Redis pool connections in use.", multiprocess_mode="livesum", **NS)
infra = ServiceMetrics(**NS)
db_operation_duration = infra.db_operation_duration


def track_operation_time(histogram: Histogram, operation: str, table: str) -> TrackTime:
    """Time a database operation into ``histogram`` (labels operation and table)."""
    return track_time(histogram, {"operation": operation, "table": table})


def http_status(exc: Exception) -> int:
    """The HTTP status answered for a failed call: Gemini's own, else 500."""
    kind = gemini.error_type(exc)
    return int(kind) if kind.isdigit() else 500


class MetricsCollector:
    def record_agent_invocation(self, agent_id: str, status: str, duration: float) -> None:
        agent_invocations.labels(agent_id, status).inc()
        agent_response_time.labels(agent_id).observe(duration)


metrics_collector = MetricsCollector()
CACHE: dict[str, str] = {}
ROUNDS: list[int] = []


async def call_gemini(client: Any, **kwargs: Any) -> Any:
    """A Gemini call behind the ``gemini`` circuit breaker."""
    if infra.breaker_state("gemini") == "open":
        infra.set_breaker_state("gemini", "half-open")
    try:
        response = await client.aio.models.generate_content(model=MODEL, **kwargs)
    except Exception:
        infra.set_breaker_state("gemini", "open")
        raise
    infra.set_breaker_state("gemini", "closed")
    return response


@track_time(http_duration, {"endpoint": "/agents/run"})
async def run_agent(client: Any, agent_id: str, question: str) -> int:
    """POST /agents/run: one agent invocation; returns the HTTP status."""
    started, status = time.perf_counter(), "success"
    with agents_active.track_inprogress():
        try:
            if question in CACHE:
                infra.cache_hit("responses")
                return 200
            infra.cache_miss("responses")
            with track_operation_time(db_operation_duration, operation="select", table="user_profiles"):
                await asyncio.sleep(random.uniform(0.001, 0.005))
            config = types.GenerateContentConfig(tools=[WEATHER])
            response = await call_gemini(client, contents=question, config=config)
            CACHE[question] = str(response.function_calls)
            with track_operation_time(db_operation_duration, operation="insert", table="conversations"):
                await asyncio.sleep(random.uniform(0.001, 0.005))
            return 200
        except Exception as exc:
            status = "failure"
            return http_status(exc)
        finally:
            metrics_collector.record_agent_invocation(agent_id, status, time.perf_counter() - started)


@track_time(http_duration, {"endpoint": "/chat/stream"})
async def chat_stream(client: Any, question: str) -> int:
    """POST /chat/stream: a chat session streaming the model's answer."""
    with infra.chat_session():
        stream = infra.stream()
        try:
            async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents=question):
                stream.chunk()
        except Exception as exc:
            return http_status(exc)
    return 200


async def handle(method: str, endpoint: str, handler: Any) -> None:
    with http_active.track_inprogress():
        status = await handler
    http_requests.labels(method, endpoint, str(status)).inc()


async def traffic(client: Any, fake: FakeGemini) -> None:
    """One round: an agent run and a chat stream; every few rounds one fails or the cache is emptied."""
    ROUNDS.append(len(ROUNDS))
    n = len(ROUNDS)
    if n % 3 == 0:
        CACHE.clear()
    redis_pool.set(n % 10 + 1)
    infra.connection_pool("redis", n % 10 + 1, 10)
    agent = random.choice(("orchestrator", "elite_training_strategist", "precision_nutrition_architect"))
    question = random.choice(("Plan my week", "Weather in Madrid?", "Protein for today"))
    if n % 4 == 2:
        fake.fail_next(503)
    await handle("POST", "/agents/run", run_agent(client, agent, question))
    if n % 5 == 4:
        fake.fail_next(429)
    await handle("POST", "/chat/stream", chat_stream(client, "Hello"))


if __name__ == "__main__":
    infra.app_info(version="1.0.0", name="ngx_agents")
    main(__doc__.splitlines()[0], traffic)
