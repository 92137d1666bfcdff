"""make_wsgi_app, start_wsgi_server and MetricsHandler under real servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import pytest
from _servers import binary, http_get, make_certificates

from fastprom._wsgi import MetricsHandler, make_wsgi_app, start_wsgi_server
from fastprom.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from fastprom.metrics import Counter
from fastprom.registry import CollectorRegistry


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("jobs", "Jobs done.", ["queue"], registry=registry).labels("default").inc(2)
    Counter("errors", "Errors.", registry=registry).inc()
    return registry


@pytest.fixture
def server(registry: CollectorRegistry) -> Iterator[WSGIServer]:
    httpd, thread = start_wsgi_server(0, addr="127.0.0.1", registry=registry)
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)
    assert not thread.is_alive()


def url(server: WSGIServer, path: str = "/metrics") -> str:
    return f"http://127.0.0.1:{server.server_port}{path}"


def request(method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(target, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serves_text_format(server: WSGIServer, registry: CollectorRegistry) -> None:
    status, headers, body = request("GET", url(server))
    assert status == 200 and headers["Content-Type"] == CONTENT_TYPE_PLAIN_0_0_4
    assert body == generate_latest(registry)
    assert b'jobs_total{queue="default"} 2.0\n' in body


def test_negotiation_gzip_and_filter(server: WSGIServer, registry: CollectorRegistry) -> None:
    status, body = http_get(
        url(server, "/metrics?name[]=errors_total"),
        headers={"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    text = gzip.decompress(body).decode()
    assert status == 200
    assert text.startswith("# HELP errors Errors.\n# TYPE errors counter\nerrors_total 1.0\n")
    assert "jobs" not in text and text.endswith("# EOF\n")


def test_methods_and_favicon(server: WSGIServer) -> None:
    status, headers, body = request("POST", url(server))
    assert status == 405 and headers["Allow"] == "OPTIONS,GET"
    assert body == b"# HTTP 405 Method Not Allowed: POST; use OPTIONS or GET\n"
    status, headers, body = request("OPTIONS", url(server))
    assert (status, headers["Allow"], body) == (200, "OPTIONS,GET", b"")
    assert request("GET", url(server, "/favicon.ico"))[::2] == (200, b"")


def test_make_wsgi_app_called_directly(registry: CollectorRegistry) -> None:
    started: list[tuple[str, list[tuple[str, str]]]] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "HTTP_ACCEPT_ENCODING": "gzip"}
    body = make_wsgi_app(registry, disable_compression=True)(environ, lambda s, h: started.append((s, h)))
    assert started == [("200 OK", [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)])]
    assert body == [generate_latest(registry)]


def test_metrics_handler_factory(registry: CollectorRegistry) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler.factory(registry))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = http_get(f"http://127.0.0.1:{httpd.server_port}/metrics?name[]=jobs")
        assert status == 200 and body == generate_latest(registry.restricted_registry(["jobs"]))
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.skipif(binary("openssl") is None, reason="openssl command line tool not installed")
def test_tls_with_client_certificates(registry: CollectorRegistry, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    httpd, thread = start_wsgi_server(
        0,
        addr="127.0.0.1",
        registry=registry,
        certfile=str(certs.server_cert),
        keyfile=str(certs.server_key),
        client_cafile=str(certs.ca),
        client_auth_required=True,
    )
    url = f"https://127.0.0.1:{httpd.server_port}/metrics"
    try:
        context = ssl.create_default_context(cafile=str(certs.ca))
        with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):  # no client certificate
            urllib.request.urlopen(url, timeout=5, context=context).read()
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            assert response.read() == generate_latest(registry)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_bad_certificate_path_names_the_file(registry: CollectorRegistry, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError, match="missing.pem") as failed:
        start_wsgi_server(
            port,
            addr="127.0.0.1",
            registry=registry,
            certfile=str(tmp_path / "missing.pem"),
            keyfile=str(tmp_path / "missing.key"),
        )
    # The failed start left its port free (and no socket to the garbage collector), even while
    # the traceback keeps its frames alive.
    assert failed.value is not None
    httpd, thread = start_wsgi_server(port, addr="127.0.0.1", registry=registry)
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)
