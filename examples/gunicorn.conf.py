"""gunicorn settings for a FastAPI app instrumented with fastprom, under several worker processes.

    export PROMETHEUS_MULTIPROC_DIR=/run/myapp/metrics     # a directory for this service alone
    gunicorn -c examples/gunicorn.conf.py -k uvicorn.workers.UvicornWorker -w 4 \\
        --chdir examples fastapi_app:app

Every worker writes its metrics to files of its own pid in ``PROMETHEUS_MULTIPROC_DIR``;
``GET /metrics`` added by ``fastprom.fastapi.instrument(app)``, whichever worker answers
it, serves the merge of all of them.  Alternatively run the sidecar
``fastprom serve --port 9100 --multiproc-dir "$PROMETHEUS_MULTIPROC_DIR"`` and let Prometheus
scrape that.  What the hooks below do:

* ``on_starting`` (the master, before any worker exists): empty the directory, so that the
  counters of a previous run do not add up with this one's.  Only ``*.db`` files are removed.
* ``child_exit`` (the master, once it reaped a worker, crashed or stopped):
  ``mark_process_dead(pid)`` removes the dead worker's ``live*`` gauge files, so its
  ``http_requests_in_progress`` (``livesum``) leaves the sum.  Its counters, histograms and
  summaries stay: they are counts that happened.

The variable must be set before the master starts (it is read when ``fastprom`` is imported and
the workers inherit it); this file refuses to run without it rather than guess a directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not MULTIPROC_DIR:
    raise RuntimeError("gunicorn.conf.py: set PROMETHEUS_MULTIPROC_DIR to a directory for this service's metrics")

from fastprom.multiprocess import mark_process_dead  # noqa: E402  (after the variable is checked)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "uvicorn.workers.UvicornWorker"
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))


def on_starting(server: Any) -> None:
    """Start from an empty metrics directory (created if missing)."""
    directory = Path(MULTIPROC_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: drop its live* gauges from the merged view."""
    mark_process_dead(worker.pid, MULTIPROC_DIR)
