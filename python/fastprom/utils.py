"""Float formatting helpers shared with prometheus_client."""

from __future__ import annotations

from typing import Union

from . import _core

__all__ = ["INF", "MINUS_INF", "NaN", "floatToGoString", "parse_version"]

INF = float("inf")
MINUS_INF = float("-inf")
NaN = float("NaN")


def floatToGoString(d: object) -> str:  # noqa: N802 - prometheus_client's name
    """Format a number as the exposition formats do: ``1.0``, ``1e+06``, ``+Inf``, ``NaN``."""
    return _core.float_to_go_string(float(d))  # type: ignore[arg-type]


def parse_version(version_str: str) -> tuple[Union[int, str], ...]:
    """``"1.0.0"`` → ``(1, 0, 0)``; non-numeric parts stay strings."""
    parts: list[Union[int, str]] = []
    for part in version_str.split("."):
        try:
            parts.append(int(part))
        except ValueError:
            parts.append(part)
    return tuple(parts)
