"""The metric families fastprom records, read from the code that registers them.

:class:`Catalog` registers every family of the HTTP middleware, :mod:`fastprom.gemini`,
:mod:`fastprom.agents` and :mod:`fastprom.infra` (under one namespace) and the process, GC and
platform collectors into a throwaway registry, and describes what it finds. Rules and dashboards
ask it for names (``catalog.sample("http_requests", "_total")``): a name that is not there is a
``KeyError`` when the rule is built, not a query that silently returns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastprom.registry import CollectorRegistry

__all__ = ["Catalog", "Family"]

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}
_NAMESPACE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


@dataclass(frozen=True)
class Family:
    """One metric family: its name (without ``_total``), type and label names."""

    name: str
    type: str
    labels: tuple[str, ...]

    def sample(self, suffix: str = "") -> str:
        """The name of one of its samples (``_total``, ``_bucket``, ``_sum``, ...), checked."""
        if suffix not in _SUFFIXES.get(self.type, ("",)):
            raise KeyError(f"a {self.type} has no {suffix!r} samples: {self.name}{suffix} is not exported")
        return self.name + suffix


class Catalog:
    """Every family fastprom records under ``namespace`` (``""``: none), by name.

    The process (``process_*``), GC (``python_gc_*``) and platform (``python_info``) collectors
    are not namespaced, as in the default registry.
    """

    def __init__(self, namespace: str = "") -> None:
        if not isinstance(namespace, str) or (namespace and not _NAMESPACE.match(namespace)):
            raise ValueError(
                f"namespace must be empty or a metric name prefix ([a-zA-Z_][a-zA-Z0-9_]*), got {namespace!r}"
            )
        self.namespace = namespace
        self.families: dict[str, Family] = {}
        registry = CollectorRegistry()
        self._register(registry, namespace)
        metrics: dict[object, object] = {getattr(c, "_name", None): c for c in registry._names_to_collectors.values()}
        for family in registry.collect():
            metric = metrics.get(family.name)
            if metric is not None:  # a metric: its own label names (it may have no series yet)
                labels = tuple(getattr(metric, "_labelnames", ()))
            else:  # a custom collector (process, GC, platform): the labels its samples carry
                labels = tuple(sorted({k for s in family.samples for k in s.labels}))
            self.families[family.name] = Family(family.name, family.type, labels)

    @staticmethod
    def _register(registry: CollectorRegistry, namespace: str) -> None:
        from fastprom import agents, infra
        from fastprom.asgi import PrometheusMiddleware
        from fastprom.gc_collector import GCCollector
        from fastprom.gemini._metrics import GeminiMetrics
        from fastprom.platform_collector import PlatformCollector
        from fastprom.process_collector import ProcessCollector

        async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover - never called
            pass

        PrometheusMiddleware(app, registry=registry, namespace=namespace)
        GeminiMetrics(registry, namespace, ())
        agents._Families(registry, namespace)
        infra._Families(registry, namespace, "service")
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)
        PlatformCollector(registry=registry)

    def _full(self, name: str) -> str:
        if name.startswith(("process_", "python_")) and name in self.families:
            return name
        return f"{self.namespace}_{name}" if self.namespace else name

    def __getitem__(self, name: str) -> Family:
        """The family ``name`` (without the namespace; ``KeyError`` naming it if fastprom records none)."""
        full = self._full(name)
        family = self.families.get(full)
        if family is None:
            raise KeyError(f"fastprom records no metric family {full!r}")
        return family

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._full(name) in self.families

    def __iter__(self) -> Iterator[Family]:
        return iter(self.families.values())

    def sample(self, name: str, suffix: str = "") -> str:
        """The full name of a sample of family ``name``: ``sample("http_requests", "_total")``."""
        return self[name].sample(suffix)

    def labels(self, name: str) -> tuple[str, ...]:
        """The label names of family ``name``."""
        return self[name].labels
