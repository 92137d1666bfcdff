"""The Grafana dashboards of fastprom.ops.dashboards: their structure, and that every metric name
in every query is one fastprom records (for any namespace), filtered by the dashboard's variables.

Grafana cannot run here: the JSON's structure is checked against what Grafana's importer needs,
and the queries' syntax by promtool; test_dashboards_live.py runs every query on a real Prometheus.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _promql import matchers, sample_names, selectors
from _servers import ROOT, binary

from fastprom.infra import BREAKER_STATES
from fastprom.ops.catalog import Catalog
from fastprom.ops.dashboards import DATASOURCE, KINDS, SCHEMA_VERSION, dashboard, dashboard_json

ALL_KINDS = (*KINDS, "all")
NAMESPACES = ("", "myapp")
VARIABLE_MATCHERS = [("job", "=~", "$job"), ("instance", "=~", "$instance")]


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that query (not the rows)."""
    return [p for p in doc["panels"] if p["type"] != "row"]


def exprs(doc: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(doc) for t in p["targets"]]


def variable_queries(doc: dict[str, Any]) -> list[str]:
    return [v["query"]["query"] for v in doc["templating"]["list"] if v["type"] == "query"]


def variable_names(query: str) -> set[str]:
    """The metric names of a ``label_values(selector, label)`` query: the selector's name, or the
    alternatives of its ``__name__=~"a|b"`` matcher."""
    assert query.startswith("label_values(") and query.endswith(")"), query
    selector, label = query[len("label_values(") : -1].rsplit(",", 1)
    assert label.strip() in ("job", "instance"), query
    if selector.startswith("{"):
        ((name, op, value), *_) = matchers(selector[1:-1])
        assert (name, op) == ("__name__", "=~"), query
        return set(value.split("|"))
    ((name, _),) = selectors(selector if "{" in selector else selector + "{}")
    return {name}


def check_expr(expr: str, names: set[str]) -> None:
    """Every selector of ``expr`` names a sample in ``names`` and is filtered by $job and $instance."""
    found = selectors(expr)
    assert found, expr
    for name, ms in found:
        assert name in names, f"{name} is not a sample fastprom records ({expr})"
        assert ms[:2] == VARIABLE_MATCHERS, f"{name} is not filtered by $job and $instance: {expr}"


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_structure(kind: str, namespace: str) -> None:
    doc = json.loads(json.dumps(dashboard(kind, namespace=namespace)))  # JSON through and through
    assert doc["schemaVersion"] == SCHEMA_VERSION == 39
    assert 0 < len(doc["uid"]) <= 40 and doc["title"].startswith("fastprom")
    assert doc["title"].endswith(f" ({namespace})") == bool(namespace)
    ids = [p["id"] for p in doc["panels"]]
    assert all(isinstance(i, int) and i > 0 for i in ids) and len(set(ids)) == len(ids)
    # grid positions: inside Grafana's 24 columns, no two panels overlapping
    cells: set[tuple[int, int]] = set()
    for p in doc["panels"]:
        g = p["gridPos"]
        assert set(g) == {"h", "w", "x", "y"} and all(isinstance(v, int) and v >= 0 for v in g.values()), p
        assert g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
    rows = [p for p in doc["panels"] if p["type"] == "row"]
    assert len(rows) == (len(KINDS) if kind == "all" else 0)
    # the variables: a Prometheus datasource, then job and instance read from it
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance"]
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    for name in ("job", "instance"):
        v = variables[name]
        assert v["type"] == "query" and v["datasource"] == DATASOURCE == {"type": "prometheus", "uid": "${datasource}"}
        assert v["includeAll"] and v["multi"] and v["query"]["query"] == v["definition"]
    assert "$job" in variables["instance"]["definition"]
    assert variable_names(variables["job"]["definition"]) == variable_names(variables["instance"]["definition"])
    # every panel and every target on the datasource variable, every target a distinct refId
    assert panels(doc)
    for p in panels(doc):
        assert p["datasource"] == DATASOURCE, p["title"]
        assert p["title"] and p["description"] and p["fieldConfig"]["defaults"]["unit"]
        assert p["targets"], p["title"]
        assert all(t["datasource"] == DATASOURCE for t in p["targets"]), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs)
    titles = [p["title"] for p in panels(doc)]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_metric_name_is_one_fastprom_records(kind: str, namespace: str) -> None:
    catalog = Catalog(namespace)
    names = sample_names(catalog)
    doc = dashboard(kind, namespace=namespace)
    for expr in exprs(doc):
        check_expr(expr, names)
    for query in variable_queries(doc):
        assert variable_names(query) <= names, query
    if namespace:  # every family but the process and GC collectors' carries the namespace
        for expr in exprs(doc):
            for name, _ in selectors(expr):
                assert name.startswith(("myapp_", "process_", "python_")), name


def test_the_namespace_changes_the_names() -> None:
    plain, spaced = dashboard("llm"), dashboard("llm", namespace="myapp")
    assert plain["uid"] != spaced["uid"]
    first = exprs(plain)[0]
    assert "gen_ai_client_requests_total{" in first
    assert exprs(spaced)[0] == first.replace("gen_ai_client_requests_total", "myapp_gen_ai_client_requests_total")
    # the names of one namespace are not all in another's catalogue
    with pytest.raises(AssertionError, match="is not a sample fastprom records"):
        check_expr(exprs(spaced)[0], sample_names(Catalog()))


def test_all_is_every_dashboard_as_rows() -> None:
    whole = dashboard("all")
    assert [p["title"] for p in whole["panels"] if p["type"] == "row"] == ["HTTP", "LLM", "Agents", "Process"]
    expected = [(p["title"], [t["expr"] for t in p["targets"]]) for k in KINDS for p in panels(dashboard(k))]
    assert [(p["title"], [t["expr"] for t in p["targets"]]) for p in panels(whole)] == expected


def test_the_panels_the_issue_asks_for() -> None:
    def titles(kind: str) -> str:
        return " | ".join(p["title"] for p in panels(dashboard(kind))).lower()

    def metrics(kind: str) -> str:
        return " ".join(exprs(dashboard(kind)))

    http = metrics("http")
    for what in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_time_to_first_byte_seconds_bucket",
    ):
        assert what in http
    assert "http_requests_in_progress" in http and "by (route" in http
    assert all(f"histogram_quantile({q}," in http for q in (0.5, 0.95, 0.99))
    llm = metrics("llm")
    for what in ("gen_ai_token_type", "gen_ai_client_cost_usd_total", "time_to_first_chunk", "error_type", "in_flight"):
        assert what in llm
    assert "3600 * sum by (gen_ai_request_model) (rate(gen_ai_client_cost_usd_total" in llm  # per hour, not per second
    agents = titles("agents")
    for what in (
        "tasks",
        "completion",
        "steps per task",
        "tool calls",
        "tool error",
        "queue",
        "circuit breaker",
        "cache",
    ):
        assert what in agents, what
    process = metrics("process")
    for what in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_gc_collections_total"):
        assert what in process


def test_breaker_states_are_named() -> None:
    (panel,) = [p for p in panels(dashboard("agents")) if p["type"] == "state-timeline"]
    (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
    names = {int(value): m["text"] for value, m in mapping["options"].items()}
    assert names == {v: k for k, v in BREAKER_STATES.items()} == {0: "closed", 1: "half-open", 2: "open"}


def test_the_checker_finds_what_it_must() -> None:
    names = sample_names(Catalog())
    check_expr('sum(rate(http_requests_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))', names)
    with pytest.raises(AssertionError, match="not a sample"):
        check_expr('rate(http_request_total{job=~"$job",instance=~"$instance"}[5m])', names)
    with pytest.raises(AssertionError, match="not filtered"):
        check_expr('rate(http_requests_total{instance=~"$instance"}[5m])', names)
    with pytest.raises(ValueError, match="without label matchers"):
        selectors('sum by (route) (http_requests_total) / on(route) x{job=~"$job"}')
    assert matchers('a="x,y", b=~"$c"') == [("a", "=", "x,y"), ("b", "=~", "$c")]


@pytest.mark.skipif(binary("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool checks every expression (variables substituted) as a recording rule."""
    rules = [
        {"record": f"dashboard:query:{i}", "expr": substitute(expr)}
        for i, expr in enumerate(exprs(dashboard("all", namespace="myapp")))
    ]
    path = tmp_path / "queries.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))  # JSON is YAML
    result = subprocess.run([binary("promtool"), "check", "rules", str(path)], capture_output=True, timeout=60)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout.decode()


def substitute(expr: str, job: str = ".+", instance: str = ".+", rate_interval: str = "1m") -> str:
    """``expr`` as Grafana sends it: its variables replaced."""
    return expr.replace("$__rate_interval", rate_interval).replace("$job", job).replace("$instance", instance)


def test_the_docs_describe_every_panel() -> None:
    docs = (ROOT / "docs" / "dashboards.md").read_text()
    for p in panels(dashboard("all")):
        assert f"| {p['title']} |" in docs, p["title"]


# ------------------------------------------------------------------------------ the command


def fastprom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastprom", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_the_command_prints_the_dashboard() -> None:
    result = fastprom("dashboard", "--kind", "llm", "--namespace", "myapp")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == dashboard("llm", namespace="myapp")
    assert result.stdout == dashboard_json("llm", namespace="myapp")
    result = fastprom("dashboard")
    assert result.returncode == 0 and json.loads(result.stdout) == dashboard("all")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace", "1bad"], "namespace must be empty or a metric name prefix"),
        (["--namespace", "a-b"], "namespace must be empty or a metric name prefix"),
        (["--kind", "db"], "invalid choice: 'db'"),
    ],
)
def test_the_command_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = fastprom("dashboard", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_bad_arguments_of_the_function() -> None:
    with pytest.raises(ValueError, match="kind must be one of http, llm, agents, process, all, got 'db'"):
        dashboard("db")
    with pytest.raises(ValueError, match="namespace must be empty"):
        dashboard("http", namespace="my app")
