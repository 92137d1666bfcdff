"""Multiprocess mode under real servers: gunicorn with 4 UvicornWorkers and ``uvicorn --workers 4``.

Both run ``_mp_app:app`` (instrumented with ``fastprom.fastapi.instrument``) the way the examples
document it: gunicorn with ``examples/gunicorn.conf.py`` (wipes the directory, ``child_exit`` calls
``mark_process_dead``), uvicorn through ``examples/uvicorn_workers.py``.  Each server gets a free
127.0.0.1 port and its own multiprocess directory; masters run in a process group of their own,
stopped as a whole by the fixtures.  Also: ``fastprom serve`` over the same directory, a real
Prometheus scraping both, a worker SIGKILLed under load, and prometheus_client and fastprom
workers sharing one directory.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gunicorn.config
import prometheus_client
import prometheus_client.multiprocess
import prometheus_client.openmetrics.exposition
import pytest
from _servers import HERE, ROOT, Server, binary, free_port, prometheus, running

import fastprom
import fastprom.multiprocess
import fastprom.openmetrics.exposition
from fastprom.parser import text_string_to_metric_families

WORKERS = 4
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# (path of request i, route label, status label): the workload of the exact-count tests.
KINDS: list[tuple[Callable[[int], str], str, str]] = [
    (lambda i: f"/items/{i}", "/items/{item_id}", "200"),
    (lambda i: f"/users/{i}", "/users/{user_id}", "200"),
    (lambda i: "/status/201", "/status/{code}", "201"),
    (lambda i: "/status/503", "/status/{code}", "503"),
    (lambda i: f"/items/x{i}", "/items/{item_id}", "422"),
    (lambda i: f"/nowhere/{i}", "<unmatched>", "404"),
]


# ------------------------------------------------------------------------------------ HTTP


def get(url: str, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """GET ``url`` on a new connection: (status, x-pid header, body), also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers.get("x-pid", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("x-pid", ""), exc.read()


def parse(body: bytes) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def scrape(url: str) -> tuple[str, Samples]:
    """``/metrics`` of ``url``: (pid of the process that answered, samples).

    Retried on a connection error: a worker SIGKILLed by a test resets what it had accepted.
    """
    for attempt in range(5):
        try:
            status, pid, body = get(url + "/metrics")
            break
        except (OSError, http.client.HTTPException):
            if attempt == 4:
                raise
            time.sleep(0.1)
    assert status == 200, body
    return pid, parse(body)


GET = frozenset({("method", "GET")})


def in_progress(samples: Samples) -> float:
    """The merged ``http_requests_in_progress{method="GET"}``."""
    return samples[("http_requests_in_progress", GET)]


def by_route(samples: Samples, name: str = "http_requests_total") -> Counter[tuple[str, str]]:
    """{(route, status): value} of the GET request counter (or {(route, ""): value} of another family)."""
    counts: Counter[tuple[str, str]] = Counter()
    for (sample, labels), value in samples.items():
        if sample == name:
            label = dict(labels)
            assert label["method"] == "GET"
            counts[(label["route"], label.get("status", ""))] += int(value)
    return counts


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()``'s first truthy result within ``timeout`` s; its last result otherwise."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(0.05)
        result = check()
    return result


# ---------------------------------------------------------------------------------- servers


@dataclass
class App:
    """A multi-worker server of ``_mp_app:app`` and its multiprocess directory."""

    server: Server
    directory: Path
    release: Path
    kind: str

    @property
    def url(self) -> str:
        return self.server.url

    def worker_pids(self) -> set[str]:
        """The live workers, as the merged ``test_held_requests`` (``liveall``) shows them."""
        return {dict(labels)["pid"] for labels in series(scrape(self.url)[1], "test_held_requests")}


def _environment(directory: Path, release: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "python"), str(HERE), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    env["MP_TEST_RELEASE"] = str(release)
    env.pop("prometheus_multiproc_dir", None)
    return env


@contextmanager
def multiworker(kind: str, tmp_path: Path, app_spec: str = "_mp_app:app", app_dir: Path = HERE) -> Iterator[App]:
    """gunicorn (``examples/gunicorn.conf.py``) or ``examples/uvicorn_workers.py``, 4 workers.

    Ready once all of them answer, seen in ``test_held_requests`` (``_mp_app`` only).
    """
    directory = tmp_path / "multiproc"
    directory.mkdir()
    (directory / "counter_999999999.db").write_bytes(b"stale file of a previous run")
    release = tmp_path / "release"
    port = free_port()
    if kind == "gunicorn":
        args = [
            *(sys.executable, "-m", "gunicorn", "-c", str(ROOT / "examples" / "gunicorn.conf.py")),
            *("-k", "uvicorn.workers.UvicornWorker", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"),
            *("--graceful-timeout", "3", "--chdir", str(app_dir), app_spec),
        ]
        if hasattr(gunicorn.config, "ControlSocketDisable"):  # recent gunicorn: else one in ~/.gunicorn
            args.append("--no-control-socket")
    else:
        args = [
            *(sys.executable, str(ROOT / "examples" / "uvicorn_workers.py"), "--multiproc-dir", str(directory)),
            *("--workers", str(WORKERS), "--port", str(port), "--app-dir", str(app_dir), "--reap-interval", "0.2"),
            app_spec,
        ]
    env = _environment(directory, release)
    with running(args, port, tmp_path / f"{kind}.log", "/metrics", env=env, cwd=tmp_path, group=True) as server:
        app = App(server, directory, release, kind)

        def all_up() -> set[str] | None:
            pids = app.worker_pids()
            return pids if len(pids) == WORKERS else None

        if app_spec == "_mp_app:app":
            assert eventually(all_up, 30), (app.worker_pids(), server.output())
        assert not (directory / "counter_999999999.db").exists()  # wiped at start
        yield app


@contextmanager
def fastprom_serve(directory: Path, tmp_path: Path) -> Iterator[Server]:
    """``python -m fastprom serve`` over ``directory`` (no environment variable: the option)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    args = [sys.executable, "-m", "fastprom", "serve", "--port", str(port), "--multiproc-dir", str(directory)]
    with running(args, port, tmp_path / "serve.log", "/metrics", env=env) as server:
        yield server


def send(url: str, paths: list[str], threads: int = 8) -> list[tuple[int, str]]:
    """GET every path (several client threads, a connection per request): [(status, worker pid)]."""
    with ThreadPoolExecutor(threads) as pool:
        return [result[:2] for result in pool.map(lambda path: get(url + path), paths)]


def workload(n: int) -> tuple[list[str], Counter[tuple[str, str]]]:
    """``n`` request paths over every kind, and the (route, status) counts they must produce."""
    paths, expected = [], Counter[tuple[str, str]]()
    for i in range(n):
        make, route, status = KINDS[i % len(KINDS)]
        paths.append(make(i))
        expected[(route, status)] += 1
    return paths, expected


def check_sent(results: list[tuple[int, str]], paths: list[str]) -> Counter[str]:
    """Every request answered with its kind's status; the number each worker answered."""
    statuses = [int(KINDS[i % len(KINDS)][2]) for i in range(len(paths))]
    assert [status for status, _ in results] == statuses
    return Counter(pid for _, pid in results)


def assert_exact(url: str, expected: Counter[tuple[str, str]], scrapes: int = 8, answering: int = 1) -> set[str]:
    """Every scrape shows exactly ``expected``; the pids that answered them.

    The first is awaited: a worker counts a request once its response ended, which the client
    may see a moment before.  Then batches of ``scrapes`` concurrent scrapes (the kernel hands
    concurrent connections to different workers; sequential ones often to the same) until
    ``answering`` different processes answered, 10 batches at most.
    """
    assert eventually(lambda: by_route(scrape(url)[1]) == expected), (by_route(scrape(url)[1]), expected)
    routes = Counter[tuple[str, str]]()
    for (route, _), count in expected.items():
        routes[(route, "")] += count
    pids: set[str] = set()
    for _ in range(10):
        with ThreadPoolExecutor(scrapes) as pool:
            for pid, samples in pool.map(lambda _: scrape(url), range(scrapes)):
                pids.add(pid)
                assert by_route(samples) == expected
                assert by_route(samples, "http_request_duration_seconds_count") == routes
                assert in_progress(samples) == 0
        if len(pids) >= answering:
            break
    return pids


# ------------------------------------------------------------------- exact counts, Prometheus


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_the_documented_commands_serve_the_example_app(kind: str, tmp_path: Path) -> None:
    """examples/fastapi_app.py as docs/deployment.md runs it: every worker serves the merged view."""
    with multiworker(kind, tmp_path, "fastapi_app:app", ROOT / "examples") as app:
        results = send(app.url, [f"/items/{i}" for i in range(40)])
        assert [status for status, _ in results] == [200] * 40
        expected = Counter({("/items/{item_id}", "200"): 40})
        assert eventually(lambda: by_route(scrape(app.url)[1]) == expected), by_route(scrape(app.url)[1])
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(lambda _: by_route(scrape(app.url)[1]), range(8))) == [expected] * 8
        assert any(app.directory.glob("counter_*.db"))


SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: workers
    static_configs:
      - targets: ["127.0.0.1:{workers}"]
  - job_name: sidecar
    static_configs:
      - targets: ["127.0.0.1:{sidecar}"]
"""


def promql(prometheus_url: str, query: str) -> dict[tuple[str, ...], float]:
    """An instant query's result as {(job, route, status): value}."""
    status, _, body = get(f"{prometheus_url}/api/v1/query?query={urllib.parse.quote(query)}")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return {
        tuple(r["metric"].get(label, "") for label in ("job", "route", "status")): float(r["value"][1])
        for r in answer["data"]["result"]
    }


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_exact_counts_from_every_worker_and_fastprom_serve(kind: str, tmp_path: Path) -> None:
    paths, expected = workload(240)
    with multiworker(kind, tmp_path) as app:
        served = check_sent(send(app.url, paths), paths)
        assert len(served) >= 2, served  # the requests were spread over several workers
        assert sum(served.values()) == len(paths)
        scrapers = assert_exact(app.url, expected, answering=2)
        assert len(scrapers) >= 2, scrapers  # several workers served the same merged view
        with fastprom_serve(app.directory, tmp_path) as sidecar:
            assert assert_exact(sidecar.url, expected, scrapes=2) == {""}
            if kind == "gunicorn":
                check_prometheus(app.server, sidecar, expected, tmp_path)


def check_prometheus(workers: Server, sidecar: Server, expected: Counter[tuple[str, str]], tmp_path: Path) -> None:
    """A real Prometheus scrapes a worker and the sidecar; its queries agree with ``expected``."""
    if binary("prometheus") is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    config = SCRAPE_CONFIG.format(workers=workers.port, sidecar=sidecar.port)
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    with prometheus(config, workdir) as server:
        total = 'sum by (job) (http_requests_total{method="GET"})'
        both = {(job, "", ""): float(sum(expected.values())) for job in ("workers", "sidecar")}
        assert eventually(lambda: promql(server.url, total) == both, 30), promql(server.url, total)
        answer = promql(server.url, "sum by (job, route, status) (http_requests_total)")
        assert answer == {(job, *key): float(n) for job in ("workers", "sidecar") for key, n in expected.items()}
        up = promql(server.url, "up")
        assert up == {("workers", "", ""): 1.0, ("sidecar", "", ""): 1.0}


# ------------------------------------------------------------------------ SIGKILL under load


@dataclass
class Load:
    """Client threads sending ``GET /items/{i}`` until stopped, counting what they got back."""

    url: str
    acknowledged: int = 0
    failed: int = 0
    after_kill: Counter[str] = field(default_factory=Counter)
    killed_at: float = float("inf")
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, offset: int) -> None:
        i = offset
        while not self.stop.is_set():
            started = time.monotonic()
            i += 1
            try:
                status, pid, _ = get(f"{self.url}/items/{i}", timeout=5)
            except (OSError, http.client.HTTPException):
                status, pid = 0, ""
            with self.lock:
                if status == 200:
                    self.acknowledged += 1
                    if started > self.killed_at:
                        self.after_kill[pid] += 1
                else:
                    self.failed += 1


def is_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or going while read
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def total(samples: Samples) -> int:
    return sum(by_route(samples).values())


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_sigkill_a_worker_under_load(kind: str, tmp_path: Path) -> None:
    paths, expected = workload(120)
    held: list[int] = []
    with multiworker(kind, tmp_path) as app:
        first = check_sent(send(app.url, paths), paths)
        assert_exact(app.url, expected, scrapes=1)

        # Requests held in progress, spread over the workers.
        def hold() -> None:
            try:
                held.append(get(app.url + "/hold", 30)[0])
            except (OSError, http.client.HTTPException):
                held.append(0)  # held by the victim

        holds = [threading.Thread(target=hold) for _ in range(8)]
        for thread in holds:
            thread.start()

        def holding() -> dict[str, int] | None:
            samples = scrape(app.url)[1]
            per_pid = {dict(k)["pid"]: int(v) for k, v in series(samples, "test_held_requests").items()}
            return per_pid if sum(per_pid.values()) == 8 and in_progress(samples) == 8 else None

        per_pid = eventually(holding)
        assert per_pid, scrape(app.url)[1]
        # The victim holds requests and counted some of the first requests.
        victim = max((pid for pid in per_pid if per_pid[pid] and first[pid]), key=per_pid.__getitem__)
        victim_held = per_pid[victim]

        load = Load(app.url)
        clients = [threading.Thread(target=load.run, args=(n * 1_000_000,)) for n in range(6)]
        for thread in clients:
            thread.start()
        try:
            time.sleep(0.5)
            with load.lock:
                acknowledged_before = load.acknowledged
            os.kill(int(victim), signal.SIGKILL)
            assert eventually(lambda: not is_running(int(victim)), 5)
            with load.lock:
                load.killed_at = time.monotonic()
            # No acknowledged increment is lost, even while the worker's death is handled.
            samples = scrape(app.url)[1]
            assert total(samples) >= sum(expected.values()) + acknowledged_before
            # Its live gauge leaves once the master marked it dead (gunicorn: child_exit).
            gone = eventually(lambda: victim not in app.worker_pids(), 15)
            assert gone, (victim, app.worker_pids())
            time.sleep(0.5)
        finally:
            load.stop.set()
            for thread in clients:
                thread.join(15)
        # The other workers went on serving.
        assert sum(n for pid, n in load.after_kill.items() if pid != victim) > 0, load.after_kill
        assert victim not in load.after_kill

        # The dead worker's held requests left the livesum; its counter file stays.
        assert eventually(lambda: in_progress(scrape(app.url)[1]) == 8 - victim_held), scrape(app.url)[1]
        names = {path.name for path in app.directory.iterdir()}
        assert f"counter_{victim}.db" in names
        assert not [name for name in names if name.startswith("gauge_live") and name.endswith(f"_{victim}.db")]

        app.release.touch()
        for thread in holds:
            thread.join(30)
        assert sorted(held) == [0] * victim_held + [200] * (8 - victim_held)  # the victim's failed

        answered = sum(expected.values()) + 8 - victim_held

        def settled() -> Samples | None:
            samples = scrape(app.url)[1]
            done = in_progress(samples) == 0 and total(samples) >= answered + load.acknowledged
            return samples if done else None

        samples = eventually(settled)
        assert samples, (scrape(app.url)[1], answered, load.acknowledged)
        # Counted: every acknowledged request, at most the ones that failed in flight on top.
        assert answered + load.acknowledged <= total(samples) <= answered + load.acknowledged + load.failed
        counts = by_route(samples)
        assert counts[("/hold", "200")] == 8 - victim_held
        # The first requests, a share of them counted by the dead worker only, are all still there.
        for key, n in expected.items():
            if key != ("/items/{item_id}", "200"):
                assert counts[key] == n
        replaced = eventually(lambda: len(app.worker_pids()) == WORKERS, 20)
        assert replaced, app.worker_pids()  # the master replaced the victim


# --------------------------------------------------------------------------------- interop

INTEROP_WORKER = textwrap.dedent(
    """
    import importlib, os, sys
    lib = importlib.import_module(sys.argv[1])
    role = int(sys.argv[2])
    lib.Counter("jobs", "Jobs done.", ["queue"]).labels("q%d" % (role % 2)).inc(role)
    for mode in ["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
                 "mostrecent", "livemostrecent"]:
        lib.Gauge("g_" + mode, "A gauge.", ["k"], multiprocess_mode=mode).labels("a").set(role * 1.5)
    latency = lib.Histogram("latency_seconds", "Latency.", ["route"])
    for i in range(10):
        latency.labels("/r%d" % (i % 2)).observe(i * 0.07 * role)
    lib.Summary("payload_bytes", "Payload.").observe(100 * role)
    print(os.getpid())
    """
)


def test_prometheus_client_and_fastprom_workers_share_a_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    libs = {1: "prometheus_client", 2: "fastprom", 3: "prometheus_client", 4: "fastprom"}
    workers = {
        role: subprocess.Popen(
            [sys.executable, "-c", INTEROP_WORKER, lib, str(role)], env=env, stdout=subprocess.PIPE, text=True
        )
        for role, lib in libs.items()
    }
    pids = {role: int(process.communicate(timeout=60)[0]) for role, process in workers.items()}
    assert all(process.returncode == 0 for process in workers.values())

    def render() -> Samples:
        pc = prometheus_client.CollectorRegistry()
        prometheus_client.multiprocess.MultiProcessCollector(pc, path=str(tmp_path))
        fp = fastprom.CollectorRegistry()
        fastprom.multiprocess.MultiProcessCollector(fp, path=str(tmp_path))
        text = prometheus_client.generate_latest(pc)
        assert fastprom.generate_latest(fp) == text
        om = prometheus_client.openmetrics.exposition.generate_latest(pc)
        assert fastprom.openmetrics.exposition.generate_latest(fp) == om
        return parse(text)

    samples = render()
    assert samples[("jobs_total", frozenset({("queue", "q1")}))] == 1 + 3
    assert samples[("jobs_total", frozenset({("queue", "q0")}))] == 2 + 4
    assert samples[("g_livesum", frozenset({("k", "a")}))] == 1.5 * (1 + 2 + 3 + 4)
    assert samples[("latency_seconds_count", frozenset({("route", "/r0")}))] == 4 * 5
    assert samples[("payload_bytes_sum", frozenset())] == 100 * (1 + 2 + 3 + 4)

    # Each library marks a worker of the other dead.
    fastprom.multiprocess.mark_process_dead(pids[1], str(tmp_path))
    prometheus_client.multiprocess.mark_process_dead(pids[2], str(tmp_path))
    samples = render()
    assert samples[("g_livesum", frozenset({("k", "a")}))] == 1.5 * (3 + 4)
    assert samples[("g_sum", frozenset({("k", "a")}))] == 1.5 * (1 + 2 + 3 + 4)
    assert samples[("jobs_total", frozenset({("queue", "q1")}))] == 1 + 3

    def pids_of(name: str) -> set[int]:
        return {int(dict(labels)["pid"]) for labels in series(samples, name)}

    assert pids_of("g_liveall") == {pids[3], pids[4]}
    assert pids_of("g_all") == set(pids.values())
