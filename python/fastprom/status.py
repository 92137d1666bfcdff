"""The live status document of an LLM server (``GET /api/v1/metrics``), read from the registry.

:class:`StatusDocument` answers with one JSON-ready ``dict`` computed from one ``collect()`` of
the registry each time: what :mod:`fastprom.gemini`, :mod:`fastprom.agents`,
:mod:`fastprom.infra` and :mod:`fastprom.asgi` already record, with no second bookkeeping. Only
the two rates (``tokens_per_second``, ``data_rate``) need history: the counters they are computed
from are remembered at construction and at each document, and a rate is taken over a window (60 s
by default). See ``docs/status.md`` for each field, its source metric and its unit.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .multiprocess import _merged_registry
from .registry import REGISTRY, CollectorRegistry

__all__ = ["ModelStatus", "StatusDocument"]

_MODEL = "gen_ai_request_model"
_GENERATE = "generate_content"
_OPEN = 2.0  # circuit breaker states: 0 closed, 1 half-open, 2 open
_SNAPSHOTS_PER_WINDOW = 100
"""Snapshots kept per window at most: one is kept only if the newest kept is at least
``window / 100`` older, so that a document served many times a second keeps memory bounded."""


def _round(value: float, digits: int = 3) -> float:
    return round(value, digits) if math.isfinite(value) else 0.0


@dataclass(frozen=True)
class ModelStatus:
    """A model the server is configured with.

    Args:
        name: the model name, as the ``gen_ai_request_model`` label has it (a ``models/`` or other
            path prefix is dropped, as :mod:`fastprom.gemini` does).
        short_name: the name shown as ``model_short_name`` (default: ``name``).
        breaker: the name of the circuit breaker guarding the model: the ``breaker`` label of
            ``gen_ai_agent_circuit_breaker_state`` (:mod:`fastprom.agents`) or the breaker label of
            ``circuit_breaker_state`` (:mod:`fastprom.infra`). While it is open, the model is off.
        health_check: a function of no arguments returning ``True`` when the model is reachable
            and ready. With one, it decides ``llm_status`` (unless the breaker is open); without,
            the age of the model's last success does.
    """

    name: str
    short_name: str | None = None
    breaker: str | None = None
    health_check: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"ModelStatus name must be a non-empty str, got {self.name!r}")
        for field in ("short_name", "breaker"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value):
                raise TypeError(f"ModelStatus {field} must be a non-empty str or None, got {value!r}")
        check = self.health_check
        if check is not None:
            if not callable(check):
                raise TypeError(f"ModelStatus health_check must be callable, got {check!r}")
            if inspect.iscoroutinefunction(check):
                raise TypeError("ModelStatus health_check must be a plain function, not an async one")

    @property
    def label(self) -> str:
        """The ``gen_ai_request_model`` label value of this model."""
        return self.name.rsplit("/", 1)[-1]


class _Snapshot:
    """Per model, the counters the rates are computed from, at one time."""

    __slots__ = ("at", "output", "nbytes", "seconds")

    def __init__(self, at: float) -> None:
        self.at = at
        self.output: dict[str, float] = {}  # output tokens of generate_content
        self.nbytes: dict[str, float] = {}  # response text bytes
        self.seconds: dict[str, float] = {}  # seconds of generate_content calls not failed


class _Read:
    """What one ``collect()`` of the registry says, summed and keyed as the document needs."""

    def __init__(self, at: float) -> None:
        self.snapshot = _Snapshot(at)
        self.last_success: dict[str, float] = {}
        self.duration: dict[str, list[float]] = {}  # model -> [sum, count], every operation and outcome
        self.role_duration: dict[str, list[float]] = {}
        self.usage: dict[str, float] = {}
        self.cost: dict[str, float] = {}
        self.http_requests = 0.0
        self.active_tasks = 0.0
        self.queue = 0.0
        self.tasks: dict[str, list[float]] = {}  # agent -> [successes, all]
        self.breakers: dict[str, float] = {}  # breaker name -> highest state
        self.task_size = [0.0, 0.0]  # [sum, count]


def _add(d: dict[str, float], key: str, value: float) -> None:
    d[key] = d.get(key, 0.0) + value


def _add_pair(d: dict[str, list[float]], key: str, index: int, value: float) -> None:
    pair = d.get(key)
    if pair is None:
        pair = d[key] = [0.0, 0.0]
    pair[index] += value


class StatusDocument:
    """The status document of an LLM server, computed from its registry on each :meth:`document`.

    Args:
        models: the configured models, names or :class:`ModelStatus`; the first is the default,
            whose short name is ``model_short_name``.
        registry: where the metrics are read. ``None``: in multiprocess mode
            (``PROMETHEUS_MULTIPROC_DIR`` set) a registry merging every process's files, so that
            each worker serves the same figures; else the default ``REGISTRY``.
        window: seconds over which ``tokens_per_second`` and ``data_rate`` are computed.
        staleness: seconds after its last success past which a model without health check is off.
        task_routes: the route templates whose request bodies are tasks (``task_sizes``).
        namespace: the namespace of the :mod:`fastprom.gemini`, :mod:`fastprom.agents` and
            :mod:`fastprom.infra` metrics.
        http_namespace: the namespace of the :mod:`fastprom.asgi` metrics.
        clock: the wall clock (``time.time``), replaced in tests.

    Set :attr:`online` to ``False`` to report ``"offline"`` (while draining, say).
    """

    def __init__(
        self,
        models: Sequence[str | ModelStatus],
        *,
        registry: CollectorRegistry | None = None,
        window: float = 60.0,
        staleness: float = 300.0,
        task_routes: Iterable[str] = ("/v1/generate",),
        namespace: str = "",
        http_namespace: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(models, (str, bytes)) or not isinstance(models, Sequence):
            raise TypeError(f"models must be a sequence of model names or ModelStatus, got {models!r}")
        configured = [m if isinstance(m, ModelStatus) else _model(m) for m in models]
        if not configured:
            raise ValueError("models must name at least one model")
        labels = [m.label for m in configured]
        if len(set(labels)) != len(labels):
            raise ValueError(f"models name a model twice: {labels}")
        for name, value in (("window", window), ("staleness", staleness)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == math.inf:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(task_routes, (str, bytes)):
            raise TypeError(f"task_routes must be an iterable of route templates, not a single str: {task_routes!r}")
        routes = frozenset(task_routes)
        if not all(isinstance(r, str) for r in routes):
            raise TypeError(f"task_routes must hold str route templates, got {sorted(map(repr, routes))}")
        for name, prefix in (("namespace", namespace), ("http_namespace", http_namespace)):
            if not isinstance(prefix, str):
                raise TypeError(f"{name} must be a str, got {type(prefix).__name__}")
        if registry is not None and not callable(getattr(registry, "collect", None)):
            raise TypeError(f"registry must be a CollectorRegistry, got {registry!r}")
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {clock!r}")
        self.models: tuple[ModelStatus, ...] = tuple(configured)
        self.registry: CollectorRegistry = registry if registry is not None else (_merged_registry() or REGISTRY)
        self.window = float(window)
        self.staleness = float(staleness)
        self.task_routes = routes
        self.online = True
        """Whether ``server_status`` is ``"online"``."""
        self._clock = clock
        ns = f"{namespace}_" if namespace else ""
        http = f"{http_namespace}_" if http_namespace else ""
        client, agent = f"{ns}gen_ai_client_", f"{ns}gen_ai_agent_"
        self._names = {
            f"{client}last_success_timestamp_seconds": self._last_success,
            f"{client}response_bytes_total": self._bytes,
            f"{client}tokens_total": self._tokens,
            f"{client}operation_duration_seconds_sum": self._duration_sum,
            f"{client}operation_duration_seconds_count": self._duration_count,
            f"{client}role_operation_duration_seconds_sum": self._role_sum,
            f"{client}role_operation_duration_seconds_count": self._role_count,
            f"{client}requests_total": self._usage,
            f"{client}cost_usd_total": self._cost,
            f"{http}http_requests_total": self._http_requests,
            f"{http}http_request_size_bytes_sum": self._size_sum,
            f"{http}http_request_size_bytes_count": self._size_count,
            f"{agent}tasks_active": self._active_tasks,
            f"{agent}queue_depth": self._queue,
            f"{agent}tasks_total": self._tasks,
            f"{agent}circuit_breaker_state": self._agent_breaker,
            f"{ns}circuit_breaker_state": self._infra_breaker,
            f"{http}circuit_breaker_state": self._infra_breaker,
        }
        self._lock = threading.Lock()
        self._snapshots: deque[_Snapshot] = deque([self._read().snapshot])

    # ------------------------------------------------------------------ reading the registry

    def _read(self) -> _Read:
        read = _Read(self._clock())
        names = self._names
        for family in self.registry.collect():
            for s in family.samples:
                handle = names.get(s.name)
                if handle is not None:
                    handle(read, s.labels, s.value)
        return read

    @staticmethod
    def _last_success(read: _Read, labels: dict[str, str], value: float) -> None:
        model = labels.get(_MODEL, "")
        if value > read.last_success.get(model, 0.0):
            read.last_success[model] = value

    @staticmethod
    def _bytes(read: _Read, labels: dict[str, str], value: float) -> None:
        _add(read.snapshot.nbytes, labels.get(_MODEL, ""), value)

    @staticmethod
    def _tokens(read: _Read, labels: dict[str, str], value: float) -> None:
        if labels.get("gen_ai_token_type") == "output" and labels.get("gen_ai_operation_name") == _GENERATE:
            _add(read.snapshot.output, labels.get(_MODEL, ""), value)

    @staticmethod
    def _duration_sum(read: _Read, labels: dict[str, str], value: float) -> None:
        model = labels.get(_MODEL, "")
        _add_pair(read.duration, model, 0, value)
        if labels.get("error_type") == "" and labels.get("gen_ai_operation_name") == _GENERATE:
            _add(read.snapshot.seconds, model, value)

    @staticmethod
    def _duration_count(read: _Read, labels: dict[str, str], value: float) -> None:
        _add_pair(read.duration, labels.get(_MODEL, ""), 1, value)

    @staticmethod
    def _role_sum(read: _Read, labels: dict[str, str], value: float) -> None:
        _add_pair(read.role_duration, labels.get("gen_ai_agent_role", ""), 0, value)

    @staticmethod
    def _role_count(read: _Read, labels: dict[str, str], value: float) -> None:
        _add_pair(read.role_duration, labels.get("gen_ai_agent_role", ""), 1, value)

    @staticmethod
    def _usage(read: _Read, labels: dict[str, str], value: float) -> None:
        _add(read.usage, labels.get(_MODEL, ""), value)

    @staticmethod
    def _cost(read: _Read, labels: dict[str, str], value: float) -> None:
        _add(read.cost, labels.get(_MODEL, ""), value)

    @staticmethod
    def _http_requests(read: _Read, labels: dict[str, str], value: float) -> None:
        read.http_requests += value

    def _size_sum(self, read: _Read, labels: dict[str, str], value: float) -> None:
        if labels.get("route") in self.task_routes:
            read.task_size[0] += value

    def _size_count(self, read: _Read, labels: dict[str, str], value: float) -> None:
        if labels.get("route") in self.task_routes:
            read.task_size[1] += value

    @staticmethod
    def _active_tasks(read: _Read, labels: dict[str, str], value: float) -> None:
        read.active_tasks += value

    @staticmethod
    def _queue(read: _Read, labels: dict[str, str], value: float) -> None:
        read.queue += value

    @staticmethod
    def _tasks(read: _Read, labels: dict[str, str], value: float) -> None:
        agent = labels.get("gen_ai_agent_name", "")
        _add_pair(read.tasks, agent, 1, value)
        if labels.get("outcome") == "success":
            _add_pair(read.tasks, agent, 0, value)

    @staticmethod
    def _agent_breaker(read: _Read, labels: dict[str, str], value: float) -> None:
        name = labels.get("breaker")
        if name is not None and value > read.breakers.get(name, -1.0):
            read.breakers[name] = value

    @staticmethod
    def _infra_breaker(read: _Read, labels: dict[str, str], value: float) -> None:
        # one label, named by fastprom.infra's breaker_label (service, model, ...), and pid in
        # multiprocess mode
        for key, name in labels.items():
            if key != "pid" and value > read.breakers.get(name, -1.0):
                read.breakers[name] = value

    # ------------------------------------------------------------------ the document

    def _base(self, now: float, current: _Snapshot) -> _Snapshot:
        """The snapshot the rates start from: the newest at least ``window`` old, else the oldest;
        older ones are dropped, and ``current`` kept if the newest kept is old enough."""
        with self._lock:
            snapshots = self._snapshots
            cutoff = now - self.window
            while len(snapshots) > 1 and snapshots[1].at <= cutoff:
                snapshots.popleft()
            base = snapshots[0]
            if current.at - snapshots[-1].at >= self.window / _SNAPSHOTS_PER_WINDOW:
                snapshots.append(current)
            return base

    def _status(self, model: ModelStatus, read: _Read, now: float) -> str:
        if model.breaker is not None and read.breakers.get(model.breaker, 0.0) >= _OPEN:
            return "off"
        if model.health_check is not None:
            try:
                return "on" if model.health_check() is True else "off"
            except Exception:
                return "off"
        last = read.last_success.get(model.label)
        return "on" if last is not None and now - last <= self.staleness else "off"

    def document(self) -> dict[str, Any]:
        """The status document now: a ``dict`` of str, numbers, ``None`` and nested dicts, ready
        for ``json.dumps``. Floats are rounded to 3 decimals (costs to 6)."""
        read = self._read()
        now = read.snapshot.at
        current = read.snapshot
        base = self._base(now, current)
        configured = [m.label for m in self.models]
        seen = set(read.usage) | set(read.duration) | set(current.seconds)
        models = configured + sorted(seen.difference(configured))
        tokens_per_second: dict[str, float] = {}
        data_rate: dict[str, float] = {}
        for model in models:
            seconds = current.seconds.get(model, 0.0) - base.seconds.get(model, 0.0)
            if seconds > 0:
                tokens = current.output.get(model, 0.0) - base.output.get(model, 0.0)
                nbytes = current.nbytes.get(model, 0.0) - base.nbytes.get(model, 0.0)
                tokens_per_second[model] = _round(max(tokens, 0.0) / seconds)
                data_rate[model] = _round(max(nbytes, 0.0) / seconds)
            else:
                tokens_per_second[model] = data_rate[model] = 0.0
        size_sum, size_count = read.task_size
        return {
            "server_status": "online" if self.online else "offline",
            "llm_status": {m.label: self._status(m, read, now) for m in self.models},
            "last_heartbeat": {m.label: _iso(read.last_success.get(m.label)) for m in self.models},
            "model_short_name": self.models[0].short_name or self.models[0].label,
            "tokens_per_second": tokens_per_second,
            "data_rate": data_rate,
            "average_response_time": {
                "models": {m: _average(read.duration.get(m)) for m in models},
                "roles": {r: _average(read.role_duration[r]) for r in sorted(read.role_duration)},
            },
            "total_requests": int(read.http_requests),
            "active_tasks": int(read.active_tasks),
            "queue_length": int(read.queue),
            "llm_usage_count": {m: int(read.usage.get(m, 0.0)) for m in models},
            "api_costs": {
                "total": _round(sum(read.cost.values()), 6),
                "models": {m: _round(read.cost.get(m, 0.0), 6) for m in models},
            },
            "success_rate": {
                agent: _round(100.0 * ok / total) if total else 0.0 for agent, (ok, total) in sorted(read.tasks.items())
            },
            "task_sizes": _round(size_sum / size_count) if size_count else 0.0,
        }


def _model(name: Any) -> ModelStatus:
    if not isinstance(name, str):
        raise TypeError(f"models must hold model names (str) or ModelStatus, got {name!r}")
    return ModelStatus(name)


def _average(pair: list[float] | None) -> float:
    if not pair or not pair[1]:
        return 0.0
    return _round(pair[0] / pair[1])


def _iso(timestamp: float | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-01-31T12:00:00.000Z``."""
    if timestamp is None or not math.isfinite(timestamp) or timestamp <= 0:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
