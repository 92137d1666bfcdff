"""Throughput cost of HTTP metrics middlewares on a small FastAPI app (not a test).

    python tests/benchmarks/bench_asgi.py                # default run, about 5 minutes
    python tests/benchmarks/bench_asgi.py --variants bare fastprom --rounds 40 --duration 2
    python tests/benchmarks/bench_asgi.py --instructions # valgrind counts, about 8 minutes

Starts one uvicorn server (one worker, no access log) per variant on 127.0.0.1, each with the
same app, and loads them with wrk (``GET /items/1..200``) in turn, round after round:

* ``bare``            no metrics
* ``fastprom``        ``fastprom.fastapi.instrument(app)``
* ``instrumentator``  prometheus-fastapi-instrumentator, ``Instrumentator().instrument(app).expose(app)``
* ``exporter``        starlette-exporter, ``PrometheusMiddleware`` + ``handle_metrics``
* ``passthrough``     only when named in ``--variants``: an empty ``async def`` middleware that
                      awaits the app, what any pure ASGI middleware layer costs

and prints req/s (median and best run), p50/p99 latency, the server's CPU time per request and
the loss against ``bare``. A shared machine's speed drifts over seconds, so every round loads
each server once, for a few seconds, in rotating order, and a loss is the median over the rounds
of that round's loss against that round's ``bare`` run, printed with a 95 % bootstrap interval;
the loss of the best runs is printed too (noise only ever lowers req/s), and the loss the CPU
time per request implies (``1 - cpu_bare / cpu_variant``). Every few rounds
(``--restart-every``) the servers are replaced by fresh processes: how fast one process runs
also depends on where its code and objects happen to lie in memory (CPython's type attribute
cache, for one, is direct-mapped, so which lookups evict each other depends on addresses), and
that luck, fixed for a process's life, would otherwise bias a whole run. With two or more CPUs
the servers and wrk are pinned to different ones. Before those rounds, a few rounds load every
server at once, all sharing the servers' CPU: each variant then gets the same share of whatever
the machine is doing, and the CPU time per request compares them most steadily. An in-process
micro-benchmark (no sockets) then gives each middleware's own cost per request.

Last it runs ``bench_server.py``: the scrape latency of ``start_http_server`` while another
thread holds the GIL (``--scrape-runs 0`` to skip).

``--instructions`` instead counts, under valgrind's cachegrind, the instructions and the
(simulated) L1 cache misses of one in-process request through each variant: a figure that does
not move with the machine's noise (from run to run it varies by a few hundred instructions per
request, about 0.1 %), and a measure of how much more code a request runs through.

Needs ``wrk`` (Debian package ``wrk``), or ``valgrind`` for ``--instructions``.  The two
competitors and uvicorn's fast loop and parser (``uvloop``, ``httptools``) are benchmark-only
dependencies, pip-installed here when missing (``--no-install`` to refuse).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _cachegrind

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VARIANTS = ("bare", "fastprom", "instrumentator", "exporter")
EXTRA_VARIANTS = ("passthrough",)
BENCH_DEPENDENCIES = {  # module -> pip requirement
    "prometheus_fastapi_instrumentator": "prometheus-fastapi-instrumentator",
    "starlette_exporter": "starlette-exporter",
    "uvloop": "uvloop",
    "httptools": "httptools",
}
WRK_SCRIPT = """\
local i = 0
request = function()
  i = (i % 200) + 1
  return wrk.format("GET", "/items/" .. i)
end
"""


# ------------------------------------------------------------------------------------- the app


class PassThrough:
    """An ASGI middleware that does nothing: the floor of any middleware's cost."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def create_app() -> Any:
    """The benchmarked app, instrumented as ``BENCH_VARIANT`` says (uvicorn ``--factory``)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": f"item-{item_id}", "price": 9.99, "tags": ["a", "b"]}

    variant = os.environ.get("BENCH_VARIANT", "bare")
    if variant == "fastprom":
        from fastprom.fastapi import instrument

        instrument(app)
    elif variant == "instrumentator":
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator().instrument(app).expose(app)
    elif variant == "exporter":
        from starlette_exporter import PrometheusMiddleware, handle_metrics

        app.add_middleware(PrometheusMiddleware)
        app.add_route("/metrics", handle_metrics)
    elif variant == "passthrough":
        app.add_middleware(PassThrough)
    elif variant != "bare":
        raise SystemExit(f"unknown BENCH_VARIANT {variant!r}; one of {', '.join(VARIANTS + EXTRA_VARIANTS)}")
    return app


# ------------------------------------------------------------------------------------- set-up


def ensure_dependencies(install: bool, tool: str) -> None:
    missing = [req for module, req in BENCH_DEPENDENCIES.items() if importlib.util.find_spec(module) is None]
    if missing and not install:
        raise SystemExit(f"missing benchmark dependencies: {' '.join(missing)} (pip install them)")
    if missing:
        print(f"installing benchmark-only dependencies: {' '.join(missing)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
    if shutil.which(tool) is None:
        raise SystemExit(f"{tool} not found: apt-get install {tool}")


def child_env(*first: Path, **extra: str) -> dict[str, str]:
    """The environment of a child Python process: ``first``, then this checkout's package, then the
    caller's ``PYTHONPATH`` on its path; ``extra`` variables set."""
    path = [*map(str, first), str(ROOT / "python"), os.environ.get("PYTHONPATH")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)), **extra)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinning() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and wrk: different CPUs when there are two or more."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus[1])], ["taskset", "-c", str(cpus[0])]


# ------------------------------------------------------------------------------------- one run


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict[str, float]:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no {percent}% latency in wrk output:\n{output}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or requests is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests": int(requests.group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


class Server:
    """One uvicorn process serving the app as ``variant``, on its own port, until ``stop()``."""

    def __init__(self, variant: str, pin: list[str]) -> None:
        self.variant = variant
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_env(HERE, BENCH_VARIANT=variant)
        command = [
            *pin,
            sys.executable,
            "-m",
            "uvicorn",
            "bench_asgi:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, env=env)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/items/1", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn ({self.variant}) did not start") from None
                time.sleep(0.1)

    def load(self, args: argparse.Namespace, script: Path, wrk_pin: list[str], seconds: int) -> dict[str, float]:
        """Loads the server with wrk for ``seconds``: wrk's figures and the server's CPU per request."""
        return self.finish_load(self.start_load(args, script, wrk_pin, seconds), seconds)

    def start_load(
        self, args: argparse.Namespace, script: Path, wrk_pin: list[str], seconds: int
    ) -> tuple[subprocess.Popen[str], float]:
        wrk = ["wrk", "-t1", f"-c{args.connections}", "--latency", "-s", str(script), self.url, f"-d{seconds}s"]
        cpu_before = cpu_seconds(self.process.pid)
        return subprocess.Popen([*wrk_pin, *wrk], stdout=subprocess.PIPE, text=True), cpu_before

    def finish_load(self, started: tuple[subprocess.Popen[str], float], seconds: int) -> dict[str, float]:
        wrk, cpu_before = started
        output, _ = wrk.communicate(timeout=seconds + 30)
        if wrk.returncode != 0:
            raise RuntimeError(f"wrk failed against {self.variant}:\n{output}")
        result = parse_wrk(output)
        result["cpu_us"] = (cpu_seconds(self.process.pid) - cpu_before) / result["requests"] * 1e6
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


# ------------------------------------------------------------------------------- micro-benchmark


def micro(variant: str, requests: int, repeats: int) -> float:
    """Best of ``repeats``: µs per in-process GET /items/{1..200} through the app (no server)."""
    os.environ["BENCH_VARIANT"] = variant
    app = create_app()
    scopes = [
        {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/items/{i}",
            "raw_path": f"/items/{i}".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        for i in range(1, 201)
    ]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def run(count: int) -> None:
        for k in range(count):
            await app(dict(scopes[k % 200]), receive, send)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(run(2000))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loop.run_until_complete(run(requests))
        times.append((time.perf_counter() - started) / requests * 1e6)
    loop.close()
    return min(times)


def run_micro(variants: list[str], requests: int, rounds: int) -> dict[str, float]:
    """Best µs per request of each variant over ``rounds`` interleaved child processes (one per run:
    the competitors register into prometheus_client's global REGISTRY)."""
    best = {variant: float("inf") for variant in variants}
    env = child_env()
    for _ in range(rounds):
        for variant in variants:
            command = [sys.executable, __file__, "--micro-child", variant, str(requests), "3"]
            output = subprocess.run(command, check=True, capture_output=True, text=True, env=env, timeout=600).stdout
            best[variant] = min(best[variant], json.loads(output.strip().splitlines()[-1])["us"])
    return best


# ----------------------------------------------------------------------- instruction counts


def cachegrind_totals(variant: str, requests: int, out: Path) -> dict[str, int]:
    """Event totals of one child process making ``requests`` in-process requests under cachegrind."""
    # dict probing depends on the hash seed: fixed, the counts repeat more closely
    env = child_env(PYTHONHASHSEED="0")
    return _cachegrind.cachegrind_totals(__file__, ["--micro-child", variant, str(requests), "1"], out, env, 1800)


def count_instructions(variants: list[str], low: int, high: int) -> None:
    """Instructions and simulated L1 instruction-cache misses per request, in process, for every
    variant: the difference between runs of ``high`` and ``low`` requests, so start-up cancels out.
    valgrind counts the same whatever else the machine does; the misses show how much more code
    a request runs through, which is what costs on a real server, where every request finds that
    code cold."""
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = {
            (variant, n): pool.submit(cachegrind_totals, variant, n, Path(tmp) / f"{variant}.{n}.out")
            for variant in variants
            for n in (low, high)
        }
        per_request = {
            variant: {
                event: (jobs[variant, high].result()[event] - jobs[variant, low].result()[event]) / (high - low)
                for event in ("Ir", "I1mr", "D1mr")
            }
            for variant in variants
        }
    bare = per_request["bare"]
    print(f"\nin process under valgrind (cachegrind), per request ({high} - {low} requests):")
    print(f"{'variant':<15} {'instructions':>12} {'added':>8} {'L1i misses':>10} {'added':>7} {'L1d misses':>10}")
    for variant, counts in per_request.items():
        line = f"{variant:<15} {counts['Ir']:12.0f}"
        if variant == "bare":
            line += f" {'':>8} {counts['I1mr']:10.0f} {'':>7}"
        else:
            line += (
                f" {(counts['Ir'] / bare['Ir'] - 1) * 100:+7.2f}% {counts['I1mr']:10.0f}"
                f" {(counts['I1mr'] / bare['I1mr'] - 1) * 100:+6.1f}%"
            )
        print(line + f" {counts['D1mr']:10.0f}")


# ------------------------------------------------------------------------------------- report


def median_interval(values: list[float], resamples: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the median of ``values`` (a fixed seed: the same runs print the
    same interval)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(resamples * 0.025)], medians[int(resamples * 0.975) - 1]


def report(runs: dict[str, list[dict[str, float]]]) -> None:
    """One line per variant; losses are medians of the per-round losses against that round's bare
    run, with a 95 % bootstrap interval."""
    bare = runs["bare"]
    bare_best = max(r["rps"] for r in bare)
    header = (
        f"{'variant':<15} {'req/s med':>9} {'best':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} "
        f"{'loss med':>8} {'95% interval':>13} {'loss best':>9} {'+CPU us':>7} {'loss CPU':>8}"
    )
    print(header)
    print("-" * len(header))
    for variant, results in runs.items():
        median = statistics.median(r["rps"] for r in results)
        best = max(r["rps"] for r in results)
        cpu = statistics.median(r["cpu_us"] for r in results)
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        line = f"{variant:<15} {median:9.0f} {best:7.0f} {p50:7.2f} {p99:7.2f} {cpu:10.1f}"
        if variant != "bare":
            pairs = list(zip(results, bare, strict=True))
            losses = [1 - r["rps"] / b["rps"] for r, b in pairs]
            low, high = median_interval(losses)
            added = statistics.median(r["cpu_us"] - b["cpu_us"] for r, b in pairs)
            loss_cpu = statistics.median(1 - b["cpu_us"] / r["cpu_us"] for r, b in pairs)
            line += (
                f" {statistics.median(losses) * 100:7.1f}% {f'{low * 100:.1f} to {high * 100:.1f}%':>13}"
                f" {(1 - best / bare_best) * 100:8.1f}% {added:+7.1f} {loss_cpu * 100:7.1f}%"
            )
        errors = sum(r["errors"] for r in results)
        print(line + (f"  ({errors} non-2xx)" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=24, help="runs per variant, interleaved (default 24)")
    parser.add_argument("--duration", type=int, default=2, help="seconds of load per run (default 2)")
    parser.add_argument(
        "--restart-every",
        type=int,
        default=4,
        help="rounds between fresh server processes, 0 for one process per variant (default 4)",
    )
    parser.add_argument(
        "--together-rounds",
        type=int,
        default=6,
        help="rounds with every server loaded at once, before the interleaved ones; 0 to skip (default 6)",
    )
    parser.add_argument("--micro-rounds", type=int, default=3, help="in-process runs per variant (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS + EXTRA_VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--micro-requests",
        type=int,
        default=3000,
        help="in-process requests per repeat, 0 to skip the micro-benchmark (default 3000)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="only count instructions and cache misses per request under valgrind (about 8 minutes)",
    )
    parser.add_argument(
        "--scrape-runs",
        type=int,
        default=3,
        help="runs of bench_server.py (scrapes while the GIL is held) at the end, 0 to skip (default 3)",
    )
    parser.add_argument("--no-install", action="store_true", help="fail instead of pip-installing deps")
    parser.add_argument("--micro-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.micro_child:
        variant, requests, repeats = args.micro_child
        print(json.dumps({"us": micro(variant, int(requests), int(repeats))}))
        return
    if "bare" not in args.variants:
        args.variants.insert(0, "bare")
    ensure_dependencies(not args.no_install, "valgrind" if args.instructions else "wrk")
    if args.instructions:
        count_instructions(args.variants, 200, 2200)
        return
    restart = f"fresh servers every {args.restart_every} rounds" if args.restart_every else "one server each"
    print(
        f"uvicorn, 1 worker; wrk -t1 -c{args.connections} -d{args.duration}s, GET /items/1..200; "
        f"{args.rounds} interleaved rounds, {restart}; CPUs pinned: {'yes' if pinning()[0] else 'no'}",
        flush=True,
    )
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in args.variants}
    together: dict[str, list[dict[str, float]]] = {variant: [] for variant in args.variants}
    server_pin, wrk_pin = pinning()
    servers: dict[str, Server] = {}

    def start_servers(script: Path) -> None:
        """Replaces the servers by fresh processes, ready and warmed up."""
        for server in servers.values():
            server.stop()
        servers.update({variant: Server(variant, server_pin) for variant in args.variants})
        for server in servers.values():
            server.wait_ready()
            server.load(args, script, wrk_pin, 1)  # warm-up

    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "items.lua"
            script.write_text(WRK_SCRIPT)
            start_servers(script)
            for round_number in range(args.together_rounds):
                started = {v: server.start_load(args, script, wrk_pin, args.duration) for v, server in servers.items()}
                results = {v: servers[v].finish_load(started[v], args.duration) for v in args.variants}
                for variant, result in results.items():
                    together[variant].append(result)
                print(
                    f"  together {round_number + 1:>2} "
                    + "  ".join(f"{v} {r['rps']:.0f} req/s {r['cpu_us']:.1f} us" for v, r in results.items()),
                    flush=True,
                )
            for round_number in range(args.rounds):
                if args.restart_every and round_number and round_number % args.restart_every == 0:
                    start_servers(script)
                shift = round_number % len(args.variants)
                for variant in args.variants[shift:] + args.variants[:shift]:
                    result = servers[variant].load(args, script, wrk_pin, args.duration)
                    runs[variant].append(result)
                    print(
                        f"  round {round_number + 1:>2} {variant:<15} {result['rps']:8.0f} req/s  "
                        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
                        f"{result['cpu_us']:.1f} us CPU/req",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server.stop()
    print("\none server loaded at a time (the figures of the issue):")
    report(runs)
    if args.together_rounds:
        print("\nall servers loaded at once, sharing one CPU (drift hits every variant alike):")
        report(together)
    if args.micro_requests:
        print(
            f"\nin-process, no server (best of {args.micro_rounds} x 3 x {args.micro_requests} requests), "
            "us per request:"
        )
        micro_results = run_micro(args.variants, args.micro_requests, args.micro_rounds)
        for variant, us in micro_results.items():
            added = "" if variant == "bare" else f"  ({us - micro_results['bare']:+.1f})"
            print(f"  {variant:<15} {us:7.1f}{added}")
    if args.scrape_runs:
        print("\nscrape latency of start_http_server while another thread holds the GIL:", flush=True)
        command = [sys.executable, str(HERE / "bench_server.py"), "--runs", str(args.scrape_runs)]
        subprocess.run(command, check=True, env=child_env(), timeout=600)


if __name__ == "__main__":
    main()
