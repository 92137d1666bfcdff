"""The native module depends on nothing in the Python package: the package hands it what it
needs (the default registry, the decorator helper, the classes ``collect()`` returns) once,
at import. Checked in a fresh interpreter where only ``fastprom._core`` is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastprom
from fastprom import _core

PACKAGE_DIR = str(Path(fastprom.__file__).parent)

# Loads fastprom._core under an empty `fastprom` package, so that the package's __init__
# (which binds the native module) does not run.
UNBOUND = textwrap.dedent(
    """
    import json, sys, types
    pkg = types.ModuleType("fastprom")
    pkg.__path__ = [{path!r}]
    sys.modules["fastprom"] = pkg
    import fastprom._core as core

    def fails(fn):
        try:
            fn()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    results = {{}}
    results["bound"] = core._bound()
    results["default registry"] = fails(lambda: core.Counter("a", "h"))
    c = core.Counter("b", "h", ["x"], registry=None)
    c.labels("1").inc(2)
    results["collect"] = fails(c.collect)
    results["decorate"] = fails(lambda: core.Histogram("h", "h", registry=None).time()(len))
    reg = core.Registry()
    reg.add(c, ["b_total"], False)
    results["render"] = reg.render().decode()
    results["modules"] = sorted(m for m in sys.modules if m.startswith("fastprom"))
    print(json.dumps(results))
    """
)


def _run_unbound() -> dict:
    out = subprocess.run(
        [sys.executable, "-c", UNBOUND.format(path=PACKAGE_DIR)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict = json.loads(out)
    return result


def test_native_module_imports_nothing_from_the_package() -> None:
    results = _run_unbound()
    assert results["bound"] is False
    # Everything that needs the package fails with a clear RuntimeError naming the fix.
    for what in ("default registry", "collect", "decorate"):
        assert "not bound to its Python package yet: import fastprom" in results[what], what
    # What needs nothing from the package works, and nothing of the package was imported.
    assert 'b_total{x="1"} 2.0' in results["render"]
    assert results["modules"] == ["fastprom", "fastprom._core"]


def test_the_package_binds_once_at_import() -> None:
    assert _core._bound()
    with pytest.raises(RuntimeError, match="^fastprom._core is already bound$"):
        _core._bind(
            registry=None,
            decorate=None,
            metric=None,
            sample=None,
            exemplar=None,
            native_histogram_value=None,
        )
    # Metrics created with the default registry land in fastprom.REGISTRY.
    c = fastprom.Counter("native_binding_probe", "h")
    try:
        assert b"native_binding_probe_total 0.0" in fastprom.generate_latest()
    finally:
        fastprom.REGISTRY.unregister(c)
