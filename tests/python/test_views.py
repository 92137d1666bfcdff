"""fastprom.views: the JSON routes as a plain ASGI app and on Starlette/FastAPI: routing, the
``x-internal-auth`` secret, methods, HEAD, bad session ids, passing other requests on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _helpers import call, http_scope

from fastprom.registry import CollectorRegistry
from fastprom.sessions import SessionStore
from fastprom.status import StatusDocument
from fastprom.views import AUTH_HEADER, SECRET_ENV, JsonViews, add_views

SECRET = "a-secret"
AUTH = [(AUTH_HEADER.encode(), SECRET.encode())]


def answer(app: Any, path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """(status, headers as a dict, decoded JSON body or the raw body if not JSON)."""
    sent = call(app, http_scope(path, method=method, headers=headers))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = body
    return start["status"], dict(start["headers"]), payload


@pytest.fixture()
def store() -> SessionStore:
    s = SessionStore(max_sessions=10, ttl=60.0)
    with_tools = s.started("abc-123", model="m")
    s.completed(with_tools, usage={"prompt_tokens": 10, "completion_tokens": 5}, tools=True, duration_ms=12.5)
    s.failed(s.started("abc-123"), error="boom", duration_ms=7.5)
    return s


@pytest.fixture()
def status() -> StatusDocument:
    return StatusDocument(["gemini-2.5-flash"], registry=CollectorRegistry())


def test_the_routes(store: SessionStore, status: StatusDocument) -> None:
    app = JsonViews(status, store, secret=SECRET)
    code, headers, doc = answer(app, "/api/v1/metrics")
    assert (code, headers[b"content-type"]) == (200, b"application/json")
    assert doc == json.loads(json.dumps(status.document()))
    code, _, doc = answer(app, "/events/metrics/session/abc-123", headers=AUTH)
    assert (code, doc) == (200, store.get("abc-123"))
    assert doc["total_requests"] == 2 and doc["requests_with_tools"] == 1
    assert answer(app, "/events/metrics/sessions", headers=AUTH)[2] == store.sessions()
    assert answer(app, "/events/metrics", headers=AUTH)[2] == store.overall()
    code, _, doc = answer(app, "/events/metrics/session/nope", headers=AUTH)
    assert (code, doc) == (404, {"detail": "unknown session"})
    code, _, doc = answer(app, "/events/metrics/session/" + "x" * 257, headers=AUTH)
    assert code == 422 and "256" in doc["detail"]
    assert answer(app, "/elsewhere")[0] == 404
    assert answer(app, "/events/metrics/session/", headers=AUTH)[0] == 404


def test_the_secret(store: SessionStore, status: StatusDocument) -> None:
    app = JsonViews(status, store, secret=SECRET)
    for path in ("/events/metrics", "/events/metrics/sessions", "/events/metrics/session/abc-123"):
        assert answer(app, path)[0] == 401
        for wrong in (b"", b"a-secre", b"a-secretX", b"A-SECRET"):
            assert answer(app, path, headers=[(b"x-internal-auth", wrong)])[0] == 401, wrong
        assert answer(app, path, headers=[(b"X-Internal-Auth", SECRET.encode())])[0] == 200
    # auth comes first: an unknown or invalid session is not revealed without the secret
    assert answer(app, "/events/metrics/session/" + "x" * 300)[0] == 401
    assert answer(app, "/api/v1/metrics")[0] == 200


def test_the_secret_from_the_environment(
    store: SessionStore, status: StatusDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "from-env")
    app = JsonViews(status, store)
    assert answer(app, "/events/metrics", headers=[(b"x-internal-auth", b"from-env")])[0] == 200
    assert answer(app, "/events/metrics", headers=AUTH)[0] == 401
    # an explicit secret wins over the environment
    assert answer(JsonViews(status, store, secret=SECRET), "/events/metrics", headers=AUTH)[0] == 200


def test_no_secret_is_refused_unless_auth_is_off(
    store: SessionStore, status: StatusDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "x")
    monkeypatch.delenv(SECRET_ENV)
    for secret in (None, ""):
        with pytest.raises(ValueError, match="FASTPROM_INTERNAL_AUTH"):
            JsonViews(status, store, secret=secret)
    monkeypatch.setenv(SECRET_ENV, "")
    with pytest.raises(ValueError, match="empty"):
        JsonViews(status, store)
    app = JsonViews(status, store, auth=False)
    assert answer(app, "/events/metrics")[0] == 200
    with pytest.raises(TypeError, match="secret"):
        JsonViews(status, store, secret=b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="events_path"):
        JsonViews(status, store, secret=SECRET, events_path="events/")


def test_methods_and_head(store: SessionStore, status: StatusDocument) -> None:
    app = JsonViews(status, store, secret=SECRET)
    code, headers, _ = answer(app, "/api/v1/metrics", method="POST")
    assert (code, headers[b"allow"]) == (405, b"GET, HEAD")
    code, headers, body = answer(app, "/events/metrics", method="HEAD", headers=AUTH)
    assert (code, body) == (200, b"")
    assert int(headers[b"content-length"]) == len(json.dumps(store.overall(), ensure_ascii=False).encode())


def test_other_requests_go_to_the_wrapped_app(store: SessionStore, status: StatusDocument) -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = JsonViews(status, store, secret=SECRET, app=inner)
    assert answer(app, "/chat")[0] == 204
    assert answer(app, "/api/v1/metrics")[0] == 200
    assert seen == ["/chat"]
    # without a status document its path is the wrapped app's
    assert answer(JsonViews(None, store, secret=SECRET, app=inner), "/api/v1/metrics")[0] == 204


def test_add_views_to_fastapi(store: SessionStore, status: StatusDocument) -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = add_views(FastAPI(), status=status, sessions=store, secret=SECRET)

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    with TestClient(app) as client:
        assert client.get("/api/v1/metrics").json() == json.loads(json.dumps(status.document()))
        assert client.get("/events/metrics/session/abc-123").status_code == 401
        assert client.get("/events/metrics/session/abc-123", headers={AUTH_HEADER: SECRET}).json() == store.get(
            "abc-123"
        )
        assert client.get("/events/metrics/sessions", headers={AUTH_HEADER: SECRET}).json() == store.sessions()
        assert client.get("/events/metrics", headers={AUTH_HEADER: SECRET}).json() == store.overall()
        assert client.get("/events/metrics/session/nope", headers={AUTH_HEADER: SECRET}).status_code == 404
        assert client.get("/hello").json() == {"hello": "world"}
        paths = set(client.get("/openapi.json").json()["paths"])
        assert paths == {"/hello"}  # the views stay out of the schema
    with pytest.raises(TypeError, match="FastAPI or Starlette"):
        add_views(object(), status=status, sessions=store, secret=SECRET)
    with pytest.raises(ValueError, match="secret"):
        add_views(FastAPI(), status=status, sessions=store, secret="")


def test_a_session_id_with_a_slash_and_escapes(status: StatusDocument) -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    store = SessionStore()
    for sid in ("team/abc", "é ü"):
        store.completed(store.started(sid), usage={"total_tokens": 3})
    app = add_views(FastAPI(), status=status, sessions=store, secret=SECRET)
    with TestClient(app) as client:
        for sid, path in (("team/abc", "team/abc"), ("é ü", "%C3%A9%20%C3%BC")):
            doc = client.get(f"/events/metrics/session/{path}", headers={AUTH_HEADER: SECRET}).json()
            assert doc == store.get(sid)
    for sid in ("team/abc", "é ü"):
        assert answer(JsonViews(status, store, secret=SECRET), f"/events/metrics/session/{sid}", headers=AUTH)[2] == (
            store.get(sid)
        )
