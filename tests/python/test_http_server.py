"""start_http_server: shape, binding, byte-equality with prometheus_client, GIL independence, abuse."""

import errno
import gc
import gzip
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from urllib.parse import parse_qs, urlsplit

import prometheus_client
import pytest
from prometheus_client.exposition import _bake_output

import fastprom
from fastprom import _core
from fastprom._server import start_http_server


@pytest.fixture
def registry():
    registry = fastprom.CollectorRegistry()
    requests = fastprom.Counter("requests", "Requests served.", ["path"], registry=registry)
    requests.labels("/a").inc(3)
    requests.labels('/b"\n').inc()
    fastprom.Gauge("temperature_celsius", "Now.", registry=registry).set(21.5)
    fastprom.Histogram("latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry).observe(0.3)
    return registry


@pytest.fixture
def serve(registry):
    started = []

    def serve(port=0, addr="127.0.0.1", registry=registry):
        server, thread = start_http_server(port, addr=addr, registry=registry)
        started.append(server)
        return server, thread

    yield serve
    for server in started:
        server.shutdown()
        server.server_close()


def fetch(port, target="/metrics", headers=None, method="GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_public_name():
    assert fastprom.start_http_server is start_http_server


def test_returns_server_and_thread(serve):
    server, thread = serve()
    assert isinstance(server, _core.MetricsServer)
    assert server.server_port > 0
    assert server.server_address == ("127.0.0.1", server.server_port)
    assert thread.daemon is True
    assert thread.name == "fastprom-http"
    assert thread.is_alive()
    started = time.monotonic()
    thread.join(timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2
    assert thread.is_alive()
    server.shutdown()
    thread.join()
    assert not thread.is_alive()


def test_discarded_server_keeps_serving(registry):
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = server.server_port
    del server, _
    gc.collect()
    assert fetch(port)[0] == 200
    with pytest.raises(OSError):  # still bound: it runs until interpreter exit
        start_http_server(port, addr="127.0.0.1", registry=registry)


def test_busy_port_raises_oserror_with_errno_like_prometheus_client(serve):
    server, _ = serve()
    with pytest.raises(OSError) as ours:
        start_http_server(server.server_port, addr="127.0.0.1")
    with pytest.raises(OSError) as theirs:
        prometheus_client.start_http_server(server.server_port, addr="127.0.0.1")
    assert ours.value.errno == errno.EADDRINUSE == theirs.value.errno
    assert str(ours.value) == str(theirs.value)


def test_shutdown_and_close_free_the_port(serve):
    server, thread = serve()
    port = server.server_port
    assert fetch(port)[0] == 200
    started = time.monotonic()
    server.shutdown()
    server.server_close()
    assert time.monotonic() - started < 1
    assert not thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        fetch(port)
    again, _ = serve(port)
    assert again.server_port == port
    assert fetch(port)[0] == 200


def test_ipv6_address(serve):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server, _ = serve(addr="::1")
    except OSError as e:
        pytest.skip(f"::1 unavailable: {e}")
    host, port, _flowinfo, _scope = server.server_address
    assert (host, port) == ("::1", server.server_port)
    with socket.create_connection(("::1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(12) == b"HTTP/1.1 200"


NEGOTIATIONS = [
    ({}, "/metrics"),
    ({"Accept": "application/openmetrics-text"}, "/metrics"),
    ({"Accept": "application/openmetrics-text; version=1.0.0; escaping=allow-utf-8"}, "/"),
    ({"Accept": "text/plain; version=1.0.0; escaping=dots"}, "/"),
    ({"Accept": "text/plain, application/openmetrics-text; version=0.0.1"}, "/"),
    ({"Accept-Encoding": "gzip"}, "/metrics"),
    ({"Accept": "application/openmetrics-text", "Accept-Encoding": "br, GZIP;q=0"}, "/"),
    ({}, "/metrics?name[]=requests_total&name[]=latency_seconds_bucket"),
    ({"Accept": "application/openmetrics-text"}, "/?name%5B%5D=requests_created&name[]=&x=1"),
    ({}, "/?name[]=temperature+celsius&name[]=temperature_celsius"),
]


@pytest.mark.parametrize(("headers", "target"), NEGOTIATIONS)
def test_responses_equal_prometheus_client(serve, registry, headers, target):
    server, _ = serve()
    status, got_headers, body = fetch(server.server_port, target, headers)
    params = parse_qs(urlsplit(target).query)
    _, want_headers, want_body = _bake_output(
        registry, headers.get("Accept"), headers.get("Accept-Encoding"), params, False
    )
    want_headers = dict(want_headers)
    assert status == 200
    assert got_headers["Content-Type"] == want_headers["Content-Type"]
    assert got_headers.get("Content-Encoding") == want_headers.get("Content-Encoding")
    if "Content-Encoding" in want_headers:  # gzip embeds a timestamp: compare the content
        body, want_body = gzip.decompress(body), gzip.decompress(want_body)
    assert body == want_body


def test_wsgi_app_routes(serve):
    server, _ = serve()
    port = server.server_port
    status, headers, body = fetch(port, "/favicon.ico")
    assert (status, body) == (200, b"")
    status, headers, body = fetch(port, "/metrics", method="OPTIONS")
    assert (status, headers["Allow"], body) == (200, "OPTIONS,GET", b"")
    status, headers, body = fetch(port, "/metrics", method="DELETE")
    assert (status, headers["Allow"]) == (405, "OPTIONS,GET")
    assert body == b"# HTTP 405 Method Not Allowed: DELETE; use OPTIONS or GET\n"


@pytest.mark.parametrize("registry_class", [fastprom.CollectorRegistry, prometheus_client.CollectorRegistry])
def test_collector_error_is_500_and_server_keeps_serving(serve, registry_class):
    class Broken:
        def collect(self):
            raise RuntimeError("collector exploded")

    broken = registry_class()
    broken.register(Broken())
    server, _ = serve(registry=broken)
    status, _, body = fetch(server.server_port)
    assert status == 500
    assert b"collector exploded" in body
    assert fetch(serve()[0].server_port)[0] == 200


def test_any_collector_is_served_through_python(serve, registry):
    class Subclass(fastprom.CollectorRegistry):
        def collect(self):
            yield from super().collect()
            yield from registry.collect()

    other = prometheus_client.CollectorRegistry()
    prometheus_client.Gauge("other", "From prometheus_client.", registry=other).set(7)
    for target in [other, registry.restricted_registry(["requests_total"]), Subclass()]:
        server, _ = serve(registry=target)
        assert fetch(server.server_port)[2] == prometheus_client.generate_latest(target)


# The client must not need this process's GIL: it runs in its own interpreter and reports
# CLOCK_MONOTONIC times, which are comparable across processes.
CLIENT = textwrap.dedent(
    """
    import json, socket, sys, time
    port, delay, target = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    print("ready", flush=True)
    sys.stdin.readline()  # "go": the GIL is about to be taken
    time.sleep(delay)
    sent = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    print(json.dumps({"sent": sent, "answered": time.monotonic(), "status": reply[9:12].decode()}))
    """
)

# The GIL-holding call returns to the eval loop before it can read the clock, and a waiting
# thread may take the GIL in between: "answered before held_until" is not enough.
ANSWER_WITHIN = 0.25


def gil_holder(seconds):
    """A function making one C call that never releases the GIL, sized to last about ``seconds``."""
    started = time.perf_counter()
    sum(range(5_000_000))
    n = int(5_000_000 * seconds / (time.perf_counter() - started))

    def hold():
        started = time.monotonic()
        sum(range(n))
        return started, time.monotonic()

    return hold


def scrape_while_gil_held(port, target):
    hold = gil_holder(2.0)  # sized first: on a busy machine sizing takes a while
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), "0.3", target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    # The client sends 0.3 s after "go", however long its interpreter took to start.
    assert client.stdout.readline() == "ready\n"
    client.stdin.write("go\n")
    client.stdin.flush()
    held_from, held_until = hold()
    out, _ = client.communicate(timeout=60)
    result = json.loads(out)
    assert held_from < result["sent"] < held_until - 2 * ANSWER_WITHIN, "the GIL must outlast the request"
    return result


def test_server_answers_while_another_thread_holds_the_gil(serve):
    server, _ = serve()
    result = scrape_while_gil_held(server.server_port, "/favicon.ico")
    assert result["status"] == "200"
    assert result["answered"] - result["sent"] < ANSWER_WITHIN


def test_scrape_answered_while_another_thread_holds_the_gil(serve):
    server, _ = serve()
    result = scrape_while_gil_held(server.server_port, "/metrics")
    assert result["status"] == "200"
    assert result["answered"] - result["sent"] < ANSWER_WITHIN


def test_multiprocess_scrape_answered_while_another_thread_holds_the_gil(serve, tmp_path):
    """The merged view of a multiprocess directory is read, merged and encoded in Rust."""
    from prometheus_client.multiprocess import MultiProcessCollector as PcCollector

    from fastprom.mmap_dict import MmapedDict, mmap_key
    from fastprom.multiprocess import MultiProcessCollector

    for pid in range(8):
        d = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        for i in range(200):
            d.write_value(mmap_key("jobs", "jobs_total", ["i"], [str(i)], "Jobs."), float(pid + i), 0.0)
        d.close()
    merged = fastprom.CollectorRegistry()
    MultiProcessCollector(merged, path=str(tmp_path))
    server, _ = serve(registry=merged)
    result = scrape_while_gil_held(server.server_port, "/metrics")
    assert result["status"] == "200"
    assert result["answered"] - result["sent"] < ANSWER_WITHIN
    theirs = prometheus_client.CollectorRegistry()
    PcCollector(theirs, path=str(tmp_path))
    assert fetch(server.server_port)[2] == prometheus_client.generate_latest(theirs)


def test_malformed_requests_get_400_and_the_server_keeps_serving(serve):
    server, _ = serve()
    for garbage in [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as s:
            s.sendall(garbage)
            reply = s.recv(65536)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply
    assert fetch(server.server_port)[0] == 200


def test_trickling_client_does_not_block_scrapes(serve):
    server, _ = serve()
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as slow:
        for chunk in [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"X-Slow: 1\r\n"]:
            slow.sendall(chunk)
            started = time.monotonic()
            assert fetch(server.server_port)[0] == 200
            assert time.monotonic() - started < 1
            time.sleep(0.2)


def test_hundreds_of_concurrent_connections_are_served(serve):
    server, _ = serve()
    sockets = [socket.create_connection(("127.0.0.1", server.server_port), timeout=30) for _ in range(300)]
    try:
        for s in sockets:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for s in sockets:
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
    finally:
        for s in sockets:
            s.close()


def test_tls_is_served_by_the_python_fallback(registry, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    if not hasattr(fastprom.exposition, "make_wsgi_app"):
        pytest.skip("fastprom.exposition.make_wsgi_app (the TLS fallback's app) is not merged yet")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry, certfile=str(cert), keyfile=str(key))
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        connection = http.client.HTTPSConnection("127.0.0.1", server.server_port, timeout=10, context=context)
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == prometheus_client.generate_latest(registry)
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()
