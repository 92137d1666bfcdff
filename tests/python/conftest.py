"""Shared fixtures for the differential tests: prometheus_client 0.26 is the oracle.

Every test that compares output runs under ``fixed_time``: ``time.time`` is patched to a
constant (as prometheus_client's own exposition tests do), so ``_created`` values and
exemplar timestamps, the only clock readings in the output, come out the same in both
libraries and the bytes compare exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Callable

import pytest
from _helpers import FIXED_TIME, FP, PC, Lib, assert_same_output

import fastprom
import fastprom.openmetrics.exposition
from fastprom.testing import FakeGemini


@pytest.fixture
def pc() -> Lib:
    return PC


@pytest.fixture
def fp() -> Lib:
    return FP


def _reset_globals() -> None:
    for lib in (PC, FP):
        lib.enable_created_metrics()
        lib.validation.disable_legacy_validation()


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> float:
    """Freeze ``time.time`` (both libraries read it through the ``time`` module)."""
    monkeypatch.setattr(time, "time", lambda: FIXED_TIME)
    _reset_globals()
    yield FIXED_TIME
    _reset_globals()


@pytest.fixture
def same_output() -> Callable[..., tuple[bytes, bytes]]:
    return assert_same_output


# ------------------------------------------------------------------ fixtures shared by other suites


@pytest.fixture
def registry() -> fastprom.CollectorRegistry:
    """A fresh, empty registry (suites that need a populated one define their own)."""
    return fastprom.CollectorRegistry()


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGemini]:
    """The project's fake Gemini server, one per test module."""
    with FakeGemini() as s:
        yield s


@pytest.fixture
def fake(server: FakeGemini) -> Iterator[FakeGemini]:
    """The fake Gemini server, reset before and after the test."""
    server.reset()
    yield server
    server.reset()
