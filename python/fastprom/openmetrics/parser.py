"""Parser for the OpenMetrics 1.0 text format, with exemplars and native histograms.

Unlike the Prometheus text parser this one is strict: it raises ValueError on anything
prometheus_client's OpenMetrics parser rejects (missing ``# EOF``, bad histograms,
duplicate families, metadata after samples, ...), naming the offending line.
"""

from __future__ import annotations

import io
import math
import re
from typing import Iterable, Iterator, Optional, Union

from ..metrics_core import Metric
from ..parser import (
    _find_unquoted,
    _name_and_labels,
    _parse_number,
    _split_unquoted,
    _unescape,
    _unquote_metric_name,
    parse_labels,
)
from ..samples import BucketSpan, Exemplar, NativeHistogram, Sample, Timestamp
from ..validation import _is_valid_legacy_metric_name, _validate_metric_name

__all__ = ["text_fd_to_metric_families", "text_string_to_metric_families"]

_TYPE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"),
    "info": ("_info",),
}
_COUNTER_LIKE = ("_total", "_sum", "_count", "_bucket", "_gcount")
_MAX_EXEMPLAR_LABELS_LENGTH = 128

_NH_FIELD_RE = re.compile(r"(\w+):\s*([^,}]+)")
_NH_SPANS_RE = re.compile(r"(positive_spans|negative_spans):\[(\d+:\d+(?:,\d+:\d+)*)\]")
_NH_DELTAS_RE = re.compile(r"(positive_deltas|negative_deltas):\[(-?\d+(?:,-?\d+)*)\]")

_Ts = Optional[Union[Timestamp, float]]


def _parse_timestamp(text: str) -> _Ts:
    """Seconds since the epoch: exact (a Timestamp) when written as ``sec[.frac]``, else a float."""
    if not text:
        return None
    if text != text.strip() or "_" in text:
        raise ValueError(f"Invalid timestamp: {text!r}")
    seconds, _, fraction = text.partition(".")
    try:
        return Timestamp(int(seconds), int(fraction[:9].ljust(9, "0")))
    except ValueError:
        value = float(text)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"Invalid timestamp: {text!r}") from None
        return value


def _last_unquoted(text: str, char: str) -> int:
    """Index of the last ``char`` outside quotes, scanning backwards (index 0 excluded), or -1."""
    in_quotes = False
    for i in range(len(text) - 1, 0, -1):
        c = text[i]
        if c == '"' and (len(text[:i]) - len(text[:i].rstrip("\\"))) % 2 == 0:
            in_quotes = not in_quotes
        elif c == char and not in_quotes:
            return i
    return -1


# The phases of the text after a sample's value: what character each expects, and what follows it.
_EXPECTED = {"hash": ("#", "space"), "space": (" ", "brace"), "valuespace": (" ", "value")}
_INCOMPLETE = ("hash", "space", "brace", "labels")


def _parse_timestamp_and_exemplar(text: str) -> tuple[_Ts, Optional[Exemplar]]:
    """Parse ``[timestamp] [# {labels} value [timestamp]]``: what follows a value and a space."""
    if "#" not in text and '"' not in text:  # The common case: a lone timestamp.
        if not text or " " in text:
            raise ValueError("expected a timestamp or an exemplar")
        return _parse_timestamp(text), None
    fields: dict[str, list[str]] = {"timestamp": [], "value": [], "exemplar_timestamp": []}
    exemplar_labels: Optional[dict[str, str]] = None
    phase = "timestamp"
    in_quotes = False
    for c in text:
        # Quotes are tracked naively here; the exemplar's label set itself is parsed properly.
        if c == '"':
            in_quotes = not in_quotes
        if in_quotes:
            continue
        if phase in _EXPECTED:
            expected, phase = _EXPECTED[phase]
            if c != expected:
                raise ValueError(f"expected {expected!r} in {text!r}")
        elif phase == "timestamp":
            if c == "#" and not fields["timestamp"]:
                phase = "space"
            elif c == " ":
                phase = "hash"
            else:
                fields["timestamp"].append(c)
        elif phase == "brace":
            if c != "{":
                raise ValueError(f"expected '{{' in {text!r}")
            exemplar_labels = parse_labels(text[_find_unquoted(text, "{") + 1 : _last_unquoted(text, "}")], True)
            phase = "labels"
        elif phase == "labels":
            if c == "}":
                phase = "valuespace"
        elif phase == "value":
            if c != " ":
                fields["value"].append(c)
            elif not fields["value"]:
                raise ValueError(f"missing exemplar value in {text!r}")
            else:
                phase = "exemplar_timestamp"
        else:
            fields["exemplar_timestamp"].append(c)
    if phase in _INCOMPLETE or (phase in fields and not fields[phase]):
        raise ValueError(f"incomplete timestamp or exemplar: {text!r}")
    timestamp = _parse_timestamp("".join(fields["timestamp"]))
    if exemplar_labels is None:
        return timestamp, None
    if sum(len(k) + len(v) for k, v in exemplar_labels.items()) > _MAX_EXEMPLAR_LABELS_LENGTH:
        raise ValueError(f"exemplar labels are longer than {_MAX_EXEMPLAR_LABELS_LENGTH} characters")
    exemplar = Exemplar(
        exemplar_labels,
        _parse_number("".join(fields["value"])),
        _parse_timestamp("".join(fields["exemplar_timestamp"])),
    )
    return timestamp, exemplar


def _parse_sample(line: str) -> Sample:
    brace = _find_unquoted(line, "{")
    if brace == -1 or " # " in line[:brace]:
        name_end = _find_unquoted(line, " ")
        # Without a space the slice drops the last character; no such line parses anyway.
        name = line[:name_end]
        if not _is_valid_legacy_metric_name(name):
            raise ValueError(f"invalid metric name {name!r}")
        labels: dict[str, str] = {}
        rest = line[name_end + 1 :]
    else:
        close = _find_unquoted(line, "}")
        if close < brace:
            raise ValueError("unterminated label set")
        name, labels = _name_and_labels(line, brace, close, True)
        rest = line[close + 2 :]
    value_text, space, rest = rest.partition(" ")
    value = _parse_number(value_text)
    if not space:
        return Sample(name, labels, value)
    timestamp, exemplar = _parse_timestamp_and_exemplar(rest)
    return Sample(name, labels, value, timestamp, exemplar)


def _parse_native_histogram_value(text: str) -> NativeHistogram:
    """``{count:…,sum:…,schema:…,zero_threshold:…,zero_count:…[,positive_spans:[o:l,…]…]}``."""
    fields = dict(_NH_FIELD_RE.findall(text))
    spans = {
        key: tuple(BucketSpan(*map(int, span.split(":"))) for span in value.split(","))
        for key, value in _NH_SPANS_RE.findall(text)
    }
    deltas = {key: tuple(int(d) for d in value.split(",")) for key, value in _NH_DELTAS_RE.findall(text)}
    try:
        return NativeHistogram(
            count_value=int(fields["count"]),
            sum_value=float(fields["sum"]),
            schema=int(fields["schema"]),
            zero_threshold=float(fields["zero_threshold"]),
            zero_count=int(fields["zero_count"]),
            pos_spans=spans.get("positive_spans"),
            neg_spans=spans.get("negative_spans"),
            pos_deltas=deltas.get("positive_deltas"),
            neg_deltas=deltas.get("negative_deltas"),
        )
    except KeyError as e:
        raise ValueError(f"native histogram value without {e.args[0]}: {text}") from None


def _parse_native_histogram_sample(line: str) -> Optional[Sample]:
    """The native histogram sample on ``line``, or None if it holds a classic sample."""
    end_of_name = _find_unquoted(line, " {")
    if end_of_name == -1:
        return None
    has_labels = line[end_of_name] == "{"
    if has_labels:
        labels_end = _find_unquoted(line, "}", end_of_name)
        if labels_end == -1:
            raise ValueError("unterminated label set")
        end_of_name, labels_start = labels_end, end_of_name
    value_start = _find_unquoted(line, "{", end_of_name + 1)
    if value_start == -1:
        return None
    hash_pos = _find_unquoted(line, "#", end_of_name + 1)
    if hash_pos != -1 and hash_pos < value_start:
        return None  # A classic sample with an exemplar.
    if _find_unquoted(line, "}", value_start) == -1:
        raise ValueError("unterminated native histogram value")
    suffixes = _TYPE_SUFFIXES["histogram"]
    if not has_labels:
        name = line[: value_start - 1]
        if name.endswith(suffixes):
            raise ValueError(f"native histogram sample name {name!r} has a suffix")
        return Sample(name, None, None, None, None, _parse_native_histogram_value(line[value_start:]))  # type: ignore[arg-type]
    labels: Optional[dict[str, str]] = parse_labels(line[labels_start + 1 : labels_end], True)
    name = line[:labels_start]
    if name.endswith(suffixes):
        raise ValueError(f"native histogram sample name {name!r} has a suffix")
    if not name:
        if "__name__" not in labels:  # type: ignore[operator]
            raise ValueError("missing metric name")
        name = labels.pop("__name__")  # type: ignore[union-attr]
        labels = labels or None
    return Sample(name, labels, None, None, None, _parse_native_histogram_value(line[value_start:]))  # type: ignore[arg-type]


def _is_integral(value: float) -> bool:
    return isinstance(value, int) or value.is_integer()


def _is_uncanonical(text: str) -> bool:
    """Whether a number that must be canonical (only +Inf, in practice) is not."""
    return float(text) == math.inf and text != "+Inf"


def _group_key(sample: Sample, name: str, typ: Optional[str]) -> dict[str, str]:
    """The labels identifying the group (one summary, histogram, state set...) a sample belongs to."""
    if typ == "info":
        return {}
    if typ == "summary" and sample.name == name:
        drop = "quantile"
    elif typ == "stateset":
        drop = name
    elif typ in ("histogram", "gaugehistogram") and sample.name == name + "_bucket":
        drop = "le"
    else:
        return sample.labels
    return {k: v for k, v in sample.labels.items() if k != drop}


def _check_histogram_group(name: str, group: list[Sample]) -> None:
    """Check one histogram or gauge histogram (samples of one label set and timestamp)."""
    le, value, count = None, 0.0, None
    has_sum = has_gsum = negative_buckets = negative_gsum = False
    for s in group:
        suffix = s.name[len(name) :]
        if suffix == "_bucket":
            bound = float(s.labels["le"])
            negative_buckets = negative_buckets or bound < 0
            if le is not None and bound <= le:
                raise ValueError(f"Buckets out of order: {name}")
            if s.value < value:
                raise ValueError(f"Bucket values out of order: {name}")
            le, value = bound, s.value
        elif suffix in ("_count", "_gcount"):
            count = s.value
        elif suffix == "_sum":
            has_sum = True
        elif suffix == "_gsum":
            has_gsum = True
            negative_gsum = negative_gsum or s.value < 0
    if le != math.inf:
        raise ValueError(f"+Inf bucket missing: {name}")
    if count is not None and value != count:
        raise ValueError(f"Count does not match +Inf value: {name}")
    if (has_sum or has_gsum) and count is None:
        raise ValueError(f"_count/_gcount must be present if _sum/_gsum is present: {name}")
    if not (has_sum or has_gsum) and count is not None:
        raise ValueError(f"_sum/_gsum must be present if _count is present: {name}")
    if negative_buckets and has_sum:
        raise ValueError(f"Cannot have _sum with negative buckets: {name}")
    if not negative_buckets and negative_gsum:
        raise ValueError(f"Cannot have negative _gsum with non-negative buckets: {name}")


def _check_histogram(name: str, samples: list[Sample]) -> None:
    """Check every run of samples sharing a label set and timestamp (native histograms aside)."""
    key: object = None
    group: list[Sample] = []
    for s in samples:
        if len(s.name) <= len(name):
            continue
        sample_key = (_group_key(s, name, "histogram"), s.timestamp)
        if group and sample_key != key:
            _check_histogram_group(name, group)
            group = []
        key = sample_key
        group.append(s)
    if group:
        _check_histogram_group(name, group)


class _Family:
    """A family being parsed: its metadata, samples and the grouping state the checks need."""

    def __init__(self, name: str, typ: Optional[str] = None, allowed: Optional[str] = None) -> None:
        self.name = name
        self.documentation: Optional[str] = None
        self.typ = typ
        self.unit: Optional[str] = None
        self.samples: list[Sample] = []
        self.allowed: tuple[str, ...] = (allowed or name,)
        self.group: Optional[tuple[tuple[str, str], ...]] = None
        self.seen_groups: set[tuple[tuple[str, str], ...]] = set()
        self.group_timestamp: _Ts = None
        self.series_at_timestamp: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def set_metadata(self, keyword: str, value: str) -> None:
        if keyword == "HELP":
            if self.documentation is not None:
                raise ValueError("More than one HELP for metric")
            self.documentation = _unescape(value)
        elif keyword == "TYPE":
            if self.typ is not None:
                raise ValueError("More than one TYPE for metric")
            if value == "untyped":
                raise ValueError("Invalid TYPE for metric: untyped")
            self.typ = value
            self.allowed = tuple(self.name + suffix for suffix in _TYPE_SUFFIXES.get(value, ("",)))
        elif keyword == "UNIT":
            if self.unit is not None:
                raise ValueError("More than one UNIT for metric")
            self.unit = value
        else:
            raise ValueError(f"Unknown metadata keyword {keyword!r}")

    def add(self, sample: Sample, native: bool) -> None:
        """Validate ``sample`` against the family and append it (dropping truncated-timestamp duplicates)."""
        name, typ = self.name, self.typ
        if typ == "stateset" and name not in sample.labels:
            raise ValueError("Stateset missing label")
        if sample.name == name + "_bucket":
            le = sample.labels.get("le", "NaN")
            if le == "NaN" or _is_uncanonical(le):
                raise ValueError("Invalid le label")
            if not _is_integral(sample.value):
                raise ValueError("Bucket value must be an integer")
        if sample.name in (name + "_count", name + "_gcount") and not _is_integral(sample.value):
            raise ValueError("Count value must be an integer")
        if typ == "summary" and sample.name == name:
            quantile = sample.labels.get("quantile", "-1")
            if not 0 <= float(quantile) <= 1 or _is_uncanonical(quantile):
                raise ValueError("Invalid quantile label")
        if native:
            self.samples.append(sample)
        else:
            self._add_to_group(sample)
        self._check_value(sample)

    def _add_to_group(self, sample: Sample) -> None:
        group = tuple(sorted(_group_key(sample, self.name, self.typ).items()))
        if self.group is not None and group == self.group:
            if (sample.timestamp is None) != (self.group_timestamp is None):
                raise ValueError("Mix of timestamp presence within a group")
            if (
                self.group_timestamp is not None
                and self.group_timestamp > sample.timestamp  # type: ignore[operator]  # both set here
                and self.typ != "info"
            ):
                raise ValueError("Timestamps went backwards within a group")
        elif self.group is not None and group in self.seen_groups:
            raise ValueError("Invalid metric grouping")
        else:
            self.series_at_timestamp = set()
        series = (sample.name, tuple(sorted(sample.labels.items())))
        if sample.timestamp != self.group_timestamp or series not in self.series_at_timestamp:
            self.samples.append(sample)  # Else a duplicate, from timestamps truncated to the same value.
        self.series_at_timestamp.add(series)
        self.group = group
        self.group_timestamp = sample.timestamp
        self.seen_groups.add(group)

    def _check_value(self, sample: Sample) -> None:
        typ, value, suffix = self.typ, sample.value, sample.name[len(self.name) :]
        if typ == "stateset" and value not in (0, 1):
            raise ValueError("Stateset samples can only have values zero and one")
        if typ == "info" and value != 1:
            raise ValueError("Info samples can only have value one")
        if typ == "summary" and sample.name == self.name and value < 0:
            raise ValueError("Quantile values cannot be negative")
        if suffix in (*_COUNTER_LIKE, "_gsum") and math.isnan(value):
            raise ValueError("Counter-like samples cannot be NaN")
        if suffix in _COUNTER_LIKE and value < 0:
            raise ValueError("Counter-like samples cannot be negative")
        if sample.exemplar and not (
            (typ in ("histogram", "gaugehistogram") and sample.name.endswith("_bucket"))
            or (typ == "counter" and sample.name.endswith("_total"))
        ):
            raise ValueError("Only histogram/gaugehistogram buckets and counters can have exemplars")

    def build(self, seen_names: set[str]) -> Metric:
        """The finished Metric; ``seen_names`` catches families whose sample names clash."""
        name, typ, unit = self.name, self.typ or "unknown", self.unit or ""
        for suffix in {"", *_TYPE_SUFFIXES.get(typ, ())}:
            if name + suffix in seen_names:
                raise ValueError(f"Clashing name: {name + suffix}")
            seen_names.add(name + suffix)
        if unit and not name.endswith("_" + unit):
            raise ValueError(f"Unit does not match metric name: {name}")
        if unit and typ in ("info", "stateset"):
            raise ValueError(f"Units not allowed for this metric type: {name}")
        if typ in ("histogram", "gaugehistogram"):
            _check_histogram(name, self.samples)
        _validate_metric_name(name)
        metric = Metric(name, self.documentation or "", typ, unit)
        metric.samples = self.samples
        return metric


def text_fd_to_metric_families(fd: Iterable[str]) -> Iterator[Metric]:
    """Parse OpenMetrics text from ``fd`` (any iterable of lines), yielding Metrics.

    Raises ValueError, naming the line, on input that is not valid OpenMetrics.
    """
    family: Optional[_Family] = None
    seen_names: set[str] = set()
    eof = False
    for number, raw in enumerate(fd, 1):
        line = raw[:-1] if raw.endswith("\n") else raw
        try:
            if eof:
                raise ValueError("line after # EOF")
            if not line:
                raise ValueError("blank line")
            if line == "# EOF":
                eof = True
            elif line[0] == "#":
                parts = _split_unquoted(line, " ", 3)
                if len(parts) < 4:
                    raise ValueError("expected '# KEYWORD name value'")
                name = _unquote_metric_name(parts[2])
                if family is None or name != family.name:
                    if family is not None:
                        yield family.build(seen_names)
                    family = _Family(name)
                elif family.samples:
                    raise ValueError("metadata after samples")
                family.set_metadata(parts[1], parts[3])
            else:
                sample = None
                if family is not None and family.typ == "histogram":
                    sample = _parse_native_histogram_sample(line)
                native = sample is not None
                if sample is None:
                    sample = _parse_sample(line)
                if not native and (family is None or sample.name not in family.allowed):
                    if family is not None:
                        yield family.build(seen_names)
                    family = _Family(_unquote_metric_name(sample.name), "unknown", sample.name)
                family.add(sample, native)  # type: ignore[union-attr]
        except ValueError as e:
            raise ValueError(f"Invalid line {number}: {line!r}: {e}") from None
    if family is not None:
        yield family.build(seen_names)
    if not eof:
        raise ValueError("Missing # EOF at end")


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Parse OpenMetrics text from a string; see :func:`text_fd_to_metric_families`."""
    yield from text_fd_to_metric_families(io.StringIO(text))
