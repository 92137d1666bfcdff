"""One instrumentation's options and its series: what is recorded when a call starts, fails or ends."""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any

from fastprom._pricing import PriceSource, PriceTable, load_price_table
from fastprom.registry import REGISTRY, CollectorRegistry

from ._metrics import _BASE_LABELS, _ERROR, _SUCCESS, OVERFLOW_MODEL, _metrics_for
from ._usage import _Usage, error_type

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_WARNED_UNPRICED: set[str] = set()
"""Models already warned about; added to under the lock, so that each is warned about once."""
_WARNED_LOCK = threading.Lock()


class _Children(dict):  # type: ignore[type-arg]
    """The children of one metric under fixed leading label values, keyed by the remaining
    values (a str, or a tuple for several) and created on first use."""

    __slots__ = ("metric", "labels")

    def __init__(self, metric: Any, labels: tuple[str, ...]) -> None:
        super().__init__()
        self.metric = metric
        self.labels = labels

    def __missing__(self, key: str | tuple[str, ...]) -> Any:
        values = key if isinstance(key, tuple) else (key,)
        child = self[key] = self.metric.labels(*self.labels, *values)
        return child


class _Series:
    """The series of one (operation, model) under one recorder; children are made on first use,
    so that nothing is exported before something is recorded."""

    __slots__ = (
        "recorder",
        "labels",
        "price",
        "overflow",
        "in_flight",
        "duration",
        "requests",
        "tokens",
        "token_usage",
        "ttfc",
        "cost",
        "unpriced",
        "overflowed",
    )

    def __init__(self, recorder: _Recorder, labels: tuple[str, ...], overflow: bool) -> None:
        m = recorder.metrics
        self.recorder = recorder
        self.labels = labels
        self.price = recorder.prices.get(labels[2])
        self.overflow = overflow
        self.in_flight = m.in_flight.labels(*labels)
        self.duration = _Children(m.duration, labels)
        self.requests = _Children(m.requests, labels)
        self.tokens = _Children(m.tokens, labels)
        self.token_usage = _Children(m.token_usage, labels)
        # metrics without further labels: their only child has the key ()
        self.ttfc = _Children(m.time_to_first_chunk, labels)
        self.cost = _Children(m.cost, labels)
        self.unpriced = _Children(m.unpriced, labels)
        self.overflowed = _Children(m.model_overflow, labels)

    def start(self) -> float:
        self.in_flight.inc()
        if self.overflow:
            self.overflowed[()].inc()
        return time.perf_counter()

    def first_chunk(self, started: float) -> None:
        self.ttfc[()].observe(time.perf_counter() - started)

    def fail(self, started: float, exc: BaseException) -> None:
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        kind = error_type(exc)
        self.duration[kind].observe(elapsed)
        self.requests[(_ERROR, kind)].inc()

    def finish(self, started: float, usage: _Usage | None, tier: str | None, outcome: str = _SUCCESS) -> None:
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        self.duration[""].observe(elapsed)
        self.requests[(outcome, "")].inc()
        if usage is None:
            return
        tokens = self.tokens
        if usage.prompt is not None:
            n = usage.prompt + (usage.tool_use or 0)
            tokens["input"].inc(n)
            self.token_usage["input"].observe(n)
        if usage.output is not None:
            tokens["output"].inc(usage.output)
            self.token_usage["output"].observe(usage.output)
        if usage.cached is not None:
            tokens["cached"].inc(usage.cached)
        if usage.reasoning is not None:
            tokens["reasoning"].inc(usage.reasoning)
        if usage.tool_use is not None:
            tokens["tool_use_prompt"].inc(usage.tool_use)
        if self.recorder.record_cost and usage.prompt is not None:
            self._record_cost(usage, tier)

    def _record_cost(self, usage: _Usage, tier: str | None) -> None:
        if self.price is None:
            self.unpriced[()].inc()
            model = self.labels[2]
            if model not in _WARNED_UNPRICED and _first_warning(model):
                warnings.warn(
                    f"fastprom.gemini: no price for model {model!r}; its cost is not recorded "
                    "(add it with the price_table option)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return
        cost = self.price.cost(
            prompt=usage.prompt or 0,
            cached=usage.cached or 0,
            output=usage.output or 0,
            tool_use=usage.tool_use or 0,
            prompt_audio=usage.prompt_audio,
            cached_audio=usage.cached_audio,
        )
        self.cost[()].inc(cost * self.recorder.prices.tier_multiplier(tier))


class _Recorder:
    """Options of one instrumentation, and its cache of series."""

    def __init__(
        self,
        *,
        provider: str,
        registry: CollectorRegistry | None = REGISTRY,
        namespace: str = "",
        labels: Mapping[str, str] | None = None,
        price_table: PriceSource = None,
        record_cost: bool = True,
        max_models: int = 20,
        service_tier: str | None = None,
    ) -> None:
        labels = dict(labels or {})
        for name, value in labels.items():
            if not isinstance(name, str) or not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"invalid label name {name!r} in labels")
            if name in (*_BASE_LABELS, "error_type", "outcome", "gen_ai_token_type", "le"):
                raise ValueError(f"label name {name!r} in labels is reserved by fastprom.gemini")
            if not isinstance(value, str):
                raise TypeError(f"label {name!r} must have a str value, got {type(value).__name__}")
        if not isinstance(max_models, int) or max_models < 0:
            raise ValueError(f"max_models must be a non-negative int, got {max_models!r}")
        if not isinstance(namespace, str):
            raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
        self.metrics = _metrics_for(registry, namespace, tuple(labels))
        self.provider = provider
        self.constant = tuple(labels.values())
        self.prices: PriceTable = load_price_table(price_table)
        self.record_cost = bool(record_cost)
        self.max_models = max_models
        self.service_tier = service_tier
        self._series: dict[tuple[str, str], _Series] = {}

    def series(self, operation: str, model: Any) -> _Series:
        """The series of an operation on a model, applying the cap on unpriced model names."""
        if not isinstance(model, str) or not model:
            raise TypeError(f"the model must be a non-empty str, got {model!r}")
        s = self._series.get((operation, model))
        if s is not None:
            return s
        name = model.rsplit("/", 1)[-1]
        m = self.metrics
        with m.lock:
            admitted = name in m.admitted_models or self.prices.get(name) is not None
            if not admitted and len(m.admitted_models) < self.max_models:
                m.admitted_models.add(name)
                admitted = True
        s = _Series(
            self,
            (operation, self.provider, name if admitted else OVERFLOW_MODEL, *self.constant),
            overflow=not admitted,
        )
        if admitted:  # overflowing names are not cached, so that junk names cannot grow the cache
            self._series[(operation, model)] = s
        return s

    def tier(self, config: Any) -> str | None:
        """The service tier a request asks for in its config, else the instrumentation's default."""
        tier = config.get("service_tier") if isinstance(config, Mapping) else getattr(config, "service_tier", None)
        if tier is None:
            return self.service_tier
        return str(getattr(tier, "value", tier))


def _first_warning(model: str) -> bool:
    """Whether this is the first warning about ``model`` (true once, whatever the threads)."""
    with _WARNED_LOCK:
        first = model not in _WARNED_UNPRICED
        _WARNED_UNPRICED.add(model)
    return first
