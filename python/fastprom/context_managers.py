"""Timer, InprogressTracker and ExceptionCounter, and the decorator machinery they share.

As decorators they keep the wrapped function's name, docstring, ``__wrapped__`` and
signature, and its kind: an ``async def`` stays a coroutine function and is measured
while it is awaited; generator and async-generator functions are measured over the whole
iteration.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

from ._core import ExceptionCounter, InprogressTracker, Timer

__all__ = ["ExceptionCounter", "InprogressTracker", "Timer"]

F = TypeVar("F", bound=Callable[..., Any])


def _decorate(func: F, cm: Any) -> F:
    """Wrap ``func`` so that every call runs inside a context manager made from ``cm``.

    A Timer is stateful, so each call gets its own (``cm._new_timer()``); trackers and
    exception counters are stateless and reused.
    """
    if not callable(func):
        raise TypeError(f"can only decorate a callable, not {type(func).__name__}")
    fresh: Callable[[], Any] = cm._new_timer if isinstance(cm, Timer) else (lambda: cm)

    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                agen = func(*args, **kwargs)
                try:
                    item = await agen.__anext__()
                    while True:
                        try:
                            sent = yield item
                        except GeneratorExit:
                            await agen.aclose()
                            raise
                        except BaseException as exc:  # forwarded into the wrapped generator
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(sent)
                except StopAsyncIteration:
                    return

    elif inspect.iscoroutinefunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return await func(*args, **kwargs)

    elif inspect.isgeneratorfunction(func):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return (yield from func(*args, **kwargs))

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return func(*args, **kwargs)

    return functools.wraps(func)(wrapper)  # type: ignore[return-value]
