"""fastprom.fastapi.instrument() on a FastAPI app under a real uvicorn, driven over HTTP.

The app is ``create_app`` below; uvicorn imports this module in its own process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from _helpers import parse_samples
from _servers import Server, binary, http_get, promtool_check, uvicorn
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request, Response, WebSocket
from fastapi.responses import StreamingResponse

from fastprom.fastapi import instrument

STREAM_CHUNKS = 4
STREAM_GAP = 0.1
BACKGROUND_SECONDS = 1.0


def create_app() -> FastAPI:
    """The instrumented app the tests talk to (``uvicorn --factory test_fastapi_server:create_app``)."""
    release = asyncio.Event()
    background_done = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.started = True
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    router = APIRouter(prefix="/api/v1")

    @router.get("/users/{user_id}")
    async def get_user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    app.include_router(router)

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app.mount("/sub", sub)

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(STREAM_CHUNKS):
                if i:
                    await asyncio.sleep(STREAM_GAP)
                yield b"x" * 100

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/endless")
    async def endless() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(400):
                yield b"y" * 1000
                await asyncio.sleep(0.02)

        return StreamingResponse(chunks(), media_type="text/plain")

    async def slow_task() -> None:
        await asyncio.sleep(BACKGROUND_SECONDS)
        background_done.set()

    @app.get("/bg")
    async def with_background(background_tasks: BackgroundTasks) -> dict[str, bool]:
        background_done.clear()
        background_tasks.add_task(slow_task)
        return {"queued": True}

    @app.get("/bg-done")
    async def bg_done() -> dict[str, bool]:
        return {"done": background_done.is_set()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.wait_for(release.wait(), 10)
        release.clear()
        return {"released": True}

    @app.post("/release")
    async def do_release() -> dict[str, bool]:
        release.set()
        return {"released": True}

    @app.get("/started")
    async def started() -> dict[str, bool]:
        return {"started": getattr(app.state, "started", False)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("echo:" + await websocket.receive_text())
        await websocket.close()

    return instrument(app)


class App:
    """The running app and helpers to read its metrics."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = http_get(self.url + "/metrics")
        assert status == 200
        return parse_samples(body.decode())

    def value(self, name: str, **labels: str) -> float:
        """One sample's value; 0 when the series does not exist (yet)."""
        return self.samples().get((name, frozenset(labels.items())), 0.0)

    def wait_value(self, expected: float, name: str, **labels: str) -> float:
        """The sample's value once it equals ``expected``, or the last value after 5 s."""
        deadline = time.monotonic() + 5
        value = self.value(name, **labels)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            value = self.value(name, **labels)
        return value


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    with uvicorn("test_fastapi_server:create_app", log, factory=True) as server:
        yield App(server)


def get(app: App, path: str) -> tuple[int, bytes]:
    return http_get(app.url + path)


def test_route_templates(app: App) -> None:
    for i in range(5):
        assert get(app, f"/items/{i}")[0] == 200
    for i in range(3):
        assert get(app, f"/api/v1/users/{i}")[0] == 200
    for i in range(2):
        assert get(app, f"/sub/things/{i}")[0] == 200
    assert get(app, "/items/not-an-int")[0] == 422
    assert get(app, "/openapi.json")[0] == 200
    assert get(app, "/docs")[0] == 200
    samples = app.samples()
    routes = {dict(labels)["route"] for name, labels in samples if name == "http_requests_total"}
    assert {"/items/{item_id}", "/api/v1/users/{user_id}", "/sub/things/{thing_id}", "/openapi.json", "/docs"} <= routes
    assert not any(route.startswith(("/items/1", "/api/v1/users/1", "/sub/things/1")) for route in routes)
    total = frozenset({("method", "GET"), ("route", "/items/{item_id}"), ("status", "200")})
    assert samples[("http_requests_total", total)] == 5
    assert samples[("http_requests_total", total - {("status", "200")} | {("status", "422")})] == 1
    users = frozenset({("method", "GET"), ("route", "/api/v1/users/{user_id}"), ("status", "200")})
    assert samples[("http_requests_total", users)] == 3
    things = frozenset({("method", "GET"), ("route", "/sub/things/{thing_id}"), ("status", "200")})
    assert samples[("http_requests_total", things)] == 2
    items = frozenset({("method", "GET"), ("route", "/items/{item_id}")})
    assert samples[("http_request_duration_seconds_count", items)] == 6
    assert samples[("http_time_to_first_byte_seconds_count", items)] == 6


def test_metrics_route_is_direct_hidden_and_not_counted(app: App) -> None:
    status, body = get(app, "/metrics")
    assert status == 200 and b"# TYPE http_requests_total counter" in body
    assert "/metrics" not in json.loads(get(app, "/openapi.json")[1])["paths"]
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in app.samples())


def test_unmatched_paths_share_one_series(app: App) -> None:
    for i in range(200):
        assert get(app, f"/wp-admin/{i}.php")[0] == 404
    samples = app.samples()
    unmatched = [
        (labels, value)
        for (name, labels), value in samples.items()
        if name == "http_requests_total" and dict(labels)["status"] == "404"
    ]
    assert unmatched == [(frozenset({("method", "GET"), ("route", "<unmatched>"), ("status", "404")}), 200)]
    assert not any("wp-admin" in value for _, labels in samples for _, value in labels)


def test_streaming_duration_and_time_to_first_byte(app: App) -> None:
    status, body = get(app, "/stream")
    assert status == 200 and body == b"x" * 100 * STREAM_CHUNKS
    route = {"method": "GET", "route": "/stream"}
    streamed = (STREAM_CHUNKS - 1) * STREAM_GAP
    assert app.value("http_request_duration_seconds_count", **route) == 1
    assert app.value("http_request_duration_seconds_sum", **route) >= streamed
    assert app.value("http_time_to_first_byte_seconds_sum", **route) < streamed / 2
    assert app.value("http_response_size_bytes_sum", **route) == 100 * STREAM_CHUNKS


def test_background_task_not_billed_to_request(app: App) -> None:
    started = time.monotonic()
    assert get(app, "/bg") == (200, b'{"queued":true}')
    assert time.monotonic() - started < BACKGROUND_SECONDS / 2
    route = {"method": "GET", "route": "/bg"}
    # Recorded as soon as the response ended, while the background task is still running.
    assert app.value("http_requests_total", status="200", **route) == 1
    assert json.loads(get(app, "/bg-done")[1]) == {"done": False}
    assert app.value("http_request_duration_seconds_sum", **route) < BACKGROUND_SECONDS / 2


def test_exception_recorded_as_500(app: App) -> None:
    assert get(app, "/boom")[0] == 500
    assert get(app, "/boom")[0] == 500
    assert app.value("http_requests_total", method="GET", route="/boom", status="500") == 2
    assert "RuntimeError: boom" in app.server.output()


def test_request_and_response_sizes(app: App) -> None:
    with httpx.Client(base_url=app.url, timeout=5) as client:
        assert client.post("/echo", content=b"a" * 1000).content == b"a" * 1000
        chunked = client.post("/echo", content=iter([b"b" * 300, b"c" * 200]))  # no Content-Length
        assert chunked.content == b"b" * 300 + b"c" * 200
    route = {"method": "POST", "route": "/echo"}
    assert app.value("http_request_size_bytes_count", **route) == 2
    assert app.value("http_request_size_bytes_sum", **route) == 1500
    assert app.value("http_response_size_bytes_sum", **route) == 1500


def test_in_progress(app: App) -> None:
    assert app.value("http_requests_in_progress", method="GET") == 0
    result: list[tuple[int, bytes]] = []
    thread = threading.Thread(target=lambda: result.append(get(app, "/slow")))
    thread.start()
    try:
        assert app.wait_value(1, "http_requests_in_progress", method="GET") == 1
    finally:
        assert http_get(app.url + "/release", timeout=5)[0] == 405  # GET is not allowed: counted too
        httpx.post(app.url + "/release", timeout=5)
        thread.join(10)
    assert result == [(200, b'{"released":true}')]
    assert app.wait_value(0, "http_requests_in_progress", method="GET") == 0
    assert app.value("http_requests_total", method="GET", route="/release", status="405") == 1


def test_client_disconnect_mid_response(app: App) -> None:
    with socket.create_connection(("127.0.0.1", app.server.port), timeout=5) as sock:
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"yyyy" not in received:
            received += sock.recv(4096)
    route = {"method": "GET", "route": "/endless"}
    assert app.wait_value(1, "http_requests_total", status="499", **route) == 1
    assert app.value("http_requests_in_progress", method="GET") == 0
    assert get(app, "/items/1")[0] == 200  # the server is fine
    assert "Traceback" not in app.server.output().split("RuntimeError: boom")[-1]


def test_websocket_and_lifespan_pass_through(app: App) -> None:
    from websockets.sync.client import connect

    assert json.loads(get(app, "/started")[1]) == {"started": True}
    with connect(app.url.replace("http", "ws") + "/ws", open_timeout=5, close_timeout=5) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "echo:hi"
    assert not any(dict(labels).get("route") == "/ws" for _, labels in app.samples())


def test_openmetrics_and_gzip(app: App) -> None:
    import gzip

    status, body = http_get(
        app.url + "/metrics",
        headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            "Accept-Encoding": "gzip",
        },
    )
    assert status == 200
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n") and "# TYPE http_requests counter" in text


def test_restricted_by_name(app: App) -> None:
    status, body = get(app, "/metrics?name[]=http_requests_in_progress")
    assert status == 200
    names = {line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE")}
    assert names == {"http_requests_in_progress"}


def test_promtool_accepts_the_exposition(app: App, tmp_path: Path) -> None:
    if binary("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    problems = promtool_check(get(app, "/metrics")[1])
    assert problems == "", problems
