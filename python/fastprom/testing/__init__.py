"""Test helpers shipped with fastprom: a local fake Gemini API (:mod:`fastprom.testing.fake_gemini`)."""

from fastprom.testing.fake_gemini import FakeGemini, RecordedRequest, Usage

__all__ = ["FakeGemini", "RecordedRequest", "Usage"]
