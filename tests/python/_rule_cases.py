"""For every alert of fastprom.ops.rules: input series that fire it and series that do not.

:func:`promtool_tests` turns them into a ``promtool test rules`` file. Series are named through the
catalogue (a namespace changes every name), counters step once a minute, histograms put all their
observations in one bucket so that the 95th percentile is exact (``lo + (hi - lo) * 0.95``), and
the expected annotations are the rule's templates rendered here with the value each case produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from fastprom.ops.catalog import Catalog

EVAL = "90m"  # after the longest window (1h) and the longest `for` (15m)
STEPS = 120  # samples, one a minute
LLM = {"gen_ai_operation_name": "generate_content", "gen_ai_provider_name": "gcp.gemini"}
FLASH, PRO = {**LLM, "gen_ai_request_model": "gemini-2.5-flash"}, {**LLM, "gen_ai_request_model": "gemini-2.5-pro"}
A, B = {"job": "api", "instance": "a:8000"}, {"job": "api", "instance": "b:8000"}


@dataclass
class Series:
    family: str  # a catalogue name, or "up"
    suffix: Optional[str]
    labels: dict[str, str]
    values: str


@dataclass
class Case:
    """One alert: ``fire`` makes it fire with ``labels`` (and severity) and ``value``; ``calm`` does not."""

    fire: list[Series]
    calm: list[Series]
    labels: dict[str, str]
    value: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def counter(family: str, labels: dict[str, str], per_minute: float) -> Series:
    return Series(family, "_total", labels, f"0+{per_minute:g}x{STEPS}")


def gauge(family: str, labels: dict[str, str], value: float) -> Series:
    return Series(family, "", labels, f"{value:g}x{STEPS}")


def histogram(family: str, labels: dict[str, str], lo: float, hi: float) -> list[Series]:
    """Every observation (one a second) between ``lo`` and ``hi``: p95 = lo + (hi - lo) * 0.95."""
    return [
        Series(family, "_bucket", {**labels, "le": f"{lo:g}"}, f"0x{STEPS}"),
        Series(family, "_bucket", {**labels, "le": f"{hi:g}"}, f"0+60x{STEPS}"),
        Series(family, "_bucket", {**labels, "le": "+Inf"}, f"0+60x{STEPS}"),
    ]


def slow(family: str, labels: dict[str, str], threshold: float) -> list[Series]:
    return histogram(family, labels, threshold, 3 * threshold)  # p95 = 2.9 x threshold


def fast(family: str, labels: dict[str, str], threshold: float) -> list[Series]:
    return histogram(family, labels, threshold / 10, threshold / 2)  # p95 = 0.48 x threshold


def _http(status: str, instance: dict[str, str]) -> dict[str, str]:
    return {**instance, "method": "GET", "route": "/v1/generate", "status": status}


def _calls(model: dict[str, str], outcome: str, error: str = "") -> dict[str, str]:
    return {**A, **model, "outcome": outcome, **({"error_type": error} if error else {})}


def _tasks(outcome: str, agent: str = "weather") -> dict[str, str]:
    error = {"error_type": "ValueError"} if outcome == "error" else {}
    return {**A, "gen_ai_agent_name": agent, "outcome": outcome, **error}


def _tool(outcome: str) -> dict[str, str]:
    error = {"error_type": "timeout"} if outcome == "error" else {}
    return {**A, "gen_ai_agent_name": "weather", "gen_ai_tool_name": "get_weather", "outcome": outcome, **error}


ROUTE = {"method": "GET", "route": "/v1/generate"}
WEATHER = {"gen_ai_agent_name": "weather"}
HTTP_REQ, HTTP_DUR = "http_requests", "http_request_duration_seconds"
TOKENS, COST, CALLS = "gen_ai_client_tokens", "gen_ai_client_cost_usd", "gen_ai_client_requests"
TASKS, ACTIVE, TOOLS = "gen_ai_agent_tasks", "gen_ai_agent_tasks_active", "gen_ai_agent_tool_calls"


def cases() -> dict[str, Case]:
    """Every alert's case, by alert name (thresholds: the defaults)."""
    return {
        "HTTPHighErrorRate": Case(  # 5xx (and grouped "5xx") over two instances: 60 of 240 a minute
            fire=[
                counter(HTTP_REQ, _http("500", A), 30),
                counter(HTTP_REQ, _http("5xx", B), 30),
                counter(HTTP_REQ, _http("200", A), 60),
                counter(HTTP_REQ, _http("200", B), 120),
            ],
            calm=[counter(HTTP_REQ, _http("500", A), 6), counter(HTTP_REQ, _http("200", B), 234)],
            labels={"job": "api"},
            value=0.25,
        ),
        "HTTPHighLatency": Case(
            fire=slow(HTTP_DUR, {**A, **ROUTE}, 10),
            calm=fast(HTTP_DUR, {**A, **ROUTE}, 10),
            labels={"job": "api", "route": "/v1/generate"},
            value=29,
        ),
        "HTTPTooManyRequestsInProgress": Case(
            fire=[
                gauge("http_requests_in_progress", {**A, "method": "GET"}, 80),
                gauge("http_requests_in_progress", {**B, "method": "GET"}, 40),
            ],
            calm=[
                gauge("http_requests_in_progress", {**A, "method": "GET"}, 40),
                gauge("http_requests_in_progress", {**B, "method": "GET"}, 40),
            ],
            labels={"job": "api"},
            value=120,
        ),
        "TargetDown": Case(
            fire=[Series("up", None, A, f"0x{STEPS}"), Series("up", None, B, f"1x{STEPS}")],
            calm=[Series("up", None, A, f"1x{STEPS}")],
            labels=dict(A),
        ),
        "HighTokenConsumption": Case(  # 2 500 a minute = 150 000 an hour (41.7 a second)
            fire=[
                counter(TOKENS, {**A, **FLASH, "gen_ai_token_type": "input"}, 1500),
                counter(TOKENS, {**B, **FLASH, "gen_ai_token_type": "output"}, 1000),
            ],
            calm=[counter(TOKENS, {**A, **FLASH, "gen_ai_token_type": "input"}, 1000)],
            labels={"job": "api"},
            value=150000,
        ),
        "LLMSpendOverBudget": Case(  # 0.1 USD a minute on each of two models: 12 USD an hour
            fire=[counter(COST, {**A, **FLASH}, 0.1), counter(COST, {**A, **PRO}, 0.1)],
            calm=[counter(COST, {**A, **FLASH}, 0.05), counter(COST, {**A, **PRO}, 0.05)],
            labels={"job": "api"},
            value=12,
        ),
        "LLMRateLimited": Case(
            fire=[counter(CALLS, _calls(FLASH, "error", "429"), 6), counter(CALLS, _calls(FLASH, "success"), 54)],
            calm=[counter(CALLS, _calls(FLASH, "error", "429"), 1), counter(CALLS, _calls(FLASH, "success"), 59)],
            labels={"job": "api", "gen_ai_request_model": "gemini-2.5-flash"},
            value=0.1,
        ),
        "LLMHighErrorRate": Case(
            fire=[counter(CALLS, _calls(PRO, "error", "500"), 6), counter(CALLS, _calls(PRO, "success"), 54)],
            calm=[counter(CALLS, _calls(PRO, "error", "500"), 1), counter(CALLS, _calls(PRO, "success"), 59)],
            labels={"job": "api", "gen_ai_request_model": "gemini-2.5-pro"},
            value=0.1,
        ),
        "LLMSlowFirstChunk": Case(
            fire=slow("gen_ai_client_operation_time_to_first_chunk_seconds", {**A, **FLASH}, 5),
            calm=fast("gen_ai_client_operation_time_to_first_chunk_seconds", {**A, **FLASH}, 5),
            labels={"job": "api", "gen_ai_request_model": "gemini-2.5-flash"},
            value=14.5,
        ),
        "LLMNoRecentSuccess": Case(  # called every minute; the last success 30 min before the evaluation
            fire=[
                gauge("gen_ai_client_last_success_timestamp_seconds", {**A, **FLASH}, 3600),
                counter(CALLS, _calls(FLASH, "error", "503"), 6),
            ],
            calm=[  # a success every minute
                Series("gen_ai_client_last_success_timestamp_seconds", "", {**A, **FLASH}, f"0+60x{STEPS}"),
                counter(CALLS, _calls(FLASH, "success"), 6),
            ],
            labels={"job": "api", "gen_ai_request_model": "gemini-2.5-flash"},
            value=1800,
        ),
        "StreamLowSuccessRate": Case(  # streams closed early are not successes
            fire=[counter(CALLS, _calls(FLASH, "success"), 54), counter(CALLS, _calls(FLASH, "closed"), 6)],
            calm=[counter(CALLS, _calls(FLASH, "success"), 59), counter(CALLS, _calls(FLASH, "error", "500"), 1)],
            labels={"job": "api"},
            value=0.9,
        ),
        "AgentHighLatency": Case(
            fire=slow("gen_ai_invoke_agent_duration_seconds", {**A, **WEATHER}, 5),
            calm=fast("gen_ai_invoke_agent_duration_seconds", {**A, **WEATHER}, 5),
            labels={"job": "api", "gen_ai_agent_name": "weather"},
            value=14.5,
        ),
        "AgentHighFailureRate": Case(
            fire=[counter(TASKS, _tasks("error"), 12), counter(TASKS, _tasks("success"), 48)],
            calm=[counter(TASKS, _tasks("error"), 3), counter(TASKS, _tasks("success"), 57)],
            labels={"job": "api", "gen_ai_agent_name": "weather"},
            value=0.2,
        ),
        "AgentToolHighErrorRate": Case(
            fire=[counter(TOOLS, _tool("error"), 12), counter(TOOLS, _tool("success"), 48)],
            calm=[counter(TOOLS, _tool("error"), 3), counter(TOOLS, _tool("success"), 57)],
            labels={"job": "api", "gen_ai_agent_name": "weather", "gen_ai_tool_name": "get_weather"},
            value=0.2,
        ),
        "AgentNotAnswering": Case(  # tasks in progress, none ended (the counter is flat)
            fire=[gauge(ACTIVE, {**A, **WEATHER}, 2), Series(TASKS, "_total", _tasks("success"), f"5x{STEPS}")],
            calm=[gauge(ACTIVE, {**A, **WEATHER}, 2), counter(TASKS, _tasks("success"), 1)],
            labels={"job": "api", "gen_ai_agent_name": "weather"},
            value=2,
        ),
        "LowTaskCompletionRate": Case(
            fire=[counter(TASKS, _tasks("success"), 42), counter(TASKS, _tasks("error"), 18)],
            calm=[counter(TASKS, _tasks("success"), 57), counter(TASKS, _tasks("error"), 3)],
            labels={"job": "api", "gen_ai_agent_name": "weather"},
            value=0.7,
        ),
        "HighActiveTasks": Case(
            fire=[gauge(ACTIVE, {**A, **WEATHER}, 30), gauge(ACTIVE, {**B, "gen_ai_agent_name": "planner"}, 30)],
            calm=[gauge(ACTIVE, {**A, **WEATHER}, 20), gauge(ACTIVE, {**B, "gen_ai_agent_name": "planner"}, 20)],
            labels={"job": "api"},
            value=60,
        ),
        "AgentCircuitBreakerOpen": Case(  # open on one instance of two
            fire=[
                gauge("gen_ai_agent_circuit_breaker_state", {**A, **WEATHER, "breaker": "gemini"}, 2),
                gauge("gen_ai_agent_circuit_breaker_state", {**B, **WEATHER, "breaker": "gemini"}, 0),
            ],
            calm=[
                gauge("gen_ai_agent_circuit_breaker_state", {**A, **WEATHER, "breaker": "gemini"}, 1),
                gauge("gen_ai_agent_circuit_breaker_state", {**B, **WEATHER, "breaker": "gemini"}, 0),
            ],
            labels={"job": "api", "gen_ai_agent_name": "weather", "breaker": "gemini"},
            value=2,
        ),
        "AgentCacheHighMissRate": Case(
            fire=[
                counter("gen_ai_agent_cache_requests", {**A, **WEATHER, "cache": "answers", "result": "hit"}, 30),
                counter("gen_ai_agent_cache_requests", {**A, **WEATHER, "cache": "answers", "result": "miss"}, 30),
            ],
            calm=[
                counter("gen_ai_agent_cache_requests", {**A, **WEATHER, "cache": "answers", "result": "hit"}, 54),
                counter("gen_ai_agent_cache_requests", {**A, **WEATHER, "cache": "answers", "result": "miss"}, 6),
            ],
            labels={"job": "api", "gen_ai_agent_name": "weather", "cache": "answers"},
            value=0.5,
        ),
        "StreamSlowFirstByte": Case(
            fire=slow("stream_ttfb_seconds", A, 1),
            calm=fast("stream_ttfb_seconds", A, 1),
            labels={"job": "api"},
            value=2.9,
        ),
        "StreamTooManyChunksPerSession": Case(
            fire=[counter("stream_chunks_sent", A, 3000), counter("chat_sessions", A, 2)],
            calm=[counter("stream_chunks_sent", A, 600), counter("chat_sessions", A, 2)],
            labels={"job": "api"},
            value=1500,
        ),
        "CircuitBreakerOpen": Case(
            fire=[gauge("circuit_breaker_state", {**A, "service": "gemini"}, 2)],
            calm=[gauge("circuit_breaker_state", {**A, "service": "gemini"}, 1)],
            labels={"job": "api", "service": "gemini"},
            value=2,
        ),
        "CacheHighMissRate": Case(
            fire=[
                counter("cache_operations", {**A, "cache": "responses", "result": "hit"}, 30),
                counter("cache_operations", {**B, "cache": "responses", "result": "miss"}, 30),
            ],
            calm=[
                counter("cache_operations", {**A, "cache": "responses", "result": "hit"}, 54),
                counter("cache_operations", {**B, "cache": "responses", "result": "miss"}, 6),
            ],
            labels={"job": "api", "cache": "responses"},
            value=0.5,
        ),
        "ConnectionPoolSaturated": Case(  # 19 of 20 connections over two instances
            fire=[
                gauge("connection_pool_in_use", {**A, "pool": "db"}, 9),
                gauge("connection_pool_in_use", {**B, "pool": "db"}, 10),
                gauge("connection_pool_size", {**A, "pool": "db"}, 10),
                gauge("connection_pool_size", {**B, "pool": "db"}, 10),
            ],
            calm=[
                gauge("connection_pool_in_use", {**A, "pool": "db"}, 5),
                gauge("connection_pool_in_use", {**B, "pool": "db"}, 10),
                gauge("connection_pool_size", {**A, "pool": "db"}, 10),
                gauge("connection_pool_size", {**B, "pool": "db"}, 10),
            ],
            labels={"job": "api", "pool": "db"},
            value=0.95,
        ),
        "SlowDatabaseOperations": Case(
            fire=slow("db_operation_duration_seconds", {**A, "operation": "select", "table": "users"}, 0.5),
            calm=fast("db_operation_duration_seconds", {**A, "operation": "select", "table": "users"}, 0.5),
            labels={"job": "api", "operation": "select", "table": "users"},
            value=1.45,
        ),
    }


# ------------------------------------------------------------------------------ promtool files


def series_text(catalog: Catalog, s: Series) -> str:
    name = "up" if s.family == "up" else catalog.sample(s.family, s.suffix or "")
    labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
    return f"{name}{{{labels}}}"


_VALUE = re.compile(r"\{\{ (?:\$value \| humanizePercentage|printf \"(%[.0-9a-z]+)\" \$value) \}\}")
_LABEL = re.compile(r"\{\{ \$labels\.([a-z_]+) \}\}")


def render(template: str, labels: dict[str, str], value: float) -> str:
    """The text Prometheus makes of an annotation template (the forms the rules use)."""

    def one(m: re.Match[str]) -> str:
        return ("%.4g%%" % (value * 100)) if m.group(1) is None else (m.group(1) % value)

    text = _LABEL.sub(lambda m: labels.get(m.group(1), ""), _VALUE.sub(one, template))
    assert "{{" not in text, f"a template form this test does not render: {template}"
    return text


def promtool_tests(
    catalog: Catalog, document: dict[str, Any], rules_file: str, *, swap: bool = False
) -> dict[str, Any]:
    """The ``promtool test rules`` document: one test per alert and case.

    ``swap``: expect the calm series to fire and the firing ones not to (a run that must fail).
    """
    alerts = {r["alert"]: r for g in document["groups"] for r in g["rules"] if "alert" in r}
    tests = []
    for name, case in cases().items():
        rule = alerts[name]
        labels = {**case.labels, **rule["labels"]}
        annotations = {k: render(v, labels, case.value) for k, v in rule["annotations"].items()}
        firing = [{"exp_labels": labels, "exp_annotations": annotations}]
        for series, expected in ((case.fire, firing), (case.calm, [])):
            if swap:
                expected = [] if expected else firing
            tests.append(
                {
                    "interval": "1m",
                    "input_series": [{"series": series_text(catalog, s), "values": s.values} for s in series],
                    "alert_rule_test": [{"eval_time": EVAL, "alertname": name, "exp_alerts": expected}],
                }
            )
    return {"rule_files": [rules_file], "evaluation_interval": "1m", "tests": tests}
