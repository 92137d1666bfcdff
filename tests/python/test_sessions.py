"""fastprom.sessions: the per-session store (seed 002), its event API, the session() and role()
scopes, and tasks run in a session."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from fastprom import agents, sessions
from fastprom._spans import ROLE, SESSION
from fastprom.agents import AgentMetrics, role
from fastprom.registry import CollectorRegistry
from fastprom.sessions import MAX_SESSION_ID_LENGTH, LLMRequest, SessionStore, check_session_id, session

KEYS = [
    "session_id",
    "total_requests",
    "successful_requests",
    "failed_requests",
    "total_duration_ms",
    "average_duration_ms",
    "total_prompt_tokens",
    "total_completion_tokens",
    "total_tokens",
    "average_tokens_per_request",
    "requests_with_tools",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> SessionStore:
    """A fresh store, also made the default one (what session() and agent.task(session_id=) use)."""
    fresh = SessionStore()
    monkeypatch.setattr(sessions, "SESSIONS", fresh)
    return fresh


def snapshot(store: SessionStore) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return store.sessions(), store.overall()


def empty(session_id: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "total_requests": 0,
        "successful_requests": 0,
        "failed_requests": 0,
        "total_duration_ms": 0.0,
        "average_duration_ms": 0.0,
        "total_prompt_tokens": 0,
        "total_completion_tokens": 0,
        "total_tokens": 0,
        "average_tokens_per_request": 0.0,
        "requests_with_tools": 0,
    }


# -- session ids


def test_check_session_id() -> None:
    assert check_session_id("abc-123") == "abc-123"
    assert check_session_id("é" * MAX_SESSION_ID_LENGTH) == "é" * 256
    with pytest.raises(ValueError, match="at most 256 characters, got 257"):
        check_session_id("x" * 257)
    with pytest.raises(ValueError, match="must not be empty"):
        check_session_id("")
    for bad in (123, b"abc", None, ["a"]):
        with pytest.raises(TypeError, match=f"must be a str, got {type(bad).__name__}"):
            check_session_id(bad)


def test_bad_session_ids_are_recorded_nowhere(store: SessionStore) -> None:
    for bad in ("", "x" * 257, 5, None):
        with pytest.raises((TypeError, ValueError)):
            store.started(bad)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError)):
            session(bad)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError)):
            store.touch(bad)  # type: ignore[arg-type]
        with pytest.raises((TypeError, ValueError)):
            store.get(bad)  # type: ignore[arg-type]
        if bad is not None:  # None: no session
            with pytest.raises((TypeError, ValueError)):
                AgentMetrics("a", registry=CollectorRegistry()).task(session_id=bad)  # type: ignore[arg-type]
    assert len(store) == 0
    assert store.overall()["total_requests"] == 0


# -- the JSON: keys, order, rounding


def test_keys_order_and_rounding(store: SessionStore) -> None:
    for duration, usage, ok, tools in (
        (1.234, {"prompt_tokens": 1, "completion_tokens": 0}, True, True),
        (2.0, {"input_tokens": 0, "output_tokens": 1}, True, False),
        (3.0, None, False, False),
    ):
        req = store.started("s1", model="gemini-2.5-flash")
        if ok:
            store.completed(req, usage=usage, tools=tools, duration_ms=duration)
        else:
            store.failed(req, error=RuntimeError("boom"), duration_ms=duration)
    got = store.get("s1")
    assert got is not None
    assert list(got) == KEYS
    assert got == {
        "session_id": "s1",
        "total_requests": 3,
        "successful_requests": 2,
        "failed_requests": 1,
        "total_duration_ms": 1.234 + 2.0 + 3.0,  # not rounded
        "average_duration_ms": 2.08,  # 6.234 / 3 = 2.078
        "total_prompt_tokens": 1,
        "total_completion_tokens": 1,
        "total_tokens": 2,
        "average_tokens_per_request": 0.67,  # 2 / 3
        "requests_with_tools": 1,
    }
    assert json.loads(json.dumps(got)) == got
    overall = store.overall()
    assert list(overall) == [*KEYS[1:], "active_sessions", "evicted_sessions"]
    assert {k: overall[k] for k in KEYS[1:]} == {k: got[k] for k in KEYS[1:]}
    assert (overall["active_sessions"], overall["evicted_sessions"]) == (1, 0)


def test_a_session_shows_when_it_starts_and_counts_requests_when_they_end(store: SessionStore) -> None:
    req = store.started("s1")
    assert store.get("s1") == empty("s1")  # started, not finished: not counted yet
    assert store.get("other") is None
    store.completed(req, usage={"total_tokens": 7})
    got = store.get("s1")
    assert got is not None
    assert (got["total_requests"], got["successful_requests"], got["total_tokens"]) == (1, 1, 7)
    assert (got["total_prompt_tokens"], got["total_completion_tokens"]) == (0, 0)
    with session("s2"):
        assert store.get("s2") == empty("s2")
    o = store.overall()
    assert (o["total_requests"], o["average_duration_ms"] >= 0, o["active_sessions"]) == (1, True, 2)


def test_measured_duration(store: SessionStore) -> None:
    req = store.started("s1")
    time.sleep(0.02)
    store.completed(req)
    got = store.get("s1")
    assert got is not None
    assert 20.0 <= got["total_duration_ms"] < 2000.0
    assert got["average_duration_ms"] == round(got["total_duration_ms"], 2)


def test_usage_keys() -> None:
    parse = sessions.parse_usage
    assert parse(None) == (0, 0, 0)
    assert parse({"prompt_tokens": 3, "completion_tokens": 4}) == (3, 4, 7)
    assert parse({"input_tokens": 3, "output_tokens": 4, "total_tokens": 9, "model": "x"}) == (3, 4, 9)
    assert parse({"prompt_tokens": 3, "input_tokens": 3}) == (3, 0, 3)  # both spellings, agreeing
    assert parse({"output_tokens": 2}) == (0, 2, 2)


MALFORMED: list[tuple[Any, type[Exception], str]] = [
    ("prompt_tokens=1", TypeError, "usage must be a mapping"),
    ([("prompt_tokens", 1)], TypeError, "usage must be a mapping"),
    ({}, ValueError, "none of the keys"),
    ({"tokens": 5}, ValueError, "none of the keys"),
    ({"prompt_tokens": 1.0}, TypeError, r"usage\['prompt_tokens'\] must be an int, got float"),
    ({"input_tokens": True}, TypeError, r"usage\['input_tokens'\] must be an int, got bool"),
    ({"output_tokens": None}, TypeError, r"usage\['output_tokens'\] must be an int, got NoneType"),
    ({"total_tokens": "3"}, TypeError, r"usage\['total_tokens'\] must be an int, got str"),
    ({"prompt_tokens": 1, "completion_tokens": -1}, ValueError, r"usage\['completion_tokens'\] must not be negative"),
    ({"prompt_tokens": 1, "input_tokens": 2}, ValueError, "disagree"),
]


@pytest.mark.parametrize(("usage", "exc", "match"), MALFORMED)
def test_malformed_usage_changes_nothing(store: SessionStore, usage: Any, exc: type[Exception], match: str) -> None:
    done = store.started("s1")
    store.completed(done, usage={"prompt_tokens": 2, "completion_tokens": 3}, tools=True, duration_ms=5.0)
    req = store.started("s1")
    before = snapshot(store)
    with pytest.raises(exc, match=match):
        store.completed(req, usage=usage)
    with pytest.raises(exc, match=match):
        store.failed(req, usage=usage)
    assert snapshot(store) == before
    store.failed(req, duration_ms=1.0)  # the handle was not used up by the bad events
    got = store.get("s1")
    assert got is not None
    assert (got["total_requests"], got["failed_requests"], got["total_tokens"]) == (2, 1, 5)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"duration_ms": -1.0}, ValueError, "duration_ms must be a finite, non-negative number"),
        ({"duration_ms": float("nan")}, ValueError, "duration_ms must be a finite"),
        ({"duration_ms": float("inf")}, ValueError, "duration_ms must be a finite"),
        ({"duration_ms": "5"}, TypeError, "duration_ms must be a number, got str"),
        ({"duration_ms": True}, TypeError, "duration_ms must be a number, got bool"),
        ({"tools": 1}, TypeError, "tools must be a bool, got int"),
    ],
)
def test_malformed_completion_changes_nothing(
    store: SessionStore, kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    req = store.started("s1")
    before = snapshot(store)
    with pytest.raises(exc, match=match):
        store.completed(req, **kwargs)
    assert snapshot(store) == before
    assert not req.ended


def test_malformed_events_change_nothing(store: SessionStore) -> None:
    req = store.started("s1", model="m")
    before = snapshot(store)
    with pytest.raises(TypeError, match="must be the LLMRequest returned by started"):
        store.completed("s1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="error must be an exception, a str or None, got int"):
        store.failed(req, error=500)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a str or None, got int"):
        store.started("s2", model=3)  # type: ignore[arg-type]
    assert snapshot(store) == before
    store.completed(req, duration_ms=1)
    after = snapshot(store)
    for end in (store.completed, store.failed):
        with pytest.raises(ValueError, match="already ended"):
            end(req)
    assert snapshot(store) == after
    assert isinstance(req, LLMRequest) and req.model == "m" and req.ended


def test_a_request_ends_once_under_threads(store: SessionStore) -> None:
    reqs = [store.started("s1") for _ in range(200)]
    errors: list[BaseException] = []

    def end_all() -> None:
        for req in reqs:
            try:
                store.completed(req, duration_ms=1.0)
            except ValueError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=end_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.overall()["total_requests"] == 200
    assert len(errors) == 3 * 200


# -- the store: construction, eviction, order


def test_constructor_checks() -> None:
    for kwargs, exc in (
        ({"max_sessions": 0}, ValueError),
        ({"max_sessions": 1.5}, TypeError),
        ({"max_sessions": True}, TypeError),
        ({"ttl": 0}, ValueError),
        ({"ttl": -1.0}, ValueError),
        ({"ttl": float("nan")}, ValueError),
        ({"ttl": "60"}, TypeError),
        ({"clock": 5}, TypeError),
    ):
        with pytest.raises(exc):
            SessionStore(**kwargs)
    assert SessionStore(ttl=float("inf")).ttl == float("inf")
    with pytest.raises(TypeError, match="store must be a SessionStore"):
        session("s", store={})  # type: ignore[arg-type]


def test_eviction_by_count(store: SessionStore) -> None:
    clock = FakeClock()
    small = SessionStore(max_sessions=3, clock=clock)
    for sid in ("a", "b", "c"):
        clock.now += 1
        small.completed(small.started(sid), usage={"total_tokens": 1})
    clock.now += 1
    small.touch("a")  # a is now the most recently active: b is the least
    clock.now += 1
    small.completed(small.started("d"), usage={"total_tokens": 1})
    assert [s["session_id"] for s in small.sessions()] == ["d", "a", "c"]
    assert small.get("b") is None
    o = small.overall()
    assert (o["total_requests"], o["total_tokens"], o["active_sessions"], o["evicted_sessions"]) == (4, 4, 3, 1)
    req = small.started("e")  # evicts c
    small.completed(req)
    assert len(small) == 3 and small.get("c") is None and small.overall()["evicted_sessions"] == 2
    small.clear()
    zeros = {k: v for k, v in empty("").items() if k != "session_id"}
    assert len(small) == 0 and small.overall() == {**zeros, "active_sessions": 0, "evicted_sessions": 0}


def test_eviction_by_age() -> None:
    clock = FakeClock()
    store = SessionStore(ttl=60.0, clock=clock)
    store.completed(store.started("old"), usage={"total_tokens": 5})
    clock.now += 30
    store.touch("young")
    clock.now += 30  # old idle exactly 60 s: kept
    assert [s["session_id"] for s in store.sessions()] == ["young", "old"]
    clock.now += 0.5  # idle longer than ttl: gone, on the next operation
    assert store.get("old") is None
    assert len(store) == 1
    clock.now += 29
    assert store.get("young") is not None  # reading does not keep it alive
    clock.now += 1
    assert store.get("young") is None
    o = store.overall()
    assert (o["active_sessions"], o["evicted_sessions"], o["total_tokens"]) == (0, 2, 5)


def test_a_request_outliving_its_session_recreates_it() -> None:
    clock = FakeClock()
    store = SessionStore(ttl=10.0, clock=clock)
    req = store.started("s1")
    clock.now += 11
    assert len(store) == 0
    store.completed(req, usage={"total_tokens": 3})
    got = store.get("s1")
    assert got is not None and got["total_requests"] == 1 and got["total_tokens"] == 3


def test_sessions_most_recently_active_first(store: SessionStore) -> None:
    for sid in ("a", "b", "c"):
        store.touch(sid)
    store.completed(store.started("a"))
    assert [s["session_id"] for s in store.sessions()] == ["a", "c", "b"]
    assert all(list(s) == KEYS for s in store.sessions())


def test_memory_is_bounded_by_max_sessions() -> None:
    tracemalloc.start()
    try:
        store = SessionStore(max_sessions=1000)
        for i in range(1000):
            store.completed(store.started(f"warm-{i:07d}"), usage={"total_tokens": 1})
        full, _ = tracemalloc.get_traced_memory()  # the store holding 1000 sessions
        tracemalloc.reset_peak()
        for i in range(100_000):
            store.completed(store.started(f"sess-{i:07d}"), usage={"total_tokens": 1})
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 1000
    o = store.overall()
    assert (o["total_requests"], o["evicted_sessions"], o["active_sessions"]) == (101_000, 100_000, 1000)
    # 100 000 kept sessions would take 100 times what 1000 take; replaced ones take nothing more
    assert current < 1.2 * full + 50_000, (full, current)
    assert peak < 1.5 * full + 100_000, (full, peak)


# -- concurrency


def test_threads_exact_sums(store: SessionStore) -> None:
    def work(n: int) -> None:
        with session("shared"):
            for _ in range(1000):
                SESSION.get().record("m", 0.001, True, 1, 2, 3, False)
        with session(f"own-{n}"):
            for i in range(1000):
                SESSION.get().record("m", 0.002, i % 2 == 0, 2, 0, 2, i % 10 == 0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared = store.get("shared")
    assert shared is not None
    assert (shared["total_requests"], shared["total_prompt_tokens"], shared["total_completion_tokens"]) == (
        8000,
        8000,
        16000,
    )
    assert shared["total_tokens"] == 24000 and shared["average_tokens_per_request"] == 3.0
    assert shared["average_duration_ms"] == 1.0
    for n in range(8):
        own = store.get(f"own-{n}")
        assert own is not None
        assert (own["successful_requests"], own["failed_requests"], own["requests_with_tools"]) == (500, 500, 100)
        assert own["total_tokens"] == 2000
    o = store.overall()
    assert (o["total_requests"], o["total_tokens"], o["active_sessions"]) == (16000, 40000, 9)


def test_threads_with_copied_context(store: SessionStore) -> None:
    seen: list[Any] = []
    with session("s1") as binding:
        ctx = contextvars.copy_context()
        t = threading.Thread(target=ctx.run, args=(lambda: seen.append(SESSION.get()),))
        t.start()
        t.join()
        plain = threading.Thread(target=lambda: seen.append(SESSION.get()))
        plain.start()
        plain.join()
    assert seen == [binding, None]


def test_asyncio_50_concurrent_sessions(store: SessionStore) -> None:
    async def one(n: int) -> None:
        with session(f"s{n}"):
            for _ in range(5):
                await asyncio.sleep(0)
                SESSION.get().record("m", n / 1000, True, n, 1, n + 1, n % 2 == 0)
            # an asyncio task made inside the session inherits it
            await asyncio.create_task(child(n))
        assert SESSION.get() is None

    async def child(n: int) -> None:
        await asyncio.sleep(0)
        SESSION.get().record("m", 0.0, False, 0, 0, 0, False)

    async def main() -> None:
        await asyncio.gather(*(one(n) for n in range(50)))

    asyncio.run(main())
    assert len(store) == 50
    for n in range(50):
        got = store.get(f"s{n}")
        assert got is not None
        assert (got["total_requests"], got["successful_requests"], got["failed_requests"]) == (6, 5, 1)
        assert got["total_prompt_tokens"] == 5 * n and got["total_tokens"] == 5 * (n + 1)
        assert got["requests_with_tools"] == (5 if n % 2 == 0 else 0)
        assert got["total_duration_ms"] == pytest.approx(5 * n)


# -- the session() and role() scopes


def test_session_scope_nested_and_restored(store: SessionStore) -> None:
    assert SESSION.get() is None
    outer = session("outer")
    with outer as b1:
        with session("inner") as b2:
            assert SESSION.get() is b2 and b2.session_id == "inner"
            with outer as b3:  # the same scope object, re-entered
                assert SESSION.get() is b3 is b1
            assert SESSION.get() is b2
        assert SESSION.get() is b1 and b1.session_id == "outer" and b1.store is store
    assert SESSION.get() is None
    mine = SessionStore()
    with session("x", store=mine):
        SESSION.get().record("m", 0.1, True, 1, 1, 2, False)
    assert mine.get("x") is not None and store.get("x") is None


def test_scopes_exited_out_of_order() -> None:
    a, b = session("a", store=SessionStore()), role("r")
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert SESSION.get() is None and ROLE.get() is None


def test_session_and_role_decorators(store: SessionStore) -> None:
    @session("dec")
    def plain() -> Any:
        return SESSION.get().session_id, ROLE.get()

    @role("coder")
    async def coro() -> Any:
        await asyncio.sleep(0)
        return SESSION.get(), ROLE.get()

    assert plain() == ("dec", None)
    assert asyncio.run(coro()) == (None, "coder")
    assert plain.__name__ == "plain" and coro.__name__ == "coro"
    assert SESSION.get() is None and ROLE.get() is None

    def gen() -> Iterator[int]:
        yield 1

    async def agen() -> Any:
        yield 1

    for fn in (gen, agen):
        for scope in (session("g", store=SessionStore()), role("r")):
            with pytest.raises(TypeError, match="cannot decorate the generator function"):
                scope(fn)


def test_role() -> None:
    with role("planner") as name:
        assert name == "planner" and ROLE.get() == "planner"
        with role("coder"):
            assert ROLE.get() == "coder"
        assert ROLE.get() == "planner"
    assert ROLE.get() is None
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="the role name must be a non-empty str"):
            role(bad)  # type: ignore[arg-type]
    assert "role" in agents.__all__


# -- agent tasks in a session


def test_task_without_arguments_is_the_cached_span() -> None:
    agent = AgentMetrics("a", registry=CollectorRegistry())
    span = agent.task()
    assert agent.task() is span and type(span) is agents.Span
    assert agent.task(session_id=None, role=None) is span


def test_task_in_a_session_and_role(store: SessionStore) -> None:
    registry = CollectorRegistry()
    agent = AgentMetrics("planner", registry=registry)
    seen: list[Any] = []
    with agent.task(session_id="s1", role="coder") as span:
        assert isinstance(span, agents.Span)
        seen.append((SESSION.get().session_id, ROLE.get()))
        assert store.get("s1") == empty("s1")
        SESSION.get().record("m", 0.5, True, 10, 20, 30, True)
    assert SESSION.get() is None and ROLE.get() is None

    with pytest.raises(KeyError), agent.task(role="reviewer"):
        seen.append((SESSION.get(), ROLE.get()))
        raise KeyError("x")
    assert ROLE.get() is None

    @agent.task(session_id="s2")
    async def run() -> str:
        await asyncio.sleep(0)
        seen.append((SESSION.get().session_id, ROLE.get()))
        return "done"

    assert asyncio.run(run()) == "done"
    assert seen == [("s1", "coder"), (None, "reviewer"), ("s2", None)]
    get = registry.get_sample_value
    a = {"gen_ai_agent_name": "planner"}
    assert get("gen_ai_agent_tasks_total", {**a, "outcome": "success", "error_type": ""}) == 2
    assert get("gen_ai_agent_tasks_total", {**a, "outcome": "error", "error_type": "KeyError"}) == 1
    assert get("gen_ai_agent_tasks_active", a) == 0
    s1 = store.get("s1")
    assert s1 is not None and (s1["total_requests"], s1["total_tokens"], s1["requests_with_tools"]) == (1, 30, 1)
    assert store.get("s2") == empty("s2")
    # never a label: no sample of the registry carries a session id
    for metric in registry.collect():
        for sample in metric.samples:
            assert "s1" not in sample.labels.values() and "s2" not in sample.labels.values()

    def gen() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="cannot decorate the generator function"):
        agent.task(session_id="s3")(gen)
    with pytest.raises(ValueError, match="the role name"):
        agent.task(role="")
    assert store.get("s3") is None
