"""Prometheus recording and alerting rules for the metrics fastprom records.

::

    from fastprom.ops.rules import rules_yaml
    print(rules_yaml(namespace="myapp", overrides={"http_error_ratio": "0.02", "window": "2m"}))

or ``fastprom rules [--namespace NS] [--set NAME=VALUE ...]``. Every metric name comes from
:class:`~fastprom.ops.catalog.Catalog`, so a rule cannot name a metric fastprom does not record.

Recording rules aggregate counters and histograms across instances
(``sum by (job, ...) (rate(...))``, ratios of sums, quantiles of summed buckets): no ratio is read
from a gauge an application sets, so every figure is right for one instance or a hundred. Alerts
read the recording rules of their group (a group evaluates its rules in order, so an alert sees the
value recorded at the same evaluation). Thresholds, windows, ``for`` durations and severities have
defaults (:data:`SETTINGS`) that ``overrides`` replace; see ``docs/rules.md``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ._promql import check_duration, histogram_quantile, number, quote, rate, selector, to_yaml
from .catalog import Catalog

__all__ = ["ALERTS", "SETTINGS", "Alert", "Setting", "build_rules", "resolve_settings", "rules_yaml"]


@dataclass(frozen=True)
class Setting:
    """One overridable setting: its default (text, as on the command line), kind and meaning.

    Kinds: ``duration`` (``5m``), ``ratio`` (0 to 1), ``number`` (>= 0), ``severity`` (a word),
    ``regex`` (of label values; ``""``: no matcher).
    """

    default: str
    kind: str
    help: str


@dataclass(frozen=True)
class Alert:
    """An alert: its settings' prefix ``key`` (``key``, ``key_for``, ``key_severity``), defaults and texts.

    ``threshold`` is None for an alert without one. ``value`` is how the description shows
    ``$value``: ``ratio`` (a percentage), ``seconds``, ``count`` or ``usd``.
    """

    name: str
    key: str
    group: str
    threshold: Optional[float]
    unit: str
    for_: str
    severity: str
    summary: str
    description: str


_VALUE_FORMATS = {
    "ratio": "{{ $value | humanizePercentage }}",
    "seconds": '{{ printf "%.3g" $value }} s',
    "count": '{{ printf "%.0f" $value }}',
    "usd": '{{ printf "%.2f" $value }} USD',
    "state": '{{ printf "%.0f" $value }}',
}

ALERTS: tuple[Alert, ...] = (
    # --- HTTP (the middleware's families)
    Alert(
        "HTTPHighErrorRate", "http_error_ratio", "http", 0.05, "ratio", "5m", "critical",
        "{{ $labels.job }}: {{ VALUE }} of HTTP requests fail with 5xx",
        "More than {{ THRESHOLD }} of the HTTP requests of job {{ $labels.job }} answered with a 5xx status "
        "over the last {{ WINDOW }}.",
    ),
    Alert(
        "HTTPHighLatency", "http_latency_p95", "http", 10.0, "seconds", "5m", "warning",
        "{{ $labels.job }} {{ $labels.route }}: HTTP p95 latency {{ VALUE }}",
        "The 95th percentile of the duration of HTTP requests to route {{ $labels.route }} of job "
        "{{ $labels.job }} is above {{ THRESHOLD }} s.",
    ),
    Alert(
        "HTTPTooManyRequestsInProgress", "http_in_progress", "http", 100.0, "count", "5m", "warning",
        "{{ $labels.job }}: {{ VALUE }} HTTP requests in progress",
        "More than {{ THRESHOLD }} HTTP requests are in progress at once across the instances of job "
        "{{ $labels.job }}.",
    ),
    Alert(
        "TargetDown", "target_down", "http", None, "state", "1m", "critical",
        "{{ $labels.job }} {{ $labels.instance }} is down",
        "Prometheus cannot scrape {{ $labels.instance }} of job {{ $labels.job }}.",
    ),
    # --- LLM (fastprom.gemini)
    Alert(
        "HighTokenConsumption", "tokens_per_hour", "llm", 100000.0, "count", "15m", "warning",
        "{{ $labels.job }}: {{ VALUE }} LLM tokens per hour",
        "Job {{ $labels.job }} consumes more than {{ THRESHOLD }} LLM tokens per hour (average rate over "
        "the last {{ TOKEN_WINDOW }}, per second times 3600).",
    ),
    Alert(
        "LLMSpendOverBudget", "llm_budget_usd_per_hour", "llm", 10.0, "usd", "15m", "warning",
        "{{ $labels.job }}: LLM spend at {{ VALUE }} per hour",
        "Job {{ $labels.job }} spends LLM money faster than its budget of {{ THRESHOLD }} USD per hour.",
    ),
    Alert(
        "LLMRateLimited", "llm_rate_limited_ratio", "llm", 0.05, "ratio", "5m", "warning",
        "{{ $labels.job }} {{ $labels.gen_ai_request_model }}: {{ VALUE }} of LLM calls rate limited (429)",
        "More than {{ THRESHOLD }} of the calls of job {{ $labels.job }} to {{ $labels.gen_ai_request_model }} "
        "were refused with 429 over the last {{ WINDOW }}.",
    ),
    Alert(
        "LLMHighErrorRate", "llm_error_ratio", "llm", 0.05, "ratio", "5m", "warning",
        "{{ $labels.job }} {{ $labels.gen_ai_request_model }}: {{ VALUE }} of LLM calls fail",
        "More than {{ THRESHOLD }} of the calls of job {{ $labels.job }} to {{ $labels.gen_ai_request_model }} "
        "failed over the last {{ WINDOW }}.",
    ),
    Alert(
        "LLMSlowFirstChunk", "llm_first_chunk_p95", "llm", 5.0, "seconds", "5m", "warning",
        "{{ $labels.job }} {{ $labels.gen_ai_request_model }}: LLM time to first chunk p95 {{ VALUE }}",
        "The 95th percentile of the time to the first chunk of streamed calls of job {{ $labels.job }} to "
        "{{ $labels.gen_ai_request_model }} is above {{ THRESHOLD }} s.",
    ),
    Alert(
        "LLMNoRecentSuccess", "llm_success_age", "llm", 900.0, "seconds", "5m", "critical",
        "{{ $labels.job }} {{ $labels.gen_ai_request_model }}: no successful LLM call for {{ VALUE }}",
        "Job {{ $labels.job }} keeps calling {{ $labels.gen_ai_request_model }}, but none of its calls has "
        "succeeded for more than {{ THRESHOLD }} s (gen_ai_client_last_success_timestamp_seconds).",
    ),
    Alert(
        "StreamLowSuccessRate", "stream_success_ratio", "llm", 0.95, "ratio", "5m", "warning",
        "{{ $labels.job }}: only {{ VALUE }} of LLM calls and streams succeed",
        "Less than {{ THRESHOLD }} of the LLM calls of job {{ $labels.job }} ended successfully over the "
        "last {{ WINDOW }} (failed calls and streams closed before their end count as unsuccessful).",
    ),
    # --- agents (fastprom.agents)
    Alert(
        "AgentHighLatency", "agent_latency_p95", "agents", 5.0, "seconds", "5m", "warning",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: p95 task duration {{ VALUE }}",
        "The 95th percentile of the task duration of agent {{ $labels.gen_ai_agent_name }} (job "
        "{{ $labels.job }}) is above {{ THRESHOLD }} s.",
    ),
    Alert(
        "AgentHighFailureRate", "agent_failure_ratio", "agents", 0.10, "ratio", "5m", "warning",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: {{ VALUE }} of tasks fail",
        "More than {{ THRESHOLD }} of the tasks of agent {{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) "
        "failed over the last {{ WINDOW }}.",
    ),
    Alert(
        "AgentToolHighErrorRate", "tool_error_ratio", "agents", 0.10, "ratio", "5m", "warning",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: tool {{ $labels.gen_ai_tool_name }} fails "
        "{{ VALUE }}",
        "More than {{ THRESHOLD }} of the calls of agent {{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) "
        "to tool {{ $labels.gen_ai_tool_name }} failed over the last {{ WINDOW }}.",
    ),
    Alert(
        "AgentNotAnswering", "agent_not_answering", "agents", None, "count", "5m", "critical",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }} is not answering",
        "Agent {{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) has {{ VALUE }} tasks in progress and "
        "finished none in the last {{ IDLE_WINDOW }}.",
    ),
    Alert(
        "LowTaskCompletionRate", "task_completion_ratio", "agents", 0.80, "ratio", "15m", "critical",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: only {{ VALUE }} of tasks complete",
        "Less than {{ THRESHOLD }} of the tasks of agent {{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) "
        "completed successfully over the last {{ COMPLETION_WINDOW }}.",
    ),
    Alert(
        "HighActiveTasks", "active_tasks", "agents", 50.0, "count", "5m", "warning",
        "{{ $labels.job }}: {{ VALUE }} agent tasks in progress",
        "More than {{ THRESHOLD }} agent tasks are in progress at once across the instances of job "
        "{{ $labels.job }}.",
    ),
    Alert(
        "AgentCircuitBreakerOpen", "agent_breaker_open", "agents", None, "state", "1m", "warning",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: circuit breaker {{ $labels.breaker }} is open",
        "Circuit breaker {{ $labels.breaker }} of agent {{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) "
        "is open on at least one instance.",
    ),
    Alert(
        "AgentCacheHighMissRate", "agent_cache_miss_ratio", "agents", 0.30, "ratio", "10m", "warning",
        "{{ $labels.job }} agent {{ $labels.gen_ai_agent_name }}: cache {{ $labels.cache }} misses {{ VALUE }}",
        "More than {{ THRESHOLD }} of the lookups in cache {{ $labels.cache }} of agent "
        "{{ $labels.gen_ai_agent_name }} (job {{ $labels.job }}) missed over the last {{ WINDOW }}.",
    ),
    # --- infrastructure (fastprom.infra)
    Alert(
        "StreamSlowFirstByte", "stream_ttfb_p95", "infra", 1.0, "seconds", "5m", "warning",
        "{{ $labels.job }}: stream time to first byte p95 {{ VALUE }}",
        "The 95th percentile of the time to the first chunk of the streams of job {{ $labels.job }} is above "
        "{{ THRESHOLD }} s.",
    ),
    Alert(
        "StreamTooManyChunksPerSession", "stream_chunks_per_session", "infra", 1000.0, "count", "15m", "warning",
        "{{ $labels.job }}: {{ VALUE }} stream chunks per chat session",
        "Job {{ $labels.job }} sends more than {{ THRESHOLD }} stream chunks per chat session started "
        "(over the last {{ WINDOW }}).",
    ),
    Alert(
        "CircuitBreakerOpen", "breaker_open", "infra", None, "state", "1m", "warning",
        "{{ $labels.job }}: circuit breaker of {{ $labels.service }} is open",
        "The circuit breaker of {{ $labels.service }} (job {{ $labels.job }}) is open on at least one instance.",
    ),
    Alert(
        "CacheHighMissRate", "cache_miss_ratio", "infra", 0.30, "ratio", "10m", "warning",
        "{{ $labels.job }}: cache {{ $labels.cache }} misses {{ VALUE }}",
        "More than {{ THRESHOLD }} of the lookups in cache {{ $labels.cache }} (job {{ $labels.job }}) missed "
        "over the last {{ WINDOW }}.",
    ),
    Alert(
        "ConnectionPoolSaturated", "pool_usage_ratio", "infra", 0.90, "ratio", "5m", "warning",
        "{{ $labels.job }}: pool {{ $labels.pool }} {{ VALUE }} used",
        "More than {{ THRESHOLD }} of the connections of pool {{ $labels.pool }} (job {{ $labels.job }}) are "
        "in use.",
    ),
    Alert(
        "SlowDatabaseOperations", "db_latency_p95", "infra", 0.5, "seconds", "5m", "warning",
        "{{ $labels.job }}: {{ $labels.operation }} on {{ $labels.table }} p95 {{ VALUE }}",
        "The 95th percentile of the duration of {{ $labels.operation }} operations on table {{ $labels.table }} "
        "(job {{ $labels.job }}) is above {{ THRESHOLD }} s.",
    ),
)  # fmt: skip

_RATIO_THRESHOLDS = {a.key for a in ALERTS if a.unit == "ratio" and a.threshold is not None}


def _settings() -> dict[str, Setting]:
    out = {
        "job": Setting("", "regex", "regex of the job label the rules read (empty: every job)"),
        "window": Setting("5m", "duration", "rate window of the recording rules"),
        "completion_window": Setting("1h", "duration", "window of the task completion ratio"),
        "token_window": Setting("1h", "duration", "window of the tokens-per-hour rate"),
        "idle_window": Setting(
            "10m", "duration", "AgentNotAnswering: no task finished for this long; LLMNoRecentSuccess: calls in it"
        ),
    }
    for a in ALERTS:
        if a.threshold is not None:
            kind = "ratio" if a.key in _RATIO_THRESHOLDS else "number"
            out[a.key] = Setting(number(a.threshold), kind, f"{a.name}: threshold ({a.unit})")
        out[a.key + "_for"] = Setting(a.for_, "duration", f"{a.name}: how long the condition holds before firing")
        out[a.key + "_severity"] = Setting(a.severity, "severity", f"{a.name}: the severity label")
    return out


SETTINGS: dict[str, Setting] = _settings()
"""Every setting :func:`build_rules` takes, by name, with its default."""

_WORD = re.compile(r"[a-z][a-z0-9_-]*\Z")


def _check(name: str, value: object) -> str:
    setting = SETTINGS.get(name)
    if setting is None:
        near = difflib.get_close_matches(name, SETTINGS, 3)
        hint = f"did you mean {' or '.join(near)}? " if near else ""
        raise ValueError(f"unknown rules setting {name!r} ({hint}fastprom rules --list-settings lists them)")
    if not isinstance(value, str):
        raise TypeError(f"rules setting {name} must be given as a string, got {type(value).__name__}")
    if setting.kind == "duration":
        return check_duration(name, value)
    if setting.kind in ("ratio", "number"):
        try:
            parsed = float(value)
        except ValueError:
            raise ValueError(f"rules setting {name} must be a number, got {value!r}") from None
        if not math.isfinite(parsed) or parsed < 0 or (setting.kind == "ratio" and parsed > 1):
            wanted = "a ratio between 0 and 1" if setting.kind == "ratio" else "a number >= 0"
            raise ValueError(f"rules setting {name} must be {wanted}, got {value!r}")
        return value
    if setting.kind == "severity":
        if not _WORD.match(value):
            raise ValueError(f"rules setting {name} must be a lower-case word such as warning, got {value!r}")
        return value
    try:  # regex (Prometheus's RE2 has no lookaround)
        re.compile(value)
        if re.search(r"\(\?<?[=!]", value):
            raise re.error("lookaround is not supported by Prometheus")
    except re.error as e:
        raise ValueError(f"rules setting {name} must be a regular expression, got {value!r}: {e}") from None
    return value


def resolve_settings(overrides: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The defaults with ``overrides`` applied, each checked (``ValueError`` naming a bad one)."""
    values = {name: s.default for name, s in SETTINGS.items()}
    for name, value in (overrides or {}).items():
        values[name] = _check(name, value)
    return values


class _Builder:
    """Rule expressions over one catalogue and one set of settings."""

    def __init__(self, catalog: Catalog, settings: dict[str, str]) -> None:
        self.c = catalog
        self.s = settings
        job = settings["job"]
        self.job = f"job=~{quote(job)}" if job else ""

    def name(self, family: str, suffix: Optional[str] = None) -> str:
        """A sample's full name, or (no suffix) the family's, as in recording rule names."""
        return self.c[family].name if suffix is None else self.c.sample(family, suffix)

    def sel(self, family: str, suffix: Optional[str] = "", *matchers: str) -> str:
        return selector(self.name(family, suffix), [*matchers, self.job])

    def rate(self, family: str, labels: list[str], *matchers: str, window: str = "") -> str:
        for label in [*labels, *(re.split(r"[=!]", m, maxsplit=1)[0] for m in matchers)]:
            self._has(family, label)
        return rate(self.name(family, "_total"), window or self.s["window"], [*matchers, self.job], ["job", *labels])

    def ratio(self, family: str, labels: list[str], matcher: str, window: str = "") -> str:
        part = self.rate(family, labels, matcher, window=window)
        whole = self.rate(family, labels, window=window)
        return f"{part} / {whole}"

    def p95(self, family: str, labels: list[str]) -> str:
        for label in labels:
            self._has(family, label)
        bucket = self.name(family, "_bucket")
        return histogram_quantile(0.95, bucket, self.s["window"], [self.job], ["job", *labels])

    def _has(self, family: str, label: str) -> None:
        if label not in self.c.labels(family):
            raise KeyError(f"{self.c[family].name} has no label {label!r}")


def _w(settings: dict[str, str], key: str = "window") -> str:
    return "rate" + settings[key]


def _recording(b: _Builder) -> dict[str, list[tuple[str, str]]]:
    """The recording rules of each group: (name, expression)."""
    s, w = b.s, _w(b.s)
    http, dur = b.name("http_requests"), b.name("http_request_duration_seconds")
    tokens, cost = b.name("gen_ai_client_tokens"), b.name("gen_ai_client_cost_usd")
    requests, ttfc = b.name("gen_ai_client_requests"), b.name("gen_ai_client_operation_time_to_first_chunk_seconds")
    tasks, agent = b.name("gen_ai_agent_tasks"), b.name("gen_ai_invoke_agent_duration_seconds")
    tools, acache = b.name("gen_ai_agent_tool_calls"), b.name("gen_ai_agent_cache_requests")
    cache, ttfb = b.name("cache_operations"), b.name("stream_ttfb_seconds")
    chunks, db = b.name("stream_chunks_sent"), b.name("db_operation_duration_seconds")
    in_use = b.name("connection_pool_in_use")
    model, agent_label = ["gen_ai_request_model"], ["gen_ai_agent_name"]
    pool_sum = "sum by (job, pool) ({})"
    return {
        "http": [
            (f"job:{http}:error_ratio_{w}", b.ratio("http_requests", [], 'status=~"5.."')),
            (f"job_route:{dur}:p95_{w}", b.p95("http_request_duration_seconds", ["route"])),
        ],
        "llm": [
            (
                f"job_gen_ai_token_type:{tokens}:per_minute_{w}",
                f"{b.rate('gen_ai_client_tokens', ['gen_ai_token_type'])} * 60",
            ),
            (
                f"job:{tokens}:per_hour_{_w(s, 'token_window')}",
                f"{b.rate('gen_ai_client_tokens', [], window=s['token_window'])} * 3600",
            ),
            (f"job_gen_ai_request_model:{cost}:usd_per_hour_{w}", f"{b.rate('gen_ai_client_cost_usd', model)} * 3600"),
            (
                f"job_gen_ai_request_model:{requests}:error_ratio_{w}",
                b.ratio("gen_ai_client_requests", model, 'outcome="error"'),
            ),
            (
                f"job_gen_ai_request_model:{requests}:rate_limited_ratio_{w}",
                b.ratio("gen_ai_client_requests", model, 'error_type="429"'),
            ),
            (f"job:{requests}:success_ratio_{w}", b.ratio("gen_ai_client_requests", [], 'outcome="success"')),
            (
                f"job_gen_ai_request_model:{ttfc}:p95_{w}",
                b.p95("gen_ai_client_operation_time_to_first_chunk_seconds", model),
            ),
        ],
        "agents": [
            (
                f"job_gen_ai_agent_name:{tasks}:success_ratio_{_w(s, 'completion_window')}",
                b.ratio("gen_ai_agent_tasks", agent_label, 'outcome="success"', window=s["completion_window"]),
            ),
            (
                f"job_gen_ai_agent_name:{tasks}:error_ratio_{w}",
                b.ratio("gen_ai_agent_tasks", agent_label, 'outcome="error"'),
            ),
            (f"job_gen_ai_agent_name:{agent}:p95_{w}", b.p95("gen_ai_invoke_agent_duration_seconds", agent_label)),
            (
                f"job_gen_ai_agent_name_gen_ai_tool_name:{tools}:error_ratio_{w}",
                b.ratio("gen_ai_agent_tool_calls", [*agent_label, "gen_ai_tool_name"], 'outcome="error"'),
            ),
            (
                f"job_gen_ai_agent_name_cache:{acache}:hit_ratio_{w}",
                b.ratio("gen_ai_agent_cache_requests", [*agent_label, "cache"], 'result="hit"'),
            ),
        ],
        "infra": [
            (f"job_cache:{cache}:hit_ratio_{w}", b.ratio("cache_operations", ["cache"], 'result="hit"')),
            (f"job:{ttfb}:p95_{w}", b.p95("stream_ttfb_seconds", [])),
            (
                f"job:{chunks}:per_session_{w}",
                f"{b.rate('stream_chunks_sent', [])} / {b.rate('chat_sessions', [])}",
            ),
            (f"job_operation_table:{db}:p95_{w}", b.p95("db_operation_duration_seconds", ["operation", "table"])),
            (
                f"job_pool:{in_use}:ratio",
                f"{pool_sum.format(b.sel('connection_pool_in_use'))} / "
                f"{pool_sum.format(b.sel('connection_pool_size'))}",
            ),
        ],
    }


def _alert_exprs(b: _Builder, rec: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Each alert's expression; ``{T}`` stands for its threshold."""
    r = {name.split(":")[1] + ":" + name.split(":")[2]: name for group in rec.values() for name, _ in group}

    def rule(family: str, operation: str) -> str:
        return r[f"{b.name(family)}:{operation}"]

    s, w = b.s, _w(b.s)
    active = f"sum by (job, gen_ai_agent_name) ({b.sel('gen_ai_agent_tasks_active')})"
    # a model called in the idle window whose last success is old: stale, not merely unused
    by_model = "by (job, gen_ai_request_model)"
    last_success = f"max {by_model} ({b.sel('gen_ai_client_last_success_timestamp_seconds')})"
    called = f"sum {by_model} (increase({b.sel('gen_ai_client_requests', '_total')}[{s['idle_window']}]))"
    ended = f"sum by (job, gen_ai_agent_name) (increase({b.sel('gen_ai_agent_tasks', '_total')}[{s['idle_window']}]))"
    return {
        "HTTPHighErrorRate": f"{rule('http_requests', f'error_ratio_{w}')} > {{T}}",
        "HTTPHighLatency": f"{rule('http_request_duration_seconds', f'p95_{w}')} > {{T}}",
        "HTTPTooManyRequestsInProgress": f"sum by (job) ({b.sel('http_requests_in_progress')}) > {{T}}",
        "TargetDown": f"{selector('up', [b.job])} == 0",
        "HighTokenConsumption": f"{rule('gen_ai_client_tokens', 'per_hour_' + _w(s, 'token_window'))} > {{T}}",
        "LLMSpendOverBudget": f"sum by (job) ({rule('gen_ai_client_cost_usd', f'usd_per_hour_{w}')}) > {{T}}",
        "LLMRateLimited": f"{rule('gen_ai_client_requests', f'rate_limited_ratio_{w}')} > {{T}}",
        "LLMHighErrorRate": f"{rule('gen_ai_client_requests', f'error_ratio_{w}')} > {{T}}",
        "LLMSlowFirstChunk": f"{rule('gen_ai_client_operation_time_to_first_chunk_seconds', f'p95_{w}')} > {{T}}",
        "LLMNoRecentSuccess": f"(time() - {last_success} > {{T}}) and on (job, gen_ai_request_model) ({called} > 0)",
        "StreamLowSuccessRate": f"{rule('gen_ai_client_requests', f'success_ratio_{w}')} < {{T}}",
        "AgentHighLatency": f"{rule('gen_ai_invoke_agent_duration_seconds', f'p95_{w}')} > {{T}}",
        "AgentHighFailureRate": f"{rule('gen_ai_agent_tasks', f'error_ratio_{w}')} > {{T}}",
        "AgentToolHighErrorRate": f"{rule('gen_ai_agent_tool_calls', f'error_ratio_{w}')} > {{T}}",
        "AgentNotAnswering": f"{active} > 0 unless {ended} > 0",
        "LowTaskCompletionRate": (
            f"{rule('gen_ai_agent_tasks', 'success_ratio_' + _w(s, 'completion_window'))} < {{T}}"
        ),
        "HighActiveTasks": f"sum by (job) ({b.sel('gen_ai_agent_tasks_active')}) > {{T}}",
        "AgentCircuitBreakerOpen": (
            f"max by (job, gen_ai_agent_name, breaker) ({b.sel('gen_ai_agent_circuit_breaker_state')}) == 2"
        ),
        "AgentCacheHighMissRate": f"1 - {rule('gen_ai_agent_cache_requests', f'hit_ratio_{w}')} > {{T}}",
        "StreamSlowFirstByte": f"{rule('stream_ttfb_seconds', f'p95_{w}')} > {{T}}",
        "StreamTooManyChunksPerSession": f"{rule('stream_chunks_sent', f'per_session_{w}')} > {{T}}",
        "CircuitBreakerOpen": f"max by (job, service) ({b.sel('circuit_breaker_state')}) == 2",
        "CacheHighMissRate": f"1 - {rule('cache_operations', f'hit_ratio_{w}')} > {{T}}",
        "ConnectionPoolSaturated": f"{rule('connection_pool_in_use', 'ratio')} > {{T}}",
        "SlowDatabaseOperations": f"{rule('db_operation_duration_seconds', f'p95_{w}')} > {{T}}",
    }


def _threshold_text(alert: Alert, value: str) -> str:
    if alert.unit == "ratio":
        return f"{float(value) * 100:g}%"
    return value


def _text(template: str, alert: Alert, settings: dict[str, str]) -> str:
    threshold = settings.get(alert.key, "")
    return (
        template.replace("{{ VALUE }}", _VALUE_FORMATS[alert.unit])
        .replace("{{ THRESHOLD }}", _threshold_text(alert, threshold) if threshold else "")
        .replace("{{ WINDOW }}", settings["window"])
        .replace("{{ TOKEN_WINDOW }}", settings["token_window"])
        .replace("{{ COMPLETION_WINDOW }}", settings["completion_window"])
        .replace("{{ IDLE_WINDOW }}", settings["idle_window"])
    )


_GROUPS = {"http": "HTTP", "llm": "LLM", "agents": "agents", "infra": "infra"}


def build_rules(namespace: str = "", overrides: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The rules document (``{"groups": [...]}``) for the families under ``namespace``."""
    settings = resolve_settings(overrides)
    b = _Builder(Catalog(namespace), settings)
    recording = _recording(b)
    exprs = _alert_exprs(b, recording)
    prefix = f"fastprom-{namespace}" if namespace else "fastprom"
    groups: list[dict[str, Any]] = []
    for group in _GROUPS:
        rules: list[dict[str, Any]] = [{"record": name, "expr": expr} for name, expr in recording[group]]
        for a in ALERTS:
            if a.group != group:
                continue
            expr = exprs[a.name].replace("{T}", number(float(settings[a.key])) if a.threshold is not None else "")
            rules.append(
                {
                    "alert": a.name,
                    "expr": expr,
                    "for": settings[a.key + "_for"],
                    "labels": {"severity": settings[a.key + "_severity"]},
                    "annotations": {
                        "summary": _text(a.summary, a, settings),
                        "description": _text(a.description, a, settings),
                    },
                }
            )
        groups.append({"name": f"{prefix}-{group}", "rules": rules})
    return {"groups": groups}


def rules_yaml(namespace: str = "", overrides: Optional[Mapping[str, str]] = None) -> str:
    """:func:`build_rules` as the YAML text of a Prometheus rules file."""
    document = build_rules(namespace, overrides)
    changed = ", ".join(f"{k}={v}" for k, v in sorted((overrides or {}).items())).replace("\n", "\\n")
    head = "# Prometheus rules for fastprom's metrics, written by `fastprom rules"
    head += f" --namespace {namespace}" if namespace else ""
    head += "`" + (f" with {changed}" if changed else "") + ".\n"
    return head + to_yaml(document)
