"""Pushgateway client: push, push-add and delete a registry's metrics, and the request handlers.

Re-exported by :mod:`fastprom.exposition` with prometheus_client's names and signatures.  A
*handler* is ``handler(url, method, timeout, headers, data) -> send``: it returns a callable that
performs the request and raises on failure, so authentication, TLS or a different HTTP client
can be plugged in.
"""

from __future__ import annotations

import base64
import gzip
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.error import HTTPError
from urllib.parse import quote_plus, urlsplit
from urllib.request import BaseHandler, HTTPHandler, HTTPRedirectHandler, HTTPSHandler, Request, build_opener

from ._render import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from .registry import REGISTRY, CollectorRegistry

__all__ = [
    "basic_auth_handler",
    "default_handler",
    "delete_from_gateway",
    "instance_ip_grouping_key",
    "passthrough_redirect_handler",
    "push_to_gateway",
    "pushadd_to_gateway",
    "tls_auth_handler",
]

CompressionType = Literal["gzip", "snappy"] | None
Headers = list[tuple[str, str]]
Handler = Callable[..., Callable[[], None]]


class _RedirectAnyMethodHandler(HTTPRedirectHandler):
    """Follows redirects for every method, repeating the method, headers and body unchanged.

    urllib's default refuses to redirect a PUT and drops the body of a redirected POST.
    """

    def redirect_request(self, req: Request, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Request:
        if code not in (301, 302, 303, 307, 308):
            raise HTTPError(req.full_url, code, msg, headers, fp)
        return Request(
            newurl.replace(" ", "%20"),
            data=req.data,
            headers=dict(req.header_items()),
            origin_req_host=req.origin_req_host,
            unverifiable=True,
            method=req.get_method(),
        )


def _opener_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: Headers,
    data: bytes,
    base_handler: BaseHandler | type[BaseHandler],
) -> Callable[[], None]:
    def send() -> None:
        request = Request(url, data=data, method=method)
        for name, value in headers:
            request.add_header(name, value)
        # urllib raises HTTPError (an OSError) for any answer >= 400.
        build_opener(base_handler).open(request, timeout=timeout).close()

    return send


def default_handler(url: str, method: str, timeout: float | None, headers: Headers, data: bytes) -> Callable[[], None]:
    """Plain HTTP/HTTPS with urllib; the handler the push functions use unless told otherwise."""
    return _opener_handler(url, method, timeout, headers, data, HTTPHandler)


def passthrough_redirect_handler(
    url: str, method: str, timeout: float | None, headers: Headers, data: bytes
) -> Callable[[], None]:
    """Like :func:`default_handler`, but follows redirects for every method, body and headers included.

    Use it only when you trust where the redirects lead: the pushed metrics go there too.
    """
    return _opener_handler(url, method, timeout, headers, data, _RedirectAnyMethodHandler)


def basic_auth_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: Headers,
    data: bytes,
    username: str | None = None,
    password: str | None = None,
) -> Callable[[], None]:
    """Like :func:`default_handler`, with HTTP Basic authentication when both credentials are given.

    Bind the credentials with a closure or ``functools.partial`` to pass it as ``handler``.
    """

    def send() -> None:
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        default_handler(url, method, timeout, headers, data)()

    return send


def tls_auth_handler(
    url: str,
    method: str,
    timeout: float | None,
    headers: Headers,
    data: bytes,
    certfile: str,
    keyfile: str,
    cafile: str | None = None,
    protocol: int = ssl.PROTOCOL_TLS_CLIENT,
    insecure_skip_verify: bool = False,
) -> Callable[[], None]:
    """HTTPS with a client certificate; ``insecure_skip_verify`` turns off server verification."""
    context = ssl.SSLContext(protocol)
    if cafile is not None:
        context.load_verify_locations(cafile)
    else:
        context.load_default_certs()
    if insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    return _opener_handler(url, method, timeout, headers, data, HTTPSHandler(context=context))


def push_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry,
    grouping_key: Mapping[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
    compression: CompressionType = None,
) -> None:
    """Replace every metric of ``job`` and ``grouping_key`` on the pushgateway (HTTP ``PUT``).

    ``gateway`` is ``host:port`` or a URL (``http`` if no scheme is given); ``timeout`` is in
    seconds (``None`` waits forever); ``handler`` performs the request (see the module docstring);
    ``compression`` is ``"gzip"``, ``"snappy"`` (needs ``python-snappy``) or ``None``.
    """
    _use_gateway("PUT", gateway, job, registry, grouping_key, timeout, handler, compression)


def pushadd_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry | None,
    grouping_key: Mapping[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
    compression: CompressionType = None,
) -> None:
    """Replace only the pushed metric names of ``job`` and ``grouping_key`` (HTTP ``POST``).

    Arguments as :func:`push_to_gateway`; ``registry=None`` pushes the default registry.
    """
    _use_gateway("POST", gateway, job, registry, grouping_key, timeout, handler, compression)


def delete_from_gateway(
    gateway: str,
    job: str,
    grouping_key: Mapping[str, Any] | None = None,
    timeout: float | None = 30,
    handler: Handler = default_handler,
) -> None:
    """Delete every metric of ``job`` and ``grouping_key`` from the pushgateway (HTTP ``DELETE``)."""
    _use_gateway("DELETE", gateway, job, None, grouping_key, timeout, handler, None)


def instance_ip_grouping_key() -> dict[str, Any]:
    """A grouping key whose ``instance`` is this host's IP address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # Connecting a UDP socket sends nothing; it only picks the local address of the route.
        sock.connect(("10.255.255.255", 1) if sys.platform == "darwin" else ("localhost", 0))
        return {"instance": sock.getsockname()[0]}


def _use_gateway(
    method: str,
    gateway: str,
    job: str,
    registry: CollectorRegistry | None,
    grouping_key: Mapping[str, Any] | None,
    timeout: float | None,
    handler: Handler,
    compression: CompressionType,
) -> None:
    if urlsplit(gateway).scheme not in ("http", "https"):
        gateway = f"http://{gateway}"
    path = "".join(
        f"/{k}/{v}"
        for k, v in (
            _grouping_key_segment("job", job),
            *(_grouping_key_segment(str(k), str(v)) for k, v in sorted((grouping_key or {}).items())),
        )
    )
    url = f"{gateway.rstrip('/')}/metrics{path}"
    headers: Headers = [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)]
    data = b""
    if method == "DELETE":
        if compression is not None:
            raise ValueError("compression cannot be used with DELETE: there is no body to compress")
    else:
        data = generate_latest(REGISTRY if registry is None else registry)
        if compression is not None:
            data = _compress(data, compression)
            headers.append(("Content-Encoding", compression.lower()))
    handler(url=url, method=method, timeout=timeout, headers=headers, data=data)()


def _compress(data: bytes, compression: str) -> bytes:
    encoding = compression.lower()
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "snappy":
        try:
            import snappy  # type: ignore[import-not-found]
        except ImportError:
            raise RuntimeError("snappy compression needs the python-snappy package") from None
        compressor = snappy.StreamCompressor()
        compressed: bytes = compressor.compress(data)
        flush = getattr(compressor, "flush", None)
        return compressed + flush() if callable(flush) else compressed
    raise ValueError(f"unsupported compression {compression!r}: use 'gzip', 'snappy' or None")


def _grouping_key_segment(name: str, value: str) -> tuple[str, str]:
    """``name`` and ``value`` as URL path segments, base64url-encoded where the pushgateway needs it."""
    if not value:
        return f"{name}@base64", "="
    if "/" in value or " " in value:
        return f"{name}@base64", base64.urlsafe_b64encode(value.encode()).decode("ascii")
    return name, quote_plus(value)
