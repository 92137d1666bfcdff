"""The metric families of fastprom.gemini, their label vocabulary, and their cache per registry."""

from __future__ import annotations

import threading
from typing import Any

from fastprom._families import RUNTIME_MAX_SERIES, PerRegistry
from fastprom.metrics import Counter, Gauge, Histogram
from fastprom.registry import CollectorRegistry

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ..., 67108864
OVERFLOW_MODEL = "_other"
"""The ``gen_ai_request_model`` value of every model past the cap of unpriced model names."""

_BASE_LABELS = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
ROLE_LABEL = "gen_ai_agent_role"
_SUCCESS, _ERROR, _CLOSED = "success", "error", "closed"
_GENERATE, _EMBED = "generate_content", "embeddings"


class GeminiMetrics:
    """The metric families, registered once per registry and namespace and shared by every
    instrumentation that records into them."""

    def __init__(self, registry: CollectorRegistry | None, namespace: str, label_names: tuple[str, ...]):
        common = (*_BASE_LABELS, *label_names)
        # Models, error types and the caller's extra labels come from runtime data: capped.
        kw: dict[str, Any] = {"namespace": namespace, "registry": registry, "max_series": RUNTIME_MAX_SERIES}
        self.label_names = label_names
        self.duration = Histogram(
            "gen_ai_client_operation_duration",
            "Duration of GenAI client operations.",
            (*common, "error_type"),
            unit="seconds",
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.time_to_first_chunk = Histogram(
            "gen_ai_client_operation_time_to_first_chunk",
            "Time from the start of a streamed GenAI operation to its first chunk.",
            common,
            unit="seconds",
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per GenAI operation, input and output.",
            (*common, "gen_ai_token_type"),
            buckets=TOKEN_BUCKETS,
            **kw,
        )
        self.tokens = Counter(
            "gen_ai_client_tokens",
            "Tokens used, by type: input, output, cached (part of input), reasoning (part of output), "
            "tool_use_prompt (part of input).",
            (*common, "gen_ai_token_type"),
            **kw,
        )
        self.requests = Counter(
            "gen_ai_client_requests",
            "GenAI operations by outcome (success, error, closed) and error type.",
            (*common, "outcome", "error_type"),
            **kw,
        )
        self.cost = Counter("gen_ai_client_cost_usd", "Estimated cost of GenAI operations in USD.", common, **kw)
        self.unpriced = Counter(
            "gen_ai_client_unpriced_requests", "GenAI operations whose model has no price.", common, **kw
        )
        # livesum: summed over live processes in multiprocess mode.
        self.in_flight = Gauge(
            "gen_ai_client_operations_in_flight",
            "GenAI operations started and not finished.",
            common,
            multiprocess_mode="livesum",
            **kw,
        )
        self.model_overflow = Counter(
            "gen_ai_client_model_label_overflow",
            f"GenAI operations recorded under gen_ai_request_model={OVERFLOW_MODEL!r} because the cap of "
            "distinct unpriced model names was reached.",
            common,
            **kw,
        )
        # max: in multiprocess mode, the latest success over every process, live or not.
        self.last_success = Gauge(
            "gen_ai_client_last_success_timestamp_seconds",
            "Unix time of the last successful GenAI operation.",
            common,
            multiprocess_mode="max",
            **kw,
        )
        self.response_bytes = Counter(
            "gen_ai_client_response_bytes",
            "UTF-8 bytes of the text parts of GenAI responses (every chunk of a stream), of calls not failed.",
            common,
            **kw,
        )
        self.role_duration = Histogram(
            "gen_ai_client_role_operation_duration",
            "Duration of GenAI client operations made in an agent role, any outcome.",
            (*common, ROLE_LABEL),
            unit="seconds",
            buckets=DURATION_BUCKETS,
            **kw,
        )
        self.admitted_models: set[str] = set()
        self.lock = threading.Lock()


_FAMILIES: PerRegistry[GeminiMetrics] = PerRegistry()


def _metrics_for(registry: CollectorRegistry | None, namespace: str, label_names: tuple[str, ...]) -> GeminiMetrics:
    metrics = _FAMILIES.get(registry, namespace, lambda: GeminiMetrics(registry, namespace, label_names))
    if metrics.label_names != label_names:
        raise ValueError(
            f"the Gemini metrics of this registry and namespace {namespace!r} already have the extra labels "
            f"{list(metrics.label_names)}, not {list(label_names)}: every instrumentation sharing a registry "
            "and namespace must pass the same label names"
        )
    return metrics
