"""``fastprom serve``, run for real as a subprocess on a free port and scraped over HTTP;
the bytes are compared with prometheus_client's collector over the same directory."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import prometheus_client as pc
import pytest
from _mpdir import pc_registry, run_workers
from _servers import free_port
from prometheus_client.exposition import choose_encoder

import fastprom

CONSOLE_SCRIPT = Path(sys.executable).parent / "fastprom"
MODULE = [sys.executable, "-m", "fastprom"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("prometheus_multiproc_dir", None)
    return env


def get(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, Message]:
    """The body and the headers (looked up without regard to case)."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), response.headers


@contextmanager
def serving(
    *args: str, command: list[str] = MODULE, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``fastprom serve --port P ARGS`` until the block ends (SIGTERM unless it already exited)."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), *args],
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                get(url)
                break
            except OSError:
                assert time.monotonic() < deadline, "fastprom serve did not answer"
                time.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Sends ``signum``; the exit status and what was written on stderr."""
    process.send_signal(signum)
    _, err = process.communicate(timeout=20)
    return process.returncode, err


def run(*args: str, command: list[str] = MODULE, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], env=env or _env(), capture_output=True, text=True, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess[str] | tuple[int, str], *needles: str) -> None:
    code, err = (result.returncode, result.stderr) if not isinstance(result, tuple) else result
    assert code != 0
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def workers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("serve")
    run_workers(directory, range(3))
    return directory


ACCEPTS = [
    "",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
]


def test_serves_what_prometheus_client_renders(workers_dir: Path, tmp_path: Path) -> None:
    theirs = pc_registry(workers_dir)
    restricted = pc_registry(workers_dir, support_collectors_without_names=True)
    with serving("--multiproc-dir", str(workers_dir)) as (url, process):
        for accept in ACCEPTS:
            encoder, content_type = choose_encoder(accept)
            body, headers = get(url, {"Accept": accept} if accept else None)
            assert body == encoder(theirs), accept
            assert headers["Content-Type"] == content_type
        body, headers = get(url, {"Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == pc.generate_latest(theirs)
        names = ["requests_total", "h_bucket", "plain"]
        body, _ = get(url + "?" + "&".join(f"name[]={n}" for n in names))
        assert body == pc.generate_latest(restricted.restricted_registry(names))
        assert b"requests_total" in body and b"g_sum" not in body
        # Every scrape reads the directory anew.
        before = body
        run_workers(workers_dir, [3])
        assert get(url)[0] == pc.generate_latest(pc_registry(workers_dir)) != before
        code, err = stop(process, signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in err and "serving" in err
    # Nothing listens on the port any more (connections of the scrapes may linger in TIME_WAIT).
    port = int(url.split(":")[2].split("/")[0])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize("command", ["module", "console_script"])
def test_ctrl_c_stops_cleanly(workers_dir: Path, command: str) -> None:
    argv = MODULE if command == "module" else [str(CONSOLE_SCRIPT)]
    env = dict(_env(), PROMETHEUS_MULTIPROC_DIR=str(workers_dir))  # the default directory
    with serving(command=argv, env=env) as (url, process):
        assert get(url)[0] == pc.generate_latest(pc_registry(workers_dir))
        code, err = stop(process, signal.SIGINT)
    assert code == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_binds_loopback_by_default(workers_dir: Path) -> None:
    tcp = Path("/proc/net/tcp")
    if not tcp.exists():
        pytest.skip("needs /proc/net/tcp")
    with serving("--multiproc-dir", str(workers_dir)) as (url, _):
        port = int(url.split(":")[2].split("/")[0])
        listening = [line.split()[1] for line in tcp.read_text().splitlines()[1:] if line.split()[3] == "0A"]
        assert f"0100007F:{port:04X}" in listening
        assert f"00000000:{port:04X}" not in listening


def test_warning_for_a_bad_file_is_printed_once(workers_dir: Path, tmp_path: Path) -> None:
    for f in workers_dir.glob("*.db"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    want = pc.generate_latest(pc_registry(tmp_path))
    (tmp_path / "counter_77.db").write_bytes(b"garbage!" * 100)
    with serving("--multiproc-dir", str(tmp_path)) as (url, process):
        for _ in range(3):
            assert get(url)[0] == want
        code, err = stop(process, signal.SIGTERM)
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("fastprom: warning: ")]
    # The readiness probe scraped too: still one line for the file.
    assert len(warnings) == 1 and "counter_77.db" in warnings[0]


def test_busy_port(workers_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run("serve", "--port", str(port), "--multiproc-dir", str(workers_dir))
    assert_one_line_error(result, str(port), "in use")
    assert result.returncode == 1


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    result = run("serve", "--port", str(free_port()), "--multiproc-dir", str(missing))
    assert_one_line_error(result, str(missing))
    assert result.returncode == 1
    result = run("serve", "--port", str(free_port()), env=dict(_env(), PROMETHEUS_MULTIPROC_DIR=str(missing)))
    assert_one_line_error(result, str(missing))
    result = run("serve", "--port", str(free_port()))
    assert_one_line_error(result, "PROMETHEUS_MULTIPROC_DIR", "--multiproc-dir")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["serve", "--port", "abc"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "9", "--bogus"],
        ["launch"],
    ],
    ids=" ".join,
)
def test_bad_arguments(args: list[str], workers_dir: Path) -> None:
    env = dict(_env(), PROMETHEUS_MULTIPROC_DIR=str(workers_dir))
    result = run(*args, env=env)
    assert_one_line_error(result, "fastprom")
    assert result.returncode == 2


@pytest.mark.parametrize("command", ["module", "console_script"])
def test_version(command: str) -> None:
    argv = MODULE if command == "module" else [str(CONSOLE_SCRIPT)]
    result = run("--version", command=argv)
    assert result.returncode == 0
    assert result.stdout == f"fastprom {fastprom.__version__}\n"
