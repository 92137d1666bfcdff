"""Threads hammering shared metrics: exact totals, and scrapes that always parse.

prometheus_client's OpenMetrics parser checks that each histogram's ``_count`` equals its
``+Inf`` bucket and that buckets are cumulative, so a scrape racing the writers must
still be a consistent snapshot of every child.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import prometheus_client.openmetrics.parser
import prometheus_client.parser

import fastprom

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
