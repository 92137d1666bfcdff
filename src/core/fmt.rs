//! Text primitives of the exposition formats: Python's float `repr`, prometheus_client's
//! Go-style float strings, name validity and the escaping schemes.

use crate::core::format::Escaping;
use std::fmt::Write;

/// Appends Python's `repr(v)` of a float: the shortest digits that round-trip, fixed
/// notation for decimal exponents in `-4..16`, scientific (`1e+16`, `1.5e-05`) otherwise.
pub fn write_py_repr(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("nan");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
        return;
    }
    let mut buf = [0u8; 40];
    let (neg, digits, exp) = shortest_digits(v, &mut buf);
    if neg {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        // `exp >= 0` here.
        #[allow(clippy::cast_sign_loss)]
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

/// Appends prometheus_client's `floatToGoString(v)`: `+Inf`, `-Inf`, `NaN`, else Python's
/// repr, except that positive values with seven or more integer digits in fixed notation
/// switch to Go's exponent layout (`1e+06`, `1.234567e+06`).
pub fn write_go_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Exact comparisons: whether `v` is integral, and zero.
    #[allow(clippy::float_cmp)]
    if v == v.trunc() && v.abs() < 1e6 {
        // Integral values below a million: `N.0` (the common case for counts).
        if v == 0.0 && v.is_sign_negative() {
            out.push_str("-0.0");
        } else {
            // Integral and below a million: exact in an i64.
            #[allow(clippy::cast_possible_truncation)]
            write_int(out, v as i64);
            out.push_str(".0");
        }
        return;
    }
    let mut buf = [0u8; 40];
    let (neg, digits, exp) = shortest_digits(v, &mut buf);
    if !neg && (6..16).contains(&exp) {
        let mantissa = digits.trim_end_matches('0');
        out.push_str(&mantissa[..1]);
        if mantissa.len() > 1 {
            out.push('.');
            out.push_str(&mantissa[1..]);
        }
        let _ = write!(out, "e+{exp:02}");
        return;
    }
    write_py_repr(out, v);
}

/// Appends the decimal digits of `n` (what `{}` prints, without the formatting machinery).
fn write_int(out: &mut String, n: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[pos..]).expect("ASCII digits"));
}

/// Shortest round-trip decimal digits of a finite `v`: (negative, digits, decimal exponent
/// of the first digit). Zero gives ("0", 0).
fn shortest_digits(v: f64, buf: &mut [u8; 40]) -> (bool, &str, i32) {
    struct Cursor<'a> {
        buf: &'a mut [u8; 40],
        len: usize,
    }
    impl Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            if end > self.buf.len() {
                return Err(std::fmt::Error);
            }
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut c = Cursor { buf, len: 0 };
    // `{:e}` without a precision prints the shortest digits that round-trip.
    let _ = write!(c, "{v:e}");
    let len = c.len;
    let s = std::str::from_utf8(&buf[..len]).expect("ascii");
    let neg = s.starts_with('-');
    let s = if neg { &s[1..] } else { s };
    let (mant, exp) = s.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let digits_start = usize::from(neg);
    let mant_len = mant.len();
    // Remove the '.' in place: "1.2345" -> "12345".
    let (digits_len, start) = if mant_len > 1 {
        let dot = digits_start + 1;
        buf.copy_within(dot + 1..digits_start + mant_len, dot);
        (mant_len - 1, digits_start)
    } else {
        (1, digits_start)
    };
    if digits_len >= 16
        && buf[start + digits_len - 1] & 1 == 1
        && is_half_way(v, &buf[start..start + digits_len])
    {
        // Rust rounds this tie up; Python's repr rounds it to the even digit if that one
        // reads back as `v` too (below a power of two the lower gap is narrower).
        buf[start + digits_len - 1] -= 1;
        let d = std::str::from_utf8(&buf[start..start + digits_len]).expect("ascii");
        if format!("{}.{}e{}", &d[..1], &d[1..], exp).parse::<f64>() != Ok(v.abs()) {
            buf[start + digits_len - 1] += 1;
        }
    }
    let digits = std::str::from_utf8(&buf[start..start + digits_len]).expect("ascii");
    (neg, digits, exp)
}

/// Whether `|v|` is exactly half way between `digits` and `digits` minus one unit in the
/// last place, i.e. its exact decimal expansion is those digits less one, then a `5`.
/// Only possible for short exact expansions (at most 18 significant digits), which are
/// checked in integers: `|v| = m * 2^q` with `m` odd is `m * 5^-q` times `10^q`.
fn is_half_way(v: f64, digits: &[u8]) -> bool {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut q) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    if m == 0 {
        return false;
    }
    let zeros = m.trailing_zeros();
    m >>= zeros;
    // At most 63.
    #[allow(clippy::cast_possible_wrap)]
    let zeros = zeros as i32;
    q += zeros;
    if q >= 0 {
        // An integer: a tie would end in 5, an odd integer above 2^53.
        return false;
    }
    let Some(exact) = 5u128
        .checked_pow(q.unsigned_abs())
        .and_then(|p| p.checked_mul(u128::from(m)))
    else {
        return false;
    };
    if exact >= 1_000_000_000_000_000_000 {
        return false;
    }
    let (last, head) = digits.split_last().expect("digits");
    let mut want = 0u128;
    for d in head {
        want = want * 10 + u128::from(d - b'0');
    }
    want = (want * 10 + u128::from(last - b'0' - 1)) * 10 + 5;
    exact == want
}

/// `floatToGoString` as an owned string.
pub fn go_float(v: f64) -> String {
    let mut s = String::with_capacity(24);
    write_go_float(&mut s, v);
    s
}

/// Python's `repr(float)` as an owned string.
pub fn py_repr(v: f64) -> String {
    let mut s = String::with_capacity(24);
    write_py_repr(&mut s, v);
    s
}

fn is_letter_or_underscore(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Byte classes of the legacy name syntaxes, one bit each.
const METRIC_FIRST: u8 = 1;
const METRIC_REST: u8 = 2;
const LABEL_FIRST: u8 = 4;
const LABEL_REST: u8 = 8;

/// The classes of each byte: letters and `_` are in all four, digits only in the `REST`
/// ones, `:` only in the metric ones; no other byte (nor any of a non-ASCII character).
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation)] // b < 256
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' {
            METRIC_FIRST | METRIC_REST | LABEL_FIRST | LABEL_REST
        } else if c.is_ascii_digit() {
            METRIC_REST | LABEL_REST
        } else if c == b':' {
            METRIC_FIRST | METRIC_REST
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Whether the concatenation of `parts` is one byte of class `first` then bytes of class
/// `rest`, as Python's `re.match(r'^[first][rest]*$')` sees it: `$` also matches before
/// one final newline.
fn legacy_syntax(parts: &[&str], first: u8, rest: u8) -> bool {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let final_newline = parts
        .iter()
        .rev()
        .find(|p| !p.is_empty())
        .is_some_and(|p| p.ends_with('\n'));
    let mut left = total - usize::from(final_newline);
    if left == 0 {
        return false;
    }
    let mut class = first;
    for p in parts {
        let bytes = p.as_bytes();
        let bytes = &bytes[..bytes.len().min(left)];
        left -= bytes.len();
        for &b in bytes {
            if CLASSES[usize::from(b)] & class == 0 {
                return false;
            }
            class = rest;
        }
    }
    true
}

/// `^[a-zA-Z_:][a-zA-Z0-9_:]*$` as prometheus_client applies it.
pub fn is_valid_legacy_metric_name(s: &str) -> bool {
    legacy_syntax(&[s], METRIC_FIRST, METRIC_REST)
}

/// `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_legacy_label_name_syntax(s: &str) -> bool {
    legacy_syntax(&[s], LABEL_FIRST, LABEL_REST)
}

/// Python's `re.match(r'...$')` also matches before one trailing newline: mirror it.
fn strip_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// `^__.*$`: reserved label names.
pub fn is_reserved_label_name(s: &str) -> bool {
    match s.strip_prefix("__") {
        Some(rest) => !strip_final_newline(rest).contains('\n'),
        None => false,
    }
}

/// prometheus_client's `_is_valid_legacy_labelname`.
pub fn is_valid_legacy_label_name(s: &str) -> bool {
    !s.is_empty() && is_legacy_label_name_syntax(s) && !is_reserved_label_name(s)
}

/// Which character set an escaped name is checked against.
#[derive(Clone, Copy)]
pub enum Runes {
    /// Metric names: ASCII letters, digits (not first), `_` and `:`.
    Metric,
    /// Label names: ASCII letters, digits (not first) and `_`.
    Label,
}

fn rune_ok(kind: Runes, c: char, i: usize) -> bool {
    is_letter_or_underscore(c)
        || (c.is_ascii_digit() && i > 0)
        || (matches!(kind, Runes::Metric) && c == ':')
}

/// Backslash-escapes `\`, newline and `"` (label values, OpenMetrics HELP).
pub fn write_escaped_value(out: &mut String, s: &str) {
    if !s.contains(['\\', '\n', '"']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Escapes `\` and newline only (text-format HELP).
pub fn write_escaped_help_text(out: &mut String, s: &str) {
    if !s.contains(['\\', '\n']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// prometheus_client's `_escape(s, escaping, rune_fn)` over the concatenation of `parts`.
pub fn write_escape(out: &mut String, parts: &[&str], escaping: Escaping, runes: Runes) {
    match escaping {
        Escaping::AllowUtf8 => {
            for p in parts {
                write_escaped_value(out, p);
            }
        }
        Escaping::Underscores => {
            let mut i = 0;
            for p in parts {
                for c in p.chars() {
                    out.push(if rune_ok(runes, c, i) { c } else { '_' });
                    i += 1;
                }
            }
        }
        Escaping::Dots => {
            let mut i = 0;
            for p in parts {
                for c in p.chars() {
                    match c {
                        '_' => out.push_str("__"),
                        '.' => out.push_str("_dot_"),
                        c if rune_ok(runes, c, i) => out.push(c),
                        _ => out.push_str("__"),
                    }
                    i += 1;
                }
            }
        }
        Escaping::Values => {
            out.push_str("U__");
            let mut i = 0;
            for p in parts {
                for c in p.chars() {
                    match c {
                        '_' => out.push_str("__"),
                        c if rune_ok(runes, c, i) => out.push(c),
                        c => {
                            let _ = write!(out, "_{:x}_", c as u32);
                        }
                    }
                    i += 1;
                }
            }
        }
    }
}

fn parts_nonempty(parts: &[&str]) -> bool {
    parts.iter().any(|p| !p.is_empty())
}

fn concat_valid_metric(parts: &[&str]) -> bool {
    legacy_syntax(parts, METRIC_FIRST, METRIC_REST)
}

/// prometheus_client's `escape_metric_name` over the concatenation of `parts`.
pub fn write_metric_name(out: &mut String, parts: &[&str], escaping: Escaping) {
    if !parts_nonempty(parts) {
        return;
    }
    let valid = concat_valid_metric(parts);
    match escaping {
        Escaping::AllowUtf8 if !valid => {
            out.push('"');
            write_escape(out, parts, escaping, Runes::Metric);
            out.push('"');
        }
        Escaping::Underscores | Escaping::Values if valid => {
            for p in parts {
                out.push_str(p);
            }
        }
        _ => write_escape(out, parts, escaping, Runes::Metric),
    }
}

/// prometheus_client's `escape_label_name`.
pub fn write_label_name(out: &mut String, s: &str, escaping: Escaping) {
    if s.is_empty() {
        return;
    }
    let valid = is_valid_legacy_label_name(s);
    match escaping {
        Escaping::AllowUtf8 if !valid => {
            out.push('"');
            write_escape(out, &[s], escaping, Runes::Label);
            out.push('"');
        }
        Escaping::Underscores | Escaping::Values if valid => out.push_str(s),
        _ => write_escape(out, &[s], escaping, Runes::Label),
    }
}

/// Whether the concatenated sample name is legacy-valid.
pub fn sample_name_valid(parts: &[&str]) -> bool {
    concat_valid_metric(parts)
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // floats written as Python prints them, next to that text
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (999999.0, "999999.0"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (-1234567.0, "-1234567.0"),
            (123456789.0, "1.23456789e+08"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (1e16, "1e+16"),
            (1e21, "1e+21"),
            (9007199254740992.0, "9.007199254740992e+15"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            (1795546357.229349, "1.795546357229349e+09"),
            (5e-324, "5e-324"),
            (-1e-7, "-1e-07"),
            (1.5e300, "1.5e+300"),
            (100.5, "100.5"),
            (-5.0, "-5.0"),
            (512.8047485351562, "512.8047485351562"),
            (5.960464477539063e-08, "5.960464477539063e-08"),
        ];
        for (v, want) in cases {
            assert_eq!(go_float(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn py_reprs() {
        assert_eq!(py_repr(1600000000.123), "1600000000.123");
        assert_eq!(py_repr(1e16), "1e+16");
        assert_eq!(py_repr(1.5e16), "1.5e+16");
        assert_eq!(py_repr(1234567.0), "1234567.0");
        assert_eq!(py_repr(0.001), "0.001");
        assert_eq!(py_repr(-2.5e-10), "-2.5e-10");
    }

    #[test]
    fn names() {
        assert!(is_valid_legacy_metric_name("a:b_c1"));
        assert!(!is_valid_legacy_metric_name("1a"));
        assert!(is_valid_legacy_metric_name("abc\n"));
        assert!(!is_valid_legacy_label_name("__x"));
        assert!(!is_valid_legacy_metric_name("\n"));
        assert!(!is_valid_legacy_metric_name("a\n\n"));
        assert!(!is_valid_legacy_metric_name("aé"));
        assert!(is_legacy_label_name_syntax("_a1\n"));
        assert!(!is_legacy_label_name_syntax("a:b"));
        // Split names are checked as their concatenation.
        assert!(sample_name_valid(&["req", "_total"]));
        assert!(sample_name_valid(&["", "req"]));
        assert!(sample_name_valid(&["req", "\n"]));
        assert!(!sample_name_valid(&["req\n", "_total"]));
        assert!(!sample_name_valid(&["1", "req"]));
        assert!(!sample_name_valid(&["", ""]));
        assert!(!sample_name_valid(&["re.q", "_total"]));
        let mut s = String::new();
        write_metric_name(&mut s, &["my.dotted", "_total"], Escaping::Underscores);
        assert_eq!(s, "my_dotted_total");
        s.clear();
        write_metric_name(&mut s, &["my.dotted"], Escaping::AllowUtf8);
        assert_eq!(s, "\"my.dotted\"");
        s.clear();
        write_metric_name(&mut s, &["a.b_c"], Escaping::Dots);
        assert_eq!(s, "a_dot_b__c");
        s.clear();
        write_metric_name(&mut s, &["a.b"], Escaping::Values);
        assert_eq!(s, "U__a_2e_b");
    }
}
