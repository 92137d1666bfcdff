#!/usr/bin/env bash
# One command: set up everything on a fresh machine and run the demo.
#   bash scripts/demo.sh [--seconds N] [--no-bench]
# Creates .venv-demo (override with FASTPROM_DEMO_VENV), builds fastprom in release mode with
# the demo's dependencies (FastAPI, uvicorn, google-genai, prometheus_client for the
# speed-up table), then runs examples/demo.py, which serves until Ctrl-C (or N seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_setup.sh
setup_venv "${FASTPROM_DEMO_VENV:-.venv-demo}" demo
step "demo"
exec python examples/demo.py "$@"
