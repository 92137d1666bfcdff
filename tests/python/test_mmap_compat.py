"""fastprom's ``.db`` writer (``fastprom.mmap_dict.MmapedDict``, the Rust writer metrics use)
against prometheus_client 0.26's, byte for byte: the same sequence of writes gives the same
file (layout, padding, growth, sparseness), and a directory mixing both writers' files is
merged alike by both collectors."""

from __future__ import annotations

import math
from pathlib import Path

from _mpdir import fp_registry, fp_views, pc_registry, pc_views, run_workers
from prometheus_client.mmap_dict import MmapedDict as PcMmapedDict
from prometheus_client.mmap_dict import mmap_key

from fastprom.mmap_dict import MmapedDict


def _keys() -> list[str]:
    odd = 'é"\\\n😀\t\x01 \x7f\u2028'
    keys = [mmap_key("c", "c_total", ["a", "b"], [odd, "1"], "help " + odd)]
    keys += [mmap_key("m", "m", [], [], "")]
    # Enough long keys to grow the file twice past 64 KiB.
    keys += [mmap_key("long", "long_total", ["i"], [f"{i:06d}" + "x" * 100], "h") for i in range(1500)]
    return keys


def write(cls: type, path: Path, writes: list[tuple[str, tuple[float, float]]]) -> None:
    d = cls(str(path))
    for key, (value, ts) in writes:
        d.write_value(key, value, ts)
    d.close()


def test_writer_writes_prometheus_client_bytes(tmp_path: Path) -> None:
    keys = _keys()
    values = [(float(i) * 1.5, 0.0) for i in range(len(keys))]
    values[0] = (math.inf, 1.5)
    values[1] = (-0.0, 1e300)
    writes = list(zip(keys, values, strict=True)) + [(keys[0], (7.0, 2.0))]  # an update in place
    theirs, ours = tmp_path / "counter_1.db", tmp_path / "counter_2.db"
    write(PcMmapedDict, theirs, writes)
    write(MmapedDict, ours, writes)
    assert theirs.stat().st_size == 1 << 18
    assert ours.read_bytes() == theirs.read_bytes()
    assert ours.stat().st_blocks <= theirs.stat().st_blocks  # as sparse
    # Reopening an existing file updates entries in place rather than appending.
    write(PcMmapedDict, theirs, [(keys[1], (3.0, 0.0))])
    write(MmapedDict, ours, [(keys[1], (3.0, 0.0))])
    assert ours.read_bytes() == theirs.read_bytes()
    # Each library reads the other's file.
    readers = [MmapedDict(str(theirs), read_mode=True), PcMmapedDict(str(ours), read_mode=True)]
    try:
        assert list(readers[0].read_all_values()) == list(readers[1].read_all_values())
    finally:
        for r in readers:
            r.close()


def test_mixed_directory_renders_the_same(tmp_path: Path) -> None:
    """prometheus_client workers' files and files of fastprom's writer, in one directory."""
    run_workers(tmp_path, range(2))
    odd = 'é"\\\n😀\t\x01 \x7f{}=,'
    writes = {
        "counter_4242.db": [mmap_key("requests", "requests_total", ["path", "code"], [odd, "500"], "x")],
        "gauge_livesum_4242.db": [mmap_key("g_livesum", "g_livesum", ["a"], ["x"], "gauge livesum")],
        "histogram_4242.db": [
            mmap_key("h", "h_bucket", ["a", "le"], ["x", "2.5"], "custom buckets"),
            mmap_key("h", "h_sum", ["a"], ["x"], "custom buckets"),
        ],
    }
    for name, keys in writes.items():
        write(MmapedDict, tmp_path / name, [(k, (i + 2.5, 0.0)) for i, k in enumerate(keys)])
    assert fp_views(fp_registry(tmp_path)) == pc_views(pc_registry(tmp_path))
