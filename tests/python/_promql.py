"""What the dashboard tests need to know about a PromQL expression: its series selectors.

Enough PromQL for the expressions fastprom writes (selectors always carry a metric name and a
brace block; grouping clauses in parentheses): not a general parser.
"""

from __future__ import annotations

import re

from fastprom.ops.catalog import _SUFFIXES, Catalog

SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def matchers(block: str) -> list[tuple[str, str, str]]:
    """The label matchers of a brace block, as (label, operator, value)."""
    out = []
    for part in filter(None, re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", block)):
        m = MATCHER.fullmatch(part)
        if m is None:
            raise ValueError(f"not a label matcher: {part!r}")
        out.append((m.group(1), m.group(2), m.group(3)))
    return out


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Every series selector of ``expr`` as (metric name, matchers).

    ``ValueError`` for a metric name used without a brace block (a selector the dashboard's
    variables cannot filter)."""
    found = [(m.group(1), matchers(m.group(2))) for m in SELECTOR.finditer(expr)]
    rest = GROUPING.sub(" ", re.sub(r"\[[^\]]*\]", " ", SELECTOR.sub(" ", expr)))
    bare = [
        m.group(0)
        for m in IDENT.finditer(rest)
        if m.group(0) not in KEYWORDS and not rest[m.end() :].lstrip().startswith("(")
    ]
    if bare:
        raise ValueError(f"metric names without label matchers in {expr!r}: {bare}")
    return found


def sample_names(catalog: Catalog) -> set[str]:
    """Every sample name the families of ``catalog`` export."""
    return {f.name + suffix for f in catalog for suffix in _SUFFIXES[f.type] if suffix != "_created"}
