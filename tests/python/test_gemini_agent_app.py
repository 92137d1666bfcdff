"""examples/agent_app.py: the demo agent against its built-in fake Gemini server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from fastprom.registry import CollectorRegistry  # noqa: E402

APP_PATH = Path(__file__).resolve().parents[2] / "examples" / "agent_app.py"
AGENT = {"gen_ai_agent_name": "weather-agent"}
GEMINI = {
    "gen_ai_operation_name": "generate_content",
    "gen_ai_provider_name": "gcp.gemini",
    "gen_ai_request_model": "gemini-2.5-flash",
    **AGENT,
}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_app", APP_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_importing_the_example_registers_nothing() -> None:
    from fastprom import REGISTRY

    before = {m.name for m in REGISTRY.collect()}
    load_example()
    assert {m.name for m in REGISTRY.collect()} == before


def test_agent_app_records_gemini_and_agent_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("FAKE_GEMINI_URL", raising=False)
    registry = CollectorRegistry()
    app = load_example().create_app(registry=registry)
    with TestClient(app) as http:
        answer = http.get("/ask", params={"question": "Weather in Paris?"})
        assert answer.status_code == 200
        assert answer.json() == {"answer": "Hello from the fake Gemini.", "tool_calls": ["get_weather"]}
        streamed = http.get("/stream", params={"question": "hi"})
        assert streamed.text == "Hello stream"
        exposition = http.get("/metrics").text
    get = registry.get_sample_value
    # two calls in the /ask task (plan, then answer with the tool result) and one stream
    assert get("gen_ai_client_requests_total", {**GEMINI, "outcome": "success", "error_type": ""}) == 3
    assert get("gen_ai_client_tokens_total", {**GEMINI, "gen_ai_token_type": "input"}) == 3 * 1200
    assert get("gen_ai_client_operation_time_to_first_chunk_seconds_count", GEMINI) == 1
    tool = {**AGENT, "gen_ai_tool_name": "get_weather", "outcome": "success", "error_type": ""}
    assert get("gen_ai_agent_tool_calls_total", tool) == 1
    assert get("gen_ai_agent_tasks_total", {**AGENT, "outcome": "success", "error_type": ""}) == 1
    for step in ("plan", "answer"):
        labels = {**AGENT, "gen_ai_agent_step": step, "outcome": "success", "error_type": ""}
        assert get("gen_ai_agent_steps_total", labels) == 1
    for name in ("gen_ai_client_cost_usd_total", "gen_ai_invoke_agent_duration_seconds_count"):
        assert name in exposition
