"""Prometheus metrics for Gemini calls, named after the OpenTelemetry GenAI conventions.

Three ways in, all recording the same metrics:

* :func:`instrument` patches a google-genai ``Client`` instance (sync, async, streams, chats,
  embeddings); :func:`uninstrument` undoes it.
* :class:`InstrumentedGeminiModel` wraps a legacy ``google.generativeai.GenerativeModel`` or a
  google-genai ``Client`` bound to one model, for code that cannot be patched.
* :func:`track` is a decorator and context manager for any function returning a Gemini response.

The SDKs are imported lazily, never by this module. See ``docs/gemini.md`` for what each metric
records, and for the accounting rules (thinking, cached tokens, streams, automatic function calling).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from fastprom._pricing import PriceSource, PriceTable, load_price_table
from fastprom.metrics import Counter, Gauge, Histogram
from fastprom.registry import REGISTRY, CollectorRegistry

__all__ = [
    "DURATION_BUCKETS",
    "OVERFLOW_MODEL",
    "TOKEN_BUCKETS",
    "GeminiTracker",
    "InstrumentedGeminiModel",
    "PriceTable",
    "instrument",
    "track",
    "uninstrument",
]

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ..., 67108864
OVERFLOW_MODEL = "_other"
"""The ``gen_ai_request_model`` value of every model past the cap of unpriced model names."""

_BASE_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_SUCCESS, _ERROR, _CLOSED = "success", "error", "closed"
_GENERATE, _EMBED = "generate_content", "embeddings"
_PATCHED = ("generate_content", "generate_content_stream", "embed_content")
_MARK = "_fastprom_gemini"

F = TypeVar("F", bound=Callable[..., Any])


class GeminiMetrics:
    """The metric families, registered once per registry and namespace and shared by every
    instrumentation that records into them."""

    def __init__(self, registry: CollectorRegistry | None, namespace: str, label_names: tuple[str, ...]):
        common = (*_BASE_LABELS, *label_names)
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry}
        self.label_names = label_names
        self.duration = Histogram(
            "gen_ai_client_operation_duration",
            "Duration of GenAI client operations.",
            (*common, "error_type"),
            unit="seconds",
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.time_to_first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk",
            "Time from the start of a streamed GenAI operation to its first chunk.",
            common,
            unit="seconds",
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per GenAI operation, input and output.",
            (*common, "gen_ai_token_type"),
            buckets=TOKEN_BUCKETS,
            **kw,
        )
        self.tokens = Counter(
            "gen_ai_client_tokens",
            "Tokens used, by type: input, output, cached (part of input), reasoning (part of output), "
            "tool_use_prompt (part of input).",
            (*common, "gen_ai_token_type"),
            **kw,
        )
        self.requests = Counter(
            "gen_ai_client_requests",
            "GenAI operations by outcome (success, error, closed) and error type.",
            (*common, "outcome", "error_type"),
            **kw,
        )
        self.cost = Counter("gen_ai_client_cost_usd", "Estimated cost of GenAI operations in USD.", common, **kw)
        self.unpriced = Counter(
            "gen_ai_client_unpriced_requests", "GenAI operations whose model has no price.", common, **kw
        )
        self.in_flight = Gauge(
            "gen_ai_client_operations_in_flight", "GenAI operations started and not finished.", common, **kw
        )
        self.model_overflow = Counter(
            "gen_ai_client_model_label_overflow",
            f"GenAI operations recorded under gen_ai_request_model={OVERFLOW_MODEL!r} because the cap of "
            "distinct unpriced model names was reached.",
            common,
            **kw,
        )
        self.admitted_models: set[str] = set()
        self.lock = threading.Lock()


_METRIC_SETS: dict[tuple[int, str], tuple[CollectorRegistry | None, GeminiMetrics]] = {}
_METRIC_SETS_LOCK = threading.Lock()
_WARNED_UNPRICED: set[str] = set()
_ERROR_TYPES: dict[type, str] = {}


def _metrics_for(registry: CollectorRegistry | None, namespace: str, label_names: tuple[str, ...]) -> GeminiMetrics:
    key = (id(registry), namespace)
    with _METRIC_SETS_LOCK:
        entry = _METRIC_SETS.get(key)
        if entry is None:
            entry = _METRIC_SETS[key] = (registry, GeminiMetrics(registry, namespace, label_names))
    metrics = entry[1]
    if metrics.label_names != label_names:
        raise ValueError(
            f"the Gemini metrics of this registry and namespace {namespace!r} already have the extra labels "
            f"{list(metrics.label_names)}, not {list(label_names)}: every instrumentation sharing a registry "
            "and namespace must pass the same label names"
        )
    return metrics


def error_type(exc: BaseException) -> str:
    """The low-cardinality ``error_type`` of an exception: the HTTP status for SDK API errors
    (``"429"``, ``"500"``), ``"timeout"`` for timeouts, else the exception class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 100 <= code <= 599:
        return str(int(code))
    cls = type(exc)
    name = _ERROR_TYPES.get(cls)
    if name is None:
        timeout = issubclass(cls, TimeoutError) or any("Timeout" in k.__name__ for k in cls.__mro__)
        name = _ERROR_TYPES[cls] = "timeout" if timeout else cls.__name__
    return name


class _Usage:
    """Token counts of one response, normalised across SDKs; ``None`` means not reported."""

    __slots__ = ("prompt", "cached", "output", "reasoning", "tool_use", "prompt_audio", "cached_audio")

    def __init__(self, metadata: Any) -> None:
        self.prompt: int | None = getattr(metadata, "prompt_token_count", None)
        self.cached: int | None = getattr(metadata, "cached_content_token_count", None)
        self.prompt_audio = _audio(getattr(metadata, "prompt_tokens_details", None))
        self.cached_audio = _audio(getattr(metadata, "cache_tokens_details", None))
        self.output: int | None
        self.reasoning: int | None
        self.tool_use: int | None
        if not hasattr(metadata, "thoughts_token_count"):
            # Legacy google-generativeai: only prompt, candidates, cached and total survive, and
            # unset counts read as 0. The total still holds thinking and tool-use tokens, so they
            # are counted as output and priced at the output rate.
            self.cached = self.cached or None
            self.output = metadata.total_token_count - metadata.prompt_token_count
            self.reasoning = self.tool_use = None
            return
        thoughts: int | None = metadata.thoughts_token_count
        candidates: int | None = getattr(metadata, "candidates_token_count", None)
        if candidates is None:
            candidates = getattr(metadata, "response_token_count", None)  # embeddings' UsageMetadata
        self.reasoning = thoughts
        self.tool_use = getattr(metadata, "tool_use_prompt_token_count", None)
        self.output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)

    @staticmethod
    def of(metadata: Any) -> _Usage | None:
        """The usage in a response's ``usage_metadata``, or ``None`` if it reports none."""
        if metadata is None or not getattr(metadata, "total_token_count", None):
            return None
        return _Usage(metadata)


def _audio(details: Iterable[Any] | None) -> int:
    """The AUDIO share of a ``*_tokens_details`` list (modalities compare equal to their names)."""
    return sum(d.token_count or 0 for d in details if d.modality == "AUDIO") if details else 0


class _Children(dict):  # type: ignore[type-arg]
    """The children of one metric under fixed leading label values, keyed by the remaining
    values (a str, or a tuple for several) and created on first use."""

    __slots__ = ("metric", "labels")

    def __init__(self, metric: Any, labels: tuple[str, ...]) -> None:
        super().__init__()
        self.metric = metric
        self.labels = labels

    def __missing__(self, key: str | tuple[str, ...]) -> Any:
        values = key if isinstance(key, tuple) else (key,)
        child = self[key] = self.metric.labels(*self.labels, *values)
        return child


class _Series:
    """The series of one (operation, model) under one recorder; children are made on first use,
    so that nothing is exported before something is recorded."""

    __slots__ = (
        "recorder",
        "labels",
        "price",
        "overflow",
        "in_flight",
        "duration",
        "requests",
        "tokens",
        "token_usage",
        "ttfc",
        "cost",
        "unpriced",
        "overflowed",
    )

    def __init__(self, recorder: _Recorder, labels: tuple[str, ...], overflow: bool) -> None:
        m = recorder.metrics
        self.recorder = recorder
        self.labels = labels
        self.price = recorder.prices.get(labels[2])
        self.overflow = overflow
        self.in_flight = m.in_flight.labels(*labels)
        self.duration = _Children(m.duration, labels)
        self.requests = _Children(m.requests, labels)
        self.tokens = _Children(m.tokens, labels)
        self.token_usage = _Children(m.token_usage, labels)
        # metrics without further labels: their only child has the key ()
        self.ttfc = _Children(m.time_to_first_chunk, labels)
        self.cost = _Children(m.cost, labels)
        self.unpriced = _Children(m.unpriced, labels)
        self.overflowed = _Children(m.model_overflow, labels)

    def start(self) -> float:
        self.in_flight.inc()
        if self.overflow:
            self.overflowed[()].inc()
        return time.perf_counter()

    def first_chunk(self, started: float) -> None:
        self.ttfc[()].observe(time.perf_counter() - started)

    def fail(self, started: float, exc: BaseException) -> None:
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        kind = error_type(exc)
        self.duration[kind].observe(elapsed)
        self.requests[(_ERROR, kind)].inc()

    def finish(self, started: float, usage: _Usage | None, tier: str | None, outcome: str = _SUCCESS) -> None:
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        self.duration[""].observe(elapsed)
        self.requests[(outcome, "")].inc()
        if usage is None:
            return
        tokens = self.tokens
        if usage.prompt is not None:
            n = usage.prompt + (usage.tool_use or 0)
            tokens["input"].inc(n)
            self.token_usage["input"].observe(n)
        if usage.output is not None:
            tokens["output"].inc(usage.output)
            self.token_usage["output"].observe(usage.output)
        if usage.cached is not None:
            tokens["cached"].inc(usage.cached)
        if usage.reasoning is not None:
            tokens["reasoning"].inc(usage.reasoning)
        if usage.tool_use is not None:
            tokens["tool_use_prompt"].inc(usage.tool_use)
        if self.recorder.record_cost and usage.prompt is not None:
            self._record_cost(usage, tier)

    def _record_cost(self, usage: _Usage, tier: str | None) -> None:
        if self.price is None:
            self.unpriced[()].inc()
            model = self.labels[2]
            if model not in _WARNED_UNPRICED:
                _WARNED_UNPRICED.add(model)
                warnings.warn(
                    f"fastprom.gemini: no price for model {model!r}; its cost is not recorded "
                    "(add it with the price_table option)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return
        cost = self.price.cost(
            prompt=usage.prompt or 0,
            cached=usage.cached or 0,
            output=usage.output or 0,
            tool_use=usage.tool_use or 0,
            prompt_audio=usage.prompt_audio,
            cached_audio=usage.cached_audio,
        )
        self.cost[()].inc(cost * self.recorder.prices.tier_multiplier(tier))


class _Recorder:
    """Options of one instrumentation, and its cache of series."""

    def __init__(
        self,
        *,
        provider: str,
        registry: CollectorRegistry | None = REGISTRY,
        namespace: str = "",
        labels: Mapping[str, str] | None = None,
        price_table: PriceSource = None,
        record_cost: bool = True,
        max_models: int = 20,
        service_tier: str | None = None,
    ) -> None:
        labels = dict(labels or {})
        for name, value in labels.items():
            if not isinstance(name, str) or not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r} in labels")
            if name in (*_BASE_LABELS, "error_type", "outcome", "gen_ai_token_type", "le"):
                raise ValueError(f"label name {name!r} in labels is reserved by fastprom.gemini")
            if not isinstance(value, str):
                raise TypeError(f"label {name!r} must have a str value, got {type(value).__name__}")
        if not isinstance(max_models, int) or max_models < 0:
            raise ValueError(f"max_models must be a non-negative int, got {max_models!r}")
        if not isinstance(namespace, str):
            raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
        self.metrics = _metrics_for(registry, namespace, tuple(labels))
        self.provider = provider
        self.constant = tuple(labels.values())
        self.prices: PriceTable = load_price_table(price_table)
        self.record_cost = bool(record_cost)
        self.max_models = max_models
        self.service_tier = service_tier
        self._series: dict[tuple[str, str], _Series] = {}

    def series(self, operation: str, model: Any) -> _Series:
        """The series of an operation on a model, applying the cap on unpriced model names."""
        if not isinstance(model, str) or not model:
            raise TypeError(f"the model must be a non-empty str, got {model!r}")
        s = self._series.get((operation, model))
        if s is not None:
            return s
        name = model.rsplit("/", 1)[-1]
        m = self.metrics
        with m.lock:
            admitted = name in m.admitted_models or self.prices.get(name) is not None
            if not admitted and len(m.admitted_models) < self.max_models:
                m.admitted_models.add(name)
                admitted = True
        s = _Series(
            self,
            (operation, self.provider, name if admitted else OVERFLOW_MODEL, *self.constant),
            overflow=not admitted,
        )
        if admitted:  # overflowing names are not cached, so that junk names cannot grow the cache
            self._series[(operation, model)] = s
        return s

    def tier(self, config: Any) -> str | None:
        """The service tier a request asks for in its config, else the instrumentation's default."""
        tier = config.get("service_tier") if isinstance(config, Mapping) else getattr(config, "service_tier", None)
        if tier is None:
            return self.service_tier
        return str(getattr(tier, "value", tier))


def _call(series: _Series, tier: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = series.start()
    try:
        response = fn(*args, **kwargs)
    except BaseException as exc:
        series.fail(started, exc)
        raise
    series.finish(started, _Usage.of(getattr(response, "usage_metadata", None)), tier)
    return response


async def _acall(series: _Series, tier: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = series.start()
    try:
        response = await fn(*args, **kwargs)
    except BaseException as exc:
        series.fail(started, exc)
        raise
    series.finish(started, _Usage.of(getattr(response, "usage_metadata", None)), tier)
    return response


class _Stream:
    """The state of one streamed call: first chunk, last usage seen, and a single end."""

    __slots__ = ("series", "started", "tier", "metadata", "seen_chunk", "done", "__weakref__")

    def __init__(self, series: _Series, tier: str | None) -> None:
        self.series = series
        self.tier = tier
        self.started = series.start()
        self.metadata: Any = None
        self.seen_chunk = False
        self.done = False

    def chunk(self, chunk: Any) -> None:
        if not self.seen_chunk:
            self.seen_chunk = True
            self.series.first_chunk(self.started)
        metadata = getattr(chunk, "usage_metadata", None)
        if metadata is not None:
            self.metadata = metadata  # chunks repeat the running usage: keep the last, never sum

    def end(self, outcome: str, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        if exc is not None:
            self.series.fail(self.started, exc)
        else:
            self.series.finish(self.started, _Usage.of(self.metadata), self.tier, outcome)

    def iterate(self, chunks: Iterator[Any]) -> Iterator[Any]:
        try:
            for chunk in chunks:
                self.chunk(chunk)
                yield chunk
        except GeneratorExit:
            self.end(_CLOSED)
            raise
        except BaseException as exc:
            self.end(_ERROR, exc)
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self.end(_SUCCESS)

    async def aiterate(self, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for chunk in chunks:
                self.chunk(chunk)
                yield chunk
        except GeneratorExit:
            self.end(_CLOSED)
            raise
        except BaseException as exc:
            self.end(_ERROR, exc)
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        self.end(_SUCCESS)


def _stream(series: _Series, tier: str | None, fn: Callable[..., Iterator[Any]], kwargs: Any) -> Iterator[Any]:
    """A google-genai sync stream; like the SDK's, nothing starts before the first ``next()``."""
    call = _Stream(series, tier)
    try:
        chunks = fn(**kwargs)
    except BaseException as exc:
        call.end(_ERROR, exc)
        raise
    yield from call.iterate(chunks)


async def _astream(series: _Series, tier: str | None, fn: Callable[..., Any], kwargs: Any) -> AsyncIterator[Any]:
    """A google-genai async stream, timed from the ``await``; abandoned unread, it counts as closed."""
    call = _Stream(series, tier)
    try:
        chunks = await fn(**kwargs)
    except BaseException as exc:
        call.end(_ERROR, exc)
        raise
    stream = call.aiterate(chunks)
    weakref.finalize(stream, call.end, _CLOSED)
    return stream


# ---------------------------------------------------------------------------------------------
# google-genai Client instrumentation
# ---------------------------------------------------------------------------------------------


def _provider(client: Any) -> str:
    return "gcp.vertex_ai" if getattr(client, "vertexai", False) else "gcp.gemini"


def _models_of(client: Any) -> tuple[Any, Any]:
    models = getattr(client, "models", None)
    aio = getattr(getattr(client, "aio", None), "models", None)
    if models is None or aio is None or not all(hasattr(models, name) for name in _PATCHED):
        raise TypeError(
            f"instrument() takes a google.genai.Client, got {type(client).__name__} "
            "(wrap legacy google.generativeai models with InstrumentedGeminiModel)"
        )
    return models, aio


def _sync_wrappers(rec: _Recorder, models: Any) -> dict[str, Callable[..., Any]]:
    generate, stream, embed = (getattr(models, name) for name in _PATCHED)

    @functools.wraps(generate)
    def generate_content(**kwargs: Any) -> Any:
        return _call(rec.series(_GENERATE, kwargs.get("model")), rec.tier(kwargs.get("config")), generate, **kwargs)

    @functools.wraps(stream)
    def generate_content_stream(**kwargs: Any) -> Iterator[Any]:
        return _stream(rec.series(_GENERATE, kwargs.get("model")), rec.tier(kwargs.get("config")), stream, kwargs)

    @functools.wraps(embed)
    def embed_content(**kwargs: Any) -> Any:
        return _call(rec.series(_EMBED, kwargs.get("model")), None, embed, **kwargs)

    return {
        "generate_content": generate_content,
        "generate_content_stream": generate_content_stream,
        "embed_content": embed_content,
    }


def _async_wrappers(rec: _Recorder, models: Any) -> dict[str, Callable[..., Any]]:
    generate, stream, embed = (getattr(models, name) for name in _PATCHED)

    @functools.wraps(generate)
    async def generate_content(**kwargs: Any) -> Any:
        series = rec.series(_GENERATE, kwargs.get("model"))
        return await _acall(series, rec.tier(kwargs.get("config")), generate, **kwargs)

    @functools.wraps(stream)
    async def generate_content_stream(**kwargs: Any) -> AsyncIterator[Any]:
        series = rec.series(_GENERATE, kwargs.get("model"))
        return await _astream(series, rec.tier(kwargs.get("config")), stream, kwargs)

    @functools.wraps(embed)
    async def embed_content(**kwargs: Any) -> Any:
        return await _acall(rec.series(_EMBED, kwargs.get("model")), None, embed, **kwargs)

    return {
        "generate_content": generate_content,
        "generate_content_stream": generate_content_stream,
        "embed_content": embed_content,
    }


def instrument(
    client: Any,
    *,
    registry: CollectorRegistry | None = REGISTRY,
    namespace: str = "",
    labels: Mapping[str, str] | None = None,
    price_table: PriceSource = None,
    record_cost: bool = True,
    max_models: int = 20,
    service_tier: str | None = None,
) -> Any:
    """Record metrics for every call of a google-genai ``Client``; returns the client.

    Patches ``generate_content``, ``generate_content_stream`` and ``embed_content`` of this
    client's ``models`` and ``aio.models`` (chats go through them and are counted once). Calls
    return and raise exactly what they would unpatched. Instrumenting an instrumented client
    replaces its instrumentation with one using the new options.

    Args:
        client: a ``google.genai.Client``.
        registry: where the metrics are registered.
        namespace: prefix of every metric name.
        labels: constant labels added to every series, e.g. ``{"gen_ai_agent_name": "planner"}``.
            Every instrumentation sharing a registry and namespace must use the same label names.
        price_table: a :class:`PriceTable`, or a mapping or JSON file path extending the shipped table.
        record_cost: whether to record ``gen_ai_client_cost_usd_total``.
        max_models: how many distinct model names absent from the price table get their own
            series; further names are recorded as ``OVERFLOW_MODEL``.
        service_tier: price tier of requests whose config names none (``"flex"``, ``"priority"``).
    """
    models, aio_models = _models_of(client)
    rec = _Recorder(
        provider=_provider(client),
        registry=registry,
        namespace=namespace,
        labels=labels,
        price_table=price_table,
        record_cost=record_cost,
        max_models=max_models,
        service_tier=service_tier,
    )
    uninstrument(client)
    for target, wrappers in (
        (models, _sync_wrappers(rec, models)),
        (aio_models, _async_wrappers(rec, aio_models)),
    ):
        saved = {name: vars(target)[name] for name in _PATCHED if name in vars(target)}
        setattr(target, _MARK, saved)
        for name, wrapper in wrappers.items():
            setattr(target, name, wrapper)
    return client


def uninstrument(client: Any) -> Any:
    """Undo :func:`instrument`: restore the client's original methods; returns the client."""
    for target in _models_of(client):
        saved = vars(target).pop(_MARK, None)
        if saved is None:
            continue
        for name in _PATCHED:
            if name in saved:
                setattr(target, name, saved[name])
            else:
                vars(target).pop(name, None)
    return client


def _original(models: Any, name: str) -> Any:
    """The unpatched method of a possibly instrumented ``Models``, so wrappers never count twice."""
    saved = vars(models).get(_MARK)
    if saved is None:
        return getattr(models, name)
    return saved[name] if name in saved else getattr(type(models), name).__get__(models)


# ---------------------------------------------------------------------------------------------
# A wrapper for code that cannot be patched
# ---------------------------------------------------------------------------------------------


class InstrumentedGeminiModel:
    """A model wrapper that records metrics: ``InstrumentedGeminiModel(model).generate_content(prompt)``.

    ``model`` is a legacy ``google.generativeai.GenerativeModel``, or a google-genai ``Client``
    together with ``model_name``. ``generate_content(contents, stream=False, **kwargs)`` returns
    what the SDK returns; other attributes are those of the wrapped object. Options are those of
    :func:`instrument`.
    """

    def __init__(self, model: Any, *, model_name: str | None = None, **options: Any) -> None:
        self._genai = hasattr(model, "models") and hasattr(model, "aio")
        if self._genai:
            if not model_name:
                raise TypeError("InstrumentedGeminiModel(client) needs model_name= for a google-genai Client")
            provider = _provider(model)
        elif callable(getattr(model, "generate_content", None)) and isinstance(getattr(model, "model_name", None), str):
            model_name = model_name or model.model_name
            provider = "gcp.gemini"
        else:
            raise TypeError(
                "InstrumentedGeminiModel takes a google.generativeai.GenerativeModel or a "
                f"google.genai.Client, got {type(model).__name__}"
            )
        self._model = model
        self.model_name: str = model_name
        self._recorder = _Recorder(provider=provider, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def generate_content(self, contents: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        """Generate content, recording metrics; with ``stream=True`` the result is iterated for chunks."""
        rec, tier = (
            self._recorder,
            self._recorder.tier(kwargs.get("config") or kwargs.get("generation_config")),
        )
        series = rec.series(_GENERATE, self.model_name)
        if self._genai:
            models, kwargs = self._model.models, {"model": self.model_name, "contents": contents, **kwargs}
            if stream:
                return _stream(series, tier, _original(models, "generate_content_stream"), kwargs)
            return _call(series, tier, _original(models, "generate_content"), **kwargs)
        if not stream:
            return _call(series, tier, self._model.generate_content, contents, **kwargs)
        call = _Stream(series, tier)
        try:
            response = self._model.generate_content(contents, stream=True, **kwargs)
        except BaseException as exc:
            call.end(_ERROR, exc)
            raise
        return _track_legacy_stream(response, call)

    async def generate_content_async(self, contents: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        """The async form of :meth:`generate_content`. Legacy SDK async streams are not supported
        (the legacy SDK runs async calls only over its gRPC transport)."""
        rec, tier = (
            self._recorder,
            self._recorder.tier(kwargs.get("config") or kwargs.get("generation_config")),
        )
        series = rec.series(_GENERATE, self.model_name)
        if not self._genai:
            if stream:
                raise NotImplementedError("InstrumentedGeminiModel: legacy async streams are not instrumented")
            return await _acall(series, tier, self._model.generate_content_async, contents, **kwargs)
        models, kwargs = self._model.aio.models, {"model": self.model_name, "contents": contents, **kwargs}
        if stream:
            return await _astream(series, tier, _original(models, "generate_content_stream"), kwargs)
        return await _acall(series, tier, _original(models, "generate_content"), **kwargs)


_LEGACY_STREAM_TYPES: dict[type, type] = {}


def _track_legacy_stream(response: Any, call: _Stream) -> Any:
    """Make a legacy streamed response record its chunks while the caller iterates it.

    The response keeps its identity and stays an instance of its class: its class is swapped for
    a subclass whose ``__iter__`` records. A response dropped before the end of its stream is
    recorded as closed when it is garbage collected.
    """
    base = type(response)
    tracked = _LEGACY_STREAM_TYPES.get(base)
    if tracked is None:

        def __iter__(self: Any) -> Iterator[Any]:  # noqa: N807
            return self._fastprom_stream.iterate(super(tracked, self).__iter__())  # type: ignore[arg-type]

        tracked = _LEGACY_STREAM_TYPES[base] = type(
            base.__name__,
            (base,),
            {"__iter__": __iter__, "__qualname__": base.__qualname__, "__module__": base.__module__},
        )
    response.__class__ = tracked
    response._fastprom_stream = call
    weakref.finalize(response, call.end, _CLOSED)
    return response


# ---------------------------------------------------------------------------------------------
# A decorator and context manager for any function returning a Gemini response
# ---------------------------------------------------------------------------------------------


class _TrackedCall:
    """One call under :class:`GeminiTracker`; hand it the response with :meth:`record`."""

    __slots__ = ("series", "started", "response", "tier", "token")

    def __init__(self, series: _Series, tier: str | None) -> None:
        self.series = series
        self.tier = tier
        self.response: Any = None
        self.token: contextvars.Token[_TrackedCall] | None = None
        self.started = series.start()

    def record(self, response: Any) -> Any:
        """Remember the response whose usage is recorded when the block ends; returns it."""
        self.response = response
        return response

    def end(self, exc: BaseException | None) -> None:
        if exc is not None:
            self.series.fail(self.started, exc)
        else:
            self.series.finish(self.started, _Usage.of(getattr(self.response, "usage_metadata", None)), self.tier)


class GeminiTracker:
    """Records one Gemini operation per decorated call or ``with`` block (see :func:`track`)."""

    def __init__(self, model: str, *, operation: str = _GENERATE, provider: str = "gcp.gemini", **options: Any) -> None:
        self._recorder = _Recorder(provider=provider, **options)
        self._series = self._recorder.series(operation, model)
        self._active: contextvars.ContextVar[_TrackedCall] = contextvars.ContextVar("fastprom_gemini_call")

    def __call__(self, fn: F) -> F:
        series, tier = self._series, self._recorder.service_tier
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await _acall(series, tier, fn, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _call(series, tier, fn, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __enter__(self) -> _TrackedCall:
        call = _TrackedCall(self._series, self._recorder.service_tier)
        call.token = self._active.set(call)
        return call

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        call = self._active.get()
        assert call.token is not None
        self._active.reset(call.token)
        call.end(exc)


def track(model: str, *, operation: str = _GENERATE, **options: Any) -> GeminiTracker:
    """A decorator and context manager recording a Gemini call on ``model``.

    As a decorator (sync or async), the decorated function's return value is the response whose
    ``usage_metadata`` is recorded. As a context manager, pass the response to ``call.record()``::

        @track("gemini-2.5-flash")
        def ask(prompt): return model.generate_content(prompt)

        with track("gemini-2.5-flash") as call:
            call.record(model.generate_content(prompt))

    Options are those of :func:`instrument`, plus ``operation`` (``"generate_content"`` or
    ``"embeddings"``) and ``provider``. Streamed responses are not supported here.
    """
    return GeminiTracker(model, operation=operation, **options)
