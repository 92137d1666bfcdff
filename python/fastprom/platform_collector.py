"""``python_info``: the interpreter's version and implementation."""

from __future__ import annotations

import platform as _platform
from typing import Any, Iterable, Optional

from .metrics_core import GaugeMetricFamily, Metric
from .registry import REGISTRY, CollectorRegistry

__all__ = ["PLATFORM_COLLECTOR", "PlatformCollector"]


class PlatformCollector:
    """Exposes ``python_info`` with labels version, implementation, major, minor, patchlevel."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY, platform: Optional[Any] = None) -> None:
        self._platform = _platform if platform is None else platform
        info = self._info()
        if self._platform.system() == "Java":
            info.update(self._java())
        family = GaugeMetricFamily("python_info", "Python platform information", labels=list(info))
        family.add_metric(list(info.values()), 1)
        self._metrics = [family]
        if registry:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        return self._metrics

    def _info(self) -> dict[str, str]:
        major, minor, patchlevel = self._platform.python_version_tuple()
        return {
            "version": self._platform.python_version(),
            "implementation": self._platform.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
        }

    def _java(self) -> dict[str, str]:
        java_version, _, vminfo, _ = self._platform.java_ver()
        vm_name, vm_release, vm_vendor = vminfo
        return {"jvm_version": java_version, "jvm_release": vm_release, "jvm_vendor": vm_vendor, "jvm_name": vm_name}


PLATFORM_COLLECTOR = PlatformCollector()
