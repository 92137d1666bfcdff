"""push_to_gateway, pushadd_to_gateway and delete_from_gateway against a real pushgateway."""

from __future__ import annotations

import base64
import functools
import gzip
import importlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _servers import Server, binary, http_get, make_certificates, pushgateway

from fastprom._push import (
    basic_auth_handler,
    delete_from_gateway,
    instance_ip_grouping_key,
    passthrough_redirect_handler,
    push_to_gateway,
    pushadd_to_gateway,
    tls_auth_handler,
)
from fastprom.exposition import generate_latest
from fastprom.metrics import Counter, Gauge
from fastprom.registry import CollectorRegistry


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if binary("prometheus-pushgateway") is None:
        pytest.skip("prometheus-pushgateway not installed (Debian package prometheus-pushgateway)")
    with pushgateway(tmp_path_factory.mktemp("pushgateway")) as server:
        yield server


def registry_with(name: str, value: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge(name, f"The {name}.", registry=registry).set(value)
    return registry


def gateway_lines(gateway: Server, job: str) -> set[str]:
    """Sample lines the gateway exposes for ``job`` (its own metrics and push_time left out)."""
    status, body = http_get(gateway.url + "/metrics")
    assert status == 200
    return {
        line for line in body.decode().splitlines() if f'job="{job}"' in line and not line.startswith(("push_", "#"))
    }


def test_push_pushadd_delete_round_trip(gateway: Server) -> None:
    key = {"instance": "web/1", "zone": "eu west"}  # slash and space: base64 path segments
    labels = 'instance="web/1",job="batch",zone="eu west"'
    push_to_gateway(gateway.url, "batch", registry_with("rows_processed", 10), grouping_key=key)
    assert gateway_lines(gateway, "batch") == {f"rows_processed{{{labels}}} 10"}

    pushadd_to_gateway(gateway.url, "batch", registry_with("rows_failed", 2), grouping_key=key, timeout=5)
    assert gateway_lines(gateway, "batch") == {f"rows_processed{{{labels}}} 10", f"rows_failed{{{labels}}} 2"}

    push_to_gateway(
        gateway.url.removeprefix("http://"),
        "batch",
        registry_with("rows_failed", 3),
        grouping_key=key,
        compression="gzip",
    )
    assert gateway_lines(gateway, "batch") == {f"rows_failed{{{labels}}} 3"}

    delete_from_gateway(gateway.url, "batch", grouping_key=key)
    assert gateway_lines(gateway, "batch") == set()


def test_rejected_push_raises(gateway: Server) -> None:
    push_to_gateway(gateway.url, "first", registry_with("clash_total", 1))
    registry = CollectorRegistry()
    Counter("clash", "Now a counter.", registry=registry).inc()
    with pytest.raises(OSError, match="400"):  # inconsistent with the gauge of the other job
        push_to_gateway(gateway.url, "second", registry)
    delete_from_gateway(gateway.url, "first")


def test_empty_grouping_value_and_instance_ip(gateway: Server) -> None:
    push_to_gateway(gateway.url, "ip", registry_with("up_since", 1), grouping_key={"shard": ""})
    assert gateway_lines(gateway, "ip") == {'up_since{instance="",job="ip",shard=""} 1'}
    delete_from_gateway(gateway.url, "ip", grouping_key={"shard": ""})
    assert gateway_lines(gateway, "ip") == set()
    assert set(instance_ip_grouping_key()) == {"instance"}


class _Recorder(BaseHTTPRequestHandler):
    """Records requests; answers /redirect/... with a 307 to the same path without the prefix."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/redirect/"):
            self.send_response(307)
            self.send_header("Location", self.path.removeprefix("/redirect"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.requests.append((self.command, self.path, dict(self.headers), body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_request_shape_and_handlers(recorder: str) -> None:
    registry = registry_with("g", 1)
    handler = functools.partial(basic_auth_handler, username="user", password="secret")
    pushadd_to_gateway(recorder, "j/x", registry, grouping_key={"b": "2", "a": "1"}, handler=handler)
    method, path, headers, body = _Recorder.requests[-1]
    job = base64.urlsafe_b64encode(b"j/x").decode()
    assert (method, path) == ("POST", f"/metrics/job@base64/{job}/a/1/b/2")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert body == generate_latest(registry)

    push_to_gateway(recorder + "/redirect", "j", registry, handler=passthrough_redirect_handler, compression="gzip")
    method, path, headers, body = _Recorder.requests[-1]
    assert (method, path, headers["Content-Encoding"]) == ("PUT", "/metrics/job/j", "gzip")
    assert gzip.decompress(body) == generate_latest(registry)

    with pytest.raises(ValueError, match="compression"):
        push_to_gateway(recorder, "j", registry, compression="zstd")  # type: ignore[arg-type]


def test_delete_cannot_be_compressed() -> None:
    from fastprom._push import _use_gateway

    with pytest.raises(ValueError, match="DELETE"):
        _use_gateway("DELETE", "http://127.0.0.1:9", "j", None, None, 1, lambda **_: None, "gzip")


@pytest.mark.parametrize("lib", ["prometheus_client", "fastprom"])
def test_unknown_compression(lib: str) -> None:
    """Refused before anything is sent, with prometheus_client's wording (callers match on it)."""
    exposition = importlib.import_module(f"{lib}.exposition")
    registry = importlib.import_module(f"{lib}.registry").CollectorRegistry()
    sent: list[dict[str, Any]] = []

    def handler(**request: Any) -> Any:
        sent.append(request)
        return lambda: None

    with pytest.raises(ValueError, match=r"^Unsupported compression type: '?brotli"):
        exposition.push_to_gateway("http://127.0.0.1:9", "j", registry, handler=handler, compression="brotli")
    assert sent == []


@pytest.mark.skipif(binary("openssl") is None, reason="openssl command line tool not installed")
def test_tls_auth_handler(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    _Recorder.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        handler = functools.partial(
            tls_auth_handler, certfile=str(certs.client_cert), keyfile=str(certs.client_key), cafile=str(certs.ca)
        )
        registry = registry_with("g", 1)
        push_to_gateway(f"https://127.0.0.1:{httpd.server_port}", "tls", registry, handler=handler)
        assert [(m, p, b) for m, p, _, b in _Recorder.requests] == [
            ("PUT", "/metrics/job/tls", generate_latest(registry))
        ]
        with pytest.raises(OSError):  # the server insists on a client certificate
            push_to_gateway(f"https://127.0.0.1:{httpd.server_port}", "tls", registry, timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
