"""An LLM server on FastAPI and Gemini with everything fastprom serves mounted.

    FASTPROM_INTERNAL_AUTH=change-me uvicorn examples.llm_server:app --port 8000

    curl -X POST localhost:8000/v1/generate -H 'content-type: application/json' \\
         -d '{"prompt": "Hello", "session_id": "abc-123", "agent": "weather", "role": "planner"}'
    curl localhost:8000/api/v1/metrics                      # the status document
    curl -H 'x-internal-auth: change-me' localhost:8000/events/metrics/session/abc-123
    curl -H 'x-internal-auth: change-me' localhost:8000/events/metrics/sessions
    curl -H 'x-internal-auth: change-me' localhost:8000/events/metrics
    curl localhost:8000/metrics                             # Prometheus

``POST /v1/generate`` takes ``{"prompt", "model", "session_id", "agent", "role", "stream"}`` and
answers ``{"text": ...}``, or 502 with the model's error. Each request is one task of its agent
(``"default"`` when none is given), run inside its session and role, so that the Gemini call it
makes is recorded in the session (``fastprom.sessions``), in the agent's and role's figures and in
the status document (``fastprom.status``). The ``weather`` agent has a tool (``get_weather``,
run by google-genai's automatic function calling in a chat: two model calls); the others have none.

Environment:

* ``GEMINI_API_KEY``: the Gemini API key. ``GOOGLE_GEMINI_BASE_URL`` (read by google-genai itself)
  points the client elsewhere, such as the local fake server
  (``python -m fastprom.testing.fake_gemini --port 8089``). With neither, a fake server is
  started with the app and stopped with it: the server works offline.
* ``FASTPROM_INTERNAL_AUTH``: the secret of the session routes (required).
* ``LLM_MODELS``: the configured models, comma-separated, the first being the default
  (``gemini-2.5-flash,gemini-2.5-pro``); a request for another model is refused (422).
* ``LLM_MAX_CONCURRENCY``: model calls in flight at once, the others wait in the queue (8).
* ``LLM_BREAKER_FAILURES`` and ``LLM_BREAKER_COOLDOWN``: consecutive failures that open a model's
  circuit breaker (3), and the seconds it stays open (30).
* ``LLM_MAX_SESSIONS`` and ``LLM_SESSION_TTL``: the sessions kept (10 000, the least recently
  active evicted first) and the seconds an idle one is kept (3 600).
* ``PROMETHEUS_MULTIPROC_DIR``: several workers (``uvicorn --workers 4``, gunicorn); ``/metrics``
  and the status document then show the merged view of every worker. Sessions are kept per
  worker process (see docs/sessions.md).
"""

# No ``from __future__ import annotations``: google-genai reads the tool's annotations to call it,
# and before 3.x it cannot use them as strings.
import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from google import genai
from google.genai import errors, types
from pydantic import BaseModel, Field

from fastprom import gemini
from fastprom.agents import AgentMetrics, role
from fastprom.fastapi import instrument
from fastprom.infra import ServiceMetrics
from fastprom.sessions import MAX_SESSION_ID_LENGTH, SessionStore, session
from fastprom.status import ModelStatus, StatusDocument
from fastprom.testing import FakeGemini
from fastprom.views import add_views

MODELS = [m.strip() for m in os.environ.get("LLM_MODELS", "gemini-2.5-flash,gemini-2.5-pro").split(",") if m.strip()]
MAX_CONCURRENCY = int(os.environ.get("LLM_MAX_CONCURRENCY", "8"))
BREAKER_FAILURES = int(os.environ.get("LLM_BREAKER_FAILURES", "3"))
BREAKER_COOLDOWN = float(os.environ.get("LLM_BREAKER_COOLDOWN", "30"))
SESSION_STORE = SessionStore(
    max_sessions=int(os.environ.get("LLM_MAX_SESSIONS", "10000")),
    ttl=float(os.environ.get("LLM_SESSION_TTL", "3600")),
)
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"  # agent and role names become label values: keep them plain


def get_weather(city: str = "Paris") -> str:
    """The current weather in a city (the weather agent's tool; a real one would call a service)."""
    return f"sunny, 21 °C in {city}"


TOOLS: dict[str, list[Any]] = {"weather": [get_weather]}


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1)
    model: str = Field(default=MODELS[0], min_length=1, max_length=128)
    session_id: str | None = Field(default=None, min_length=1, max_length=MAX_SESSION_ID_LENGTH)
    agent: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME)
    role: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME)
    stream: bool = False


class Breaker:
    """A model's circuit breaker: opened by consecutive failures, half-open after the cooldown (one
    call tries the model), closed by a success. Its state is exported by ``fastprom.infra``, which
    is where the status document reads it."""

    def __init__(self, model: str, service: ServiceMetrics) -> None:
        self.model, self.service = model, service
        self.failures, self.opened = 0, 0.0
        service.set_breaker_state(model, "closed")

    def allow(self) -> bool:
        state = self.service.breaker_state(self.model)
        if state == "open" and time.monotonic() - self.opened >= BREAKER_COOLDOWN:
            self.service.set_breaker_state(self.model, "half-open")
            return True
        return state != "open"

    def succeeded(self) -> None:
        self.failures = 0
        self.service.set_breaker_state(self.model, "closed")

    def failed(self) -> None:
        self.service.breaker_failure(self.model)
        self.failures += 1
        if self.failures >= BREAKER_FAILURES or self.service.breaker_state(self.model) == "half-open":
            self.opened = time.monotonic()
            self.service.set_breaker_state(self.model, "open")


class Server:
    """What the routes share: the instrumented client, breakers, agents and the queue."""

    def __init__(self, client: genai.Client) -> None:
        self.client = gemini.instrument(client)
        self.service = ServiceMetrics()
        self.breakers = {model: Breaker(model, self.service) for model in MODELS}
        self.agents: dict[str, AgentMetrics] = {}
        self.queue = AgentMetrics("llm-server")  # its queue depth is the status document's queue_length
        self.slots = asyncio.Semaphore(MAX_CONCURRENCY)
        self.waiting = 0

    def agent(self, name: str) -> AgentMetrics:
        agent = self.agents.get(name)
        if agent is None:
            agent = AgentMetrics(name)
            if len(self.agents) < 1000:  # names come from requests: keep a bounded number
                self.agents[name] = agent
        return agent

    async def generate(self, req: GenerateRequest) -> str:
        if req.agent in TOOLS:
            # tools run by automatic function calling, which google-genai wants in a chat
            config = types.GenerateContentConfig(tools=TOOLS[req.agent])
            chat = self.client.aio.chats.create(model=req.model, config=config)
            if req.stream:
                return "".join([chunk.text or "" async for chunk in await chat.send_message_stream(req.prompt)])
            return (await chat.send_message(req.prompt)).text or ""
        models = self.client.aio.models
        if req.stream:
            chunks = await models.generate_content_stream(model=req.model, contents=req.prompt)
            return "".join([chunk.text or "" async for chunk in chunks])
        response = await models.generate_content(model=req.model, contents=req.prompt)
        return response.text or ""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    api_key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    fake = None
    options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))  # a failure is an answer
    if not api_key and not os.environ.get("GOOGLE_GEMINI_BASE_URL"):
        fake = FakeGemini().start()
        options.base_url = fake.url
    app.state.server = Server(genai.Client(api_key=api_key or "fake-key", http_options=options))
    try:
        yield
    finally:
        STATUS.online = False
        gemini.uninstrument(app.state.server.client)
        if fake is not None:
            fake.stop()


STATUS = StatusDocument([ModelStatus(model, breaker=model) for model in MODELS])
app = FastAPI(title="fastprom LLM server", lifespan=lifespan)
instrument(app)  # HTTP metrics, and /metrics (the merged view of every worker in multiprocess mode)
add_views(app, status=STATUS, sessions=SESSION_STORE)  # the secret comes from FASTPROM_INTERNAL_AUTH


@app.post("/v1/generate", response_model=None)
async def generate(req: GenerateRequest) -> dict[str, str] | JSONResponse:
    server: Server = app.state.server
    breaker = server.breakers.get(req.model)
    if breaker is None:
        return JSONResponse({"error": f"unknown model {req.model!r}: this server has {MODELS}"}, status_code=422)
    if not breaker.allow():
        return JSONResponse({"error": f"the circuit breaker of {req.model} is open"}, status_code=503)
    server.waiting += 1
    server.queue.set_queue_depth("generate", server.waiting)
    async with server.slots:
        server.waiting -= 1
        server.queue.set_queue_depth("generate", server.waiting)
        agent = server.agent(req.agent or "default")
        try:
            with ExitStack() as scope:  # the session, role and agent task the model call is made in
                if req.session_id is not None:
                    scope.enter_context(session(req.session_id, store=SESSION_STORE))
                if req.role is not None:
                    scope.enter_context(role(req.role))
                scope.enter_context(agent.task())
                text = await server.generate(req)
        except errors.APIError as exc:  # the task ended as failed, with the HTTP status as its error type
            if exc.code == 429 or exc.code >= 500:  # the model's trouble, not the request's
                breaker.failed()
            return JSONResponse({"error": f"{exc.code} {exc.status}: {exc.message}"}, status_code=502)
    breaker.succeeded()
    return {"text": text}
