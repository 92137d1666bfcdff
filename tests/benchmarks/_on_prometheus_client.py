"""Private copies of fastprom's instrumentation packages whose metric classes are
prometheus_client's, so that a benchmark's columns differ only in the metrics library.

The copies import ``fastprom.metrics`` and ``fastprom.registry``; while they are imported
those names point at a stand-in module with prometheus_client's classes. The stand-in drops
``max_series=`` (fastprom's series cap, which prometheus_client's constructors do not take):
the benchmarks never reach a cap, so the recorded series are the same.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

import prometheus_client.metrics
import prometheus_client.registry

import fastprom


def _without_max_series(cls: type) -> type:
    class Uncapped(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, max_series: int | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    Uncapped.__name__ = Uncapped.__qualname__ = cls.__name__
    return Uncapped


def _stand_in() -> ModuleType:
    module = ModuleType("fastprom.metrics (prometheus_client)")
    for name in ("Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"):
        setattr(module, name, _without_max_series(getattr(prometheus_client.metrics, name)))
    return module


def on_prometheus_client(*packages: str) -> list[ModuleType]:
    """Copies of ``packages`` (e.g. ``"fastprom.gemini"``) recording into prometheus_client."""
    ours = {name: sys.modules.pop(name) for name in list(sys.modules) if name.startswith(packages)}
    saved = sys.modules["fastprom.metrics"], sys.modules["fastprom.registry"]
    sys.modules["fastprom.metrics"] = _stand_in()
    sys.modules["fastprom.registry"] = prometheus_client.registry
    try:
        return [importlib.import_module(p) for p in packages]
    finally:
        sys.modules["fastprom.metrics"], sys.modules["fastprom.registry"] = saved
        for name in [name for name in sys.modules if name.startswith(packages)]:
            del sys.modules[name]
        sys.modules.update(ours)
        for p in packages:  # the parent package's attributes, rebound by the imports
            setattr(fastprom, p.rsplit(".", 1)[1], ours[p])
