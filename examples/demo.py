"""fastprom's demo: every metric type, an instrumented FastAPI agent, /metrics, the speed-up.

    python examples/demo.py [--seconds N] [--no-bench] [--port 8000] [--metrics-port 8001]

1. Records every metric type and prints the Prometheus text and OpenMetrics expositions.
2. Starts a FastAPI app (``examples/agent_app.py``: a Gemini agent behind ``/ask`` and
   ``/stream``) instrumented with ``fastprom.fastapi.instrument`` under uvicorn, plus
   ``start_http_server`` on a second port, sends them some traffic and prints a few lines of
   what ``/metrics`` shows. The agent talks to a local fake Gemini server unless
   ``GEMINI_API_KEY`` is set. If Debian's ``prometheus`` is installed it is started scraping
   both endpoints.
3. Starts the LLM server of ``examples/llm_server.py`` (``uvicorn examples.llm_server:app``,
   Gemini through the same fake unless ``GEMINI_API_KEY`` is set), makes calls in sessions, and
   prints its status document (``/api/v1/metrics``) and a session's metrics
   (``/events/metrics/session/{id}``, behind the ``x-internal-auth`` secret).
4. Prints fastprom's speed-up over prometheus_client (``tests/benchmarks/bench_core.py --quick``).
5. Keeps serving until Ctrl-C, or for ``--seconds``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

import fastprom
from fastprom.openmetrics.exposition import generate_latest as openmetrics_latest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def every_metric_type() -> None:
    banner("1. Every metric type, in a registry of its own")
    reg = fastprom.CollectorRegistry()
    requests = fastprom.Counter("demo_requests", "Requests handled", ["method"], registry=reg)
    requests.labels("GET").inc()
    requests.labels(method="POST").inc(2, exemplar={"trace_id": "4bf92f35"})
    queue = fastprom.Gauge("demo_queue_depth", "Jobs waiting", registry=reg)
    queue.set(7)
    latency = fastprom.Histogram("demo_latency_seconds", "Latency", buckets=[0.01, 0.1, 1], registry=reg)
    for v in (0.004, 0.05, 0.3, 2.5):
        latency.observe(v)
    size = fastprom.Summary("demo_payload_bytes", "Payload size", registry=reg)
    size.observe(512)
    fastprom.Info("demo_build", "Build", registry=reg).info({"version": fastprom.__version__})
    fastprom.Enum("demo_state", "State", states=["idle", "busy"], registry=reg).state("busy")
    print(fastprom.generate_latest(reg).decode(), end="")
    banner("   … and the same registry as OpenMetrics (exemplars, _created inline, # EOF)")
    print(openmetrics_latest(reg).decode().split("# HELP demo_queue")[0], end="")


def start_prometheus(targets: list[str], port: int) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("prometheus")
    if binary is None:
        print("(Debian's prometheus is not installed: skipping the Prometheus server)")
        return None
    from fastprom.ops.rules import rules_yaml

    workdir = Path(tempfile.mkdtemp(prefix="fastprom-demo-prom-"))
    (workdir / "rules.yml").write_text(rules_yaml())  # what `fastprom rules` prints
    alerting = ""
    alertmanager = shutil.which("prometheus-alertmanager")
    if alertmanager is not None:  # its web UI is the receiver: alerts show there
        am_port = port + 3 if _port_free(port + 3) else _port_free(0)
        (workdir / "alertmanager.yml").write_text(
            "route:\n  receiver: ui\n  group_wait: 5s\nreceivers:\n  - name: ui\n"
        )
        am = subprocess.Popen(
            [
                alertmanager,
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(lambda: (am.terminate(), am.wait(10)))
        alerting = f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
        print(f"Alertmanager (pid {am.pid}) receives the alerts: http://127.0.0.1:{am_port}/#/alerts")
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nrule_files: [rules.yml]\n"
        + alerting
        + "scrape_configs:\n  - job_name: fastprom-demo\n"
        f"    static_configs:\n      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(f"Prometheus (pid {proc.pid}) scrapes {', '.join(targets)}: http://127.0.0.1:{port}/graph")
    print(f"  with fastprom's rules ({workdir / 'rules.yml'}): http://127.0.0.1:{port}/rules and /alerts")
    return proc


def _port_free(port: int) -> int:
    """``port`` if nothing listens on it on 127.0.0.1 (0: any free port), else 0."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
        return int(sock.getsockname()[1])


def serve_and_drive(port: int, metrics_port: int) -> tuple[uvicorn.Server, threading.Thread]:
    banner("2. A FastAPI Gemini agent instrumented with fastprom, under uvicorn")
    from agent_app import create_app  # examples/agent_app.py: calls fastprom.fastapi.instrument(app)

    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)
    fastprom.start_http_server(metrics_port, addr="127.0.0.1")

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        for question in ("Weather in Paris?", "Weather in Oslo?", "Hello"):
            answer = client.get("/ask", params={"question": question}).json()
            print(f"GET /ask?question={question!r:<22} -> {str(answer)[:70]}")
        streamed = client.get("/stream", params={"question": "Tell me a story"}).text
        print(f"GET /stream                          -> {len(streamed)} bytes streamed")
        for path in ("/docs", "/openapi.json", "/nope", "/wp-login.php"):
            print(f"GET {path:<33} -> {client.get(path).status_code}")
        metrics = client.get("/metrics").text

    print(f"\nThe app's metrics:            {base}/metrics")
    print(f"start_http_server (Rust):     http://127.0.0.1:{metrics_port}/metrics")
    print("A few lines of them:")
    wanted = (
        "http_requests_total{",
        "gen_ai_client_tokens_total{",
        "gen_ai_client_cost_usd_total{",
        "gen_ai_client_operation_duration_seconds_count{",
        "gen_ai_client_operation_time_to_first_chunk_seconds_count{",
    )
    for line in metrics.splitlines():
        if line.startswith(wanted):
            print("   ", line)
    return server, thread


def llm_server(port: int) -> subprocess.Popen[bytes]:
    banner("3. An LLM server: the status document and per-session metrics (examples/llm_server.py)")
    env = dict(os.environ)
    env.setdefault("FASTPROM_INTERNAL_AUTH", "demo-secret")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    args = [sys.executable, "-m", "uvicorn", "examples.llm_server:app", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen([*args, "--host", "127.0.0.1"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    auth = {"x-internal-auth": env["FASTPROM_INTERNAL_AUTH"]}
    with httpx.Client(base_url=base, timeout=30) as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.get("/api/v1/metrics")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the LLM server did not start") from None
                time.sleep(0.1)
        calls = [
            {"prompt": "Hello", "session_id": "abc-123", "agent": "assistant", "role": "writer"},
            {
                "prompt": "Tell me a story",
                "session_id": "abc-123",
                "agent": "assistant",
                "role": "writer",
                "stream": True,
            },
            {"prompt": "Weather in Oslo?", "session_id": "abc-123", "agent": "weather", "role": "planner"},
            {"prompt": "Hi", "session_id": "def-456", "model": "gemini-2.5-pro"},
        ]
        for body in calls:
            answer = client.post("/v1/generate", json=body)
            print(f"POST /v1/generate {json.dumps(body)[:60]:<60} -> {answer.status_code} {answer.text[:40]}")
        print(f"\nGET {base}/api/v1/metrics")
        print(json.dumps(client.get("/api/v1/metrics").json(), indent=2))
        print(f"\nGET {base}/events/metrics/session/abc-123   (x-internal-auth: {auth['x-internal-auth']})")
        print(json.dumps(client.get("/events/metrics/session/abc-123", headers=auth).json(), indent=2))
        print(f"\nWithout the secret: {client.get('/events/metrics/session/abc-123').status_code}")
    return proc


def speed_up() -> None:
    banner("4. Speed-up over prometheus_client (same process, medians; python tests/benchmarks/bench_core.py)")
    bench = ROOT / "tests" / "benchmarks" / "bench_core.py"
    subprocess.run([sys.executable, str(bench), "--quick"], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=None, help="exit after N seconds instead of at Ctrl-C")
    ap.add_argument("--no-bench", action="store_true", help="skip the speed-up table")
    ap.add_argument("--port", type=int, default=int(os.environ.get("FASTPROM_DEMO_PORT", 8000)))
    ap.add_argument("--metrics-port", type=int, default=int(os.environ.get("FASTPROM_DEMO_METRICS_PORT", 8001)))
    ap.add_argument("--prometheus-port", type=int, default=9090)
    ap.add_argument("--llm-port", type=int, default=int(os.environ.get("FASTPROM_DEMO_LLM_PORT", 8002)))
    args = ap.parse_args()

    every_metric_type()
    server, thread = serve_and_drive(args.port, args.metrics_port)
    llm = llm_server(args.llm_port)
    targets = [f"127.0.0.1:{port}" for port in (args.port, args.metrics_port, args.llm_port)]
    prometheus = start_prometheus(targets, args.prometheus_port)
    if not args.no_bench:
        speed_up()

    banner("5. Serving")
    print(f"http://127.0.0.1:{args.port}/metrics, http://127.0.0.1:{args.metrics_port}/metrics and ", end="")
    print(f"http://127.0.0.1:{args.llm_port}/api/v1/metrics — ", end="")
    print("Ctrl-C to stop" if args.seconds is None else f"stopping in {args.seconds:g} s", flush=True)
    try:
        if args.seconds is None:
            while thread.is_alive():
                time.sleep(0.5)
        else:
            time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        llm.terminate()
        llm.wait(timeout=10)
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=10)


if __name__ == "__main__":
    main()
