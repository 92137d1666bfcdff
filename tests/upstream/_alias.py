"""pytest plugin (``-p _alias``): prometheus_client's tests import fastprom.

Loaded before collection, it makes ``prometheus_client`` fastprom itself
(``sys.modules["prometheus_client"] = fastprom``; fastprom resolves the submodules to its
own modules). The tests also import ``prometheus_client.decorator``, prometheus_client's
bundled copy of the third-party ``decorator`` package, for ``getargspec`` alone: that
helper is written here, with the same meaning (``inspect.getfullargspec`` of the object,
which does not follow ``__wrapped__``), so the tests check fastprom's decorators as they
check prometheus_client's.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any, NamedTuple

import fastprom


class ArgSpec(NamedTuple):
    args: list[str]
    varargs: str | None
    varkw: str | None
    defaults: tuple[Any, ...] | None


def getargspec(func: Any) -> ArgSpec:
    """The positional-or-keyword parameters, ``*args``, ``**kwargs`` and defaults of ``func``."""
    spec = inspect.getfullargspec(func)
    return ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def _install() -> None:
    if "prometheus_client" in sys.modules and sys.modules["prometheus_client"] is not fastprom:
        raise RuntimeError("prometheus_client was imported before the alias was installed")
    sys.modules["prometheus_client"] = fastprom
    decorator = types.ModuleType("prometheus_client.decorator", "getargspec for prometheus_client's tests")
    decorator.getargspec = getargspec  # type: ignore[attr-defined]
    sys.modules["prometheus_client.decorator"] = decorator


_install()
