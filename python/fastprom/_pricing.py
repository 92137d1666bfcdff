"""Token prices as data: the Gemini Developer API table shipped with fastprom, and user overrides.

The default table is ``fastprom/data/gemini_prices.json``; it carries the date of the pricing page
it was taken from (:attr:`PriceTable.priced_as_of`). Nothing is ever fetched over the network.
A table document looks like::

    {"priced_as_of": "2026-06-02", "source": "...", "per_tokens": 1000000,
     "long_context_threshold": 200000,
     "service_tiers": {"standard": 1.0, "flex": 0.5, "priority": 1.8},
     "models": {"gemini-2.5-pro": {"input": 1.25, "output": 10.0, "cached_input": 0.125,
                                   "long_context": {"input": 2.5, "output": 15.0, "cached_input": 0.25}}}}

Rates are USD per ``per_tokens`` tokens. ``cached_input`` defaults to ``input`` (no caching
discount), ``input_audio`` to ``input`` and ``cached_input_audio`` to ``cached_input``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
from collections.abc import Mapping
from importlib import resources
from typing import Any, Union

__all__ = ["ModelPrice", "PriceTable", "Rates", "load_price_table"]

_RATE_KEYS = frozenset({"input", "output", "cached_input", "input_audio", "cached_input_audio"})
_MODEL_KEYS = _RATE_KEYS | {"long_context"}
_TABLE_KEYS = frozenset(
    {"priced_as_of", "source", "currency", "per_tokens", "long_context_threshold", "service_tiers", "models"}
)

PriceSource = Union["PriceTable", Mapping[str, Any], str, "os.PathLike[str]", None]


@dataclasses.dataclass(frozen=True)
class Rates:
    """Prices of one context tier, in USD per token."""

    input: float
    output: float
    cached_input: float
    input_audio: float
    cached_input_audio: float

    @classmethod
    def parse(cls, where: str, data: Mapping[str, Any], per_tokens: float) -> Rates:
        """Read ``{"input": ..., "output": ..., ...}`` given per ``per_tokens`` tokens."""
        _check_keys(where, data, _RATE_KEYS, required=("input", "output"))
        rate = {key: _rate(f"{where}.{key}", value) / per_tokens for key, value in data.items()}
        cached = rate.get("cached_input", rate["input"])
        return cls(
            input=rate["input"],
            output=rate["output"],
            cached_input=cached,
            input_audio=rate.get("input_audio", rate["input"]),
            cached_input_audio=rate.get("cached_input_audio", cached),
        )


@dataclasses.dataclass(frozen=True)
class ModelPrice:
    """The prices of one model: the standard rates, and those above the long-context threshold."""

    standard: Rates
    long_context: Rates | None
    long_context_threshold: int

    def cost(
        self,
        *,
        prompt: int,
        cached: int,
        output: int,
        tool_use: int = 0,
        prompt_audio: int = 0,
        cached_audio: int = 0,
    ) -> float:
        """The cost in USD of one request at the standard service tier.

        ``prompt`` includes ``cached``; ``prompt_audio`` and ``cached_audio`` are the audio shares
        of ``prompt`` and ``cached``; ``output`` includes thinking tokens; ``tool_use`` tokens
        are billed as input. The long-context rates apply when ``prompt`` exceeds the threshold.
        """
        return self._cost(prompt, cached, output, tool_use, prompt_audio, cached_audio)

    def _cost(
        self, prompt: int, cached: int, output: int, tool_use: int, prompt_audio: int, cached_audio: int
    ) -> float:
        """:meth:`cost` with positional arguments, for the instrumentation's per-call path (no
        keyword matching)."""
        r = self.standard
        if self.long_context is not None and prompt > self.long_context_threshold:
            r = self.long_context
        fresh_audio = prompt_audio - cached_audio
        fresh_text = prompt - cached - fresh_audio
        return (
            (fresh_text + tool_use) * r.input
            + fresh_audio * r.input_audio
            + (cached - cached_audio) * r.cached_input
            + cached_audio * r.cached_input_audio
            + output * r.output
        )


@dataclasses.dataclass(frozen=True)
class PriceTable:
    """Model prices with their provenance; look a model up with :meth:`get`."""

    priced_as_of: str
    source: str
    models: Mapping[str, ModelPrice]
    service_tiers: Mapping[str, float]
    document: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def default(cls) -> PriceTable:
        """The table shipped with fastprom (Gemini Developer API, paid tier)."""
        text = resources.files("fastprom").joinpath("data/gemini_prices.json").read_text("utf-8")
        return cls.from_mapping(json.loads(text))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any]) -> PriceTable:
        """A table from a complete document (see the module docstring)."""
        if not isinstance(document, Mapping):
            raise TypeError(f"a price table must be a mapping, got {type(document).__name__}")
        _check_keys("price table", document, _TABLE_KEYS, required=("priced_as_of", "models"))
        per_tokens = _rate("price table per_tokens", document.get("per_tokens", 1_000_000))
        if per_tokens == 0:
            raise ValueError("price table per_tokens must be positive")
        threshold = document.get("long_context_threshold", 200_000)
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
            raise ValueError(f"price table long_context_threshold must be a non-negative int, got {threshold!r}")
        tiers = document.get("service_tiers", {"standard": 1.0})
        if not isinstance(tiers, Mapping):
            raise TypeError("price table service_tiers must be a mapping of tier name to multiplier")
        models = document["models"]
        if not isinstance(models, Mapping):
            raise TypeError("price table models must be a mapping of model name to rates")
        return cls(
            priced_as_of=str(document["priced_as_of"]),
            source=str(document.get("source", "")),
            models={name: _model(name, spec, per_tokens, threshold) for name, spec in models.items()},
            service_tiers={str(k).lower(): _rate(f"service tier {k!r}", v) for k, v in tiers.items()},
            document=document,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PriceTable:
        """A table from a complete JSON document on disk."""
        with open(path, encoding="utf-8") as f:
            return cls.from_mapping(json.load(f))

    def extend(self, overrides: Mapping[str, Any] | str | os.PathLike[str]) -> PriceTable:
        """A new table: this one with the models (and any other keys) of ``overrides`` replacing
        or adding to its own. ``overrides`` is a document mapping or the path of a JSON file;
        its ``models`` entries replace whole model entries."""
        if not isinstance(overrides, Mapping):
            with open(overrides, encoding="utf-8") as f:
                overrides = json.load(f)
            if not isinstance(overrides, Mapping):
                raise TypeError("a price file must hold a JSON object")
        models = overrides.get("models", {})
        if not isinstance(models, Mapping):
            raise TypeError("price overrides: models must be a mapping of model name to rates")
        merged = {**self.document, **overrides, "models": {**self.document["models"], **models}}
        return PriceTable.from_mapping(merged)

    def get(self, model: str) -> ModelPrice | None:
        """The prices of ``model`` (a ``models/`` or ``publishers/.../models/`` prefix is ignored)."""
        return self.models.get(model.rsplit("/", 1)[-1])

    def tier_multiplier(self, tier: str | None) -> float:
        """The price multiplier of a service tier; unknown or unset tiers count as standard."""
        if not tier:
            return 1.0
        return self.service_tiers.get(tier.lower(), 1.0)


def load_price_table(source: PriceSource) -> PriceTable:
    """``None``: the shipped table; a :class:`PriceTable`: itself; a mapping or a JSON file path:
    the shipped table extended with it (see :meth:`PriceTable.extend`)."""
    if source is None:
        return _default_table()
    if isinstance(source, PriceTable):
        return source
    if isinstance(source, (Mapping, str, os.PathLike)):
        return _default_table().extend(source)
    raise TypeError(f"price_table must be a PriceTable, a mapping, a file path or None, got {type(source).__name__}")


_DEFAULT: list[PriceTable] = []
_DEFAULT_LOCK = threading.Lock()


def _default_table() -> PriceTable:
    """The shipped table, loaded once (one instance, whatever the threads)."""
    if not _DEFAULT:
        with _DEFAULT_LOCK:
            if not _DEFAULT:
                _DEFAULT.append(PriceTable.default())
    return _DEFAULT[0]


def _model(name: str, spec: Any, per_tokens: float, threshold: int) -> ModelPrice:
    where = f"price of model {name!r}"
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where} must be a mapping of rates, got {type(spec).__name__}")
    _check_keys(where, spec, _MODEL_KEYS, required=("input", "output"))
    long_spec = spec.get("long_context")
    rates = {k: v for k, v in spec.items() if k != "long_context"}
    return ModelPrice(
        standard=Rates.parse(where, rates, per_tokens),
        long_context=None if long_spec is None else Rates.parse(f"{where} long_context", long_spec, per_tokens),
        long_context_threshold=threshold,
    )


def _check_keys(where: str, data: Mapping[str, Any], allowed: frozenset[str], required: tuple[str, ...]) -> None:
    if not isinstance(data, Mapping):
        raise TypeError(f"{where} must be a mapping, got {type(data).__name__}")
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"{where}: missing keys {missing}")


def _rate(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where} must be a non-negative number, got {value!r}")
    return float(value)
