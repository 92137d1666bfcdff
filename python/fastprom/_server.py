"""``start_http_server``: ``/metrics`` served by a Rust thread, so scrapes do not queue behind
Python code holding the GIL.

TLS (``certfile`` and ``keyfile``) is served by a pure-Python ``wsgiref`` server wrapped in
``ssl``, as prometheus_client does it; that server needs the GIL like prometheus_client's.
"""

from __future__ import annotations

import atexit
import socket
import ssl
import threading
from typing import Any, Callable, Tuple

from . import _core
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
    family, host = _best_family(addr, port)
    if certfile and keyfile:
        context = _tls_context(
            certfile,
            keyfile,
            protocol,
            client_cafile,
            client_capath,
            client_auth_required,
            tls_min_version,
            tls_max_version,
        )
        return _start_tls_server(family, host, port, registry, context)
    server, thread = _core.start_http_server(port, host, registry, _renderer(registry))
    atexit.register(server.shutdown)
    return server, thread


def _renderer(registry: Collector) -> Callable[[bool, str, int, list | None], bytes]:
    from .exposition import generate_latest
    from .openmetrics.exposition import generate_latest as generate_openmetrics

    def render(openmetrics: bool, escaping: str, version_major: int, names: list | None) -> bytes:
        target = registry if names is None else registry.restricted_registry(names)  # type: ignore[attr-defined]
        if openmetrics:
            return generate_openmetrics(target, escaping=escaping, version=f"{version_major}.0.0")
        return generate_latest(target, escaping=escaping)

    return render


def _best_family(addr: str, port: int) -> Tuple[int, str]:
    """The family and numeric host ``addr`` resolves to first, as Python's servers choose it."""
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, str(sockaddr[0])


def _tls_context(
    certfile: str,
    keyfile: str,
    protocol: int,
    cafile: str | None,
    capath: str | None,
    client_auth_required: bool,
    tls_min_version: ssl.TLSVersion | None,
    tls_max_version: ssl.TLSVersion | None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    if cafile is not None or capath is not None:
        context.load_verify_locations(cafile, capath)
    else:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    if client_auth_required:
        context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(certfile, keyfile)
    if tls_min_version is not None:
        context.minimum_version = tls_min_version
    if tls_max_version is not None:
        context.maximum_version = tls_max_version
    return context


def _start_tls_server(
    family: int, host: str, port: int, registry: Collector, context: ssl.SSLContext
) -> Tuple[Any, threading.Thread]:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from .exposition import make_wsgi_app

    class Server(ThreadingMixIn, WSGIServer):
        address_family = family
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = make_server(host, port, make_wsgi_app(registry), Server, handler_class=QuietHandler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread
