"""The ``fastprom`` command (also ``python -m fastprom``).

``fastprom serve --port PORT [--addr ADDR] [--multiproc-dir DIR]`` serves, on ``/metrics``,
the merged view of a multiprocess directory (default: ``PROMETHEUS_MULTIPROC_DIR``) from
its own process: a sidecar for gunicorn or uvicorn workers. Scrapes are rendered by the
Rust server (content negotiation, gzip, ``name[]``) without Python code. It binds
127.0.0.1 unless told otherwise, and stops with exit status 0 on SIGTERM or Ctrl-C.
Errors (bad arguments, a missing directory, a busy port) are one line on stderr and a
non-zero exit status.

``fastprom dashboard [--namespace NS] [--kind http|llm|agents|process|all]`` prints a Grafana
dashboard (JSON) for the metrics fastprom records (see docs/dashboards.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import NoReturn, Optional, Sequence

from . import _core

__all__ = ["main"]

PROG = "fastprom"


class _Error(Exception):
    """A one-line error for stderr, and the exit status: 2 for a usage error, else 1."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """Reports a usage error as one line (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        raise _Error(f"{self.prog}: {message} (see {self.prog} --help)", 2)


class _Stop(Exception):
    """Raised in the main thread by the SIGTERM/SIGINT handler."""


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="fastprom: Prometheus metrics, served fast.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_core.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    serve = commands.add_parser(
        "serve",
        help="serve the merged metrics of a multiprocess directory on /metrics",
        description="Serve on /metrics the merged view of the .db files that multiprocess workers "
        "(fastprom or prometheus_client) write into a directory.",
    )
    serve.add_argument("--port", type=_port, required=True, help="port to listen on")
    serve.add_argument("--addr", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--multiproc-dir",
        metavar="DIR",
        help="the workers' directory (default: $PROMETHEUS_MULTIPROC_DIR)",
    )
    _add_rules(commands)
    _add_dashboard(commands)
    return parser


# ------------------------------------------------------------------------------ fastprom rules


def _add_rules(commands: argparse._SubParsersAction[_Parser]) -> None:
    rules = commands.add_parser(
        "rules",
        help="print Prometheus recording and alerting rules for fastprom's metrics (YAML)",
        description="Print a Prometheus rules file (recording rules and alerts) for the metrics fastprom "
        "records, with every name taken from the library's own definitions. See docs/rules.md.",
    )
    rules.add_argument("--namespace", default="", help="the namespace the metrics were created with")
    rules.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a threshold, window, 'for' or severity (repeatable; --list-settings shows them)",
    )
    rules.add_argument("--list-settings", action="store_true", help="list the settings and their defaults")


def _rules(args: argparse.Namespace) -> int:
    from .ops.rules import SETTINGS, rules_yaml

    if args.list_settings:
        for name, setting in SETTINGS.items():
            print(f"{name}={setting.default}  ({setting.kind}) {setting.help}")
        return 0
    overrides: dict[str, str] = {}
    for item in args.settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _Error(f"{PROG} rules: --set takes NAME=VALUE, got {item!r}", 2)
        overrides[name.strip()] = value.strip()
    try:
        text = rules_yaml(args.namespace, overrides)
    except (ValueError, TypeError, KeyError) as e:
        raise _Error(f"{PROG} rules: {e.args[0] if e.args else e}", 2) from None
    sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------------------ fastprom dashboard


def _add_dashboard(commands: argparse._SubParsersAction[_Parser]) -> None:
    dashboard = commands.add_parser(
        "dashboard",
        help="print a Grafana dashboard (JSON) for fastprom's metrics",
        description="Print a Grafana dashboard for the metrics fastprom records, to import into Grafana.",
    )
    dashboard.add_argument("--namespace", default="", help="the namespace the metrics are registered under")
    dashboard.add_argument(
        "--kind",
        choices=("http", "llm", "agents", "process", "all"),
        default="all",
        help="which dashboard (default: all, one dashboard with a row for each)",
    )


def _dashboard(args: argparse.Namespace) -> int:
    from .ops.dashboards import dashboard_json

    try:
        text = dashboard_json(args.kind, namespace=args.namespace)
    except ValueError as e:
        raise _Error(f"{PROG} dashboard: {e}", 2) from None
    sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------------------ fastprom serve


def _serve(args: argparse.Namespace) -> int:
    from .exposition import start_http_server
    from .multiprocess import MultiProcessCollector
    from .registry import CollectorRegistry

    directory = args.multiproc_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        raise _Error(f"{PROG} serve: no directory: pass --multiproc-dir DIR or set PROMETHEUS_MULTIPROC_DIR", 2)
    if not os.path.isdir(directory):
        raise _Error(f"{PROG} serve: {directory!r} is not a directory")
    # name[] restricts the samples of the merged view (its names are known only at scrape time).
    registry = CollectorRegistry(support_collectors_without_names=True)
    MultiProcessCollector(registry, path=directory)

    def stop(signum: int, frame: Optional[FrameType]) -> None:
        raise _Stop

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server, thread = start_http_server(args.port, addr=args.addr, registry=registry)
        except OSError as e:
            reason = e.strerror or str(e)
            raise _Error(f"{PROG} serve: cannot listen on {args.addr}:{args.port}: {reason}") from None
        try:
            print(
                f"{PROG}: serving {directory} on http://{_host(args.addr)}:{server.server_port}/metrics",
                file=sys.stderr,
                flush=True,
            )
            while thread.is_alive():
                thread.join(3600)
        except _Stop:
            pass
        finally:
            server.shutdown()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "serve":
            return _serve(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "dashboard":
            return _dashboard(args)
        raise _Error(f"{PROG}: a command is required: serve, rules, dashboard (see {PROG} --help)", 2)
    except _Error as e:
        print(e, file=sys.stderr)
        return e.status
    except _Stop:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
