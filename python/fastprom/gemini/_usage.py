"""What a response reports: its token usage normalised across SDKs, the bytes of its text and
whether it called tools, and an exception's error type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastprom._errors import error_type

__all__ = ["error_type", "read_response", "usage_of"]


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


_HISTORY = "automatic_function_calling_history"
_RESPONSE_FIELDS = ("usage_metadata", "candidates", _HISTORY)
_RESPONSE_IN_DICT: dict[type, bool] = {}
"""Per response class: whether the fields :func:`read_response` reads are read alike from the
instance's ``__dict__`` (google-genai's pydantic responses; see ``_FIELDS_IN_DICT``)."""


def _response_in_dict(cls: type) -> bool:
    fields = getattr(cls, "__pydantic_fields__", None)
    config = getattr(cls, "model_config", None)
    fast = (
        isinstance(fields, dict)
        and isinstance(config, dict)
        and config.get("extra") != "allow"
        and all(name in fields for name in _RESPONSE_FIELDS)
    )
    _RESPONSE_IN_DICT[cls] = fast
    return fast


def read_response(response: Any) -> tuple[Any, int, bool]:
    """What a response (or one stream chunk) says in one walk over its parts: its
    ``usage_metadata``, the UTF-8 bytes of its text parts, and whether it asks for a function call
    (a part with ``function_call`` in any candidate) or automatic function calling ran (a non-empty
    ``automatic_function_calling_history``).

    Reads google-genai's pydantic objects and the legacy SDK's alike: the response's three fields
    from its ``__dict__`` when its class is a pydantic model declaring them (one attribute lookup,
    not three through pydantic's ``__getattr__`` hook), the parts by attribute."""
    fast = _RESPONSE_IN_DICT.get(type(response))
    if fast is None:
        fast = _response_in_dict(type(response))
    if fast:
        d = response.__dict__
        metadata, candidates, history = d.get("usage_metadata"), d.get("candidates"), d.get(_HISTORY)
    else:
        metadata = getattr(response, "usage_metadata", None)
        candidates, history = getattr(response, "candidates", None), getattr(response, _HISTORY, None)
    nbytes = 0
    tools = bool(history)
    if candidates:
        for candidate in candidates:
            content = candidate.content
            parts = content.parts if content is not None else None
            if not parts:
                continue
            for part in parts:
                text = part.text
                if text:  # a part holds one kind of data: text, or a function call, or ...
                    nbytes += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
                elif not tools and part.function_call:
                    tools = True
    return metadata, nbytes, tools
