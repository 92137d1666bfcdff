"""pytest plugin (``-p _record``): writes each test's outcome to ``$UPSTREAM_RESULTS`` (JSON).

One entry per test id: ``{"outcome": "passed" | "failed" | "skipped", "detail": str}``.
A test failed if any of its phases (setup, call, teardown) failed; it passed if its call
passed and nothing failed; an expected failure (xfail) counts as skipped.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_results: dict[str, dict[str, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "skipped", "detail": ""})
    if entry["outcome"] == "failed":
        return
    if report.failed:
        entry["outcome"] = "failed"
        entry["detail"] = f"{report.when}: {report.longreprtext}"
    elif hasattr(report, "wasxfail"):
        entry["outcome"] = "skipped"
    elif report.when == "call" and report.passed:
        entry["outcome"] = "passed"


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A test file that fails to import is one failed entry, named after the file.
    if report.failed:
        _results[report.nodeid] = {"outcome": "failed", "detail": f"collection: {report.longreprtext}"}


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ["UPSTREAM_RESULTS"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_results, f, indent=1, sort_keys=True)
