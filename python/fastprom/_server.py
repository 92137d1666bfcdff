"""``start_http_server``: ``/metrics`` served by a Rust thread, so scrapes do not queue behind
Python code holding the GIL.

TLS (``certfile`` and ``keyfile``) is served by a pure-Python ``wsgiref`` server wrapped in
``ssl``, as prometheus_client does it; that server needs the GIL like prometheus_client's.
"""

from __future__ import annotations

import atexit
import socket
import ssl
from typing import Any, Callable, Tuple

from . import _core
from ._render import generate_latest
from .openmetrics.exposition import generate_latest as generate_openmetrics
from .registry import REGISTRY, Collector

__all__ = ("start_http_server",)


def start_http_server(
    port: int,
    addr: str = "0.0.0.0",
    registry: Collector = REGISTRY,
    certfile: str | None = None,
    keyfile: str | None = None,
    client_cafile: str | None = None,
    client_capath: str | None = None,
    protocol: int = ssl.PROTOCOL_TLS_SERVER,
    client_auth_required: bool = False,
    tls_min_version: ssl.TLSVersion | None = None,
    tls_max_version: ssl.TLSVersion | None = None,
) -> Tuple[Any, Any]:
    """Serves the metrics of ``registry`` on ``addr:port`` from a daemon thread.

    Returns ``(server, thread)``: ``server.shutdown()`` stops serving, ``server.server_close()``
    frees the port, ``server.server_port`` is the port bound (useful with ``port=0``).
    A busy port raises ``OSError`` here, with ``errno`` set.
    """
    if certfile and keyfile:
        # TLS is served by the Python WSGI server (prometheus_client's own behaviour).
        from ._wsgi import start_wsgi_server

        return start_wsgi_server(
            port,
            addr,
            registry,  # type: ignore[arg-type]  # any collector works
            certfile,
            keyfile,
            client_cafile,
            client_capath,
            protocol,
            client_auth_required,
            tls_min_version,
            tls_max_version,
        )
    _, host = _best_family(addr, port)
    server, thread = _core.start_http_server(port, host, registry, _renderer(registry))
    atexit.register(server.shutdown)
    return server, thread


def _renderer(registry: Collector) -> Callable[[bool, str, int, list[str] | None], bytes]:
    def render(openmetrics: bool, escaping: str, version_major: int, names: list[str] | None) -> bytes:
        target = registry if names is None else registry.restricted_registry(names)  # type: ignore[attr-defined]
        if openmetrics:
            return generate_openmetrics(target, escaping=escaping, version=f"{version_major}.0.0")
        return generate_latest(target, escaping=escaping)

    return render


def _best_family(addr: str, port: int) -> Tuple[int, str]:
    """The family and numeric host ``addr`` resolves to first, as Python's servers choose it."""
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, str(sockaddr[0])
