"""Helpers shared by the test modules: the two libraries side by side, scenarios, parser
strategies, an in-process ASGI driver. Test modules import from here, never from each other.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import re
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, TypeVar

import prometheus_client
import prometheus_client.openmetrics.exposition
import prometheus_client.openmetrics.parser
import prometheus_client.parser
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import fastprom
import fastprom.openmetrics.exposition
from fastprom.registry import CollectorRegistry

T = TypeVar("T")

# -- prometheus_client (the oracle) and fastprom, side by side


FIXED_TIME = 123.456


@dataclass(frozen=True)
class Lib:
    """One of the two libraries, with the modules a scenario needs."""

    name: str
    top: ModuleType

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.top, attr)

    def module(self, path: str) -> ModuleType:
        return importlib.import_module(f"{self.name}.{path}")

    @property
    def core(self) -> ModuleType:
        return self.module("core")

    @property
    def om(self) -> ModuleType:
        return self.module("openmetrics.exposition")

    @property
    def exposition(self) -> ModuleType:
        return self.module("exposition")

    @property
    def validation(self) -> ModuleType:
        return self.module("validation")

    def text(self, registry: Any, **kw: Any) -> bytes:
        return self.top.generate_latest(registry, **kw)

    def openmetrics(self, registry: Any, **kw: Any) -> bytes:
        return self.om.generate_latest(registry, **kw)


PC = Lib("prometheus_client", prometheus_client)


FP = Lib("fastprom", fastprom)


def parsed(data: bytes, openmetrics: bool) -> str:
    """prometheus_client's parse of an exposition, as a comparable string (NaN-safe)."""
    parser = prometheus_client.openmetrics.parser if openmetrics else prometheus_client.parser
    return repr(list(parser.text_string_to_metric_families(data.decode("utf-8"))))


def assert_parses_alike(expected: bytes, actual: bytes, openmetrics: bool) -> None:
    """``actual`` parses to the same families as ``expected`` (or fails the same way)."""
    try:
        want: Any = parsed(expected, openmetrics)
    except Exception as exc:  # the oracle's own output may be unparseable (e.g. NaN bucket counts)
        want = type(exc)
    try:
        got: Any = parsed(actual, openmetrics)
    except Exception as exc:
        got = type(exc)
    assert got == want


def outputs(lib: Lib, registry: Any, escaping: str | None = None) -> tuple[bytes, bytes]:
    kw = {} if escaping is None else {"escaping": escaping}
    return lib.text(registry, **kw), lib.openmetrics(registry, **kw)


def assert_same_output(
    scenario: Callable[[Lib], Any], escaping: str | None = None, parse: bool = True
) -> tuple[bytes, bytes]:
    """Run ``scenario`` against both libraries; text and OpenMetrics bytes must be equal.

    ``scenario(lib)`` builds and returns something with ``collect()`` (usually a registry).
    Returns fastprom's (text, openmetrics) output.
    """
    want = outputs(PC, scenario(PC), escaping)
    got = outputs(FP, scenario(FP), escaping)
    assert got[0].decode() == want[0].decode()
    assert got[1].decode() == want[1].decode()
    if parse:
        assert_parses_alike(want[0], got[0], openmetrics=False)
        assert_parses_alike(want[1], got[1], openmetrics=True)
    return got


# -- scenarios: registries built the same way in both libraries


def everything(lib: Lib):
    reg = lib.CollectorRegistry()
    c = lib.Counter("requests_total", "Total requests.", ["method"], registry=reg)
    c.labels("get").inc()
    c.labels(method="post").inc(2.5)
    lib.Counter("plain", 'No labels "quoted" \\ back\nnewline', registry=reg).inc()
    g = lib.Gauge("temp", "Temp", ["loc"], unit="celsius", registry=reg)
    for loc, v in [
        ('a\\b"c\nd', 1e-5),
        ("big", 1e21),
        ("int", 12345678901234567890),
        ("inf", math.inf),
        ("nan", math.nan),
        ("neg", -0.0),
        ("one", 1),
    ]:
        g.labels(loc).set(v)
    s = lib.Summary("latency_seconds", "Latency", registry=reg)
    s.observe(0.7)
    s.observe(1.3)
    h = lib.Histogram("size_bytes", "Size", buckets=[1, 10, 100.5, 1e6, 1e7], registry=reg)
    h.observe(5)
    lib.Info("build", "Build info", registry=reg).info({"version": "1.2.3", "commit": "abc"})
    lib.Enum("state", "Task state", states=["starting", "running", "stopped"], registry=reg).state("running")
    return reg


def custom_families(lib: Lib):
    core = lib.core

    class Custom:
        def collect(self):
            g = core.GaugeMetricFamily("ts_gauge", "With timestamp", labels=["k"])
            g.add_metric(["v"], 3, timestamp=1600000000.123)
            g.add_metric(["w"], 4, timestamp=core.Timestamp(1600000000, 5))
            yield g
            yield core.GaugeMetricFamily("plain_gauge", "help", value=7, unit="bytes")
            c = core.CounterMetricFamily("cf", "counter", labels=["a"], created=100.5)
            c.add_metric(["1"], 2, created=50, timestamp=10)
            c.add_metric(["2"], 3, exemplar=core.Exemplar({"t": "1"}, 1.5, 1234.5))
            yield c
            yield core.CounterMetricFamily("cf2_total", "counter", value=1, created=2)
            s = core.SummaryMetricFamily("sf", "summary", labels=["a"])
            s.add_metric(["x"], count_value=3, sum_value=4.5, timestamp=7)
            yield s
            h = core.HistogramMetricFamily("hf", "histogram", labels=["a"], unit="seconds")
            h.add_metric(
                ["x"],
                buckets=[("0.5", 1), ("1.0", 2, core.Exemplar({"a": "b"}, 0.7, core.Timestamp(5, 6))), ("+Inf", 3)],
                sum_value=2.5,
            )
            yield h
            yield core.HistogramMetricFamily("hf2", "histogram", buckets=[("1", 1), ("+Inf", 2)], sum_value=None)
            yield core.GaugeHistogramMetricFamily(
                "gh", "Gauge histogram", buckets=[("1.0", 4), ("+Inf", 5)], gsum_value=7
            )
            yield core.InfoMetricFamily("build", "info", value={"v": "1"})
            i = core.InfoMetricFamily("binfo", "info", labels=["l"])
            i.add_metric(["x"], {"v": "2"}, timestamp=3)
            yield i
            yield core.StateSetMetricFamily("ss", "stateset", value={"a": True, "b": False})
            ss = core.StateSetMetricFamily("ss2", "stateset", labels=["l"])
            ss.add_metric(["x"], {"on": 1, "off": 0})
            yield ss
            yield core.UnknownMetricFamily("unk", "Unknown", value=2)
            yield core.UntypedMetricFamily("unt", "Untyped", labels=["q"])
            m = core.Metric("raw", "raw metric", "gauge")
            m.add_sample("raw", {"b": "2", "a": "1"}, 1.0)
            m.add_sample("raw", {}, 2.0, timestamp=core.Timestamp(-3, 500))
            yield m

    reg = lib.CollectorRegistry()
    reg.register(Custom())
    return reg


def utf8_names(lib: Lib):
    reg = lib.CollectorRegistry()
    lib.Gauge("my.dotted.gauge", "dots", ["lab.el", "ü"], registry=reg).labels("v", "w").set(1)
    lib.Counter("héllo_wörld", "unicode", registry=reg).inc()
    lib.Histogram("a-b", "dash", ["x.y"], buckets=[1], registry=reg).labels("1").observe(0.5)
    lib.Gauge("with_underscore__x", "u", ["a_b"], registry=reg).labels("c").set(2)
    lib.Gauge("9starts_with_digit", "d", registry=reg).set(3)
    lib.Info("i.nfo", "i", registry=reg).info({"k.e.y": "v"})
    lib.Enum("e.num", "e", states=["a.b", "c"], registry=reg).state("c")
    return reg


# -- text exposition parsing: comparison and hypothesis building blocks


PARSER_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _number(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    if hasattr(v, "nsec"):  # Timestamp
        return ("ts", v.sec, v.nsec)
    return (type(v).__name__, v)


def _sample(s: Any) -> tuple:
    exemplar = s.exemplar and (s.exemplar.labels, _number(s.exemplar.value), _number(s.exemplar.timestamp))
    native = s.native_histogram and tuple(_number(f) if isinstance(f, (int, float)) else f for f in s.native_histogram)
    return (s.name, s.labels, _number(s.value), _number(s.timestamp), exemplar, native)


def families(parse: Callable[[str], Any], text: str) -> Any:
    """The parse result as comparable tuples, or the exception class it raised."""
    try:
        return [(m.name, m.documentation, m.type, m.unit, [_sample(s) for s in m.samples]) for m in parse(text)]
    except ValueError:
        return ValueError


def assert_same(ours: Callable[[str], Any], theirs: Callable[[str], Any], text: str) -> Any:
    expected = families(theirs, text)
    assert families(ours, text) == expected, text
    return expected


# Building blocks for generated expositions, shared with the OpenMetrics tests.
legacy_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True)


utf8_metric_names = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)


label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,6}", fullmatch=True) | st.text(
    st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6
).filter(lambda s: not s.startswith("__"))


label_values = st.text(st.sampled_from('ab"\\\n{},= #é☃\t') | st.characters(exclude_categories=("Cs",)), max_size=8)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metric_name(name: str) -> str:
    """A name as written in a HELP/TYPE line: bare if legacy, quoted otherwise."""
    return name if _legacy(name) else f'"{escape(name)}"'


def _legacy(name: str) -> bool:
    return re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name) is not None


def series(name: str, labels: dict[str, str]) -> str:
    """``name{labels}`` with the name moved into the braces when it needs quoting."""
    terms = [f'{k if _legacy(k) else chr(34) + escape(k) + chr(34)}="{escape(v)}"' for k, v in labels.items()]
    if not _legacy(name):
        return "{" + ",".join([f'"{escape(name)}"', *terms]) + "}"
    return name + ("{" + ",".join(terms) + "}" if terms else "")


# -- an in-process ASGI driver


Message = dict[str, Any]


def http_scope(
    path: str,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": root_path,
        "headers": headers or [],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


def call(
    app: Callable[..., Awaitable[None]],
    scope: dict[str, Any],
    body: list[bytes] | None = None,
) -> list[Message]:
    """Run one request through ``app``; the messages it sent."""
    chunks = list(body or [b""])
    sent: list[Message] = []

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def run_closing(client: Any, main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())`` with a google-genai client, closing the client's async connections
    before the loop ends (left open, they are leaked as unclosed transports of a closed loop)."""

    async def run() -> T:
        try:
            return await main()
        finally:
            await client.aio.aclose()

    return asyncio.run(run())


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


# -- reading a text exposition


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")


_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text exposition: (name, label set) -> value."""
    result = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = frozenset(_LABEL.findall(match.group(2) or ""))
            result[(match.group(1), labels)] = float(match.group(3))
    return result


# -- the JSON documents of the seed systems (seeds 000 and 002), key for key


STATUS_KEYS = (
    "server_status",
    "llm_status",
    "last_heartbeat",
    "model_short_name",
    "tokens_per_second",
    "data_rate",
    "average_response_time",
    "total_requests",
    "active_tasks",
    "queue_length",
    "llm_usage_count",
    "api_costs",
    "success_rate",
    "task_sizes",
)
"""The status document of seed 000, in its order."""

SESSION_KEYS = (
    "session_id",
    "total_requests",
    "successful_requests",
    "failed_requests",
    "total_duration_ms",
    "average_duration_ms",
    "total_prompt_tokens",
    "total_completion_tokens",
    "total_tokens",
    "average_tokens_per_request",
    "requests_with_tools",
)
"""A session of seed 002, in its order."""


def weather_with_afc(client: Any, fake: Any, model: str) -> Any:
    """One ``generate_content`` whose tool google-genai runs by automatic function calling
    against the fake server (two HTTP requests: the function call, then the answer)."""
    from google.genai import types

    def get_weather(city: str) -> str:
        """Return the weather of a city."""
        return f"sunny in {city}"

    fake.function_args = {"city": "Paris"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # google-genai recommends chats for AFC
        return client.models.generate_content(
            model=model, contents="weather?", config=types.GenerateContentConfig(tools=[get_weather])
        )
