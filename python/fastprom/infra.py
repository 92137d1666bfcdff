"""Metrics for the infrastructure around LLM services and agents.

::

    svc = ServiceMetrics(namespace="myapp")
    svc.set_breaker_state("gemini", "open")
    svc.cache_hit("responses")
    with svc.db_operation("select", "users"):
        ...

One :class:`ServiceMetrics` holds the families of a namespace: chat sessions and streams, caches,
circuit breakers, rate limiters, priority queues, model loading, memory operations, database
operations, connection pools and the application's info. Methods validate their arguments and
raise ``TypeError`` or ``ValueError`` naming the bad one, recording nothing. Every label value
(cache, service, priority, table, ...) must come from a fixed set in code, never from user input:
session ids and user ids are unbounded and never labels.

Gauges of things in progress (queue size, active workers, pool connections) use
``multiprocess_mode="livesum"``: summed over the live processes in multiprocess mode.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastprom._families import RUNTIME_MAX_SERIES, PerRegistry
from fastprom._wrap import measured
from fastprom.metrics import Counter, Gauge, Histogram, Info
from fastprom.registry import REGISTRY, CollectorRegistry

__all__ = [
    "BREAKER_STATES",
    "ServiceMetrics",
    "Stream",
    "breaker_state_value",
]

F = TypeVar("F", bound=Callable[..., Any])

SESSION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
TTFB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MODEL_LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DB_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}
"""Values of ``circuit_breaker_state``: 0 closed, 1 half-open, 2 open."""


def breaker_state_value(state: str) -> int:
    """The gauge value of a breaker state name (``closed``, ``half-open`` or ``open``).

    ``half_open`` is accepted for ``half-open``. Anything else is a ``ValueError`` naming it.
    """
    if not isinstance(state, str):
        raise TypeError(f"circuit breaker state must be a str, not {type(state).__name__}")
    value = BREAKER_STATES.get(state.replace("_", "-"))
    if value is None:
        raise ValueError(f"circuit breaker state must be one of closed, half-open, open; got {state!r}")
    return value


def _label(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _seconds(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not value >= 0:  # NaN too
        raise ValueError(f"{what} must be >= 0 seconds, got {value!r}")
    return float(value)


def _count(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


class _Families:
    def __init__(self, registry: CollectorRegistry | None, namespace: str, breaker_label: str) -> None:
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry}
        live: dict[str, Any] = {**kw, "multiprocess_mode": "livesum"}
        # Breakers, rate limiters and model loads may be labelled by model names, runtime data: capped.
        capped: dict[str, Any] = {**kw, "max_series": RUNTIME_MAX_SERIES}
        self.chat_sessions = Counter("chat_sessions", "Chat sessions started.", **kw)
        self.chat_duration = Histogram(
            "chat_session_duration_seconds", "Duration of chat sessions.", buckets=SESSION_BUCKETS, **kw
        )
        self.chunks = Counter("stream_chunks_sent", "Stream chunks sent to clients.", **kw)
        self.ttfb = Histogram(
            "stream_ttfb_seconds", "Time from a stream's start to its first chunk.", buckets=TTFB_BUCKETS, **kw
        )
        self.cache = Counter("cache_operations", "Cache lookups by result (hit, miss).", ("cache", "result"), **kw)
        b = breaker_label
        self.breaker_state = Gauge(
            "circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", (b,), **capped
        )
        self.breaker_changes = Counter(
            "circuit_breaker_state_changes", "Circuit breaker state changes.", (b, "from_state", "to_state"), **capped
        )
        self.breaker_failures = Counter("circuit_breaker_failures", "Breaker failures.", (b,), **capped)
        self.rate_wait = Histogram(
            "rate_limit_wait_seconds", "Time spent waiting for a rate limiter.", (b,), buckets=WAIT_BUCKETS, **capped
        )
        self.queue_size = Gauge("queue_size", "Requests waiting in the queue.", ("priority",), **live)
        self.queue_wait = Histogram(
            "queue_wait_time_seconds",
            "Time requests waited in the queue.",
            ("priority",),
            buckets=QUEUE_WAIT_BUCKETS,
            **kw,
        )
        self.queue_requests = Counter("queue_requests", "Requests put in the queue.", ("priority",), **kw)
        self.queue_rejected = Counter(
            "queue_requests_rejected", "Requests rejected by a full queue.", ("priority",), **kw
        )
        self.queue_workers = Gauge("queue_active_workers", "Workers busy with a request.", ("priority",), **live)
        self.model_load = Histogram(
            "model_load_duration_seconds", "Time to load a model.", ("model",), buckets=MODEL_LOAD_BUCKETS, **capped
        )
        self.memory_ops = Counter("memory_operations", "Memory operations by type.", ("operation_type",), **kw)
        self.db = Histogram(
            "db_operation_duration_seconds",
            "Duration of database operations.",
            ("operation", "table"),
            buckets=DB_BUCKETS,
            **kw,
        )
        self.pool_in_use = Gauge("connection_pool_in_use", "Pool connections in use.", ("pool",), **live)
        self.pool_size = Gauge("connection_pool_size", "Pool connections open.", ("pool",), **live)
        self.app = Info("app", "The application.", **kw)
        self.lock = threading.Lock()
        self.breakers: dict[str, str] = {}


_FAMILIES: PerRegistry[_Families] = PerRegistry()


class _Session:
    """One chat session: counted when it starts, its duration observed when it ends."""

    __slots__ = ("_f",)

    def __init__(self, f: _Families) -> None:
        self._f = f

    def _start(self) -> float:
        self._f.chat_sessions.inc()
        return time.perf_counter()

    def _end(self, started: float, exc: BaseException | None, result: Any) -> None:
        self._f.chat_duration.observe(time.perf_counter() - started)

    def __call__(self, fn: F) -> F:
        return measured(fn, self._start, self._end)


class Stream:
    """One stream being sent: :meth:`chunk` per chunk; the first one observes the time to first byte."""

    __slots__ = ("_f", "_started", "chunks")

    def __init__(self, f: _Families) -> None:
        self._f, self._started, self.chunks = f, time.perf_counter(), 0

    def chunk(self, n: int = 1) -> None:
        """Count ``n`` chunks sent (the first call also records the time to first byte)."""
        _count("n", n)
        if self.chunks == 0 and n:
            self._f.ttfb.observe(time.perf_counter() - self._started)
        self.chunks += n
        self._f.chunks.inc(n)


class ServiceMetrics:
    """The infrastructure families of one namespace in one registry.

    Args:
        namespace: prefix of every metric name (``"tinyllm"`` gives ``tinyllm_queue_size``).
        registry: where the families are registered; several instances with the same registry,
            namespace and ``breaker_label`` share them.
        breaker_label: the label naming a circuit breaker and a rate limiter (``service``, or
            ``model`` when there is one per model).
    """

    def __init__(
        self,
        *,
        namespace: str = "",
        registry: CollectorRegistry | None = REGISTRY,
        breaker_label: str = "service",
    ) -> None:
        _label("breaker_label", breaker_label)
        self._f = _FAMILIES.get(
            registry, (namespace, breaker_label), lambda: _Families(registry, namespace, breaker_label)
        )
        self.db_operation_duration: Histogram = self._f.db
        """The database histogram itself, for helpers taking a histogram (``track_time``)."""

    # chat and streams
    @contextmanager
    def chat_session(self) -> Iterator[None]:
        """A chat session, as a ``with`` block: counted at its start, its duration observed at its end."""
        session = _Session(self._f)
        started = session._start()
        try:
            yield
        finally:
            session._end(started, None, None)

    def track_chat_session(self, fn: F) -> F:
        """Decorator: each call (or iteration, for generators) of ``fn`` is one chat session."""
        return _Session(self._f)(fn)

    def stream(self) -> Stream:
        """A stream starting now; call ``.chunk()`` for each chunk sent."""
        return Stream(self._f)

    # caches
    def cache_hit(self, cache: str) -> None:
        """Count a hit in ``cache``."""
        self._f.cache.labels(_label("cache", cache), "hit").inc()

    def cache_miss(self, cache: str) -> None:
        """Count a miss in ``cache``."""
        self._f.cache.labels(_label("cache", cache), "miss").inc()

    # circuit breakers and rate limiters
    def set_breaker_state(self, breaker: str, state: str) -> None:
        """Set a breaker's state (``closed``, ``half-open``, ``open``); a change of state is counted
        by from and to state (a breaker never seen before starts closed)."""
        _label("breaker", breaker)
        value = breaker_state_value(state)
        name = state.replace("_", "-")
        f = self._f
        with f.lock:
            previous = f.breakers.get(breaker, "closed")
            f.breakers[breaker] = name
            f.breaker_state.labels(breaker).set(value)
            if previous != name:
                f.breaker_changes.labels(breaker, previous, name).inc()

    def breaker_state(self, breaker: str) -> str:
        """The last state set for ``breaker`` (``closed`` if none)."""
        return self._f.breakers.get(_label("breaker", breaker), "closed")

    def breaker_failure(self, breaker: str) -> None:
        """Count a failure seen by ``breaker``."""
        self._f.breaker_failures.labels(_label("breaker", breaker)).inc()

    def rate_limit_wait(self, limiter: str, seconds: float) -> None:
        """Record ``seconds`` spent waiting for the rate limiter ``limiter``."""
        self._f.rate_wait.labels(_label("limiter", limiter)).observe(_seconds("seconds", seconds))

    # queues
    def queue_size(self, priority: str, size: int) -> None:
        """Set the number of requests waiting at ``priority``."""
        self._f.queue_size.labels(_label("priority", priority)).set(_count("size", size))

    def queue_request(self, priority: str) -> None:
        """Count a request put in the queue at ``priority``."""
        self._f.queue_requests.labels(_label("priority", priority)).inc()

    def queue_rejected(self, priority: str) -> None:
        """Count a request at ``priority`` rejected by a full queue."""
        self._f.queue_rejected.labels(_label("priority", priority)).inc()

    def queue_wait(self, priority: str, seconds: float) -> None:
        """Record ``seconds`` a request at ``priority`` waited before a worker took it."""
        self._f.queue_wait.labels(_label("priority", priority)).observe(_seconds("seconds", seconds))

    def queue_worker(self, priority: str) -> Any:
        """A busy worker at ``priority``: a context manager and decorator of the work."""
        return self._f.queue_workers.labels(_label("priority", priority)).track_inprogress()

    # models, memory, databases, pools
    def model_load(self, model: str) -> Any:
        """Time loading ``model``: a context manager and decorator."""
        return self._f.model_load.labels(_label("model", model)).time()

    def memory_operation(self, operation_type: str, n: int = 1) -> None:
        """Count ``n`` memory operations of ``operation_type`` (``store``, ``retrieve``, ...)."""
        self._f.memory_ops.labels(_label("operation_type", operation_type)).inc(_count("n", n))

    def db_operation(self, operation: str, table: str) -> Any:
        """Time a database operation on ``table``: a context manager and decorator."""
        return self._f.db.labels(_label("operation", operation), _label("table", table)).time()

    def connection_pool(self, pool: str, in_use: int, size: int) -> None:
        """Set how many of ``pool``'s ``size`` connections are in use."""
        _label("pool", pool)
        _count("in_use", in_use)
        _count("size", size)
        if in_use > size:
            raise ValueError(f"in_use ({in_use}) must not exceed size ({size})")
        self._f.pool_in_use.labels(pool).set(in_use)
        self._f.pool_size.labels(pool).set(size)

    def app_info(self, **labels: str) -> None:
        """Set the application's info (``version=``, ``name=``, ...)."""
        for key, value in labels.items():
            _label(key, value)
        self._f.app.info(labels)
