"""Metric families built once per registry and shared by every instrumentation recording there.

An ASGI middleware, a Gemini recorder or an agent built twice against one registry (an app
factory called once per test, two apps in one process) must reuse the families the first one
registered rather than fail with "Duplicated timeseries". :class:`PerRegistry` is that cache,
for every instrumentation of the package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["RUNTIME_MAX_SERIES", "PerRegistry"]

RUNTIME_MAX_SERIES = 1000
"""The ``max_series`` of every family of the package's instrumentation whose label values come
from runtime data (models, tools, agents, error types): past it, new label sets go to the
family's overflow series (docs/series_cap.md)."""

T = TypeVar("T")


class PerRegistry(Generic[T]):
    """Values (a set of metric families) built once per registry and key.

    Entries are keyed by ``id(registry)`` and keep their registry alive, so that an id is never
    reused by another registry. Safe from any number of threads, with or without the GIL: each
    value is built once, under the cache's lock; a build that raises stores nothing.
    """

    __slots__ = ("_entries", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, Hashable], tuple[object, T]] = {}

    def get(self, registry: object, key: Hashable, build: Callable[[], T]) -> T:
        """The value of ``registry`` and ``key``, built by ``build()`` the first time."""
        with self._lock:
            entry = self._entries.get((id(registry), key))
            if entry is None:
                entry = (registry, build())
                self._entries[(id(registry), key)] = entry
            return entry[1]
