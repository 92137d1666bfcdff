"""examples/llm_server.py under a real uvicorn (and 4 workers), the real google-genai client
against the local fake Gemini server: every field of the status document and of the session
documents equals what the fake served and what ``/metrics`` shows."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")

from _helpers import parse_samples  # noqa: E402
from _servers import ROOT, Server, http_get, uvicorn  # noqa: E402

from fastprom.testing import FakeGemini, Usage  # noqa: E402

SECRET = "s3cret-for-tests"
AUTH = {"x-internal-auth": SECRET}
FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
USAGE = Usage(prompt=1200, candidates=300, thoughts=100, cached=200)
PROMPT, COMPLETION = 1200, 400  # prompt (no tool-use tokens), candidates + thoughts
TEXT = "Hello from the fake Gemini."
SESSION_KEYS = [
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
STATUS_KEYS = {
    "server_status",
    "llm_status",
    "last_heartbeat",
    "model_short_name",
    "tokens_per_second",
    "data_rate",
    "average_response_time",
    "total_requests",
    "active_tasks",
    "queue_length",
    "llm_usage_count",
    "api_costs",
    "success_rate",
    "task_sizes",
}


# ------------------------------------------------------------------------------ the servers


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture()
def gemini(fake: FakeGemini) -> FakeGemini:
    fake.reset()
    fake.usage = USAGE
    return fake


def environment(fake: FakeGemini, **extra: str) -> dict[str, str]:
    return {
        "GOOGLE_GEMINI_BASE_URL": fake.url,
        "GEMINI_API_KEY": "",
        "GOOGLE_API_KEY": "",
        "FASTPROM_INTERNAL_AUTH": SECRET,
        "LLM_MODELS": f"{FLASH},{PRO}",
        **extra,
    }


@pytest.fixture(scope="module")
def server(fake: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("llm_server") / "uvicorn.log"
    with uvicorn("examples.llm_server:app", log, extra_env=environment(fake), ready_path="/api/v1/metrics") as s:
        yield s


def post(url: str, body: Any, timeout: float = 30.0) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url + "/v1/generate", data=data, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    status, body = http_get(url, timeout=10.0, headers=headers)
    return status, json.loads(body)


def status_doc(server: Server) -> dict[str, Any]:
    status, doc = get_json(server.url + "/api/v1/metrics")
    assert status == 200, doc
    return doc


def session_doc(server: Server, session_id: str) -> dict[str, Any]:
    status, doc = get_json(f"{server.url}/events/metrics/session/{session_id}", AUTH)
    assert status == 200, doc
    return doc


def metrics(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, body = http_get(server.url + "/metrics")
    assert status == 200
    return parse_samples(body.decode())


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def expected_session(session_id: str, ok: int, failed: int = 0, tools: int = 0) -> dict[str, Any]:
    """A session document without its durations (checked apart: they are measured)."""
    n = ok + failed
    tokens = ok * (PROMPT + COMPLETION)
    return {
        "session_id": session_id,
        "total_requests": n,
        "successful_requests": ok,
        "failed_requests": failed,
        "total_prompt_tokens": ok * PROMPT,
        "total_completion_tokens": ok * COMPLETION,
        "total_tokens": tokens,
        "average_tokens_per_request": round(tokens / n, 2) if n else 0.0,
        "requests_with_tools": tools,
    }


def check_session(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(doc) == SESSION_KEYS
    durations = {k: doc.pop(k) for k in ("total_duration_ms", "average_duration_ms")}
    assert doc == expected
    n = expected["total_requests"]
    assert durations["total_duration_ms"] > 0 if n else durations["total_duration_ms"] == 0
    assert durations["average_duration_ms"] == (round(durations["total_duration_ms"] / n, 2) if n else 0.0)


# ------------------------------------------------------------------------------ sessions


def test_a_call_in_a_session(server: Server, gemini: FakeGemini) -> None:
    body = {"prompt": "Hi", "session_id": "sync-1", "agent": "chat", "role": "writer"}
    assert post(server.url, body) == (200, {"text": TEXT})
    assert [r.method for r in gemini.requests] == ["generateContent"]
    check_session(session_doc(server, "sync-1"), expected_session("sync-1", ok=1))
    assert post(server.url, body) == (200, {"text": TEXT})
    check_session(session_doc(server, "sync-1"), expected_session("sync-1", ok=2))


def test_a_streamed_call_in_a_session(server: Server, gemini: FakeGemini) -> None:
    body = {"prompt": "Hi", "session_id": "stream-1", "stream": True}
    assert post(server.url, body) == (200, {"text": "Hello stream"})
    assert [r.method for r in gemini.requests] == ["streamGenerateContent"]
    # the chunks repeat the running usage: the last one's counts, not their sum
    check_session(session_doc(server, "stream-1"), expected_session("stream-1", ok=1))


def test_tool_calls_count_as_requests_with_tools(server: Server, gemini: FakeGemini) -> None:
    gemini.function_args = {"city": "Oslo"}
    body = {"prompt": "Weather in Oslo?", "session_id": "tools-1", "agent": "weather"}
    assert post(server.url, body) == (200, {"text": TEXT})
    # automatic function calling: the function call, then the answer to its result
    assert [r.method for r in gemini.requests] == ["generateContent", "generateContent"]
    assert "sunny" in json.dumps(gemini.requests[1].body)
    assert post(server.url, {"prompt": "Hi", "session_id": "tools-1"}) == (200, {"text": TEXT})
    # two LLM requests for the first turn (google-genai's chat runs the function between them),
    # the first asked for a tool; one for the second turn
    check_session(session_doc(server, "tools-1"), expected_session("tools-1", ok=3, tools=1))


@pytest.mark.parametrize("code", [429, 500])
def test_model_failures_count_as_failed_requests(server: Server, gemini: FakeGemini, code: int) -> None:
    sid = f"fail-{code}"
    gemini.fail_next(code)
    status, answer = post(server.url, {"prompt": "Hi", "session_id": sid, "agent": "flaky"})
    assert status == 502
    assert str(code) in answer["error"]
    assert post(server.url, {"prompt": "Hi", "session_id": sid, "agent": "flaky"}) == (200, {"text": TEXT})
    check_session(session_doc(server, sid), expected_session(sid, ok=1, failed=1))


def test_fifty_concurrent_sessions(server: Server, gemini: FakeGemini) -> None:
    gemini.delay = 0.02  # calls overlap: more than LLM_MAX_CONCURRENCY wait in the queue
    before = get_json(server.url + "/events/metrics", AUTH)[1]

    def one(i: int) -> list[tuple[int, Any]]:
        sid = f"many-{i}"
        return [
            post(server.url, {"prompt": "Hi", "session_id": sid, "stream": False}),
            post(server.url, {"prompt": "Hi", "session_id": sid, "stream": True}),
        ]

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(one, range(50)))
    assert answers == [[(200, {"text": TEXT}), (200, {"text": "Hello stream"})]] * 50
    status, listed = get_json(server.url + "/events/metrics/sessions", AUTH)
    assert status == 200
    docs = {doc["session_id"]: doc for doc in listed if doc["session_id"].startswith("many-")}
    assert sorted(docs) == sorted(f"many-{i}" for i in range(50))
    for sid, doc in docs.items():
        check_session(doc, expected_session(sid, ok=2))
    after = get_json(server.url + "/events/metrics", AUTH)[1]
    assert after["total_requests"] - before["total_requests"] == 100
    assert after["successful_requests"] - before["successful_requests"] == 100
    assert after["total_tokens"] - before["total_tokens"] == 100 * (PROMPT + COMPLETION)
    assert after["active_sessions"] == before["active_sessions"] + 50


def test_the_overall_document_adds_up_the_sessions(server: Server, gemini: FakeGemini) -> None:
    status, overall = get_json(server.url + "/events/metrics", AUTH)
    assert status == 200
    listed = get_json(server.url + "/events/metrics/sessions", AUTH)[1]
    assert overall["active_sessions"] == len(listed)
    for key in ("total_requests", "successful_requests", "failed_requests", "total_tokens", "requests_with_tools"):
        assert overall[key] == sum(doc[key] for doc in listed), key  # nothing evicted on this server
    assert "session_id" not in overall


# ------------------------------------------------------------------------------ auth and bad input


def test_the_session_routes_need_the_secret(server: Server, gemini: FakeGemini) -> None:
    assert post(server.url, {"prompt": "Hi", "session_id": "auth-1"})[0] == 200
    for path in ("/events/metrics", "/events/metrics/sessions", "/events/metrics/session/auth-1"):
        assert http_get(server.url + path)[0] == 401, path
        assert http_get(server.url + path, headers={"x-internal-auth": "wrong"})[0] == 401, path
        assert http_get(server.url + path, headers={"x-internal-auth": SECRET[:-1]})[0] == 401, path
        assert http_get(server.url + path, headers=AUTH)[0] == 200, path
    assert get_json(server.url + "/events/metrics/session/never-seen", AUTH)[0] == 404
    assert http_get(server.url + "/events/metrics/session/never-seen")[0] == 401  # no existence leak
    assert http_get(server.url + "/api/v1/metrics")[0] == 200  # the status document is open


def test_bad_session_ids_are_refused_and_recorded_nowhere(server: Server, gemini: FakeGemini) -> None:
    before = get_json(server.url + "/events/metrics", AUTH)[1]
    usage_before = status_doc(server)["llm_usage_count"]
    long_id = "x" * 257
    for bad in (long_id, 123, ["a"], ""):
        status, answer = post(server.url, {"prompt": "Hi", "session_id": bad})
        assert status == 422, (bad, answer)
    assert gemini.requests == []
    assert get_json(f"{server.url}/events/metrics/session/{long_id}", AUTH)[0] == 422
    assert post(server.url, {"prompt": "Hi", "session_id": "x" * 256})[0] == 200  # the longest allowed
    after = get_json(server.url + "/events/metrics", AUTH)[1]
    assert after["active_sessions"] == before["active_sessions"] + 1
    assert after["total_requests"] == before["total_requests"] + 1
    assert status_doc(server)["llm_usage_count"][FLASH] == usage_before[FLASH] + 1
    assert post(server.url, {"prompt": "Hi", "model": "gpt-4o"})[0] == 422  # not a configured model


# ------------------------------------------------------------------------------ the status document


def test_the_status_document_equals_the_metrics(server: Server, gemini: FakeGemini) -> None:
    assert post(server.url, {"prompt": "Hi", "agent": "chat", "role": "writer"})[0] == 200
    assert post(server.url, {"prompt": "Hi", "agent": "chat", "role": "critic", "stream": True})[0] == 200
    gemini.fail_next(500)
    assert post(server.url, {"prompt": "Hi", "agent": "chat", "role": "critic"})[0] == 502
    assert post(server.url, {"prompt": "Hi", "model": PRO})[0] == 200
    samples = metrics(server)  # read before the document: the document's own GETs are then counted in both
    doc = status_doc(server)
    assert set(doc) == STATUS_KEYS
    assert doc["server_status"] == "online"
    assert doc["model_short_name"] == FLASH
    assert doc["llm_status"] == {FLASH: "on", PRO: "on"}
    now = datetime.now(timezone.utc)
    for model in (FLASH, PRO):
        beat = doc["last_heartbeat"][model]
        assert beat.endswith("Z")
        age = (now - datetime.fromisoformat(beat.replace("Z", "+00:00"))).total_seconds()
        assert -1 < age < 30, beat

    def gen(name: str, model: str, **labels: str) -> float:
        return total(samples, name, gen_ai_request_model=model, gen_ai_operation_name="generate_content", **labels)

    for model in (FLASH, PRO):
        # the server is younger than the window: the rates are over its whole life
        seconds = gen("gen_ai_client_operation_duration_seconds_sum", model, error_type="")
        tokens = gen("gen_ai_client_tokens_total", model, gen_ai_token_type="output")
        assert doc["tokens_per_second"][model] == pytest.approx(round(tokens / seconds, 3), abs=1e-3)
        response_bytes = gen("gen_ai_client_response_bytes_total", model)
        assert response_bytes >= len(TEXT)
        assert doc["data_rate"][model] == pytest.approx(round(response_bytes / seconds, 3), abs=1e-3)
        mean = gen("gen_ai_client_operation_duration_seconds_sum", model) / gen(
            "gen_ai_client_operation_duration_seconds_count", model
        )
        assert doc["average_response_time"]["models"][model] == pytest.approx(mean, abs=1e-3)
        assert doc["llm_usage_count"][model] == gen("gen_ai_client_requests_total", model)
        assert doc["api_costs"]["models"][model] == pytest.approx(gen("gen_ai_client_cost_usd_total", model), abs=1e-3)
    for role in ("writer", "critic"):
        name = "gen_ai_client_role_operation_duration_seconds"
        mean = total(samples, name + "_sum", gen_ai_agent_role=role) / total(
            samples, name + "_count", gen_ai_agent_role=role
        )
        assert doc["average_response_time"]["roles"][role] == pytest.approx(mean, abs=1e-3)
    assert doc["api_costs"]["total"] == pytest.approx(total(samples, "gen_ai_client_cost_usd_total"), abs=1e-3)
    assert doc["total_requests"] == total(samples, "http_requests_total")
    assert doc["active_tasks"] == 0
    assert doc["queue_length"] == 0
    tasks = total(samples, "gen_ai_agent_tasks_total", gen_ai_agent_name="chat")
    ok = total(samples, "gen_ai_agent_tasks_total", gen_ai_agent_name="chat", outcome="success")
    assert doc["success_rate"]["chat"] == pytest.approx(round(100 * ok / tasks, 3), abs=1e-3)
    size = total(samples, "http_request_size_bytes_sum", route="/v1/generate")
    count = total(samples, "http_request_size_bytes_count", route="/v1/generate")
    assert doc["task_sizes"] == pytest.approx(round(size / count, 3), abs=1e-3)
    assert doc["task_sizes"] == pytest.approx(len(json.dumps({"prompt": "Hi", "model": PRO})), rel=0.5)


def test_an_open_breaker_turns_the_model_off(fake: FakeGemini, tmp_path: Path) -> None:
    fake.reset()
    env = environment(fake, LLM_BREAKER_FAILURES="2", LLM_BREAKER_COOLDOWN="60")
    with uvicorn("examples.llm_server:app", tmp_path / "uvicorn.log", extra_env=env, ready_path="/api/v1/metrics") as s:
        doc = status_doc(s)
        # nothing answered yet: no heartbeat, so no model is known to be on
        assert doc["llm_status"] == {FLASH: "off", PRO: "off"}
        assert doc["last_heartbeat"] == {FLASH: None, PRO: None}
        assert post(s.url, {"prompt": "Hi", "model": PRO})[0] == 200
        assert post(s.url, {"prompt": "Hi"})[0] == 200
        assert status_doc(s)["llm_status"] == {FLASH: "on", PRO: "on"}
        fake.fail_next(503, 503)
        assert [post(s.url, {"prompt": "Hi", "model": PRO})[0] for _ in range(3)] == [502, 502, 503]
        doc = status_doc(s)
        assert doc["llm_status"] == {FLASH: "on", PRO: "off"}
        assert doc["last_heartbeat"][PRO] is not None  # its last success stays
    fake.reset()


def test_sessions_are_evicted_by_count_and_by_age(fake: FakeGemini, tmp_path: Path) -> None:
    fake.reset()
    env = environment(fake, LLM_MAX_SESSIONS="3", LLM_SESSION_TTL="2")
    with uvicorn("examples.llm_server:app", tmp_path / "uvicorn.log", extra_env=env, ready_path="/api/v1/metrics") as s:
        for sid in ("a", "b", "c", "d"):
            assert post(s.url, {"prompt": "Hi", "session_id": sid})[0] == 200
        # the least recently active went first
        assert get_json(s.url + "/events/metrics/session/a", AUTH)[0] == 404
        assert [d["session_id"] for d in get_json(s.url + "/events/metrics/sessions", AUTH)[1]] == ["d", "c", "b"]
        overall = get_json(s.url + "/events/metrics", AUTH)[1]
        assert (overall["active_sessions"], overall["evicted_sessions"], overall["total_requests"]) == (3, 1, 4)
        time.sleep(1.2)
        assert post(s.url, {"prompt": "Hi", "session_id": "b"})[0] == 200  # b is active again
        time.sleep(1.2)
        # c and d idled past the 2 s ttl; b did not
        assert [d["session_id"] for d in get_json(s.url + "/events/metrics/sessions", AUTH)[1]] == ["b"]
        assert get_json(s.url + "/events/metrics/session/c", AUTH)[0] == 404
        check_session(session_doc(s, "b"), expected_session("b", ok=2))
    fake.reset()


def test_the_server_refuses_to_start_without_a_secret(fake: FakeGemini, tmp_path: Path) -> None:
    env = environment(fake, FASTPROM_INTERNAL_AUTH="")
    with pytest.raises(RuntimeError, match="FASTPROM_INTERNAL_AUTH"):
        with uvicorn("examples.llm_server:app", tmp_path / "uvicorn.log", extra_env=env, ready_path="/api/v1/metrics"):
            pass


# ------------------------------------------------------------------------------ several workers


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_the_status_document_of_several_workers(
    fake: FakeGemini, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_multiprocess_servers import eventually, multiworker

    fake.reset()
    fake.usage = USAGE
    for name, value in environment(fake).items():
        monkeypatch.setenv(name, value)
    with multiworker(kind, tmp_path, "llm_server:app", ROOT / "examples") as app:
        server = app.server
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: post(server.url, {"prompt": "Hi", "agent": "chat"}), range(40)))
        assert answers == [(200, {"text": TEXT})] * 40

        def agreed() -> bool:
            docs = [status_doc(server) for _ in range(8)]
            return all(
                d["llm_usage_count"][FLASH] == 40 and d["success_rate"]["chat"] == 100.0 and d["task_sizes"] > 0
                for d in docs
            )

        assert eventually(agreed), [status_doc(server) for _ in range(2)]
        samples = metrics(server)
        doc = status_doc(server)
        assert doc["api_costs"]["total"] == pytest.approx(total(samples, "gen_ai_client_cost_usd_total"), abs=1e-3)
        assert doc["llm_status"][FLASH] == "on"
