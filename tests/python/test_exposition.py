"""Content negotiation, name[] filtering, gzip, textfiles and the prometheus_client alias."""

from __future__ import annotations

import gzip
import importlib
import inspect
import os
import subprocess
import sys

import prometheus_client
import pytest
from _helpers import FP, PC, Lib, assert_same_output, custom_families, everything, utf8_names

ACCEPT_HEADERS = [
    None,
    "",
    "*/*",
    "text/plain",
    "text/plain; version=0.0.4",
    "text/plain; version=1.0.0",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "text/plain; version=1.0.0; escaping=dots",
    "text/plain; version=1.0.0; escaping=values",
    "text/plain; version=1.0.0; escaping=underscores",
    "text/plain; version=1.0.0; escaping=bogus",
    "text/plain; version=2.0.0; escaping=allow-utf-8",
    "application/openmetrics-text",
    "application/openmetrics-text; version=0.0.1",
    "application/openmetrics-text; version=0.0.1, text/plain",
    "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "application/openmetrics-text; version=1.0.0; escaping=allow-utf-8",
    "application/openmetrics-text; version=1.0.0; escaping=dots",
    "application/openmetrics-text; version=1.0.0; escaping=values",
    "application/openmetrics-text; version=2.0.0",
    "application/openmetrics-text; version=2.0.0; escaping=allow-utf-8",
    "application/openmetrics-text;q=0.5;version=1.0.0,text/plain;q=0.9",
    "text/plain, application/openmetrics-text",
    "text/html, application/openmetrics-text; version=1.0.0; escaping=dots",
    "Application/OpenMetrics-Text",
    " application/openmetrics-text ",
    "application/openmetrics-text; version = 1.0.0",
    "application/openmetrics-text; version=2.0",
    "application/openmetrics-text; version=3.0.0; escaping=values",
    "application/openmetrics-text; version=+1.0_0.0",
    "\u3000text/plain\u2028; version=1.0.0\x1f; escaping=dots",
    "\xa0application/openmetrics-text\x85;\u2003version=1.0.0",
]


@pytest.mark.parametrize("accept", ACCEPT_HEADERS)
def test_choose_encoder(accept: str | None) -> None:
    want_encoder, want_type = PC.exposition.choose_encoder(accept)
    got_encoder, got_type = FP.exposition.choose_encoder(accept)
    assert got_type == want_type
    for scenario in (everything, utf8_names):
        assert got_encoder(scenario(FP)) == want_encoder(scenario(PC))


@pytest.mark.parametrize("accept", ["application/openmetrics-text; version=1.x", "text/plain; version=abc"])
def test_choose_encoder_unorderable_version(accept: str) -> None:
    with pytest.raises(TypeError):
        PC.exposition.choose_encoder(accept)
    with pytest.raises(TypeError, match="cannot compare Accept version"):
        FP.exposition.choose_encoder(accept)


@pytest.mark.parametrize(
    "accept_encoding",
    [None, "", "gzip", "GZIP", "deflate, gzip;q=0.5", "gzip;q=0", "*", "br", "x-gzip", "\u2003gzip\x1c", "gzİp"],
)
def test_gzip_accepted(accept_encoding: str | None) -> None:
    assert FP.exposition.gzip_accepted(accept_encoding) == PC.exposition.gzip_accepted(accept_encoding)


def _families(data: bytes) -> list[bytes]:
    """An exposition split into families (each from its ``# HELP`` line), sorted."""
    body = data.removesuffix(b"# EOF\n")
    return sorted(b"# HELP" + part for part in body.split(b"# HELP")[1:])


@pytest.mark.parametrize(
    "names",
    [
        ["requests_total"],
        ["requests_created"],
        ["requests_total", "requests_created"],
        ["size_bytes_bucket", "size_bytes_count", "latency_seconds_sum"],
        ["build_info", "state"],
        ["temp_celsius", "nope"],
        ["requests"],
        ["target_info"],
        ["target_info", "plain_total"],
        [],
    ],
)
@pytest.mark.parametrize("accept", [None, "application/openmetrics-text", "text/plain; version=1.0.0"])
@pytest.mark.parametrize("accept_encoding", [None, "gzip"])
def test_bake_output_restricted(names: list[str], accept: str | None, accept_encoding: str | None) -> None:
    def bake(lib: Lib):
        reg = everything(lib)
        reg.set_target_info({"service": "api"})
        return lib.exposition._bake_output(reg, accept, accept_encoding, {"name[]": names}, False)

    want_status, want_headers, want_body = bake(PC)
    got_status, got_headers, got_body = bake(FP)
    assert (got_status, got_headers) == (want_status, want_headers)
    if accept_encoding:
        want_body, got_body = gzip.decompress(want_body), gzip.decompress(got_body)
    # prometheus_client iterates a set of collectors here: compare per family.
    assert _families(got_body) == _families(want_body)
    assert got_body.endswith(b"# EOF\n") == want_body.endswith(b"# EOF\n")


def test_restricted_registry_single_collector_is_byte_identical() -> None:
    for names in (["requests_total"], ["requests_created"], ["requests_total", "requests_created"], ["nope"]):

        def scenario(lib: Lib, names=names):
            reg = lib.CollectorRegistry()
            c = lib.Counter("requests", "Total requests.", ["m"], registry=reg)
            c.labels("a").inc()
            return reg.restricted_registry(names)

        assert_same_output(scenario)


def test_restricted_registry_custom_collectors() -> None:
    for support in (False, True):
        for names in (["ts_gauge"], ["cf_total", "gh_gsum"], ["raw"]):

            def scenario(lib: Lib, names=names, support=support):
                reg = lib.CollectorRegistry(support_collectors_without_names=support)
                reg.register(next(iter(custom_families(lib)._collector_to_names)))
                return reg.restricted_registry(names)

            want = PC.text(scenario(PC))
            got = FP.text(scenario(FP))
            assert _families(got) == _families(want)


@pytest.mark.parametrize("disable_compression", [False, True])
def test_bake_output_compression(disable_compression: bool) -> None:
    out = {}
    for lib in (PC, FP):
        out[lib.name] = lib.exposition._bake_output(everything(lib), None, "gzip", {}, disable_compression)
    want, got = out["prometheus_client"], out["fastprom"]
    assert got[:2] == want[:2]
    decode = (lambda b: b) if disable_compression else gzip.decompress
    assert decode(got[2]) == decode(want[2])


@pytest.mark.parametrize("escaping", [None, "underscores", "allow-utf-8", "dots", "values"])
def test_write_to_textfile(tmp_path, escaping: str | None) -> None:
    kw = {} if escaping is None else {"escaping": escaping}
    contents = {}
    for lib in (PC, FP):
        path = tmp_path / f"{lib.name}.prom"
        lib.write_to_textfile(str(path), utf8_names(lib), **kw)
        contents[lib.name] = path.read_bytes()
    assert contents["fastprom"] == contents["prometheus_client"]
    assert sorted(os.listdir(tmp_path)) == ["fastprom.prom", "prometheus_client.prom"]


def test_write_to_textfile_tmpdir_and_failure(tmp_path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    path = tmp_path / "out.prom"
    FP.write_to_textfile(str(path), everything(FP), tmpdir=str(tmpdir))
    PC.write_to_textfile(str(tmp_path / "pc.prom"), everything(PC))
    assert path.read_bytes() == (tmp_path / "pc.prom").read_bytes()
    assert os.listdir(tmpdir) == []
    with pytest.raises(OSError):
        FP.write_to_textfile(str(tmp_path / "missing" / "out.prom"), everything(FP))


def test_content_type_constants() -> None:
    for name in ("CONTENT_TYPE_LATEST", "CONTENT_TYPE_PLAIN_0_0_4", "CONTENT_TYPE_PLAIN_1_0_0"):
        assert getattr(FP.exposition, name) == getattr(PC.exposition, name)
        assert getattr(FP.top, name) == getattr(PC.top, name)
    for name in ("CONTENT_TYPE_LATEST", "CONTENT_TYPE_LATEST_2_0", "ALLOWUTF8", "UNDERSCORES", "DOTS", "VALUES"):
        assert getattr(FP.om, name) == getattr(PC.om, name)


ALIASED_MODULES = [
    "core",
    "registry",
    "metrics",
    "metrics_core",
    "exposition",
    "openmetrics.exposition",
    "samples",
    "utils",
    "validation",
    "context_managers",
]


def test_prometheus_client_alias_imports() -> None:
    """``sys.modules['prometheus_client'] = fastprom``: every submodule imports and works."""
    code = f"""
import sys, importlib, fastprom
sys.modules["prometheus_client"] = fastprom
for name in {ALIASED_MODULES!r}:
    importlib.import_module("prometheus_client." + name)
from prometheus_client import Counter, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Timestamp
from prometheus_client.openmetrics.exposition import generate_latest as om
reg = CollectorRegistry()
Counter("x", "h", registry=reg).inc()
assert b"x_total 1.0" in generate_latest(reg)
assert om(reg).endswith(b"# EOF\\n")
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_prometheus_client_alias_shares_modules() -> None:
    """The aliased submodules are fastprom's own modules, not copies."""
    code = f"""
import sys, importlib, fastprom
sys.modules["prometheus_client"] = fastprom
for name in {ALIASED_MODULES!r}:
    importlib.import_module("prometheus_client." + name)
from prometheus_client import Counter, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Timestamp
from prometheus_client.openmetrics.exposition import generate_latest as om
from prometheus_client.registry import REGISTRY
Counter("x", "h").inc()
assert b"x_total 1.0" in generate_latest(REGISTRY)
assert REGISTRY is fastprom.REGISTRY
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


# The HTTP server, WSGI/ASGI apps and pushgateway client are another issue's work.
SERVING = {
    "MetricsHandler",
    "delete_from_gateway",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "push_to_gateway",
    "pushadd_to_gateway",
    "start_http_server",
    "start_wsgi_server",
}
# Typing helpers and imported constants of prometheus_client's modules, not API.
NOT_API = {"T", "F", "TYPE_CHECKING", "maxunicode", "INF"}


@pytest.mark.parametrize("module", ALIASED_MODULES)
def test_module_exports_the_same_names(module: str) -> None:
    want = importlib.import_module(f"prometheus_client.{module}")
    got = importlib.import_module(f"fastprom.{module}")
    public = getattr(want, "__all__", None) or [
        n
        for n, v in vars(want).items()
        if not n.startswith("_")
        and not inspect.ismodule(v)
        and getattr(v, "__module__", want.__name__) == want.__name__
    ]
    assert [n for n in public if not hasattr(got, n) and n not in SERVING | NOT_API] == []


def test_top_level_all() -> None:
    assert set(prometheus_client.__all__) - set(dir(FP.top)) - SERVING == set()
