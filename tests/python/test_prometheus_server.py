"""A real Prometheus server scrapes an instrumented FastAPI app under uvicorn.

Prometheus asks for OpenMetrics first, so a successful scrape also validates that format.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from _servers import binary, http_get, prometheus, uvicorn

SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{prometheus_url}/api/v1/query?query={urllib.parse.quote(promql)}")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def wait_for(prometheus_url: str, promql: str, expected: float, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The query's result once its single value equals ``expected``; the last result on timeout."""
    deadline = time.monotonic() + timeout
    result = query(prometheus_url, promql)
    while time.monotonic() < deadline:
        if len(result) == 1 and float(result[0]["value"][1]) == expected:
            break
        time.sleep(0.25)
        result = query(prometheus_url, promql)
    return result


def values(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    """A query result as {label values: sample value}."""
    return {tuple(r["metric"][label] for label in labels): float(r["value"][1]) for r in result}


def test_prometheus_scrapes_request_counts(tmp_path: Path) -> None:
    if binary("prometheus") is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    with uvicorn("test_fastapi_server:create_app", tmp_path / "uvicorn.log", factory=True) as app:
        for i in range(7):
            assert http_get(f"{app.url}/items/{i}")[0] == 200
        for i in range(3):
            assert http_get(f"{app.url}/api/v1/users/{i}")[0] == 200
        assert http_get(f"{app.url}/no/such/page")[0] == 404
        config = SCRAPE_CONFIG.format(port=app.port)
        with prometheus(config, tmp_path) as server:
            assert values(wait_for(server.url, 'up{job="app"}', 1), "job") == {("app",): 1.0}
            items = wait_for(server.url, 'http_requests_total{route="/items/{item_id}"}', 7)
            assert values(items, "method", "status") == {("GET", "200"): 7.0}
            by_route = query(server.url, 'sum by (route, status) (http_requests_total{job="app"})')
            assert values(by_route, "route", "status") == {
                ("/items/{item_id}", "200"): 7.0,
                ("/api/v1/users/{user_id}", "200"): 3.0,
                ("<unmatched>", "404"): 1.0,
            }
            promql = 'http_request_duration_seconds_bucket{route="/items/{item_id}",le="+Inf"}'
            assert values(query(server.url, promql), "method") == {("GET",): 7.0}
            status, body = http_get(f"{server.url}/api/v1/targets")
            target = json.loads(body)["data"]["activeTargets"][0]
            assert (target["health"], target["lastError"]) == ("up", "")
