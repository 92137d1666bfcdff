"""Metric families for custom collectors (``collect()`` returns these)."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

from .samples import Exemplar, NativeHistogram, Sample, Timestamp
from .validation import _validate_metric_name

__all__ = [
    "METRIC_TYPES",
    "CounterMetricFamily",
    "GaugeHistogramMetricFamily",
    "GaugeMetricFamily",
    "HistogramMetricFamily",
    "InfoMetricFamily",
    "Metric",
    "StateSetMetricFamily",
    "SummaryMetricFamily",
    "UnknownMetricFamily",
    "UntypedMetricFamily",
]

METRIC_TYPES = (
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gaugehistogram",
    "unknown",
    "info",
    "stateset",
)

_Ts = Optional[Union[Timestamp, float]]


class Metric:
    """One metric family: name, documentation, type, unit and its samples."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        if unit and not name.endswith("_" + unit):
            name += "_" + unit
        _validate_metric_name(name)
        if typ == "untyped":
            typ = "unknown"
        if typ not in METRIC_TYPES:
            raise ValueError("Invalid metric type: " + typ)
        self.name: str = name
        self.documentation: str = documentation
        self.unit: str = unit
        self.type: str = typ
        self.samples: list[Sample] = []

    def add_sample(
        self,
        name: str,
        labels: dict[str, str],
        value: float,
        timestamp: _Ts = None,
        exemplar: Optional[Exemplar] = None,
        native_histogram: Optional[NativeHistogram] = None,
    ) -> None:
        """Append one sample (for collectors that build samples themselves)."""
        self.samples.append(Sample(name, labels, value, timestamp, exemplar, native_histogram))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        return (self.name, self.documentation, self.type, self.unit, self.samples) == (
            other.name,
            other.documentation,
            other.type,
            other.unit,
            other.samples,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Metric({self.name}, {self.documentation}, {self.type}, {self.unit}, {self.samples})"

    def _restricted_metric(self, names: Iterable[str]) -> Optional[Metric]:
        """A copy holding only the samples named in ``names`` (None if none is)."""
        wanted = names if isinstance(names, (set, frozenset)) else set(names)
        samples = [s for s in self.samples if s.name in wanted]
        if not samples:
            return None
        m = Metric(self.name, self.documentation, self.type)
        m.samples = samples
        return m


class _Family(Metric):
    """A family whose samples are added per label set with ``add_metric``."""

    _typ = ""

    def __init__(self, name: str, documentation: str, labels: Optional[Sequence[str]], unit: str = "") -> None:
        super().__init__(name, documentation, self._typ, unit)
        self._labelnames: tuple[str, ...] = tuple(labels or ())

    def _labels(self, values: Sequence[str]) -> dict[str, str]:
        return dict(zip(self._labelnames, values))  # noqa: B905 - short values are allowed

    @staticmethod
    def _one_of(value: object, labels: object, what: str = "value") -> None:
        if labels is not None and value is not None:
            raise ValueError(f"Can only specify at most one of {what} and labels.")


class _ValueFamily(_Family):
    """A family of plain values: one sample per label set."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: Optional[float] = None,
        labels: Optional[Sequence[str]] = None,
        unit: str = "",
    ) -> None:
        self._one_of(value, labels)
        super().__init__(name, documentation, labels, unit)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: float, timestamp: _Ts = None) -> None:
        self.samples.append(Sample(self.name, self._labels(labels), value, timestamp))


class UnknownMetricFamily(_ValueFamily):
    """An untyped metric."""

    _typ = "unknown"


UntypedMetricFamily = UnknownMetricFamily


class CounterMetricFamily(_Family):
    """A counter; a trailing ``_total`` in the name is dropped (it is added on output)."""

    _typ = "counter"

    def __init__(
        self,
        name: str,
        documentation: str,
        value: Optional[float] = None,
        labels: Optional[Sequence[str]] = None,
        created: Optional[float] = None,
        unit: str = "",
        exemplar: Optional[Exemplar] = None,
    ) -> None:
        if name.endswith("_total"):
            name = name[: -len("_total")]
        self._one_of(value, labels)
        super().__init__(name, documentation, labels, unit)
        if value is not None:
            self.add_metric([], value, created, exemplar=exemplar)

    def add_metric(
        self,
        labels: Sequence[str],
        value: float,
        created: Optional[float] = None,
        timestamp: _Ts = None,
        exemplar: Optional[Exemplar] = None,
    ) -> None:
        series = self._labels(labels)
        self.samples.append(Sample(self.name + "_total", series, value, timestamp, exemplar))
        if created is not None:
            self.samples.append(Sample(self.name + "_created", dict(series), created, timestamp))


class GaugeMetricFamily(_ValueFamily):
    """A gauge."""

    _typ = "gauge"


class SummaryMetricFamily(_Family):
    """A summary (count and sum)."""

    _typ = "summary"

    def __init__(
        self,
        name: str,
        documentation: str,
        count_value: Optional[int] = None,
        sum_value: Optional[float] = None,
        labels: Optional[Sequence[str]] = None,
        unit: str = "",
    ) -> None:
        if (sum_value is None) != (count_value is None):
            raise ValueError("count_value and sum_value must be provided together.")
        self._one_of(count_value, labels)
        super().__init__(name, documentation, labels, unit)
        if count_value is not None and sum_value is not None:
            self.add_metric([], count_value, sum_value)

    def add_metric(self, labels: Sequence[str], count_value: int, sum_value: float, timestamp: _Ts = None) -> None:
        series = self._labels(labels)
        self.samples.append(Sample(self.name + "_count", series, count_value, timestamp))
        self.samples.append(Sample(self.name + "_sum", dict(series), sum_value, timestamp))


class HistogramMetricFamily(_Family):
    """A histogram: ``buckets`` is a sorted list of ``(le, value[, exemplar])`` ending at +Inf."""

    _typ = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Optional[Sequence[Sequence[Any]]] = None,
        sum_value: Optional[float] = None,
        labels: Optional[Sequence[str]] = None,
        unit: str = "",
    ) -> None:
        if sum_value is not None and buckets is None:
            raise ValueError("sum value cannot be provided without buckets.")
        self._one_of(buckets, labels, "buckets")
        super().__init__(name, documentation, labels, unit)
        if buckets is not None:
            self.add_metric([], buckets, sum_value)

    def add_metric(
        self,
        labels: Sequence[str],
        buckets: Sequence[Sequence[Any]],
        sum_value: Optional[float],
        timestamp: _Ts = None,
    ) -> None:
        series = self._labels(labels)
        for bucket in buckets:
            le, value = bucket[0], bucket[1]
            exemplar = bucket[2] if len(bucket) == 3 else None
            self.samples.append(Sample(self.name + "_bucket", {**series, "le": le}, value, timestamp, exemplar))
        # A histogram with negative buckets has no meaningful sum, and so no count either.
        if float(buckets[0][0]) >= 0 and sum_value is not None:
            self.samples.append(Sample(self.name + "_count", dict(series), buckets[-1][1], timestamp))
            self.samples.append(Sample(self.name + "_sum", dict(series), sum_value, timestamp))


class GaugeHistogramMetricFamily(_Family):
    """A gauge histogram: buckets, ``_gcount`` and ``_gsum``."""

    _typ = "gaugehistogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Optional[Sequence[tuple[str, float]]] = None,
        gsum_value: Optional[float] = None,
        labels: Optional[Sequence[str]] = None,
        unit: str = "",
    ) -> None:
        self._one_of(buckets, labels, "buckets")
        super().__init__(name, documentation, labels, unit)
        if buckets is not None:
            self.add_metric([], buckets, gsum_value)

    def add_metric(
        self,
        labels: Sequence[str],
        buckets: Sequence[tuple[str, float]],
        gsum_value: Optional[float],
        timestamp: _Ts = None,
    ) -> None:
        series = self._labels(labels)
        for le, value in buckets:
            self.samples.append(Sample(self.name + "_bucket", {**series, "le": le}, value, timestamp))
        self.samples.append(Sample(self.name + "_gcount", dict(series), buckets[-1][1], timestamp))
        self.samples.append(Sample(self.name + "_gsum", dict(series), gsum_value, timestamp))  # type: ignore[arg-type]


class _MappingFamily(_Family):
    """A family whose value per label set is a mapping (info labels, state flags); no unit."""

    def __init__(
        self,
        name: str,
        documentation: str,
        value: Optional[dict[str, Any]] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        self._one_of(value, labels)
        super().__init__(name, documentation, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: dict[str, Any], timestamp: _Ts = None) -> None:
        raise NotImplementedError


class InfoMetricFamily(_MappingFamily):
    """An info metric: a constant 1 carrying key-value labels."""

    _typ = "info"

    def add_metric(self, labels: Sequence[str], value: dict[str, str], timestamp: _Ts = None) -> None:
        self.samples.append(Sample(self.name + "_info", {**self._labels(labels), **value}, 1, timestamp))


class StateSetMetricFamily(_MappingFamily):
    """A state set: one sample per state, 1 for the states that are on."""

    _typ = "stateset"

    def add_metric(self, labels: Sequence[str], value: dict[str, bool], timestamp: _Ts = None) -> None:
        series = self._labels(labels)
        for state, enabled in sorted(value.items()):
            self.samples.append(Sample(self.name, {**series, self.name: state}, 1 if enabled else 0, timestamp))
