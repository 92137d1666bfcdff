"""InstrumentedGeminiModel (legacy google-generativeai and google-genai), track(), and price tables."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import run_closing

from fastprom import gemini
from fastprom._pricing import PriceTable, load_price_table
from fastprom.registry import CollectorRegistry
from fastprom.testing import FakeGemini, Usage

MODEL = "gemini-2.5-flash"
M = 1e6


def sample(registry: CollectorRegistry, name: str, model: str = MODEL, **labels: str) -> float | None:
    base = {
        "gen_ai_operation_name": "generate_content",
        "gen_ai_provider_name": "gcp.gemini",
        "gen_ai_request_model": model,
    }
    return registry.get_sample_value(name, {**base, **labels})


def tokens(registry: CollectorRegistry, kind: str) -> float | None:
    return sample(registry, "gen_ai_client_tokens_total", gen_ai_token_type=kind)


def requests(registry: CollectorRegistry, outcome: str = "success", error: str = "") -> float | None:
    return sample(registry, "gen_ai_client_requests_total", outcome=outcome, error_type=error)


@pytest.fixture
def legacy(fake: FakeGemini) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package announces its deprecation on import
        genai_legacy = pytest.importorskip("google.generativeai", reason="google-generativeai is not installed")
    genai_legacy.configure(api_key="test-key", transport="rest", client_options={"api_endpoint": fake.url})
    yield genai_legacy
    with warnings.catch_warnings():
        # The legacy SDK leaves the HTTP connection of an abandoned stream open (with or without
        # fastprom); collect it here, where its ResourceWarning is expected, not in a later test.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# The legacy usage object keeps prompt, candidates, cached and total only; thinking is in the total.
LEGACY_COST = ((1200 - 200) * 0.30 + 200 * 0.03 + (1600 - 1200) * 2.50) / M


def test_legacy_generate_content(legacy: Any, registry: CollectorRegistry) -> None:
    model = gemini.InstrumentedGeminiModel(legacy.GenerativeModel(MODEL), registry=registry)
    response = model.generate_content("hi")
    assert response.text == "Hello from the fake Gemini." and model.model_name == f"models/{MODEL}"
    assert tokens(registry, "input") == 1200 and tokens(registry, "output") == 400
    assert tokens(registry, "cached") == 200 and tokens(registry, "reasoning") is None
    assert sample(registry, "gen_ai_client_cost_usd_total") == pytest.approx(LEGACY_COST, rel=1e-12)
    assert requests(registry) == 1


def test_legacy_stream(legacy: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    model = gemini.InstrumentedGeminiModel(legacy.GenerativeModel(MODEL), registry=registry)
    response = model.generate_content("hi", stream=True)
    assert isinstance(response, legacy.types.GenerateContentResponse)
    assert sample(registry, "gen_ai_client_operations_in_flight") == 1
    text = "".join(chunk.text for chunk in response)
    assert text == "Hello stream" and response.usage_metadata.candidates_token_count == 300
    assert tokens(registry, "input") == 1200 and tokens(registry, "output") == 400  # last chunk, not summed
    assert requests(registry) == 1
    assert sample(registry, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == 1
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0
    list(response)  # iterating again records nothing more
    assert requests(registry) == 1

    partial = model.generate_content("hi", stream=True)
    next(iter(partial))
    del partial
    gc.collect()
    assert requests(registry, outcome="closed") == 1
    assert tokens(registry, "output") == 400 + (100 + 100)  # the first chunk: 100 candidates, hidden 100


def test_legacy_responses_give_text_bytes_tools_and_the_session(
    legacy: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    """The legacy SDK's proto-plus responses walk like google-genai's: an unset function_call
    reads as an empty (false) message, a set one as true."""
    from fastprom._spans import SESSION

    class Binding:
        def __init__(self) -> None:
            self.records: list[tuple[Any, ...]] = []

        def record(self, model: str, duration_s: float, ok: bool, *tokens_and_tools: Any) -> None:
            self.records.append((model, ok, *tokens_and_tools))

    model = gemini.InstrumentedGeminiModel(legacy.GenerativeModel(MODEL), registry=registry)
    binding = Binding()
    token = SESSION.set(binding)
    try:
        model.generate_content("hi")
        list(model.generate_content("hi", stream=True))
        fake.function_args = {"city": "Paris"}
        model.generate_content(
            "weather?", tools=[{"function_declarations": [{"name": "get_weather", "description": "Weather."}]}]
        )
    finally:
        SESSION.reset(token)
    legacy_ok = (MODEL, True, 1200, 400, 1600)  # legacy usage: output = total - prompt
    assert binding.records == [(*legacy_ok, False), (*legacy_ok, False), (*legacy_ok, True)]
    assert sample(registry, "gen_ai_client_response_bytes_total") == len("Hello from the fake Gemini.Hello stream")


def test_legacy_errors(legacy: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    from google.api_core import exceptions

    model = gemini.InstrumentedGeminiModel(legacy.GenerativeModel(MODEL), registry=registry)
    fake.fail_next(429, 500)
    with pytest.raises(exceptions.TooManyRequests):
        model.generate_content("hi")
    with pytest.raises(exceptions.InternalServerError):
        model.generate_content("hi", stream=True)
    assert requests(registry, outcome="error", error="429") == 1
    assert requests(registry, outcome="error", error="500") == 1
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


def test_wrapper_over_google_genai_client(fake: FakeGemini, registry: CollectorRegistry) -> None:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    gemini.instrument(client, registry=registry)  # the wrapper must not count these calls twice
    model = gemini.InstrumentedGeminiModel(client, model_name=MODEL, registry=registry)
    model.generate_content("hi")
    chunks = list(model.generate_content("hi", stream=True))

    async def run() -> None:
        await model.generate_content_async("hi")
        async for _ in await model.generate_content_async("hi", stream=True):
            pass

    run_closing(client, run)
    client.close()
    assert len(chunks) == 3 and len(fake.requests) == 4
    assert requests(registry) == 4 and tokens(registry, "output") == 4 * 400
    assert sample(registry, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == 2
    with pytest.raises(TypeError, match="model_name"):
        gemini.InstrumentedGeminiModel(client)
    with pytest.raises(TypeError, match="GenerativeModel"):
        gemini.InstrumentedGeminiModel("gemini-2.5-flash")


class FakeResponse:
    """Anything with a google-genai shaped ``usage_metadata``."""

    def __init__(self, prompt: int, candidates: int) -> None:
        self.usage_metadata = type(
            "U",
            (),
            {
                "prompt_token_count": prompt,
                "candidates_token_count": candidates,
                "thoughts_token_count": None,
                "cached_content_token_count": None,
                "tool_use_prompt_token_count": None,
                "total_token_count": prompt + candidates,
            },
        )()


def test_track_decorator_and_context_manager(registry: CollectorRegistry) -> None:
    tracker = gemini.track(MODEL, registry=registry)

    @tracker
    def ask(prompt: str) -> FakeResponse:
        if prompt == "boom":
            raise KeyError(prompt)
        return FakeResponse(10, 5)

    @tracker
    async def ask_async() -> FakeResponse:
        return FakeResponse(20, 5)

    assert isinstance(ask("hi"), FakeResponse)
    asyncio.run(ask_async())
    with pytest.raises(KeyError):
        ask("boom")
    with tracker as call:
        assert call.record(FakeResponse(1, 1)).usage_metadata.prompt_token_count == 1
    with pytest.raises(ValueError), tracker:
        raise ValueError("inside")
    assert requests(registry) == 3 and tokens(registry, "input") == 31 and tokens(registry, "output") == 11
    assert requests(registry, outcome="error", error="KeyError") == 1
    assert requests(registry, outcome="error", error="ValueError") == 1
    assert sample(registry, "gen_ai_client_cost_usd_total") == pytest.approx((31 * 0.30 + 11 * 2.50) / M)


def test_shipped_price_table() -> None:
    table = PriceTable.default()
    assert table.priced_as_of == "2026-06-02" and "pricing" in table.source
    assert table.tier_multiplier("flex") == 0.5 and table.tier_multiplier("PRIORITY") == 1.8
    assert table.tier_multiplier(None) == 1.0
    pro = table.get("models/gemini-2.5-pro")
    assert pro is not None and pro.long_context is not None
    assert pro.cost(prompt=100, cached=0, output=10) == pytest.approx((100 * 1.25 + 10 * 10.0) / M)
    lite = table.get("gemini-2.0-flash-lite")
    assert lite is not None and lite.cost(prompt=100, cached=100, output=0) == pytest.approx(100 * 0.075 / M)
    assert table.get("gemini-9-unknown") is None


def test_price_table_from_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"gemini-2.5-flash": {"input": 9.0, "output": 9.0}}}))
    table = load_price_table(str(path))
    flash = table.get(MODEL)
    assert flash is not None and flash.cost(prompt=1, cached=0, output=1) == pytest.approx(18 / M)
    assert table.get("gemini-2.5-pro") is not None and table.priced_as_of == "2026-06-02"
    assert load_price_table(table) is table


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"models": {}}, "missing keys"),
        ({"priced_as_of": "x", "models": {"m": {"input": 1}}}, "missing keys"),
        ({"priced_as_of": "x", "models": {"m": {"input": -1, "output": 1}}}, "non-negative"),
        ({"priced_as_of": "x", "models": {"m": {"input": 1, "output": 1, "typo": 2}}}, "unknown keys"),
        ({"priced_as_of": "x", "per_tokens": 0, "models": {}}, "per_tokens"),
    ],
)
def test_bad_price_tables_are_rejected(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable.from_mapping(document)


def test_usage_knob_round_trip() -> None:
    body = Usage(prompt=10, cached=None, candidates=2, thoughts=None, tool_use=3).to_json()
    assert body["totalTokenCount"] == 15 and "cachedContentTokenCount" not in body
