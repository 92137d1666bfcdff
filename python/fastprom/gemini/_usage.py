"""What a response reports: its token usage normalised across SDKs, and an exception's error type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastprom._errors import error_type

__all__ = ["error_type", "usage_of"]


Usage = tuple[int | None, int | None, int | None, int | None, int | None, int, int]
"""Token counts of one response, normalised across SDKs, ``None`` where not reported:
``(prompt, cached, output, reasoning, tool_use, prompt_audio, cached_audio)``. A plain tuple, not
an object: it is made on every call, after the SDK's work has evicted this code from the caches."""

_ABSENT = object()
_READ = (
    "total_token_count",
    "prompt_token_count",
    "cached_content_token_count",
    "prompt_tokens_details",
    "cache_tokens_details",
    "thoughts_token_count",
    "candidates_token_count",
    "response_token_count",
    "tool_use_prompt_token_count",
)
_FIELDS_IN_DICT: dict[type, bool] = {}
"""Per metadata class: whether every field read here is read alike from the instance's
``__dict__`` (pydantic models, as google-genai's are, whose class-level ``__getattr__`` makes
every ``getattr`` take CPython's slow path)."""


def _fields_in_dict(cls: type) -> bool:
    fields = getattr(cls, "__pydantic_fields__", None)
    config = getattr(cls, "model_config", None)
    fast = (
        isinstance(fields, dict)
        and isinstance(config, dict)
        and config.get("extra") != "allow"  # extra fields live in __pydantic_extra__, not __dict__
        # a declared field is always in __dict__; an undeclared one reads as absent both ways
        and all(name in fields or not hasattr(cls, name) for name in _READ)
    )
    _FIELDS_IN_DICT[cls] = fast
    return fast


def usage_of(metadata: Any) -> Usage | None:
    """The usage in a response's ``usage_metadata``, or ``None`` if it reports none."""
    if metadata is None:
        return None
    fast = _FIELDS_IN_DICT.get(type(metadata))
    if fast is None:
        fast = _fields_in_dict(type(metadata))
    if fast:
        d = metadata.__dict__
        if not d.get("total_token_count"):
            return None
        thoughts = d.get("thoughts_token_count", _ABSENT)
        if thoughts is not _ABSENT:
            candidates = d.get("candidates_token_count")
            if candidates is None:
                candidates = d.get("response_token_count")
            details, cache_details = d.get("prompt_tokens_details"), d.get("cache_tokens_details")
            return (
                d.get("prompt_token_count"),
                d.get("cached_content_token_count"),
                None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0),
                thoughts,
                d.get("tool_use_prompt_token_count"),
                _audio(details) if details else 0,
                _audio(cache_details) if cache_details else 0,
            )
    return _usage_of(metadata)


def _usage_of(metadata: Any) -> Usage | None:
    """:func:`usage_of` through ``getattr``: any SDK's objects."""
    if not getattr(metadata, "total_token_count", None):
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
