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


class _Usage:
    """Token counts of one response, normalised across SDKs; ``None`` means not reported."""

    __slots__ = ("prompt", "cached", "output", "reasoning", "tool_use", "prompt_audio", "cached_audio")

    def __init__(self, metadata: Any) -> None:
        self.prompt: int | None = getattr(metadata, "prompt_token_count", None)
        self.cached: int | None = getattr(metadata, "cached_content_token_count", None)
        self.prompt_audio = _audio(getattr(metadata, "prompt_tokens_details", None))
        self.cached_audio = _audio(getattr(metadata, "cache_tokens_details", None))
        self.output: int | None
        self.reasoning: int | None
        self.tool_use: int | None
        if not hasattr(metadata, "thoughts_token_count"):
            # Legacy google-generativeai: only prompt, candidates, cached and total survive, and
            # unset counts read as 0. The total still holds thinking and tool-use tokens, so they
            # are counted as output and priced at the output rate.
            self.cached = self.cached or None
            self.output = metadata.total_token_count - metadata.prompt_token_count
            self.reasoning = self.tool_use = None
            return
        thoughts: int | None = metadata.thoughts_token_count
        candidates: int | None = getattr(metadata, "candidates_token_count", None)
        if candidates is None:
            candidates = getattr(metadata, "response_token_count", None)  # embeddings' UsageMetadata
        self.reasoning = thoughts
        self.tool_use = getattr(metadata, "tool_use_prompt_token_count", None)
        self.output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)

    @staticmethod
    def of(metadata: Any) -> _Usage | None:
        """The usage in a response's ``usage_metadata``, or ``None`` if it reports none."""
        if metadata is None or not getattr(metadata, "total_token_count", None):
            return None
        return _Usage(metadata)


def _audio(details: Iterable[Any] | None) -> int:
    """The AUDIO share of a ``*_tokens_details`` list (modalities compare equal to their names)."""
    return sum(d.token_count or 0 for d in details if d.modality == "AUDIO") if details else 0
