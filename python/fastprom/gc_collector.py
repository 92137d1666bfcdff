"""Garbage-collector statistics per generation (CPython only)."""

from __future__ import annotations

import gc
import platform
from typing import Iterable

from .metrics_core import CounterMetricFamily, Metric
from .registry import REGISTRY, CollectorRegistry

__all__ = ["GC_COLLECTOR", "GCCollector"]


class GCCollector:
    """``python_gc_objects_collected``, ``…_uncollectable`` and ``python_gc_collections``."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        if not hasattr(gc, "get_stats") or platform.python_implementation() != "CPython":
            return
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        families = [
            CounterMetricFamily("python_gc_objects_collected", "Objects collected during gc", labels=["generation"]),
            CounterMetricFamily(
                "python_gc_objects_uncollectable", "Uncollectable objects found during GC", labels=["generation"]
            ),
            CounterMetricFamily(
                "python_gc_collections", "Number of times this generation was collected", labels=["generation"]
            ),
        ]
        for generation, stats in enumerate(gc.get_stats()):
            for family, key in zip(families, ("collected", "uncollectable", "collections"), strict=True):
                family.add_metric([str(generation)], value=stats[key])
        return families


GC_COLLECTOR = GCCollector()
