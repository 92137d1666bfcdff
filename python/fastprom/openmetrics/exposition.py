"""OpenMetrics text exposition (``application/openmetrics-text``)."""

from __future__ import annotations

from typing import Any

from ..registry import CollectorRegistry, RestrictedRegistry
from ..utils import floatToGoString, parse_version
from ..validation import _is_valid_legacy_labelname, _is_valid_legacy_metric_name

__all__ = [
    "ALLOWUTF8",
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_LATEST_2_0",
    "DOTS",
    "UNDERSCORES",
    "VALUES",
    "escape_label_name",
    "escape_metric_name",
    "generate_latest",
]

CONTENT_TYPE_LATEST = "application/openmetrics-text; version=1.0.0; charset=utf-8"
"""Content type of the OpenMetrics 1.0 text format."""
CONTENT_TYPE_LATEST_2_0 = "application/openmetrics-text; version=2.0.0; charset=utf-8"
"""Content type of the OpenMetrics 2.0 text format."""

ESCAPING_HEADER_TAG = "escaping"
ALLOWUTF8 = "allow-utf-8"
UNDERSCORES = "underscores"
DOTS = "dots"
VALUES = "values"


def _render(registry: Any, openmetrics: bool, escaping: str, version_major: int) -> bytes:
    """Render through Rust: registries natively, any other collector via its ``collect()``."""
    from .. import _core

    if type(registry) in (CollectorRegistry, RestrictedRegistry):
        rendered: bytes = registry._render(openmetrics, escaping, version_major)
        return rendered
    return _core.encode(registry.collect(), openmetrics, escaping, version_major)


def generate_latest(registry: Any, escaping: str = UNDERSCORES, version: str = "1.0.0") -> bytes:
    """The OpenMetrics exposition of ``registry`` (any object with ``collect()``)."""
    major = parse_version(version)[0]
    return _render(registry, True, escaping, major if isinstance(major, int) else 1)


def _native_histogram_value(nh: Any) -> str:
    """The ``{count:…,sum:…,…}`` value of a native-histogram sample (OpenMetrics 2.0)."""
    parts = [
        f"count:{nh.count_value}",
        f"sum:{nh.sum_value}",
        f"schema:{nh.schema}",
        f"zero_threshold:{nh.zero_threshold}",
        f"zero_count:{nh.zero_count}",
    ]
    for sign, spans, deltas in (("negative", nh.neg_spans, nh.neg_deltas), ("positive", nh.pos_spans, nh.pos_deltas)):
        if spans:
            parts.append(f"{sign}_spans:[" + ",".join(f"{s[0]}:{s[1]}" for s in spans) + "]")
            parts.append(f"{sign}_deltas:[" + ",".join(str(d) for d in deltas) + "]")
    return "{" + ",".join(parts) + "}"


def _escape(s: str, escaping: str, valid_rune: Any) -> str:
    if escaping == ALLOWUTF8:
        return s.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    out = ["U__"] if escaping == VALUES else []
    for i, ch in enumerate(s):
        if escaping == UNDERSCORES:
            out.append(ch if valid_rune(ch, i) else "_")
        elif escaping == DOTS:
            out.append("__" if ch == "_" else "_dot_" if ch == "." else ch if valid_rune(ch, i) else "__")
        elif escaping == VALUES:
            out.append("__" if ch == "_" else ch if valid_rune(ch, i) else f"_{ord(ch):x}_")
        else:
            return s
    return "".join(out)


def _label_rune(ch: str, i: int) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9" and i > 0)


def _metric_rune(ch: str, i: int) -> bool:
    return _label_rune(ch, i) or ch == ":"


def _escape_name(s: str, escaping: str, valid: bool, rune: Any) -> str:
    if not s:
        return s
    if escaping == ALLOWUTF8:
        return _escape(s, escaping, rune) if valid else f'"{_escape(s, escaping, rune)}"'
    if escaping in (UNDERSCORES, VALUES) and valid:
        return s
    return _escape(s, escaping, rune)


def escape_metric_name(s: str, escaping: str = UNDERSCORES) -> str:
    """A metric name as written under ``escaping`` (quoted for allow-utf-8 if needed)."""
    return _escape_name(s, escaping, _is_valid_legacy_metric_name(s), _metric_rune)


def escape_label_name(s: str, escaping: str = UNDERSCORES) -> str:
    """A label name as written under ``escaping``."""
    return _escape_name(s, escaping, _is_valid_legacy_labelname(s), _label_rune)


__all__ += ["floatToGoString"]
