"""Where metric values live: in this process (``MutexValue``) or, in multiprocess mode, in
this process's memory-mapped ``.db`` files (``MultiProcessValue()``), as in prometheus_client.

The value class is chosen at import: multiprocess mode if ``PROMETHEUS_MULTIPROC_DIR`` (or
the deprecated ``prometheus_multiproc_dir``) is in the environment. Assigning
``values.ValueClass`` switches the class of the values metrics create from then on. The
values of fastprom's metrics are stored and updated in Rust; the classes here are what
prometheus_client's module offers, usable on their own too.
"""

from __future__ import annotations

import os
import sys
import threading
import types
import warnings
from typing import Any, Callable, Optional, Union

from . import _core

__all__ = [
    "MultiProcessValue",
    "MutexValue",
    "ValueClass",
    "close_all_multiprocess_files",
    "get_value_class",
]


def close_all_multiprocess_files() -> None:
    """Close the files of every multiprocess value class and forget their values."""
    _core.close_all_multiprocess_files()


class MutexValue:
    """A float in this process's memory (the value class outside multiprocess mode)."""

    _multiprocess = False

    def __init__(
        self,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Any,
        labelvalues: Any,
        help_text: str,
        **kwargs: Any,
    ) -> None:
        self._value = 0.0
        self._exemplar: Any = None
        self._lock = threading.Lock()

    def inc(self, amount: float) -> None:
        with self._lock:
            self._value += amount

    def set(self, value: float, timestamp: Optional[float] = None) -> None:
        with self._lock:
            self._value = value

    def set_exemplar(self, exemplar: Any) -> None:
        with self._lock:
            self._exemplar = exemplar

    def get(self) -> float:
        with self._lock:
            return self._value

    def get_exemplar(self) -> Any:
        with self._lock:
            return self._exemplar


def _copy_deprecated_dir() -> None:
    # Run by the store before a value is created while only the lower-case variable is set.
    if "prometheus_multiproc_dir" in os.environ and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["prometheus_multiproc_dir"]
        warnings.warn(_core.DEPRECATED_DIR_WARNING, DeprecationWarning, stacklevel=2)


class _MmapedValueBase:
    """A float stored in this process's ``.db`` file of a multiprocess directory."""

    _multiprocess = True
    _store: _core.MultiProcessStore

    def __init__(
        self,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Any,
        labelvalues: Any,
        help_text: str,
        multiprocess_mode: str = "",
        **kwargs: Any,
    ) -> None:
        self._params = typ, metric_name, name, labelnames, labelvalues, help_text, multiprocess_mode
        self._cell = self._store.value(
            typ,
            metric_name,
            name,
            [str(n) for n in labelnames],
            [str(v) for v in labelvalues],
            help_text,
            multiprocess_mode,
        )

    def inc(self, amount: float) -> None:
        self._cell.inc(amount)

    def set(self, value: float, timestamp: Optional[float] = None) -> None:
        self._cell.set(value, timestamp)

    def set_exemplar(self, exemplar: Any) -> None:
        # Exemplars are not kept in multiprocess mode, as in prometheus_client.
        return

    def get(self) -> float:
        return self._cell.get()

    def get_exemplar(self) -> Any:
        return None

    @classmethod
    def close_all_files(cls) -> None:
        cls._store.close()


def MultiProcessValue(process_identifier: Callable[[], object] = os.getpid) -> type[_MmapedValueBase]:  # noqa: N802
    """A value class storing values in the ``.db`` files of ``PROMETHEUS_MULTIPROC_DIR``,
    named after ``process_identifier()``.

    ``process_identifier()`` must return distinct values in processes running at the same
    time. The default, ``os.getpid``, is followed across forks without being called on
    every update; another function is called on every update, as prometheus_client does.
    """
    ident = None if process_identifier is os.getpid else process_identifier
    store = _core.MultiProcessStore(ident, _copy_deprecated_dir)

    class MmapedValue(_MmapedValueBase):
        _store = store

    return MmapedValue


def get_value_class() -> Union[type[MutexValue], type[_MmapedValueBase]]:
    """The value class the environment asks for: multiprocess mode if the directory
    variable is set."""
    if "prometheus_multiproc_dir" in os.environ or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return MultiProcessValue()
    return MutexValue


_value_class: Any = MutexValue


def _set_value_class(cls: Any) -> None:
    global _value_class
    if cls is MutexValue:
        _core.set_value_class(None)
    elif isinstance(cls, type) and issubclass(cls, _MmapedValueBase):
        _core.set_value_class(cls._store)
    else:
        raise TypeError(
            "fastprom stores metric values in Rust: ValueClass must be MutexValue or a class "
            f"returned by MultiProcessValue(), not {cls!r}"
        )
    _value_class = cls


class _Module(types.ModuleType):
    # ``values.ValueClass = X`` (as prometheus_client's tests do) switches the class the
    # metrics' Rust storage uses for the values it creates from then on.
    @property
    def ValueClass(self) -> Any:  # noqa: N802
        return _value_class

    @ValueClass.setter
    def ValueClass(self, cls: Any) -> None:  # noqa: N802
        _set_value_class(cls)


sys.modules[__name__].__class__ = _Module
_set_value_class(get_value_class())
ValueClass: Any
