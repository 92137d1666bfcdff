"""Differential tests: fastprom.parser against prometheus_client.parser (the oracle)."""

from __future__ import annotations

from typing import Any

import prometheus_client.parser as oracle
import pytest
from _helpers import (
    PARSER_SETTINGS,
    assert_same,
    escape,
    label_names,
    label_values,
    legacy_names,
    metric_name,
    series,
    utf8_metric_names,
)
from hypothesis import given
from hypothesis import strategies as st

import fastprom
from fastprom import parser


def check(text: str) -> Any:
    return assert_same(parser.text_string_to_metric_families, oracle.text_string_to_metric_families, text)


numbers = st.sampled_from(
    ["0", "1", "-1", "1.5", "-0.0", "1e3", "1.5e-07", "+Inf", "-Inf", "NaN", "17", "0.25"]
) | st.floats(allow_nan=False, allow_infinity=False).map(repr)
timestamps = st.none() | st.sampled_from(["1", "1500", "1.5", "1700000000.123456789", "0", "-1.25"])


@st.composite
def text_expositions(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(legacy_names | utf8_metric_names)
        typ = draw(st.sampled_from(["counter", "gauge", "summary", "histogram", "untyped", None]))
        if draw(st.booleans()):
            lines.append(f"# HELP {metric_name(name)} {escape(draw(label_values)).strip()}")
        if typ:
            lines.append(f"# TYPE {metric_name(name)} {typ}")
        suffixes = {"counter": ["_total", ""], "summary": ["", "_sum", "_count"], "histogram": ["_bucket", "_sum"]}
        for _ in range(draw(st.integers(0, 3))):
            labels = draw(st.dictionaries(label_names, label_values, max_size=3))
            sample_name = name + draw(st.sampled_from(suffixes.get(typ or "", [""])))
            ts = draw(timestamps)
            ts = "" if ts is None or "." in ts or ts.startswith("-") else " " + ts
            lines.append(f"{series(sample_name, labels)} {draw(numbers)}{ts}")
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "# a comment", "#", "   "])))
    return "\n".join(lines) + "\n"


@PARSER_SETTINGS
@given(text_expositions())
def test_generated_expositions(text: str) -> None:
    check(text)


@PARSER_SETTINGS
@given(text_expositions(), st.data())
def test_mutated_expositions(text: str, data: st.DataObject) -> None:
    """Random edits make mostly-invalid or odd input: both parsers must agree on it all."""
    pos = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(['"', "\\", "{", "}", ",", "=", " ", "\t", "#", "_", "\n", "x", "1", " # "]))
    cut = data.draw(st.integers(0, 2))
    check_or_oracle_crash(text[:pos] + junk + text[pos + cut :])


def check_or_oracle_crash(text: str) -> None:
    """Both parsers agree, except where prometheus_client crashes: there fastprom raises ValueError."""
    try:
        list(oracle.text_string_to_metric_families(text))
    except (IndexError, KeyError, TypeError, AttributeError):
        with pytest.raises(ValueError):
            list(parser.text_string_to_metric_families(text))
        return
    except ValueError:
        pass
    check(text)


def test_oracle_crashes() -> None:
    """An empty label name: prometheus_client raises IndexError, fastprom a ValueError naming the line."""
    text = 'a{b="c", =""} 1\n'
    with pytest.raises(IndexError):
        list(oracle.text_string_to_metric_families(text))
    with pytest.raises(ValueError, match="line 1"):
        list(parser.text_string_to_metric_families(text))


def test_generated_expositions_parse() -> None:
    """Guard against the differential tests passing only because both sides raise."""
    text = '# HELP "a.b" d\\\\n\n# TYPE "a.b" counter\n{"a.b",x="1"} 1 1000\n'
    assert check(text) == [
        ("a.b", "d\\n", "counter", "", [("a.b_total", {"x": "1"}, ("int", 1), ("float", 1.0), None, None)])
    ]


EDGE_CASES = [
    # Labels: escapes, whitespace, commas, quoted and implicit names.
    'a{b="c\\"d\\\\e\\nf\\tg"} 1\n',
    'a{ b = "c" , d="e", } 1\n',
    'a{b="c",,d="e"} 1\n',
    'a{,b="c"} 1\n',
    'a{b="c",b="d"} 1\n',
    "a{b=} 1\n",
    'a{b="c"d} 1\n',
    'a{b="c} 1\n',
    "a{b=c} 1\n",
    'a{__b="c"} 1\n',
    'a{__name__="x"} 1\n',
    '{__name__="x"} 1\n',
    '{"x"} 1\n',
    '{"x","y"} 1\n',
    "{x} 1\n",
    '{"my.metric","lab.el"="v"} 1\n',
    '{"my metric" , "la bel" = "v"} 1\n',
    'a{"b"="c"} 1\n',
    'a{b.c="d"} 1\n',
    'a{b:c="d"} 1\n',
    'a{b="}"} 1\n',
    'a{b="\\"} 1\n',
    "a{} 1\n",
    "a{ 1\n",
    "a} 1\n",
    'a b{c="d"} 1\n',
    '"a"{} 1\n',
    # Values and timestamps.
    "a 1 2 3\n",
    "a\t1\t2\n",
    "a  1   2\n",
    "a 1_0\n",
    "a 0x10\n",
    "a 1e3\n",
    "a +Inf\na2 -inf\na3 nan\na4 NaN\n",
    "a 1.5 1.5\n",
    "a\n",
    "a \n",
    "inf\n",
    "nan\n",
    'a 1 # {b="c"} 1\n',
    "a 1\t2 3\n",
    "a 1 -1000\n",
    # Families.
    "# TYPE a counter\na 1\na_total 2\n",
    "# TYPE a_total counter\na_total 1\n",
    "# TYPE a counter\n# HELP a x\na 1\n",
    "# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n",
    "# TYPE a gauge\n# TYPE a counter\na 1\n",
    '# TYPE a summary\na{quantile="0.5"} 1\na_count 1\na_sum 2\na_created 1\n',
    '# TYPE a histogram\na_bucket{le="+Inf"} 1\na_count 1\na_sum 1\na 5\n',
    "# TYPE a info\na_info 1\n",
    "# TYPE a foo\na 1\n",
    "# TYPE a\n",
    "# TYPE\n",
    "# HELP\na 1\n",
    "# HELP a\na 1\n",
    "# HELP a b c d e\n",
    '# HELP a \\\\n \\n \\t \\"\n',
    "# TYPE a.b gauge\n",
    '# TYPE "a.b" gauge\n"a.b" 1\n',
    '# TYPE "a.b gauge\n',
    "#TYPE a gauge\na 1\n",
    "# TYPE  a  gauge\na 1\n",
    "# some comment\n# TYPE a gauge\n\n\na 1\n# another one\n",
    "\r\n# TYPE a gauge\r\na 1\r\n",
    "",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    "labels",
    ['a="b"', ' a="b" ', 'a="b",', 'a="b",,', ',a="b"', 'a="b"c="d"', 'a="b\\"', '"a.b"="c"', '"x"', "", 'a="}"', "}"],
)
@pytest.mark.parametrize("openmetrics", [False, True])
def test_parse_labels(labels: str, openmetrics: bool) -> None:
    if labels == "}" and not openmetrics:
        with pytest.raises(ValueError):  # prometheus_client loops forever on this one.
            parser.parse_labels(labels, openmetrics)
        return
    try:
        expected: Any = oracle.parse_labels(labels, openmetrics)
    except ValueError:
        expected = ValueError
    try:
        actual: Any = parser.parse_labels(labels, openmetrics)
    except ValueError:
        actual = ValueError
    assert actual == expected


def test_errors_name_the_line() -> None:
    with pytest.raises(ValueError, match=r"line 2: 'a\{b=c\} 1'"):
        list(parser.text_string_to_metric_families("a 1\na{b=c} 1\n"))


def test_fd_and_drop_in_import() -> None:
    import io

    text = "# TYPE a gauge\na 1\n"
    assert [m.name for m in parser.text_fd_to_metric_families(io.StringIO(text))] == ["a"]
    assert isinstance(next(parser.text_string_to_metric_families(text)), fastprom.metrics_core.Metric)
