"""What the seed ports share: the command line, /metrics, a fake Gemini and the traffic loop.

Each seed runs as ``python examples/seeds/<file> --port PORT [--seconds N]``: it serves
``/metrics`` on 127.0.0.1:PORT, drives traffic through a local fake Gemini server (no network)
with a ``google-genai`` client instrumented by :mod:`fastprom.gemini`, and exits 0 after
``--seconds`` (never, if 0) or on SIGTERM / Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from google import genai
from google.genai import types

import fastprom
from fastprom import gemini
from fastprom.testing import FakeGemini

Traffic = Callable[[Any, FakeGemini], Awaitable[None]]
"""One round of traffic: ``await traffic(client, fake)``."""
MODEL = "gemini-2.5-flash"
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="The current weather in a city.",
            parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
)


def main(description: str, traffic: Traffic) -> None:
    """Parse the command line, serve /metrics, and repeat ``await traffic(client, fake)`` until done."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True, help="serve /metrics on 127.0.0.1:PORT")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after N seconds (0: run until stopped)")
    args = parser.parse_args()
    server, thread = fastprom.start_http_server(args.port, addr="127.0.0.1")
    fake = FakeGemini().start()
    fake.function_args = {"city": "Paris"}
    fake.stream_gap = 0.01
    client = genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))
    gemini.instrument(client)
    try:
        asyncio.run(_loop(traffic, client, fake, args.seconds))
    finally:
        gemini.uninstrument(client)
        fake.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)


async def _loop(traffic: Traffic, client: Any, fake: FakeGemini, seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if seconds > 0:
        loop.call_later(seconds, stop.set)
    while not stop.is_set():
        await traffic(client, fake)
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except (TimeoutError, asyncio.TimeoutError):  # one class from Python 3.11 on
            pass
