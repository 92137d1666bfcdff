"""fastprom: a Rust-backed, drop-in replacement for prometheus_client.

``import fastprom as prometheus_client`` works: the same classes, arguments, errors and
exposition bytes, with the storage and the encoders in Rust.
"""

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
    generate_latest,
    write_to_textfile,
)
from .gc_collector import GC_COLLECTOR, GCCollector
from .metrics import (
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
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
    "Summary",
    "__version__",
    "disable_created_metrics",
    "enable_created_metrics",
    "exposition",
    "gc_collector",
    "generate_latest",
    "metrics",
    "metrics_core",
    "platform_collector",
    "process_collector",
    "registry",
    "write_to_textfile",
]
