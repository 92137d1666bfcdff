"""Metrics for agent code: tasks, steps, tool calls, graphs and nodes; queues, circuit breakers and
caches; and :func:`track_time` for any histogram or summary.

::

    agent = AgentMetrics("planner")

    @agent.tool("search")
    async def search(query: str) -> list[str]: ...

    with agent.task():
        with agent.step("plan"):
            ...

Tasks, steps, tool calls, graph and node executions are *spans*: each is a context manager and a
decorator of plain and ``async`` functions, generators and async generators (a generator is
measured over its whole iteration, to its last item or its close). Each records its duration
(histogram), a count by ``outcome`` (``success``, ``error``, or ``closed`` for a generator closed
before its end) and ``error_type`` (:func:`fastprom._errors.error_type`: the HTTP status where there
is one, else the exception class name, the vocabulary of :mod:`fastprom.gemini` too), and how many
are in progress; a task also records its number of steps. Exceptions propagate unchanged.

The span being run is a context variable, so that a :mod:`fastprom.gemini`-instrumented call made
anywhere inside a task (across ``await``, ``asyncio`` tasks, threads run with
``contextvars.copy_context().run``) adds its tokens and cost to that task, recorded per task and
agent when the task ends. Names follow the OpenTelemetry GenAI conventions where they exist
(``gen_ai_invoke_agent_duration_seconds``, ``gen_ai_execute_tool_duration_seconds``). Step, tool,
graph, node, queue, breaker and cache names are label values: keep them to a fixed set in code.
A task may run in a session (``agent.task(session_id=...)``, :mod:`fastprom.sessions`: never a
label) and as a role (``role=...``, or ``with role("coder"):``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from time import perf_counter
from typing import Any, TypeVar, overload

from fastprom import sessions
from fastprom._errors import error_type
from fastprom._families import RUNTIME_MAX_SERIES, PerRegistry
from fastprom._scope import Scope, check_decoratable
from fastprom._spans import CURRENT, ROLE, SESSION, Frame, TaskUsage
from fastprom._wrap import measured
from fastprom.metrics import Counter, Gauge, Histogram, Summary
from fastprom.registry import REGISTRY, CollectorRegistry

__all__ = ["AgentMetrics", "BREAKER_STATES", "error_type", "role", "track_time"]

TASK_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
STEP_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
STEPS_PER_TASK_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30)
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, ..., 67108864: as fastprom.gemini
COST_BUCKETS = tuple(1e-6 * 4**i for i in range(14))  # 1 micro-USD ... 67 USD
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
"""Values of ``gen_ai_agent_circuit_breaker_state``."""

F = TypeVar("F", bound=Callable[..., Any])
_AGENT = "gen_ai_agent_name"
_MAX_KEPT_SPANS = 4 * RUNTIME_MAX_SERIES
_SUCCESS, _ERROR, _CLOSED = "success", "error", "closed"


class _Families:
    """The metric families of one registry and namespace, shared by every agent recording there."""

    def __init__(self, registry: CollectorRegistry | None, namespace: str) -> None:
        # Agent, step, tool, graph and node names, error types and breakers come from runtime
        # data: every family is capped (overflow series past RUNTIME_MAX_SERIES).
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry, "max_series": RUNTIME_MAX_SERIES}

        def span(name: str, doc: str, labels: tuple[str, ...], duration: str, buckets: Any) -> tuple[Any, ...]:
            return (
                Histogram(
                    duration, f"Duration of {doc}.", (*labels, "error_type"), unit="seconds", buckets=buckets, **kw
                ),
                Counter(
                    f"gen_ai_agent_{name}", f"{doc.capitalize()} by outcome.", (*labels, "outcome", "error_type"), **kw
                ),
                # livesum: summed over live processes in multiprocess mode.
                Gauge(
                    f"gen_ai_agent_{name}_active",
                    f"{doc.capitalize()} in progress.",
                    labels,
                    multiprocess_mode="livesum",
                    **kw,
                ),
            )

        a = (_AGENT,)
        self.task = span("tasks", "agent tasks", a, "gen_ai_invoke_agent_duration", TASK_BUCKETS)
        self.step = span("steps", "agent steps", (*a, "gen_ai_agent_step"), "gen_ai_agent_step_duration", STEP_BUCKETS)
        self.tool = span(
            "tool_calls", "tool calls", (*a, "gen_ai_tool_name"), "gen_ai_execute_tool_duration", STEP_BUCKETS
        )
        graph = (*a, "gen_ai_agent_graph")
        self.graph = span("graph_executions", "graph executions", graph, "gen_ai_agent_graph_duration", TASK_BUCKETS)
        self.node = span(
            "node_executions",
            "node executions",
            (*graph, "gen_ai_agent_node"),
            "gen_ai_agent_node_duration",
            STEP_BUCKETS,
        )
        self.steps_per_task = Histogram(
            "gen_ai_agent_steps_per_task", "Steps per agent task.", a, buckets=STEPS_PER_TASK_BUCKETS, **kw
        )
        self.task_tokens = Histogram(
            "gen_ai_agent_task_token_usage",
            "LLM tokens per agent task (tasks with at least one instrumented LLM call), input and output.",
            (*a, "gen_ai_token_type"),
            buckets=TOKEN_BUCKETS,
            **kw,
        )
        self.task_cost = Histogram(
            "gen_ai_agent_task_cost_usd",
            "Estimated LLM cost per agent task in USD (tasks with at least one instrumented LLM call).",
            a,
            buckets=COST_BUCKETS,
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


class Span:
    """A task, step, tool call, graph or node execution: a context manager and a decorator.

    One object may be used any number of times, nested, in overlapping blocks, from any thread or
    asyncio task: every entry has its own start time and context token (see
    :class:`fastprom._spans.Frame`), nothing is shared between entries."""

    __slots__ = (
        "_agent",
        "_labels",
        "_duration",
        "_count",
        "_inc",
        "_dec",
        "_is_task",
        "_is_step",
        "_ok",
        "_per_task",
        "_families",
    )

    def __init__(self, agent: AgentMetrics, kind: str, family: tuple[Any, ...], labels: tuple[str, ...]) -> None:
        self._agent = agent.name
        self._families = agent._m
        self._is_task, self._is_step = kind == "task", kind == "step"
        self._labels = labels
        self._duration, self._count = family[0], family[1]
        active = family[2].labels(*labels)
        self._inc, self._dec = active.inc, active.dec
        self._ok: tuple[Callable[[float], None], Callable[[], None]] | None = None
        self._per_task: tuple[Callable[[float], None], ...] | None = None

    # -- one entry: open, close

    def _open(self) -> Frame:
        self._inc()
        if self._is_task:
            task: TaskUsage | None = TaskUsage()
        else:
            parent = CURRENT.get()
            task = None if parent is None else parent.task
            if task is not None and self._is_step:
                task.step()
        return Frame(self, self._agent, task, perf_counter())

    def _close(self, frame: Frame, exc: BaseException | None, result: Any = None) -> None:
        elapsed = perf_counter() - frame.started
        self._dec()
        if exc is None:
            observe, inc = self._ok or self._bind_ok()
            observe(elapsed)
            inc()
        else:
            closed = isinstance(exc, GeneratorExit)
            kind = "" if closed else error_type(exc)
            self._duration.labels(*self._labels, kind).observe(elapsed)
            self._count.labels(*self._labels, _CLOSED if closed else _ERROR, kind).inc()
        if self._is_task and frame.task is not None:
            self._record_task(frame.task)

    def _bind_ok(self) -> tuple[Callable[[float], None], Callable[[], None]]:
        ok = self._ok = (
            self._duration.labels(*self._labels, "").observe,
            self._count.labels(*self._labels, _SUCCESS, "").inc,
        )
        return ok

    def _record_task(self, usage: TaskUsage) -> None:
        with TaskUsage.lock:
            steps, calls, tokens_in, tokens_out, cost = usage.steps, usage.calls, usage.input, usage.output, usage.cost
        m, agent = self._families, self._agent
        per_task = self._per_task
        if per_task is None:
            per_task = self._per_task = (m.steps_per_task.labels(agent).observe,)
        per_task[0](steps)
        if calls:  # bound on the first task with LLM calls: nothing exported before
            if len(per_task) == 1:
                per_task = self._per_task = (
                    *per_task,
                    m.task_tokens.labels(agent, "input").observe,
                    m.task_tokens.labels(agent, "output").observe,
                    m.task_cost.labels(agent).observe,
                )
            per_task[1](tokens_in)
            per_task[2](tokens_out)
            per_task[3](cost)

    def _open_current(self) -> Frame:
        frame = self._open()
        frame.token = CURRENT.set(frame)
        return frame

    def _close_current(self, frame: Frame, exc: BaseException | None, result: Any = None) -> None:
        if frame.token is not None:
            try:
                CURRENT.reset(frame.token)
            except ValueError:  # ended in another context than it started: nothing to restore there
                pass
        self._close(frame, exc)

    # -- context manager

    def __enter__(self) -> Span:
        # _open_current, inlined for the common case (the hot path of ``with``)
        self._inc()
        parent = CURRENT.get()
        if self._is_task:
            frame = Frame(self, self._agent, TaskUsage(), 0.0)
        else:
            task = None if parent is None else parent.task
            if task is not None and self._is_step:
                task.step()
            frame = Frame(self, self._agent, task, 0.0)
        frame.token = CURRENT.set(frame)
        frame.started = perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        elapsed = perf_counter()
        frame = CURRENT.get()
        if frame is None or frame.span is not self:
            raise RuntimeError("a fastprom.agents span was exited out of order (not the innermost open span)")
        CURRENT.reset(frame.token)  # type: ignore[arg-type]
        if exc is None:
            elapsed -= frame.started
            self._dec()
            observe, inc = self._ok or self._bind_ok()
            observe(elapsed)
            inc()
            if self._is_task:
                self._record_task(frame.task)
        else:
            self._close(frame, exc)

    # -- decorator

    def __call__(self, fn: F) -> F:
        import inspect

        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            # a generator runs in its consumer's context between items: it is timed, and its
            # LLM calls count for the task its consumer runs in, but it does not become current
            return measured(fn, self._open, self._close)
        return measured(fn, self._open_current, self._close_current)


class AgentMetrics:
    """Metrics of one agent, labelled ``gen_ai_agent_name=name``.

    Agents sharing a registry and namespace share the metric families, one series per agent.
    """

    def __init__(self, name: str, *, registry: CollectorRegistry | None = REGISTRY, namespace: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"the agent name must be a non-empty str, got {name!r}")
        if not isinstance(namespace, str):
            raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
        self.name = name
        self._m = _families(registry, namespace)
        self._spans: dict[tuple[str, ...], Span] = {}
        self._spans_lock = threading.Lock()
        self._breakers: dict[str, int] = {}
        self._breakers_lock = threading.Lock()  # a state change and its trip count are one step

    def _span(self, kind: str, family: tuple[Any, ...], *names: str) -> Span:
        key = (kind, *names)
        span = self._spans.get(key)
        if span is None:
            with self._spans_lock:
                span = self._spans.get(key)
                if span is None:
                    span = Span(self, kind, family, (self.name, *names))
                    # Step and tool names may be runtime data: past this many the spans are
                    # made per call rather than kept, so memory stays bounded (the series are
                    # capped by the families' max_series).
                    if len(self._spans) < _MAX_KEPT_SPANS:
                        self._spans[key] = span
        return span

    @overload
    def task(self) -> Span: ...

    @overload
    def task(self, *, session_id: str | None = None, role: str | None = None) -> Span | ScopedTask: ...

    def task(self, *, session_id: str | None = None, role: str | None = None) -> Span | ScopedTask:
        """One agent task (an invocation of the agent): ``with agent.task():`` or ``@agent.task()``.

        With ``session_id`` the task runs in that session of :data:`fastprom.sessions.SESSIONS`
        (:func:`fastprom.sessions.session`), with ``role`` as that role (:func:`role`): both are
        entered around the task, checked here."""
        if session_id is None and role is None:
            return self._span("task", self._m.task)
        values: list[tuple[ContextVar[Any], Any]] = []
        before = None
        if session_id is not None:
            binding = sessions.SessionBinding(sessions.SESSIONS, session_id)
            values.append((SESSION, binding))
            before = binding.touch
        if role is not None:
            values.append((ROLE, _name("role", role)))
        return ScopedTask(self._span("task", self._m.task), Scope(tuple(values), before))

    def step(self, step: str) -> Span:
        """One step of a task (plan, act, reflect, ...); counted in its task's number of steps."""
        return self._span("step", self._m.step, _name("step", step))

    def tool(self, tool: str) -> Span:
        """One tool call."""
        return self._span("tool", self._m.tool, _name("tool", tool))

    def graph(self, graph: str) -> Span:
        """One execution of a graph (workflow) of nodes."""
        return self._span("graph", self._m.graph, _name("graph", graph))

    def node(self, node: str, *, graph: str = "") -> Span:
        """One execution of a node of ``graph`` (empty: no graph)."""
        if not isinstance(graph, str):
            raise ValueError(f"the graph name must be a str, got {graph!r}")
        return self._span("node", self._m.node, graph, _name("node", node))

    def set_queue_depth(self, queue: str, depth: int) -> None:
        """Record how many items wait in ``queue``."""
        self._m.queue_depth.labels(self.name, _name("queue", queue)).set(depth)

    def set_breaker_state(self, breaker: str, state: str) -> None:
        """Record a circuit breaker's state (``closed``, ``half_open`` or ``open``); entering
        ``open`` from another state counts a trip. Both arguments are checked on every call."""
        breaker = _name("breaker", breaker)
        if state not in BREAKER_STATES:
            raise ValueError(f"breaker state must be one of {sorted(BREAKER_STATES)}, got {state!r}")
        value = BREAKER_STATES[state]
        with self._breakers_lock:
            tripped = value == BREAKER_STATES["open"] and self._breakers.get(breaker) != value
            self._breakers[breaker] = value
            if tripped:
                self._m.breaker_trips.labels(self.name, breaker).inc()
            self._m.breaker_state.labels(self.name, breaker).set(value)

    def cache_lookup(self, cache: str, hit: bool) -> None:
        """Count one lookup in ``cache``, as a hit or a miss."""
        self._m.cache.labels(self.name, _name("cache", cache), "hit" if hit else "miss").inc()


class ScopedTask:
    """A task run in a session and/or as a role (see :meth:`AgentMetrics.task`): a context
    manager and a decorator of plain and ``async`` functions."""

    __slots__ = ("_span", "_scope")

    def __init__(self, span: Span, scope: Scope) -> None:
        self._span = span
        self._scope = scope

    def __enter__(self) -> Span:
        self._scope.__enter__()
        try:
            return self._span.__enter__()
        except BaseException:
            self._scope.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            self._span.__exit__(exc_type, exc, tb)
        finally:
            self._scope.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        check_decoratable(fn)
        return self._scope(self._span(fn))


def role(name: str) -> Scope:
    """Run a block (``with role("coder"):``) or each call of a decorated plain or ``async``
    function as the role ``name`` (a non-empty str): :mod:`fastprom.gemini` records the duration
    of the calls made inside per role. Nested roles: the innermost one counts."""
    name = _name("role", name)
    return Scope(((ROLE, name),), None, name)


def _name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"the {what} name must be a non-empty str, got {value!r}")
    return value


class TrackTime:
    """Times a block or each call of a function into one histogram or summary (see :func:`track_time`)."""

    __slots__ = ("_observe", "_entries")

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        # each entry keeps its own start in the context, under its own token: overlapping
        # entries from threads or asyncio tasks never see each other's
        self._entries: ContextVar[list[Any]] = ContextVar("fastprom_track_time")

    def _end(self, started: float, exc: BaseException | None, result: Any) -> None:
        self._observe(perf_counter() - started)

    def __enter__(self) -> TrackTime:
        entry: list[Any] = [perf_counter(), None]
        entry[1] = self._entries.set(entry)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        elapsed_end = perf_counter()
        entry = self._entries.get()
        self._entries.reset(entry[1])
        self._observe(elapsed_end - entry[0])

    def __call__(self, fn: F) -> F:
        return measured(fn, perf_counter, self._end)


def track_time(
    metric: Histogram | Summary, labels: Mapping[str, str] | tuple[str, ...] | list[str] | None = None
) -> TrackTime:
    """Time a block (``with track_time(h, {"endpoint": "/chat"}):``) or each call of a plain or
    ``async`` function, generator or async generator (``@track_time(h, ("chat",))``) into ``metric``,
    a Histogram or Summary, with these label values (a mapping by name, or values in order; ``None``
    for a metric without labels). Exceptions propagate; the time until they are raised is recorded."""
    if not isinstance(metric, (Histogram, Summary)):
        raise TypeError(f"track_time needs a Histogram or Summary, got {type(metric).__name__}")
    if labels is None:
        child: Any = metric
    elif isinstance(labels, Mapping):
        child = metric.labels(**labels)
    elif isinstance(labels, (tuple, list)):
        child = metric.labels(*labels)
    else:
        raise TypeError(f"labels must be a mapping, a tuple of values or None, got {type(labels).__name__}")
    return TrackTime(child.observe)
