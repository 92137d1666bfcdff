"""Metrics for agent code: tasks, steps and tool calls, queues, circuit breakers and caches.

::

    agent = AgentMetrics("planner")

    @agent.tool("search")
    async def search(query: str) -> list[str]: ...

    with agent.task():
        with agent.step("plan"):
            ...

Tasks, steps and tool calls are context managers and decorators (sync or async functions). Each
records its duration in a histogram and a count by outcome (``success`` or ``error``) and
``error_type`` (the exception class name); exceptions propagate unchanged. Names follow the
OpenTelemetry GenAI conventions where they exist (``gen_ai_invoke_agent_duration_seconds``,
``gen_ai_execute_tool_duration_seconds``). Step, tool, queue, breaker and cache names are label
values: keep them to a fixed set in code, never derived from user input.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastprom._families import PerRegistry
from fastprom._wrap import measured
from fastprom.metrics import Counter, Gauge, Histogram
from fastprom.registry import REGISTRY, CollectorRegistry

__all__ = ["AgentMetrics", "BREAKER_STATES"]

TASK_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
STEP_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
"""Values of ``gen_ai_agent_circuit_breaker_state``."""

F = TypeVar("F", bound=Callable[..., Any])
_AGENT = "gen_ai_agent_name"


class _Families:
    """The metric families of one registry and namespace, shared by every agent recording there."""

    def __init__(self, registry: CollectorRegistry | None, namespace: str) -> None:
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry}
        self.task_duration = Histogram(
            "gen_ai_invoke_agent_duration",
            "Duration of agent tasks.",
            (_AGENT, "error_type"),
            unit="seconds",
            buckets=TASK_BUCKETS,
            **kw,
        )
        self.tasks = Counter("gen_ai_agent_tasks", "Agent tasks by outcome.", (_AGENT, "outcome", "error_type"), **kw)
        # livesum: summed over live processes in multiprocess mode.
        self.tasks_active = Gauge(
            "gen_ai_agent_tasks_active", "Agent tasks in progress.", (_AGENT,), multiprocess_mode="livesum", **kw
        )
        self.step_duration = Histogram(
            "gen_ai_agent_step_duration",
            "Duration of agent steps.",
            (_AGENT, "gen_ai_agent_step", "error_type"),
            unit="seconds",
            buckets=STEP_BUCKETS,
            **kw,
        )
        self.steps = Counter(
            "gen_ai_agent_steps",
            "Agent steps by outcome.",
            (_AGENT, "gen_ai_agent_step", "outcome", "error_type"),
            **kw,
        )
        self.tool_duration = Histogram(
            "gen_ai_execute_tool_duration",
            "Duration of tool calls.",
            (_AGENT, "gen_ai_tool_name", "error_type"),
            unit="seconds",
            buckets=STEP_BUCKETS,
            **kw,
        )
        self.tools = Counter(
            "gen_ai_agent_tool_calls",
            "Tool calls by outcome.",
            (_AGENT, "gen_ai_tool_name", "outcome", "error_type"),
            **kw,
        )
        self.queue_depth = Gauge(
            "gen_ai_agent_queue_depth", "Items waiting in an agent queue.", (_AGENT, "queue"), **kw
        )
        self.breaker_state = Gauge(
            "gen_ai_agent_circuit_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            (_AGENT, "breaker"),
            **kw,
        )
        self.breaker_trips = Counter(
            "gen_ai_agent_circuit_breaker_trips", "Times a circuit breaker opened.", (_AGENT, "breaker"), **kw
        )
        self.cache = Counter(
            "gen_ai_agent_cache_requests",
            "Agent cache lookups by result (hit or miss).",
            (_AGENT, "cache", "result"),
            **kw,
        )


_FAMILIES: PerRegistry[_Families] = PerRegistry()


def _families(registry: CollectorRegistry | None, namespace: str) -> _Families:
    return _FAMILIES.get(registry, namespace, lambda: _Families(registry, namespace))


class _Timed:
    """A context manager and decorator recording one duration and one outcome per use."""

    __slots__ = ("_duration", "_count", "_labels", "_active", "_starts")

    def __init__(self, duration: Histogram, count: Counter, labels: tuple[str, ...], active: Any = None) -> None:
        self._duration, self._count, self._labels, self._active = duration, count, labels, active
        self._starts: list[float] = []

    def _start(self) -> float:
        if self._active is not None:
            self._active.inc()
        return time.perf_counter()

    def _end(self, started: float, exc: BaseException | None, result: Any = None) -> None:
        elapsed = time.perf_counter() - started
        if self._active is not None:
            self._active.dec()
        kind = "" if exc is None else type(exc).__name__
        self._duration.labels(*self._labels, kind).observe(elapsed)
        self._count.labels(*self._labels, "success" if exc is None else "error", kind).inc()

    def __enter__(self) -> _Timed:
        self._starts.append(self._start())
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self._end(self._starts.pop(), exc)

    def __call__(self, fn: F) -> F:
        return measured(fn, self._start, self._end)


class AgentMetrics:
    """Metrics of one agent, labelled ``gen_ai_agent_name=name``.

    Agents sharing a registry and namespace share the metric families, one series per agent.
    """

    def __init__(self, name: str, *, registry: CollectorRegistry | None = REGISTRY, namespace: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"the agent name must be a non-empty str, got {name!r}")
        self.name = name
        self._m = _families(registry, namespace)
        self._breakers: dict[str, int] = {}
        self._breakers_lock = threading.Lock()  # a state change and its trip count are one step

    def task(self) -> _Timed:
        """Time one agent task (an invocation of the agent): ``with agent.task():`` or ``@agent.task()``."""
        m = self._m
        return _Timed(m.task_duration, m.tasks, (self.name,), m.tasks_active.labels(self.name))

    def step(self, step: str) -> _Timed:
        """Time one step of a task (plan, act, reflect, ...)."""
        return _Timed(self._m.step_duration, self._m.steps, (self.name, _name("step", step)))

    def tool(self, tool: str) -> _Timed:
        """Time one tool call."""
        return _Timed(self._m.tool_duration, self._m.tools, (self.name, _name("tool", tool)))

    def set_queue_depth(self, queue: str, depth: int) -> None:
        """Record how many items wait in ``queue``."""
        self._m.queue_depth.labels(self.name, _name("queue", queue)).set(depth)

    def set_breaker_state(self, breaker: str, state: str) -> None:
        """Record a circuit breaker's state (``closed``, ``half_open`` or ``open``); entering
        ``open`` from another state counts a trip."""
        if state not in BREAKER_STATES:
            raise ValueError(f"breaker state must be one of {sorted(BREAKER_STATES)}, got {state!r}")
        value = BREAKER_STATES[state]
        breaker = _name("breaker", breaker)
        with self._breakers_lock:
            tripped = value == BREAKER_STATES["open"] and self._breakers.get(breaker) != value
            self._breakers[breaker] = value
            if tripped:
                self._m.breaker_trips.labels(self.name, breaker).inc()
            self._m.breaker_state.labels(self.name, breaker).set(value)

    def cache_lookup(self, cache: str, hit: bool) -> None:
        """Count one lookup in ``cache``, as a hit or a miss."""
        self._m.cache.labels(self.name, _name("cache", cache), "hit" if hit else "miss").inc()


def _name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"the {what} name must be a non-empty str, got {value!r}")
    return value
