"""Timer, InprogressTracker and ExceptionCounter, and how they decorate functions.

As decorators they keep the wrapped function's name, docstring, ``__wrapped__`` and
signature, and its kind: an ``async def`` stays a coroutine function and is measured
while it is awaited; generator and async-generator functions are measured over the whole
iteration (until exhausted, closed or abandoned). The machinery is :func:`fastprom._wrap.measured`.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Callable, TypeVar

from ._core import ExceptionCounter, InprogressTracker, Timer
from ._wrap import measured

__all__ = ["ExceptionCounter", "InprogressTracker", "Timer"]

F = TypeVar("F", bound=Callable[..., Any])


def _decorate(func: F, cm: Any) -> F:
    """Wrap ``func`` so that each call (or iteration) runs inside ``cm``'s measurement."""
    if isinstance(cm, Timer):
        observe: Callable[[float], None] = cm._observe

        def observe_elapsed(started: float, exc: BaseException | None, result: Any) -> None:
            observe(perf_counter() - started)

        return measured(func, perf_counter, observe_elapsed, plain=lambda f: _timed_call(f, observe))
    enter, leave = cm.__enter__, cm.__exit__

    def exit_(state: Any, exc: BaseException | None, result: Any) -> None:
        if exc is None:
            leave(None, None, None)
        else:
            leave(type(exc), exc, exc.__traceback__)

    return measured(func, enter, exit_, plain=lambda f: _call_within(f, cm))


def _timed_call(func: Callable[..., Any], observe: Callable[[float], None]) -> Callable[..., Any]:
    # The hot path of `@h.time()`: no Python call but the function's own.
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            observe(perf_counter() - start)

    return wrapper


def _call_within(func: Callable[..., Any], cm: Any) -> Callable[..., Any]:
    # The hot path of `@g.track_inprogress()` and `@c.count_exceptions()`: the native context manager.
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with cm:
            return func(*args, **kwargs)

    return wrapper
