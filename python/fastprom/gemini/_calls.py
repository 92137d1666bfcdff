"""The measurement of one call: plain and async calls, sync and async streams."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from time import perf_counter
from typing import Any

from fastprom._spans import ROLE, SESSION

from ._metrics import _CLOSED, _ERROR, _SUCCESS
from ._recorder import _Series
from ._usage import read_response


def _call(series: _Series, tier: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = series.start()
    try:
        response = fn(*args, **kwargs)
    except BaseException as exc:
        series.fail(started, exc)
        raise
    series.finish(started, response, tier)
    return response


async def _acall(series: _Series, tier: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = series.start()
    try:
        response = await fn(*args, **kwargs)
    except BaseException as exc:
        series.fail(started, exc)
        raise
    series.finish(started, response, tier)
    return response


class _Stream:
    """The state of one streamed call: first chunk, last usage seen, text bytes and tool calls
    of every chunk, the session and role it started in, and a single end."""

    __slots__ = (
        "series",
        "started",
        "tier",
        "metadata",
        "nbytes",
        "tools",
        "session",
        "role",
        "seen_chunk",
        "done",
        "watch",
        "__weakref__",
    )

    def __init__(self, series: _Series, tier: str | None, start: bool = True) -> None:
        self.series = series
        self.tier = tier
        self.started = series.start() if start else 0.0  # else started by iterate()
        self.metadata: Any = None
        self.nbytes = 0
        self.tools = False
        # taken where the stream is made, not where it is read to its end
        self.session: Any = SESSION.get()
        self.role: str | None = ROLE.get()
        self.seen_chunk = False
        self.done = False
        self.watch: weakref.ref[Any] | None = None

    def end(self, outcome: str, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        self.watch = None  # the stream's weak reference, and with it the cycle through this call
        if exc is not None:
            self.series.failure(self.started, exc, self.session, self.role)
        else:
            self.series.end(
                perf_counter() - self.started,
                self.metadata,
                self.tier,
                outcome,
                self.nbytes,
                self.tools,
                self.session,
                self.role,
            )

    def dropped(self, _ref: weakref.ref[Any]) -> None:
        """Weak-reference callback: the stream was collected before it ended."""
        self.end(_CLOSED)

    def iterate(self, fn: Callable[..., Iterator[Any]], kwargs: Any, start: bool = False) -> Iterator[Any]:
        """The chunks of ``fn(**kwargs)``, called on the first ``next()`` as the SDK's stream does
        (the call is started then if ``start``): one generator, whose per-chunk work is only what a
        chunk needs."""
        if start:
            self.started = self.series.start()
        try:
            chunks = fn(**kwargs)
        except BaseException as exc:
            self.end(_ERROR, exc)
            raise
        try:
            for chunk in chunks:
                if not self.seen_chunk:
                    self.seen_chunk = True
                    self.series.first_chunk(self.started)
                # chunks repeat the running usage: keep the last, never sum; add up the text
                metadata, nbytes, tools = read_response(chunk)
                if metadata is not None:
                    self.metadata = metadata
                if nbytes:
                    self.nbytes += nbytes
                if tools:
                    self.tools = True
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
                if not self.seen_chunk:
                    self.seen_chunk = True
                    self.series.first_chunk(self.started)
                # chunks repeat the running usage: keep the last, never sum; add up the text
                metadata, nbytes, tools = read_response(chunk)
                if metadata is not None:
                    self.metadata = metadata
                if nbytes:
                    self.nbytes += nbytes
                if tools:
                    self.tools = True
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

    def watched(self, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """:meth:`aiterate` over ``chunks``, counted as closed if dropped before its end."""
        stream = self.aiterate(chunks)
        # a weak reference held by the call (which the stream's frame holds) until it ends: a tenth
        # of what weakref.finalize costs, which also registers every stream in a global table
        self.watch = weakref.ref(stream, self.dropped)
        return stream


def _stream(series: _Series, tier: str | None, fn: Callable[..., Iterator[Any]], kwargs: Any) -> Iterator[Any]:
    """A google-genai sync stream; like the SDK's, nothing starts before the first ``next()``."""
    return _Stream(series, tier, start=False).iterate(fn, kwargs, start=True)


async def _astream(series: _Series, tier: str | None, fn: Callable[..., Any], kwargs: Any) -> AsyncIterator[Any]:
    """A google-genai async stream, timed from the ``await``; abandoned unread, it counts as closed."""
    call = _Stream(series, tier)
    try:
        chunks = await fn(**kwargs)
    except BaseException as exc:
        call.end(_ERROR, exc)
        raise
    return call.watched(chunks)
