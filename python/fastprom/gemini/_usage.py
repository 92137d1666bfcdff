"""What a response reports: its token usage normalised across SDKs, and an exception's error type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_ERROR_TYPES: dict[type, str] = {}


def error_type(exc: BaseException) -> str:
    """The low-cardinality ``error_type`` of an exception: the HTTP status for SDK API errors
    (``"429"``, ``"500"``), ``"timeout"`` for timeouts, else the exception class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 100 <= code <= 599:
        return str(int(code))
    cls = type(exc)
    name = _ERROR_TYPES.get(cls)
    if name is None:
        timeout = issubclass(cls, TimeoutError) or any("Timeout" in k.__name__ for k in cls.__mro__)
        name = _ERROR_TYPES[cls] = "timeout" if timeout else cls.__name__
    return name


Usage = tuple[int | None, int | None, int | None, int | None, int | None, int, int]
"""Token counts of one response, normalised across SDKs, ``None`` where not reported:
``(prompt, cached, output, reasoning, tool_use, prompt_audio, cached_audio)``. A plain tuple, not
an object: it is made on every call, after the SDK's work has evicted this code from the caches."""

_ABSENT = object()


def usage_of(metadata: Any) -> Usage | None:
    """The usage in a response's ``usage_metadata``, or ``None`` if it reports none."""
    if metadata is None or not getattr(metadata, "total_token_count", None):
        return None
    prompt: int | None = getattr(metadata, "prompt_token_count", None)
    cached: int | None = getattr(metadata, "cached_content_token_count", None)
    prompt_audio = _audio(getattr(metadata, "prompt_tokens_details", None))
    cached_audio = _audio(getattr(metadata, "cache_tokens_details", None))
    thoughts: Any = getattr(metadata, "thoughts_token_count", _ABSENT)
    if thoughts is _ABSENT:
        # Legacy google-generativeai: only prompt, candidates, cached and total survive, and
        # unset counts read as 0. The total still holds thinking and tool-use tokens, so they
        # are counted as output and priced at the output rate.
        output = metadata.total_token_count - metadata.prompt_token_count
        return prompt, cached or None, output, None, None, prompt_audio, cached_audio
    candidates: int | None = getattr(metadata, "candidates_token_count", None)
    if candidates is None:
        candidates = getattr(metadata, "response_token_count", None)  # embeddings' UsageMetadata
    output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    tool_use: int | None = getattr(metadata, "tool_use_prompt_token_count", None)
    return prompt, cached, output, thoughts, tool_use, prompt_audio, cached_audio


def _audio(details: Iterable[Any] | None) -> int:
    """The AUDIO share of a ``*_tokens_details`` list (modalities compare equal to their names)."""
    audio = 0
    if details:
        for d in details:  # a loop, not sum() over a generator: no generator frame per call
            if d.modality == "AUDIO":
                audio += d.token_count or 0
    return audio
