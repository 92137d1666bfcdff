"""The writing side of multiprocess mode against prometheus_client 0.26, on real files.

The same operations run in fastprom and in prometheus_client, each in its own process and
directory; the files must hold the same bytes (names with the pid made equal), and
prometheus_client's own ``MultiProcessCollector`` (the oracle reader) must render the same
bytes from both directories. In-process tests switch ``values.ValueClass`` as
prometheus_client's tests do, and restore it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry as PcRegistry
from prometheus_client import generate_latest as pc_generate_latest
from prometheus_client.mmap_dict import MmapedDict as PcMmapedDict
from prometheus_client.mmap_dict import mmap_key as pc_mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest as pc_om_generate_latest

import fastprom
from fastprom import mmap_dict, values

MODES = ["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent"]

# Runs in a fresh interpreter: argv[1] is the library, the directory is in the environment.
SCENARIO = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    warnings.simplefilter("ignore")
    time.time = lambda: 1700000000.25
    if sys.argv[1] == "fastprom":
        import fastprom as P
        from fastprom import values
    else:
        import prometheus_client as P
        from prometheus_client import values
    reg = P.CollectorRegistry()
    odd = 'é"\\\\\\n😀\\t'
    c = P.Counter("c", "counter " + odd, ["a", "b"], registry=reg)
    c.labels("1", "2").inc()
    c.labels(a=odd, b="x").inc(2.5)
    c.labels("1", "2").inc(0.5, exemplar={"trace": "t"})
    plain = P.Counter("plain_total", "plain", namespace="ns", subsystem="ss", registry=reg)
    plain.inc(3)
    plain.reset()
    plain.inc(1)
    with plain.count_exceptions():
        pass
    try:
        with plain.count_exceptions(KeyError):
            raise KeyError("k")
    except KeyError:
        pass
    for i, mode in enumerate(%(modes)r):
        g = P.Gauge("g_" + mode, "gauge " + mode, ["l"], multiprocess_mode=mode, registry=reg)
        g.labels("set").set(i * 1.5 - 2)
        g.labels("now").set_to_current_time()
        g.labels("untouched")
        if not mode.endswith("mostrecent"):
            g.labels("inc").inc(3)
            g.labels("inc").dec(0.5)
            with g.labels("tracked").track_inprogress():
                pass
    solo = P.Gauge("solo", "solo gauge", registry=reg)
    solo.set(-7)
    s = P.Summary("s", "summary", ["l"], registry=reg)
    s.labels("q").observe(1.5)
    s.labels("q").observe(-2)
    s.labels("empty")
    h = P.Histogram("h", "histogram", ["l"], buckets=[-1, 0.1, 1, 7], registry=reg)
    for v in (-5, 0.05, 0.1, 0.5, 3, 100, float("nan")):
        h.labels("x").observe(v)
    h.labels("x").observe(0.2, exemplar={"trace": "t"})
    h.labels("empty")
    hd = P.Histogram("hd_seconds", "default buckets", unit="seconds", registry=reg)
    hd.observe(0.3)
    P.Info("i", "info", registry=reg).info({"k": "v"})
    P.Enum("e", "enum", states=["a", "b"], registry=reg).state("b")
    # remove and recreate: the new child reads the value the file holds
    c.remove("1", "2")
    c.labels("1", "2").inc(10)
    # a custom process identifier, changed: every value of the class moves to new files
    ident = ["A"]
    values.ValueClass = values.MultiProcessValue(lambda: ident[0])
    pc1 = P.Counter("pc1", "custom", registry=None)
    pc1.inc(4)
    ph = P.Histogram("ph", "custom", ["l"], buckets=[1], registry=None)
    ph.labels("a").observe(0.5)
    ident[0] = "B"
    pc1.inc(1)
    pc2 = P.Counter("pc2", "created after the change", registry=None)
    pc2.inc(2)
    sys.stdout.write(json.dumps({"pid": os.getpid(), "out": P.generate_latest(reg).decode()}))
    """
) % {"modes": MODES}


def run_scenario(lib: str, directory: Path, script: str = SCENARIO) -> dict:
    import json

    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    env.pop("prometheus_multiproc_dir", None)
    done = subprocess.run(
        [sys.executable, "-c", script, lib], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def files_by_name(directory: Path, pid: int) -> dict[str, bytes]:
    return {p.name.replace(f"_{pid}.db", "_PID.db"): p.read_bytes() for p in directory.iterdir()}


def collected(directory: Path) -> tuple[bytes, bytes]:
    reg = PcRegistry()
    MultiProcessCollector(reg, path=str(directory))
    return pc_generate_latest(reg), pc_om_generate_latest(reg)


def collected_alike(directory: Path, names: dict[str, bytes]) -> tuple[bytes, bytes]:
    """The collector's output over ``names`` written to ``directory`` (created) in sorted
    order: the collector follows the directory's listing order, which is the same for the
    same names created the same way in the same file system."""
    directory.mkdir()
    for name in sorted(names):
        (directory / name).write_bytes(names[name])
    return collected(directory)


@pytest.fixture
def two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "pc", tmp_path / "fp"
    a.mkdir()
    b.mkdir()
    return a, b


def test_same_files_and_merge_as_prometheus_client(two_dirs: tuple[Path, Path]) -> None:
    pc_dir, fp_dir = two_dirs
    theirs = run_scenario("prometheus_client", pc_dir)
    ours = run_scenario("fastprom", fp_dir)
    pc_files = files_by_name(pc_dir, theirs["pid"])
    fp_files = files_by_name(fp_dir, ours["pid"])
    expected = {"counter_PID.db", "summary_PID.db", "histogram_PID.db", "counter_A.db", "counter_B.db"}
    expected |= {"histogram_A.db", "histogram_B.db"} | {f"gauge_{m}_PID.db" for m in MODES}
    assert set(pc_files) == expected
    assert set(fp_files) == expected
    for name, data in pc_files.items():
        # Every byte: header, keys, padding, values, timestamps and the file's size.
        assert fp_files[name] == data, name
    # The new identifier's files got every key of the class at the change, in order.
    keys_b = [k for k, _, _, _ in PcMmapedDict.read_all_values_from_file(str(fp_dir / "counter_B.db"))]
    assert keys_b == [
        pc_mmap_key("pc1", "pc1_total", [], [], "custom"),
        pc_mmap_key("pc2", "pc2_total", [], [], "created after the change"),
    ]
    same_pc = collected_alike(pc_dir.parent / "pc_same", pc_files)
    assert collected_alike(fp_dir.parent / "fp_same", fp_files) == same_pc
    assert b'c_total{a="1",b="2"} 11.5' in same_pc[0]
    # This process's view (the registry renders its own values; exemplars dropped).
    assert ours["out"] == theirs["out"]


FORK = textwrap.dedent(
    """
    import json, os, sys
    if sys.argv[1] == "fastprom":
        import fastprom as P
    else:
        import prometheus_client as P
    c = P.Counter("c", "forked", ["l"], registry=None)
    c.labels("a").inc(5)
    g = P.Gauge("g", "forked", registry=None, multiprocess_mode="livesum")
    g.set(2)
    pid = os.fork()
    if pid == 0:
        # The child's first update goes to a file of its own pid, holding every key at 0.
        c.labels("a").inc(1)
        code = 0 if c.labels("a")._value.get() == 1 else 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    c.labels("a").inc(1)
    sys.stdout.write(json.dumps({"pid": os.getpid(), "child": pid, "status": status}))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_writes_its_own_file(two_dirs: tuple[Path, Path]) -> None:
    pc_dir, fp_dir = two_dirs
    theirs = run_scenario("prometheus_client", pc_dir, FORK)
    ours = run_scenario("fastprom", fp_dir, FORK)
    assert theirs["status"] == 0
    assert ours["status"] == 0

    def normalized(directory: Path, info: dict) -> dict[str, list]:
        out = {}
        for p in directory.iterdir():
            name = p.name.replace(f"_{info['pid']}.db", "_PARENT.db").replace(f"_{info['child']}.db", "_CHILD.db")
            out[name] = [(k, v, t) for k, v, t, _ in PcMmapedDict.read_all_values_from_file(str(p))]
        return out

    files = normalized(fp_dir, ours)
    assert files == normalized(pc_dir, theirs)

    def renamed(directory: Path, info: dict) -> dict[str, bytes]:
        pids = {f"_{info['pid']}.db": "_PARENT.db", f"_{info['child']}.db": "_CHILD.db"}
        out = {}
        for p in directory.iterdir():
            name = p.name
            for old, new in pids.items():
                name = name.replace(old, new)
            out[name] = p.read_bytes()
        return out

    pc_bytes = renamed(pc_dir, theirs)
    assert renamed(fp_dir, ours) == pc_bytes
    key = pc_mmap_key("c", "c_total", ["l"], ["a"], "forked")
    assert [e for e in files["counter_PARENT.db"] if e[0] == key] == [(key, 6.0, 0.0)]
    assert [e for e in files["counter_CHILD.db"] if e[0] == key] == [(key, 1.0, 0.0)]
    # The child never set the gauge: its file has the key at 0, the parent's keeps 2.
    assert [v for _, v, _ in files["gauge_livesum_CHILD.db"]] == [0.0]
    assert [v for _, v, _ in files["gauge_livesum_PARENT.db"]] == [2.0]
    same_pc = collected_alike(pc_dir.parent / "pc_same", pc_bytes)
    assert b'c_total{l="a"} 7.0' in same_pc[0]
    assert collected_alike(fp_dir.parent / "fp_same", renamed(fp_dir, ours)) == same_pc


# ---------------------------------------------------------------------------------- in-process


@pytest.fixture
def mp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Multiprocess mode in this process, as prometheus_client's tests set it up."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    yield tmp_path
    values.close_all_multiprocess_files()
    values.ValueClass = values.MutexValue


def entries(path: Path) -> list[tuple[str, float, float]]:
    return [(k, v, t) for k, v, t, _ in PcMmapedDict.read_all_values_from_file(str(path))]


def test_value_class_follows_the_environment(mp_dir: Path) -> None:
    cls = values.get_value_class()
    assert cls._multiprocess
    assert values.ValueClass is values.MutexValue
    values.ValueClass = cls
    assert values.ValueClass is cls
    fastprom.Counter("c", "help", registry=None).inc(2)
    assert entries(mp_dir / f"counter_{os.getpid()}.db") == [(pc_mmap_key("c", "c_total", [], [], "help"), 2.0, 0.0)]
    values.ValueClass = values.MutexValue
    fastprom.Counter("local", "help", registry=None).inc()
    assert [p.name for p in mp_dir.iterdir()] == [f"counter_{os.getpid()}.db"]
    with pytest.raises(TypeError, match="MutexValue or a class returned by MultiProcessValue"):
        values.ValueClass = object
    assert values.ValueClass is values.MutexValue


def test_pid_change_at_creation_and_update(mp_dir: Path) -> None:
    # prometheus_client's test_initialization_detects_pid_change and test_counter_across_forks
    pid = [0]
    values.ValueClass = values.MultiProcessValue(lambda: pid[0])
    c1 = fastprom.Counter("c1", "c1", registry=None)
    assert sorted(os.listdir(mp_dir)) == ["counter_0.db"]
    c1.inc(1)
    c1.inc(1)
    fastprom.Counter("c2", "c2", registry=None)
    assert sorted(os.listdir(mp_dir)) == ["counter_0.db"]
    pid[0] = 1
    fastprom.Counter("c3", "c3", registry=None)
    assert sorted(os.listdir(mp_dir)) == ["counter_0.db", "counter_1.db"]
    keys = [pc_mmap_key(n, n + "_total", [], [], n) for n in ("c1", "c2", "c3")]
    assert entries(mp_dir / "counter_1.db") == [(k, 0.0, 0.0) for k in keys]
    c1.inc(1)
    assert c1._value.get() == 1.0
    assert entries(mp_dir / "counter_0.db")[0] == (keys[0], 2.0, 0.0)
    reg = PcRegistry()
    MultiProcessCollector(reg, path=str(mp_dir))
    assert reg.get_sample_value("c1_total") == 3.0


def test_every_gauge_mode_merges_as_prometheus_client(mp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = PcRegistry()
    MultiProcessCollector(reg, path=str(mp_dir))
    for mode in MODES:
        values.ValueClass = values.MultiProcessValue(lambda: 123)
        g1 = fastprom.Gauge("g_" + mode, "help", registry=None, multiprocess_mode=mode)
        values.ValueClass = values.MultiProcessValue(lambda: 456)
        g2 = fastprom.Gauge("g_" + mode, "help", registry=None, multiprocess_mode=mode)
        monkeypatch.setattr(time, "time", lambda: 200.0)
        g2.set(2)
        monkeypatch.setattr(time, "time", lambda: 100.0)
        g1.set(1)
    got = {(s.name, s.labels.get("pid")): s.value for m in reg.collect() for s in m.samples if s.name.startswith("g_")}
    assert got[("g_all", "123")] == 1 and got[("g_all", "456")] == 2
    assert got[("g_min", None)] == 1 and got[("g_max", None)] == 2 and got[("g_sum", None)] == 3
    assert got[("g_mostrecent", None)] == 2  # set at the later time, though set first
    assert got[("g_livesum", None)] == 3


def test_threads_lose_no_increment(mp_dir: Path) -> None:
    values.ValueClass = values.MultiProcessValue()
    c = fastprom.Counter("c", "threads", ["t"], registry=None)
    h = fastprom.Histogram("h", "threads", registry=None, buckets=[1])
    per_thread = 20_000

    def work() -> None:
        child = c.labels("shared")
        for _ in range(per_thread):
            child.inc()
            h.observe(0.5)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_key = {k: v for k, v, _ in entries(mp_dir / f"counter_{os.getpid()}.db")}
    assert by_key[pc_mmap_key("c", "c_total", ["t"], ["shared"], "threads")] == 6 * per_thread
    by_key = {k: v for k, v, _ in entries(mp_dir / f"histogram_{os.getpid()}.db")}
    assert by_key[pc_mmap_key("h", "h_bucket", ["le"], ["1.0"], "threads")] == 6 * per_thread
    assert by_key[pc_mmap_key("h", "h_sum", [], [], "threads")] == 0.5 * 6 * per_thread


def test_missing_directory_names_it_and_registers_nothing(mp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = mp_dir / "nope"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(missing))
    values.ValueClass = values.MultiProcessValue()
    reg = fastprom.CollectorRegistry()
    with pytest.raises(FileNotFoundError) as err:
        fastprom.Counter("c", "help", registry=reg)
    assert err.value.filename == str(missing / f"counter_{os.getpid()}.db")
    assert str(missing) in str(err.value)
    assert list(reg.collect()) == []
    labelled = fastprom.Counter("l", "help", ["a"], registry=reg)
    with pytest.raises(FileNotFoundError):
        labelled.labels("x")
    assert b"l_total{" not in fastprom.generate_latest(reg)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    with pytest.raises(TypeError, match="PROMETHEUS_MULTIPROC_DIR"):
        fastprom.Gauge("g", "help", registry=None)


def test_unwritable_directory_is_permission_error(mp_dir: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    mp_dir.chmod(0o500)
    try:
        values.ValueClass = values.MultiProcessValue()
        with pytest.raises(PermissionError, match=str(mp_dir)):
            fastprom.Summary("s", "help", registry=None)
    finally:
        mp_dir.chmod(0o700)


def test_lowercase_variable_warns_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # prometheus_client's test_deprecation_warning
    # Set first, so that monkeypatch removes it again after the code under test copied the
    # lower-case variable into it (delenv of an absent variable records nothing).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setenv("prometheus_multiproc_dir", str(tmp_path))
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            values.ValueClass = values.get_value_class()
            fastprom.Counter("c", "help", registry=None)
            fastprom.Histogram("h", "help", registry=None)
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
        assert len(w) == 1
        assert issubclass(w[0].category, DeprecationWarning)
        assert "PROMETHEUS_MULTIPROC_DIR" in str(w[0].message)
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        values.close_all_multiprocess_files()
        values.ValueClass = values.MutexValue


def test_remove_and_clear_warn_and_act(mp_dir: Path) -> None:
    values.ValueClass = values.get_value_class()
    reg = fastprom.CollectorRegistry()
    c = fastprom.Counter("c", "help", ["label"], registry=reg)
    c.labels("a").inc()
    c.labels("b").inc()
    c.labels("c").inc()
    with pytest.warns(UserWarning, match="^Removal of labels has not been implemented in  multi-process mode yet.$"):
        c.remove("a")
    with pytest.warns(UserWarning, match="^Removal of labels has not been implemented"):
        c.remove_by_labels({"label": "b"})
    assert fastprom.generate_latest(reg).count(b"c_total{") == 1
    with pytest.warns(UserWarning, match="^Clearing labels has not been implemented in multi-process mode yet$"):
        c.clear()
    assert b"c_total{" not in fastprom.generate_latest(reg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastprom.Counter("solo", "no labels", registry=None).clear()  # returns before warning


def test_exemplars_dropped_and_info_enum_in_process(mp_dir: Path) -> None:
    values.ValueClass = values.get_value_class()
    reg = fastprom.CollectorRegistry()
    fastprom.Counter("c", "help", registry=reg).inc(exemplar={"a": "b"})
    fastprom.Histogram("h", "help", registry=reg).observe(1, exemplar={"a": "b"})
    fastprom.Info("i", "help", registry=reg).info({"k": "v"})
    fastprom.Enum("e", "help", states=["x"], registry=reg)
    text = fastprom.openmetrics.exposition.generate_latest(reg)
    assert b"#" not in text.replace(b"# HELP", b"").replace(b"# TYPE", b"").replace(b"# EOF", b"")
    assert sorted(p.name.split("_")[0] for p in mp_dir.iterdir()) == ["counter", "histogram"]


def test_standalone_mmaped_value(mp_dir: Path) -> None:
    cls = values.MultiProcessValue(lambda: "x")
    v = cls("gauge", "g", "g", ("a",), ("1",), "help", multiprocess_mode="max")
    v.inc(2)
    v.set(5, timestamp=7.5)
    assert v.get() == 5
    v.set_exemplar(object())
    assert v.get_exemplar() is None
    key = pc_mmap_key("g", "g", ["a"], ["1"], "help")
    assert entries(mp_dir / "gauge_max_x.db") == [(key, 5.0, 7.5)]
    cls.close_all_files()
    assert cls._store.open_files == 0


def test_asgi_middleware_writes_the_files(mp_dir: Path) -> None:
    # The middleware updates its children from Rust: in multiprocess mode, into the files.
    from _helpers import call, http_scope

    from fastprom.asgi import UNMATCHED_ROUTE, PrometheusMiddleware

    values.ValueClass = values.MultiProcessValue(lambda: "w")

    async def app(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    middleware = PrometheusMiddleware(app, registry=fastprom.CollectorRegistry())
    for _ in range(3):
        call(middleware, http_scope("/x"))
    reg = PcRegistry()
    MultiProcessCollector(reg, path=str(mp_dir))
    labels = {"method": "GET", "route": UNMATCHED_ROUTE, "status": "204"}
    assert reg.get_sample_value("http_requests_total", labels) == 3
    route = {"method": "GET", "route": UNMATCHED_ROUTE}
    assert reg.get_sample_value("http_request_duration_seconds_count", route) == 3
    assert reg.get_sample_value("http_response_size_bytes_count", route) == 3
    assert reg.get_sample_value("http_requests_in_progress", {"method": "GET"}) == 0
    assert (mp_dir / "gauge_livesum_w.db").exists()


# ------------------------------------------------------------------------------------ mmap_dict


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "d.db"


def test_mmaped_dict_as_prometheus_client(db_file: Path, tmp_path: Path) -> None:
    ours = mmap_dict.MmapedDict(str(db_file))
    theirs = PcMmapedDict(str(tmp_path / "theirs.db"))
    big = "a" * mmap_dict._INITIAL_MMAP_SIZE * 4
    for d in (ours, theirs):
        d.write_value("abc", 42.0, 987.0)
        d.write_value(big, 123.0, 876.0)
        assert d.read_value("new") == (0.0, 0.0)
        d.write_value("é", 17.0, 765.0)
    assert list(ours.read_all_values()) == list(theirs.read_all_values())
    ours.close()
    theirs.close()
    assert db_file.read_bytes() == (tmp_path / "theirs.db").read_bytes()
    reopened = mmap_dict.MmapedDict(str(db_file))
    assert reopened.read_value("abc") == (42.0, 987.0)
    reopened.close()
    assert list(mmap_dict.MmapedDict.read_all_values_from_file(str(db_file))) == list(
        PcMmapedDict.read_all_values_from_file(str(db_file))
    )
    assert mmap_dict.mmap_key("m", "m_total", ["b", "a"], ["1", 2], "h") == pc_mmap_key(
        "m", "m_total", ["b", "a"], ["1", "2"], "h"
    )


def test_mmaped_dict_reads_prometheus_client_files(db_file: Path) -> None:
    theirs = PcMmapedDict(str(db_file))
    theirs.write_value("k1", 1.5, 0.0)
    theirs.write_value("k2", -2.0, 3.0)
    theirs.close()
    ours = mmap_dict.MmapedDict(str(db_file))
    assert list(ours.read_all_values()) == [("k1", 1.5, 0.0), ("k2", -2.0, 3.0)]
    ours.write_value("k1", 9.0, 0.0)
    ours.close()
    assert list(mmap_dict.MmapedDict(str(db_file), read_mode=True).read_all_values()) == [
        ("k1", 9.0, 0.0),
        ("k2", -2.0, 3.0),
    ]


def test_mmaped_dict_corruption_detected(db_file: Path) -> None:
    # prometheus_client's TestMmapedDict.test_corruption_detected, through ``_m``
    d = mmap_dict.MmapedDict(str(db_file))
    d.write_value("abc", 42.0, 987.0)
    d._m[8:16] = b"somejunk"
    with pytest.raises(RuntimeError, match=str(db_file)):
        list(d.read_all_values())
    d.close()
    with pytest.raises(ValueError, match="closed"):
        d.read_value("abc")


FULL_DISK = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    import fastprom
    from fastprom import values
    # The files may not grow past 200 000 bytes: a growth fails as on a full disk (EFBIG
    # instead of ENOSPC; the same failing write), without filling a real disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
    g = fastprom.Gauge("g", "kept", multiprocess_mode="livesum")
    g.set(5)
    c = fastprom.Counter("c", "grows", ["i"])
    error = None
    for i in range(100_000):
        try:
            c.labels(str(i)).inc()
        except OSError as e:
            error = {"errno": e.errno, "filename": e.filename, "text": str(e), "at": i}
            break
    # The process goes on: existing series update, the other file is intact.
    c.labels("0").inc(2)
    g.inc(1)
    sys.stdout.write(json.dumps(error))
    """
)


def test_a_file_that_cannot_grow_is_a_clear_error(tmp_path: Path) -> None:
    import errno

    error = run_scenario("fastprom", tmp_path, FULL_DISK)
    assert error is not None, "the files never stopped growing"
    assert error["errno"] == errno.EFBIG
    assert error["filename"].startswith(str(tmp_path)) and "counter_" in error["filename"]
    assert error["filename"] in error["text"]
    # Every file still parses; the counts acknowledged before the failure are all there.
    reg = PcRegistry()
    MultiProcessCollector(reg, path=str(tmp_path))
    assert reg.get_sample_value("g") == 6.0
    assert reg.get_sample_value("c_total", {"i": "0"}) == 3.0
    counted = [s for m in reg.collect() if m.name == "c" for s in m.samples]
    assert len(counted) == error["at"]


C_FORK = textwrap.dedent(
    """
    import ctypes, json, os, sys
    import fastprom
    c = fastprom.Counter("c", "forked by C")
    c.inc(5)
    # fork() called directly, as C code would: Python's at-fork hooks do not run.
    pid = ctypes.CDLL(None).fork()
    if pid == 0:
        c.inc(1)
        os._exit(0 if c._value.get() == 1 else 3)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(json.dumps({"parent": os.getpid(), "child": pid, "status": status}))
    """
)


def test_a_fork_made_by_c_code_writes_files_of_its_own_pid(tmp_path: Path) -> None:
    run = run_scenario("fastprom", tmp_path, C_FORK)
    assert run["status"] == 0
    key = pc_mmap_key("c", "c_total", [], [], "forked by C")
    assert entries(tmp_path / f"counter_{run['parent']}.db") == [(key, 5.0, 0.0)]
    assert entries(tmp_path / f"counter_{run['child']}.db") == [(key, 1.0, 0.0)]
