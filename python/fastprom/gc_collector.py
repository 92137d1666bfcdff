"""Garbage-collector statistics per generation (CPython only).

The counts are published into Rust by a ``gc.callbacks`` hook as collections finish, so a
scrape reads them without the GIL (and without calling ``gc.get_stats()``).
"""

from __future__ import annotations

import gc
import platform
from typing import Any, Iterable

from . import _core
from .metrics_core import Metric
from .registry import REGISTRY, CollectorRegistry

__all__ = ["GC_COLLECTOR", "GCCollector"]


class GCCollector:
    """``python_gc_objects_collected``, ``python_gc_objects_uncollectable`` and
    ``python_gc_collections``, per generation."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        if not hasattr(gc, "get_stats") or platform.python_implementation() != "CPython":
            return
        stats = gc.get_stats()
        self._counters = _core.GcCounters([(s["collected"], s["uncollectable"], s["collections"]) for s in stats])
        self.__fastprom_collector__ = self._counters.collector()
        record = self._counters.record

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "stop":
                record(info["generation"], info["collected"], info["uncollectable"])

        self._callback = on_gc
        gc.callbacks.append(on_gc)
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        native = getattr(self, "__fastprom_collector__", None)
        return native.collect() if native is not None else []


GC_COLLECTOR = GCCollector()
