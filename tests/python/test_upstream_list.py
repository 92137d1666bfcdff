"""tests/upstream/differences.txt stays in step with README.md (no network needed).

The run itself (``tests/upstream/run.py``, a step of ``scripts/test.sh``) checks the listed
tests against prometheus_client's suite; this checks the list's form on every Python.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

UPSTREAM = Path(__file__).resolve().parent.parent / "upstream"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("upstream_run", UPSTREAM / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_every_reason_is_a_readme_bullet() -> None:
    run = _runner()
    listed = run.read_differences()
    assert listed, "differences.txt lists nothing: the parser or the file is broken"
    assert set(listed.values()) <= run.readme_reasons()


def test_listed_tests_are_in_the_files_run() -> None:
    run = _runner()
    for test in run.read_differences():
        file, sep, name = test.partition("::")
        assert sep and name, test
        assert file in run.FILES, test


def test_readme_reasons_are_read() -> None:
    reasons = _runner().readme_reasons()
    assert "ASGI header names are lower case" in reasons
    assert "Values are f64." in reasons
