"""The README's demo (examples/demo.py) runs to its end offline, every part of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from _servers import ROOT, free_port

pytest.importorskip("fastapi", reason="fastapi is not installed")
pytest.importorskip("google.genai", reason="google-genai is not installed")
pytest.importorskip("httpx", reason="httpx is not installed")


def test_the_demo_runs_offline() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env.pop("GOOGLE_GEMINI_BASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "python"), env.get("PYTHONPATH", "")) if p)
    ports = [str(free_port()) for _ in range(4)]
    args = [sys.executable, str(ROOT / "examples" / "demo.py"), "--seconds", "0", "--no-bench"]
    args += ["--port", ports[0], "--metrics-port", ports[1], "--llm-port", ports[2], "--prometheus-port", ports[3]]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in (
        "== 1. Every metric type",
        "gen_ai_client_tokens_total{",
        "== 3. An LLM server",
        '"server_status": "online"',
        '"llm_status"',
        '"session_id": "abc-123"',
        '"total_requests": 4',  # the weather question is two LLM requests: the tool call, the answer
        '"requests_with_tools": 1',
        "Without the secret: 401",
        "== 5. Serving",
    ):
        assert expected in out, (expected, out)
    if shutil.which("prometheus"):  # Debian's, installed by the test command where it can be
        assert "with fastprom's rules" in out, out
    if shutil.which("prometheus") and shutil.which("prometheus-alertmanager"):
        assert "Alertmanager (pid" in out, out
