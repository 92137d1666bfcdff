"""Metric and label name validation (prometheus_client 0.26 rules).

Names may hold any UTF-8 by default; ``enable_legacy_validation()`` (or the environment
variable ``PROMETHEUS_LEGACY_NAME_VALIDATION=true``) restricts them to
``[a-zA-Z_:][a-zA-Z0-9_:]*`` and label names to ``[a-zA-Z_][a-zA-Z0-9_]*``. Label names
starting with ``__`` are reserved either way.
"""

from __future__ import annotations

import os
import re

from . import _core

__all__ = ["disable_legacy_validation", "enable_legacy_validation", "get_legacy_validation"]

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
METRIC_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_METRIC_LABEL_NAME_RE = re.compile(r"^__.*$")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "False").lower() in ("true", "1", "t")


def get_legacy_validation() -> bool:
    """Whether names are restricted to the legacy character set."""
    return _core.legacy_validation()


def enable_legacy_validation() -> None:
    """Restrict metric and label names to the legacy character set."""
    _core.set_legacy_validation(True)


def disable_legacy_validation() -> None:
    """Allow any UTF-8 metric and label name (the default)."""
    _core.set_legacy_validation(False)


def _validate_metric_name(name: str) -> None:
    """Raise ValueError if ``name`` is not a valid metric name under the current rules."""
    _core.validate_metric_name(name)


def _validate_labelname(name: str) -> None:
    """Raise ValueError if ``name`` is not a valid label name under the current rules."""
    _core.validate_label_name(name)


def _is_valid_legacy_metric_name(name: str) -> bool:
    return METRIC_NAME_RE.match(name) is not None


def _is_valid_legacy_labelname(name: str) -> bool:
    return METRIC_LABEL_NAME_RE.match(name) is not None and RESERVED_METRIC_LABEL_NAME_RE.match(name) is None


if _env_flag("PROMETHEUS_LEGACY_NAME_VALIDATION"):
    enable_legacy_validation()
