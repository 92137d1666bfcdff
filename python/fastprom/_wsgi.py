"""WSGI serving of a registry: ``make_wsgi_app``, ``start_wsgi_server`` and ``MetricsHandler``.

Re-exported by :mod:`fastprom.exposition` with prometheus_client's names and signatures.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ._core import METRICS_ALLOW, method_not_allowed
from .registry import REGISTRY, CollectorRegistry

__all__ = ["MetricsHandler", "ThreadingWSGIServer", "make_wsgi_app", "start_wsgi_server"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_ALLOW = [("Allow", METRICS_ALLOW)]


def _bake_output(*args: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    """``exposition._bake_output``, looked up at each request as prometheus_client's WSGI app
    does, so that code patching ``prometheus_client.exposition._bake_output`` sees the calls."""
    from . import exposition  # the facade; imported here, not at the top: it imports this module

    return exposition._bake_output(*args)


def make_wsgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> WSGIApp:
    """Create a WSGI app which serves the metrics from ``registry``.

    ``GET`` on any path serves the metrics (content negotiation, gzip and ``name[]=`` as
    :func:`fastprom.asgi.make_asgi_app`); ``/favicon.ico`` gets an empty 200, ``OPTIONS`` the
    allowed methods, any other method a 405.
    """

    def prometheus_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            status, headers, body = "200 OK", _ALLOW, b""
        elif method != "GET":
            status = "405 Method Not Allowed"
            headers, body = _ALLOW, method_not_allowed(method).encode()
        elif environ.get("PATH_INFO") == "/favicon.ico":
            status, headers, body = "200 OK", [], b""
        else:
            status, headers, body = _bake_output(
                registry,
                environ.get("HTTP_ACCEPT"),
                environ.get("HTTP_ACCEPT_ENCODING"),
                parse_qs(environ.get("QUERY_STRING", "")),
                disable_compression,
            )
        start_response(status, list(headers))
        return [body]

    return prometheus_app


class _SilentHandler(WSGIRequestHandler):
    """A WSGI request handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """A WSGI server handling each request in its own daemon thread."""

    daemon_threads = True


def _address_family(addr: str, port: int) -> tuple[socket.AddressFamily, str]:
    """The address family and bind address for ``addr`` (IPv4 or IPv6 host names and literals)."""
    family, _, _, _, sockaddr = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, str(sockaddr[0])


def _server_ssl_context(
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
    try:
        if cafile is not None or capath is not None:
            context.load_verify_locations(cafile, capath)
        else:
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    except OSError as exc:
        raise type(exc)(f"cannot load CA certificates from {cafile!r} / {capath!r}: {exc}") from exc
    if client_auth_required:
        context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    except OSError as exc:
        raise type(exc)(f"cannot load the server certificate {certfile!r} or key {keyfile!r}: {exc}") from exc
    if tls_min_version is not None:
        context.minimum_version = tls_min_version
    if tls_max_version is not None:
        context.maximum_version = tls_max_version
    return context


def start_wsgi_server(
    port: int,
    addr: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
    certfile: str | None = None,
    keyfile: str | None = None,
    client_cafile: str | None = None,
    client_capath: str | None = None,
    protocol: int = ssl.PROTOCOL_TLS_SERVER,
    client_auth_required: bool = False,
    tls_min_version: ssl.TLSVersion | None = None,
    tls_max_version: ssl.TLSVersion | None = None,
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``registry`` over HTTP (HTTPS with ``certfile`` and ``keyfile``) from a daemon thread.

    Returns ``(server, thread)``; ``server.shutdown()`` stops it.
    """
    family, bind_addr = _address_family(addr, port)
    server_class = type("ThreadingWSGIServer", (ThreadingWSGIServer,), {"address_family": family})
    server: WSGIServer = make_server(
        bind_addr, port, make_wsgi_app(registry), server_class, handler_class=_SilentHandler
    )
    if certfile and keyfile:
        try:
            context = _server_ssl_context(
                certfile,
                keyfile,
                protocol,
                client_cafile,
                client_capath,
                client_auth_required,
                tls_min_version,
                tls_max_version,
            )
            server.socket = context.wrap_socket(server.socket, server_side=True)
        except BaseException:
            server.server_close()  # the port is free again: a failed start leaves nothing behind
            raise
    thread = threading.Thread(target=server.serve_forever, name="fastprom-wsgi-server", daemon=True)
    thread.start()
    return server, thread


class MetricsHandler(BaseHTTPRequestHandler):
    """An ``http.server`` request handler serving the metrics of ``registry`` on ``GET``."""

    registry: CollectorRegistry = REGISTRY

    def do_GET(self) -> None:
        status, headers, body = _bake_output(
            self.registry,
            self.headers.get("Accept"),
            self.headers.get("Accept-Encoding"),
            parse_qs(urlsplit(self.path).query),
            False,
        )
        self.send_response(int(status.split(" ", 1)[0]))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    @classmethod
    def factory(cls, registry: CollectorRegistry) -> type[MetricsHandler]:
        """A subclass of this handler serving ``registry``."""
        return type(cls.__name__, (cls,), {"registry": registry})
