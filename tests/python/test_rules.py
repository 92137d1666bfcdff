"""fastprom.ops.rules and ``fastprom rules``: promtool checks every rules file the command prints,
and promtool's unit tests prove that every alert fires on the series of its case and stays quiet
on the calm ones (tests/python/_rule_cases.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _rule_cases import cases, promtool_tests
from _servers import ROOT, binary

from fastprom.ops._promql import to_yaml
from fastprom.ops.catalog import Catalog
from fastprom.ops.rules import ALERTS, SETTINGS, build_rules, rules_yaml

PROMTOOL = binary("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus) is not installed")

# Every setting away from its default (thresholds doubled or halved, windows and `for` changed).
OVERRIDES = {
    "job": "api|worker",
    "window": "2m",
    "completion_window": "30m",
    "token_window": "2h",
    "idle_window": "15m",
    **{
        name: (
            str(float(s.default) / 2)
            if s.kind == "ratio"
            else str(float(s.default) * 2)
            if s.kind == "number"
            else "90s"
            if s.kind == "duration"
            else "page"
        )
        for name, s in SETTINGS.items()
        if s.kind in ("ratio", "number", "severity") or name.endswith("_for")
    },
}
VARIANTS = {
    "default": [],
    "namespace": ["--namespace", "myapp"],
    "overrides": [x for k, v in OVERRIDES.items() for x in ("--set", f"{k}={v}")],
    "namespace+overrides": ["--namespace", "tinyllm", "--set", "job=llm", "--set", "window=1m"],
}


def fastprom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastprom", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def promtool(*args: str, cwd: Path) -> tuple[int, str]:
    result = subprocess.run([PROMTOOL or "promtool", *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    return result.returncode, result.stdout + result.stderr


def alerts_of(document: dict) -> list[str]:
    return [r["alert"] for g in document["groups"] for r in g["rules"] if "alert" in r]


# ------------------------------------------------------------------------------ promtool


@needs_promtool
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_promtool_checks_every_file_the_command_prints(variant: str, tmp_path: Path) -> None:
    printed = fastprom("rules", *VARIANTS[variant])
    assert printed.returncode == 0, printed.stderr
    (tmp_path / "rules.yml").write_text(printed.stdout)
    code, output = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    total = sum(len(g["rules"]) for g in build_rules()["groups"])
    assert code == 0 and f"SUCCESS: {total} rules found" in output, output


@needs_promtool
@pytest.mark.parametrize("namespace", ["", "myapp"])
def test_every_alert_fires_on_its_case_and_not_on_the_calm_one(namespace: str, tmp_path: Path) -> None:
    document = build_rules(namespace)
    (tmp_path / "rules.yml").write_text(rules_yaml(namespace))
    (tmp_path / "tests.yml").write_text(to_yaml(promtool_tests(Catalog(namespace), document, "rules.yml")))
    code, output = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert code == 0 and "SUCCESS" in output, output


@needs_promtool
def test_the_unit_tests_can_fail(tmp_path: Path) -> None:
    """With the expectations swapped, every firing and every calm case fails."""
    (tmp_path / "rules.yml").write_text(rules_yaml())
    swapped = promtool_tests(Catalog(), build_rules(), "rules.yml", swap=True)
    (tmp_path / "tests.yml").write_text(to_yaml(swapped))
    code, output = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert code == 1, output
    failed = re.findall(r"alertname: (\w+), time", output)
    assert sorted(failed) == sorted(2 * list(cases())), output


@needs_promtool
def test_thresholds_and_for_are_overridable(tmp_path: Path) -> None:
    """The firing HTTP case (25 % errors, 90 minutes long) is calm above a 30 % threshold or with a 2 h `for`."""
    for overrides in ({"http_error_ratio": "0.3"}, {"http_error_ratio_for": "2h"}):
        (tmp_path / "rules.yml").write_text(rules_yaml(overrides=overrides))
        tests = promtool_tests(Catalog(), build_rules(overrides=overrides), "rules.yml")
        tests["tests"] = tests["tests"][:1]  # HTTPHighErrorRate's firing case
        assert tests["tests"][0]["alert_rule_test"][0]["alertname"] == "HTTPHighErrorRate"
        tests["tests"][0]["alert_rule_test"][0]["exp_alerts"] = []
        (tmp_path / "tests.yml").write_text(to_yaml(tests))
        code, output = promtool("test", "rules", "tests.yml", cwd=tmp_path)
        assert code == 0, (overrides, output)


# ------------------------------------------------------------------------------ the rules themselves


def test_every_alert_has_a_firing_and_a_calm_case() -> None:
    for namespace in ("", "myapp"):
        assert sorted(alerts_of(build_rules(namespace))) == sorted(cases())
    for name, case in cases().items():
        assert case.fire and case.calm and case.fire != case.calm, name


def test_the_issue_alerts_are_there() -> None:
    wanted = {
        "HTTPHighErrorRate", "HTTPHighLatency", "TargetDown", "AgentHighLatency", "AgentHighFailureRate",
        "StreamSlowFirstByte", "StreamLowSuccessRate", "CircuitBreakerOpen", "CacheHighMissRate",
        "ConnectionPoolSaturated", "SlowDatabaseOperations", "HighTokenConsumption", "LowTaskCompletionRate",
        "HighActiveTasks", "LLMSpendOverBudget", "LLMRateLimited", "LLMHighErrorRate",
    }  # fmt: skip
    assert wanted <= set(alerts_of(build_rules()))
    for group in build_rules()["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["labels"]["severity"] in ("critical", "warning")
                assert rule["annotations"]["summary"] and rule["annotations"]["description"]


_NOT_NAMES = {"sum", "max", "by", "on", "rate", "increase", "histogram_quantile", "time", "unless", "and", "or"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (strings, label sets, windows, `by` and `on` lists removed)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|(?:by|on) \([^)]*\)", "", stripped)
    words = re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped)
    return {w for w in words if w not in _NOT_NAMES}


@pytest.mark.parametrize("namespace", ["", "myapp"])
def test_every_name_comes_from_the_catalogue(namespace: str) -> None:
    catalog = Catalog(namespace)
    samples = {f.sample(s) for f in catalog for s in ("", "_total", "_bucket") if _has(f, s)}
    document = build_rules(namespace)
    recorded = {r["record"] for g in document["groups"] for r in g["rules"] if "record" in r}
    read = set()
    for group in document["groups"]:
        for rule in group["rules"]:
            read |= metric_names(rule["expr"])
    assert read <= samples | recorded | {"up"}, read - samples - recorded
    charts_only = {n for n in recorded if ":per_minute_" in n}  # tokens per minute, for dashboards
    assert len(charts_only) == 1 and recorded - charts_only <= read  # the others feed alerts
    if namespace:
        assert all(n.startswith(namespace + "_") or n == "up" for n in read - recorded)
        assert all(f":{namespace}_" in n for n in recorded)


def _has(family, suffix: str) -> bool:
    try:
        family.sample(suffix)
        return True
    except KeyError:
        return False


def test_ratios_are_of_counters_and_sums_not_of_app_set_gauges() -> None:
    """Seed 001's trap: a completion-rate gauge the app sets cannot be aggregated; these rules sum."""
    catalog = Catalog()
    gauges = {f.name for f in catalog if f.type == "gauge"}
    for group in build_rules()["groups"]:
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            for name in metric_names(rule["expr"]) & gauges:  # only the pool: gauges summed, then divided
                assert name.startswith("connection_pool_") and f"sum by (job, pool) ({name})" in rule["expr"]
            for name in metric_names(rule["expr"]) - gauges:
                assert f"rate({name}" in rule["expr"], rule  # counters and buckets: rates of sums
            assert "instance" not in rule["record"] and "instance" not in rule["expr"]


def test_tokens_per_hour_is_a_per_second_rate_times_3600() -> None:
    """Seed 001's trap: its rule compared a per-second rate with a per-hour threshold."""
    rules = {r.get("record") or r["alert"]: r for g in build_rules()["groups"] for r in g["rules"]}
    record = rules["job:gen_ai_client_tokens:per_hour_rate1h"]["expr"]
    assert record == "sum by (job) (rate(gen_ai_client_tokens_total[1h])) * 3600"
    assert rules["HighTokenConsumption"]["expr"] == "job:gen_ai_client_tokens:per_hour_rate1h > 100000"
    assert rules["HighTokenConsumption"]["for"] == "15m"
    assert cases()["HighTokenConsumption"].value == 150000  # 41.7 tokens a second fires it


def test_settings_apply() -> None:
    document = build_rules("", {"window": "2m", "job": "api", "http_error_ratio_severity": "page"})
    http = document["groups"][0]["rules"]
    assert http[0]["record"] == "job:http_requests:error_ratio_rate2m"
    assert 'http_requests_total{status=~"5..",job=~"api"}[2m]' in http[0]["expr"]
    alert = next(r for r in http if r.get("alert") == "HTTPHighErrorRate")
    assert alert["labels"] == {"severity": "page"} and alert["expr"] == "job:http_requests:error_ratio_rate2m > 0.05"
    for a in ALERTS:  # every alert: its `for` and severity, and its threshold if it has one
        assert {a.key + "_for", a.key + "_severity"} <= set(SETTINGS)
        assert (a.key in SETTINGS) == (a.threshold is not None)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nope": "1"}, "unknown rules setting 'nope'"),
        ({"http_error_ratio": "1.5"}, "http_error_ratio must be a ratio between 0 and 1"),
        ({"http_latency_p95": "-1"}, "http_latency_p95 must be a number >= 0"),
        ({"http_latency_p95": "nan"}, "http_latency_p95 must be a number >= 0"),
        ({"window": "5"}, "window must be a Prometheus duration"),
        ({"target_down_for": "1 m"}, "target_down_for must be a Prometheus duration"),
        ({"target_down_severity": "Page Me"}, "target_down_severity must be a lower-case word"),
        ({"job": "("}, "job must be a regular expression"),
        ({"job": "(?!test).*"}, "lookaround is not supported by Prometheus"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_rules("", overrides)


def test_bad_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="namespace must be empty or a metric name prefix"):
        build_rules("1x")


# ------------------------------------------------------------------------------ the command


def test_the_command_prints_what_the_library_builds() -> None:
    printed = fastprom("rules", "--namespace", "myapp", "--set", "window=2m")
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == rules_yaml("myapp", {"window": "2m"})
    assert printed.stdout.startswith("# Prometheus rules for fastprom's metrics")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "window"], "--set takes NAME=VALUE, got 'window'"),
        (["--set", "nope=1"], "unknown rules setting 'nope'"),
        (["--set", "window=5"], "window must be a Prometheus duration"),
        (["--namespace", "a-b"], "namespace must be empty or a metric name prefix"),
    ],
)
def test_the_command_reports_bad_arguments_in_one_line(args: list[str], message: str) -> None:
    result = fastprom("rules", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_the_command_lists_the_settings() -> None:
    result = fastprom("rules", "--list-settings")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"{n}={s.default}  ({s.kind}) {s.help}" for n, s in SETTINGS.items()]


# ------------------------------------------------------------------------------ YAML


def test_yaml_scalars_are_quoted_when_they_must_be() -> None:
    text = to_yaml(
        {
            "plain": "critical",
            "digits": "5m",
            "word": "yes",
            "colon": "a: b",
            "braces": '{{ $labels.job }} rate(x{a="b"}[5m])',
            "quote": "it's",
            "newline": "a\nb",
            "list": ["x", 1, 0.5],
            "empty": [],
        }
    )
    assert text == (
        "plain: critical\n"
        "digits: '5m'\n"
        "word: 'yes'\n"
        "colon: 'a: b'\n"
        "braces: '{{ $labels.job }} rate(x{a=\"b\"}[5m])'\n"
        "quote: 'it''s'\n"
        'newline: "a\\nb"\n'
        "list:\n  - x\n  - 1\n  - 0.5\n"
        "empty: []\n"
    )


# ------------------------------------------------------------------------------ examples/prometheus

EXAMPLES = ROOT / "examples" / "prometheus"


def test_the_example_rules_file_is_what_the_command_prints() -> None:
    """examples/prometheus/rules.yml cannot drift: regenerate it with `fastprom rules > ...`."""
    assert (EXAMPLES / "rules.yml").read_text() == rules_yaml()


@needs_promtool
def test_promtool_checks_the_example_prometheus_config() -> None:
    code, output = promtool("check", "config", "prometheus.yml", cwd=EXAMPLES)
    assert code == 0 and "SUCCESS: 1 rule files found" in output, output
    assert "is valid prometheus config file" in output, output


@pytest.mark.skipif(binary("amtool") is None, reason="amtool (Debian's prometheus-alertmanager) is not installed")
def test_amtool_checks_the_example_alertmanager_config() -> None:
    result = subprocess.run(
        [binary("amtool") or "amtool", "check-config", "alertmanager.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=EXAMPLES,
    )
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    assert "1 receivers" in result.stdout


def test_the_docs_name_every_rule_and_setting() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    for group in build_rules()["groups"]:
        for rule in group["rules"]:
            assert f"`{rule.get('record') or rule['alert']}`" in text, rule
    for a in ALERTS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{a.name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        default = "" if a.threshold is None else f"{a.threshold:g}"
        assert cells[1:2] == [f"`{a.key}`"] and cells[3:6] == [default, a.for_, a.severity], row
    for name in ("job", "window", "completion_window", "token_window", "idle_window"):
        assert f"`{name}` (" in text
