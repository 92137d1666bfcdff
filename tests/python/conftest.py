"""Shared fixtures for the differential tests: prometheus_client 0.26 is the oracle.

Every test that compares output runs under ``fixed_time``: ``time.time`` is patched to a
constant (as prometheus_client's own exposition tests do), so ``_created`` values and
exemplar timestamps, the only clock readings in the output, come out the same in both
libraries and the bytes compare exactly.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import prometheus_client
import prometheus_client.openmetrics.exposition
import prometheus_client.openmetrics.parser
import prometheus_client.parser
import pytest

import fastprom
import fastprom.openmetrics.exposition
from fastprom.testing import FakeGemini

FIXED_TIME = 123.456


@dataclass(frozen=True)
class Lib:
    """One of the two libraries, with the modules a scenario needs."""

    name: str
    top: ModuleType

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.top, attr)

    def module(self, path: str) -> ModuleType:
        return importlib.import_module(f"{self.name}.{path}")

    @property
    def core(self) -> ModuleType:
        return self.module("core")

    @property
    def om(self) -> ModuleType:
        return self.module("openmetrics.exposition")

    @property
    def exposition(self) -> ModuleType:
        return self.module("exposition")

    @property
    def validation(self) -> ModuleType:
        return self.module("validation")

    def text(self, registry: Any, **kw: Any) -> bytes:
        return self.top.generate_latest(registry, **kw)

    def openmetrics(self, registry: Any, **kw: Any) -> bytes:
        return self.om.generate_latest(registry, **kw)


PC = Lib("prometheus_client", prometheus_client)
FP = Lib("fastprom", fastprom)


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


def parsed(data: bytes, openmetrics: bool) -> str:
    """prometheus_client's parse of an exposition, as a comparable string (NaN-safe)."""
    parser = prometheus_client.openmetrics.parser if openmetrics else prometheus_client.parser
    return repr(list(parser.text_string_to_metric_families(data.decode("utf-8"))))


def assert_parses_alike(expected: bytes, actual: bytes, openmetrics: bool) -> None:
    """``actual`` parses to the same families as ``expected`` (or fails the same way)."""
    try:
        want: Any = parsed(expected, openmetrics)
    except Exception as exc:  # the oracle's own output may be unparseable (e.g. NaN bucket counts)
        want = type(exc)
    try:
        got: Any = parsed(actual, openmetrics)
    except Exception as exc:
        got = type(exc)
    assert got == want


def outputs(lib: Lib, registry: Any, escaping: str | None = None) -> tuple[bytes, bytes]:
    kw = {} if escaping is None else {"escaping": escaping}
    return lib.text(registry, **kw), lib.openmetrics(registry, **kw)


def assert_same_output(
    scenario: Callable[[Lib], Any], escaping: str | None = None, parse: bool = True
) -> tuple[bytes, bytes]:
    """Run ``scenario`` against both libraries; text and OpenMetrics bytes must be equal.

    ``scenario(lib)`` builds and returns something with ``collect()`` (usually a registry).
    Returns fastprom's (text, openmetrics) output.
    """
    want = outputs(PC, scenario(PC), escaping)
    got = outputs(FP, scenario(FP), escaping)
    assert got[0].decode() == want[0].decode()
    assert got[1].decode() == want[1].decode()
    if parse:
        assert_parses_alike(want[0], got[0], openmetrics=False)
        assert_parses_alike(want[1], got[1], openmetrics=True)
    return got


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
