"""A local fake of the Gemini Developer API, for tests and demos.

The server speaks the REST endpoints the real SDKs call, so the unmodified ``google-genai``
client and the legacy ``google-generativeai`` client (``transport="rest"``) run against it
with no network access:

* ``POST /{version}/models/{model}:generateContent``
* ``POST /{version}/models/{model}:streamGenerateContent?alt=sse`` (google-genai: server-sent events)
* ``POST /{version}/models/{model}:streamGenerateContent`` (legacy REST transport: one JSON array)
* ``POST /{version}/models/{model}:embedContent`` and ``:batchEmbedContents``
* ``POST /{version}/models/{model}:countTokens``

Behaviour is set through attributes of :class:`FakeGemini`, read on every request: the usage
metadata to report (:class:`Usage`, or ``None`` for none at all), the text of stream chunks,
delays, and HTTP errors to answer with (:meth:`FakeGemini.fail_next`, or a model named
``fail-<status>``). A request that declares function tools, and does not already carry a
function response, is answered with a function call, so automatic function calling makes
two requests. Stream chunks repeat the usage cumulatively, as the real API does: the last
chunk carries the full counts.

Usage from a test::

    with FakeGemini() as server:
        client = genai.Client(api_key="test", http_options=types.HttpOptions(
            base_url=server.url, api_version="v1beta"))

From a shell: ``python -m fastprom.testing.fake_gemini --port 8089``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeGemini", "RecordedRequest", "Usage"]

_ERROR_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts the server reports in ``usageMetadata``; ``None`` leaves a count out.

    ``prompt`` includes ``cached``; ``candidates`` excludes ``thoughts``, as in the real API.
    ``prompt_audio`` and ``cached_audio`` are the AUDIO shares of ``prompt`` and ``cached``,
    reported in ``promptTokensDetails`` and ``cacheTokensDetails``.
    """

    prompt: int | None = 1200
    candidates: int | None = 300
    thoughts: int | None = 100
    cached: int | None = 200
    tool_use: int | None = None
    prompt_audio: int | None = None
    cached_audio: int | None = None

    def to_json(self, candidates: int | None = None) -> dict[str, Any]:
        """The REST ``usageMetadata`` object, optionally with another ``candidates`` count."""
        cand = self.candidates if candidates is None else candidates
        counts = {
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": cand,
            "thoughtsTokenCount": self.thoughts,
            "cachedContentTokenCount": self.cached,
            "toolUsePromptTokenCount": self.tool_use,
        }
        body: dict[str, Any] = {k: v for k, v in counts.items() if v is not None}
        body["totalTokenCount"] = sum(v or 0 for k, v in counts.items() if k != "cachedContentTokenCount")
        if self.prompt is not None:
            body["promptTokensDetails"] = _modalities(self.prompt, self.prompt_audio)
        if self.cached is not None:
            body["cacheTokensDetails"] = _modalities(self.cached, self.cached_audio)
        return body


def _modalities(total: int, audio: int | None) -> list[dict[str, Any]]:
    details = [{"modality": "TEXT", "tokenCount": total - (audio or 0)}]
    if audio:
        details.append({"modality": "AUDIO", "tokenCount": audio})
    return details


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    path: str
    model: str
    method: str
    body: dict[str, Any]


class FakeGemini:
    """A threaded fake Gemini REST server on ``host:port`` (port 0 picks a free one).

    Attributes (change them between calls; every request reads them):
        usage: usage reported by generateContent and streams, ``None`` for no usageMetadata.
        function_args: arguments of the function call answered to requests with tools.
        stream_pieces: text of each stream chunk.
        stream_first_delay, stream_gap: seconds before the first chunk and between chunks.
        delay: seconds before a non-streamed answer.
        embed_tokens_per_text: prompt tokens reported per embedded text, ``None`` for no usage.
        requests: every request received, in order.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self.requests: list[RecordedRequest] = []
        self.reset()

    def reset(self) -> None:
        """Restore the default behaviour and forget the recorded requests and pending failures."""
        self.usage: Usage | None = Usage()
        self.function_args: dict[str, Any] = {}
        self.stream_pieces: Sequence[str] = ("Hel", "lo ", "stream")
        self.stream_first_delay = 0.0
        self.stream_gap = 0.0
        self.delay = 0.0
        self.embed_tokens_per_text: int | None = 4
        with self._lock:
            self._failures.clear()
        self.requests.clear()

    def fail_next(self, *statuses: int) -> None:
        """Answer the next Gemini requests with these HTTP error statuses, in order."""
        for status in statuses:
            if not 400 <= status <= 599:
                raise ValueError(f"fail_next() takes HTTP error statuses (400-599), got {status!r}")
        with self._lock:
            self._failures.extend(statuses)

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:40123``."""
        if self._server is None:
            raise RuntimeError("FakeGemini is not running; call start() first")
        return f"http://{self._address[0]}:{self._server.server_address[1]}"

    def start(self) -> FakeGemini:
        """Start serving in a daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("FakeGemini is already running")
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(self._address, handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- request handling, called from the server threads ----

    def _take_failure(self, model: str) -> int | None:
        if model.startswith("fail-") and model[5:].isdigit():
            return int(model[5:])
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _content(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        call = self._function_call(body)
        parts = [{"functionCall": call}] if call else [{"text": "Hello from the fake Gemini."}]
        reply: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "modelVersion": model,
            "responseId": f"fake-{len(self.requests)}",
        }
        if self.usage is not None:
            reply["usageMetadata"] = self.usage.to_json()
        return reply

    def _function_call(self, body: dict[str, Any]) -> dict[str, Any] | None:
        declarations = [d for tool in body.get("tools") or () for d in tool.get("functionDeclarations") or ()]
        contents = body.get("contents") or [{}]
        answered = any("functionResponse" in part for part in contents[-1].get("parts") or ())
        if not declarations or answered:
            return None
        return {"name": declarations[0]["name"], "args": dict(self.function_args)}

    def _chunks(self, model: str) -> list[dict[str, Any]]:
        pieces, usage = list(self.stream_pieces), self.usage
        chunks = []
        for i, text in enumerate(pieces, 1):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
            if i == len(pieces):
                candidate["finishReason"] = "STOP"
            chunk: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": model,
                "responseId": "fake-stream",
            }
            if usage is not None:
                running = (usage.candidates or 0) * i // len(pieces)
                chunk["usageMetadata"] = usage.to_json(candidates=running)
            chunks.append(chunk)
        return chunks

    def _embeddings(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        n = len(body.get("requests") or ()) if method == "batchEmbedContents" else 1
        vectors = [{"values": [0.1 * (i + 1), 0.2, 0.3]} for i in range(n)]
        reply: dict[str, Any] = {"embeddings": vectors} if method == "batchEmbedContents" else {"embedding": vectors[0]}
        if self.embed_tokens_per_text is not None:
            tokens = self.embed_tokens_per_text * n
            reply["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive requests otherwise wait ~40 ms for a delayed ACK
    fake: FakeGemini

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Keep the test output clean."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, _error(400, "request body is not JSON"))
        path, _, query = self.path.partition("?")
        if "/models/" not in path or ":" not in path:
            return self._json(404, _error(404, f"no route for {path}"))
        target, method = path.rsplit(":", 1)
        model = target.split("/models/", 1)[1]
        fake = self.fake
        fake.requests.append(RecordedRequest(path=path, model=model, method=method, body=body))
        failure = fake._take_failure(model)
        if failure is not None:
            return self._json(failure, _error(failure, f"fake error {failure}"))
        if method == "generateContent":
            time.sleep(fake.delay)
            return self._json(200, fake._content(model, body))
        if method == "streamGenerateContent":
            chunks = fake._chunks(model)
            if "alt=sse" in query:
                return self._sse(chunks, fake.stream_first_delay, fake.stream_gap)
            time.sleep(fake.stream_first_delay + fake.stream_gap * max(len(chunks) - 1, 0))
            return self._json(200, chunks)
        if method in ("embedContent", "batchEmbedContents"):
            return self._json(200, fake._embeddings(method, body))
        if method == "countTokens":
            return self._json(200, {"totalTokens": (fake.usage.prompt or 0) if fake.usage else 0})
        return self._json(404, _error(404, f"unknown method {method}"))

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout scenario)

    def _sse(self, events: list[dict[str, Any]], first_delay: float, gap: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # the body ends when the connection closes
        self.end_headers()
        self.close_connection = True
        try:
            for i, event in enumerate(events):
                time.sleep(first_delay if i == 0 else gap)
                self.wfile.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed the stream early, which is a scenario, not a server fault


def _error(code: int, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": _ERROR_STATUS.get(code, "UNKNOWN")}
    if code == 429:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    return {"error": error}


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until interrupted: ``python -m fastprom.testing.fake_gemini --port 8089``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    server = FakeGemini(args.host, args.port).start()
    print(f"fake Gemini API on {server.url} (Ctrl-C stops it)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
