"""One-call instrumentation of a FastAPI (or Starlette) application."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from .asgi import PrometheusMiddleware, make_asgi_app
from .multiprocess import _merged_registry
from .registry import REGISTRY, CollectorRegistry

__all__ = ["instrument"]

AppT = TypeVar("AppT")


def instrument(
    app: AppT,
    *,
    metrics_path: str | None = "/metrics",
    registry: CollectorRegistry = REGISTRY,
    metrics_registry: CollectorRegistry | None = None,
    disable_compression: bool = False,
    excluded_paths: Iterable[str] | None = None,
    **options: Any,
) -> AppT:
    """Add :class:`~fastprom.asgi.PrometheusMiddleware` and a metrics route to ``app``; return ``app``.

    The route answers ``GET metrics_path`` itself (no redirect to a trailing slash), is hidden
    from the OpenAPI schema and serves ``metrics_registry`` like
    :func:`~fastprom.asgi.make_asgi_app`.  By default that is ``registry``, where the middleware
    registers its metrics; in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set, several
    worker processes) it is a new registry holding a
    :class:`~fastprom.multiprocess.MultiProcessCollector`, so that every worker serves the merged
    view of all workers (see docs/deployment.md).
    ``metrics_path=None`` adds the middleware only.  ``excluded_paths`` defaults to the metrics
    path; the other keyword arguments go to the middleware (``namespace``, ``buckets``,
    ``group_status_codes``, ``extra_labels``, ``unmatched_route``).

    Call it before the application starts serving: Starlette refuses new middleware afterwards.
    """
    add_middleware = getattr(app, "add_middleware", None)
    if add_middleware is None or not hasattr(app, "add_route"):
        raise TypeError(f"instrument() needs a FastAPI or Starlette application, got {app!r}")
    if metrics_path is not None and not metrics_path.startswith("/"):
        raise ValueError(f"metrics_path must start with '/', got {metrics_path!r}")
    if excluded_paths is None:
        excluded_paths = () if metrics_path is None else (metrics_path,)
    add_middleware(PrometheusMiddleware, registry=registry, excluded_paths=tuple(excluded_paths), **options)
    if metrics_path is not None:
        if metrics_registry is None:
            metrics_registry = _merged_registry() or registry
        app.add_route(
            metrics_path,
            make_asgi_app(metrics_registry, disable_compression),
            methods=["GET"],
            include_in_schema=False,
        )
    return app
