"""Prometheus metrics for Gemini calls, named after the OpenTelemetry GenAI conventions.

Three ways in, all recording the same metrics:

* :func:`instrument` patches a google-genai ``Client`` instance (sync, async, streams, chats,
  embeddings); :func:`uninstrument` undoes it.
* :class:`InstrumentedGeminiModel` wraps a legacy ``google.generativeai.GenerativeModel`` or a
  google-genai ``Client`` bound to one model, for code that cannot be patched.
* :func:`track` is a decorator and context manager for any function returning a Gemini response.

The SDKs are imported lazily, never by this module. See ``docs/gemini.md`` for what each metric
records, and for the accounting rules (thinking, cached tokens, streams, automatic function calling).

The package's modules, along its sections: ``_metrics`` (the families and their cache per
registry), ``_usage`` (token accounting), ``_recorder`` (options and series), ``_calls`` (sync,
async and streamed calls), ``_client`` (:func:`instrument`), ``_model``
(:class:`InstrumentedGeminiModel`) and ``_track`` (:func:`track`).
"""

from __future__ import annotations

from fastprom._pricing import PriceTable

from ._client import instrument, uninstrument
from ._metrics import DURATION_BUCKETS, OVERFLOW_MODEL, TOKEN_BUCKETS
from ._metrics import GeminiMetrics as GeminiMetrics  # not in __all__, as before the split
from ._model import InstrumentedGeminiModel
from ._track import GeminiTracker, track
from ._usage import error_type as error_type  # not in __all__, as before the split

__all__ = [
    "DURATION_BUCKETS",
    "OVERFLOW_MODEL",
    "TOKEN_BUCKETS",
    "GeminiTracker",
    "InstrumentedGeminiModel",
    "PriceTable",
    "instrument",
    "track",
    "uninstrument",
]
