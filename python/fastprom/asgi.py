"""ASGI integration: a ``/metrics`` app and a request-metrics middleware.

``make_asgi_app`` serves a registry the way prometheus_client's does (``Accept`` negotiation to
OpenMetrics, gzip, ``name[]=`` filtering).  ``PrometheusMiddleware`` is a plain ASGI middleware that
records one set of HTTP server metrics per request; it imports nothing from Starlette or FastAPI
at module level and works under any ASGI framework, with route templates for Starlette/FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from ._core import HTTP_METHODS, HttpRecorder, HttpSeries
from ._families import PerRegistry
from ._render import _bake_output
from .metrics import Counter, Gauge, Histogram, Summary
from .registry import REGISTRY, CollectorRegistry

__all__ = ["PrometheusMiddleware", "UNMATCHED_ROUTE", "make_asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED_ROUTE = "<unmatched>"
"""Route label of requests that no route of the application matched (404s, scans)."""

_OWN_LABELS = frozenset(("method", "route", "status"))


class _MetricsApp:
    """The ASGI app returned by :func:`make_asgi_app`.

    A class rather than a function so that Starlette's ``Route`` and ``add_route`` treat it as a
    raw ASGI app (``app.add_route("/metrics", make_asgi_app())`` answers ``/metrics`` directly,
    without the redirect to ``/metrics/`` that ``mount`` produces).
    """

    __slots__ = ("registry", "disable_compression")

    def __init__(self, registry: CollectorRegistry, disable_compression: bool) -> None:
        self.registry = registry
        self.disable_compression = disable_compression

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"the metrics app serves HTTP only, got an ASGI {scope['type']!r} scope")
        accept: list[str] = []
        accept_encoding: list[str] = []
        for raw_name, value in scope["headers"]:
            name = raw_name.lower()
            if name == b"accept":
                accept.append(value.decode("latin-1"))
            elif name == b"accept-encoding":
                accept_encoding.append(value.decode("latin-1"))
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        status, headers, body = _bake_output(
            self.registry, ",".join(accept), ",".join(accept_encoding), params, self.disable_compression
        )
        await send(
            {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


def make_asgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> ASGIApp:
    """Create an ASGI app which serves the metrics from ``registry``.

    The format follows the request's ``Accept`` header (OpenMetrics when asked for, the text
    format 0.0.4 otherwise), the body is gzipped when ``Accept-Encoding`` allows it unless
    ``disable_compression`` is set, and ``?name[]=a&name[]=b`` restricts the output to those
    metric names, exactly as prometheus_client's ``make_asgi_app``.
    """
    return _MetricsApp(registry, disable_compression)


def _status_labels(group: bool) -> dict[int, str]:
    """Status label of every valid status code: ``"404"``, or ``"4xx"`` when grouped."""
    return {code: f"{code // 100}xx" if group else str(code) for code in range(100, 600)}


class _Metrics:
    """The metric families of one middleware configuration, registered all or none."""

    def __init__(
        self, registry: CollectorRegistry, namespace: str, buckets: Sequence[float], label_names: tuple[str, ...]
    ) -> None:
        route_labels = ("method", "route", *label_names)
        created: list[Any] = []

        def add(kind: Any, name: str, documentation: str, labels: Sequence[str], **options: Any) -> Any:
            metric = kind(name, documentation, labels, namespace=namespace, registry=registry, **options)
            created.append(metric)
            return metric

        try:
            self.requests = add(
                Counter,
                "http_requests",
                "HTTP requests handled, by method, route template and status code.",
                ("method", "route", "status", *label_names),
            )
            self.duration = add(
                Histogram,
                "http_request_duration_seconds",
                "Time from receiving an HTTP request to sending the last byte of its response.",
                route_labels,
                buckets=buckets,
            )
            self.first_byte = add(
                Histogram,
                "http_time_to_first_byte_seconds",
                "Time from receiving an HTTP request to sending the start of its response.",
                route_labels,
                buckets=buckets,
            )
            # livesum: in multiprocess mode, the sum over live workers (a dead worker's
            # requests are no longer in progress); no effect on output otherwise.
            self.in_progress = add(
                Gauge,
                "http_requests_in_progress",
                "HTTP requests being handled, by method.",
                ("method",),
                multiprocess_mode="livesum",
            )
            self.request_size = add(
                Summary, "http_request_size_bytes", "Size of HTTP request bodies as received.", route_labels
            )
            self.response_size = add(
                Summary, "http_response_size_bytes", "Size of HTTP response bodies as sent.", route_labels
            )
        except ValueError as exc:
            for metric in created:
                registry.unregister(metric)
            raise ValueError(
                f"PrometheusMiddleware cannot register its metrics: {exc}. The registry already has metrics "
                "of these names (another middleware with a different namespace, buckets or extra_labels, "
                "or your own); pass another registry= or namespace="
            ) from exc


# Metric families already registered, shared by every middleware built with the same registry and
# options (see fastprom._families).
_SHARED_METRICS: PerRegistry[_Metrics] = PerRegistry()


def _shared_metrics(
    registry: CollectorRegistry, namespace: str, buckets: tuple[float, ...], label_names: tuple[str, ...]
) -> _Metrics:
    return _SHARED_METRICS.get(
        registry, (namespace, buckets, label_names), lambda: _Metrics(registry, namespace, buckets, label_names)
    )


class PrometheusMiddleware:
    """Pure ASGI middleware recording HTTP server metrics.

    For every HTTP request (WebSocket and lifespan scopes pass straight through) it records:

    * ``http_requests_total`` {method, route, status}
    * ``http_request_duration_seconds`` {method, route}: until the last body chunk was sent
      (background tasks that run afterwards are not included)
    * ``http_time_to_first_byte_seconds`` {method, route}: until the response start was sent
    * ``http_request_size_bytes`` / ``http_response_size_bytes`` {method, route}: body bytes
      actually received / sent (summaries: count and sum)
    * ``http_requests_in_progress`` {method}: gauge, ``multiprocess_mode="livesum"``

    ``route`` is the template the framework resolved (``/items/{item_id}``, including router and
    mount prefixes), read after the application handled the request; requests no route matched
    share the label ``unmatched_route``.  Methods outside the standard nine are recorded as
    ``OTHER``.  A request whose app raised before finishing its response is recorded with status
    500, one whose client went away first with 499; the exception itself propagates unchanged.

    :param app: the ASGI application to wrap.
    :param registry: where the metric families are registered.
    :param namespace: prefix of every metric name (``namespace_http_requests_total``).
    :param buckets: histogram buckets of both latency histograms, in seconds.
    :param group_status_codes: record ``2xx`` instead of ``200``.
    :param excluded_paths: request paths (relative to ``root_path``) that are not recorded.
    :param extra_labels: extra label names mapped to callables; each is called with the ASGI scope
        after the app handled the request and returns the label value.  Values must come from a
        small, fixed set, or the number of series grows without bound.
    :param unmatched_route: route label of requests that matched no route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry = REGISTRY,
        namespace: str = "",
        buckets: Iterable[float] = Histogram.DEFAULT_BUCKETS,
        group_status_codes: bool = False,
        excluded_paths: Iterable[str] = ("/metrics",),
        extra_labels: Mapping[str, Callable[[Scope], str]] | None = None,
        unmatched_route: str = UNMATCHED_ROUTE,
    ) -> None:
        if not callable(app):
            raise TypeError(f"PrometheusMiddleware needs an ASGI app, got {app!r}")
        if isinstance(excluded_paths, str):
            raise TypeError("excluded_paths must be a collection of paths, not a single string")
        extra_labels = dict(extra_labels or {})
        for name, getter in extra_labels.items():
            if name in _OWN_LABELS:
                raise ValueError(f"extra_labels cannot redefine the middleware's own label {name!r}")
            if not callable(getter):
                raise TypeError(f"extra_labels[{name!r}] must be a callable taking the ASGI scope")
        if not isinstance(unmatched_route, str):
            raise TypeError(f"unmatched_route must be a str, got {unmatched_route!r}")
        self.app = app
        self._metrics = _shared_metrics(registry, namespace, tuple(buckets), tuple(extra_labels))
        self._unmatched = unmatched_route
        self._status_labels = _status_labels(group_status_codes)
        self._endpoint_templates: dict[int, tuple[object, str | None]] = {}
        in_progress = self._metrics.in_progress
        # The per-request work runs in Rust (src/py/http.rs): start() returns None for a request
        # that is not recorded, else the request's cycle, which the app gets as both send(message)
        # and receive(): it notes the status, the body sizes and the first and last byte, and
        # records the request when its last body chunk is sent, or in returned()/failed() when
        # the app ends without finishing its response.
        self._start = HttpRecorder(
            list(excluded_paths),
            [in_progress.labels(method) for method in HTTP_METHODS],
            list(extra_labels.values()),
            self._make_series,
        ).start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = self._start(scope, receive, send)
        if cycle is None:  # not HTTP, or an excluded path
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, cycle, cycle)
        except BaseException as exc:  # CancelledError too: the server gave up on the request
            cycle.failed(exc)
            raise
        cycle.returned()

    def _make_series(
        self,
        scope: Scope,
        target: object,
        root_path: str,
        end_root_path: str,
        method: str,
        status: int,
        extra: tuple[str, ...],
    ) -> HttpSeries:
        """The series of a (route, status, method, extra labels) combination not seen before."""
        route = self._route_template(scope, target, end_root_path[len(root_path) :])
        status_label = self._status_labels.get(status) or str(status)
        metrics = self._metrics
        by_route = (method, route, *extra)
        return HttpSeries(
            metrics.requests.labels(method, route, status_label, *extra),
            metrics.duration.labels(*by_route),
            metrics.first_byte.labels(*by_route),
            metrics.request_size.labels(*by_route),
            metrics.response_size.labels(*by_route),
        )

    def _route_template(self, scope: Scope, target: object, mount_prefix: str) -> str:
        """The route template of a handled request, or the unmatched label."""
        path_format = getattr(target, "path_format", None)
        if isinstance(path_format, str):
            if hasattr(target, "routes") and path_format.endswith("/{path}"):
                # A Starlette Mount whose app matched nothing: its prefix is already in root_path.
                return f"{mount_prefix}/{{path}}"
            return mount_prefix + path_format
        if target is None:
            return self._unmatched
        return self._endpoint_template(scope, target) or self._unmatched

    def _endpoint_template(self, scope: Scope, endpoint: object) -> str | None:
        """Template of a route that set only ``scope["endpoint"]`` (Starlette ``add_route``, ``/docs``).

        Found once per endpoint by walking the routes of the outermost router, mounts included.
        """
        cached = self._endpoint_templates.get(id(endpoint))
        if cached is not None and cached[0] is endpoint:
            return cached[1]
        templates = [
            prefix + route.path_format
            for prefix, route in _walk_routes(scope.get("router"), "")
            if _route_endpoint(route) is endpoint
        ]
        # An endpoint served under several templates cannot be told apart without re-matching:
        # those requests keep the unmatched label rather than a wrong template.
        template = templates[0] if len(set(templates)) == 1 else None
        self._endpoint_templates[id(endpoint)] = (endpoint, template)
        return template


def _route_endpoint(route: Any) -> object:
    endpoint = getattr(route, "endpoint", None)
    return endpoint if endpoint is not None else getattr(route, "app", None)


def _walk_routes(router: Any, prefix: str, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """(prefix, route) for every route reachable from ``router``, mounted apps included."""
    if depth > 16:  # guards against an app mounted inside itself
        return
    for route in getattr(router, "routes", None) or ():
        if not isinstance(getattr(route, "path_format", None), str):
            continue
        yield prefix, route
        sub_routes = getattr(route, "routes", None)
        if sub_routes is not None and route.path_format.endswith("/{path}"):
            yield from _walk_routes(route, prefix + route.path_format[: -len("/{path}")], depth + 1)
