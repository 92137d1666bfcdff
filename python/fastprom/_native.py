"""Hands the native module (``fastprom._core``) the Python objects it builds or calls.

The native module never imports from this package: the package gives it, once at import,
the default registry, the decorator helper and the classes ``collect()`` returns. The
package's ``__init__`` imports this module first, so every metric created afterwards (at
the import of any module) finds the default registry.
"""

from __future__ import annotations

from . import _core
from .context_managers import _decorate
from .metrics_core import Metric
from .openmetrics.exposition import _native_histogram_value
from .registry import REGISTRY
from .samples import Exemplar, Sample

if not _core._bound():
    _core._bind(
        registry=REGISTRY,
        decorate=_decorate,
        metric=Metric,
        sample=Sample,
        exemplar=Exemplar,
        native_histogram_value=_native_histogram_value,
    )
