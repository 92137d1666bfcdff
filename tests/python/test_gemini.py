"""fastprom.gemini.instrument() with the real google-genai client against the local fake server."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

genai = pytest.importorskip("google.genai", reason="google-genai is not installed (pip install fastprom[gemini])")
from _helpers import run_closing, weather_with_afc  # noqa: E402
from google.genai import errors, types  # noqa: E402

from fastprom import gemini  # noqa: E402
from fastprom.registry import CollectorRegistry  # noqa: E402
from fastprom.testing import FakeGemini, Usage  # noqa: E402

MODEL = "gemini-2.5-flash"
M = 1e6
# gemini-2.5-flash in the shipped table: input 0.30, output 2.50, cached input 0.03, audio 1.00 / 0.10
DEFAULT_COST = ((1200 - 200) * 0.30 + 200 * 0.03 + (300 + 100) * 2.50) / M


_CLIENTS: list[Any] = []


def new_client(url: str, **http: Any) -> Any:
    """A client of the fake server, closed after the test (see close_clients)."""
    options = types.HttpOptions(base_url=url, api_version="v1beta", **http)
    client = genai.Client(api_key="test-key", http_options=options)
    _CLIENTS.append(client)
    return client


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Close the sync connections of the test's clients (run_closing closes the async ones):
    a collected open connection is a ResourceWarning, an error under filterwarnings=error."""
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


@pytest.fixture
def client(fake: FakeGemini, registry: CollectorRegistry) -> Any:
    return gemini.instrument(new_client(fake.url), registry=registry)


def sample(
    registry: CollectorRegistry, name: str, model: str = MODEL, op: str = "generate_content", **labels: str
) -> float | None:
    base = {"gen_ai_operation_name": op, "gen_ai_provider_name": "gcp.gemini", "gen_ai_request_model": model}
    return registry.get_sample_value(name, {**base, **labels})


def tokens(registry: CollectorRegistry, kind: str, **kw: Any) -> float | None:
    return sample(registry, "gen_ai_client_tokens_total", gen_ai_token_type=kind, **kw)


def requests(registry: CollectorRegistry, outcome: str = "success", error: str = "", **kw: Any) -> float | None:
    return sample(registry, "gen_ai_client_requests_total", outcome=outcome, error_type=error, **kw)


def duration_count(registry: CollectorRegistry, error: str = "", **kw: Any) -> float | None:
    return sample(registry, "gen_ai_client_operation_duration_seconds_count", error_type=error, **kw)


def cost(registry: CollectorRegistry, **kw: Any) -> float | None:
    return sample(registry, "gen_ai_client_cost_usd_total", **kw)


def assert_default_usage(registry: CollectorRegistry, calls: int = 1) -> None:
    """The fake's default usage: prompt 1200 (200 cached), candidates 300, thoughts 100."""
    assert tokens(registry, "input") == 1200 * calls
    assert tokens(registry, "output") == 400 * calls  # thinking counts as output...
    assert tokens(registry, "reasoning") == 100 * calls  # ...and as reasoning
    assert tokens(registry, "cached") == 200 * calls
    assert tokens(registry, "tool_use_prompt") is None
    assert sample(registry, "gen_ai_client_token_usage_sum", gen_ai_token_type="input") == 1200 * calls
    assert sample(registry, "gen_ai_client_token_usage_count", gen_ai_token_type="output") == calls
    assert sample(registry, "gen_ai_client_token_usage_bucket", gen_ai_token_type="output", le="256.0") == 0
    assert sample(registry, "gen_ai_client_token_usage_bucket", gen_ai_token_type="output", le="1024.0") == calls
    assert cost(registry) == pytest.approx(DEFAULT_COST * calls, rel=1e-12)
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


def test_generate_content_records_usage_and_cost(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    response = client.models.generate_content(model=MODEL, contents="hi")
    plain_client = new_client(fake.url)  # kept referenced: a collected Client closes its connection
    plain = plain_client.models.generate_content(model=MODEL, contents="hi")
    assert type(response) is type(plain) and response.text == plain.text
    assert response.usage_metadata == plain.usage_metadata
    assert_default_usage(registry)
    assert requests(registry) == 1 and duration_count(registry) == 1
    assert sample(registry, "gen_ai_client_operation_time_to_first_chunk_seconds_count") is None


def test_tool_use_tokens_are_input_and_priced_as_input(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    fake.usage = Usage(prompt=1000, cached=0, candidates=50, thoughts=None, tool_use=300)
    client.models.generate_content(model=MODEL, contents="hi")
    assert tokens(registry, "input") == 1300 and tokens(registry, "tool_use_prompt") == 300
    assert tokens(registry, "output") == 50 and tokens(registry, "reasoning") is None
    assert tokens(registry, "cached") == 0
    assert cost(registry) == pytest.approx((1300 * 0.30 + 50 * 2.50) / M, rel=1e-12)


def test_audio_input_is_priced_at_audio_rates(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    fake.usage = Usage(prompt=1000, cached=300, candidates=10, thoughts=None, prompt_audio=400, cached_audio=100)
    client.models.generate_content(model=MODEL, contents="hi")
    expected = (400 * 0.30 + 300 * 1.00 + 200 * 0.03 + 100 * 0.10 + 10 * 2.50) / M
    assert cost(registry) == pytest.approx(expected, rel=1e-12)


def test_long_context_tier_and_service_tier(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    fake.usage = Usage(prompt=250_000, cached=50_000, candidates=1000, thoughts=500)
    client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    long_cost = (200_000 * 2.50 + 50_000 * 0.25 + 1500 * 15.00) / M
    assert cost(registry, model="gemini-2.5-pro") == pytest.approx(long_cost, rel=1e-12)
    fake.usage = Usage(prompt=200_000, cached=0, candidates=1000, thoughts=None)
    client.models.generate_content(model="gemini-2.5-pro", contents="hi", config={"service_tier": "flex"})
    flex_cost = (200_000 * 1.25 + 1000 * 10.00) / M * 0.5
    assert cost(registry, model="gemini-2.5-pro") == pytest.approx(long_cost + flex_cost, rel=1e-12)


def test_stream_fully_read_records_last_chunk_usage(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    fake.stream_first_delay, fake.stream_gap = 0.15, 0.1
    started = time.perf_counter()
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    elapsed = time.perf_counter() - started
    assert [c.usage_metadata.candidates_token_count for c in chunks] == [100, 200, 300]
    assert_default_usage(registry)  # the last chunk's usage, not the sum of the three
    assert requests(registry) == 1
    ttfc = sample(registry, "gen_ai_client_operation_time_to_first_chunk_seconds_sum")
    total = sample(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="")
    assert ttfc is not None and total is not None
    assert 0.15 <= ttfc < 0.25 and 0.35 <= total <= elapsed


def test_stream_closed_early_records_last_received_usage(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    first = next(stream)
    assert sample(registry, "gen_ai_client_operations_in_flight") == 1
    stream.close()
    assert first.usage_metadata.candidates_token_count == 100
    assert tokens(registry, "output") == 100 + 100 and tokens(registry, "input") == 1200
    assert requests(registry, outcome="closed") == 1 and requests(registry) is None
    assert duration_count(registry) == 1
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


def test_stream_abandoned_is_recorded_when_collected(client: Any, registry: CollectorRegistry) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    next(stream)
    del stream
    gc.collect()
    assert requests(registry, outcome="closed") == 1 and tokens(registry, "output") == 200


def test_unstarted_stream_records_nothing(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    client.models.generate_content_stream(model=MODEL, contents="hi")
    gc.collect()
    assert fake.requests == [] and requests(registry) is None


def test_async_calls(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    async def run() -> list[Any]:
        response = await client.aio.models.generate_content(model=MODEL, contents="hi")
        assert response.usage_metadata.total_token_count == 1600
        chunks = [c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="hi")]
        partial = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
        await partial.__anext__()
        await partial.aclose()
        return chunks

    chunks = run_closing(client, run)
    assert len(chunks) == 3
    assert requests(registry) == 2 and requests(registry, outcome="closed") == 1
    assert tokens(registry, "input") == 3 * 1200 and tokens(registry, "output") == 2 * 400 + 200
    assert sample(registry, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == 2
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


@pytest.mark.parametrize(("status", "error_class"), [(429, errors.ClientError), (500, errors.ServerError)])
def test_api_errors_are_recorded_and_reraised(
    client: Any, fake: FakeGemini, registry: CollectorRegistry, status: int, error_class: type
) -> None:
    fake.fail_next(status)
    with pytest.raises(error_class) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    fake.fail_next(status)
    plain_client = new_client(fake.url)
    with pytest.raises(error_class) as plain:
        plain_client.models.generate_content(model=MODEL, contents="hi")
    assert (raised.value.code, raised.value.status, raised.value.message) == (
        plain.value.code,
        plain.value.status,
        plain.value.message,
    )
    assert duration_count(registry, error=str(status)) == 1
    assert requests(registry, outcome="error", error=str(status)) == 1
    assert requests(registry) is None and duration_count(registry) is None
    assert tokens(registry, "input") is None and cost(registry) is None
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


def test_stream_and_async_errors(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    fake.fail_next(429, 500)
    with pytest.raises(errors.ClientError):
        list(client.models.generate_content_stream(model=MODEL, contents="hi"))

    async def run() -> None:
        with pytest.raises(errors.ServerError):
            await client.aio.models.generate_content(model=MODEL, contents="hi")

    run_closing(client, run)
    assert requests(registry, outcome="error", error="429") == 1
    assert requests(registry, outcome="error", error="500") == 1


def test_timeout_is_recorded_as_timeout(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = gemini.instrument(new_client(fake.url, timeout=100), registry=registry)
    fake.delay = 0.4
    with pytest.raises(Exception) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    assert "Timeout" in type(raised.value).__name__
    assert requests(registry, outcome="error", error="timeout") == 1


def test_response_without_usage_records_no_token_points(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    fake.usage = None
    client.models.generate_content(model=MODEL, contents="hi")
    list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert requests(registry) == 2
    for kind in ("input", "output", "cached", "reasoning"):
        assert tokens(registry, kind) is None
    assert sample(registry, "gen_ai_client_token_usage_count", gen_ai_token_type="input") is None
    assert cost(registry) is None


def test_function_call_response(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    fake.function_args = {"city": "Paris"}
    fake.usage = Usage(prompt=30, cached=None, candidates=9, thoughts=None)
    weather = types.FunctionDeclaration(
        name="get_weather", description="Weather of a city.", parameters_json_schema={"type": "object"}
    )
    response = client.models.generate_content(
        model=MODEL,
        contents="weather?",
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])]),
    )
    assert [(f.name, f.args) for f in response.function_calls] == [("get_weather", {"city": "Paris"})]
    assert tokens(registry, "input") == 30 and tokens(registry, "output") == 9
    assert tokens(registry, "cached") is None
    assert cost(registry) == pytest.approx((30 * 0.30 + 9 * 2.50) / M, rel=1e-12)


def test_automatic_function_calling_records_one_operation(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    response = weather_with_afc(client, fake, MODEL)
    assert response.text == "Hello from the fake Gemini." and len(fake.requests) == 2
    assert requests(registry) == 1
    assert_default_usage(registry)  # the usage the SDK returns: the last HTTP call's


def test_chats_are_counted_once(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    chat = client.chats.create(model=MODEL)
    chat.send_message("hi")
    list(chat.send_message_stream("again"))

    async def run() -> None:
        await client.aio.chats.create(model=MODEL).send_message("hi")

    run_closing(client, run)
    assert len(fake.requests) == 3 and requests(registry) == 3
    assert_default_usage(registry, calls=3)


@pytest.mark.skipif(
    "usage_metadata" not in types.EmbedContentResponse.model_fields,
    reason=f"google-genai {genai.__version__} (the last for Python 3.10 is 2.x) does not read embeddings' usage",
)
def test_embeddings(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    model = "test-embedding-model"
    with pytest.warns(RuntimeWarning, match="no price for model 'test-embedding-model'"):
        result = client.models.embed_content(model=model, contents=["a", "b", "c"])
    assert len(result.embeddings) == 3 and fake.requests[-1].method == "batchEmbedContents"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warns once only
        client.models.embed_content(model=model, contents="d")
    assert tokens(registry, "input", model=model, op="embeddings") == 12 + 4
    assert tokens(registry, "output", model=model, op="embeddings") is None
    assert requests(registry, model=model, op="embeddings") == 2
    assert sample(registry, "gen_ai_client_unpriced_requests_total", model=model, op="embeddings") == 2
    assert cost(registry, model=model, op="embeddings") is None
    fake.embed_tokens_per_text = None
    client.models.embed_content(model=model, contents="e")
    assert requests(registry, model=model, op="embeddings") == 3
    assert tokens(registry, "input", model=model, op="embeddings") == 16


def test_instrument_twice_and_uninstrument(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = new_client(fake.url)
    originals = {name: getattr(client.models, name).__func__ for name in ("generate_content", "embed_content")}
    assert gemini.instrument(client, registry=registry) is client
    gemini.instrument(client, registry=registry)
    client.models.generate_content(model=MODEL, contents="hi")
    assert requests(registry) == 1
    assert gemini.uninstrument(client) is client
    for name, func in originals.items():
        assert getattr(client.models, name).__func__ is func
    for target in (client.models, client.aio.models):
        assert not {"generate_content", "generate_content_stream", "embed_content"} & set(vars(target))
    client.models.generate_content(model=MODEL, contents="hi")
    assert requests(registry) == 1


def test_options_labels_namespace_cost_switch(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = gemini.instrument(
        new_client(fake.url),
        registry=registry,
        namespace="app",
        labels={"gen_ai_agent_name": "planner"},
        record_cost=False,
    )
    client.models.generate_content(model=MODEL, contents="hi")
    labels = {
        "gen_ai_operation_name": "generate_content",
        "gen_ai_provider_name": "gcp.gemini",
        "gen_ai_request_model": MODEL,
        "gen_ai_agent_name": "planner",
    }
    assert registry.get_sample_value("app_gen_ai_client_tokens_total", {**labels, "gen_ai_token_type": "input"}) == 1200
    assert registry.get_sample_value("app_gen_ai_client_cost_usd_total", labels) is None
    with pytest.raises(ValueError, match="same label names"):
        gemini.instrument(new_client(fake.url), registry=registry, namespace="app", labels={"team": "x"})


def test_price_table_extension(fake: FakeGemini, registry: CollectorRegistry) -> None:
    prices = {"models": {"my-tuned-model": {"input": 1.0, "output": 4.0, "cached_input": 0.5}}}
    client = gemini.instrument(new_client(fake.url), registry=registry, price_table=prices)
    client.models.generate_content(model="models/my-tuned-model", contents="hi")
    expected = (1000 * 1.0 + 200 * 0.5 + 400 * 4.0) / M
    assert cost(registry, model="my-tuned-model") == pytest.approx(expected, rel=1e-12)


def test_unknown_model_names_are_capped(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = gemini.instrument(new_client(fake.url), registry=registry, max_models=2, record_cost=False)
    for i in range(5):
        client.models.generate_content(model=f"junk-{i}", contents="hi")
    client.models.generate_content(model=MODEL, contents="hi")  # priced models are always admitted
    assert requests(registry, model="junk-0") == 1 and requests(registry, model="junk-1") == 1
    assert requests(registry, model="junk-2") is None
    assert requests(registry, model=gemini.OVERFLOW_MODEL) == 3
    assert sample(registry, "gen_ai_client_model_label_overflow_total", model=gemini.OVERFLOW_MODEL) == 3
    assert requests(registry) == 1


def test_bad_input_is_rejected(fake: FakeGemini, registry: CollectorRegistry) -> None:
    with pytest.raises(TypeError, match="google.genai.Client"):
        gemini.instrument(object())
    with pytest.raises(ValueError, match="invalid label name"):
        gemini.instrument(new_client(fake.url), registry=registry, labels={"bad-name": "x"})
    with pytest.raises(ValueError, match="reserved"):
        gemini.instrument(new_client(fake.url), registry=registry, labels={"error_type": "x"})
    with pytest.raises(TypeError, match="price_table"):
        gemini.instrument(new_client(fake.url), registry=registry, price_table=42)
    client = gemini.instrument(new_client(fake.url), registry=registry)
    with pytest.raises(TypeError, match="model must be a non-empty str"):
        client.models.generate_content(model=None, contents="hi")


def test_async_stream_dropped_unread_counts_as_closed(client: Any, registry: CollectorRegistry) -> None:
    async def run() -> None:
        await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
        gc.collect()

    run_closing(client, run)
    assert requests(registry, outcome="closed") == 1 and tokens(registry, "input") is None
    assert sample(registry, "gen_ai_client_operations_in_flight") == 0


def test_service_tier_option(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = gemini.instrument(new_client(fake.url), registry=registry, service_tier="priority")
    client.models.generate_content(model=MODEL, contents="hi")
    assert cost(registry) == pytest.approx(DEFAULT_COST * 1.8, rel=1e-12)


def test_user_patches_survive_instrument_and_uninstrument(fake: FakeGemini, registry: CollectorRegistry) -> None:
    client = new_client(fake.url)
    response = client.models.generate_content(model=MODEL, contents="hi")

    def cached_generate_content(**kwargs: Any) -> Any:
        return response

    client.models.generate_content = cached_generate_content
    gemini.instrument(client, registry=registry)
    assert client.models.generate_content(model=MODEL, contents="hi") is response
    assert requests(registry) == 1 and len(fake.requests) == 1
    gemini.uninstrument(client)
    assert client.models.generate_content is cached_generate_content


def test_concurrent_calls(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fake.delay = 0.02
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: client.models.generate_content(model=MODEL, contents="hi"), range(32)))

    async def run() -> None:
        await asyncio.gather(*(client.aio.models.generate_content(model=MODEL, contents="hi") for _ in range(8)))

    run_closing(client, run)
    assert requests(registry) == 40 and duration_count(registry) == 40
    assert_default_usage(registry, calls=40)
