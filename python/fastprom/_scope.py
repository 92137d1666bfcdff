"""Context variables set for a block or for each call of a decorated function.

:class:`Scope` is what :func:`fastprom.sessions.session`, :func:`fastprom.agents.role` and
``AgentMetrics.task(session_id=..., role=...)`` return: entering it sets its context variables
(after an optional ``before()``), leaving it resets them. Every entry keeps its own tokens in the
context it was made in (like the spans of :mod:`fastprom.agents`), so one scope object may be
entered nested, or at once from several threads and asyncio tasks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

from fastprom._wrap import measured

__all__ = ["Scope"]

F = TypeVar("F", bound=Callable[..., Any])

Values = tuple[tuple[ContextVar[Any], Any], ...]


class _Entry:
    __slots__ = ("scope", "tokens", "own")

    def __init__(self, scope: Scope, tokens: tuple[Token[Any], ...]) -> None:
        self.scope = scope
        self.tokens = tokens
        self.own: Token[_Entry | None] | None = None


_OPEN: ContextVar[_Entry | None] = ContextVar("fastprom_scope", default=None)


class Scope:
    """Sets ``values`` (pairs of a context variable and its value) for a ``with`` block or each
    call of a decorated plain or ``async`` function; ``__enter__`` returns ``result``."""

    __slots__ = ("_values", "_before", "_result")

    def __init__(self, values: Values, before: Callable[[], object] | None = None, result: Any = None) -> None:
        self._values = values
        self._before = before
        self._result = result

    def _set(self) -> tuple[Token[Any], ...]:
        if self._before is not None:
            self._before()
        return tuple(var.set(value) for var, value in self._values)

    def _reset(self, tokens: tuple[Token[Any], ...], exc: BaseException | None = None, result: Any = None) -> None:
        for (var, _), token in zip(reversed(self._values), reversed(tokens), strict=True):
            try:
                var.reset(token)
            except ValueError:  # ended in another context than it started: nothing to restore there
                pass

    def __enter__(self) -> Any:
        entry = _Entry(self, self._set())
        entry.own = _OPEN.set(entry)
        return self._result

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        entry = _OPEN.get()
        if entry is None or entry.scope is not self:
            raise RuntimeError("a fastprom session or role was exited out of order (not the innermost open one)")
        _OPEN.reset(entry.own)  # type: ignore[arg-type]
        self._reset(entry.tokens)

    def __call__(self, fn: F) -> F:
        check_decoratable(fn)
        return measured(fn, self._set, self._reset)


def check_decoratable(fn: Any) -> None:
    """A scope cannot follow a generator: between its items the generator's code runs in its
    consumer's context (possibly another thread's), so a value set at its first item would leak
    into the consumer and could not be reset. Refused, with the way out."""
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            f"a session or role cannot decorate the generator function {getattr(fn, '__qualname__', fn)!r}: "
            "use `with` around the code that iterates it (a Gemini stream takes its session and role "
            "where it starts)"
        )
