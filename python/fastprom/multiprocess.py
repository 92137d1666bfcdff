"""Reading multiprocess mode's ``.db`` files, as prometheus_client's ``multiprocess`` module.

Each worker process writes its values into files of ``PROMETHEUS_MULTIPROC_DIR``; a
``MultiProcessCollector`` merges them at every scrape. The files are read and merged in
Rust: a registry holding the collector is rendered without Python code, and by
``start_http_server`` without the GIL.

Where prometheus_client fails the whole scrape (a corrupt or truncated file, a file whose
name is not ``<type>_<pid>.db``, a file removed between listing and reading), fastprom
leaves that file out, serves the rest, and issues one ``MultiprocessWarning`` naming the
file per scrape. A scrape served by the Rust HTTP server prints the warning on stderr
instead, once per distinct message in the process.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional, Union

from . import _core
from .metrics_core import Metric
from .registry import CollectorRegistry
from .values import _copy_deprecated_dir

__all__ = ["MultiProcessCollector", "MultiprocessWarning", "mark_process_dead"]

MultiprocessWarning = _core.MultiprocessWarning
"""Category of the warning issued when a file is left out of a scrape (a ``UserWarning``)."""

_PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _env_dir() -> Optional[str]:
    """``PROMETHEUS_MULTIPROC_DIR``, copied from the deprecated lower-case variable if
    only that one is set (with a ``DeprecationWarning``)."""
    _copy_deprecated_dir()
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


class MultiProcessCollector:
    """Collector of the files of multiprocess mode: the values of every process, merged.

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``; it must be a directory
    (``ValueError`` otherwise). With a ``registry``, the collector registers itself.
    """

    def __init__(self, registry: Optional[CollectorRegistry], path: Optional[_PathArg] = None) -> None:
        if path is None:
            path = _env_dir()
        if not path or not os.path.isdir(path):
            raise ValueError("env PROMETHEUS_MULTIPROC_DIR is not set or not a directory")
        self._path = path
        self._native = _core.multiprocess_collector(os.fsdecode(path))
        # Rendered from Rust unless a subclass overrides collect().
        if type(self).collect is MultiProcessCollector.collect:
            self.__fastprom_collector__ = self._native
        if registry:
            registry.register(self)

    @staticmethod
    def merge(files: Iterable[_PathArg], accumulate: bool = True) -> list[Metric]:
        """Merge the values of the given files into metric families.

        Histogram buckets are cumulative, as exposed; ``accumulate=False`` keeps each
        bucket's own count (and adds no ``_count``), for writing merged values back into
        files.
        """
        merged: list[Metric] = _core.multiprocess_merge([os.fsdecode(f) for f in files], accumulate)
        return merged

    def collect(self) -> Iterable[Metric]:
        """The merged view of the directory's ``*.db`` files, read now."""
        metrics: list[Metric] = self._native.collect()
        return metrics


def mark_process_dead(pid: Union[int, str], path: Optional[_PathArg] = None) -> None:
    """Remove the files of process ``pid``'s ``live*`` gauges (``liveall``, ``livesum``,
    ...), so that the merged view no longer shows them; the files of its counters,
    histograms, summaries and other gauges stay.

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``, else ``prometheus_multiproc_dir``.
    """
    if path is None:
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", os.environ.get("prometheus_multiproc_dir"))
    _core.mark_process_dead(str(pid), os.fsdecode(path))  # type: ignore[arg-type]  # None: TypeError as there


def _merged_registry() -> Optional[CollectorRegistry]:
    """In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set), a new registry of the merged view
    of every process's files; else ``None``. What a server reads to see every worker."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ and "prometheus_multiproc_dir" not in os.environ:
        return None
    merged = CollectorRegistry(support_collectors_without_names=True)
    MultiProcessCollector(merged)
    return merged
