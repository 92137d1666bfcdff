"""google-genai ``Client`` instrumentation: :func:`instrument` and :func:`uninstrument`."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from time import perf_counter
from typing import Any

from fastprom._pricing import PriceSource
from fastprom._spans import ROLE, SESSION
from fastprom.registry import REGISTRY, CollectorRegistry

from ._calls import _acall, _call, _Stream, _stream
from ._metrics import _EMBED, _ERROR, _GENERATE, _SUCCESS
from ._recorder import _Recorder
from ._usage import read_response

_PATCHED = ("generate_content", "generate_content_stream", "embed_content")
_MARK = "_fastprom_gemini"


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


# The wrappers below inline the measurement of one call (what ``_calls._call`` and ``_acall`` do)
# rather than call it: one frame, one ``**kwargs`` unpacking, and for async calls one coroutine
# layer that every suspension of the SDK's call passes through instead of two. They also do what
# ``_Series.finish`` does for a generated response, calling ``_Series.end`` directly: one frame less.


def _sync_wrappers(rec: _Recorder, models: Any) -> dict[str, Callable[..., Any]]:
    generate, stream, embed = (getattr(models, name) for name in _PATCHED)

    @functools.wraps(generate)
    def generate_content(**kwargs: Any) -> Any:
        series, tier = rec.request(_GENERATE, kwargs)
        started = series.start()
        try:
            response = generate(**kwargs)
        except BaseException as exc:
            series.fail(started, exc)
            raise
        elapsed = perf_counter() - started
        metadata, nbytes, tools = read_response(response)
        series.end(elapsed, metadata, tier, _SUCCESS, nbytes, tools, SESSION.get(), ROLE.get())
        return response

    @functools.wraps(stream)
    def generate_content_stream(**kwargs: Any) -> Iterator[Any]:
        return _stream(*rec.request(_GENERATE, kwargs), stream, kwargs)

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
        series, tier = rec.request(_GENERATE, kwargs)
        started = series.start()
        try:
            response = await generate(**kwargs)
        except BaseException as exc:
            series.fail(started, exc)
            raise
        elapsed = perf_counter() - started
        metadata, nbytes, tools = read_response(response)
        series.end(elapsed, metadata, tier, _SUCCESS, nbytes, tools, SESSION.get(), ROLE.get())
        return response

    @functools.wraps(stream)
    async def generate_content_stream(**kwargs: Any) -> AsyncIterator[Any]:
        call = _Stream(*rec.request(_GENERATE, kwargs))
        try:
            chunks = await stream(**kwargs)
        except BaseException as exc:
            call.end(_ERROR, exc)
            raise
        return call.watched(chunks)

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
