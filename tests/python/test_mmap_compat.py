"""The Rust multiprocess core against prometheus_client 0.26, on real files.

prometheus_client workers (real subprocesses, every metric type and gauge mode) write a
directory; the core's merge (driven through the ``mp_tool`` example binary until it has
Python bindings) must render the same bytes as ``MultiProcessCollector``, in both formats,
before and after ``mark_process_dead``. The core's writer must produce the very bytes
``MmapedDict`` writes for the same sequence of writes, growth included.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.openmetrics.exposition import generate_latest as om_generate_latest

ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import sys
    from prometheus_client import Counter, Gauge, Histogram, Summary

    role = int(sys.argv[1])
    modes = ["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
             "mostrecent", "livemostrecent"]
    odd = 'é"\\\\\\n😀\\t\\x01 \\x7f'
    if role % 2:
        # Only some workers have this one: the family order follows the files.
        Counter("late", "only odd workers").inc(role)
    c = Counter("c", "counter help " + odd, ["a"])
    c.labels("x").inc(role + 1)
    c.labels("only%d" % role).inc(0.25)
    c.labels(odd).inc(1e-05)
    for i, mode in enumerate(modes):
        g = Gauge("g_" + mode, "gauge " + mode, ["a"], multiprocess_mode=mode)
        g.labels("x").set(role * 1.5 - i)
        g.labels("r%d" % (role % 2)).set(-role)
        if role == 0:
            g.labels("untouched")
    Gauge("plain", "no labels", multiprocess_mode="max").set(role)
    h = Histogram("h", "hist", ["a"], buckets=[0.1, 1, 2.5, 1e6])
    for v in (0.05, 0.5, 2, 3e6, role):
        h.labels("x").observe(v)
    h.labels(str(role)).observe(0.2)
    s = Summary("s", "summary", ["a"])
    s.labels("x").observe(0.1 * (role + 1))
    s.labels("y").observe(role)
    """
)


@pytest.fixture(scope="session")
def mp_tool() -> Path:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is needed to build the mp_tool example")
    out = subprocess.run(
        [cargo, "build", "-q", "--no-default-features", "--example", "mp_tool", "--message-format=json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "mp_tool":
            return Path(msg["executable"])
    raise AssertionError("cargo did not report the mp_tool executable")


def run_workers(directory: Path, roles: range) -> None:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    env.pop("prometheus_multiproc_dir", None)
    for role in roles:
        subprocess.run([sys.executable, "-c", WORKER, str(role)], env=env, check=True)


def python_view(directory: Path) -> tuple[bytes, bytes]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry), om_generate_latest(registry)


def rust_view(mp_tool: Path, directory: Path) -> tuple[bytes, bytes, str]:
    text = subprocess.run([mp_tool, "merge", directory, "text"], check=True, capture_output=True)
    om = subprocess.run([mp_tool, "merge", directory, "openmetrics"], check=True, capture_output=True)
    return text.stdout, om.stdout, text.stderr.decode()


def test_merge_matches_prometheus_client(mp_tool: Path, tmp_path: Path) -> None:
    run_workers(tmp_path, range(4))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "counter_" in names[0] and any(n.startswith("gauge_livemostrecent_") for n in names)
    want_text, want_om = python_view(tmp_path)
    got_text, got_om, warnings = rust_view(mp_tool, tmp_path)
    assert warnings == ""
    assert b'g_all{a="x",pid=' in want_text and b"h_bucket" in want_text  # the scenario ran
    assert got_text == want_text
    assert got_om == want_om


def test_mark_process_dead_matches(mp_tool: Path, tmp_path: Path) -> None:
    run_workers(tmp_path, range(3))
    pids = sorted({p.stem.rsplit("_", 1)[1] for p in tmp_path.glob("gauge_livesum_*.db")})
    assert len(pids) == 3
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    for p in tmp_path.glob("*.db"):
        shutil.copy(p, python_dir / p.name)
    mark_process_dead(pids[0], str(python_dir))
    subprocess.run([mp_tool, "mark-dead", tmp_path, pids[0]], check=True)
    assert sorted(p.name for p in tmp_path.glob("*.db")) == sorted(p.name for p in python_dir.glob("*.db"))
    assert not list(tmp_path.glob(f"gauge_live*_{pids[0]}.db"))
    # Both removed the same files; the merged views of what is left agree.
    assert rust_view(mp_tool, tmp_path)[:2] == python_view(tmp_path)


def test_corrupt_file_is_skipped_with_a_warning(mp_tool: Path, tmp_path: Path) -> None:
    run_workers(tmp_path, range(2))
    want = python_view(tmp_path)
    (tmp_path / "counter_999.db").write_bytes(b"\xff\xff\x00\x00" + os.urandom(60))
    (tmp_path / "gauge_all_998.db").write_bytes(b"")  # a worker killed before sizing its file
    with pytest.raises(Exception):  # noqa: B017 - prometheus_client fails the whole scrape
        python_view(tmp_path)
    text, om, warnings = rust_view(mp_tool, tmp_path)
    assert (text, om) == want
    assert warnings.count("\n") == 1 and "counter_999.db" in warnings and "truncated" in warnings


def _keys() -> list[str]:
    odd = 'é"\\\n😀\t\x01 \x7f\u2028'
    keys = [mmap_key("c", "c_total", ["a", "b"], [odd, "1"], "help " + odd)]
    keys += [mmap_key("m", "m", [], [], "")]
    # Enough long keys to grow the file twice past 64 KiB.
    keys += [mmap_key("long", "long_total", ["i"], [f"{i:06d}" + "x" * 100], "h") for i in range(1500)]
    return keys


def test_writer_writes_prometheus_client_bytes(mp_tool: Path, tmp_path: Path) -> None:
    keys = _keys()
    values = [(float(i) * 1.5, 0.0) for i in range(len(keys))]
    values[0] = (math.inf, 1.5)
    values[1] = (-0.0, 1e300)
    writes = list(zip(keys, values, strict=True)) + [(keys[0], (7.0, 2.0))]  # an update in place
    py_file = tmp_path / "counter_1.db"
    d = MmapedDict(str(py_file))
    for key, (value, ts) in writes:
        d.write_value(key, value, ts)
    d.close()
    rs_file = tmp_path / "counter_2.db"
    lines = "".join(f"{key}\t{value!r}\t{ts!r}\n" for key, (value, ts) in writes)
    subprocess.run([mp_tool, "write", rs_file], input=lines.encode(), check=True)
    assert py_file.stat().st_size == 1 << 18
    assert rs_file.read_bytes() == py_file.read_bytes()
    assert rs_file.stat().st_blocks <= py_file.stat().st_blocks  # as sparse
    # Reopening an existing file updates entries in place rather than appending.
    subprocess.run([mp_tool, "write", rs_file], input=f"{keys[1]}\t3.0\t0.0\n".encode(), check=True)
    d = MmapedDict(str(py_file))
    d.write_value(keys[1], 3.0, 0.0)
    d.close()
    assert rs_file.read_bytes() == py_file.read_bytes()


def test_mixed_directory_renders_the_same(mp_tool: Path, tmp_path: Path) -> None:
    run_workers(tmp_path, range(2))
    key = mmap_key("c", "c_total", ["a"], ["x"], "counter help " + 'é"\\\n😀\t\x01 \x7f')
    subprocess.run([mp_tool, "write", tmp_path / "counter_777.db"], input=f"{key}\t10.0\t0.0\n".encode(), check=True)
    key = mmap_key("g_livesum", "g_livesum", ["a"], ["x"], "gauge livesum")
    subprocess.run(
        [mp_tool, "write", tmp_path / "gauge_livesum_777.db"], input=f"{key}\t5.0\t0.0\n".encode(), check=True
    )
    text, om, warnings = rust_view(mp_tool, tmp_path)
    assert warnings == ""
    assert (text, om) == python_view(tmp_path)
    assert b'g_livesum{a="x"} 5.0' not in text  # summed with the workers' values
