"""The one ``error_type`` vocabulary of fastprom's instrumentations (agents and Gemini alike)."""

from __future__ import annotations

__all__ = ["error_type"]

_ERROR_TYPES: dict[type, str] = {}


def error_type(exc: BaseException) -> str:
    """The low-cardinality ``error_type`` of an exception: the HTTP status where there is one
    (an ``int`` ``code`` between 100 and 599, as google-genai's ``APIError``: ``"429"``),
    ``"timeout"`` for timeouts, else the exception class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 100 <= code <= 599:
        return str(int(code))
    cls = type(exc)
    name = _ERROR_TYPES.get(cls)
    if name is None:
        timeout = issubclass(cls, TimeoutError) or any("Timeout" in k.__name__ for k in cls.__mro__)
        name = _ERROR_TYPES[cls] = "timeout" if timeout else cls.__name__
    return name
