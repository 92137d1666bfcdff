"""Timer, InprogressTracker and ExceptionCounter, and the decorator machinery they share.

As decorators they keep the wrapped function's name, docstring, ``__wrapped__`` and
signature, and its kind: an ``async def`` stays a coroutine function and is measured
while it is awaited; generator and async-generator functions are measured over the whole
iteration (until exhausted, closed or abandoned).
"""

from __future__ import annotations

import functools
import inspect
from contextlib import AbstractContextManager, contextmanager
from time import perf_counter
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

from ._core import ExceptionCounter, InprogressTracker, Timer

__all__ = ["ExceptionCounter", "InprogressTracker", "Timer"]

F = TypeVar("F", bound=Callable[..., Any])


def _decorate(func: F, cm: Any) -> F:
    """Wrap ``func`` so that each call (or iteration) runs inside ``cm``'s measurement."""
    if not callable(func):
        raise TypeError(f"can only decorate a callable, not {type(func).__name__}")
    scope = _timed(cm._observe) if isinstance(cm, Timer) else (lambda: cm)
    if inspect.isasyncgenfunction(func):
        wrapper = _wrap_async_gen(func, scope)
    elif inspect.iscoroutinefunction(func):
        wrapper = _wrap_coroutine(func, scope)
    elif inspect.isgeneratorfunction(func):
        wrapper = _wrap_generator(func, scope)
    elif isinstance(cm, Timer):
        wrapper = _wrap_timed_call(func, cm._observe)
    else:
        wrapper = _wrap_call(func, cm)
    return functools.wraps(func)(wrapper)  # type: ignore[return-value]


def _timed(observe: Callable[[float], None]) -> Callable[[], AbstractContextManager[None]]:
    @contextmanager
    def scope() -> Iterator[None]:
        start = perf_counter()
        try:
            yield
        finally:
            observe(perf_counter() - start)

    return scope


def _wrap_timed_call(func: Callable[..., Any], observe: Callable[[float], None]) -> Callable[..., Any]:
    # The hot path of `@h.time()`: no context-manager object per call.
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            observe(perf_counter() - start)

    return wrapper


def _wrap_call(func: Callable[..., Any], cm: AbstractContextManager[Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cm:
            return func(*args, **kwargs)

    return wrapper


def _wrap_coroutine(func: Callable[..., Any], scope: Callable[[], AbstractContextManager[Any]]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        with scope():
            return await func(*args, **kwargs)

    return wrapper


def _wrap_generator(func: Callable[..., Any], scope: Callable[[], AbstractContextManager[Any]]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with scope():
            return (yield from func(*args, **kwargs))

    return wrapper


def _wrap_async_gen(
    func: Callable[..., Any], scope: Callable[[], AbstractContextManager[Any]]
) -> Callable[..., AsyncIterator[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        with scope():
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
                return

    return wrapper
