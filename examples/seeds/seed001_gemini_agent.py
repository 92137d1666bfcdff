"""Seed 001, a Gemini agent behind an HTTP API, on fastprom: its ``agent_`` families and
``MetricsCollector``.

    python examples/seeds/seed001_gemini_agent.py --port 9092 [--seconds N]

Requests to ``/ask`` run agent tasks (plan with a tool-declaring Gemini call, run the tool, answer)
and ``/stream`` streams an answer, against a fake Gemini: tasks succeed, fail (Gemini 5xx or 429)
or time out (a slow tool). Task completion rates are set here as gauges for parity with the
original; across several instances prefer a recording rule over ``agent_tasks_total``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from _common import MODEL, WEATHER, main
from google.genai import types

from fastprom import Counter, Gauge, Histogram, Info, gemini
from fastprom.agents import AgentMetrics
from fastprom.testing import FakeGemini

HTTP_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TASK_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
STEP_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30)
LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TOKEN_BUCKETS = (10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000)
PRICE = gemini.PriceTable.default().get(MODEL)


class MetricsCollector:
    """The agent's metrics, prefix ``agent_``."""

    def __init__(self) -> None:
        ns: dict[str, Any] = {"namespace": "agent"}
        me, live = ("method", "endpoint"), {**ns, "multiprocess_mode": "livesum"}
        self.http = Counter("http_requests", "HTTP requests.", (*me, "status_code"), **ns)
        self.http_time = Histogram("http_request_duration_seconds", "HTTP time.", me, buckets=HTTP_BUCKETS, **ns)
        self.http_active = Gauge(
            "http_requests_in_progress", "HTTP in progress.", me, multiprocess_mode="livesum", **ns
        )
        self.tasks = Counter("tasks", "Tasks by status (success, failure, timeout).", ("task_type", "status"), **ns)
        self.task_time = Histogram("task_duration_seconds", "Task time.", ("task_type",), buckets=TASK_BUCKETS, **ns)
        self.steps = Histogram("steps_per_task", "Steps per task.", ("task_type",), buckets=STEP_BUCKETS, **ns)
        self.active_tasks = Gauge("active_tasks", "Tasks in progress.", **live)
        self.llm_calls = Counter("llm_calls", "LLM calls (success, error, rate_limited).", ("model", "status"), **ns)
        self.llm_time = Histogram("llm_call_duration_seconds", "LLM call time.", ("model",), buckets=LLM_BUCKETS, **ns)
        self.llm_in = Histogram("llm_input_tokens", "Input tokens per call.", ("model",), buckets=TOKEN_BUCKETS, **ns)
        self.llm_out = Histogram(
            "llm_output_tokens", "Output tokens per call.", ("model",), buckets=TOKEN_BUCKETS, **ns
        )
        self.llm_tokens = Counter("llm_tokens", "Tokens by direction.", ("model", "direction"), **ns)
        self.tool_calls = Counter("tool_calls", "Tool calls.", ("tool_name", "status"), **ns)
        self.tool_time = Histogram("tool_call_duration_seconds", "Tool call time.", ("tool_name",), **ns)
        self.cost = Counter("cost_total_cents", "Cost in cents (input, output, tool).", ("model", "cost_type"), **ns)
        self.satisfaction = Histogram("user_satisfaction_score", "User ratings.", buckets=(1, 2, 3, 4, 5), **ns)
        self.completion = Gauge("task_completion_rate", "Completed share of tasks.", ("window",), **ns)
        self.app = Info("app", "The agent.", **ns)
        self.memory = Gauge("memory_entries", "Memory entries by type.", ("memory_type",), **ns)
        self.cache = Counter("cache", "Cache lookups (hit, miss).", ("result",), **ns)
        # The same work as OpenTelemetry GenAI spans: Gemini tokens and cost per task, no labels passed.
        self.agent = AgentMetrics("gemini-agent")

    @contextmanager
    def track_request(self, method: str, endpoint: str) -> Iterator[dict[str, int]]:
        """An HTTP request; set ``["status"]`` on the yielded dict (default 200)."""
        response = {"status": 200}
        with self.http_active.labels(method, endpoint).track_inprogress():
            with self.http_time.labels(method, endpoint).time():
                try:
                    yield response
                except Exception:
                    response["status"] = 500
                    raise
                finally:
                    self.http.labels(method, endpoint, str(response["status"])).inc()

    @asynccontextmanager
    async def track_task(self, task_type: str) -> AsyncIterator[list[str]]:
        """A task; append a step name to the yielded list per step."""
        steps: list[str] = []
        status = "success"
        with self.agent.task(), self.active_tasks.track_inprogress(), self.task_time.labels(task_type).time():
            try:
                yield steps
            except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11 on
                status = "timeout"
                raise
            except Exception:
                status = "failure"
                raise
            finally:
                self.tasks.labels(task_type, status).inc()
                self.steps.labels(task_type).observe(len(steps))

    def record_llm_call(self, model: str, duration: float, usage: Any = None, error: Exception | None = None) -> None:
        kind = None if error is None else gemini.error_type(error)
        self.llm_calls.labels(model, "success" if kind is None else "rate_limited" if kind == "429" else "error").inc()
        self.llm_time.labels(model).observe(duration)
        if usage is not None:
            tokens_in, tokens_out = usage.prompt_token_count or 0, usage.candidates_token_count or 0
            self.llm_in.labels(model).observe(tokens_in)
            self.llm_out.labels(model).observe(tokens_out)
            self.llm_tokens.labels(model, "input").inc(tokens_in)
            self.llm_tokens.labels(model, "output").inc(tokens_out)
            if PRICE is not None:
                self.cost.labels(model, "input").inc(tokens_in * PRICE.standard.input * 100)
                self.cost.labels(model, "output").inc(tokens_out * PRICE.standard.output * 100)

    @contextmanager
    def track_tool_call(self, tool_name: str) -> Iterator[None]:
        status = "success"
        with self.agent.tool(tool_name), self.tool_time.labels(tool_name).time():
            try:
                yield
            except BaseException:
                status = "error"
                raise
            finally:
                self.tool_calls.labels(tool_name, status).inc()


metrics = MetricsCollector()
TOTALS = {"done": 0, "all": 0}


async def llm(client: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    try:
        response = await client.aio.models.generate_content(model=MODEL, **kwargs)
    except Exception as exc:
        metrics.record_llm_call(MODEL, time.perf_counter() - started, error=exc)
        raise
    metrics.record_llm_call(MODEL, time.perf_counter() - started, response.usage_metadata)
    return response


async def ask(client: Any, question: str, slow_tool: bool) -> None:
    """GET /ask: one agent task."""
    with metrics.track_request("GET", "/ask") as response:
        TOTALS["all"] += 1
        try:
            async with metrics.track_task("question") as steps:
                steps.append("plan")
                config = types.GenerateContentConfig(tools=[WEATHER])
                with metrics.agent.step("plan"):
                    planned = await llm(client, contents=question, config=config)
                for call in planned.function_calls or []:
                    steps.append("tool")
                    with metrics.track_tool_call(call.name or "unknown"):
                        metrics.cache.labels("hit" if random.random() < 0.5 else "miss").inc()
                        await asyncio.wait_for(asyncio.sleep(0.2 if slow_tool else 0.001), 0.05)
                steps.append("answer")
                with metrics.agent.step("answer"):
                    await llm(client, contents=question + " (with the weather)")
            TOTALS["done"] += 1
            metrics.satisfaction.observe(random.randint(3, 5))
        except Exception as exc:
            kind = gemini.error_type(exc)
            response["status"] = 504 if isinstance(exc, TimeoutError) else int(kind) if kind.isdigit() else 500
        metrics.memory.labels("conversation").inc()
        for window in ("1h", "24h", "7d"):
            metrics.completion.labels(window).set(TOTALS["done"] / TOTALS["all"])


async def stream(client: Any) -> None:
    """GET /stream: a streamed answer."""
    with metrics.track_request("GET", "/stream"):
        async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents="Hello"):
            pass


async def traffic(client: Any, fake: FakeGemini) -> None:
    ROUNDS.append(len(ROUNDS))
    n = len(ROUNDS)
    if n % 4 == 2:
        fake.fail_next((429, 503)[n // 4 % 2])
    await ask(client, "Weather in Paris?", slow_tool=n % 5 == 3)
    await stream(client)


ROUNDS: list[int] = []

if __name__ == "__main__":
    metrics.app.info({"version": "1.0.0", "name": "gemini-agent"})
    metrics.memory.labels("long_term").set(12)
    main(__doc__.splitlines()[0], traffic)
