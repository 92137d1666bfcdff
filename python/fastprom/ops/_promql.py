"""Small PromQL and YAML helpers shared by the rules and the dashboards.

They build text only; every metric name they are given comes from :class:`~fastprom.ops.catalog.Catalog`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Union

__all__ = [
    "by",
    "check_duration",
    "histogram_quantile",
    "number",
    "quote",
    "rate",
    "selector",
    "to_yaml",
]

_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+\Z")


def check_duration(name: str, value: str) -> str:
    """``value`` if it is a Prometheus duration (``30s``, ``5m``, ``1h30m``), else ``ValueError`` naming ``name``."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ValueError(f"{name} must be a Prometheus duration such as 30s, 5m or 1h30m, got {value!r}")
    return value


def quote(text: str) -> str:
    """A PromQL string literal (double-quoted, backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def number(value: float) -> str:
    """A PromQL number literal: ``100000``, ``0.05``."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def selector(metric: str, matchers: Iterable[str] = ()) -> str:
    """``metric{m1,m2}``; ``matchers`` are whole matchers (``'status=~"5.."'``); empty ones are skipped."""
    wanted = [m for m in matchers if m]
    return f"{metric}{{{','.join(wanted)}}}" if wanted else metric


def by(labels: Sequence[str]) -> str:
    """The ``by (...)`` clause of an aggregation (``""`` for no labels)."""
    return f" by ({', '.join(labels)})" if labels else ""


def rate(metric: str, window: str, matchers: Iterable[str] = (), labels: Sequence[str] = ()) -> str:
    """``sum by (labels) (rate(metric{matchers}[window]))``."""
    return f"sum{by(labels)} (rate({selector(metric, matchers)}[{window}]))"


def histogram_quantile(
    quantile: float, bucket: str, window: str, matchers: Iterable[str] = (), labels: Sequence[str] = ()
) -> str:
    """The ``quantile`` of a histogram's ``_bucket`` samples over ``window``, aggregated by ``labels``."""
    inner = rate(bucket, window, matchers, [*labels, "le"])
    return f"histogram_quantile({number(quantile)}, {inner})"


# ---------------------------------------------------------------------------------------- YAML

Yaml = Union[str, int, float, bool, None, Sequence["Yaml"], Mapping[str, "Yaml"]]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*(?: [A-Za-z0-9_.:/()-]+)*\Z")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(value: Yaml) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _RESERVED and ": " not in value:
            return value
        if value.isprintable() and value == value.strip():
            return "'" + value.replace("'", "''") + "'"
        return json.dumps(value)  # a JSON string is a YAML double-quoted scalar
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")


def _lines(value: Yaml, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        out = []
        for key, item in value.items():
            name = _scalar(str(key))
            if isinstance(item, (Mapping, list, tuple)) and item:
                out.append(f"{pad}{name}:")
                out.extend(_lines(item, indent + 2))
            else:
                out.append(f"{pad}{name}: {_flow(item)}")
        return out
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            inner = _lines(item, indent + 2)
            out.append(pad + "- " + inner[0][indent + 2 :])
            out.extend(inner[1:])
        return out
    return [pad + _scalar(value)]


def _flow(value: Yaml) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def to_yaml(document: Yaml) -> str:
    """``document`` (mappings, sequences, strings and numbers) as block-style YAML text."""
    return "\n".join(_lines(document, 0)) + "\n"
