"""A decorator and context manager for any function returning a Gemini response: :func:`track`."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from fastprom._wrap import measured

from ._metrics import _GENERATE
from ._recorder import _Recorder, _Series

F = TypeVar("F", bound=Callable[..., Any])


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
            self.series.finish(self.started, self.response, self.tier)


class GeminiTracker:
    """Records one Gemini operation per decorated call or ``with`` block (see :func:`track`)."""

    def __init__(self, model: str, *, operation: str = _GENERATE, provider: str = "gcp.gemini", **options: Any) -> None:
        self._recorder = _Recorder(provider=provider, **options)
        self._series = self._recorder.series(operation, model)
        self._active: contextvars.ContextVar[_TrackedCall] = contextvars.ContextVar("fastprom_gemini_call")

    def __call__(self, fn: F) -> F:
        series, tier = self._series, self._recorder.service_tier

        def end(started: float, exc: BaseException | None, response: Any) -> None:
            if exc is None:
                series.finish(started, response, tier)
            else:
                series.fail(started, exc)

        return measured(fn, series.start, end)

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
