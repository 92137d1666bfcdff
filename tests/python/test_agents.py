"""fastprom.agents: tasks, steps, tools, queues, circuit breakers and caches."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import fastprom
from fastprom import agents, gemini
from fastprom.agents import AgentMetrics, track_time
from fastprom.registry import CollectorRegistry
from fastprom.testing import FakeGemini

MODEL = "gemini-2.5-flash"
# the fake's default usage on gemini-2.5-flash: 1200 input (200 cached), 300 output + 100 thinking
CALL_COST = ((1200 - 200) * 0.30 + 200 * 0.03 + (300 + 100) * 2.50) / 1e6


def test_task_step_and_tool(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("planner", registry=registry)

    @agent.tool("search")
    def search(query: str) -> str:
        if not query:
            raise LookupError("empty query")
        return query.upper()

    @agent.tool("fetch")
    async def fetch() -> int:
        await asyncio.sleep(0.01)
        return 7

    with agent.task():
        with agent.step("plan"):
            assert search("a") == "A"
        with pytest.raises(LookupError), agent.step("act"):
            search("")
        assert asyncio.run(fetch()) == 7
    a = {"gen_ai_agent_name": "planner"}
    get = registry.get_sample_value
    assert get("gen_ai_agent_tasks_total", {**a, "outcome": "success", "error_type": ""}) == 1
    assert get("gen_ai_invoke_agent_duration_seconds_count", {**a, "error_type": ""}) == 1
    assert get("gen_ai_agent_tasks_active", a) == 0
    assert (
        get(
            "gen_ai_agent_steps_total",
            {**a, "gen_ai_agent_step": "plan", "outcome": "success", "error_type": ""},
        )
        == 1
    )
    assert (
        get(
            "gen_ai_agent_steps_total",
            {**a, "gen_ai_agent_step": "act", "outcome": "error", "error_type": "LookupError"},
        )
        == 1
    )
    assert (
        get(
            "gen_ai_agent_tool_calls_total",
            {**a, "gen_ai_tool_name": "search", "outcome": "error", "error_type": "LookupError"},
        )
        == 1
    )
    assert (
        get(
            "gen_ai_agent_tool_calls_total",
            {**a, "gen_ai_tool_name": "search", "outcome": "success", "error_type": ""},
        )
        == 1
    )
    fetched = get("gen_ai_execute_tool_duration_seconds_sum", {**a, "gen_ai_tool_name": "fetch", "error_type": ""})
    assert fetched is not None and 0.01 <= fetched < 1


def test_generator_tools_are_timed_over_their_iteration(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("streamer", registry=registry)
    a = {"gen_ai_agent_name": "streamer", "error_type": ""}

    @agent.tool("chunks")
    def chunks() -> Iterator[int]:
        yield 1
        time.sleep(0.02)
        yield 2

    @agent.tool("achunks")
    async def achunks() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0.02)
        raise LookupError("gone")

    async def consume() -> list[int]:
        got = []
        with pytest.raises(LookupError):
            async for item in achunks():
                got.append(item)
        return got

    get = registry.get_sample_value
    gen = chunks()
    assert get("gen_ai_execute_tool_duration_seconds_count", {**a, "gen_ai_tool_name": "chunks"}) is None
    assert list(gen) == [1, 2]
    assert asyncio.run(consume()) == [1]
    assert get("gen_ai_execute_tool_duration_seconds_sum", {**a, "gen_ai_tool_name": "chunks"}) >= 0.02
    errors = {**a, "gen_ai_tool_name": "achunks", "error_type": "LookupError"}
    assert get("gen_ai_execute_tool_duration_seconds_sum", errors) >= 0.02
    assert get("gen_ai_agent_tool_calls_total", {**errors, "outcome": "error"}) == 1


def test_task_in_progress_and_async_task(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("worker", registry=registry)
    other = AgentMetrics("other", registry=registry)  # shares the families
    a = {"gen_ai_agent_name": "worker"}

    @agent.task()
    async def run() -> float | None:
        return registry.get_sample_value("gen_ai_agent_tasks_active", a)

    assert asyncio.run(run()) == 1
    with other.task():
        pass
    assert registry.get_sample_value("gen_ai_agent_tasks_active", a) == 0
    assert (
        registry.get_sample_value(
            "gen_ai_agent_tasks_total", {"gen_ai_agent_name": "other", "outcome": "success", "error_type": ""}
        )
        == 1
    )


def test_queue_breaker_cache(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("planner", registry=registry)
    agent.set_queue_depth("inbox", 5)
    for state in ("open", "open", "half_open", "closed", "open"):
        agent.set_breaker_state("gemini", state)
    agent.cache_lookup("answers", hit=True)
    agent.cache_lookup("answers", hit=False)
    agent.cache_lookup("answers", hit=True)
    a = {"gen_ai_agent_name": "planner"}
    get = registry.get_sample_value
    assert get("gen_ai_agent_queue_depth", {**a, "queue": "inbox"}) == 5
    assert get("gen_ai_agent_circuit_breaker_state", {**a, "breaker": "gemini"}) == 2
    assert get("gen_ai_agent_circuit_breaker_trips_total", {**a, "breaker": "gemini"}) == 2
    assert get("gen_ai_agent_cache_requests_total", {**a, "cache": "answers", "result": "hit"}) == 2
    assert get("gen_ai_agent_cache_requests_total", {**a, "cache": "answers", "result": "miss"}) == 1


def test_bad_input(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("a", registry=registry)
    with pytest.raises(ValueError, match="agent name"):
        AgentMetrics("", registry=registry)
    with pytest.raises(ValueError, match="breaker state"):
        agent.set_breaker_state("b", "broken")
    with pytest.raises(ValueError, match="breaker name"):
        agent.set_breaker_state("", "closed")
    assert "breaker_state{" not in fastprom.generate_latest(registry).decode()
    with pytest.raises(ValueError, match="tool name"):
        agent.tool("")


def test_breaker_name_checked_on_every_call(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("a", registry=registry)
    for state in ("closed", "half_open", "open"):
        with pytest.raises(ValueError, match="breaker name"):
            agent.set_breaker_state(3, state)  # type: ignore[arg-type]
    assert "breaker_state{" not in fastprom.generate_latest(registry).decode()


# ------------------------------------------------------------------ real google-genai calls in spans


@pytest.fixture
def genai_client(fake: FakeGemini, registry: CollectorRegistry) -> Iterator[Any]:
    genai = pytest.importorskip("google.genai", reason="google-genai is not installed")
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    gemini.instrument(client, registry=registry)
    yield client
    client.close()


def task_sample(registry: CollectorRegistry, name: str, agent: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"gen_ai_agent_name": agent, **labels})


def test_llm_usage_lands_on_the_task_and_agent_it_was_made_in(genai_client: Any, registry: CollectorRegistry) -> None:
    planner, writer = AgentMetrics("planner", registry=registry), AgentMetrics("writer", registry=registry)

    def ask() -> None:
        genai_client.models.generate_content(model=MODEL, contents="hi")

    genai_client.models.generate_content(model=MODEL, contents="outside")  # in no task: nobody's
    with planner.task():
        with planner.step("plan"):
            ask()
        with planner.step("act"), planner.tool("lookup"):
            thread = threading.Thread(target=contextvars.copy_context().run, args=(ask,))
            thread.start()
            thread.join()
        bare = threading.Thread(target=ask)  # a thread without the context: not the task's
        bare.start()
        bare.join()

    async def write() -> None:
        with writer.task():
            await genai_client.aio.models.generate_content(model=MODEL, contents="hi")

            async def child() -> None:
                with writer.step("draft"):
                    await genai_client.aio.models.generate_content(model=MODEL, contents="hi")

            await asyncio.gather(asyncio.create_task(child()), asyncio.create_task(child()))
        await genai_client.aio.aclose()

    asyncio.run(write())
    name = "gen_ai_agent_task_token_usage"
    assert task_sample(registry, f"{name}_sum", "planner", gen_ai_token_type="input") == 2 * 1200
    assert task_sample(registry, f"{name}_sum", "planner", gen_ai_token_type="output") == 2 * 400
    assert task_sample(registry, f"{name}_count", "planner", gen_ai_token_type="input") == 1
    assert task_sample(registry, "gen_ai_agent_task_cost_usd_sum", "planner") == pytest.approx(2 * CALL_COST)
    assert task_sample(registry, "gen_ai_agent_steps_per_task_sum", "planner") == 2
    assert task_sample(registry, f"{name}_sum", "writer", gen_ai_token_type="input") == 3 * 1200
    assert task_sample(registry, "gen_ai_agent_task_cost_usd_sum", "writer") == pytest.approx(3 * CALL_COST)
    assert task_sample(registry, "gen_ai_agent_steps_per_task_sum", "writer") == 2
    # the Gemini families saw all seven calls
    base = {"gen_ai_operation_name": "generate_content", "gen_ai_provider_name": "gcp.gemini"}
    assert (
        registry.get_sample_value(
            "gen_ai_client_requests_total",
            {**base, "gen_ai_request_model": MODEL, "outcome": "success", "error_type": ""},
        )
        == 7
    )


def test_one_error_type_for_agents_and_gemini(genai_client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    agent = AgentMetrics("a", registry=registry)

    @agent.tool("llm")
    def call() -> None:
        genai_client.models.generate_content(model=MODEL, contents="hi")

    fake.fail_next(429)
    with pytest.raises(Exception, match="429"):
        call()
    assert (
        task_sample(
            registry, "gen_ai_agent_tool_calls_total", "a", gen_ai_tool_name="llm", outcome="error", error_type="429"
        )
        == 1
    )
    base = {"gen_ai_operation_name": "generate_content", "gen_ai_provider_name": "gcp.gemini"}
    labels = {**base, "gen_ai_request_model": MODEL, "outcome": "error", "error_type": "429"}
    assert registry.get_sample_value("gen_ai_client_requests_total", labels) == 1
    assert agents.error_type(TimeoutError()) == "timeout" and agents.error_type(KeyError()) == "KeyError"


def test_streaming_async_generator_step_is_timed_to_its_last_chunk(
    genai_client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    fake.stream_first_delay, fake.stream_gap = 0.05, 0.1  # three chunks: >= 0.25 s
    agent = AgentMetrics("streamer", registry=registry)

    @agent.step("answer")
    async def answer() -> AsyncIterator[str]:
        async for chunk in await genai_client.aio.models.generate_content_stream(model=MODEL, contents="hi"):
            yield chunk.text

    async def run() -> list[str]:
        with agent.task():
            got = [text async for text in answer()]
        await genai_client.aio.aclose()
        return got

    started = time.perf_counter()
    assert asyncio.run(run()) == ["Hel", "lo ", "stream"]
    elapsed = time.perf_counter() - started
    step = task_sample(
        registry, "gen_ai_agent_step_duration_seconds_sum", "streamer", gen_ai_agent_step="answer", error_type=""
    )
    assert step is not None and 0.25 <= step <= elapsed
    assert task_sample(registry, "gen_ai_agent_task_token_usage_sum", "streamer", gen_ai_token_type="input") == 1200
    assert task_sample(registry, "gen_ai_agent_steps_per_task_sum", "streamer") == 1


# ------------------------------------------------------------------ concurrency and reuse


def test_threads_and_asyncio_tasks_give_exact_counts(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("busy", registry=registry)
    per_thread, n_tasks = 250, 200

    @agent.tool("t")
    def tool() -> None:
        pass

    def work() -> None:
        for i in range(per_thread):
            with agent.task():
                with agent.step("s"):
                    tool()
                with agent.step("s"):
                    if i % 5 == 0:
                        with pytest.raises(KeyError), agent.tool("t"):
                            raise KeyError

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    @agent.task()
    async def atask(i: int) -> None:
        with agent.step("s"):
            await asyncio.sleep(0)
            with agent.step("s"):
                await asyncio.sleep(0.001 * (i % 3))

    async def run() -> None:
        await asyncio.gather(*(asyncio.create_task(atask(i)) for i in range(n_tasks)))

    asyncio.run(run())
    tasks = 8 * per_thread + n_tasks
    ok = {"outcome": "success", "error_type": ""}
    assert task_sample(registry, "gen_ai_agent_tasks_total", "busy", **ok) == tasks
    assert task_sample(registry, "gen_ai_agent_steps_total", "busy", gen_ai_agent_step="s", **ok) == 2 * tasks
    assert task_sample(registry, "gen_ai_agent_tool_calls_total", "busy", gen_ai_tool_name="t", **ok) == 8 * per_thread
    errors = {"outcome": "error", "error_type": "KeyError"}
    assert task_sample(registry, "gen_ai_agent_tool_calls_total", "busy", gen_ai_tool_name="t", **errors) == 8 * 50
    assert task_sample(registry, "gen_ai_agent_steps_per_task_count", "busy") == tasks
    assert task_sample(registry, "gen_ai_agent_steps_per_task_sum", "busy") == 2 * tasks
    assert task_sample(registry, "gen_ai_agent_tasks_active", "busy") == 0
    assert task_sample(registry, "gen_ai_agent_steps_active", "busy", gen_ai_agent_step="s") == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reused_span_in_overlapping_blocks_times_each_block(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(agents, "perf_counter", clock)
    agent = AgentMetrics("a", registry=registry)
    span = agent.step("s")
    hist = fastprom.Histogram("op", "op", ["k"], buckets=(1.5, 2.5, 9.5), registry=registry)
    timer = track_time(hist, {"k": "x"})
    both = span, timer

    async def block(enter_at: float, exit_at: float, entered: asyncio.Event, go: asyncio.Event) -> None:
        clock.now = enter_at
        with span, timer:
            entered.set()
            await go.wait()
            clock.now = exit_at

    async def run() -> None:
        a_in, b_in, a_go, b_go = (asyncio.Event() for _ in range(4))
        a = asyncio.create_task(block(0.0, 2.0, a_in, a_go))
        await a_in.wait()
        b = asyncio.create_task(block(1.0, 10.0, b_in, b_go))
        await b_in.wait()
        a_go.set()  # A (entered first) leaves first: 2 s; then B: 9 s
        await a
        b_go.set()
        await b

    asyncio.run(run())
    assert both[0] is agent.step("s")  # the same object both times
    step = {"gen_ai_agent_step": "s", "error_type": ""}
    get = task_sample
    assert get(registry, "gen_ai_agent_step_duration_seconds_bucket", "a", le="1.28", **step) == 0
    assert get(registry, "gen_ai_agent_step_duration_seconds_bucket", "a", le="2.56", **step) == 1
    assert get(registry, "gen_ai_agent_step_duration_seconds_bucket", "a", le="5.12", **step) == 1
    assert get(registry, "gen_ai_agent_step_duration_seconds_sum", "a", **step) == 11
    for le, n in (("1.5", 0), ("2.5", 1), ("9.5", 2)):
        assert registry.get_sample_value("op_bucket", {"k": "x", "le": le}) == n


def test_span_exited_out_of_order_is_an_error(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("a", registry=registry)
    outer, inner = agent.step("outer"), agent.step("inner")
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    ok = {"outcome": "success", "error_type": ""}
    assert task_sample(registry, "gen_ai_agent_steps_total", "a", gen_ai_agent_step="outer", **ok) == 1


def test_graph_and_node(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("g", registry=registry)

    @agent.node("fetch", graph="rag")
    def fetch() -> Iterator[int]:
        yield from range(3)

    with agent.graph("rag"):
        assert list(fetch()) == [0, 1, 2]
        with pytest.raises(ValueError), agent.node("rank", graph="rag"):
            raise ValueError
    ok = {"outcome": "success", "error_type": ""}
    assert task_sample(registry, "gen_ai_agent_graph_executions_total", "g", gen_ai_agent_graph="rag", **ok) == 1
    node = {"gen_ai_agent_graph": "rag"}
    assert (
        task_sample(registry, "gen_ai_agent_node_executions_total", "g", gen_ai_agent_node="fetch", **node, **ok) == 1
    )
    err = {"outcome": "error", "error_type": "ValueError"}
    assert (
        task_sample(registry, "gen_ai_agent_node_executions_total", "g", gen_ai_agent_node="rank", **node, **err) == 1
    )
    assert task_sample(registry, "gen_ai_agent_node_executions_active", "g", gen_ai_agent_node="rank", **node) == 0


def test_closed_generator_counts_as_closed(registry: CollectorRegistry) -> None:
    agent = AgentMetrics("c", registry=registry)

    @agent.tool("gen")
    def gen() -> Iterator[int]:
        yield from range(10)

    g = gen()
    next(g)
    g.close()
    closed = {"gen_ai_tool_name": "gen", "outcome": "closed", "error_type": ""}
    assert task_sample(registry, "gen_ai_agent_tool_calls_total", "c", **closed) == 1


# ------------------------------------------------------------------ track_time


def test_track_time_decorates_every_kind_and_times_blocks(registry: CollectorRegistry) -> None:
    hist = fastprom.Histogram("op_seconds", "op", ["op", "table"], registry=registry)
    summ = fastprom.Summary("plain_seconds", "plain", registry=registry)

    @track_time(hist, {"op": "sync", "table": "t"})
    def sync() -> int:
        time.sleep(0.01)
        return 1

    @track_time(hist, ("async", "t"))
    async def coro() -> int:
        await asyncio.sleep(0.01)
        return 2

    @track_time(hist, ["gen", "t"])
    def gen() -> Iterator[int]:
        yield 1
        time.sleep(0.02)
        yield 2

    @track_time(hist, {"op": "agen", "table": "t"})
    async def agen() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0.02)
        yield 2

    async def consume() -> list[int]:
        return [x async for x in agen()]

    assert sync() == 1 and asyncio.run(coro()) == 2 and list(gen()) == [1, 2] and asyncio.run(consume()) == [1, 2]
    with pytest.raises(KeyError), track_time(summ):
        time.sleep(0.01)
        raise KeyError
    for op, low in (("sync", 0.01), ("async", 0.01), ("gen", 0.02), ("agen", 0.02)):
        labels = {"op": op, "table": "t"}
        assert registry.get_sample_value("op_seconds_count", labels) == 1
        assert low <= registry.get_sample_value("op_seconds_sum", labels) < 1  # type: ignore[operator]
    assert registry.get_sample_value("plain_seconds_count") == 1


def test_track_time_bad_input(registry: CollectorRegistry) -> None:
    counter = fastprom.Counter("c", "c", registry=registry)
    hist = fastprom.Histogram("h", "h", ["a"], registry=registry)
    with pytest.raises(TypeError, match="Histogram or Summary"):
        track_time(counter)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="labels must be"):
        track_time(hist, "a")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        track_time(hist, {"b": "x"})
    assert "h_bucket" not in fastprom.generate_latest(registry).decode()
