"""A small Gemini agent behind FastAPI, instrumented with fastprom.

    uvicorn examples.agent_app:app --port 8000
    curl 'localhost:8000/ask?question=Weather+in+Paris%3F'
    curl 'localhost:8000/stream?question=Hello'
    curl localhost:8000/metrics

Where the agent's Gemini calls go:

* ``GEMINI_API_KEY`` set: the real Gemini Developer API (model ``GEMINI_MODEL``, default
  ``gemini-2.5-flash``);
* else ``FAKE_GEMINI_URL`` set: a fake server already running there
  (``python -m fastprom.testing.fake_gemini --port 8089``);
* else: a local fake Gemini server started with the app and stopped with it. No network is used.

``/metrics`` shows the Gemini series (requests, tokens by type, cost, latency, time to first chunk)
and the agent series (tasks, steps, tool calls). HTTP metrics come from ``fastprom.fastapi`` when
it is available.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from google import genai
from google.genai import types

from fastprom import REGISTRY, CollectorRegistry, gemini
from fastprom.agents import AgentMetrics
from fastprom.testing import FakeGemini

AGENT_NAME = "weather-agent"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def get_weather(city: str) -> str:
    """The agent's one tool; a real agent would call a weather service here."""
    return f"sunny, 21 °C in {city}"


def create_app(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> FastAPI:
    """The agent app. Arguments override the environment variables described in the module
    docstring; metrics are registered in ``registry`` when the app starts."""
    api_key = api_key or os.environ.get("GEMINI_API_KEY")
    base_url = base_url or (None if api_key else os.environ.get("FAKE_GEMINI_URL"))
    model_name = model or os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        fake = None
        url = base_url
        if not api_key and not url:
            fake = FakeGemini().start()
            fake.function_args = {"city": "Paris"}
            url = fake.url
        http_options = types.HttpOptions(base_url=url, api_version="v1beta") if url else None
        client = genai.Client(api_key=api_key or "fake-key", http_options=http_options)
        state["client"] = gemini.instrument(client, registry=registry, labels={"gen_ai_agent_name": AGENT_NAME})
        state["agent"] = AgentMetrics(AGENT_NAME, registry=registry)
        try:
            yield
        finally:
            gemini.uninstrument(client)
            if fake is not None:
                fake.stop()

    app = FastAPI(title="fastprom Gemini agent demo", lifespan=lifespan)

    @app.get("/ask")
    async def ask(question: str) -> dict[str, Any]:
        """One agent task: ask the model, run the tools it calls, and ask again with their results."""
        client, agent = state["client"], state["agent"]
        config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
        contents: list[Any] = [types.Content(role="user", parts=[types.Part.from_text(text=question)])]
        with agent.task():
            with agent.step("plan"):
                response = await client.aio.models.generate_content(model=model_name, contents=contents, config=config)
            calls = response.function_calls or []
            if calls:
                results = []
                for call in calls:
                    with agent.tool(call.name or "unknown"):
                        result = get_weather(**(call.args or {}))
                    results.append(types.Part.from_function_response(name=call.name, response={"result": result}))
                contents += [response.candidates[0].content, types.Content(role="user", parts=results)]
                with agent.step("answer"):
                    response = await client.aio.models.generate_content(
                        model=model_name, contents=contents, config=config
                    )
        return {"answer": response.text, "tool_calls": [call.name for call in calls]}

    @app.get("/stream")
    async def stream(question: str) -> StreamingResponse:
        """The model's answer, streamed as plain text."""
        chunks = await state["client"].aio.models.generate_content_stream(model=model_name, contents=question)

        async def text() -> AsyncIterator[str]:
            async for chunk in chunks:
                yield chunk.text or ""

        return StreamingResponse(text(), media_type="text/plain")

    try:
        from fastprom.fastapi import instrument as instrument_http
    except ImportError:  # fastprom.fastapi is not available: serve /metrics directly
        from fastapi.responses import Response

        from fastprom import CONTENT_TYPE_LATEST, generate_latest

        @app.get("/metrics")
        def metrics() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    else:
        instrument_http(app) if registry is REGISTRY else instrument_http(app, registry=registry)
    return app


app = create_app()
