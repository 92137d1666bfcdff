"""The app test_multiprocess_servers.py runs under gunicorn and ``uvicorn --workers``.

Imported by every worker process (``_mp_app:app``), with ``PROMETHEUS_MULTIPROC_DIR`` set.  Each
response carries the worker's pid in ``x-pid``.  ``GET /hold`` waits until the file named by
``MP_TEST_RELEASE`` exists; ``test_held_requests`` (``liveall``: one series per live worker,
labelled ``pid``) counts the requests each worker holds.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Callable

from fastapi import FastAPI, Response

from fastprom import Gauge
from fastprom.fastapi import instrument

HELD = Gauge("test_held_requests", "Requests held by GET /hold, per worker.", multiprocess_mode="liveall")

inner = FastAPI()


@inner.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@inner.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


@inner.get("/status/{code}")
async def status(code: int) -> Response:
    return Response(b"status", status_code=code)


@inner.get("/hold")
async def hold() -> dict[str, bool]:
    release = os.environ["MP_TEST_RELEASE"]
    HELD.inc()
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(release) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        HELD.dec()
    return {"released": True}


instrument(inner)  # multiprocess mode: /metrics serves the merged view

PID = str(os.getpid()).encode()


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """``inner`` with an ``x-pid`` response header."""

    async def send_with_pid(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-pid", PID)]}
        await send(message)

    await inner(scope, receive, send_with_pid)
