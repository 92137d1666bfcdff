"""The metric classes: Counter, Gauge, Summary, Histogram, Info, Enum (implemented in Rust)."""

from __future__ import annotations

import os
import sys
import types

from . import _core, values  # noqa: F401  (values: sets the value class first)
from ._core import Counter, Enum, Gauge, Histogram, Info, SeriesOverflowWarning, Summary

__all__ = [
    "Counter",
    "Enum",
    "Gauge",
    "Histogram",
    "Info",
    "MetricWrapperBase",
    "SeriesOverflowWarning",
    "Summary",
    "disable_created_metrics",
    "enable_created_metrics",
]

#: The metric classes (prometheus_client's common base class; use it for isinstance checks).
MetricWrapperBase = (Counter, Gauge, Summary, Histogram, Info, Enum)


def _get_use_created() -> bool:
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


def disable_created_metrics() -> None:
    """Stop exposing ``_created`` samples of counters, histograms and summaries."""
    _core.set_use_created(False)


def enable_created_metrics() -> None:
    """Expose ``_created`` samples again (the default)."""
    _core.set_use_created(True)


class _Module(types.ModuleType):
    # ``metrics._use_created`` reads and writes the flag the Rust encoders use, as
    # prometheus_client's module global does.
    @property
    def _use_created(self) -> bool:
        return _core.use_created()

    @_use_created.setter
    def _use_created(self, value: bool) -> None:
        _core.set_use_created(bool(value))


sys.modules[__name__].__class__ = _Module
_core.set_use_created(_get_use_created())
