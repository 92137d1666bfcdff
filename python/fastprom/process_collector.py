"""Process metrics (CPU, memory, file descriptors, start time) from Linux ``/proc``."""

from __future__ import annotations

import os
from typing import Callable, Iterable, Optional, Union

from . import _core
from .metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from .registry import REGISTRY, CollectorRegistry

__all__ = ["PROCESS_COLLECTOR", "ProcessCollector"]

try:
    import resource

    _PAGESIZE = resource.getpagesize()
except ImportError:  # not Unix
    _PAGESIZE = 4096


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, TypeError, AttributeError, OSError):
        return 100.0


def _this_process() -> str:
    return "self"


class ProcessCollector:
    """Collects ``process_*`` metrics of a process (by default this one) from ``proc``.

    For this process (the default ``pid``) the metrics are read by Rust, so a scrape of
    the registry does not need the GIL.
    """

    def __init__(
        self,
        namespace: str = "",
        pid: Callable[[], Union[int, str]] = _this_process,
        proc: str = "/proc",
        registry: Optional[CollectorRegistry] = REGISTRY,
    ) -> None:
        self._namespace = namespace
        self._pid = pid
        self._proc = proc
        self._prefix = f"{namespace}_process_" if namespace else "process_"
        self._ticks = _clock_ticks()
        self._pagesize = _PAGESIZE
        self._btime = self._boot_time()
        if pid is _this_process:
            self.__fastprom_collector__ = _core.process_collector(
                namespace, proc, "self", float(self._ticks), float(self._pagesize)
            )
        if registry:
            registry.register(self)

    def _boot_time(self) -> float:
        try:
            with open(os.path.join(self._proc, "stat"), "rb") as f:
                for line in f:
                    if line.startswith(b"btime "):
                        return float(line.split()[1])
        except OSError:
            pass
        return 0.0

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(self._prefix + name, doc, value=value)

    def collect(self) -> Iterable[Metric]:
        native = getattr(self, "__fastprom_collector__", None)
        if native is not None:
            families: Iterable[Metric] = native.collect()
            return families
        if not self._btime:
            return []
        piddir = os.path.join(self._proc, str(self._pid()).strip())
        result: list[Metric] = []
        try:
            with open(os.path.join(piddir, "stat"), "rb") as f:
                # Fields after the command name, which may itself contain spaces or ')'.
                fields = f.read().rsplit(b")", 1)[-1].split()
            ticks = self._ticks
            result += [
                self._gauge("virtual_memory_bytes", "Virtual memory size in bytes.", float(fields[20])),
                self._gauge(
                    "resident_memory_bytes", "Resident memory size in bytes.", float(fields[21]) * self._pagesize
                ),
                self._gauge(
                    "start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    float(fields[19]) / ticks + self._btime,
                ),
                CounterMetricFamily(
                    self._prefix + "cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                    value=(float(fields[11]) + float(fields[12])) / ticks,
                ),
            ]
        except OSError:
            pass
        try:
            max_fds = None
            with open(os.path.join(piddir, "limits"), "rb") as f:
                for line in f:
                    if line.startswith(b"Max open file"):
                        max_fds = float(line.split()[3])
                        break
            open_fds = len(os.listdir(os.path.join(piddir, "fd")))
            result.append(self._gauge("open_fds", "Number of open file descriptors.", open_fds))
            if max_fds is not None:
                result.append(self._gauge("max_fds", "Maximum number of open file descriptors.", max_fds))
        except OSError:
            pass
        return result


PROCESS_COLLECTOR = ProcessCollector()
