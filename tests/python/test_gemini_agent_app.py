"""examples/agent_app.py: the demo agent against its built-in fake Gemini server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")
from fastapi.testclient import TestClient  # noqa: E402
from fastprom import REGISTRY  # noqa: E402

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


def value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_agent_app_records_gemini_and_agent_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("FAKE_GEMINI_URL", raising=False)
    app = load_example().create_app()
    ok = {**GEMINI, "outcome": "success", "error_type": ""}
    before_requests = value("gen_ai_client_requests_total", ok)
    before_tools = value(
        "gen_ai_agent_tool_calls_total",
        {**AGENT, "gen_ai_tool_name": "get_weather", "outcome": "success", "error_type": ""},
    )
    before_input = value("gen_ai_client_tokens_total", {**GEMINI, "gen_ai_token_type": "input"})
    with TestClient(app) as http:
        answer = http.get("/ask", params={"question": "Weather in Paris?"})
        assert answer.status_code == 200
        assert answer.json() == {"answer": "Hello from the fake Gemini.", "tool_calls": ["get_weather"]}
        streamed = http.get("/stream", params={"question": "hi"})
        assert streamed.text == "Hello stream"
        exposition = http.get("/metrics").text
    assert value("gen_ai_client_requests_total", ok) - before_requests == 3  # plan, answer, stream
    assert (
        value("gen_ai_client_tokens_total", {**GEMINI, "gen_ai_token_type": "input"}) - before_input
        == 3 * 1200
    )
    assert (
        value(
            "gen_ai_agent_tool_calls_total",
            {**AGENT, "gen_ai_tool_name": "get_weather", "outcome": "success", "error_type": ""},
        )
        - before_tools
        == 1
    )
    for name in (
        "gen_ai_client_cost_usd_total",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
        "gen_ai_invoke_agent_duration_seconds_count",
    ):
        assert name in exposition
