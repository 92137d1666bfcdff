"""CollectorRegistry: the set of collectors a scrape renders, in registration order."""

from __future__ import annotations

import threading
from typing import Iterable, Iterator, Optional, Protocol

from . import _core
from .metrics_core import Metric

__all__ = ["REGISTRY", "Collector", "CollectorRegistry", "DuplicateTimeseries", "RestrictedRegistry"]


class Collector(Protocol):
    """Anything with a ``collect()`` method returning metric families."""

    def collect(self) -> Iterable[Metric]:
        """Return the metric families to expose."""


class _EmptyCollector:
    def collect(self) -> Iterable[Metric]:
        return []


class DuplicateTimeseries(ValueError):
    """Raised when a collector would expose a time series name that is already registered."""

    def __init__(self, duplicates: set[str]) -> None:
        super().__init__(f"Duplicated timeseries in CollectorRegistry: {duplicates}")
        self.duplicates: set[str] = duplicates


_TYPE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


class CollectorRegistry:
    """Holds collectors and renders them.

    ``auto_describe`` makes ``register`` call ``collect()`` to learn the names of a
    collector without ``describe()``; ``target_info`` sets the labels of a ``target_info``
    metric exposed first; ``support_collectors_without_names`` keeps collectors whose
    names are unknown in restricted (``name[]``) scrapes.
    """

    def __init__(
        self,
        auto_describe: bool = False,
        target_info: Optional[dict[str, str]] = None,
        support_collectors_without_names: bool = False,
    ) -> None:
        self._collector_to_names: dict[Collector, list[str]] = {}
        self._names_to_collectors: dict[str, Collector] = {}
        self._auto_describe = auto_describe
        self._lock = threading.Lock()
        self._target_info: Optional[dict[str, str]] = {}
        self._support_collectors_without_names = support_collectors_without_names
        self._collectors_without_names: list[Collector] = []
        self._core = _core.Registry()
        self.set_target_info(target_info)

    def register(self, collector: Collector) -> None:
        """Add a collector; raises DuplicateTimeseries if one of its names is taken."""
        with self._lock:
            names = self._get_names(collector)
            duplicates = set(self._names_to_collectors).intersection(names)
            if duplicates:
                raise DuplicateTimeseries(duplicates)
            without_names = self._support_collectors_without_names and not names
            self._core.add(collector, names, without_names)
            for name in names:
                self._names_to_collectors[name] = collector
            self._collector_to_names[collector] = names
            if without_names:
                self._collectors_without_names.append(collector)

    def unregister(self, collector: Collector) -> None:
        """Remove a collector (KeyError if it is not registered)."""
        with self._lock:
            for name in self._collector_to_names[collector]:
                del self._names_to_collectors[name]
            del self._collector_to_names[collector]
            if collector in self._collectors_without_names:
                self._collectors_without_names.remove(collector)
            self._core.remove(collector)

    def _get_names(self, collector: Collector) -> list[str]:
        describe = getattr(collector, "describe", None)
        if describe is None and self._auto_describe:
            describe = collector.collect
        if describe is None:
            return []
        names = []
        for metric in describe():
            names.append(metric.name)
            names.extend(metric.name + suffix for suffix in _TYPE_SUFFIXES.get(metric.type, ()))
        return names

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families of every collector, target info first."""
        with self._lock:
            collectors = list(self._collector_to_names)
            target = self._target_info_metric() if self._target_info else None
        if target is not None:
            yield target
        for collector in collectors:
            yield from collector.collect()

    def restricted_registry(self, names: Iterable[str]) -> RestrictedRegistry:
        """A view that collects only the samples with the given names."""
        return RestrictedRegistry(names, self)

    def set_target_info(self, labels: Optional[dict[str, str]]) -> None:
        """Set (or with None, remove) the labels of the ``target_info`` metric."""
        with self._lock:
            if labels:
                if not self._target_info and "target_info" in self._names_to_collectors:
                    raise ValueError("CollectorRegistry already contains a target_info metric")
                self._core.set_target_info(labels)
                self._names_to_collectors["target_info"] = _EmptyCollector()
            elif self._target_info:
                self._core.set_target_info(None)
                self._names_to_collectors.pop("target_info", None)
            self._target_info = labels

    def get_target_info(self) -> Optional[dict[str, str]]:
        with self._lock:
            return self._target_info

    def _target_info_metric(self) -> Metric:
        m = Metric("target", "Target metadata", "info")
        m.add_sample("target_info", dict(self._target_info or {}), 1)
        return m

    def get_sample_value(self, name: str, labels: Optional[dict[str, str]] = None) -> Optional[float]:
        """The value of one sample, or None. Meant for tests: it collects everything."""
        labels = labels or {}
        for metric in self.collect():
            for s in metric.samples:
                if s.name == name and s.labels == labels:
                    return s.value
        return None

    def _render(
        self, openmetrics: bool, escaping: str, version_major: int = 1, names: Optional[list[str]] = None
    ) -> bytes:
        return self._core.render(openmetrics, escaping, version_major, names)


class RestrictedRegistry:
    """A registry view exposing only samples whose names are in ``names``."""

    def __init__(self, names: Iterable[str], registry: CollectorRegistry) -> None:
        self._name_set = set(names)
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        reg = self._registry
        target = None
        with reg._lock:
            if "target_info" in self._name_set and reg._target_info:
                target = reg._target_info_metric()
            wanted = {
                reg._names_to_collectors[n]
                for n in self._name_set
                if n != "target_info" and n in reg._names_to_collectors
            }
            # Registration order (prometheus_client iterates a set here: any order is valid).
            collectors = [c for c in reg._collector_to_names if c in wanted or c in reg._collectors_without_names]
        if target is not None:
            yield target
        for collector in collectors:
            for metric in collector.collect():
                restricted = metric._restricted_metric(self._name_set)
                if restricted is not None:
                    yield restricted

    def _render(self, openmetrics: bool, escaping: str, version_major: int = 1) -> bytes:
        return self._registry._render(openmetrics, escaping, version_major, sorted(self._name_set))


REGISTRY = CollectorRegistry(auto_describe=True)
