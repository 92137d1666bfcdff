"""The value objects behind a metric (``c._value``, ``s._sum``, ``h._buckets``), as
prometheus_client exposes them: the same numbers, and writes that the exposition shows."""

from __future__ import annotations

from typing import Any

import prometheus_client
import pytest

import fastprom


def exercise(lib: Any) -> tuple[list[float], bytes]:
    reg = lib.CollectorRegistry()
    c = lib.Counter("c", "help", ["l"], registry=reg)
    g = lib.Gauge("g", "help", registry=reg)
    s = lib.Summary("s", "help", registry=reg)
    h = lib.Histogram("h", "help", buckets=[1, 5], registry=reg)
    c.labels("a").inc(2)
    g.set(7)
    s.observe(3)
    h.observe(0.5)
    h.observe(3)
    h.observe(3)
    seen = [
        c.labels("a")._value.get(),
        g._value.get(),
        s._count.get(),
        s._sum.get(),
        h._sum.get(),
        *(b.get() for b in h._buckets),
    ]
    # Writes through the value objects (the idiom of tests resetting a metric).
    c.labels("a")._value.set(0)
    g._value.inc(1.5)
    s._sum.set(10)
    h._buckets[2].inc(1)
    return seen, lib.generate_latest(reg)


def test_value_objects_match_prometheus_client() -> None:
    assert exercise(fastprom) == exercise(prometheus_client)


def test_a_labelled_parent_has_no_value() -> None:
    with pytest.raises(ValueError, match="missing label values"):
        fastprom.Counter("c", "help", ["l"], registry=None)._value  # noqa: B018
