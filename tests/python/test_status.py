"""fastprom.status.StatusDocument: each field of the status document (seed 000) against what the
fake Gemini server served to the real google-genai client, agents, ASGI requests, breakers,
rates over a window with a fake clock, and the merged view of two worker processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

genai = pytest.importorskip("google.genai", reason="google-genai is not installed (pip install fastprom[gemini])")
from _helpers import FIXED_TIME, call, http_scope  # noqa: E402
from google.genai import errors, types  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from fastprom import gemini  # noqa: E402
from fastprom._spans import ROLE  # noqa: E402
from fastprom.agents import AgentMetrics  # noqa: E402
from fastprom.asgi import PrometheusMiddleware  # noqa: E402
from fastprom.infra import ServiceMetrics  # noqa: E402
from fastprom.registry import CollectorRegistry  # noqa: E402
from fastprom.status import ModelStatus, StatusDocument  # noqa: E402
from fastprom.testing import FakeGemini, Usage  # noqa: E402

MODEL, OTHER = "gemini-2.5-flash", "gemini-2.5-pro"
TEXT = "Hello from the fake Gemini."
M = 1e6
DEFAULT_COST = ((1200 - 200) * 0.30 + 200 * 0.03 + (300 + 100) * 2.50) / M  # gemini-2.5-flash, default usage
KEYS = [
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
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(fake: FakeGemini, registry: CollectorRegistry) -> Iterator[Any]:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    yield gemini.instrument(plain, registry=registry)
    plain.close()


def gen(registry: CollectorRegistry, name: str, model: str = MODEL, **labels: str) -> float:
    base = {"gen_ai_operation_name": "generate_content", "gen_ai_provider_name": "gcp.gemini"}
    return registry.get_sample_value(name, {**base, "gen_ai_request_model": model, **labels}) or 0.0


def generation_seconds(registry: CollectorRegistry) -> float:
    return gen(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="")


def server(registry: CollectorRegistry, **options: Any) -> Any:
    async def generate(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = Starlette(routes=[Route("/v1/generate", generate, methods=["POST"]), Route("/health", health)])
    return PrometheusMiddleware(app, registry=registry, **options)


def iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_every_field_from_what_the_server_recorded(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    clock = Clock(FIXED_TIME)  # time.time is frozen at FIXED_TIME: the last success is then
    status = StatusDocument([ModelStatus(MODEL, short_name="flash"), OTHER], registry=registry, clock=clock)
    agent = AgentMetrics("planner", registry=registry)
    token = ROLE.set("coder")
    try:
        for _ in range(2):
            with agent.task():
                client.models.generate_content(model=MODEL, contents="hi")
    finally:
        ROLE.reset(token)
    token = ROLE.set("reviewer")
    try:
        with agent.task():
            assert len(list(client.models.generate_content_stream(model=MODEL, contents="hi"))) == 3
    finally:
        ROLE.reset(token)
    fake.fail_next(429)
    with pytest.raises(errors.ClientError), agent.task():
        client.models.generate_content(model=MODEL, contents="hi")
    agent.set_queue_depth("inbox", 4)
    app = server(registry)
    call(app, http_scope("/v1/generate", "POST"), [b"x" * 10])
    call(app, http_scope("/v1/generate", "POST"), [b"x" * 20])
    call(app, http_scope("/health"))
    clock.now = FIXED_TIME + 10

    with AgentMetrics("watcher", registry=registry).task():
        assert status.document()["active_tasks"] == 1
    doc = status.document()

    assert list(doc) == KEYS
    seconds = generation_seconds(registry)  # the 3 successful calls
    failed = gen(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="429")
    roles = {
        role: gen(registry, "gen_ai_client_role_operation_duration_seconds_sum", gen_ai_agent_role=role)
        for role in ("coder", "reviewer")
    }
    assert seconds > 0 and failed > 0 and all(roles.values())
    assert doc == {
        "server_status": "online",
        "llm_status": {MODEL: "on", OTHER: "off"},
        "last_heartbeat": {MODEL: iso(FIXED_TIME), OTHER: None},
        "model_short_name": "flash",
        # output tokens: 300 + 100 thinking per call, the stream's last chunk alike
        "tokens_per_second": {MODEL: round(3 * 400 / seconds, 3), OTHER: 0.0},
        "data_rate": {MODEL: round((2 * len(TEXT) + len("Hello stream")) / seconds, 3), OTHER: 0.0},
        "average_response_time": {
            "models": {MODEL: round((seconds + failed) / 4, 3), OTHER: 0.0},
            "roles": {"coder": round(roles["coder"] / 2, 3), "reviewer": round(roles["reviewer"], 3)},
        },
        "total_requests": 3,
        "active_tasks": 0,
        "queue_length": 4,
        "llm_usage_count": {MODEL: 4, OTHER: 0},
        "api_costs": {"total": round(3 * DEFAULT_COST, 6), "models": {MODEL: round(3 * DEFAULT_COST, 6), OTHER: 0.0}},
        "success_rate": {"planner": 75.0, "watcher": 100.0},
        "task_sizes": 15.0,
    }
    assert iso(FIXED_TIME) == "1970-01-01T00:02:03.456Z"
    assert json.loads(json.dumps(doc)) == doc
    status.online = False
    assert status.document()["server_status"] == "offline"


def test_an_empty_registry_gives_zeros(registry: CollectorRegistry) -> None:
    doc = StatusDocument([MODEL], registry=registry).document()
    assert doc == {
        "server_status": "online",
        "llm_status": {MODEL: "off"},
        "last_heartbeat": {MODEL: None},
        "model_short_name": MODEL,
        "tokens_per_second": {MODEL: 0.0},
        "data_rate": {MODEL: 0.0},
        "average_response_time": {"models": {MODEL: 0.0}, "roles": {}},
        "total_requests": 0,
        "active_tasks": 0,
        "queue_length": 0,
        "llm_usage_count": {MODEL: 0},
        "api_costs": {"total": 0.0, "models": {MODEL: 0.0}},
        "success_rate": {},
        "task_sizes": 0.0,
    }


def test_models_seen_but_not_configured_are_listed_after_the_configured(
    client: Any, registry: CollectorRegistry
) -> None:
    client.models.generate_content(model="models/" + OTHER, contents="hi")
    doc = StatusDocument(["models/" + MODEL], registry=registry).document()
    assert list(doc["llm_usage_count"].items()) == [(MODEL, 0), (OTHER, 1)]
    assert list(doc["llm_status"]) == [MODEL]  # configured models only
    assert doc["model_short_name"] == MODEL


def test_rates_use_the_newest_snapshot_at_least_a_window_old(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    clock = Clock(1000.0)
    status = StatusDocument([MODEL], registry=registry, window=60, clock=clock)  # snapshot at 1000

    def rates(at: float) -> tuple[float, float]:
        clock.now = at
        doc = status.document()
        return doc["tokens_per_second"][MODEL], doc["data_rate"][MODEL]

    def generate(output: int) -> float:
        """One call with this many output tokens; the seconds it took."""
        fake.usage = Usage(prompt=10, cached=None, candidates=output, thoughts=None)
        before = generation_seconds(registry)
        client.models.generate_content(model=MODEL, contents="hi")
        return generation_seconds(registry) - before

    a = generate(400)
    assert rates(1030) == (round(400 / a, 3), round(len(TEXT) / a, 3))  # only the snapshot at 1000
    b = generate(1000)
    assert rates(1070) == (round(1400 / (a + b), 3), round(2 * len(TEXT) / (a + b), 3))  # from 1000
    c = generate(50)
    assert rates(1100) == (round(1050 / (b + c), 3), round(2 * len(TEXT) / (b + c), 3))  # from 1030
    assert rates(1200) == (0.0, 0.0)  # from 1100: no generation since
    assert [s.at for s in status._snapshots] == [1100.0, 1200.0]  # older ones dropped


def test_snapshots_stay_bounded_when_served_often(registry: CollectorRegistry) -> None:
    clock = Clock(0.0)
    status = StatusDocument([MODEL], registry=registry, window=10, clock=clock)
    for i in range(5000):
        clock.now = i * 0.01  # 100 documents a second
        status.document()
    # at most one kept per window / 100 = 0.1 s (rounding may skip one), over the last window
    assert 80 <= len(status._snapshots) <= 102


def test_breakers_staleness_and_health_checks(client: Any, registry: CollectorRegistry) -> None:
    clock = Clock(FIXED_TIME)
    client.models.generate_content(model=MODEL, contents="hi")  # succeeded at FIXED_TIME
    client.models.generate_content(model=OTHER, contents="hi")
    agent = AgentMetrics("planner", registry=registry)
    infra = ServiceMetrics(registry=registry, breaker_label="model")

    def llm_status(*models: ModelStatus | str, staleness: float = 300.0) -> list[str]:
        status = StatusDocument(models, registry=registry, staleness=staleness, clock=clock)
        return list(status.document()["llm_status"].values())

    def fails() -> bool:
        raise ConnectionError("unreachable")

    assert llm_status(ModelStatus(MODEL, breaker="flash"), ModelStatus(OTHER, breaker="pro")) == ["on", "on"]
    agent.set_breaker_state("flash", "open")
    infra.set_breaker_state("pro", "half-open")
    assert llm_status(ModelStatus(MODEL, breaker="flash"), ModelStatus(OTHER, breaker="pro")) == ["off", "on"]
    assert llm_status(ModelStatus(MODEL, breaker="flash", health_check=lambda: True)) == ["off"]  # open wins
    infra.set_breaker_state("pro", "open")
    agent.set_breaker_state("flash", "closed")
    assert llm_status(ModelStatus(MODEL, breaker="flash"), ModelStatus(OTHER, breaker="pro")) == ["on", "off"]
    # staleness: on up to `staleness` seconds after the last success
    clock.now = FIXED_TIME + 300
    assert llm_status(MODEL) == ["on"]
    clock.now = FIXED_TIME + 300.5
    assert llm_status(MODEL) == ["off"]
    assert llm_status(MODEL, staleness=301) == ["on"]
    # a health check decides instead of the last success
    assert llm_status(ModelStatus(MODEL, health_check=lambda: True), ModelStatus("never-called")) == ["on", "off"]
    clock.now = FIXED_TIME
    assert llm_status(ModelStatus(MODEL, health_check=lambda: False)) == ["off"]
    assert llm_status(ModelStatus(MODEL, health_check=fails)) == ["off"]
    assert llm_status(ModelStatus(MODEL, health_check=lambda: 1)) == ["off"]  # True only, not any true value
    assert llm_status(ModelStatus("never-called", health_check=lambda: True)) == ["on"]


def test_namespaces(fake: FakeGemini, registry: CollectorRegistry) -> None:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    try:
        gemini.instrument(plain, registry=registry, namespace="llm").models.generate_content(model=MODEL, contents="hi")
    finally:
        plain.close()
    AgentMetrics("planner", registry=registry, namespace="llm").set_queue_depth("q", 2)
    call(server(registry, namespace="web"), http_scope("/v1/generate", "POST"), [b"abcd"])
    doc = StatusDocument([MODEL], registry=registry, namespace="llm", http_namespace="web").document()
    assert (doc["llm_usage_count"], doc["queue_length"], doc["total_requests"], doc["task_sizes"]) == (
        {MODEL: 1},
        2,
        1,
        4.0,
    )
    other = StatusDocument([MODEL], registry=registry).document()
    assert (other["llm_usage_count"], other["queue_length"], other["total_requests"]) == ({MODEL: 0}, 0, 0)
    routes = StatusDocument([MODEL], registry=registry, http_namespace="web", task_routes=["/other"]).document()
    assert routes["task_sizes"] == 0.0


def test_bad_arguments_are_refused(registry: CollectorRegistry) -> None:
    async def probe() -> bool:
        return True

    for models, error, match in [
        ([], ValueError, "at least one"),
        (MODEL, TypeError, "sequence"),
        ([MODEL, 3], TypeError, "model names"),
        ([MODEL, "models/" + MODEL], ValueError, "twice"),
    ]:
        with pytest.raises(error, match=match):
            StatusDocument(models, registry=registry)  # type: ignore[arg-type]
    for option, bad, error in [
        ("window", 0, ValueError),
        ("window", -1.0, ValueError),
        ("window", math.nan, ValueError),
        ("window", math.inf, ValueError),
        ("window", True, ValueError),
        ("staleness", "60", ValueError),
        ("task_routes", "/v1/generate", TypeError),
        ("task_routes", [1], TypeError),
        ("namespace", None, TypeError),
        ("http_namespace", 1, TypeError),
        ("registry", "REGISTRY", TypeError),
        ("clock", 1.0, TypeError),
    ]:
        with pytest.raises(error, match=option):
            StatusDocument([MODEL], **{"registry": registry, option: bad})
    for kwargs, match in [
        ({"name": ""}, "name"),
        ({"name": MODEL, "short_name": 1}, "short_name"),
        ({"name": MODEL, "breaker": ""}, "breaker"),
        ({"name": MODEL, "health_check": True}, "callable"),
        ({"name": MODEL, "health_check": probe}, "async"),
    ]:
        with pytest.raises(TypeError, match=match):
            ModelStatus(**kwargs)


WORKER = textwrap.dedent(
    """
    import sys
    from google import genai
    from google.genai import types
    from fastprom import gemini
    from fastprom._spans import ROLE
    from fastprom.agents import AgentMetrics

    url, calls, outcome = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = gemini.instrument(
        genai.Client(api_key="k", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    )
    agent = AgentMetrics("planner")
    ROLE.set("coder")
    for _ in range(calls):
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    try:
        with agent.task():
            if outcome == "error":
                raise RuntimeError("failed")
    except RuntimeError:
        pass
    client.close()
    """
)


def test_multiprocess_document_is_the_merged_view(
    fake: FakeGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(calls: int, outcome: str) -> None:
        subprocess.run([sys.executable, "-c", WORKER, fake.url, str(calls), outcome], env=env, check=True, timeout=60)

    worker(2, "success")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    now = datetime.now(timezone.utc).timestamp()  # time.time is frozen in this process
    status = StatusDocument([MODEL], clock=lambda: now)  # registry=None: the merged view
    first = generation_seconds(status.registry)
    worker(3, "error")
    doc = status.document()
    merged = status.registry
    seconds = generation_seconds(merged)
    role_sum = gen(merged, "gen_ai_client_role_operation_duration_seconds_sum", gen_ai_agent_role="coder")
    assert doc["llm_usage_count"] == {MODEL: 5}
    assert doc["api_costs"] == {"total": round(5 * DEFAULT_COST, 6), "models": {MODEL: round(5 * DEFAULT_COST, 6)}}
    assert doc["success_rate"] == {"planner": 50.0}
    assert doc["llm_status"] == {MODEL: "on"}
    heartbeat = doc["last_heartbeat"][MODEL]
    assert (
        heartbeat is not None and abs(datetime.fromisoformat(heartbeat.replace("Z", "+00:00")).timestamp() - now) < 60
    )
    assert doc["average_response_time"] == {
        "models": {MODEL: round(seconds / 5, 3)},
        "roles": {"coder": round(role_sum / 5, 3)},
    }
    # the rate over the second worker's calls only: the first's were in the snapshot at construction
    assert doc["tokens_per_second"] == {MODEL: round(3 * 400 / (seconds - first), 3)}
    assert doc["data_rate"] == {MODEL: round(3 * len(TEXT) / (seconds - first), 3)}
