"""Start and stop real servers (uvicorn, Prometheus, pushgateway) on free 127.0.0.1 ports.

Every server is a subprocess of the test, stopped by its own PID; every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``url``; (status, body) also for error statuses."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_ready(server: Server, ready_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.process.args!r} exited with {server.process.returncode}:\n{server.output()}")
        try:
            status, _ = http_get(server.url + ready_path, timeout=1.0)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{server.process.args!r} not ready on port {server.port} after {timeout} s:\n{server.output()}")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0, *, group: bool = False) -> None:
    """SIGTERM the process by its PID, SIGKILL it if it is still alive after ``timeout``.

    ``group``: the process leads its own process group (``start_new_session``), as a server
    master with worker processes does; whatever is left of that group afterwards is SIGKILLed.
    """
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout)
    if group:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def running(
    args: Sequence[str],
    port: int,
    log: Path,
    ready_path: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 20.0,
    group: bool = False,
) -> Iterator[Server]:
    """Run ``args`` until the block ends; ready once ``GET ready_path`` answers below 500.

    ``group``: run it in a process group of its own, stopped as a whole (see :func:`stop`).
    """
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(args), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=group
        )
    server = Server(process, port, log)
    try:
        _wait_ready(server, ready_path, timeout)
        yield server
    finally:
        stop(process, group=group)


@contextmanager
def uvicorn(
    app: str, log: Path, *, factory: bool = False, extra_env: dict[str, str] | None = None, ready_path: str = "/metrics"
) -> Iterator[Server]:
    """Serve ``module:attribute`` (importable from this directory or ``examples/``) with uvicorn."""
    port = free_port()
    env = dict(os.environ)
    paths = [str(ROOT / "python"), str(HERE), str(ROOT / "examples"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.update(extra_env or {})
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "on",
    ]
    if factory:
        args.append("--factory")
    with running(args, port, log, ready_path, env=env, cwd=ROOT) as server:
        yield server


def binary(name: str) -> str | None:
    """Path of an executable on PATH, or None."""
    return shutil.which(name)


@contextmanager
def prometheus(config: str, workdir: Path, *extra_args: str) -> Iterator[Server]:
    """A Prometheus server with ``config`` (YAML text), its data in ``workdir``."""
    port = free_port()
    config_file = workdir / "prometheus.yml"
    config_file.write_text(config)
    args = [
        binary("prometheus") or "prometheus",
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *extra_args,
    ]
    with running(args, port, workdir / "prometheus.log", "/-/ready", timeout=30.0) as server:
        yield server


@contextmanager
def pushgateway(workdir: Path) -> Iterator[Server]:
    """A pushgateway keeping its metrics in memory only (Debian's default persists them in /var/lib)."""
    port = free_port()
    args = [
        binary("prometheus-pushgateway") or "prometheus-pushgateway",
        f"--web.listen-address=127.0.0.1:{port}",
        "--persistence.file=",
    ]
    with running(args, port, workdir / "pushgateway.log", "/-/ready") as server:
        yield server


def promtool_check(exposition: bytes) -> str:
    """``promtool check metrics`` on a text exposition: its complaints, "" when there are none."""
    result = subprocess.run(
        [binary("promtool") or "promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=30
    )
    output = (result.stdout + result.stderr).decode(errors="replace").strip()
    return output if result.returncode or output else ""


@dataclass
class Certificates:
    """A throw-away CA, and a server (for 127.0.0.1) and a client certificate it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(workdir: Path) -> Certificates:
    """Generate :class:`Certificates` in ``workdir`` with the openssl command line tool."""

    def openssl(*args: str) -> None:
        subprocess.run(
            [binary("openssl") or "openssl", *args], cwd=workdir, check=True, capture_output=True, timeout=30
        )

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    # The extensions that Python 3.13's default contexts require (VERIFY_X509_STRICT): key
    # usage on the CA, key identifiers on the certificates it signs.
    ca_extensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    ca = ["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca"]
    openssl("req", "-x509", *key, *ca_extensions, *ca)
    identifiers = "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    extensions = {"server": "subjectAltName=IP:127.0.0.1", "client": "extendedKeyUsage=clientAuth"}
    for name, extension in extensions.items():
        (workdir / f"{name}.ext").write_text(extension + "\n" + identifiers)
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
        )
    return Certificates(
        workdir / "ca.crt",
        workdir / "server.crt",
        workdir / "server.key",
        workdir / "client.crt",
        workdir / "client.key",
    )
