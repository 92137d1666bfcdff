"""fastprom.asgi in-process: the middleware's semantics and options, and make_asgi_app."""

from __future__ import annotations

import asyncio
import gzip
import random
from typing import Any

import pytest
from _helpers import Message, call, http_scope, value
from _servers import binary, promtool_check
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from fastprom.asgi import UNMATCHED_ROUTE, PrometheusMiddleware, make_asgi_app
from fastprom.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from fastprom.registry import CollectorRegistry


def fastapi_app(registry: CollectorRegistry, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    inner = APIRouter(prefix="/users")

    @inner.get("/{user_id}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    outer = APIRouter(prefix="/api")
    outer.include_router(inner)
    app.include_router(outer, prefix="/v1")
    app.add_middleware(PrometheusMiddleware, registry=registry, **options)
    return app


def test_nested_router_prefixes_mounts_and_root_path() -> None:
    registry = CollectorRegistry()
    app = fastapi_app(registry)
    sub = FastAPI()
    reports = APIRouter(prefix="/reports")

    @reports.get("/{report_id}")
    async def report(report_id: str) -> dict[str, str]:
        return {"id": report_id}

    sub.include_router(reports, prefix="/v2")
    app.mount("/sub", sub)
    call(app, http_scope("/v1/api/users/7"))
    call(app, http_scope("/v1/api/users/8", root_path="/proxy"))  # e.g. uvicorn --root-path
    call(app, http_scope("/sub/v2/reports/q3"))
    call(app, http_scope("/sub/v2/reports/q4", root_path="/proxy"))
    ok = {"method": "GET", "status": "200"}
    assert value(registry, "http_requests_total", route="/v1/api/users/{user_id}", **ok) == 2
    assert value(registry, "http_requests_total", route="/sub/v2/reports/{report_id}", **ok) == 2


def test_starlette_routes_and_mounts() -> None:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    sub = Starlette(routes=[Route("/things/{thing_id}", endpoint)])
    registry = CollectorRegistry()
    app = Starlette(
        routes=[
            Route("/plain/{x}", endpoint),
            Mount("/sub", app=sub),
            Mount("/static", app=PlainTextResponse("file")),
        ]
    )
    app.add_middleware(PrometheusMiddleware, registry=registry)
    for path in ["/plain/1", "/plain/2", "/sub/things/3", "/sub/nothing", "/static/a.css", "/nope"]:
        call(app, http_scope(path))
    get = {"method": "GET"}
    assert value(registry, "http_requests_total", route="/plain/{x}", status="200", **get) == 2
    assert value(registry, "http_requests_total", route="/sub/things/{thing_id}", status="200", **get) == 1
    assert value(registry, "http_requests_total", route="/sub/{path}", status="404", **get) == 1
    assert value(registry, "http_requests_total", route="/static/{path}", status="200", **get) == 1
    assert value(registry, "http_requests_total", route=UNMATCHED_ROUTE, status="404", **get) == 1


def test_random_path_scan_creates_no_series() -> None:
    registry = CollectorRegistry()
    app = fastapi_app(registry)
    rng = random.Random(4)
    for _ in range(10_000):
        path = "/" + "/".join(str(rng.getrandbits(40)) for _ in range(rng.randint(1, 4)))
        call(app, http_scope(path, method=rng.choice(["GET", "POST", "PROPFIND", "X" * 10])))
    series = [s for m in registry.collect() for s in m.samples if s.name == "http_requests_total"]
    assert {(s.labels["method"], s.labels["route"]) for s in series} == {
        ("GET", UNMATCHED_ROUTE),
        ("POST", UNMATCHED_ROUTE),
        ("OTHER", UNMATCHED_ROUTE),
    }
    assert sum(s.value for s in series) == 10_000
    assert len([m for m in registry.collect() for s in m.samples]) < 200


def test_status_grouping_namespace_and_buckets() -> None:
    registry = CollectorRegistry()
    app = fastapi_app(registry, group_status_codes=True, namespace="shop", buckets=(0.5, 1.0))
    call(app, http_scope("/items/1"))
    call(app, http_scope("/items/x"))
    call(app, http_scope("/missing"))
    route = {"method": "GET", "route": "/items/{item_id}"}
    assert value(registry, "shop_http_requests_total", status="2xx", **route) == 1
    assert value(registry, "shop_http_requests_total", status="4xx", **route) == 1
    assert value(registry, "shop_http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="4xx") == 1
    assert value(registry, "shop_http_request_duration_seconds_bucket", le="0.5", **route) == 2
    assert value(registry, "shop_http_request_duration_seconds_bucket", le="+Inf", **route) == 2
    assert value(registry, "http_requests_total", status="200", **route) is None


def test_excluded_paths_extra_labels_and_unmatched_label() -> None:
    registry = CollectorRegistry()

    def tenant(scope: dict[str, Any]) -> str:
        return dict(scope["headers"]).get(b"x-tenant", b"none").decode()

    app = fastapi_app(registry, excluded_paths=["/items/1"], extra_labels={"tenant": tenant}, unmatched_route="none")
    call(app, http_scope("/items/1"))
    call(app, http_scope("/items/2", headers=[(b"x-tenant", b"acme")]))
    call(app, http_scope("/items/3"))
    call(app, http_scope("/nope"))
    route = {"method": "GET", "route": "/items/{item_id}"}
    assert value(registry, "http_requests_total", status="200", tenant="acme", **route) == 1
    assert value(registry, "http_requests_total", status="200", tenant="none", **route) == 1
    assert value(registry, "http_request_duration_seconds_count", tenant="acme", **route) == 1
    unmatched = {"method": "GET", "route": "none", "status": "404", "tenant": "none"}
    assert value(registry, "http_requests_total", **unmatched) == 1


def test_exception_recorded_as_500_and_reraised_unchanged() -> None:
    class Boom(Exception):
        pass

    error = Boom("boom")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise error

    registry = CollectorRegistry()
    with pytest.raises(Boom) as raised:
        call(PrometheusMiddleware(app, registry=registry), http_scope("/x"))
    assert raised.value is error
    assert value(registry, "http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="500") == 1
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_send_failure_after_disconnect_is_499() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client disconnected")  # what ASGI 2.4 servers do

    registry = CollectorRegistry()
    with pytest.raises(OSError, match="client disconnected"):
        asyncio.run(PrometheusMiddleware(app, registry=registry)(http_scope("/x"), receive, send))
    assert value(registry, "http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="499") == 1
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_app_that_never_responds_is_500() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    registry = CollectorRegistry()
    assert call(PrometheusMiddleware(app, registry=registry), http_scope("/x")) == []
    assert value(registry, "http_requests_total", method="GET", route=UNMATCHED_ROUTE, status="500") == 1


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
def test_non_http_scopes_pass_through_untouched(scope_type: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        raise AssertionError("not called")

    async def send(message: Message) -> None:
        raise AssertionError("not called")

    scope = {"type": scope_type, "asgi": {"version": "3.0"}, "path": "/ws"}
    registry = CollectorRegistry()
    asyncio.run(PrometheusMiddleware(app, registry=registry)(scope, receive, send))
    assert len(seen) == 1 and seen[0][0] is scope and seen[0][1] is receive and seen[0][2] is send
    assert scope == {"type": scope_type, "asgi": {"version": "3.0"}, "path": "/ws"}
    assert value(registry, "http_requests_in_progress", method="GET") == 0


def test_two_apps_share_one_registry() -> None:
    registry = CollectorRegistry()
    first, second = fastapi_app(registry), fastapi_app(registry)
    call(first, http_scope("/items/1"))
    call(second, http_scope("/items/2"))
    assert value(registry, "http_requests_total", method="GET", route="/items/{item_id}", status="200") == 2


def _items_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return app


def _body(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


def test_instrument_serves_metrics_registry_and_records_into_registry() -> None:
    from fastprom.fastapi import instrument
    from fastprom.metrics import Counter

    recorded, served = CollectorRegistry(), CollectorRegistry()
    Counter("merged_marker", "Stands for a MultiProcessCollector.", registry=served).inc(3)
    app = instrument(_items_app(), registry=recorded, metrics_registry=served)
    call(app, http_scope("/items/1"))
    body = _body(call(app, http_scope("/metrics")))
    assert body == generate_latest(served) and b"merged_marker_total 3.0" in body
    assert value(recorded, "http_requests_total", method="GET", route="/items/{item_id}", status="200") == 1
    # Without it, the route serves the registry the middleware records into.
    other = CollectorRegistry()
    default = instrument(_items_app(), registry=other)
    call(default, http_scope("/items/2"))
    assert b'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0' in _body(
        call(default, http_scope("/metrics"))
    )


def test_instrument_serves_the_merged_files_in_multiprocess_mode(tmp_path: Any, monkeypatch: Any) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, GET /metrics merges the directory (every worker's
    values), not the registry of the worker that answers."""
    from fastprom.fastapi import instrument
    from fastprom.mmap_dict import MmapedDict, mmap_key

    for pid, count in ((101, 2.0), (102, 5.0)):  # two other workers' files
        d = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        d.write_value(mmap_key("jobs", "jobs_total", [], [], "Jobs."), count, 0.0)
        d.close()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    own = CollectorRegistry()
    app = instrument(_items_app(), registry=own)
    body = _body(call(app, http_scope("/metrics")))
    assert b"jobs_total 7.0" in body
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    # Outside multiprocess mode: the registry the middleware records into.
    assert b"jobs_total" not in _body(call(instrument(_items_app(), registry=own), http_scope("/metrics")))


def test_in_progress_gauge_sums_live_workers_in_multiprocess_mode() -> None:
    registry = CollectorRegistry()
    call(fastapi_app(registry), http_scope("/items/1"))  # the middleware registers on first use
    names = registry._collector_to_names
    gauges = [c for c in names if "http_requests_in_progress" in names[c]]
    assert [g._multiprocess_mode for g in gauges] == ["livesum"]


def test_bad_options_raise_clear_errors() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    with pytest.raises(TypeError, match="ASGI app"):
        PrometheusMiddleware("not an app")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="excluded_paths"):
        PrometheusMiddleware(app, registry=CollectorRegistry(), excluded_paths="/metrics")
    with pytest.raises(TypeError, match=r"extra_labels\['tenant'\]"):
        PrometheusMiddleware(app, registry=CollectorRegistry(), extra_labels={"tenant": "acme"})  # type: ignore
    with pytest.raises(ValueError, match="'route'"):
        PrometheusMiddleware(app, registry=CollectorRegistry(), extra_labels={"route": str})
    with pytest.raises(ValueError):  # reserved by the histogram
        PrometheusMiddleware(app, registry=CollectorRegistry(), extra_labels={"le": str})


def test_name_clash_raises_and_registers_nothing() -> None:
    from fastprom.metrics import Summary

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    registry = CollectorRegistry()
    Summary("http_response_size_bytes", "Mine.", registry=registry)
    with pytest.raises(ValueError, match="PrometheusMiddleware cannot register its metrics"):
        PrometheusMiddleware(app, registry=registry)
    assert [m.name for m in registry.collect()] == ["http_response_size_bytes"]
    PrometheusMiddleware(app, registry=registry, namespace="web")  # nothing half-registered in the way


def test_middleware_metric_names_pass_promtool_lint() -> None:
    if binary("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    registry = CollectorRegistry()
    app = fastapi_app(registry, namespace="shop")
    call(app, http_scope("/items/1"))
    call(app, http_scope("/nope"))
    assert promtool_check(generate_latest(registry)) == ""


# ---------------------------------------------------------------------------------- make_asgi_app


def metrics_registry() -> CollectorRegistry:
    from fastprom.metrics import Counter, Gauge

    registry = CollectorRegistry()
    Counter("jobs", "Jobs done.", registry=registry).inc(3)
    Gauge("temperature_celsius", "Temperature.", registry=registry).set(21.5)
    return registry


def response(messages: list[Message]) -> tuple[int, dict[bytes, bytes], bytes]:
    start, body = messages
    assert start["type"] == "http.response.start" and body["type"] == "http.response.body"
    return start["status"], dict(start["headers"]), body["body"]


def test_make_asgi_app_text_format() -> None:
    registry = metrics_registry()
    status, headers, body = response(call(make_asgi_app(registry), http_scope("/metrics")))
    assert status == 200
    assert headers == {b"content-type": CONTENT_TYPE_PLAIN_0_0_4.encode()}
    assert body == generate_latest(registry)


def test_make_asgi_app_openmetrics_and_gzip() -> None:
    registry = metrics_registry()
    accept = b"application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    scope = http_scope("/metrics", headers=[(b"Accept", accept), (b"Accept-Encoding", b"gzip, br")])
    status, headers, body = response(call(make_asgi_app(registry), scope))
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"content-type"].startswith(b"application/openmetrics-text; version=1.0.0")
    text = gzip.decompress(body).decode()
    assert "# TYPE jobs counter\njobs_total 3.0\n" in text and text.endswith("# EOF\n")
    scope = http_scope("/metrics", headers=[(b"accept-encoding", b"gzip")])
    _, headers, body = response(call(make_asgi_app(registry, disable_compression=True), scope))
    assert b"content-encoding" not in headers and body == generate_latest(registry)


def test_make_asgi_app_name_filter() -> None:
    body = response(
        call(make_asgi_app(metrics_registry()), http_scope("/metrics", query=b"name[]=temperature_celsius"))
    )[2]
    assert (
        body == b"# HELP temperature_celsius Temperature.\n# TYPE temperature_celsius gauge\ntemperature_celsius 21.5\n"
    )


def test_make_asgi_app_as_route_answers_without_redirect() -> None:
    registry = metrics_registry()
    app = Starlette(routes=[Route("/metrics", make_asgi_app(registry))])
    status, _, body = response(call(app, http_scope("/metrics")))
    assert status == 200 and body == generate_latest(registry)


def test_make_asgi_app_rejects_websocket() -> None:
    with pytest.raises(ValueError, match="HTTP only"):
        asyncio.run(make_asgi_app(CollectorRegistry())({"type": "websocket"}, None, None))  # type: ignore
