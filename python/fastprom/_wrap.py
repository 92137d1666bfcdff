"""One decorator machinery for every kind of function: plain, ``async def``, generator and
async generator.

:func:`measured` wraps a function so that each call runs between ``start()`` and
``end(state, exc, result)``. An ``async def`` stays a coroutine function and is measured while it
is awaited; generator and async-generator functions are measured over the whole iteration, until
exhausted, closed or abandoned. The wrapper keeps the function's name, docstring, ``__wrapped__``
and signature. Used by the metric decorators (``Timer``, ``InprogressTracker``,
``ExceptionCounter``), :mod:`fastprom.gemini` and :mod:`fastprom.agents`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, TypeVar

__all__ = ["measured"]

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")

End = Callable[[S, "BaseException | None", Any], object]
"""``end(state, exc, result)``: ``exc`` is what the call raised (``None`` if it returned), and
``result`` what it returned (a generator's return value; ``None`` when it raised)."""


def measured(
    func: F,
    start: Callable[[], S],
    end: End[S],
    plain: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
) -> F:
    """Wrap ``func`` so that each call (or iteration) runs between ``start()`` and ``end()``.

    ``plain``, if given, makes the wrapper of a plain (not async, not generator) function
    instead of the generic one: a faster path for one measurement.
    """
    if not callable(func):
        raise TypeError(f"can only decorate a callable, not {type(func).__name__}")
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(func):
        wrapper = _async_gen(func, start, end)
    elif inspect.iscoroutinefunction(func):
        wrapper = _coroutine(func, start, end)
    elif inspect.isgeneratorfunction(func):
        wrapper = _generator(func, start, end)
    elif plain is not None:
        wrapper = plain(func)
    else:
        wrapper = _call(func, start, end)
    return functools.wraps(func)(wrapper)  # type: ignore[return-value]


def _call(func: Callable[..., Any], start: Callable[[], S], end: End[S]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = start()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            end(state, exc, None)
            raise
        end(state, None, result)
        return result

    return wrapper


def _coroutine(func: Callable[..., Any], start: Callable[[], S], end: End[S]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = start()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            end(state, exc, None)
            raise
        end(state, None, result)
        return result

    return wrapper


def _generator(
    func: Callable[..., Any], start: Callable[[], S], end: End[S]
) -> Callable[..., Generator[Any, Any, Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        state = start()
        try:
            result = yield from func(*args, **kwargs)
        except BaseException as exc:  # GeneratorExit too: closed before the end
            end(state, exc, None)
            raise
        end(state, None, result)
        return result

    return wrapper


def _async_gen(func: Callable[..., Any], start: Callable[[], S], end: End[S]) -> Callable[..., AsyncIterator[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        state = start()
        try:
            agen = func(*args, **kwargs)
            try:
                item = await agen.__anext__()
                while True:
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as exc:  # thrown into us: forward to the wrapped generator
                        item = await agen.athrow(exc)
                    else:
                        item = await agen.asend(sent)
            except StopAsyncIteration:
                pass
        except BaseException as exc:
            end(state, exc, None)
            raise
        end(state, None, None)

    return wrapper
