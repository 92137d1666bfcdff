"""Rendering a registry for a ``/metrics`` request: the text format, content negotiation and gzip.

The leaf that every serving module imports (``_wsgi``, ``_server``, ``_push``, ``asgi``);
:mod:`fastprom.exposition` re-exports its public names. The ``Accept`` and ``Accept-Encoding``
rules are the Rust core's, the ones the Rust ``/metrics`` server applies.
"""

from __future__ import annotations

import gzip
from functools import partial
from typing import Any, Callable, Optional

from . import _core
from .openmetrics import exposition as openmetrics
from .registry import REGISTRY, Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CONTENT_TYPE_PLAIN_1_0_0",
    "choose_encoder",
    "generate_latest",
    "gzip_accepted",
]

CONTENT_TYPE_PLAIN_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
"""Content type of the text format as Prometheus first defined it."""
CONTENT_TYPE_PLAIN_1_0_0 = "text/plain; version=1.0.0; charset=utf-8"
"""Content type of the text format with UTF-8 names."""
CONTENT_TYPE_LATEST = CONTENT_TYPE_PLAIN_1_0_0


def generate_latest(registry: Collector = REGISTRY, escaping: str = openmetrics.UNDERSCORES) -> bytes:
    """The Prometheus text exposition of ``registry`` (any object with ``collect()``)."""
    return openmetrics._render(registry, False, escaping, 0)


def choose_encoder(accept_header: Optional[str]) -> tuple[Callable[[Collector], bytes], str]:
    """The encoder and content type for an ``Accept`` header (prometheus_client's rules)."""
    is_openmetrics, escaping, major, content_type = _core.negotiate(accept_header or "")
    if is_openmetrics:
        return partial(openmetrics.generate_latest, escaping=escaping, version=f"{major}.0.0"), content_type
    if content_type == CONTENT_TYPE_PLAIN_0_0_4:
        return generate_latest, content_type
    return partial(generate_latest, escaping=escaping), content_type


def gzip_accepted(accept_encoding_header: Optional[str]) -> bool:
    """Whether an ``Accept-Encoding`` header lists gzip."""
    return _core.gzip_accepted(accept_encoding_header or "")


def _bake_output(
    registry: Any,
    accept_header: Optional[str],
    accept_encoding_header: Optional[str],
    params: dict[str, list[str]],
    disable_compression: bool,
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status, headers and body of a metrics response."""
    encoder, content_type = choose_encoder(accept_header)
    if "name[]" in params:
        registry = registry.restricted_registry(params["name[]"])
    output = encoder(registry)
    headers = [("Content-Type", content_type)]
    if not disable_compression and gzip_accepted(accept_encoding_header):
        output = gzip.compress(output)
        headers.append(("Content-Encoding", "gzip"))
    return "200 OK", headers, output
