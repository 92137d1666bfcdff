"""Grafana dashboards for the metrics fastprom records, built in code.

::

    from fastprom.ops.dashboards import dashboard
    doc = dashboard("llm", namespace="myapp")     # a dict: json.dumps it, import it into Grafana

or ``fastprom dashboard --kind llm --namespace myapp > llm.json``.

Four dashboards: ``http`` (the ASGI middleware), ``llm`` (:mod:`fastprom.gemini`), ``agents``
(:mod:`fastprom.agents` and :mod:`fastprom.infra`) and ``process`` (the process and GC
collectors); ``all`` is one dashboard with the four as rows. Every metric name comes from
:class:`~fastprom.ops.catalog.Catalog` (a name fastprom does not record is a ``KeyError`` here,
never an empty panel), every panel and query uses the ``datasource`` variable, and every series
selector is restricted by the ``job`` and ``instance`` variables. Rates, ratios and quantiles are
taken over counters and histogram buckets summed across instances first, so they stay right for
any number of processes (a ratio of sums, never a mean of per-instance ratios).

The JSON is plain dicts (no dependency), schema version 39 (Grafana 10.4 and later).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastprom.infra import BREAKER_STATES
from fastprom.ops.catalog import Catalog

from ._promql import by as by_clause
from ._promql import histogram_quantile, rate, selector

__all__ = ["KINDS", "SCHEMA_VERSION", "Panel", "dashboard", "dashboard_json", "panels"]

KINDS = ("http", "llm", "agents", "process")
"""The dashboards, in the order ``all`` shows them."""

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
MATCHERS = 'job=~"$job",instance=~"$instance"'
_TITLES = {"http": "HTTP", "llm": "LLM", "agents": "Agents", "process": "Process"}
_WIDTH, _HEIGHT = 12, 8  # two panels per row of Grafana's 24 columns
_OPENED = 'to_state="open"'
_ERRORS, _SERVER_ERRORS = 'status=~"4..|5.."', 'status=~"5.."'
_BREAKER_COLORS = {"closed": "green", "half-open": "yellow", "open": "red"}


@dataclass
class Panel:
    """One panel: its title, what it shows, its queries as (PromQL, legend) and its unit."""

    title: str
    description: str
    targets: Sequence[tuple[str, str]]
    unit: str = "short"
    type: str = "timeseries"
    max: float | None = None  # 1 for the shares of a whole
    field_config: dict[str, Any] = field(default_factory=dict)  # more of fieldConfig.defaults


class _Q:
    """PromQL of one catalog: every metric name is looked up there, every selector is filtered
    by the dashboard's variables."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def sel(self, name: str, suffix: str = "", matchers: str = "") -> str:
        """``name+suffix{job=~"$job",instance=~"$instance",matchers}``."""
        return selector(self.catalog.sample(name, suffix), (MATCHERS, matchers))

    def rate(self, name: str, suffix: str = "_total", matchers: str = "", by: str = "") -> str:
        """The per-second rate of a counter (or histogram sample), summed (``by`` labels)."""
        return rate(self.catalog.sample(name, suffix), RATE, (MATCHERS, matchers), _labels(by))

    def ratio(self, name: str, matchers: str, by: str = "", suffix: str = "_total") -> str:
        """The share of the samples matching ``matchers`` in all of them (a ratio of sums)."""
        return f"{self.rate(name, suffix, matchers, by)} / {self.rate(name, suffix, '', by)}"

    def quantile(self, q: float, name: str, by: str = "") -> str:
        """The ``q`` quantile of a histogram over all instances (``by`` labels kept)."""
        return histogram_quantile(q, self.catalog.sample(name, "_bucket"), RATE, (MATCHERS,), _labels(by))

    def mean(self, name: str, by: str = "") -> str:
        """The mean of a histogram's or summary's observations: rate of the sum over rate of the count."""
        return f"{self.rate(name, '_sum', '', by)} / {self.rate(name, '_count', '', by)}"

    def gauge(self, name: str, agg: str = "sum", by: str = "", matchers: str = "") -> str:
        return f"{agg}{by_clause(_labels(by))} ({self.sel(name, '', matchers)})"


def _labels(by: str) -> list[str]:
    """``"a,b"`` as ``["a", "b"]`` (the panels name their ``by`` labels in one string)."""
    return [label.strip() for label in by.split(",")] if by else []


def _legend(by: str) -> str:
    return " ".join("{{" + label + "}}" for label in by.split(",")) if by else ""


def _quantiles(q: _Q, name: str, by: str = "") -> list[tuple[str, str]]:
    legend = _legend(by)
    return [(q.quantile(p, name, by), f"p{round(p * 100)} {legend}".strip()) for p in (0.5, 0.95, 0.99)]


# ------------------------------------------------------------------------------------ the panels


def _http(q: _Q) -> list[Panel]:
    req, dur, ttfb = "http_requests", "http_request_duration_seconds", "http_time_to_first_byte_seconds"
    by_status = "status"
    return [
        Panel(
            "Request rate by status",
            "Requests per second, by HTTP status code.",
            [(q.rate(req, by=by_status), "{{status}}")],
            "reqps",
        ),
        Panel(
            "Error ratio by status",
            "Share of requests answered with each 4xx and 5xx status.",
            [
                (
                    f"{q.rate(req, matchers=_ERRORS, by='status')} / ignoring(status) group_left {q.rate(req)}",
                    "{{status}}",
                )
            ],
            "percentunit",
            max=1,
        ),
        Panel(
            "Request duration p50 / p95 / p99",
            "Quantiles of the time from the request to the end of the response, over all routes.",
            _quantiles(q, dur),
            "s",
        ),
        Panel(
            "Time to first byte p50 / p95 / p99",
            "Quantiles of the time from the request to the first byte of the response body "
            "(what a streaming client waits for).",
            _quantiles(q, ttfb),
            "s",
        ),
        Panel(
            "Requests in progress",
            "Requests being handled now, by method.",
            [(q.gauge("http_requests_in_progress", by="method"), "{{method}}")],
        ),
        Panel(
            "Request rate by route",
            "Requests per second by route template and method (unmatched paths are one route).",
            [(q.rate(req, by="route,method"), "{{method}} {{route}}")],
            "reqps",
        ),
        Panel(
            "Request duration p95 by route",
            "95th percentile of the request duration, by route template.",
            [(q.quantile(0.95, dur, "route"), "{{route}}")],
            "s",
        ),
        Panel(
            "Error ratio by route",
            "Share of each route's requests answered with a 5xx status.",
            [(q.ratio(req, _SERVER_ERRORS, "route"), "{{route}}")],
            "percentunit",
            max=1,
        ),
        Panel(
            "Mean response size by route",
            "Mean size of the response bodies, by route.",
            [(q.mean("http_response_size_bytes", "route"), "{{route}}")],
            "bytes",
        ),
        Panel(
            "Mean request size by route",
            "Mean size of the request bodies, by route.",
            [(q.mean("http_request_size_bytes", "route"), "{{route}}")],
            "bytes",
        ),
    ]


def _llm(q: _Q) -> list[Panel]:
    calls, model = "gen_ai_client_requests", "gen_ai_request_model"
    dur, first = "gen_ai_client_operation_duration_seconds", "gen_ai_client_operation_time_to_first_chunk_seconds"
    role_dur = "gen_ai_client_role_operation_duration_seconds"
    m = "{{" + model + "}}"
    return [
        Panel(
            "Model calls by outcome",
            "Model calls per second by model and outcome (success, error, closed: a stream the "
            "caller stopped reading).",
            [(q.rate(calls, by=f"{model},outcome"), "{{" + model + "}} {{outcome}}")],
            "reqps",
        ),
        Panel(
            "Tokens per minute by type",
            "Tokens per minute by type: input and output; cached and tool_use_prompt are parts of input and "
            "reasoning a part of output, so the lines overlap (never stack them).",
            [(f"60 * {q.rate('gen_ai_client_tokens', by='gen_ai_token_type')}", "{{gen_ai_token_type}}")],
            "short",
        ),
        Panel(
            "Estimated cost per hour by model",
            "Estimated spend in USD per hour (the per-second rate of the cost counter times 3600), by model.",
            [(f"3600 * {q.rate('gen_ai_client_cost_usd', by=model)}", "{{" + model + "}}")],
            "currencyUSD",
        ),
        Panel(
            "Model call duration p50 / p95 / p99",
            "Quantiles of the duration of model calls (a stream: until its last chunk), over all models.",
            _quantiles(q, dur),
            "s",
        ),
        Panel(
            "Model call duration p95 by model",
            "95th percentile of the model call duration, by model.",
            [(q.quantile(0.95, dur, model), "{{" + model + "}}")],
            "s",
        ),
        Panel(
            "Time to first chunk p50 / p95 / p99",
            "Quantiles of the time from a streamed call to its first chunk.",
            _quantiles(q, first),
            "s",
        ),
        Panel(
            "Model errors by type",
            "Failed model calls per second by model and error type (the HTTP status, or the exception class).",
            [
                (
                    q.rate(calls, matchers='outcome="error"', by=f"{model},error_type"),
                    "{{" + model + "}} {{error_type}}",
                )
            ],
            "reqps",
        ),
        Panel(
            "Model error ratio by model",
            "Share of each model's calls that failed.",
            [(q.ratio(calls, 'outcome="error"', model), "{{" + model + "}}")],
            "percentunit",
            max=1,
        ),
        Panel(
            "Model calls in flight",
            "Model calls started and not yet finished, by model.",
            [(q.gauge("gen_ai_client_operations_in_flight", by=model), "{{" + model + "}}")],
        ),
        Panel(
            "Time since last success by model",
            "Seconds since each model last answered a call successfully (a model that stopped "
            "answering shows a growing line).",
            [(f"time() - {q.gauge('gen_ai_client_last_success_timestamp_seconds', 'max', model)}", m)],
            "s",
        ),
        Panel(
            "Response data rate by model",
            "Bytes of response text received per second, by model.",
            [(q.rate("gen_ai_client_response_bytes", by=model), "{{" + model + "}}")],
            "Bps",
        ),
        Panel(
            "Model call duration by role",
            "Mean and 95th percentile of the duration of the model calls made in each agent role.",
            [
                (q.mean(role_dur, "gen_ai_agent_role"), "mean {{gen_ai_agent_role}}"),
                (q.quantile(0.95, role_dur, "gen_ai_agent_role"), "p95 {{gen_ai_agent_role}}"),
            ],
            "s",
        ),
        Panel(
            "Tokens per call p95 by type",
            "95th percentile of the tokens of one call, by token type.",
            [(q.quantile(0.95, "gen_ai_client_token_usage", "gen_ai_token_type"), "{{gen_ai_token_type}}")],
        ),
    ]


def _agents(q: _Q) -> list[Panel]:
    agent, tasks, tools = "gen_ai_agent_name", "gen_ai_agent_tasks", "gen_ai_agent_tool_calls"
    a = "{{" + agent + "}}"
    return [
        Panel(
            "Tasks by outcome",
            "Agent tasks finished per second, by agent and outcome.",
            [(q.rate(tasks, by=f"{agent},outcome"), a + " {{outcome}}")],
            "ops",
        ),
        Panel(
            "Task completion ratio",
            "Share of each agent's finished tasks that succeeded (a ratio of counters, so it adds up "
            "across instances, unlike a completion-rate gauge set by the application).",
            [(q.ratio(tasks, 'outcome="success"', agent), a)],
            "percentunit",
            max=1,
        ),
        Panel(
            "Active tasks",
            "Tasks in progress now, by agent.",
            [(q.gauge("gen_ai_agent_tasks_active", by=agent), a)],
        ),
        Panel(
            "Task duration p50 / p95 by agent",
            "Quantiles of the task duration, by agent.",
            [
                (q.quantile(p, "gen_ai_invoke_agent_duration_seconds", agent), f"p{round(p * 100)} {a}")
                for p in (0.5, 0.95)
            ],
            "s",
        ),
        Panel(
            "Steps per task",
            "Mean and 95th percentile of the number of steps of a task, by agent.",
            [
                (q.mean("gen_ai_agent_steps_per_task", agent), f"mean {a}"),
                (q.quantile(0.95, "gen_ai_agent_steps_per_task", agent), f"p95 {a}"),
            ],
        ),
        Panel(
            "Tool calls by outcome",
            "Tool calls per second, by tool and outcome.",
            [(q.rate(tools, by="gen_ai_tool_name,outcome"), "{{gen_ai_tool_name}} {{outcome}}")],
            "ops",
        ),
        Panel(
            "Tool errors by type",
            "Failed tool calls per second, by tool and error type (the exception class).",
            [
                (
                    q.rate(tools, matchers='outcome="error"', by="gen_ai_tool_name,error_type"),
                    "{{gen_ai_tool_name}} {{error_type}}",
                )
            ],
            "ops",
        ),
        Panel(
            "Tool error ratio",
            "Share of each tool's calls that failed.",
            [(q.ratio(tools, 'outcome="error"', "gen_ai_tool_name"), "{{gen_ai_tool_name}}")],
            "percentunit",
            max=1,
        ),
        Panel(
            "Tool call duration p95",
            "95th percentile of the tool call duration, by tool.",
            [(q.quantile(0.95, "gen_ai_execute_tool_duration_seconds", "gen_ai_tool_name"), "{{gen_ai_tool_name}}")],
            "s",
        ),
        Panel(
            "Node duration p95",
            "95th percentile of the duration of graph nodes, by graph and node.",
            [
                (
                    q.quantile(0.95, "gen_ai_agent_node_duration_seconds", "gen_ai_agent_graph,gen_ai_agent_node"),
                    "{{gen_ai_agent_graph}} {{gen_ai_agent_node}}",
                )
            ],
            "s",
        ),
        Panel(
            "LLM cost per task p95",
            "95th percentile of the estimated LLM cost of one task, by agent.",
            [(q.quantile(0.95, "gen_ai_agent_task_cost_usd", agent), a)],
            "currencyUSD",
        ),
        Panel(
            "Queues",
            "Items waiting: agent queues by agent and queue, service queues by priority.",
            [
                (q.gauge("gen_ai_agent_queue_depth", by=f"{agent},queue"), a + " {{queue}}"),
                (q.gauge("queue_size", by="priority"), "{{priority}}"),
            ],
        ),
        Panel(
            "Queue wait p95",
            "95th percentile of the time spent waiting in a service queue, by priority.",
            [(q.quantile(0.95, "queue_wait_time_seconds", "priority"), "{{priority}}")],
            "s",
        ),
        Panel(
            "Queue requests and rejections",
            "Requests entering a service queue and requests it rejected, per second, by priority.",
            [
                (q.rate("queue_requests", by="priority"), "queued {{priority}}"),
                (q.rate("queue_requests_rejected", by="priority"), "rejected {{priority}}"),
            ],
            "reqps",
        ),
        Panel(
            "Circuit breakers",
            "State of each circuit breaker: closed, half-open or open.",
            [
                (q.gauge("gen_ai_agent_circuit_breaker_state", "max", f"{agent},breaker"), a + " {{breaker}}"),
                (q.gauge("circuit_breaker_state", "max", "service"), "{{service}}"),
            ],
            type="state-timeline",
            field_config={
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            str(value): {"text": state, "color": _BREAKER_COLORS[state], "index": value}
                            for state, value in BREAKER_STATES.items()
                        },
                    }
                ]
            },
        ),
        Panel(
            "Circuit breaker trips and failures",
            "Breakers opening, and failures counted by the service breakers, per second.",
            [
                (q.rate("gen_ai_agent_circuit_breaker_trips", by=f"{agent},breaker"), "trips " + a + " {{breaker}}"),
                (
                    q.rate("circuit_breaker_state_changes", matchers='to_state="open"', by="service"),
                    "opened {{service}}",
                ),
                (q.rate("circuit_breaker_failures", by="service"), "failures {{service}}"),
            ],
            "ops",
        ),
        Panel(
            "Cache hit ratio",
            "Share of cache lookups that hit: agent caches by agent and cache, service caches by cache.",
            [
                (q.ratio("gen_ai_agent_cache_requests", 'result="hit"', f"{agent},cache"), a + " {{cache}}"),
                (q.ratio("cache_operations", 'result="hit"', "cache"), "{{cache}}"),
            ],
            "percentunit",
            max=1,
        ),
        Panel(
            "Stream time to first chunk p50 / p95",
            "Quantiles of the time to the first chunk of the streams sent to clients.",
            [(q.quantile(p, "stream_ttfb_seconds"), f"p{round(p * 100)}") for p in (0.5, 0.95)],
            "s",
        ),
        Panel(
            "Chat sessions and stream chunks",
            "Chat sessions started and stream chunks sent, per second.",
            [(q.rate("chat_sessions"), "sessions"), (q.rate("stream_chunks_sent"), "chunks")],
            "ops",
        ),
        Panel(
            "Database operation p95",
            "95th percentile of the database operation duration, by operation and table.",
            [(q.quantile(0.95, "db_operation_duration_seconds", "operation,table"), "{{operation}} {{table}}")],
            "s",
        ),
        Panel(
            "Connection pool use",
            "Share of each pool's connections in use.",
            [
                (
                    f"{q.gauge('connection_pool_in_use', by='pool')} / {q.gauge('connection_pool_size', by='pool')}",
                    "{{pool}}",
                )
            ],
            "percentunit",
            max=1,
        ),
    ]


def _process(q: _Q) -> list[Panel]:
    return [
        Panel(
            "CPU",
            "CPU time used per second (1 = one core), by instance.",
            [(q.rate("process_cpu_seconds", by="instance"), "{{instance}}")],
            "percentunit",
        ),
        Panel(
            "Memory",
            "Resident and virtual memory, by instance.",
            [
                (q.gauge("process_resident_memory_bytes", by="instance"), "resident {{instance}}"),
                (q.gauge("process_virtual_memory_bytes", by="instance"), "virtual {{instance}}"),
            ],
            "bytes",
        ),
        Panel(
            "Open file descriptors",
            "Share of the file descriptor limit in use, by instance.",
            [
                (
                    f"{q.gauge('process_open_fds', by='instance')} / {q.gauge('process_max_fds', by='instance')}",
                    "{{instance}}",
                )
            ],
            "percentunit",
            max=1,
        ),
        Panel(
            "Uptime",
            "Time since each process started.",
            [(f"time() - {q.gauge('process_start_time_seconds', 'max', 'instance')}", "{{instance}}")],
            "s",
        ),
        Panel(
            "GC collections",
            "Garbage collections per second, by generation.",
            [(q.rate("python_gc_collections", by="generation"), "gen {{generation}}")],
            "ops",
        ),
        Panel(
            "GC objects collected",
            "Objects collected per second and uncollectable objects found per second, by generation.",
            [
                (q.rate("python_gc_objects_collected", by="generation"), "collected gen {{generation}}"),
                (q.rate("python_gc_objects_uncollectable", by="generation"), "uncollectable gen {{generation}}"),
            ],
            "ops",
        ),
    ]


_SECTIONS = {"http": _http, "llm": _llm, "agents": _agents, "process": _process}
# The sample whose series list the jobs and instances of a dashboard's variables; ``all`` lists
# those having any of them (a multiprocess server exports no process metrics).
_ANCHORS = {
    "http": ("http_requests", "_total"),
    "llm": ("gen_ai_client_requests", "_total"),
    "agents": ("gen_ai_agent_tasks", "_total"),
    "process": ("process_start_time_seconds", ""),
}


def panels(kind: str, namespace: str = "") -> list[Panel]:
    """The panels of one dashboard (``http``, ``llm``, ``agents`` or ``process``)."""
    if kind not in _SECTIONS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return _SECTIONS[kind](_Q(Catalog(namespace)))


# ------------------------------------------------------------------------------------ the JSON


def _panel_json(panel: Panel, id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    defaults.update(panel.field_config)
    if panel.max is not None:
        defaults.update(min=0, max=panel.max)
    doc: dict[str, Any] = {
        "id": id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": _HEIGHT, "w": _WIDTH, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": dict(DATASOURCE),
                "editorMode": "code",
                "expr": expr,
                "legendFormat": legend or "__auto",
                "range": True,
            }
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }
    if panel.type == "timeseries":
        doc["options"]["tooltip"] = {"mode": "multi", "sort": "desc"}
    return doc


def _variables(catalog: Catalog, kind: str) -> list[dict[str, Any]]:
    if kind == "all":
        names = "|".join(catalog.sample(*_ANCHORS[k]) for k in KINDS)
        jobs, instances = f'{{__name__=~"{names}"}}', f'{{__name__=~"{names}",job=~"$job"}}'
    else:
        anchor = catalog.sample(*_ANCHORS[kind])
        jobs, instances = anchor, f'{anchor}{{job=~"$job"}}'

    def query(name: str, label: str, definition: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": dict(DATASOURCE),
            "definition": definition,
            "query": {"qryType": 1, "query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2,  # on time range change
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "current": {},
            "options": [],
            "regex": "",
            "sort": 1,
            "hide": 0,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "options": [],
            "regex": "",
            "refresh": 1,
            "hide": 0,
            "includeAll": False,
            "multi": False,
        },
        query("job", "Job", f"label_values({jobs}, job)"),
        query("instance", "Instance", f"label_values({instances}, instance)"),
    ]


def dashboard(kind: str = "all", *, namespace: str = "") -> dict[str, Any]:
    """The Grafana dashboard ``kind`` (``http``, ``llm``, ``agents``, ``process`` or ``all``) for
    the metrics fastprom records under ``namespace``, as a JSON-ready dict.

    ``ValueError`` for an unknown kind or a namespace that is not a metric name prefix.
    """
    if kind != "all" and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join((*KINDS, 'all'))}, got {kind!r}")
    catalog = Catalog(namespace)  # checks the namespace
    q = _Q(catalog)
    kinds = KINDS if kind == "all" else (kind,)
    out: list[dict[str, Any]] = []
    y = 0
    for k in kinds:
        if kind == "all":
            out.append(
                {
                    "id": len(out) + 1,
                    "type": "row",
                    "title": _TITLES[k],
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
        for i, panel in enumerate(_SECTIONS[k](q)):
            out.append(_panel_json(panel, len(out) + 1, (i % 2) * _WIDTH, y + (i // 2) * _HEIGHT))
        y = out[-1]["gridPos"]["y"] + _HEIGHT
    title = "fastprom" + ("" if kind == "all" else f" {_TITLES[kind]}") + (f" ({namespace})" if namespace else "")
    uid = f"fastprom-{kind}"
    if namespace:
        uid += "-" + hashlib.sha256(namespace.encode()).hexdigest()[:12]
    return {
        "uid": uid,
        "title": title,
        "description": "Generated by fastprom (fastprom dashboard): every metric name comes from fastprom's catalogue.",
        "tags": ["fastprom", *(kinds if kind != "all" else ())],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,  # shared crosshair
        "timezone": "browser",
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": _variables(catalog, kind)},
        "annotations": {"list": []},
        "links": [],
        "panels": out,
    }


def dashboard_json(kind: str = "all", *, namespace: str = "") -> str:
    """:func:`dashboard` as JSON text (what ``fastprom dashboard`` prints)."""
    return json.dumps(dashboard(kind, namespace=namespace), indent=2) + "\n"
