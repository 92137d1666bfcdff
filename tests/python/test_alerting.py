"""End to end: examples/llm_server.py under uvicorn (Gemini: the in-process fake), Debian's Prometheus
loading the rules of ``fastprom rules`` with the example prometheus.yml, and Debian's Alertmanager
with the example alertmanager.yml routing to a webhook receiver of this test. Failing traffic makes
HTTPHighErrorRate reach the webhook; healed traffic resolves it (``send_resolved``).

Intervals are 1 s and the alert's ``for`` 2 s (``--set``), so the whole run takes about a minute.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _servers import ROOT, Server, binary, free_port, http_get, prometheus, running, uvicorn

from fastprom.ops.rules import rules_yaml

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")

from fastprom.testing import FakeGemini  # noqa: E402

PROMETHEUS, ALERTMANAGER = binary("prometheus"), binary("prometheus-alertmanager")
pytestmark = [
    pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed"),
    pytest.mark.skipif(ALERTMANAGER is None, reason="Debian's prometheus-alertmanager is not installed"),
]
EXAMPLES = ROOT / "examples" / "prometheus"
ALERT = "HTTPHighErrorRate"
# Short windows, so that the alert fires and resolves within seconds.
OVERRIDES = {"window": "10s", "http_error_ratio_for": "2s"}


def substitute(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each key replaced by its value; each key must be there exactly once."""
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} is not in the example exactly once"
        text = text.replace(old, new)
    return text


class Webhook:
    """An HTTP server on 127.0.0.1 keeping the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def notifications(self, status: str) -> list[dict[str, Any]]:
        """The alerts named ALERT of the notifications with ``status`` (firing or resolved)."""
        return [
            a
            for n in list(self.received)
            if n["status"] == status
            for a in n["alerts"]
            if a["labels"]["alertname"] == ALERT
        ]


def alertmanager(webhook: Webhook, workdir: Path) -> Any:
    config = substitute(
        (EXAMPLES / "alertmanager.yml").read_text(),
        {
            "http://127.0.0.1:5001/alerts": webhook.url,
            "group_wait: 30s": "group_wait: 1s",
            "group_interval: 5m": "group_interval: 1s",
        },
    )
    (workdir / "alertmanager.yml").write_text(config)
    port = free_port()
    args = [
        ALERTMANAGER or "prometheus-alertmanager",
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return running(args, port, workdir / "alertmanager.log", "/-/ready", timeout=30.0)


def prometheus_with_rules(app: Server, am: Server, workdir: Path) -> Any:
    """examples/prometheus/prometheus.yml with 1 s intervals, the rules (short windows), the
    example server and Alertmanager where the test started them."""
    (workdir / "rules.yml").write_text(rules_yaml(overrides=OVERRIDES))
    config = substitute(
        (EXAMPLES / "prometheus.yml").read_text(),
        {
            "scrape_interval: 15s": "scrape_interval: 1s",
            "evaluation_interval: 15s": "evaluation_interval: 1s",
            "'127.0.0.1:9093'": f"'127.0.0.1:{am.port}'",
            "'127.0.0.1:8000'": f"'127.0.0.1:{app.port}'",
        },
    )
    return prometheus(config, workdir, "--rules.alert.resend-delay=1s")


def post(app: Server, prompt: str) -> int:
    request = urllib.request.Request(
        app.url + "/v1/generate",
        data=json.dumps({"prompt": prompt, "agent": "e2e"}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def drive_until(step: Callable[[], None], done: Callable[[], bool], timeout: float, what: str, *logs: Server) -> float:
    """Run ``step`` until ``done()``; the seconds it took."""
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} within {timeout} s; logs:\n" + "\n".join(s.output()[-3000:] for s in logs))
        step()
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture()
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def test_error_rate_alert_reaches_the_webhook_and_resolves(fake: FakeGemini, tmp_path: Path) -> None:
    env = {
        "GOOGLE_GEMINI_BASE_URL": fake.url,
        "GEMINI_API_KEY": "",
        "GOOGLE_API_KEY": "",
        "FASTPROM_INTERNAL_AUTH": "e2e-secret",
        "LLM_BREAKER_FAILURES": "1000000",  # failures stay 502s from the model, not an open breaker
    }
    with (
        Webhook() as webhook,
        uvicorn(
            "examples.llm_server:app", tmp_path / "uvicorn.log", extra_env=env, ready_path="/api/v1/metrics"
        ) as app,
        alertmanager(webhook, tmp_path) as am,
        prometheus_with_rules(app, am, tmp_path) as prom,
    ):
        assert post(app, "warm up") == 200

        def fail() -> None:
            fake.fail_next(500)
            assert post(app, "fail") == 502

        def succeed() -> None:
            assert post(app, "heal") == 200

        logs = (prom, am, app)
        fired = drive_until(fail, lambda: bool(webhook.notifications("firing")), 60, f"{ALERT} did not fire", *logs)
        alert = webhook.notifications("firing")[0]
        assert alert["labels"] == {"alertname": ALERT, "job": "llm-server", "severity": "critical"}
        assert alert["annotations"]["summary"].startswith("llm-server: ")
        assert alert["annotations"]["summary"].endswith("% of HTTP requests fail with 5xx")
        # Prometheus itself shows the recorded ratio above the threshold.
        status, body = http_get(prom.url + "/api/v1/query?query=job:http_requests:error_ratio_rate10s")
        assert status == 200 and float(json.loads(body)["data"]["result"][0]["value"][1]) > 0.05

        resolved = drive_until(
            succeed, lambda: bool(webhook.notifications("resolved")), 90, f"{ALERT} did not resolve", *logs
        )
        assert webhook.notifications("resolved")[0]["labels"]["alertname"] == ALERT
        print(f"fired after {fired:.1f} s of failing traffic, resolved after {resolved:.1f} s of healthy traffic")
