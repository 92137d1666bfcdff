//! The key of a `.db` entry: `json.dumps([metric_name, sample_name, labels, help],
//! sort_keys=True)` with Python's defaults, written byte for byte and read back.
//!
//! Python's defaults are `ensure_ascii=True` (every character outside `' '..='~'` becomes
//! `\uXXXX` in lower-case hex, characters beyond the BMP as a surrogate pair), the
//! separators `", "` and `": "`, and the short escapes `\"`, `\\`, `\n`, `\r`, `\t`, `\b`
//! and `\f`. Label names are sorted by code point (`sort_keys=True`).

use std::fmt;

/// A decoded key: the parts prometheus_client's collector reads back from an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The metric's name (`Counter('c', …)` gives `c`).
    pub metric_name: String,
    /// The sample's name (`c_total`, `h_bucket`, …).
    pub sample_name: String,
    /// The labels, sorted by name, each name once.
    pub labels: Vec<(String, String)>,
    /// The metric's help text.
    pub help: String,
}

/// Why a key could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    /// Byte offset in the key where decoding stopped.
    pub at: usize,
    /// What was expected there.
    pub message: &'static str,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at character {}", self.message, self.at)
    }
}

impl std::error::Error for KeyError {}

/// Encodes a key exactly as prometheus_client's `mmap_key` does. `labels` may come in any
/// order; they are sorted by name, and a name given twice keeps its last value (as
/// `dict(zip(names, values))`).
pub fn encode_key<N: AsRef<str>, V: AsRef<str>>(
    metric_name: &str,
    sample_name: &str,
    labels: &[(N, V)],
    help: &str,
) -> String {
    let mut sorted: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .collect();
    // Stable sort, then keep the last of each run of equal names.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut unique: Vec<(&str, &str)> = Vec::with_capacity(sorted.len());
    for (n, v) in sorted {
        match unique.last_mut() {
            Some(last) if last.0 == n => last.1 = v,
            _ => unique.push((n, v)),
        }
    }
    let mut out = String::with_capacity(
        16 + metric_name.len()
            + sample_name.len()
            + help.len()
            + unique
                .iter()
                .map(|(n, v)| n.len() + v.len() + 8)
                .sum::<usize>(),
    );
    out.push('[');
    write_json_str(&mut out, metric_name);
    out.push_str(", ");
    write_json_str(&mut out, sample_name);
    out.push_str(", {");
    for (i, (n, v)) in unique.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_json_str(&mut out, n);
        out.push_str(": ");
        write_json_str(&mut out, v);
    }
    out.push_str("}, ");
    write_json_str(&mut out, help);
    out.push(']');
    out
}

/// Appends `s` as a JSON string the way Python's `json.dumps` (with `ensure_ascii=True`)
/// writes it.
pub fn write_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            ' '..='~' => continue,
            _ => "",
        };
        out.push_str(&s[start..i]);
        start = i + c.len_utf8();
        if !short.is_empty() {
            out.push_str(short);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((*unit >> shift) & 0xf)] as char);
            }
        }
    }
    out.push_str(&s[start..bytes.len()]);
    out.push('"');
}

/// Decodes a key written by prometheus_client (or by [`encode_key`]): a JSON list of a
/// string, a string, an object of strings and a string, with any JSON whitespace.
/// A label name given twice keeps its last value, as Python's `json.loads` does. Lone
/// surrogates (which Python accepts but cannot encode on output) are rejected.
pub fn decode_key(key: &str) -> Result<Key, KeyError> {
    let mut p = Parser {
        s: key,
        b: key.as_bytes(),
        i: 0,
    };
    p.ws();
    p.expect(b'[', "expected '['")?;
    p.ws();
    let metric_name = p.string()?;
    p.comma()?;
    let sample_name = p.string()?;
    p.comma()?;
    let labels = p.object()?;
    p.comma()?;
    let help = p.string()?;
    p.ws();
    p.expect(b']', "expected ']' after four items")?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("extra data after the list"));
    }
    Ok(Key {
        metric_name,
        sample_name,
        labels,
        help,
    })
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, message: &'static str) -> KeyError {
        KeyError {
            at: self.i,
            message,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8, message: &'static str) -> Result<(), KeyError> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(message))
        }
    }

    fn comma(&mut self) -> Result<(), KeyError> {
        self.ws();
        self.expect(b',', "expected ','")?;
        self.ws();
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, KeyError> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut v: u16 = 0;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = v * 16 + u16::from(n);
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, KeyError> {
        self.expect(b'"', "expected a string")?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The stop bytes are ASCII, so both ends are character boundaries.
            out.push_str(&self.s[start..self.i]);
            match self.b.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.err("control character in a string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), KeyError> {
        let c = *self
            .b
            .get(self.i)
            .ok_or_else(|| self.err("unterminated string"))?;
        self.i += 1;
        let plain = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xd800..=0xdbff => {
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(self.err("lone surrogate"));
                        }
                        self.i += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(self.err("lone surrogate"));
                        }
                        0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00)
                    }
                    0xdc00..=0xdfff => return Err(self.err("lone surrogate")),
                    _ => u32::from(unit),
                };
                char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))?
            }
            _ => return Err(self.err("invalid escape")),
        };
        out.push(plain);
        Ok(())
    }

    fn object(&mut self) -> Result<Vec<(String, String)>, KeyError> {
        self.expect(b'{', "expected an object of labels")?;
        self.ws();
        let mut labels: Vec<(String, String)> = Vec::new();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(labels);
        }
        loop {
            let name = self.string()?;
            self.ws();
            self.expect(b':', "expected ':'")?;
            self.ws();
            let value = self.string()?;
            match labels.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => labels.push((name, value)),
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(labels)
    }
}
