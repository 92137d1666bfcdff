"""fastprom.infra's families, and the seed ports in examples/seeds scraped by a real Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import pytest
from _servers import ROOT, binary, free_port, prometheus, running
from test_prometheus_server import query

from fastprom import CollectorRegistry, SeriesOverflowWarning
from fastprom._families import RUNTIME_MAX_SERIES
from fastprom.infra import ServiceMetrics, breaker_state_value


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


def value(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def test_breaker_states_and_changes(reg: CollectorRegistry) -> None:
    svc = ServiceMetrics(namespace="ns", registry=reg)
    assert svc.breaker_state("gemini") == "closed"
    for state in ("open", "open", "half_open", "closed", "open"):
        svc.set_breaker_state("gemini", state)
    assert value(reg, "ns_circuit_breaker_state", service="gemini") == 2.0
    changes = {
        (a, b): value(reg, "ns_circuit_breaker_state_changes_total", service="gemini", from_state=a, to_state=b)
        for a, b in [("closed", "open"), ("open", "half-open"), ("half-open", "closed"), ("open", "open")]
    }
    assert changes == {
        ("closed", "open"): 2.0,
        ("open", "half-open"): 1.0,
        ("half-open", "closed"): 1.0,
        ("open", "open"): None,
    }
    svc.breaker_failure("gemini")
    assert value(reg, "ns_circuit_breaker_failures_total", service="gemini") == 1.0
    assert [breaker_state_value(s) for s in ("closed", "half-open", "half_open", "open")] == [0, 1, 1, 2]


def test_bad_input_is_named_and_changes_nothing(reg: CollectorRegistry) -> None:
    svc = ServiceMetrics(namespace="ns", registry=reg)
    svc.set_breaker_state("db", "open")
    with pytest.raises(ValueError, match="closed, half-open, open; got 'broken'"):
        svc.set_breaker_state("db", "broken")
    assert (svc.breaker_state("db"), value(reg, "ns_circuit_breaker_state", service="db")) == ("open", 2.0)
    with pytest.raises(TypeError, match="breaker must be a str, not int"):
        svc.set_breaker_state(3, "open")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache must not be empty"):
        svc.cache_hit("")
    with pytest.raises(ValueError, match="seconds must be >= 0 seconds, got -1"):
        svc.queue_wait("high", -1)
    with pytest.raises(TypeError, match="size must be an int, not float"):
        svc.queue_size("high", 1.5)  # type: ignore[arg-type]
    svc.connection_pool("redis", 2, 10)
    with pytest.raises(ValueError, match=r"in_use \(11\) must not exceed size \(10\)"):
        svc.connection_pool("redis", 11, 10)
    assert value(reg, "ns_connection_pool_in_use", pool="redis") == 2.0
    with pytest.raises(ValueError, match="breaker_label must not be empty"):
        ServiceMetrics(registry=reg, breaker_label="")
    stream = svc.stream()
    with pytest.raises(ValueError, match="n must be >= 0, got -2"):
        stream.chunk(-2)
    assert value(reg, "ns_stream_chunks_sent_total") == 0.0
    assert value(reg, "ns_stream_ttfb_seconds_count") == 0.0


def test_sessions_streams_and_timers(reg: CollectorRegistry) -> None:
    svc = ServiceMetrics(namespace="ns", registry=reg)
    with svc.chat_session():
        time.sleep(0.02)

    @svc.track_chat_session
    async def chat() -> int:
        await asyncio.sleep(0.02)
        return 7

    assert asyncio.run(chat()) == 7
    assert value(reg, "ns_chat_sessions_total") == 2.0
    assert value(reg, "ns_chat_session_duration_seconds_count") == 2.0
    assert 0.04 <= value(reg, "ns_chat_session_duration_seconds_sum") < 1.0  # type: ignore[operator]
    stream = svc.stream()
    time.sleep(0.02)
    stream.chunk()
    stream.chunk(3)
    assert (stream.chunks, value(reg, "ns_stream_chunks_sent_total")) == (4, 4.0)
    assert value(reg, "ns_stream_ttfb_seconds_count") == 1.0
    assert 0.02 <= value(reg, "ns_stream_ttfb_seconds_sum") < 1.0  # type: ignore[operator]
    with svc.db_operation("select", "users"):
        pass
    with svc.model_load("gemma"):
        time.sleep(0.01)
    assert value(reg, "ns_db_operation_duration_seconds_count", operation="select", table="users") == 1.0
    assert value(reg, "ns_model_load_duration_seconds_bucket", model="gemma", le="0.1") == 1.0


def test_caches_queues_memory_pools_info(reg: CollectorRegistry) -> None:
    svc = ServiceMetrics(namespace="ns", registry=reg, breaker_label="model")
    ServiceMetrics(namespace="ns", registry=reg, breaker_label="model").cache_hit("kv")  # shares the families
    svc.cache_hit("kv")
    svc.cache_miss("kv")
    assert value(reg, "ns_cache_operations_total", cache="kv", result="hit") == 2.0
    assert value(reg, "ns_cache_operations_total", cache="kv", result="miss") == 1.0
    svc.queue_size("high", 4)
    svc.queue_request("high")
    svc.queue_rejected("low")
    svc.queue_wait("high", 0.3)
    with svc.queue_worker("high"):
        assert value(reg, "ns_queue_active_workers", priority="high") == 1.0
    assert value(reg, "ns_queue_active_workers", priority="high") == 0.0
    assert value(reg, "ns_queue_size", priority="high") == 4.0
    assert value(reg, "ns_queue_requests_total", priority="high") == 1.0
    assert value(reg, "ns_queue_requests_rejected_total", priority="low") == 1.0
    assert value(reg, "ns_queue_wait_time_seconds_bucket", priority="high", le="0.25") == 0.0
    assert value(reg, "ns_queue_wait_time_seconds_bucket", priority="high", le="0.5") == 1.0
    svc.rate_limit_wait("gemini-2.5-flash", 0.002)
    assert value(reg, "ns_rate_limit_wait_seconds_bucket", model="gemini-2.5-flash", le="0.0025") == 1.0
    svc.memory_operation("store", 3)
    assert value(reg, "ns_memory_operations_total", operation_type="store") == 3.0
    svc.connection_pool("redis", 3, 8)
    assert (
        value(reg, "ns_connection_pool_in_use", pool="redis"),
        value(reg, "ns_connection_pool_size", pool="redis"),
    ) == (3.0, 8.0)
    svc.app_info(version="1.2", app="x")
    assert value(reg, "ns_app_info", version="1.2", app="x") == 1.0


EXAMPLES = ROOT / "examples" / "seeds"
CONFIG = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: seeds
    static_configs:
      - targets: [{targets}]
"""
SEEDS = {
    "seed001_gemini_agent": [
        "agent_http_requests_total",
        "agent_http_request_duration_seconds_bucket{le=~'60(\\\\.0)?'}",
        "agent_http_requests_in_progress",
        "agent_tasks_total{status='timeout'}",
        "agent_tasks_total{status='failure'}",
        "agent_task_duration_seconds_count",
        "agent_steps_per_task_count",
        "agent_active_tasks",
        "agent_llm_calls_total{status='rate_limited'}",
        "agent_llm_call_duration_seconds_count",
        "agent_llm_input_tokens_count",
        "agent_llm_output_tokens_count",
        "agent_llm_tokens_total{direction='output'}",
        "agent_tool_calls_total",
        "agent_tool_call_duration_seconds_count",
        "agent_cost_total_cents_total",
        "agent_user_satisfaction_score_count",
        "agent_task_completion_rate{window='24h'}",
        "agent_app_info",
        "agent_memory_entries",
        "agent_cache_total{result='miss'}",
    ],
    "seed003_ngx_agents": [
        "ngx_agents_http_requests_total",
        "ngx_agents_http_request_duration_seconds_count{endpoint='/chat/stream'}",
        "ngx_agents_http_requests_active",
        "ngx_agents_agent_invocations_total{status='failure'}",
        "ngx_agents_agent_response_time_seconds_count",
        "ngx_agents_agents_active",
        "ngx_agents_chat_sessions_total",
        "ngx_agents_chat_session_duration_seconds_count",
        "ngx_agents_stream_chunks_sent_total",
        "ngx_agents_stream_ttfb_seconds_count",
        "ngx_agents_cache_operations_total{result='hit'}",
        "ngx_agents_cache_operations_total{result='miss'}",
        "ngx_agents_circuit_breaker_state_changes_total{service='gemini',to_state='open'}",
        "ngx_agents_db_operation_duration_seconds_count{operation='select',table='user_profiles'}",
        "ngx_agents_redis_pool_connections",
    ],
    "seed004_tinyllm": [
        "tinyllm_system_info",
        "tinyllm_requests_total",
        "tinyllm_request_latency_seconds_bucket{le=~'0.005|60(\\\\.0)?'}",
        "tinyllm_active_requests",
        "tinyllm_tokens_input_total",
        "tinyllm_tokens_output_total",
        "tinyllm_errors_total",
        "tinyllm_circuit_breaker_state",
        "tinyllm_circuit_breaker_failures_total",
        "tinyllm_model_load_duration_seconds_count",
        "tinyllm_node_executions_total",
        "tinyllm_node_execution_duration_seconds_count",
        "tinyllm_node_errors_total",
        "tinyllm_graph_executions_total",
        "tinyllm_graph_execution_duration_seconds_count",
        "tinyllm_cache_hits_total",
        "tinyllm_cache_misses_total",
        "tinyllm_rate_limit_wait_seconds_count",
        "tinyllm_memory_operations_total",
        "tinyllm_queue_size",
        "tinyllm_queue_wait_time_seconds_count",
        "tinyllm_queue_requests_total",
        "tinyllm_queue_requests_rejected_total",
        "tinyllm_queue_active_workers",
    ],
}


def test_prometheus_scrapes_every_family_of_every_seed(tmp_path: Path) -> None:
    pytest.importorskip("google.genai")
    if binary("prometheus") is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    ports = {seed: free_port() for seed in SEEDS}
    targets = ", ".join(f'"127.0.0.1:{port}"' for port in ports.values())
    config = CONFIG.format(targets=targets)
    with contextlib.ExitStack() as stack:
        servers = {
            seed: stack.enter_context(
                running(
                    [
                        sys.executable,
                        str(ROOT / "examples" / "seeds" / f"{seed}.py"),
                        "--port",
                        str(port),
                        "--seconds",
                        "120",
                    ],
                    port,
                    tmp_path / f"{seed}.log",
                    "/metrics",
                    cwd=ROOT,
                )
            )
            for seed, port in ports.items()
        }
        with prometheus(config, tmp_path) as server:
            queries = [q for qs in SEEDS.values() for q in qs]
            deadline = time.monotonic() + 30
            while True:
                missing = [q for q in queries if not query(server.url, q.replace("'", '"'))]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert missing == []
        for seed in servers.values():  # SIGTERM: a clean exit
            seed.process.terminate()
            assert seed.process.wait(10) == 0, seed.output()


def test_model_labelled_families_are_capped(reg: CollectorRegistry) -> None:
    svc = ServiceMetrics(namespace="ns", registry=reg, breaker_label="model")
    with pytest.warns(SeriesOverflowWarning):
        for i in range(RUNTIME_MAX_SERIES + 5):
            svc.breaker_failure(f"model-{i}")
    samples = [s for m in reg.collect() if m.name == "ns_circuit_breaker_failures" for s in m.samples]
    total = [s for s in samples if s.name.endswith("_total")]
    assert len(total) == RUNTIME_MAX_SERIES + 1  # the cap, and one overflow series with the 5 others
    assert sum(s.value for s in total) == RUNTIME_MAX_SERIES + 5
