"""Sample, Exemplar and Timestamp: the value types metric families are made of."""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Union

__all__ = ["BucketSpan", "Exemplar", "NativeHistogram", "Sample", "Timestamp"]


class Timestamp:
    """A timestamp with nanosecond resolution: ``Timestamp(sec, nsec)``."""

    __slots__ = ("sec", "nsec")

    def __init__(self, sec: float, nsec: float) -> None:
        if not 0 <= nsec < 1e9:
            raise ValueError(f"Invalid value for nanoseconds in Timestamp: {nsec}")
        if sec < 0:
            nsec = -nsec
        self.sec: int = int(sec)
        self.nsec: int = int(nsec)

    def __str__(self) -> str:
        return f"{self.sec}.{self.nsec:09d}"

    def __repr__(self) -> str:
        return f"Timestamp({self.sec}, {self.nsec})"

    def __float__(self) -> float:
        return float(self.sec) + float(self.nsec) / 1e9

    def _key(self) -> tuple[int, int]:
        return (self.sec, self.nsec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: Timestamp) -> bool:
        return self._key() < other._key()

    def __gt__(self, other: Timestamp) -> bool:
        return self._key() > other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class BucketSpan(NamedTuple):
    """A run of native-histogram buckets (experimental)."""

    offset: int
    length: int


class Exemplar(NamedTuple):
    """Labels (a trace id, typically), the observed value and when it was observed."""

    labels: dict[str, str]
    value: float
    timestamp: Optional[Union[float, Timestamp]] = None


class NativeHistogram(NamedTuple):
    """A native (sparse) histogram value (experimental)."""

    count_value: float
    sum_value: float
    schema: int
    zero_threshold: float
    zero_count: float
    pos_spans: Optional[Sequence[BucketSpan]] = None
    neg_spans: Optional[Sequence[BucketSpan]] = None
    pos_deltas: Optional[Sequence[int]] = None
    neg_deltas: Optional[Sequence[int]] = None
    nh_exemplars: Optional[Sequence[Exemplar]] = None


class Sample(NamedTuple):
    """One time series value of a metric family."""

    name: str
    labels: dict[str, str]
    value: float
    timestamp: Optional[Union[float, Timestamp]] = None
    exemplar: Optional[Exemplar] = None
    native_histogram: Optional[NativeHistogram] = None
