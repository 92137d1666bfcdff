"""JSON views for LLM servers: the status document and per-session metrics, over HTTP.

::

    from fastprom.status import StatusDocument
    from fastprom.views import add_views

    add_views(app, status=StatusDocument(["gemini-2.5-flash"]))   # FastAPI or Starlette

serves

* ``GET /api/v1/metrics``: :meth:`fastprom.status.StatusDocument.document`, open to anyone who
  can reach the server (it holds no user data, like ``/metrics``);
* ``GET /events/metrics/session/{session_id}``: one session of a
  :class:`fastprom.sessions.SessionStore` (404 when unknown, 422 for an id that is not one);
* ``GET /events/metrics/sessions``: every session in the store, most recently active first;
* ``GET /events/metrics``: the store's totals over every session;

the last three behind the ``x-internal-auth`` header. Its secret comes from the ``secret``
argument, else the ``FASTPROM_INTERNAL_AUTH`` environment variable, and is compared in constant
time; a missing or wrong header is answered 401 before anything else is looked at. Serving them
with no secret is refused when the views are made (``ValueError``) unless ``auth=False`` says so.

:class:`JsonViews` is a plain ASGI app answering those paths; given ``app=``, it passes every other
request to that app, so it can front any ASGI application. :func:`add_views` adds the same
routes to a FastAPI or Starlette application, hidden from its OpenAPI schema.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .sessions import SessionStore
    from .status import StatusDocument

__all__ = ["AUTH_HEADER", "SECRET_ENV", "JsonViews", "add_views"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
AppT = TypeVar("AppT")

AUTH_HEADER = "x-internal-auth"
"""The request header carrying the secret of the session routes."""
SECRET_ENV = "FASTPROM_INTERNAL_AUTH"
"""The environment variable read for the secret when none is passed."""

_AUTH_HEADER = AUTH_HEADER.encode()
_STATUS, _OVERALL, _SESSIONS, _SESSION = "status", "overall", "sessions", "session"


class JsonViews:
    """A plain ASGI app serving the status document and the session routes.

    :param status: the status document served at ``status_path``; ``None`` serves none there.
    :param sessions: the session store; ``None`` is :data:`fastprom.sessions.SESSIONS`.
    :param secret: the ``x-internal-auth`` secret; ``None`` reads ``FASTPROM_INTERNAL_AUTH``.
    :param auth: ``False`` serves the session routes to anyone (then no secret is needed).
    :param app: the ASGI app answering every other request (without it: 404).
    :param status_path: the path of the status document.
    :param events_path: the prefix of the session routes.
    """

    def __init__(
        self,
        status: StatusDocument | None = None,
        sessions: SessionStore | None = None,
        *,
        secret: str | None = None,
        auth: bool = True,
        app: ASGIApp | None = None,
        status_path: str = "/api/v1/metrics",
        events_path: str = "/events/metrics",
    ) -> None:
        from .sessions import SESSIONS

        for name, path in (("status_path", status_path), ("events_path", events_path)):
            if not isinstance(path, str) or not path.startswith("/") or (len(path) > 1 and path.endswith("/")):
                raise ValueError(f"{name} must be a path starting with '/' and not ending with one, got {path!r}")
        if not isinstance(auth, bool):
            raise TypeError(f"auth must be a bool, got {type(auth).__name__}")
        if secret is None:
            secret = os.environ.get(SECRET_ENV)
        if secret is not None and not isinstance(secret, str):
            raise TypeError(f"secret must be a str, got {type(secret).__name__}")
        if auth and not secret:
            raise ValueError(
                f"the session routes need a secret for the {AUTH_HEADER} header: pass secret= or set "
                f"{SECRET_ENV} (an empty secret is refused); auth=False serves them without one"
            )
        self.status = status
        self.sessions = SESSIONS if sessions is None else sessions
        self._secret = secret.encode() if auth and secret else None
        self.app = app
        self.status_path = status_path
        self.events_path = events_path
        self._routes = {
            events_path: _OVERALL,
            f"{events_path}/sessions": _SESSIONS,
        }
        if status is not None:
            self._routes[status_path] = _STATUS
        self._session_prefix = f"{events_path}/session/"

    # -- routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = _relative_path(scope)
            kind = self._routes.get(path)
            session_id = None
            if kind is None and path.startswith(self._session_prefix) and len(path) > len(self._session_prefix):
                kind, session_id = _SESSION, path[len(self._session_prefix) :]
            if kind is not None:
                await self.respond(kind, session_id, scope, send)
                return
        if self.app is None:
            if scope["type"] != "http":
                raise ValueError(f"JsonViews serves HTTP only, got an ASGI {scope['type']!r} scope")
            await _send_json(send, 404, {"detail": "Not Found"}, scope)
            return
        await self.app(scope, receive, send)

    def endpoint(self, kind: str) -> ASGIApp:
        """The ASGI endpoint of one route, for a framework's router (the session id is read from
        the route's ``session_id`` path parameter)."""
        return _Route(self, kind)

    # -- answers

    async def respond(self, kind: str, session_id: str | None, scope: Scope, send: Send) -> None:
        """Answer one request of route ``kind`` (``status``, ``overall``, ``sessions``, ``session``)."""
        status, payload, headers = self.answer(kind, session_id, scope)
        await _send_json(send, status, payload, scope, headers)

    def answer(self, kind: str, session_id: str | None, scope: Scope) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """The status code, JSON payload and extra headers of one request."""
        if scope.get("method") not in ("GET", "HEAD"):
            return 405, {"detail": "Method Not Allowed"}, [(b"allow", b"GET, HEAD")]
        if kind == _STATUS:
            assert self.status is not None
            return 200, self.status.document(), []
        if self._secret is not None and not self._authorized(scope):
            return 401, {"detail": f"missing or wrong {AUTH_HEADER} header"}, []
        if kind == _OVERALL:
            return 200, self.sessions.overall(), []
        if kind == _SESSIONS:
            return 200, self.sessions.sessions(), []
        from .sessions import check_session_id

        try:
            check_session_id(session_id)
        except (TypeError, ValueError) as exc:
            return 422, {"detail": str(exc)}, []
        assert session_id is not None
        found = self.sessions.get(session_id)
        if found is None:
            return 404, {"detail": "unknown session"}, []
        return 200, found, []

    def _authorized(self, scope: Scope) -> bool:
        assert self._secret is not None
        for name, value in scope["headers"]:
            if name.lower() == _AUTH_HEADER:
                # constant time in the secret's content: the comparison does not stop at the
                # first differing byte
                return hmac.compare_digest(bytes(value), self._secret)
        return False


class _Route:
    """One route of :class:`JsonViews` as an ASGI app. A class, not a function: Starlette's
    ``add_route`` calls a function endpoint with a request, an object with ``(scope, receive, send)``."""

    __slots__ = ("views", "kind")

    def __init__(self, views: JsonViews, kind: str) -> None:
        self.views = views
        self.kind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = scope.get("path_params", {}).get("session_id") if self.kind == _SESSION else None
        await self.views.respond(self.kind, session_id, scope, send)


def add_views(
    app: AppT,
    *,
    status: StatusDocument | None = None,
    sessions: SessionStore | None = None,
    secret: str | None = None,
    auth: bool = True,
    status_path: str = "/api/v1/metrics",
    events_path: str = "/events/metrics",
) -> AppT:
    """Add the JSON views' routes to a FastAPI or Starlette ``app`` (hidden from its OpenAPI
    schema) and return ``app``; the arguments are :class:`JsonViews`'. Raises ``ValueError``
    when the session routes would have no secret and ``auth`` is not ``False``."""
    if not hasattr(app, "add_route"):
        raise TypeError(f"add_views() needs a FastAPI or Starlette application, got {app!r}")
    views = JsonViews(status, sessions, secret=secret, auth=auth, status_path=status_path, events_path=events_path)
    routes = [
        (events_path, _OVERALL),
        (f"{events_path}/sessions", _SESSIONS),
        (f"{events_path}/session/{{session_id:path}}", _SESSION),
    ]
    if status is not None:
        routes.insert(0, (status_path, _STATUS))
    for path, kind in routes:
        app.add_route(path, views.endpoint(kind), methods=["GET", "HEAD"], include_in_schema=False)
    return app


def _relative_path(scope: Scope) -> str:
    """The request path below the app's ``root_path`` (servers and Starlette ≥ 0.35 put the
    root path in ``path`` too; older Starlette mounts do not)."""
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def _send_json(
    send: Send, status: int, payload: Any, scope: Scope, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
