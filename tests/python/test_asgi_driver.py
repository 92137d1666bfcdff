"""The middleware around an application's whole life cycle.

The ``send`` and ``receive`` the app gets are one Rust object (``_core.HttpCycle``: called with a
message it sends, called without one it receives, returning a ``_core.ReceiveAwait``); these
tests hold it to what two plain Python callables would do: suspension, cancellation (also while
the app waits in ``receive()``), ``throw``/``close``, odd awaitables, garbage collection of
reference cycles, and how servers detect an ASGI 3 app.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import pytest
import uvicorn
from _helpers import Message, http_scope, value

from fastprom.asgi import UNMATCHED_ROUTE, PrometheusMiddleware
from fastprom.registry import CollectorRegistry

GET = {"method": "GET", "route": UNMATCHED_ROUTE}


async def respond(send: Any, status: int = 200, body: bytes = b"ok") -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def body_receiver(chunks: list[bytes]) -> Callable[[], Awaitable[Message]]:
    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            await asyncio.sleep(0)  # a server that waits for the next chunk
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    return receive


async def discard(message: Message) -> None:
    pass


def test_servers_detect_an_asgi3_app() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await respond(send)

    middleware = PrometheusMiddleware(app, registry=CollectorRegistry())
    assert asyncio.iscoroutinefunction(middleware.__call__)
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(middleware.__call__)
    config = uvicorn.Config(middleware)
    config.load()
    assert config.interface == "asgi3"
    awaitable = middleware(http_scope("/x"), body_receiver([]), discard)
    assert inspect.isawaitable(awaitable) and asyncio.iscoroutine(awaitable)
    asyncio.run(awaitable)


def test_app_that_suspends_and_reads_its_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(0)  # yields None to the loop
        await asyncio.sleep(0.02)  # yields a future
        await respond(send, body=body[::-1])

    sent: list[Message] = []

    async def send(message: Message) -> None:
        await asyncio.sleep(0)
        sent.append(message)

    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(app, registry=registry)
    asyncio.run(middleware(http_scope("/x", method="POST"), body_receiver([b"ab", b"cd", b"e"]), send))
    assert sent[1]["body"] == b"edcba"
    post = {"method": "POST", "route": UNMATCHED_ROUTE}
    assert value(registry, "http_requests_total", status="200", **post) == 1
    assert value(registry, "http_request_size_bytes_sum", **post) == 5
    assert value(registry, "http_response_size_bytes_sum", **post) == 5
    duration = value(registry, "http_request_duration_seconds_sum", **post)
    assert duration is not None and duration >= 0.02
    assert value(registry, "http_requests_in_progress", method="POST") == 0


def test_send_and_receive_are_told_apart_by_their_arguments() -> None:
    """One argument is send's message, even None; none is receive(); more is a TypeError."""
    server_got: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive()) == {"type": "http.request", "body": b"x", "more_body": False}
        with pytest.raises(TypeError, match=r"^ASGI send\(\) takes one message and receive\(\) none, got 2 arguments$"):
            send({"type": "http.response.start", "status": 200}, None)
        await send(None)

    async def send(message: Any) -> None:
        server_got.append(message)

    registry = CollectorRegistry()
    asyncio.run(PrometheusMiddleware(app, registry=registry)(http_scope("/x"), body_receiver([b"x"]), send))
    assert server_got == [None]
    assert value(registry, "http_request_size_bytes_sum", **GET) == 1


def test_messages_it_cannot_read_are_handed_over_untouched() -> None:
    """What to make of a malformed message is for the server or the app to say, not the middleware."""
    server_got: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert await receive() == ["not", "a", "message"]
        await send(("nor", "this"))
        await respond(send)

    async def receive() -> Any:
        return ["not", "a", "message"]

    async def send(message: Any) -> None:
        server_got.append(message)

    registry = CollectorRegistry()
    asyncio.run(PrometheusMiddleware(app, registry=registry)(http_scope("/x"), receive, send))
    assert server_got[0] == ("nor", "this") and len(server_got) == 3
    assert value(registry, "http_requests_total", status="200", **GET) == 1


@pytest.mark.parametrize("waits_in", ["app", "receive"])
def test_cancelled_request_is_499_and_cancellation_propagates(waits_in: str) -> None:
    started = asyncio.Event()
    cleaned_up = []
    server_receive_cancelled = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        started.set()
        try:
            if waits_in == "app":
                await asyncio.sleep(3600)
            else:
                await receive()
        finally:
            cleaned_up.append(True)

    async def receive() -> Message:
        try:
            await asyncio.sleep(3600)  # a client that never sends its body
        except asyncio.CancelledError:
            server_receive_cancelled.append(True)
            raise
        raise AssertionError("unreachable")

    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(app, registry=registry)

    async def main() -> None:
        task = asyncio.create_task(middleware(http_scope("/x"), receive, discard))
        await started.wait()
        await asyncio.sleep(0)
        assert value(registry, "http_requests_in_progress", method="GET") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned_up == [True]
    assert server_receive_cancelled == ([True] if waits_in == "receive" else [])
    assert value(registry, "http_requests_total", status="499", **GET) == 1
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_disconnect_seen_by_receive_is_499() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.disconnect"

    registry = CollectorRegistry()
    asyncio.run(PrometheusMiddleware(app, registry=registry)(http_scope("/x"), body_receiver([]), discard))
    assert value(registry, "http_requests_total", status="499", **GET) == 1


def test_the_apps_own_oserror_is_500_not_a_disconnect() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionRefusedError("the database is down")

    registry = CollectorRegistry()
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(PrometheusMiddleware(app, registry=registry)(http_scope("/x"), body_receiver([]), discard))
    assert value(registry, "http_requests_total", status="500", **GET) == 1
    assert value(registry, "http_requests_total", status="499", **GET) is None


class Pause:
    """Suspends its awaiter once, yielding "paused" to whoever drives the coroutine."""

    def __await__(self) -> Generator[str, None, None]:
        yield "paused"


def test_throw_and_close_reach_the_app() -> None:
    cleaned_up = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await Pause()
        except LookupError:
            await respond(send, status=503)
        finally:
            cleaned_up.append(True)

    registry = CollectorRegistry()
    middleware = PrometheusMiddleware(app, registry=registry)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    awaitable: Any = middleware(http_scope("/x"), body_receiver([]), send)
    assert awaitable.send(None) == "paused"
    with pytest.raises(StopIteration):
        awaitable.throw(LookupError("handled by the app"))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert value(registry, "http_requests_total", status="503", **GET) == 1

    closed: Any = middleware(http_scope("/x"), body_receiver([]), send)
    assert closed.send(None) == "paused"
    closed.close()
    assert cleaned_up == [True, True]
    assert value(registry, "http_requests_total", status="500", **GET) == 1
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_apps_returning_other_awaitables_or_none() -> None:
    class Later:
        def __init__(self, send: Any) -> None:
            self.send = send

        def __await__(self) -> Generator[Any, None, None]:
            return respond(self.send, status=202).__await__()

    def future_app(scope: Any, receive: Any, send: Any) -> Later:
        return Later(send)

    def sync_app(scope: Any, receive: Any, send: Any) -> None:
        return None

    registry = CollectorRegistry()
    asyncio.run(PrometheusMiddleware(future_app, registry=registry)(http_scope("/x"), body_receiver([]), discard))
    assert value(registry, "http_requests_total", status="202", **GET) == 1
    with pytest.raises(TypeError, match="NoneType"):
        asyncio.run(PrometheusMiddleware(sync_app, registry=registry)(http_scope("/x"), body_receiver([]), discard))
    assert value(registry, "http_requests_total", status="500", **GET) == 1
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_reference_cycles_through_send_are_collected() -> None:
    class Marker:
        pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["kept_send"] = send  # scope -> send -> scope
        scope["kept_receive"] = receive
        await respond(send)

    middleware = PrometheusMiddleware(app, registry=CollectorRegistry())
    marker = Marker()
    ref = weakref.ref(marker)
    scope = http_scope("/x")
    scope["marker"] = marker
    asyncio.run(middleware(scope, body_receiver([]), discard))
    del scope, marker
    gc.collect()
    assert ref() is None
