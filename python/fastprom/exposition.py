"""Prometheus text exposition, content negotiation and writing metrics to files."""

from __future__ import annotations

import gzip
import os
import threading
from functools import partial
from typing import Any, Callable, Optional

from .openmetrics import exposition as openmetrics
from .registry import REGISTRY, Collector
from .utils import parse_version

__all__: tuple[str, ...] = (
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CONTENT_TYPE_PLAIN_1_0_0",
    "delete_from_gateway",
    "generate_latest",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "MetricsHandler",
    "push_to_gateway",
    "pushadd_to_gateway",
    "start_http_server",
    "start_wsgi_server",
    "write_to_textfile",
)

CONTENT_TYPE_PLAIN_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
"""Content type of the text format as Prometheus first defined it."""
CONTENT_TYPE_PLAIN_1_0_0 = "text/plain; version=1.0.0; charset=utf-8"
"""Content type of the text format with UTF-8 names."""
CONTENT_TYPE_LATEST = CONTENT_TYPE_PLAIN_1_0_0


def generate_latest(registry: Collector = REGISTRY, escaping: str = openmetrics.UNDERSCORES) -> bytes:
    """The Prometheus text exposition of ``registry`` (any object with ``collect()``)."""
    return openmetrics._render(registry, False, escaping, 0)


def _accept_param(tokens: list[str], key: str) -> str:
    for tok in tokens:
        name, sep, value = tok.strip().partition("=")
        if sep and name == key:
            return value
    return ""


def _accept_escaping(tokens: list[str]) -> str:
    value = _accept_param(tokens, openmetrics.ESCAPING_HEADER_TAG)
    if value in (openmetrics.ALLOWUTF8, openmetrics.DOTS, openmetrics.VALUES):
        return value
    return openmetrics.UNDERSCORES


def choose_encoder(accept_header: Optional[str]) -> tuple[Callable[[Collector], bytes], str]:
    """The encoder and content type for an ``Accept`` header (prometheus_client's rules)."""
    for accepted in (accept_header or "").split(","):
        tokens = accepted.split(";")
        media = tokens[0].strip()
        if media == "application/openmetrics-text":
            version = _accept_param(tokens, "version")
            if not version:
                encoder = partial(openmetrics.generate_latest, escaping=openmetrics.UNDERSCORES, version="1.0.0")
                return encoder, openmetrics.CONTENT_TYPE_LATEST
            if parse_version(version) >= (1, 0, 0):
                escaping = _accept_escaping(tokens)
                encoder = partial(openmetrics.generate_latest, escaping=escaping, version=version)
                return (
                    encoder,
                    f"application/openmetrics-text; version={version}; charset=utf-8; escaping={escaping}",
                )
        elif media == "text/plain":
            version = _accept_param(tokens, "version")
            if version and parse_version(version) >= (1, 0, 0):
                escaping = _accept_escaping(tokens)
                return partial(generate_latest, escaping=escaping), f"{CONTENT_TYPE_LATEST}; escaping={escaping}"
    return generate_latest, CONTENT_TYPE_PLAIN_0_0_4


def gzip_accepted(accept_encoding_header: Optional[str]) -> bool:
    """Whether an ``Accept-Encoding`` header lists gzip."""
    return any(token.split(";")[0].strip().lower() == "gzip" for token in (accept_encoding_header or "").split(","))


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


def write_to_textfile(
    path: str, registry: Collector, escaping: str = openmetrics.ALLOWUTF8, tmpdir: Optional[str] = None
) -> None:
    """Write the text exposition to ``path`` atomically (for node_exporter's textfile collector).

    The file is written next to ``path`` (or in ``tmpdir``, which must be on the same
    filesystem) and renamed into place.
    """
    directory = tmpdir if tmpdir is not None else os.path.dirname(os.path.abspath(path))
    tmppath = os.path.join(directory, f"{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}")
    data = generate_latest(registry, escaping)
    try:
        with open(tmppath, "wb") as f:
            f.write(data)
        os.replace(tmppath, path)
    except BaseException:
        if os.path.exists(tmppath):
            os.remove(tmppath)
        raise


# The servers and the Pushgateway client live in their own modules; prometheus_client users
# import them from here. (Imported last: they use this module's functions.)
from ._push import (  # noqa: E402
    basic_auth_handler,
    default_handler,
    delete_from_gateway,
    instance_ip_grouping_key,
    passthrough_redirect_handler,
    push_to_gateway,
    pushadd_to_gateway,
    tls_auth_handler,
)
from ._server import start_http_server  # noqa: E402
from ._wsgi import MetricsHandler, ThreadingWSGIServer, make_wsgi_app, start_wsgi_server  # noqa: E402
from .asgi import make_asgi_app  # noqa: E402

__all__ += (
    "ThreadingWSGIServer",
    "basic_auth_handler",
    "choose_encoder",
    "default_handler",
    "gzip_accepted",
    "passthrough_redirect_handler",
    "tls_auth_handler",
)
