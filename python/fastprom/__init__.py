"""fastprom: a Rust-backed, drop-in replacement for prometheus_client.

``import fastprom as prometheus_client`` works: the same classes, arguments, errors and
exposition bytes, with the storage and the encoders in Rust.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

# First: hands the native module the objects it needs (see _native.py).
from . import _native  # noqa: F401

# isort: split
from . import (
    exposition,
    gc_collector,
    metrics,
    metrics_core,
    platform_collector,
    process_collector,
    registry,
)
from ._core import __version__
from .exposition import (
    CONTENT_TYPE_LATEST,
    CONTENT_TYPE_PLAIN_0_0_4,
    CONTENT_TYPE_PLAIN_1_0_0,
    MetricsHandler,
    delete_from_gateway,
    generate_latest,
    instance_ip_grouping_key,
    make_asgi_app,
    make_wsgi_app,
    push_to_gateway,
    pushadd_to_gateway,
    start_http_server,
    start_wsgi_server,
    write_to_textfile,
)
from .gc_collector import GC_COLLECTOR, GCCollector
from .metrics import (
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    SeriesOverflowWarning,
    Summary,
    disable_created_metrics,
    enable_created_metrics,
)
from .metrics_core import Metric
from .platform_collector import PLATFORM_COLLECTOR, PlatformCollector
from .process_collector import PROCESS_COLLECTOR, ProcessCollector
from .registry import REGISTRY, CollectorRegistry

__all__ = [
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CONTENT_TYPE_PLAIN_1_0_0",
    "GC_COLLECTOR",
    "MetricsHandler",
    "PLATFORM_COLLECTOR",
    "PROCESS_COLLECTOR",
    "REGISTRY",
    "CollectorRegistry",
    "Counter",
    "Enum",
    "GCCollector",
    "Gauge",
    "Histogram",
    "Info",
    "Metric",
    "PlatformCollector",
    "ProcessCollector",
    "SeriesOverflowWarning",
    "Summary",
    "__version__",
    "delete_from_gateway",
    "disable_created_metrics",
    "enable_created_metrics",
    "exposition",
    "gc_collector",
    "generate_latest",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "metrics",
    "metrics_core",
    "platform_collector",
    "process_collector",
    "push_to_gateway",
    "pushadd_to_gateway",
    "registry",
    "start_http_server",
    "start_wsgi_server",
    "write_to_textfile",
]


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Resolves submodules of an alias of fastprom to fastprom's own modules.

    After ``sys.modules["prometheus_client"] = fastprom``, ``import prometheus_client.registry``
    would otherwise load a second copy of ``fastprom/registry.py`` (with a second
    ``REGISTRY``); this finder hands out ``fastprom.registry`` itself.
    """

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # type: ignore[no-untyped-def]
        head, dot, tail = fullname.partition(".")
        if not dot or head == __name__ or sys.modules.get(head) is not sys.modules[__name__]:
            return None
        module = importlib.import_module(f"{__name__}.{tail}")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module))


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
