"""Scrape latency of start_http_server while another thread holds the GIL: fastprom vs
prometheus_client. Not a test; prints a table of medians.

    python tests/benchmarks/bench_server.py [--runs 5] [--hold 1.5]

Each run starts one client process per row, then holds the GIL in one C call
(``sum(range(n))``) for ``--hold`` seconds; every client sends its request 0.3 s later and
times it in its own process. Target: fastprom answers in < 50 ms, prometheus_client waits
for the GIL. The default REGISTRY row waits too while its process/platform/GC collectors are
Python collectors.
"""

import argparse
import statistics
import subprocess
import sys
import textwrap
import time

import prometheus_client

import fastprom
from fastprom._server import start_http_server

CLIENT = textwrap.dedent(
    """
    import socket, sys, time
    port, delay, method, target = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    time.sleep(delay)
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(f"{method} {target} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.") and reply[9:12] == b"200", reply[:80]
    print((time.perf_counter() - started) * 1000)
    """
)


def hold_gil(seconds):
    started = time.perf_counter()
    sum(range(2_000_000))
    n = int(2_000_000 * seconds / (time.perf_counter() - started))
    sum(range(n))


def measure(rows, hold):
    clients = [
        subprocess.Popen([sys.executable, "-c", CLIENT, str(port), "0.3", method, target], stdout=subprocess.PIPE)
        for _, port, method, target in rows
    ]
    time.sleep(0.1)
    if hold:
        hold_gil(hold)
    return [float(c.communicate(timeout=120)[0]) for c in clients]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hold", type=float, default=1.5, help="seconds the GIL is held")
    parser.add_argument("--series", type=int, default=200, help="labelled counter children")
    args = parser.parse_args()

    registry = fastprom.CollectorRegistry()
    counter = fastprom.Counter("requests", "Requests.", ["path"], registry=registry)
    for i in range(args.series):
        counter.labels(f"/p{i}").inc(i)
    ours, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    default, _ = start_http_server(0, addr="127.0.0.1")
    theirs, _ = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    rows = [
        ("fastprom      GET /metrics", ours.server_port, "GET", "/metrics"),
        ("fastprom      OPTIONS", ours.server_port, "OPTIONS", "/metrics"),
        ("fastprom      GET, default REGISTRY", default.server_port, "GET", "/metrics"),
        ("prometheus_client GET /metrics", theirs.server_port, "GET", "/metrics"),
        ("prometheus_client OPTIONS", theirs.server_port, "OPTIONS", "/metrics"),
    ]
    idle = [measure(rows, 0) for _ in range(args.runs)]
    held = [measure(rows, args.hold) for _ in range(args.runs)]
    for server in (ours, default, theirs):
        server.shutdown()

    print(
        f"{args.runs} runs, GIL held {args.hold:.1f} s from t=0, request sent at t=0.3 s, "
        f"{args.series} series; medians in ms"
    )
    print(f"{'server / request':34} {'GIL free':>10} {'GIL held':>10}   per-run (held)")
    for i, (name, *_rest) in enumerate(rows):
        free = statistics.median(run[i] for run in idle)
        busy = [run[i] for run in held]
        runs = " ".join(f"{v:.1f}" for v in busy)
        print(f"{name:34} {free:10.1f} {statistics.median(busy):10.1f}   {runs}")


if __name__ == "__main__":
    main()
