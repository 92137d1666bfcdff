"""fastprom.agents: tasks, steps, tools, queues, circuit breakers and caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

import fastprom
from fastprom.agents import AgentMetrics
from fastprom.registry import CollectorRegistry


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
