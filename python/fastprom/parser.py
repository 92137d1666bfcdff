"""Parser for the Prometheus text exposition format 0.0.4.

The parser is deliberately as lax as prometheus_client's: whatever that accepts, this
accepts, with the same result. The building blocks here (quote-aware scanning, label set
parsing, value parsing) are shared with :mod:`fastprom.openmetrics.parser`.
"""

from __future__ import annotations

import io
import re
import string
from typing import Iterable, Iterator, Optional

from .metrics_core import Metric
from .samples import Sample
from .validation import _is_valid_legacy_metric_name, _validate_labelname

__all__ = ["parse_labels", "text_fd_to_metric_families", "text_string_to_metric_families"]

_ESCAPES = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
_ESCAPE_RE = re.compile(r'\\[\\n"]')
_HELP_ESCAPE_RE = re.compile(r"\\[\\n]")

# A quoted string: the closing quote is the first one not preceded by an odd run of backslashes.
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_QUOTED_RE = re.compile(_QUOTED, re.DOTALL)

# A label set in canonical form (no stray whitespace, commas or unquoted junk): the fast path.
_LABEL_TERM = r"[ \t]*(?:([a-zA-Z_:][a-zA-Z0-9_:]*)|(" + _QUOTED + r"))[ \t]*(?:=[ \t]*(" + _QUOTED + r")[ \t]*)?"
_LABEL_TERM_RE = re.compile(_LABEL_TERM + r"(?:,|\Z)", re.DOTALL)
_CANONICAL_LABELS_RE = re.compile(r"(?:" + _LABEL_TERM + r"(?:,(?!\Z)|\Z))*\Z", re.DOTALL)

_scanners: dict[str, re.Pattern[str]] = {}


def _scanner(chars: str) -> re.Pattern[str]:
    """A regex consuming text up to the first of ``chars`` that is outside double quotes.

    A backslash escapes a quote (inside quotes and out); other characters are found even
    right after a backslash.
    """
    scanner = _scanners.get(chars)
    if scanner is None:
        stop = re.escape(chars)
        scanner = re.compile(rf'(?:[^"\\{stop}]+|\\\\|\\"|\\|{_QUOTED})*', re.DOTALL)
        _scanners[chars] = scanner
    return scanner


def _find_unquoted(text: str, chars: str, start: int = 0) -> int:
    """Index of the first of ``chars`` in ``text[start:]`` outside quotes, or -1."""
    end = _scanner(chars).match(text, start).end()  # type: ignore[union-attr]
    if end < len(text) and text[end] in chars:
        return end
    return -1  # End of text, or an unterminated quote that runs to it.


def _split_unquoted(text: str, separators: str, maxsplit: int) -> list[str]:
    """Split on runs of unquoted ``separators`` into at most ``maxsplit + 1`` tokens.

    The last token is the rest of the text; a separator at the very end leaves an empty
    last token.
    """
    tokens = [""]
    pos, length = 0, len(text)
    while pos < length:
        found = _find_unquoted(text, separators, pos)
        if found == pos:
            pos += 1
        elif found == -1 or len(tokens) > maxsplit:
            tokens[-1] = text[pos:]
            break
        else:
            tokens[-1] = text[pos:found]
            tokens.append("")
            pos = found + 1
    return tokens


def _unescape(text: str) -> str:
    """Resolve the ``\\\\``, ``\\n`` and ``\\"`` escapes of label values and names."""
    if "\\" not in text:
        return text
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)


def _unquote(text: str) -> tuple[str, bool]:
    """Strip whitespace, then a pair of surrounding quotes (unescaping); report whether there were quotes."""
    text = text.strip()
    if not text:
        return text, False
    if text[0] != '"':
        return _unescape(text), False
    if len(text) == 1 or text[-1] != '"':
        raise ValueError(f"missing closing quote: {text}")
    return _unescape(text[1:-1]), True


def _unquote_metric_name(text: str) -> str:
    """A metric name token: quoted (any UTF-8) or a bare legacy name."""
    name, quoted = _unquote(text)
    if not quoted and not _is_valid_legacy_metric_name(name):
        raise ValueError(f"invalid metric name {name!r}: UTF-8 names must be quoted")
    return name


def _add_label(labels: dict[str, str], name: str, value: str) -> None:
    if name != "__name__":
        _validate_labelname(name)
    if name in labels:
        raise ValueError(f"duplicate label name {name!r}")
    labels[name] = value


def _parse_canonical_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for match in _LABEL_TERM_RE.finditer(text):
        bare, quoted_name, value = match.groups()
        if value is None:
            if quoted_name is None:
                raise ValueError(f"label {bare!r} has no value")
            _add_label(labels, "__name__", _unescape(quoted_name[1:-1]))
        else:
            name = bare if quoted_name is None else _unescape(quoted_name[1:-1])
            _add_label(labels, name, _unescape(value[1:-1]))
    return labels


def _parse_lax_labels(text: str, openmetrics: bool) -> dict[str, str]:
    """Any label set prometheus_client accepts: stray whitespace, empty terms, ``}`` in values."""
    labels: dict[str, str] = {}
    rest = text.strip()
    if openmetrics and rest.startswith(","):
        raise ValueError("leading comma")
    while rest:
        if rest[0] == ",":
            rest = rest[1:]
            if rest.startswith(","):
                raise ValueError("multiple commas")
        split = _find_unquoted(rest, "=,}")
        if split >= 0 and rest[split] == "=":
            name_term, rest = rest[:split], rest[split + 1 :]
            split = _find_unquoted(rest, ",}")
        else:
            name_term = '"__name__"'
        if split == -1:
            split = len(rest)
        value_term, rest = rest[:split].strip(), rest[split:].strip()
        if not value_term:
            if openmetrics:
                raise ValueError("empty term")
            if rest.startswith("}"):
                raise ValueError("unexpected '}'")
            continue
        name = _unquote_metric_name(name_term)
        if not _QUOTED_RE.fullmatch(value_term):
            raise ValueError(f"label value must be one quoted string: {value_term}")
        _add_label(labels, name, _unescape(value_term[1:-1]))
    return labels


def parse_labels(labels_string: str, openmetrics: bool = False) -> dict[str, str]:
    """Parse the inside of a label set, ``a="1",b="2"``, into a dict.

    A quoted name without a value (``{"my.metric"}``) is the metric name, returned as
    ``__name__``. ``openmetrics=True`` rejects empty terms and leading or trailing commas.
    """
    try:
        if _CANONICAL_LABELS_RE.match(labels_string):
            return _parse_canonical_labels(labels_string)
        return _parse_lax_labels(labels_string, openmetrics)
    except ValueError as e:
        raise ValueError(f"Invalid labels: {labels_string} ({e})") from None


def _parse_number(text: str) -> float:
    """An int if the text is one (so values keep their type, as in prometheus_client), else a float."""
    if text != text.strip() or "_" in text:
        raise ValueError(f"Invalid value: {text!r}")
    try:
        return int(text)
    except ValueError:
        return float(text)


def _parse_value_and_timestamp(text: str) -> tuple[float, Optional[float]]:
    """``value [timestamp_ms]``; the timestamp becomes seconds. Extra fields are ignored."""
    text = text.lstrip()
    fields = [f.strip() for f in text.split(" " if " " in text else "\t")]
    fields = [f for f in fields if f]
    if not fields:
        raise ValueError("missing value")
    value = _parse_number(fields[0])
    if len(fields) == 1:
        return value, None
    return value, _parse_number(fields[-1]) / 1000


def _name_and_labels(line: str, brace: int, close: int, openmetrics: bool) -> tuple[str, dict[str, str]]:
    """Name and labels of a sample line whose label set spans ``brace`` to ``close``.

    The name is before the braces, or inside them as ``__name__`` (a quoted UTF-8 name), not both.
    """
    labels = parse_labels(line[brace + 1 : close], openmetrics)
    name = line[:brace] if openmetrics else line[:brace].strip()
    if "__name__" in labels:
        if name:
            raise ValueError("metric name specified more than once")
        name = labels.pop("__name__")
    elif not name:
        raise ValueError("missing metric name")
    return name, labels


def _parse_sample(line: str) -> Sample:
    brace = _find_unquoted(line, "{")
    if brace == -1 or " # " in line[:brace]:
        name_end = _find_unquoted(line, " \t")
        # Without whitespace the slice drops the last character; no such line parses anyway.
        name = line[:name_end].strip()
        if not _is_valid_legacy_metric_name(name):
            raise ValueError(f"invalid metric name {name!r}")
        value, timestamp = _parse_value_and_timestamp(line[name_end + 1 :])
        return Sample(name, {}, value, timestamp)
    close = _find_unquoted(line, "}", brace)
    if close == -1:
        raise ValueError("unterminated label set")
    name, labels = _name_and_labels(line, brace, close, False)
    value, timestamp = _parse_value_and_timestamp(line[close + 1 :])
    return Sample(name, labels, value, timestamp)


_SUFFIXES_BY_TYPE = {"summary": ("_count", "_sum", ""), "histogram": ("_count", "_sum", "_bucket")}


def _build_metric(name: str, documentation: str, typ: str, samples: list[Sample]) -> Metric:
    """A family as prometheus_client represents it: counters are named without ``_total``."""
    if typ == "counter":
        if name.endswith("_total"):
            name = name[: -len("_total")]
        else:
            samples = [s._replace(name=s.name + "_total") for s in samples]
    metric = Metric(name, documentation, typ)
    metric.samples = samples
    return metric


def text_fd_to_metric_families(fd: Iterable[str]) -> Iterator[Metric]:
    """Parse the Prometheus text format from ``fd`` (any iterable of lines), yielding Metrics.

    Laxer than the Prometheus server: that a text parses does not mean it is valid.
    Samples that do not belong to the family of the preceding ``# TYPE``/``# HELP`` each
    become an untyped family of their own.
    """
    name, documentation, typ = "", "", "untyped"
    samples: list[Sample] = []
    allowed: tuple[str, ...] = ()
    for number, raw in enumerate(fd, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line[0] != "#":
                sample = _parse_sample(line)
                if sample.name in allowed:
                    samples.append(sample)
                    continue
                if name:
                    yield _build_metric(name, documentation, typ, samples)
                name, documentation, typ, samples, allowed = "", "", "untyped", [], ()
                yield _build_metric(sample.name, "", "untyped", [sample])
                continue
            parts = _split_unquoted(line, string.whitespace, 3)
            if len(parts) < 2 or (len(parts) > 2 and parts[1] not in ("HELP", "TYPE")):
                continue  # A comment.
            candidate = _unquote_metric_name(parts[2]) if len(parts) > 2 else ""
            if parts[1] == "HELP":
                if candidate != name:
                    if name:
                        yield _build_metric(name, documentation, typ, samples)
                    name, typ, samples, allowed = candidate, "untyped", [], (candidate,)
                documentation = _HELP_ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], parts[3]) if len(parts) == 4 else ""
            elif parts[1] == "TYPE":
                if len(parts) < 4:
                    raise ValueError("TYPE without a type")
                if candidate != name:
                    if name:
                        yield _build_metric(name, documentation, typ, samples)
                    name, documentation, samples = candidate, "", []
                typ = parts[3]
                allowed = tuple(name + suffix for suffix in _SUFFIXES_BY_TYPE.get(typ, ("",)))
        except ValueError as e:
            raise ValueError(f"Invalid line {number}: {line!r}: {e}") from None
    if name:
        yield _build_metric(name, documentation, typ, samples)


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Parse the Prometheus text format from a string; see :func:`text_fd_to_metric_families`."""
    yield from text_fd_to_metric_families(io.StringIO(text))
