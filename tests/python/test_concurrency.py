"""Threads hammering shared metrics: exact totals, and scrapes that always parse.

prometheus_client's OpenMetrics parser checks that each histogram's ``_count`` equals its
``+Inf`` bucket and that buckets are cumulative, so a scrape racing the writers must
still be a consistent snapshot of every child.

The Python layer (the families caches of asgi, gemini and agents, their decorators and their
shared state) is hammered too, with the interpreter switching threads as often as it can
(``sys.setswitchinterval``), so that a check-then-act race shows up under the GIL as it would
without it. No free-threaded interpreter is available where these tests run; these tests are
what ``gil_used = false`` (src/lib.rs) rests on there.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import prometheus_client.openmetrics.parser
import prometheus_client.parser
import pytest
from _helpers import Message, call, http_scope

import fastprom
from fastprom import gemini
from fastprom._pricing import load_price_table
from fastprom.agents import AgentMetrics
from fastprom.asgi import PrometheusMiddleware

THREADS = 8
ITERATIONS = 20_000


def _run_threads(target, n: int = THREADS) -> None:
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        target(i)

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(run, range(n)))


def test_exact_totals() -> None:
    reg = fastprom.CollectorRegistry()
    c = fastprom.Counter("c", "c", registry=reg)
    lc = fastprom.Counter("lc", "lc", ["k"], registry=reg)
    shared = lc.labels("shared")
    g = fastprom.Gauge("g", "g", registry=reg)
    h = fastprom.Histogram("h", "h", buckets=[1, 2, 3], registry=reg)
    s = fastprom.Summary("s", "s", registry=reg)

    def work(i: int) -> None:
        for j in range(ITERATIONS):
            c.inc()
            shared.inc(0.5)
            lc.labels("shared").inc(0.5)  # looked up each time, racing the other threads
            lc.labels(f"t{i}").inc()
            g.inc(2)
            g.dec()
            h.observe(j % 4)  # 0, 1, 2, 3: one each of le=1, le=2, le=3; +Inf holds the rest
            s.observe(1)

    _run_threads(work)
    total = THREADS * ITERATIONS
    assert reg.get_sample_value("c_total") == total
    assert reg.get_sample_value("lc_total", {"k": "shared"}) == total
    for i in range(THREADS):
        assert reg.get_sample_value("lc_total", {"k": f"t{i}"}) == ITERATIONS
    assert reg.get_sample_value("g") == total
    assert reg.get_sample_value("h_count") == total
    assert reg.get_sample_value("h_bucket", {"le": "1.0"}) == total / 2
    assert reg.get_sample_value("h_bucket", {"le": "2.0"}) == total * 3 / 4
    assert reg.get_sample_value("h_bucket", {"le": "3.0"}) == total
    assert reg.get_sample_value("h_bucket", {"le": "+Inf"}) == total
    assert reg.get_sample_value("h_sum") == total * 6 / 4
    assert reg.get_sample_value("s_count") == total
    assert reg.get_sample_value("s_sum") == total


def test_scrapes_racing_writers_parse() -> None:
    reg = fastprom.CollectorRegistry()
    h = fastprom.Histogram("h", "h", ["k"], buckets=[0.25, 0.5, 1, 2], registry=reg)
    s = fastprom.Summary("s", "s", registry=reg)
    c = fastprom.Counter("c", "c", ["k"], registry=reg)
    started = threading.Event()
    stop = threading.Event()
    scrapes = {"text": 0, "om": 0}
    errors: list[BaseException] = []

    writes = [0] * 3
    deadline = time.monotonic() + 30

    def enough_scrapes() -> bool:
        return min(scrapes.values()) >= 5 or time.monotonic() > deadline

    def writer(i: int) -> None:
        started.set()
        j = 0
        # At least 30 000 writes each, and on until the scraper has raced them 5 times per format.
        while j < 30_000 or not enough_scrapes():
            writes[i] += 1
            j += 1
            v = (j % 7) * 0.4
            h.labels(str(j % 5)).observe(v, exemplar={"t": str(j)})
            s.observe(v)
            c.labels(str(j % 3)).inc(exemplar={"i": str(i)})
            if j % 1000 == 0:
                c.remove(str(j % 3))  # children come and go while scrapes run

    def scraper() -> None:
        started.wait()
        n = 0
        try:
            while not stop.is_set():
                om = n % 2 == 1
                n += 1
                data = (
                    fastprom.openmetrics.exposition.generate_latest(reg) if om else fastprom.generate_latest(reg)
                ).decode()
                parser = prometheus_client.openmetrics.parser if om else prometheus_client.parser
                families = {f.name: f for f in parser.text_string_to_metric_families(data)}
                assert set(families) >= {"h", "s"}
                scrapes["om" if om else "text"] += 1
        except BaseException as exc:
            errors.append(exc)

    scrape_thread = threading.Thread(target=scraper)
    scrape_thread.start()
    try:
        _run_threads(writer, 3)
    finally:
        stop.set()
        scrape_thread.join()
    assert not errors, errors[0]
    assert scrapes["text"] >= 5 and scrapes["om"] >= 5
    assert reg.get_sample_value("s_count") == sum(writes)


def test_labels_race_creates_one_child() -> None:
    reg = fastprom.CollectorRegistry()
    c = fastprom.Counter("c", "c", ["a", "b"], registry=reg)

    def work(i: int) -> None:
        for j in range(2000):
            c.labels(a=str(j % 50), b="x").inc()

    _run_threads(work)
    text = fastprom.generate_latest(reg).decode()
    assert text.count("c_total{") == 50
    for j in range(50):
        assert reg.get_sample_value("c_total", {"a": str(j), "b": "x"}) == THREADS * 2000 / 50


def test_decorated_functions_from_threads() -> None:
    reg = fastprom.CollectorRegistry()
    h = fastprom.Histogram("h", "h", registry=reg)
    g = fastprom.Gauge("g", "g", registry=reg)
    exc = fastprom.Counter("e", "e", registry=reg)

    @h.time()
    @g.track_inprogress()
    @exc.count_exceptions(ZeroDivisionError)
    def f(i: int) -> float:
        return 1 / (i % 2)

    def work(i: int) -> None:
        for j in range(1000):
            try:
                f(j)
            except ZeroDivisionError:
                pass

    _run_threads(work, 4)
    assert reg.get_sample_value("h_count") == 4000
    assert reg.get_sample_value("g") == 0
    assert reg.get_sample_value("e_total") == 2000


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Switch threads every microsecond instead of every 5 ms, for the length of the test."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(saved)


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _response(prompt: int, output: int) -> Any:
    """A google-genai shaped response: only its usage_metadata is read."""
    usage = SimpleNamespace(
        prompt_token_count=prompt,
        candidates_token_count=output,
        thoughts_token_count=None,
        cached_content_token_count=None,
        tool_use_prompt_token_count=None,
        prompt_tokens_details=None,
        cache_tokens_details=None,
        total_token_count=prompt + output,
    )
    return SimpleNamespace(usage_metadata=usage)


@pytest.mark.usefixtures("frequent_switches")
def test_instrumentations_built_from_threads_share_their_families() -> None:
    registries = [fastprom.CollectorRegistry() for _ in range(20)]
    built: dict[str, list[tuple[int, Any]]] = {"asgi": [], "agents": [], "gemini": []}

    def work(i: int) -> None:
        for r, reg in enumerate(registries):
            # Each builds, or reuses, its families in this registry: a second registration of the
            # same names would raise "Duplicated timeseries".
            middleware = PrometheusMiddleware(_ok, registry=reg)
            agent = AgentMetrics(f"agent{i}", registry=reg)
            tracker = gemini.track("gemini-2.5-flash", registry=reg, labels={"thread": str(i)})
            built["asgi"].append((r, middleware._metrics))
            built["agents"].append((r, agent._m))
            built["gemini"].append((r, tracker._recorder.metrics))

    _run_threads(work)
    for kind, families in built.items():
        assert len(families) == THREADS * len(registries), kind
        for r in range(len(registries)):
            assert len({id(f) for reg, f in families if reg == r}) == 1, (kind, r)
    assert load_price_table(None) is load_price_table(None)


@pytest.mark.usefixtures("frequent_switches")
def test_python_layer_from_threads_records_exact_totals() -> None:
    reg = fastprom.CollectorRegistry()
    app = PrometheusMiddleware(_ok, registry=reg)
    agent = AgentMetrics("planner", registry=reg)
    unpriced = f"unpriced-{uuid.uuid4().hex}"  # never warned about before this test
    priced = gemini.track("gemini-2.5-flash", registry=reg, record_cost=False)
    unknown = gemini.track(unpriced, registry=reg)
    requests, calls = 50, 300

    @agent.tool("sync")
    def tool(j: int) -> int:
        if j % 3 == 0:
            raise LookupError(j)
        return j

    @agent.tool("async")
    async def atool(j: int) -> int:
        await asyncio.sleep(0)
        return j

    @agent.step("gen")
    def chunks(n: int) -> Iterator[int]:
        yield from range(n)

    @agent.step("agen")
    async def achunks(n: int) -> AsyncIterator[int]:
        for k in range(n):
            await asyncio.sleep(0)
            yield k

    @priced
    def ask(j: int) -> Any:
        return _response(10, j % 5)

    @unknown
    async def ask_unknown() -> Any:
        return _response(1, 1)

    async def async_work() -> None:
        for j in range(calls):
            assert await atool(j) == j
            assert [k async for k in achunks(2)] == [0, 1]
            await ask_unknown()

    def work(i: int) -> None:
        for _ in range(requests):
            sent: list[Message] = call(app, http_scope("/x"))
            assert sent[0]["status"] == 200
        for j in range(calls):
            with agent.task():
                try:
                    tool(j)
                except LookupError:
                    pass
                assert list(chunks(3)) == [0, 1, 2]
                ask(j)
        asyncio.run(async_work())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_threads(work)
    assert [str(w.message) for w in caught if unpriced in str(w.message)] == [
        f"fastprom.gemini: no price for model {unpriced!r}; its cost is not recorded "
        "(add it with the price_table option)"
    ]

    get = reg.get_sample_value
    n = THREADS * calls
    assert get("http_requests_total", {"method": "GET", "route": "<unmatched>", "status": "200"}) == THREADS * requests
    assert get("http_requests_in_progress", {"method": "GET"}) == 0
    a = {"gen_ai_agent_name": "planner"}
    assert get("gen_ai_agent_tasks_total", {**a, "outcome": "success", "error_type": ""}) == n
    assert get("gen_ai_agent_tasks_active", a) == 0
    failed = THREADS * len(range(0, calls, 3))
    sync = {**a, "gen_ai_tool_name": "sync"}
    assert get("gen_ai_agent_tool_calls_total", {**sync, "outcome": "error", "error_type": "LookupError"}) == failed
    assert get("gen_ai_agent_tool_calls_total", {**sync, "outcome": "success", "error_type": ""}) == n - failed
    asynchronous = {**a, "gen_ai_tool_name": "async", "outcome": "success", "error_type": ""}
    assert get("gen_ai_agent_tool_calls_total", asynchronous) == n
    for step in ("gen", "agen"):
        labels = {**a, "gen_ai_agent_step": step, "outcome": "success", "error_type": ""}
        assert get("gen_ai_agent_steps_total", labels) == n
    model = {"gen_ai_operation_name": "generate_content", "gen_ai_provider_name": "gcp.gemini"}
    flash = {**model, "gen_ai_request_model": "gemini-2.5-flash"}
    assert get("gen_ai_client_tokens_total", {**flash, "gen_ai_token_type": "input"}) == 10 * n
    assert get("gen_ai_client_tokens_total", {**flash, "gen_ai_token_type": "output"}) == THREADS * sum(
        j % 5 for j in range(calls)
    )
    assert get("gen_ai_client_operations_in_flight", flash) == 0
    other = {**model, "gen_ai_request_model": unpriced}
    assert get("gen_ai_client_requests_total", {**other, "outcome": "success", "error_type": ""}) == n
    assert get("gen_ai_client_unpriced_requests_total", other) == n


@pytest.mark.usefixtures("frequent_switches")
def test_circuit_breaker_trips_once_per_opening() -> None:
    reg = fastprom.CollectorRegistry()
    agent = AgentMetrics("planner", registry=reg)
    rounds = 200
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> None:
        for _ in range(rounds):
            barrier.wait()
            agent.set_breaker_state("llm", "open")  # every thread opens it: one trip per round
            barrier.wait()
            if i == 0:
                agent.set_breaker_state("llm", "closed")

    _run_threads(work)
    labels = {"gen_ai_agent_name": "planner", "breaker": "llm"}
    assert reg.get_sample_value("gen_ai_agent_circuit_breaker_trips_total", labels) == rounds
