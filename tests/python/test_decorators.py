"""Timers, in-progress trackers and exception counters as decorators and context managers.

On ``async def`` functions they measure the awaited execution (not the creation of the
coroutine); on generators and async generators they span the iteration. The decorated
function keeps its name, docstring, ``__wrapped__``, signature and kind.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Callable

import pytest

import fastprom

SLEEP = 0.02


@pytest.fixture
def reg() -> fastprom.CollectorRegistry:
    return fastprom.CollectorRegistry()


def _metrics(reg: fastprom.CollectorRegistry) -> dict[str, Any]:
    return {
        "histogram": fastprom.Histogram("h", "h", registry=reg),
        "summary": fastprom.Summary("s", "s", registry=reg),
        "gauge": fastprom.Gauge("g", "g", registry=reg),
    }


def _duration(reg: fastprom.CollectorRegistry, kind: str) -> float:
    return {
        "histogram": lambda: reg.get_sample_value("h_sum"),
        "summary": lambda: reg.get_sample_value("s_sum"),
        "gauge": lambda: reg.get_sample_value("g"),
    }[kind]()


def _count(reg: fastprom.CollectorRegistry, kind: str) -> float | None:
    return {"histogram": "h_count", "summary": "s_count"}.get(kind) and reg.get_sample_value(
        {"histogram": "h_count", "summary": "s_count"}[kind]
    )


# -- the four kinds of function -----------------------------------------------------------------


def sync_fn(x: int, *, y: str = "d") -> int:
    """Sync doc."""
    time.sleep(SLEEP)
    return x


async def async_fn(x: int, *, y: str = "d") -> int:
    """Async doc."""
    await asyncio.sleep(SLEEP)
    return x


def gen_fn(x: int, *, y: str = "d"):
    """Gen doc."""
    for i in range(x):
        time.sleep(SLEEP / x)
        yield i


async def agen_fn(x: int, *, y: str = "d"):
    """Agen doc."""
    for i in range(x):
        await asyncio.sleep(SLEEP / x)
        yield i


def call(fn: Callable[..., Any], *args: Any) -> Any:
    if inspect.isasyncgenfunction(fn):

        async def collect() -> list[Any]:
            return [i async for i in fn(*args)]

        return asyncio.run(collect())
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(*args))
    if inspect.isgeneratorfunction(fn):
        return list(fn(*args))
    return fn(*args)


FUNCTIONS = [sync_fn, async_fn, gen_fn, agen_fn]
KINDS = [inspect.iscoroutinefunction, inspect.isgeneratorfunction, inspect.isasyncgenfunction]


def _decorators(reg: fastprom.CollectorRegistry) -> dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]:
    m = _metrics(reg)
    return {
        "histogram.time": m["histogram"].time(),
        "summary.time": m["summary"].time(),
        "gauge.time": m["gauge"].time(),
        "gauge.track_inprogress": fastprom.Gauge("ip", "ip", registry=reg).track_inprogress(),
        "counter.count_exceptions": fastprom.Counter("e", "e", registry=reg).count_exceptions(ValueError),
    }


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "which",
    ["histogram.time", "summary.time", "gauge.time", "gauge.track_inprogress", "counter.count_exceptions"],
)
def test_wrapper_keeps_identity(reg: fastprom.CollectorRegistry, fn: Callable[..., Any], which: str) -> None:
    wrapped = _decorators(reg)[which](fn)
    assert wrapped.__name__ == fn.__name__
    assert wrapped.__qualname__ == fn.__qualname__
    assert wrapped.__doc__ == fn.__doc__
    assert wrapped.__wrapped__ is fn
    assert inspect.signature(wrapped) == inspect.signature(fn)
    assert [k(wrapped) for k in KINDS] == [k(fn) for k in KINDS]
    assert call(wrapped, 4) == call(fn, 4)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("kind", ["histogram", "summary", "gauge"])
def test_time_measures_execution(reg: fastprom.CollectorRegistry, fn: Callable[..., Any], kind: str) -> None:
    metric = _metrics(reg)[kind]
    wrapped = metric.time()(fn)
    if fn is not sync_fn:
        # Creating the coroutine or generator runs nothing, so it must record nothing.
        made = wrapped(2)
        if inspect.isasyncgen(made):
            asyncio.run(made.aclose())
        else:
            made.close()
        assert _count(reg, kind) in (None, 0.0)
        assert _duration(reg, kind) < SLEEP
    call(wrapped, 2)
    assert _duration(reg, kind) >= SLEEP
    if kind != "gauge":
        assert _count(reg, kind) == 1.0


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_time_on_exception(reg: fastprom.CollectorRegistry, fn: Callable[..., Any]) -> None:
    h = fastprom.Histogram("h", "h", registry=reg)
    counted = fastprom.Counter("e", "e", registry=reg)
    other = fastprom.Counter("o", "o", registry=reg)
    inprogress = fastprom.Gauge("ip", "ip", registry=reg)

    def boom(x: int) -> Any:
        raise ValueError("boom")

    def failing(f: Callable[..., Any]) -> Callable[..., Any]:
        """A function of the same kind as ``f`` that sleeps, then raises ValueError."""
        if inspect.isasyncgenfunction(f):

            async def g(x: int):
                yield 0
                await asyncio.sleep(SLEEP)
                boom(x)

            return g
        if inspect.iscoroutinefunction(f):

            async def c(x: int) -> None:
                await asyncio.sleep(SLEEP)
                boom(x)

            return c
        if inspect.isgeneratorfunction(f):

            def gen(x: int):
                yield 0
                time.sleep(SLEEP)
                boom(x)

            return gen

        def s(x: int) -> None:
            time.sleep(SLEEP)
            boom(x)

        return s

    target = failing(fn)
    wrapped = other.count_exceptions(KeyError)(
        counted.count_exceptions(ValueError)(inprogress.track_inprogress()(h.time()(target)))
    )
    with pytest.raises(ValueError, match="boom"):
        call(wrapped, 1)
    assert reg.get_sample_value("h_count") == 1.0
    assert reg.get_sample_value("h_sum") >= SLEEP
    assert reg.get_sample_value("e_total") == 1.0
    assert reg.get_sample_value("o_total") == 0.0
    assert reg.get_sample_value("ip") == 0.0


def test_track_inprogress_while_running(reg: fastprom.CollectorRegistry) -> None:
    g = fastprom.Gauge("ip", "ip", registry=reg)
    seen: list[float | None] = []

    @g.track_inprogress()
    async def work() -> None:
        seen.append(reg.get_sample_value("ip"))
        await asyncio.sleep(0)

    @g.track_inprogress()
    def gen():
        seen.append(reg.get_sample_value("ip"))
        yield 1
        seen.append(reg.get_sample_value("ip"))

    async def main() -> None:
        coros = [work(), work()]
        assert reg.get_sample_value("ip") == 0.0  # creating the coroutines does not count
        await asyncio.gather(*coros)

    asyncio.run(main())
    it = gen()
    next(it)
    assert reg.get_sample_value("ip") == 1.0  # suspended inside the generator
    list(it)
    assert seen == [1.0, 2.0, 1.0, 1.0]
    assert reg.get_sample_value("ip") == 0.0


def test_generator_closed_early(reg: fastprom.CollectorRegistry) -> None:
    h = fastprom.Histogram("h", "h", registry=reg)
    g = fastprom.Gauge("ip", "ip", registry=reg)

    @h.time()
    @g.track_inprogress()
    def gen():
        yield 1
        yield 2

    it = gen()
    assert next(it) == 1
    it.close()
    assert reg.get_sample_value("h_count") == 1.0
    assert reg.get_sample_value("ip") == 0.0


def test_generator_send_and_throw() -> None:
    h = fastprom.Histogram("h", "h", registry=None)

    @h.time()
    def echo():
        got = None
        while True:
            try:
                got = yield got
            except KeyError:
                got = "caught"

    it = echo()
    next(it)
    assert it.send(5) == 5
    assert it.throw(KeyError) == "caught"

    @h.time()
    async def aecho():
        got = None
        while True:
            try:
                got = yield got
            except KeyError:
                got = "caught"

    async def main() -> None:
        ait = aecho()
        await ait.__anext__()
        assert await ait.asend(7) == 7
        assert await ait.athrow(KeyError) == "caught"
        await ait.aclose()

    asyncio.run(main())


def test_generator_return_value() -> None:
    h = fastprom.Histogram("h", "h", registry=None)

    @h.time()
    def gen():
        yield 1
        return "done"

    def outer():
        return (yield from gen())

    it = outer()
    next(it)
    with pytest.raises(StopIteration) as info:
        next(it)
    assert info.value.value == "done"


# -- context managers --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["histogram", "summary", "gauge"])
def test_time_context_manager(reg: fastprom.CollectorRegistry, kind: str) -> None:
    metric = _metrics(reg)[kind]
    with metric.time() as t:
        time.sleep(SLEEP)
    assert t.duration >= SLEEP
    assert _duration(reg, kind) == t.duration
    with pytest.raises(KeyError), metric.time():
        raise KeyError
    if kind != "gauge":
        assert _count(reg, kind) == 2.0


@pytest.mark.parametrize("lib", ["fastprom", "prometheus_client"])
def test_timer_labels_inside_block(lib: str) -> None:
    mod = __import__(lib)
    reg = mod.CollectorRegistry()
    h = mod.Histogram("h", "h", ["route"], registry=reg)
    with h.time() as t:
        t.labels("/a")
    with h.time() as t:
        t.labels(route="/b")
    assert reg.get_sample_value("h_count", {"route": "/a"}) == 1.0
    assert reg.get_sample_value("h_count", {"route": "/b"}) == 1.0
    with pytest.raises(ValueError, match="missing label values"), h.time():
        pass


def test_count_exceptions_context_manager(reg: fastprom.CollectorRegistry) -> None:
    c = fastprom.Counter("e", "e", registry=reg)
    with pytest.raises(ZeroDivisionError), c.count_exceptions():
        1 / 0  # noqa: B018
    with pytest.raises(KeyError), c.count_exceptions((ValueError, TypeError)):
        raise KeyError
    with pytest.raises(TypeError), c.count_exceptions((ValueError, TypeError)):
        raise TypeError
    with c.count_exceptions():
        pass
    assert reg.get_sample_value("e_total") == 2.0


def test_track_inprogress_context_manager(reg: fastprom.CollectorRegistry) -> None:
    g = fastprom.Gauge("ip", "ip", registry=reg)
    with g.track_inprogress():
        with g.track_inprogress():
            assert reg.get_sample_value("ip") == 2.0
        assert reg.get_sample_value("ip") == 1.0
    assert reg.get_sample_value("ip") == 0.0


def test_decorating_methods_and_signature_like_prometheus_client() -> None:
    import prometheus_client

    def f(a: int, b: str = "x", *args: Any, c: float = 1.0, **kw: Any) -> str:
        return f"{a}{b}{c}"

    for mod in (fastprom, prometheus_client):
        h = mod.Histogram("h", "h", registry=None)

        class K:
            @h.time()
            def m(self, v: int) -> int:
                return v * 2

        assert K().m(3) == 6
        assert inspect.signature(h.time()(f)) == inspect.signature(f)
        assert h.time()(f)(1, c=2.5) == "1x2.5"
