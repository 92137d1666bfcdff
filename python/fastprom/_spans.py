"""The span of agent work a call runs in, as a context variable.

:data:`CURRENT` holds the innermost open span (task, step, tool call, graph or node) of
:mod:`fastprom.agents`. A context variable follows ``await``, ``asyncio`` tasks (each starts with a
copy of its creator's context) and threads run with ``contextvars.copy_context().run``, so that
:mod:`fastprom.gemini` attributes a call to the agent and task it is made in with one
``CURRENT.get()`` and nothing passed by hand. This module imports nothing of fastprom: both
layers import it.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar, Token
from typing import Any

__all__ = ["CURRENT", "ROLE", "SESSION", "Frame", "TaskUsage"]


class TaskUsage:
    """What one task accumulates while it runs: its steps and the LLM usage made inside it,
    from any thread or asyncio task that inherited its context."""

    __slots__ = ("_steps", "calls", "input", "output", "cost")

    lock = threading.Lock()
    """One lock for every task: held for a few additions, so that a task's figures are exact
    whatever the threads adding to it (making a lock per task would cost more than sharing one)."""

    def __init__(self) -> None:
        # One item per step: list.append is atomic, so counting a step takes no lock (it is
        # on every step's path; the LLM usage below is added once per call, under the lock).
        self._steps: list[None] = []
        self.calls = 0
        self.input = 0
        self.output = 0
        self.cost = 0.0

    def step(self) -> None:
        self._steps.append(None)

    @property
    def steps(self) -> int:
        """The number of steps so far."""
        return len(self._steps)

    def llm(self, input_tokens: int, output_tokens: int, cost: float) -> None:
        """Add one LLM call's tokens and cost (called by fastprom.gemini)."""
        with TaskUsage.lock:
            self.calls += 1
            self.input += input_tokens
            self.output += output_tokens
            self.cost += cost


class Frame:
    """One entry into a span: its own start time and context token (never shared between
    overlapping entries), the agent, and the task it belongs to (``None`` outside any task)."""

    __slots__ = ("span", "agent", "task", "started", "token")

    def __init__(self, span: Any, agent: str, task: TaskUsage | None, started: float) -> None:
        self.span = span
        self.agent = agent
        self.task = task
        self.started = started
        self.token: Token[Frame | None] | None = None


CURRENT: ContextVar[Frame | None] = ContextVar("fastprom_agent_span", default=None)


SESSION: ContextVar[Any] = ContextVar("fastprom_session", default=None)
"""The session the code runs in: a binding made by :func:`fastprom.sessions.session` with a method
``record(model, duration_s, ok, prompt_tokens, completion_tokens, total_tokens, tools)`` that
:mod:`fastprom.gemini` calls once per finished call, or ``None`` outside any session."""

ROLE: ContextVar[str | None] = ContextVar("fastprom_role", default=None)
"""The role (planner, coder, ...) the code runs as, set by :func:`fastprom.agents.role`, or ``None``."""
