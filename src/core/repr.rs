//! Python's `repr` of strings and of the containers of strings the core's error messages
//! show (prometheus_client writes label values and dicts into some of its messages).

use std::fmt::Write;

/// Python's `repr(s)`: single quotes unless `s` holds a single quote and no double one;
/// backslash escapes for the quote, `\`, tab, newline, return; `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN` for characters that are not printable.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c < ' ' || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() || printable(c) => out.push(c),
            c => {
                let n = c as u32;
                let _ = match n {
                    0..=0xff => write!(out, "\\x{n:02x}"),
                    0x100..=0xffff => write!(out, "\\u{n:04x}"),
                    _ => write!(out, "\\U{n:08x}"),
                };
            }
        }
    }
    out.push(quote);
    out
}

/// Whether a non-ASCII character is printable: Rust's table of printable characters
/// (the Unicode categories other than controls, formats, separators, surrogates, private
/// use and unassigned, as Python's `str.isprintable`).
fn printable(c: char) -> bool {
    // `str::escape_debug` leaves printable characters as they are; a combining character
    // is escaped only at the start of the string, hence the leading 'a'.
    let mut buf = [0u8; 8];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    let s = std::str::from_utf8(&buf[..len]).expect("built from a char");
    s.escape_debug().skip(1).eq(std::iter::once(c))
}

/// Python's `repr` of a dict of strings: `{'a': 'x', 'b': 'y'}`.
pub fn py_dict_repr(pairs: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&py_str_repr(k));
        out.push_str(": ");
        out.push_str(&py_str_repr(v));
    }
    out.push('}');
    out
}

/// Python's `repr` of a tuple of strings: `('a',)`, `('a', 'b')`.
pub fn py_tuple_repr<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = String::from("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&py_str_repr(v.as_ref()));
    }
    if values.len() == 1 {
        out.push(',');
    }
    out.push(')');
    out
}
