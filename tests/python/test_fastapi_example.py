"""examples/fastapi_app.py under uvicorn: the quickstart works as documented."""

from __future__ import annotations

from pathlib import Path

import httpx
from _helpers import parse_samples
from _servers import uvicorn


def test_example_app(tmp_path: Path) -> None:
    with (
        uvicorn("fastapi_app:app", tmp_path / "uvicorn.log") as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        assert client.get("/items/3").json() == {"id": 3, "name": "item-3"}
        assert client.get("/api/v1/users/4").json() == {"id": 4}
        assert client.get("/reports/q3").json() == {"report": "q3"}
        assert client.get("/countdown").text == "3\n2\n1\nliftoff\n"
        assert client.post("/orders", json={"product": "tea", "quantity": 2}).status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and metrics.history == []
        samples = parse_samples(metrics.text)
    requests = {
        tuple(sorted(labels)): value for (name, labels), value in samples.items() if name == "http_requests_total"
    }
    assert requests == {
        (("method", "GET"), ("route", route), ("status", "200")): 1.0
        for route in ("/items/{item_id}", "/api/v1/users/{user_id}", "/reports/{report_id}", "/countdown")
    } | {(("method", "POST"), ("route", "/orders"), ("status", "200")): 1.0}
    assert samples[("shop_orders_total", frozenset({("product", "tea")}))] == 2.0
