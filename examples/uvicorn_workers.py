"""Run a fastprom-instrumented app under ``uvicorn --workers N`` with multiprocess metrics.

    python examples/uvicorn_workers.py --multiproc-dir /run/myapp/metrics --workers 4 \\
        --port 8000 --app-dir examples fastapi_app:app

It does what ``gunicorn.conf.py`` does with gunicorn's hooks, around ``uvicorn.run(workers=N)``:

* sets ``PROMETHEUS_MULTIPROC_DIR`` for the workers and empties the directory first (``*.db``
  files only), so that the counters of a previous run do not add up with this one's;
* uvicorn has no ``child_exit`` hook, but it replaces a worker that died.  A thread of the
  supervisor process stands in for the hook: every ``--reap-interval`` seconds it calls
  ``mark_process_dead(pid)`` for each pid that has ``live*`` gauge files but no process any
  more, so a dead worker's ``http_requests_in_progress`` leaves the ``livesum``.

Without this launcher (plain ``uvicorn --workers 4``), nothing marks dead workers: their
``live*`` gauges stay in the merged view, frozen at their last value, until the directory is
emptied at the next start.  Counters, histograms and summaries are not affected: a dead
worker's counts stay in the totals either way, as they should.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path

LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def empty_directory(directory: Path) -> None:
    """Create ``directory`` if missing and remove the ``*.db`` files of a previous run."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: alive
        return True
    return True


def mark_dead_workers(directory: Path) -> list[int]:
    """``mark_process_dead`` for every pid with ``live*`` gauge files and no process; those pids."""
    from fastprom.multiprocess import mark_process_dead

    pids = {int(match.group(1)) for path in directory.iterdir() if (match := LIVE_GAUGE_FILE.fullmatch(path.name))}
    dead = sorted(pid for pid in pids if pid != os.getpid() and not is_alive(pid))
    for pid in dead:
        mark_process_dead(pid, str(directory))
    return dead


def reap_forever(directory: Path, interval: float) -> None:
    while True:
        try:
            mark_dead_workers(directory)
        except OSError as exc:  # the directory removed or unreadable for a moment: try again later
            print(f"uvicorn_workers: cannot mark dead workers in {directory}: {exc}", file=sys.stderr)
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", help="the ASGI app, module:attribute")
    parser.add_argument("--multiproc-dir", required=True, type=Path, help="directory of the workers' metric files")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--app-dir", default=".", help="directory added to sys.path to import the app")
    parser.add_argument("--reap-interval", type=float, default=1.0, help="seconds between dead-worker checks")
    args = parser.parse_args()

    directory = args.multiproc_dir.resolve()
    empty_directory(directory)
    # Before fastprom is imported here or in a worker: the workers (spawned) inherit it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    threading.Thread(target=reap_forever, args=(directory, args.reap_interval), daemon=True).start()

    import uvicorn

    uvicorn.run(args.app, host=args.host, port=args.port, workers=args.workers, app_dir=args.app_dir)


if __name__ == "__main__":
    main()
