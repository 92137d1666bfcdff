"""Test helpers shipped with fastprom: a local fake Gemini API (:mod:`fastprom.testing.fake_gemini`).

The names are loaded on first use, so that ``python -m fastprom.testing.fake_gemini`` runs the
module once, as ``__main__`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastprom.testing.fake_gemini import FakeGemini, RecordedRequest, Usage

__all__ = ["FakeGemini", "RecordedRequest", "Usage"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fastprom.testing import fake_gemini

        return getattr(fake_gemini, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
