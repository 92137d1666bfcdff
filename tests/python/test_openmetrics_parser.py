"""Differential tests: fastprom.openmetrics.parser against prometheus_client's (the oracle)."""

from __future__ import annotations

from typing import Any

import prometheus_client.openmetrics.parser as oracle
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

from fastprom.openmetrics import parser


def check(text: str) -> Any:
    return assert_same(parser.text_string_to_metric_families, oracle.text_string_to_metric_families, text)


values = st.sampled_from(["0", "1", "2", "1.5", "-1", "1e3", "+Inf", "NaN", "-0.0", "7"])
timestamps = st.sampled_from(["", " 1", " 1.5", " 1700000000.123456789", " 2"])
exemplars = st.sampled_from(["", ' # {trace_id="abc"} 1', ' # {a="b\\"c"} 0.5 1.25', " # {} 2 3", ' # {"a.b"="x"} 1'])


@st.composite
def families_text(draw: st.DrawFn, name: str) -> list[str]:
    typ = draw(
        st.sampled_from(["counter", "gauge", "summary", "histogram", "gaugehistogram", "info", "stateset", "unknown"])
    )
    lines = [f"# TYPE {metric_name(name)} {typ}"]
    if draw(st.booleans()):
        lines.append(f"# HELP {metric_name(name)} {escape(draw(label_values))}")
    if typ in ("counter", "gauge", "summary", "histogram") and draw(st.booleans()):
        lines[0:0] = [f"# UNIT {metric_name(name + '_seconds')} seconds"]
        name += "_seconds"
        lines[1:] = [line.replace(metric_name(name[: -len("_seconds")]), metric_name(name), 1) for line in lines[1:]]
    for labels in draw(st.lists(st.dictionaries(label_names, label_values, max_size=2), max_size=2, unique_by=str)):
        ts = draw(timestamps)
        if typ == "counter":
            lines.append(f"{series(name + '_total', labels)} {draw(values)}{ts}{draw(exemplars)}")
            if draw(st.booleans()):
                lines.append(f"{series(name + '_created', labels)} 1700000000{ts}")
        elif typ in ("histogram", "gaugehistogram"):
            count = 0
            for le in ["0.1", "1", "+Inf"]:
                count += draw(st.integers(0, 3))
                lines.append(f"{series(name + '_bucket', {**labels, 'le': le})} {count}{ts}{draw(exemplars)}")
            prefix = "_g" if typ == "gaugehistogram" else "_"
            lines.append(f"{series(name + prefix + 'count', labels)} {count}{ts}")
            lines.append(f"{series(name + prefix + 'sum', labels)} {draw(values)}{ts}")
        elif typ == "summary":
            lines.append(f"{series(name, {**labels, 'quantile': '0.5'})} {draw(values)}{ts}")
            lines.append(f"{series(name + '_count', labels)} 3{ts}")
            lines.append(f"{series(name + '_sum', labels)} {draw(values)}{ts}")
        elif typ == "info":
            lines.append(f"{series(name + '_info', labels)} 1{ts}")
        elif typ == "stateset":
            for state in ("a", "b"):
                lines.append(f"{series(name, {**labels, name: state})} {draw(st.sampled_from(['0', '1']))}{ts}")
        else:
            lines.append(f"{series(name, labels)} {draw(values)}{ts}")
    return lines


@st.composite
def expositions(draw: st.DrawFn) -> str:
    names = draw(st.lists(legacy_names | utf8_metric_names, min_size=1, max_size=3, unique=True))
    lines = [line for name in names for line in draw(families_text(name))]
    return "\n".join([*lines, "# EOF"]) + "\n"


@PARSER_SETTINGS
@given(expositions())
def test_generated_expositions(text: str) -> None:
    check(text)


@PARSER_SETTINGS
@given(expositions(), st.data())
def test_mutated_expositions(text: str, data: st.DataObject) -> None:
    """Random edits make mostly-invalid input: both parsers must reject (or accept) the same."""
    pos = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(['"', "\\", "{", "}", ",", "=", " ", "#", "_", "\n", "x", "1", "-", " # ", "."]))
    cut = data.draw(st.integers(0, 2))
    mutated = text[:pos] + junk + text[pos + cut :]
    try:
        list(oracle.text_string_to_metric_families(mutated))
    except (IndexError, KeyError, TypeError, AttributeError):
        return  # prometheus_client crashes; fastprom raises ValueError or parses (see test_oracle_crashes).
    except ValueError:
        pass
    check(mutated)


def test_valid_exposition_parses() -> None:
    """Guard against the differential tests passing only because both sides raise."""
    text = (
        '# TYPE a counter\n# HELP a d\\"\n'
        'a_total{x="1"} 1 1.5 # {t="x"} 2 3\n'
        '# TYPE h histogram\nh_bucket{le="+Inf"} 0\nh_count 0\nh_sum 0\n# EOF\n'
    )
    families = check(text)
    assert [f[:3] for f in families] == [("a", 'd"', "counter"), ("h", "", "histogram")]
    assert families[0][4][0][3:5] == (("ts", 1, 500000000), ({"t": "x"}, ("int", 2), ("ts", 3, 0)))


INVALID = [
    # prometheus_client rejects a UTF-8 name given only inside the braces in OpenMetrics.
    '{"a.b","c.d"="e"} 1\n# EOF\n',
    '{"a.b"} 1\n# EOF\n',
    "a 0x1\n# EOF\n",
    "a 1\n",  # missing EOF
    "# EOF\na 1\n",
    "a 1\n\n# EOF\n",
    "# EOF\n\n",
    "# EOF \n",
    "# TYPE a gauge\n# TYPE a gauge\n# EOF\n",
    "# HELP a x\n# HELP a y\n# EOF\n",
    "# UNIT a_s s\n# UNIT a_s s\n# EOF\n",
    "# TYPE a untyped\n# EOF\n",
    "# TYPE a foo\n# EOF\n",
    "# TYPE a\n# EOF\n",
    "# HELP a\n# EOF\n",
    "# FOO a b\n# EOF\n",
    "# UNIT a s\n# EOF\n",
    "# TYPE a_s info\n# UNIT a_s s\n# EOF\n",
    "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n",
    "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 1\n# EOF\n",
    "# TYPE a counter\na_total 1\n# TYPE a_total gauge\n# EOF\n",
    "a.b 1\n# EOF\n",
    "# TYPE a.b gauge\n# EOF\n",
    '# TYPE "a.b gauge\n# EOF\n',
    "a  1\n# EOF\n",
    "a 1 \n# EOF\n",
    "a 1  2\n# EOF\n",
    "a 1_0\n# EOF\n",
    "a 1 1_0\n# EOF\n",
    "a 1 NaN\n# EOF\n",
    "a 1 +Inf\n# EOF\n",
    "a\n# EOF\n",
    'a{b="c",} 1\n# EOF\n',
    'a{,b="c"} 1\n# EOF\n',
    'a{b="c",,d="e"} 1\n# EOF\n',
    'a{b="c",b="d"} 1\n# EOF\n',
    'a{b="c} 1\n# EOF\n',
    "a{b=c} 1\n# EOF\n",
    'a{__b="c"} 1\n# EOF\n',
    'a{__name__="a"} 1\n# EOF\n',
    '{b="c"} 1\n# EOF\n',
    "a{ 1\n# EOF\n",
    "# TYPE a counter\na_total -1\n# EOF\n",
    "# TYPE a counter\na_total NaN\n# EOF\n",
    '# TYPE a counter\na_total 1 # {b="c"}\n# EOF\n',
    '# TYPE a counter\na_total 1 # {b="c"} \n# EOF\n',
    '# TYPE a counter\na_total 1 #{b="c"} 1\n# EOF\n',
    '# TYPE a counter\na_total 1 # {b="c"}  1\n# EOF\n',
    '# TYPE a counter\na_total 1 # {b="c"} 1 \n# EOF\n',
    '# TYPE a counter\na_total 1 # b="c" 1\n# EOF\n',
    f'# TYPE a counter\na_total 1 # {{b="{"x" * 128}"}} 1\n# EOF\n',
    '# TYPE a gauge\na 1 # {b="c"} 1\n# EOF\n',
    '# TYPE a gauge\na{b="c"} 1 2\na{b="c"} 1\n# EOF\n',
    '# TYPE a gauge\na{b="c"} 1\na{b="d"} 1\na{b="c"} 1\n# EOF\n',
    "# TYPE a gauge\na 1 2\na 1 1\n# EOF\n",
    '# TYPE a histogram\na_bucket{le="1"} 1\na_count 1\na_sum 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="+Inf"} 1\na_count 2\na_sum 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="2"} 1\na_bucket{le="1"} 1\na_bucket{le="+Inf"} 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="+Inf"} 1\na_sum 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="+Inf"} 1\na_count 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="-1"} 0\na_bucket{le="+Inf"} 1\na_count 1\na_sum 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="inf"} 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="NaN"} 1\n# EOF\n',
    "# TYPE a histogram\na_bucket 1\n# EOF\n",
    '# TYPE a histogram\na_bucket{le="+Inf"} 1.5\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="+Inf"} 1\na_count 1.5\na_sum 1\n# EOF\n',
    '# TYPE a gaugehistogram\na_bucket{le="1"} 0\na_bucket{le="+Inf"} 1\na_gcount 1\na_gsum -1\n# EOF\n',
    '# TYPE a gaugehistogram\na_bucket{le="+Inf"} 1\na_gsum 1\n# EOF\n',
    "# TYPE a summary\na 1\n# EOF\n",
    '# TYPE a summary\na{quantile="2"} 1\n# EOF\n',
    '# TYPE a summary\na{quantile="+inf"} 1\n# EOF\n',
    '# TYPE a summary\na{quantile="0.5"} -1\n# EOF\n',
    "# TYPE a summary\na_count -1\n# EOF\n",
    "# TYPE a stateset\na 1\n# EOF\n",
    '# TYPE a stateset\na{a="x"} 2\n# EOF\n',
    "# TYPE a info\na_info 2\n# EOF\n",
    "# TYPE a nh histogram\n# EOF\n",
    "# TYPE a histogram\na_count {count:1,sum:1,schema:0,zero_threshold:0,zero_count:0}\n# EOF\n",
    '# TYPE a histogram\na_bucket{le="+Inf"} 1 {count:1,sum:1,schema:0,zero_threshold:0,zero_count:0}\n# EOF\n',
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_input_is_rejected(text: str) -> None:
    assert check(text) is ValueError


VALID = [
    'a{b="c" ,d="e"} 1\n# EOF\n',
    "# EOF\n",
    "# EOF",
    "a 1\n# EOF\n",
    "a 1 1\n# EOF\n",
    "a 1 1.5\n# EOF\n",
    "a 1 -1.5\n# EOF\n",
    "a 1 1.5e3\n# EOF\n",
    "a 1 1.1234567891234\n# EOF\n",
    "a 1e3\na2 +Inf\na3 -Inf\na4 NaN\na5 -0.0\n# EOF\n",
    '# TYPE "a.b" gauge\n# HELP "a.b" x\n{"a.b"} 1\n# EOF\n',
    '# HELP a \\\\ \\n \\" \\x \\\n# EOF\n',
    "# HELP a  two  spaces \n# EOF\n",
    "# HELP a \n# EOF\n",
    "# TYPE a gauge\na 1 1\na 1 1\n# EOF\n",
    "# TYPE a gauge\na 1 1.5\na 2 1.6\n# EOF\n",
    '# TYPE a info\na_info{b="c"} 1 2\na_info{b="c"} 1 1\n# EOF\n',
    "# TYPE a_s counter\n# UNIT a_s s\na_s_total 1\na_s_created 1\n# EOF\n",
    '# TYPE a counter\na_total 1 # {} 1\na_total{b="c"} 1 2 # {d="e"} 1 3\n# EOF\n',
    '# TYPE a counter\na_total 1 # {a="b}"} 1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="-1"} 0\na_bucket{le="+Inf"} 1\n# EOF\n',
    '# TYPE a gaugehistogram\na_bucket{le="-1"} 0\na_bucket{le="+Inf"} 1\na_gcount 1\na_gsum -1\n# EOF\n',
    '# TYPE a histogram\na_bucket{le="1.0"} 0\na_bucket{le="+Inf"} 1 # {x="y"} 0.5 1\na_count 1\na_sum 1\n# EOF\n',
    "# TYPE a histogram\na {count:24,sum:100,schema:0,zero_threshold:0.001,zero_count:4,positive_spans:[0:2,1:2],"
    "negative_spans:[0:2,1:2],positive_deltas:[2,1,-3,3],negative_deltas:[2,1,-2,3]}\n# EOF\n",
    '# TYPE a histogram\na{b="c"} {count:1,sum:1,schema:0,zero_threshold:0,zero_count:1}\n'
    '{"a"} {count:1,sum:1,schema:0,zero_threshold:0,zero_count:1}\n# EOF\n',
    '# TYPE a stateset\na{a="x"} 1\na{a="y"} 0\n# EOF\n',
    '# TYPE a summary\na{quantile="0.5"} 1\na_count 1\na_sum 1\na_created 1\n# EOF\n',
]


@pytest.mark.parametrize("text", VALID)
def test_valid_input_is_accepted(text: str) -> None:
    assert check(text) is not ValueError


def test_oracle_crashes() -> None:
    """Where prometheus_client crashes with a non-ValueError, fastprom parses per the spec or raises ValueError."""
    assert list(parser.text_string_to_metric_families("a 1 1e3\n# EOF\n"))[0].samples[0].timestamp == 1000.0
    with pytest.raises(ValueError, match="without count"):
        list(parser.text_string_to_metric_families("# TYPE a histogram\na {sum:1}\n# EOF\n"))


def test_errors_name_the_line() -> None:
    with pytest.raises(ValueError, match=r"line 3: '# TYPE a gauge'"):
        list(parser.text_string_to_metric_families("# TYPE a gauge\na 1\n# TYPE a gauge\n# EOF\n"))
