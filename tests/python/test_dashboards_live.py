"""Every query of every dashboard panel returns data from a real Prometheus.

Debian's Prometheus (1 s scrapes) scrapes two jobs:

* ``llm``: examples/llm_server.py under uvicorn, its model calls going to an in-process fake
  Gemini server, after traffic through every route it has: plain, streamed and tool-calling
  (agent ``weather``) calls on two models, model failures (500 and 429, which also open and close
  a circuit breaker), a refused model (422), calls in sessions and roles;
* ``extra``: a second small application in this test process recording what the example server
  has no use for (tool failures, graph nodes, agent caches, queues and breakers, and the
  fastprom.infra families: service queues, caches, streams, chat sessions, database operations,
  connection pools).

Each query is sent as Grafana sends it (``$__rate_interval`` is 1m, what Grafana computes with its
default 15 s scrape interval; ``$instance`` is All), and must return at least one series with a
finite value. It is asked first of the ``llm`` job alone: only the queries listed in
``EXTRA_QUERIES`` may need the second application.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")

from _servers import Server, binary, http_get, prometheus, uvicorn  # noqa: E402

from fastprom import CollectorRegistry  # noqa: E402
from fastprom.agents import AgentMetrics  # noqa: E402
from fastprom.exposition import start_http_server  # noqa: E402
from fastprom.infra import ServiceMetrics  # noqa: E402
from fastprom.ops.dashboards import dashboard  # noqa: E402
from fastprom.testing import FakeGemini, Usage  # noqa: E402

pytestmark = pytest.mark.skipif(binary("prometheus") is None, reason="prometheus (Debian's) is not installed")

SECRET = "s3cret-for-dashboards"
FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
RATE_INTERVAL = "1m"
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: llm
    static_configs:
      - targets: ["127.0.0.1:{llm}"]
  - job_name: extra
    static_configs:
      - targets: ["127.0.0.1:{extra}"]
"""
# The queries (panel title, refId) whose data comes from the second application: the example
# server records no tool calls (google-genai runs its tool itself), no graph, no agent cache or
# breaker, and of the fastprom.infra families only its breakers (and the unlabelled chat and
# stream counters, at 0).
EXTRA_QUERIES = {
    ("Tool calls by outcome", "A"),
    ("Tool errors by type", "A"),
    ("Tool error ratio", "A"),
    ("Tool call duration p95", "A"),
    ("Node duration p95", "A"),
    ("Queues", "B"),
    ("Queue wait p95", "A"),
    ("Queue requests and rejections", "A"),
    ("Queue requests and rejections", "B"),
    ("Circuit breakers", "A"),
    ("Circuit breaker trips and failures", "A"),
    ("Cache hit ratio", "A"),
    ("Cache hit ratio", "B"),
    ("Stream time to first chunk p50 / p95", "A"),
    ("Stream time to first chunk p50 / p95", "B"),
    ("Database operation p95", "A"),
    ("Connection pool use", "A"),
}


# ------------------------------------------------------------------------------ the applications


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        server.usage = Usage(prompt=1200, candidates=300, thoughts=100, cached=200)
        yield server


@pytest.fixture(scope="module")
def llm_server(fake: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "GOOGLE_GEMINI_BASE_URL": fake.url,
        "GEMINI_API_KEY": "",
        "GOOGLE_API_KEY": "",
        "FASTPROM_INTERNAL_AUTH": SECRET,
        "LLM_MODELS": f"{FLASH},{PRO}",
        "LLM_BREAKER_FAILURES": "1",  # one failure opens a model's breaker...
        "LLM_BREAKER_COOLDOWN": "0.2",  # ... and the next call after 0.2 s closes it again
    }
    log = tmp_path_factory.mktemp("llm_server") / "uvicorn.log"
    with uvicorn("examples.llm_server:app", log, extra_env=env, ready_path="/metrics") as server:
        yield server


class Extra:
    """The second application: agent and infrastructure metrics in a registry of its own,
    served on /metrics from this process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.agent = AgentMetrics("extra-agent", registry=self.registry)
        self.service = ServiceMetrics(registry=self.registry)
        self.server, self.thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port = self.server.server_port

    def traffic(self) -> None:
        agent, svc = self.agent, self.service
        with agent.task():
            with agent.step("plan"):
                pass
            with agent.tool("search"):
                pass
            with pytest.raises(ValueError), agent.tool("search"):
                raise ValueError("the search service said no")
        with agent.graph("answer"), agent.node("retrieve", graph="answer"):
            pass
        agent.cache_lookup("answers", hit=True)
        agent.cache_lookup("answers", hit=False)
        agent.set_queue_depth("inbox", 2)
        agent.set_breaker_state("search", "open")
        agent.set_breaker_state("search", "closed")
        svc.queue_request("high")
        svc.queue_size("high", 3)
        svc.queue_wait("high", 0.2)
        svc.queue_rejected("high")
        svc.cache_hit("responses")
        svc.cache_miss("responses")
        with svc.db_operation("select", "users"):
            pass
        svc.connection_pool("redis", in_use=3, size=10)
        with svc.chat_session():
            stream = svc.stream()
            stream.chunk()
            stream.chunk(2)
        svc.set_breaker_state("search", "open")
        svc.breaker_failure("search")
        svc.set_breaker_state("search", "closed")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def extra() -> Iterator[Extra]:
    app = Extra()
    try:
        yield app
    finally:
        app.stop()


def post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url + "/v1/generate", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def llm_traffic(url: str, fake: FakeGemini) -> None:
    """Requests through every route and outcome the example server has."""
    fake.function_args = {"city": "Oslo"}
    assert post(url, {"prompt": "Hi", "session_id": "dash-1", "agent": "chat", "role": "writer"}) == 200
    assert post(url, {"prompt": "Hi", "model": PRO, "agent": "chat", "role": "critic"}) == 200
    assert post(url, {"prompt": "Hi", "session_id": "dash-2", "stream": True}) == 200
    assert post(url, {"prompt": "Weather in Oslo?", "session_id": "dash-1", "agent": "weather"}) == 200
    assert post(url, {"prompt": "Hi", "model": "no-such-model"}) == 422
    for code in (500, 429):  # a model failure opens the breaker; after its cooldown a success closes it
        fake.fail_next(code)
        assert post(url, {"prompt": "Hi", "model": PRO, "agent": "flaky"}) == 502
        time.sleep(0.3)
        assert post(url, {"prompt": "Hi", "model": PRO, "agent": "flaky"}) == 200


# ------------------------------------------------------------------------------ the queries


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{prometheus_url}/api/v1/query?query={urllib.parse.quote(promql)}", timeout=10)
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", (promql, answer)
    return list(answer["data"]["result"])


def label_values(prometheus_url: str, definition: str) -> list[str]:
    """What Grafana's ``label_values(selector, label)`` variable query lists."""
    selector, label = definition[len("label_values(") : -1].rsplit(",", 1)
    match = urllib.parse.quote(selector)
    status, body = http_get(f"{prometheus_url}/api/v1/label/{label.strip()}/values?match[]={match}", timeout=10)
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", (definition, answer)
    return list(answer["data"])


def has_data(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


def substitute(expr: str, job: str) -> str:
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$job", job).replace("$instance", ".+")


def targets() -> list[tuple[str, str, str]]:
    """Every query of every panel of every dashboard: (panel title, refId, expr)."""
    doc = dashboard("all")
    return [(p["title"], t["refId"], t["expr"]) for p in doc["panels"] if p["type"] != "row" for t in p["targets"]]


def test_every_panel_query_returns_data(tmp_path: Path, llm_server: Server, extra: Extra, fake: FakeGemini) -> None:
    started = time.monotonic()
    with prometheus(CONFIG.format(llm=llm_server.port, extra=extra.port), tmp_path) as prom:
        # two rounds of traffic a few scrapes apart: a rate needs an increase between two scrapes
        deadline = time.monotonic() + 20
        while len(query(prom.url, "up == 1")) < 2:
            assert time.monotonic() < deadline, query(prom.url, "up")
            time.sleep(0.2)
        for _ in range(2):
            llm_traffic(llm_server.url, fake)
            extra.traffic()
            time.sleep(2.5)
        # the variables as Grafana sends them, the job: the example server alone, then both
        missing: dict[str, list[tuple[str, str, str]]] = {"(llm)": [], "(llm|extra)": []}
        for job, todo in missing.items():
            for title, ref, expr in targets():
                promql = substitute(expr, job)
                deadline = time.monotonic() + (5 if job == "(llm|extra)" else 0)
                while not has_data(query(prom.url, promql)) and time.monotonic() < deadline:
                    time.sleep(0.5)
                if not has_data(query(prom.url, promql)):
                    todo.append((title, ref, promql))
        # the job and instance variables list what Grafana would offer
        for kind in ("http", "llm", "agents", "process", "all"):
            job, instance = (v["definition"] for v in dashboard(kind)["templating"]["list"][1:])
            assert "llm" in label_values(prom.url, job), (kind, job)
            assert label_values(prom.url, instance.replace("$job", "llm")) == [f"127.0.0.1:{llm_server.port}"]
    assert missing["(llm|extra)"] == [], "\n".join(map(str, missing["(llm|extra)"]))
    from_extra = {(title, ref) for title, ref, _ in missing["(llm)"]}
    assert from_extra <= EXTRA_QUERIES, f"no data from the example server: {sorted(from_extra - EXTRA_QUERIES)}"
    assert time.monotonic() - started < 60
