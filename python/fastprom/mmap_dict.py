"""A ``.db`` file of multiprocess mode, as prometheus_client's ``mmap_dict`` module offers it.

The file is mapped and written by Rust. ``_m`` is a separate Python mapping of the same
file, made on first use (prometheus_client's tests write bytes through it).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Optional

from . import _core

__all__ = ["MmapedDict", "mmap_key"]

#: The size of a new file; it doubles whenever an entry does not fit.
_INITIAL_MMAP_SIZE = 1 << 16


class MmapedDict:
    """A dict of (value, timestamp) pairs of floats, backed by a memory-mapped file.

    The layout is prometheus_client's: a 4-byte used size and 4 pad bytes, then entries of
    a 4-byte key length, the UTF-8 key padded with spaces to 8-byte alignment, the value
    and a timestamp (two doubles). Unlike prometheus_client's, it is safe to share between
    threads.
    """

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        self._fname = filename
        self._read_mode = read_mode
        self._d: Optional[_core.MmapDict] = None if read_mode else _core.MmapDict(filename)
        self._mm: Optional[mmap.mmap] = None
        if read_mode:
            # Fails now, as prometheus_client's open(), if the file cannot be read.
            with open(filename, "rb"):
                pass

    @staticmethod
    def read_all_values_from_file(filename: str) -> Iterator[tuple[str, float, float, int]]:
        """``(key, value, timestamp, offset of the value)`` of each entry of the file."""
        return iter(_core.MmapDict.read_all_values_from_file(filename))

    def _dict(self) -> _core.MmapDict:
        if self._d is None:
            raise ValueError(f"{self._fname} is closed or opened in read mode")
        return self._d

    @property
    def _m(self) -> mmap.mmap:
        # A Python mapping of the same file: bytes written through it are the file's.
        if self._mm is None:
            access = mmap.ACCESS_READ if self._read_mode else mmap.ACCESS_WRITE
            with open(self._fname, "rb" if self._read_mode else "r+b") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=access)
        return self._mm

    def read_all_values(self) -> Iterator[tuple[str, float, float]]:
        """``(key, value, timestamp)`` of each entry, in file order."""
        if self._read_mode:
            return ((k, v, t) for k, v, t, _ in self.read_all_values_from_file(self._fname))
        return iter(self._dict().read_all_values())

    def read_value(self, key: str) -> tuple[float, float]:
        """``(value, timestamp)`` of ``key``, added as (0.0, 0.0) if new."""
        return self._dict().read_value(key)

    def write_value(self, key: str, value: float, timestamp: float) -> None:
        """Stores ``value`` and ``timestamp`` for ``key`` (added if new)."""
        self._dict().write_value(key, value, timestamp)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._d is not None:
            self._d.close()
            self._d = None


def mmap_key(metric_name: str, name: str, labelnames: list[str], labelvalues: list[str], help_text: str) -> str:
    """The key of a value in a ``.db`` file: the JSON of ``[metric_name, name, labels,
    help_text]`` with the labels sorted by name, as prometheus_client writes it."""
    return _core.mmap_key(metric_name, name, [str(n) for n in labelnames], [str(v) for v in labelvalues], help_text)
