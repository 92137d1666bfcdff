"""One instrumentation's options and its series: what is recorded when a call starts, fails or ends."""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

from fastprom._pricing import PriceSource, PriceTable, load_price_table
from fastprom._spans import CURRENT, ROLE, SESSION
from fastprom.registry import REGISTRY, CollectorRegistry

from ._metrics import _BASE_LABELS, _ERROR, _GENERATE, _SUCCESS, OVERFLOW_MODEL, ROLE_LABEL, _metrics_for
from ._usage import error_type, read_response, usage_of

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_WARNED_UNPRICED: set[str] = set()
"""Models already warned about; added to under the lock, so that each is warned about once."""
_WARNED_LOCK = threading.Lock()


class _Children(dict):  # type: ignore[type-arg]
    """The children of one metric under fixed leading label values, keyed by the remaining
    values (a str, or a tuple for several) and created on first use.

    Read them with ``children.get(key) or children[key]``: ``d[key]`` on a dict subclass goes
    through a generic slot that calls ``dict.__getitem__`` as a method (several times the cost
    of ``.get``, which stays a direct call); ``d[key]`` is only for the first use, to run
    ``__missing__``. Children are always true."""

    __slots__ = ("metric", "labels")

    def __init__(self, metric: Any, labels: tuple[str, ...]) -> None:
        super().__init__()
        self.metric = metric
        self.labels = labels

    def __missing__(self, key: str | tuple[str, ...]) -> Any:
        values = key if isinstance(key, tuple) else (key,)
        child = self[key] = self.metric.labels(*self.labels, *values)
        return child


_SUCCEEDED = (_SUCCESS, "")  # the requests key of a successful call
_COUNT_SLOTS = {"cached": "add_cached", "reasoning": "add_reasoning", "tool_use_prompt": "add_tool_use"}
"""The ``_Series`` slot holding the bound ``inc`` of each token kind counted without a histogram."""


class _Series:
    """The series of one (operation, model) under one recorder; children are made on first use,
    so that nothing is exported before something is recorded.

    ``start`` and ``end`` (through ``finish`` for embeddings) run on every call, right after the
    SDK's own work has pushed this code and its data out of the CPU's caches, so they are kept
    short: few calls, no objects made per call but a tuple, no keyword arguments."""

    __slots__ = (
        "recorder",
        "labels",
        "price",
        "overflow",
        "generate",
        "in_flight",
        "duration",
        "requests",
        "tokens",
        "token_usage",
        "ttfc",
        "cost",
        "unpriced",
        "overflowed",
        "response_bytes",
        "role_duration",
        "inc_flight",
        "dec_flight",
        "ok",
        "tok_in",
        "tok_out",
        "add_cached",
        "add_reasoning",
        "add_tool_use",
        "add_cost",
        "add_bytes",
        "record_cost",
    )

    def __init__(self, recorder: _Recorder, labels: tuple[str, ...], overflow: bool) -> None:
        m = recorder.metrics
        self.recorder = recorder
        self.labels = labels
        self.price = recorder.prices.get(labels[2])
        self.overflow = overflow
        self.generate = labels[0] == _GENERATE  # only generated responses have parts to walk
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
        self.response_bytes = _Children(m.response_bytes, labels)
        self.role_duration = _Children(m.role_duration, labels)  # keyed by the role
        self.inc_flight, self.dec_flight = self.in_flight.inc, self.in_flight.dec
        # the bound updates of the children every successful call records, bound on first use
        self.ok: tuple[Callable[[float], None], Callable[[], None], Callable[[float], None]] | None = None
        self.tok_in: tuple[Callable[[int], None], Callable[[int], None]] | None = None
        self.tok_out: tuple[Callable[[int], None], Callable[[int], None]] | None = None
        self.add_cached: Callable[[int], None] | None = None
        self.add_reasoning: Callable[[int], None] | None = None
        self.add_tool_use: Callable[[int], None] | None = None
        self.add_cost: Callable[[float], None] | None = None
        self.add_bytes: Callable[[int], None] | None = None
        self.record_cost = recorder.record_cost

    def _bind_ok(self) -> tuple[Callable[[float], None], Callable[[], None], Callable[[float], None]]:
        last_success = self.recorder.metrics.last_success.labels(*self.labels)
        ok = self.ok = (self.duration[""].observe, self.requests[_SUCCEEDED].inc, last_success.set)
        return ok

    def _bind_tokens(self, kind: str) -> tuple[Callable[[int], None], Callable[[int], None]]:
        bound = (self.tokens[kind].inc, self.token_usage[kind].observe)
        if kind == "input":
            self.tok_in = bound
        else:
            self.tok_out = bound
        return bound

    def _bind_count(self, kind: str) -> Callable[[int], None]:
        """The bound ``inc`` of the token counter of a kind without a usage histogram."""
        add: Callable[[int], None] = self.tokens[kind].inc
        setattr(self, _COUNT_SLOTS[kind], add)
        return add

    def _bind_cost(self) -> Callable[[float], None]:
        add: Callable[[float], None] = self.cost[()].inc
        self.add_cost = add
        return add

    def _bind_bytes(self) -> Callable[[int], None]:
        add: Callable[[int], None] = self.response_bytes[()].inc
        self.add_bytes = add
        return add

    def start(self) -> float:
        self.inc_flight()
        if self.overflow:
            self.overflowed[()].inc()
        return perf_counter()

    def first_chunk(self, started: float) -> None:
        ttfc = self.ttfc
        (ttfc.get(()) or ttfc[()]).observe(perf_counter() - started)

    def fail(self, started: float, exc: BaseException) -> None:
        """Record the failure of a call (not a stream), in the context it started in."""
        self.failure(started, exc, SESSION.get(), ROLE.get())

    def failure(self, started: float, exc: BaseException, session: Any, role: str | None) -> None:
        """Record a failed call made in this session and role (those a stream took at its start)."""
        elapsed = perf_counter() - started
        self.in_flight.dec()
        kind = error_type(exc)
        self.duration[kind].observe(elapsed)
        self.requests[(_ERROR, kind)].inc()
        if role is not None:
            roles = self.role_duration
            (roles.get(role) or roles[role]).observe(elapsed)
        if session is not None:
            session.record(self.labels[2], elapsed, False, 0, 0, 0, False)

    def finish(self, started: float, response: Any, tier: str | None) -> None:
        """Record the success of a call (not a stream) that returned ``response``, in the context
        it started in."""
        elapsed = perf_counter() - started
        if self.generate:
            metadata, nbytes, tools = read_response(response)
        else:  # embeddings: no parts
            metadata, nbytes, tools = getattr(response, "usage_metadata", None), 0, False
        self.end(elapsed, metadata, tier, _SUCCESS, nbytes, tools, SESSION.get(), ROLE.get())

    def end(
        self,
        elapsed: float,
        metadata: Any,
        tier: str | None,
        outcome: str,
        nbytes: int,
        tools: bool,
        session: Any,
        role: str | None,
    ) -> None:
        """Record the end of a call (success, or a stream closed early) that took ``elapsed``
        seconds, whose response (or last chunk) has this ``usage_metadata`` and ``nbytes`` of text."""
        self.dec_flight()
        if outcome is _SUCCESS:
            observe, inc, set_last_success = self.ok or self._bind_ok()
            observe(elapsed)
            inc()
            set_last_success(time.time())
        else:
            self.duration[""].observe(elapsed)
            self.requests[(outcome, "")].inc()
        if nbytes:
            (self.add_bytes or self._bind_bytes())(nbytes)
        if role is not None:
            roles = self.role_duration
            (roles.get(role) or roles[role]).observe(elapsed)
        usage = usage_of(metadata)
        if usage is None:
            if session is not None:
                session.record(self.labels[2], elapsed, outcome is _SUCCESS, 0, 0, 0, tools)
            return
        prompt, cached, output, reasoning, tool_use, prompt_audio, cached_audio = usage
        n = 0
        if prompt is not None:
            n = prompt + tool_use if tool_use else prompt
            add, observe_tokens = self.tok_in or self._bind_tokens("input")
            add(n)
            observe_tokens(n)
        if output is not None:
            add, observe_tokens = self.tok_out or self._bind_tokens("output")
            add(output)
            observe_tokens(output)
        if cached is not None:
            (self.add_cached or self._bind_count("cached"))(cached)
        if reasoning is not None:
            (self.add_reasoning or self._bind_count("reasoning"))(reasoning)
        if tool_use is not None:
            (self.add_tool_use or self._bind_count("tool_use_prompt"))(tool_use)
        cost = 0.0
        if prompt is not None and self.record_cost:
            price = self.price
            if price is None:
                self._unpriced()
            else:
                cost = price._cost(prompt, cached or 0, output or 0, tool_use or 0, prompt_audio, cached_audio)
                if tier:
                    cost *= self.recorder.prices.tier_multiplier(tier)
                (self.add_cost or self._bind_cost())(cost)
        span = CURRENT.get()  # the fastprom.agents span this call runs in, if any
        if span is not None and span.task is not None:
            span.task.llm(n, output or 0, cost)
        if session is not None:
            out = output or 0
            session.record(self.labels[2], elapsed, outcome is _SUCCESS, n, out, n + out, tools)

    def _unpriced(self) -> None:
        self.unpriced[()].inc()
        model = self.labels[2]
        if model not in _WARNED_UNPRICED and _first_warning(model):
            warnings.warn(
                f"fastprom.gemini: no price for model {model!r}; its cost is not recorded "
                "(add it with the price_table option)",
                RuntimeWarning,
                stacklevel=2,
            )


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
            if name in (*_BASE_LABELS, "error_type", "outcome", "gen_ai_token_type", ROLE_LABEL, "le"):
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

    def request(self, operation: str, kwargs: Mapping[str, Any]) -> tuple[_Series, str | None]:
        """The series and service tier of a google-genai call with these keyword arguments: what
        :meth:`series` and :meth:`tier` return, in one call for the per-call path."""
        model = kwargs.get("model")
        s = self._series.get((operation, model)) if type(model) is str else None
        if s is None:
            s = self.series(operation, model)
        config = kwargs.get("config")
        return s, self.service_tier if config is None else self.tier(config)

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
        if config is None:  # most calls: no config, and no abc instance check to pay for
            return self.service_tier
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
