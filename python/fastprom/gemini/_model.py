"""A model wrapper for code that cannot be patched: :class:`InstrumentedGeminiModel`."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from ._calls import _acall, _astream, _call, _Stream, _stream
from ._client import _original, _provider
from ._metrics import _CLOSED, _ERROR, _GENERATE
from ._recorder import _Recorder


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
_LEGACY_STREAM_TYPES_LOCK = threading.Lock()


def _track_legacy_stream(response: Any, call: _Stream) -> Any:
    """Make a legacy streamed response record its chunks while the caller iterates it.

    The response keeps its identity and stays an instance of its class: its class is swapped for
    a subclass whose ``__iter__`` records. A response dropped before the end of its stream is
    recorded as closed when it is garbage collected.
    """
    response.__class__ = _tracked_type(type(response))
    response._fastprom_stream = call
    weakref.finalize(response, call.end, _CLOSED)
    return response


def _tracked_type(base: type) -> type:
    """The recording subclass of a legacy response class: one per class, whatever the threads."""
    tracked = _LEGACY_STREAM_TYPES.get(base)
    if tracked is not None:
        return tracked
    with _LEGACY_STREAM_TYPES_LOCK:
        tracked = _LEGACY_STREAM_TYPES.get(base)
        if tracked is not None:
            return tracked
        new: type[Any]

        def __iter__(self: Any) -> Iterator[Any]:  # noqa: N807
            stream: _Stream = self._fastprom_stream
            return stream.iterate(super(new, self).__iter__, {})

        new = _LEGACY_STREAM_TYPES[base] = type(
            base.__name__,
            (base,),
            {"__iter__": __iter__, "__qualname__": base.__qualname__, "__module__": base.__module__},
        )
        return new
