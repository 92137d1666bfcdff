"""What fastprom.gemini records for the JSON views: the session binding's record() call, the role
histogram, response bytes and the last success time, with the real google-genai client against
the local fake server (the binding here is a stand-in for fastprom.sessions' one)."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator
from contextvars import copy_context
from typing import Any, NamedTuple

import pytest

genai = pytest.importorskip("google.genai", reason="google-genai is not installed (pip install fastprom[gemini])")
from _helpers import FIXED_TIME, run_closing  # noqa: E402
from google.genai import errors, types  # noqa: E402

from fastprom import gemini  # noqa: E402
from fastprom._spans import ROLE, SESSION  # noqa: E402
from fastprom.gemini._usage import read_response  # noqa: E402
from fastprom.registry import CollectorRegistry  # noqa: E402
from fastprom.testing import FakeGemini, Usage  # noqa: E402

MODEL = "gemini-2.5-flash"
TEXT = "Hello from the fake Gemini."
BASE = {
    "gen_ai_operation_name": "generate_content",
    "gen_ai_provider_name": "gcp.gemini",
    "gen_ai_request_model": MODEL,
}


class Record(NamedTuple):
    model: str
    duration_s: float
    ok: bool
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    tools: bool


class Binding:
    """A session binding with the contract's record() method, keeping what it was given."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.lock = threading.Lock()

    def record(
        self,
        model: str,
        duration_s: float,
        ok: bool,
        prompt_tokens: int,
        completion_tokens: int,
        total_tokens: int,
        tools: bool,
    ) -> None:
        with self.lock:
            self.records.append(Record(model, duration_s, ok, prompt_tokens, completion_tokens, total_tokens, tools))

    def summary(self) -> list[tuple[Any, ...]]:
        """The records without their durations."""
        return [(r.model, r.ok, r.prompt_tokens, r.completion_tokens, r.total_tokens, r.tools) for r in self.records]


OK = (MODEL, True, 1200, 400, 1600, False)  # the fake's default usage: prompt 1200, output 300 + 100
FAILED = (MODEL, False, 0, 0, 0, False)


_CLIENTS: list[Any] = []


@pytest.fixture
def client(fake: FakeGemini, registry: CollectorRegistry) -> Iterator[Any]:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    yield gemini.instrument(plain, registry=registry)
    plain.close()


@pytest.fixture
def binding() -> Iterator[Binding]:
    """A binding set as the current session (and no role) for the test."""
    b = Binding()
    token = SESSION.set(b)
    yield b
    SESSION.reset(token)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {**BASE, **labels})


def role_count(registry: CollectorRegistry, role: str) -> float | None:
    return value(registry, "gen_ai_client_role_operation_duration_seconds_count", gen_ai_agent_role=role)


def test_sync_call_records_the_session_bytes_and_last_success(
    client: Any, binding: Binding, registry: CollectorRegistry
) -> None:
    response = client.models.generate_content(model=MODEL, contents="hi")
    assert response.text == TEXT
    assert binding.summary() == [OK]
    (record,) = binding.records
    duration = value(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="")
    assert record.duration_s == duration and 0 < record.duration_s < 5
    assert value(registry, "gen_ai_client_response_bytes_total") == len(TEXT)
    assert value(registry, "gen_ai_client_last_success_timestamp_seconds") == FIXED_TIME  # time.time, frozen
    assert role_count(registry, "") is None  # no role: no role series
    assert b"gen_ai_agent_role" not in _exposition(registry)


def _exposition(registry: CollectorRegistry) -> bytes:
    from fastprom.exposition import generate_latest

    return generate_latest(registry)


def test_no_session_no_role_records_as_before(client: Any, registry: CollectorRegistry) -> None:
    assert SESSION.get() is None and ROLE.get() is None
    client.models.generate_content(model=MODEL, contents="hi")
    assert value(registry, "gen_ai_client_requests_total", outcome="success", error_type="") == 1
    assert value(registry, "gen_ai_client_response_bytes_total") == len(TEXT)


def test_role_is_observed_for_every_outcome(client: Any, fake: FakeGemini, registry: CollectorRegistry) -> None:
    token = ROLE.set("coder")
    try:
        client.models.generate_content(model=MODEL, contents="hi")
        fake.fail_next(500)
        with pytest.raises(errors.ServerError):
            client.models.generate_content(model=MODEL, contents="hi")
    finally:
        ROLE.reset(token)
    client.models.generate_content(model=MODEL, contents="hi")  # no role: not observed
    assert role_count(registry, "coder") == 2
    durations = value(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="")
    failed = value(registry, "gen_ai_client_operation_duration_seconds_sum", error_type="500")
    role_sum = value(registry, "gen_ai_client_role_operation_duration_seconds_sum", gen_ai_agent_role="coder")
    assert durations is not None and failed is not None and role_sum is not None
    assert 0 < role_sum < durations + failed  # the first success and the failure, not the last call


@pytest.mark.parametrize("status", [429, 500])
def test_failures_record_a_failed_request(
    client: Any, fake: FakeGemini, binding: Binding, registry: CollectorRegistry, status: int
) -> None:
    fake.fail_next(status)
    with pytest.raises(errors.APIError):
        client.models.generate_content(model=MODEL, contents="hi")
    fake.fail_next(status)
    with pytest.raises(errors.APIError):
        list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert binding.summary() == [FAILED, FAILED]
    assert all(r.duration_s > 0 for r in binding.records)
    assert value(registry, "gen_ai_client_last_success_timestamp_seconds") is None
    assert value(registry, "gen_ai_client_response_bytes_total") is None


def test_streams_count_every_chunk_and_take_the_session_at_their_start(
    client: Any, fake: FakeGemini, registry: CollectorRegistry
) -> None:
    fake.stream_pieces = ("Grüß ", "dich ", "😀")
    started_in, read_in = Binding(), Binding()
    token, role = SESSION.set(started_in), ROLE.set("writer")
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    SESSION.reset(token)
    ROLE.reset(role)
    token = SESSION.set(read_in)
    try:
        chunks = list(stream)
    finally:
        SESSION.reset(token)
    assert len(chunks) == 3
    assert started_in.summary() == [OK] and read_in.records == []
    assert value(registry, "gen_ai_client_response_bytes_total") == len("Grüß dich 😀".encode())
    assert role_count(registry, "writer") == 1


def test_async_calls_and_streams(client: Any, fake: FakeGemini, binding: Binding, registry: CollectorRegistry) -> None:
    async def run() -> None:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
        async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents="hi"):
            pass
        fake.fail_next(429)
        with pytest.raises(errors.ClientError):
            await client.aio.models.generate_content(model=MODEL, contents="hi")

    run_closing(client, run)
    assert binding.summary() == [OK, OK, FAILED]
    assert value(registry, "gen_ai_client_response_bytes_total") == len(TEXT) + len("Hello stream")


def test_asyncio_tasks_record_into_their_own_sessions(client: Any, fake: FakeGemini) -> None:
    sessions = [Binding() for _ in range(10)]

    async def one(b: Binding) -> None:
        SESSION.set(b)  # in this task's copy of the context only
        await asyncio.sleep(0)
        await client.aio.models.generate_content(model=MODEL, contents="hi")

    async def run() -> None:
        await asyncio.gather(*(one(b) for b in sessions))

    run_closing(client, run)
    assert [b.summary() for b in sessions] == [[OK]] * 10
    assert SESSION.get() is None


def test_threads_run_in_a_copied_context_record_into_the_session(client: Any, binding: Binding) -> None:
    threads = [threading.Thread(target=copy_context().run, args=(_call, client)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert binding.summary() == [OK] * 4


def _call(client: Any) -> None:
    client.models.generate_content(model=MODEL, contents="hi")


def test_closed_stream_is_not_a_success(client: Any, binding: Binding, registry: CollectorRegistry) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    next(stream)
    stream.close()
    # the usage of the chunk received (output 100 + thoughts 100), not a success
    assert binding.summary() == [(MODEL, False, 1200, 200, 1400, False)]
    assert value(registry, "gen_ai_client_response_bytes_total") == len("Hel")
    assert value(registry, "gen_ai_client_last_success_timestamp_seconds") is None


def test_function_call_response_uses_tools(client: Any, fake: FakeGemini, binding: Binding) -> None:
    fake.usage = Usage(prompt=30, cached=None, candidates=9, thoughts=None, tool_use=5)
    weather = types.FunctionDeclaration(name="get_weather", description="Weather.", parameters_json_schema={})
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])])
    client.models.generate_content(model=MODEL, contents="weather?", config=config)
    # prompt includes the tool-use prompt, as gen_ai_client_tokens_total{input} does
    assert binding.summary() == [(MODEL, True, 35, 9, 44, True)]


def test_automatic_function_calling_uses_tools(client: Any, fake: FakeGemini, binding: Binding) -> None:
    def get_weather(city: str) -> str:
        """Return the weather of a city."""
        return f"sunny in {city}"

    fake.function_args = {"city": "Paris"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = client.models.generate_content(
            model=MODEL, contents="weather?", config=types.GenerateContentConfig(tools=[get_weather])
        )
    assert response.text == TEXT and response.function_calls is None  # the final answer has no call
    assert binding.summary() == [(*OK[:5], True)]


def test_no_usage_records_zero_tokens(client: Any, fake: FakeGemini, binding: Binding) -> None:
    fake.usage = None
    client.models.generate_content(model=MODEL, contents="hi")
    assert binding.summary() == [(MODEL, True, 0, 0, 0, False)]


def test_a_stream_chunk_with_a_function_call_uses_tools(fake: FakeGemini, registry: CollectorRegistry) -> None:
    """The fake streams text only: a client whose transport yields real response objects."""
    function_call = types.Part(function_call=types.FunctionCall(name="f"))
    call = types.GenerateContentResponse(
        candidates=[types.Candidate(content=types.Content(role="model", parts=[function_call]))]
    )
    text = types.GenerateContentResponse(
        candidates=[types.Candidate(content=types.Content(role="model", parts=[types.Part(text="ok")]))]
    )
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    try:
        plain.models.generate_content_stream = lambda **kwargs: iter([text, call, text])
        client = gemini.instrument(plain, registry=registry)
        b = Binding()
        token = SESSION.set(b)
        try:
            assert len(list(client.models.generate_content_stream(model=MODEL, contents="hi"))) == 3
        finally:
            SESSION.reset(token)
    finally:
        plain.close()
    assert b.summary() == [(MODEL, True, 0, 0, 0, True)]
    assert value(registry, "gen_ai_client_response_bytes_total") == 4


def test_read_response_walks_real_response_objects() -> None:
    part = types.Part
    usage = types.GenerateContentResponseUsageMetadata(total_token_count=3)
    response = types.GenerateContentResponse(
        usage_metadata=usage,
        candidates=[
            types.Candidate(content=types.Content(parts=[part(text="ab"), part(text="é"), part(thought=True)])),
            types.Candidate(content=None),
            types.Candidate(content=types.Content(parts=None)),
            types.Candidate(
                content=types.Content(parts=[part(text="c"), part(function_call=types.FunctionCall(name="f"))])
            ),
        ],
    )
    assert read_response(response) == (usage, 2 + 2 + 1, True)
    assert read_response(types.GenerateContentResponse()) == (None, 0, False)
    assert read_response(None) == (None, 0, False)
    history = types.GenerateContentResponse(automatic_function_calling_history=[types.Content(parts=[part(text="x")])])
    assert read_response(history) == (None, 0, True)
    assert read_response(types.GenerateContentResponse(automatic_function_calling_history=[])) == (None, 0, False)

    class Plain:  # any object with the same attributes (what track() may be handed)
        usage_metadata = usage
        candidates = response.candidates

    assert read_response(Plain()) == (usage, 5, True)


def test_embeddings_record_into_the_session(fake: FakeGemini, binding: Binding, registry: CollectorRegistry) -> None:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    try:
        client = gemini.instrument(plain, registry=registry, record_cost=False)  # the model has no price
        client.models.embed_content(model="text-embedding-004", contents="hi")
    finally:
        plain.close()
    assert [(r.model, r.ok, r.tools) for r in binding.records] == [("text-embedding-004", True, False)]
    bytes_of_embeddings = registry.get_sample_value(
        "gen_ai_client_response_bytes_total",
        {**BASE, "gen_ai_operation_name": "embeddings", "gen_ai_request_model": "text-embedding-004"},
    )
    assert bytes_of_embeddings is None


def test_track_and_instrumented_model_record_into_the_session(
    fake: FakeGemini, binding: Binding, registry: CollectorRegistry
) -> None:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    try:
        model = gemini.InstrumentedGeminiModel(plain, model_name=MODEL, registry=registry)
        model.generate_content("hi")
        list(model.generate_content("hi", stream=True))
        with gemini.track(MODEL, registry=registry) as call:
            call.record(plain.models.generate_content(model=MODEL, contents="hi"))

        @gemini.track(MODEL, registry=registry)
        def ask() -> Any:
            return plain.models.generate_content(model=MODEL, contents="hi")

        ask()
        fake.fail_next(500)
        with pytest.raises(errors.ServerError), gemini.track(MODEL, registry=registry) as call:
            call.record(plain.models.generate_content(model=MODEL, contents="hi"))
    finally:
        plain.close()
    assert binding.summary() == [OK, OK, OK, OK, FAILED]
    assert value(registry, "gen_ai_client_response_bytes_total") == 3 * len(TEXT) + len("Hello stream")


def test_abandoned_stream_records_its_session_when_collected(client: Any, binding: Binding) -> None:
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    next(stream)
    del stream
    gc.collect()
    assert binding.summary() == [(MODEL, False, 1200, 200, 1400, False)]


def test_the_role_label_is_reserved(fake: FakeGemini, registry: CollectorRegistry) -> None:
    plain = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    try:
        with pytest.raises(ValueError, match="gen_ai_agent_role"):
            gemini.instrument(plain, registry=registry, labels={"gen_ai_agent_role": "x"})
    finally:
        plain.close()
