"""Per-session LLM metrics: what every request of a session added up to, as JSON.

A session id is unbounded runtime data, so it is never a Prometheus label: sessions live in a
:class:`SessionStore`, bounded by a number of sessions and an idle time-to-live, read as dicts
(the keys of seed 002) by the routes of :mod:`fastprom.views` or any code. Fed three ways:

* :mod:`fastprom.gemini`, for every call made inside ``with session("abc-123"):`` (a context
  variable: it follows ``await``, asyncio tasks and threads run with ``copy_context().run``);
* the event API for any other LLM client: ``req = store.started(sid)``, then
  ``store.completed(req, usage={...})`` or ``store.failed(req, error=exc)``;
* the agent layer: ``with agent.task(session_id="abc-123"):``.

One store per process (``SESSIONS`` by default): in multiprocess mode each worker has its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

from fastprom._scope import Scope
from fastprom._spans import SESSION

__all__ = [
    "MAX_SESSION_ID_LENGTH",
    "SESSIONS",
    "LLMRequest",
    "SessionBinding",
    "SessionStore",
    "check_session_id",
    "parse_usage",
    "session",
]

MAX_SESSION_ID_LENGTH = 256
"""The longest session id accepted, in characters."""


def check_session_id(value: object) -> str:
    """``value`` if it is a session id (a str of 1 to 256 characters); else TypeError (not a
    str) or ValueError (empty or too long) naming the problem."""
    if not isinstance(value, str):
        raise TypeError(f"a session id must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError("a session id must not be empty")
    if len(value) > MAX_SESSION_ID_LENGTH:
        raise ValueError(f"a session id must be at most {MAX_SESSION_ID_LENGTH} characters, got {len(value)}")
    return value


class _Totals:
    """The sums of a set of requests (one session's, or all of a store's)."""

    __slots__ = ("requests", "successful", "failed", "duration_ms", "prompt", "completion", "tokens", "tools", "last")

    def __init__(self, last: float = 0.0) -> None:
        self.requests = self.successful = self.failed = 0
        self.duration_ms = 0.0
        self.prompt = self.completion = self.tokens = self.tools = 0
        self.last = last  # the store clock's reading at the last activity

    def add(self, ok: bool, duration_ms: float, prompt: int, completion: int, total: int, tools: bool) -> None:
        self.requests += 1
        if ok:
            self.successful += 1
        else:
            self.failed += 1
        self.duration_ms += duration_ms
        self.prompt += prompt
        self.completion += completion
        self.tokens += total
        if tools:
            self.tools += 1

    def into(self, out: dict[str, Any]) -> dict[str, Any]:
        n = self.requests
        out["total_requests"] = n
        out["successful_requests"] = self.successful
        out["failed_requests"] = self.failed
        out["total_duration_ms"] = self.duration_ms
        out["average_duration_ms"] = round(self.duration_ms / n, 2) if n else 0.0
        out["total_prompt_tokens"] = self.prompt
        out["total_completion_tokens"] = self.completion
        out["total_tokens"] = self.tokens
        out["average_tokens_per_request"] = round(self.tokens / n, 2) if n else 0.0
        out["requests_with_tools"] = self.tools
        return out


class LLMRequest:
    """One LLM request of a session, from :meth:`SessionStore.started` to its end
    (:meth:`SessionStore.completed` or :meth:`SessionStore.failed`, once)."""

    __slots__ = ("session_id", "model", "started", "ended")

    def __init__(self, session_id: str, model: str | None, started: float) -> None:
        self.session_id = session_id
        self.model = model
        self.started = started  # time.perf_counter()
        self.ended = False

    def __repr__(self) -> str:
        state = "ended" if self.ended else "open"
        return f"LLMRequest(session_id={self.session_id!r}, model={self.model!r}, {state})"


class SessionStore:
    """Per-session aggregates, at most ``max_sessions`` of them, each dropped once idle (no
    request started or ended, not entered by :func:`session`) longer than ``ttl`` seconds.

    Eviction runs on every store operation, under the store's lock: sessions idle past ``ttl``
    from the least recently active; then, if a new session makes one too many, the least recently
    active one. ``overall()`` keeps counting the requests of evicted sessions. Thread-safe (one
    lock, held for a few dict operations, never across an ``await``); ``clock`` (default
    ``time.monotonic``) measures idleness, ``time.perf_counter`` request durations.
    """

    def __init__(
        self, max_sessions: int = 10_000, ttl: float = 3600.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not isinstance(max_sessions, int) or isinstance(max_sessions, bool):
            raise TypeError(f"max_sessions must be an int, got {type(max_sessions).__name__}")
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool):
            raise TypeError(f"ttl must be a number of seconds, got {type(ttl).__name__}")
        if not ttl > 0 or math.isnan(ttl):
            raise ValueError(f"ttl must be a positive number of seconds (inf: never), got {ttl}")
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {type(clock).__name__}")
        self.max_sessions = max_sessions
        self.ttl = float(ttl)
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Totals] = OrderedDict()  # least recently active first
        self._overall = _Totals()
        self._evicted = 0

    # -- under the lock

    def _expire(self, now: float) -> None:
        sessions, oldest = self._sessions, now - self.ttl
        while sessions:
            first = next(iter(sessions.values()))
            if first.last >= oldest:
                break
            sessions.popitem(last=False)
            self._evicted += 1

    def _touch(self, session_id: str) -> _Totals:
        now = self._clock()
        self._expire(now)
        sessions = self._sessions
        totals = sessions.get(session_id)
        if totals is None:
            totals = sessions[session_id] = _Totals(now)
            if len(sessions) > self.max_sessions:
                sessions.popitem(last=False)
                self._evicted += 1
        else:
            totals.last = now
            sessions.move_to_end(session_id)
        return totals

    def _record(
        self, session_id: str, ok: bool, duration_ms: float, prompt: int, completion: int, total: int, tools: bool
    ) -> None:
        with self._lock:
            self._touch(session_id).add(ok, duration_ms, prompt, completion, total, tools)
            self._overall.add(ok, duration_ms, prompt, completion, total, tools)

    # -- reading

    def touch(self, session_id: str) -> None:
        """Mark ``session_id`` active now (created with zeros if new)."""
        session_id = check_session_id(session_id)
        with self._lock:
            self._touch(session_id)

    def get(self, session_id: str) -> dict[str, Any] | None:
        """The metrics of ``session_id`` (seed 002's keys, in order), or None if it is not kept.
        Reading is not activity: it does not keep a session alive."""
        session_id = check_session_id(session_id)
        with self._lock:
            self._expire(self._clock())
            totals = self._sessions.get(session_id)
            return None if totals is None else totals.into({"session_id": session_id})

    def sessions(self) -> list[dict[str, Any]]:
        """The metrics of every kept session, the most recently active first."""
        with self._lock:
            self._expire(self._clock())
            return [totals.into({"session_id": sid}) for sid, totals in reversed(self._sessions.items())]

    def overall(self) -> dict[str, Any]:
        """The same aggregates over every request this store recorded (evicted sessions
        included), plus ``active_sessions`` (kept now) and ``evicted_sessions`` (dropped so far)."""
        with self._lock:
            self._expire(self._clock())
            out = self._overall.into({})
            out["active_sessions"] = len(self._sessions)
            out["evicted_sessions"] = self._evicted
            return out

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._sessions)

    def clear(self) -> None:
        """Forget every session and the overall figures."""
        with self._lock:
            self._sessions.clear()
            self._overall = _Totals()
            self._evicted = 0

    # -- the event API

    def started(self, session_id: str, *, model: str | None = None) -> LLMRequest:
        """An LLM request of ``session_id`` starts now: the session shows (with zeros if new),
        the request counts when it ends. Returns the handle to end it with."""
        session_id = check_session_id(session_id)
        if model is not None and not isinstance(model, str):
            raise TypeError(f"model must be a str or None, got {type(model).__name__}")
        with self._lock:
            self._touch(session_id)
        return LLMRequest(session_id, model, perf_counter())

    def completed(
        self,
        request: LLMRequest,
        *,
        usage: Mapping[str, Any] | None = None,
        tools: bool = False,
        duration_ms: float | None = None,
    ) -> None:
        """``request`` succeeded, with this token ``usage`` (see :func:`parse_usage`), having
        called tools or not; ``duration_ms`` overrides the time measured since it started."""
        if not isinstance(tools, bool):
            raise TypeError(f"tools must be a bool, got {type(tools).__name__}")
        self._end(request, True, usage, tools, duration_ms)

    def failed(
        self,
        request: LLMRequest,
        *,
        error: BaseException | str | None = None,
        usage: Mapping[str, Any] | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """``request`` failed (``error``, for the caller's logs, is not kept); tokens a failed
        request was billed for may be given as ``usage``."""
        if error is not None and not isinstance(error, (BaseException, str)):
            raise TypeError(f"error must be an exception, a str or None, got {type(error).__name__}")
        self._end(request, False, usage, False, duration_ms)

    def _end(
        self, request: LLMRequest, ok: bool, usage: Mapping[str, Any] | None, tools: bool, duration_ms: float | None
    ) -> None:
        ended = perf_counter()
        if not isinstance(request, LLMRequest):
            raise TypeError(f"request must be the LLMRequest returned by started(), got {type(request).__name__}")
        prompt, completion, total = parse_usage(usage)
        if duration_ms is None:
            duration_ms = (ended - request.started) * 1000.0
        else:
            duration_ms = _duration(duration_ms)
        with self._lock:  # checked and marked under the lock: two threads cannot both end it
            if request.ended:
                raise ValueError(f"{request!r} already ended")
            request.ended = True
            self._touch(request.session_id).add(ok, duration_ms, prompt, completion, total, tools)
            self._overall.add(ok, duration_ms, prompt, completion, total, tools)


_PROMPT = ("prompt_tokens", "input_tokens")
_COMPLETION = ("completion_tokens", "output_tokens")


def parse_usage(usage: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """``(prompt, completion, total)`` tokens of an event's usage mapping: any of
    ``prompt_tokens`` or ``input_tokens``, ``completion_tokens`` or ``output_tokens``,
    ``total_tokens`` (default prompt + completion); other keys are ignored. ``None``: no usage
    (zeros). Values must be non-negative ints (not bool): else TypeError or ValueError naming the
    key; a mapping with none of these keys is a ValueError, not a mapping a TypeError."""
    if usage is None:
        return 0, 0, 0
    if not isinstance(usage, Mapping):
        raise TypeError(f"usage must be a mapping of token counts, got {type(usage).__name__}")
    prompt = _count(usage, _PROMPT)
    completion = _count(usage, _COMPLETION)
    total = _count(usage, ("total_tokens",))
    if prompt is None and completion is None and total is None:
        raise ValueError(
            "usage has none of the keys prompt_tokens, input_tokens, completion_tokens, output_tokens, "
            f"total_tokens (got {sorted(map(str, usage))})"
        )
    prompt, completion = prompt or 0, completion or 0
    return prompt, completion, prompt + completion if total is None else total


def _count(usage: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    found: int | None = None
    for key in keys:
        if key not in usage:
            continue
        value = usage[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"usage[{key!r}] must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"usage[{key!r}] must not be negative, got {value}")
        if found is not None and value != found:
            raise ValueError(f"usage[{keys[0]!r}] and usage[{key!r}] disagree ({found} and {value})")
        found = value
    return found


def _duration(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"duration_ms must be a number, got {type(value).__name__}")
    if not 0 <= value < math.inf:
        raise ValueError(f"duration_ms must be a finite, non-negative number, got {value}")
    return float(value)


class SessionBinding:
    """What :data:`fastprom._spans.SESSION` holds inside :func:`session`: a store and a session
    id. :mod:`fastprom.gemini` calls :meth:`record` once per finished call."""

    __slots__ = ("store", "session_id")

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.session_id = check_session_id(session_id)

    def touch(self) -> None:
        self.store.touch(self.session_id)

    def record(
        self,
        model: str,
        duration_s: float,
        ok: bool,
        prompt_tokens: int,
        completion_tokens: int,
        total_tokens: int,
        tools: bool,
    ) -> None:
        """Add one finished LLM call of ``model`` to the session."""
        self.store._record(
            self.session_id, ok, duration_s * 1000.0, prompt_tokens, completion_tokens, total_tokens, tools
        )

    def __repr__(self) -> str:
        return f"SessionBinding(session_id={self.session_id!r})"


SESSIONS = SessionStore()
"""The default store (10 000 sessions, one hour idle), this process's."""


def session(session_id: str, *, store: SessionStore | None = None) -> Scope:
    """Run a block (``with session("abc-123") as binding:``) or each call of a decorated plain or
    ``async`` function in a session of ``store`` (default :data:`SESSIONS`): the session shows
    at once (with zeros if new) and every instrumented LLM call inside is added to it. Nested
    sessions: the innermost one counts. The id is checked here (:func:`check_session_id`)."""
    if store is None:
        store = SESSIONS
    elif not isinstance(store, SessionStore):
        raise TypeError(f"store must be a SessionStore or None, got {type(store).__name__}")
    binding = SessionBinding(store, session_id)
    return Scope(((SESSION, binding),), binding.touch, binding)
