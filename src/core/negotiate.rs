//! HTTP content negotiation for `/metrics`, as prometheus_client's exposition module does it:
//! the `Accept` header picks the format, `Accept-Encoding` enables gzip, and the query's
//! `name[]` values restrict the output.
//!
//! Header values and the query are taken as Python's HTTP servers see them: bytes decoded as
//! Latin-1. The whitespace rules are `str.strip()`'s for any text; versions are read as `int()`
//! reads ASCII digits (Python would also read other Unicode decimal digits, which a header
//! decoded from Latin-1 cannot hold).

use std::fmt;

use crate::core::format::{Escaping, Format};

/// Content type of an answer to a request without a usable `Accept` header.
pub const CONTENT_TYPE_TEXT_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics requested without a version.
pub const CONTENT_TYPE_OPENMETRICS_1_0_0: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CONTENT_TYPE_TEXT_1_0_0: &str = "text/plain; version=1.0.0; charset=utf-8";

/// An `Accept` version that Python cannot order against `(1, 0, 0)`, such as `1.x`:
/// prometheus_client raises `TypeError` for it, and its server answers 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnorderableVersion(pub String);

impl fmt::Display for UnorderableVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot compare Accept version {:?} with 1.0.0", self.0)
    }
}

impl std::error::Error for UnorderableVersion {}

/// The format and `Content-Type` for an `Accept` header (`""` when absent), entry by entry as
/// prometheus_client's `choose_encoder`: the first OpenMetrics entry (without a version, or
/// with one >= 1.0.0) or `text/plain` entry with a version >= 1.0.0 wins; `q=` is ignored;
/// anything else gives text 0.0.4.
pub fn choose_encoder(accept: &str) -> Result<(Format, String), UnorderableVersion> {
    for entry in accept.split(',') {
        let params: Vec<&str> = entry.split(';').collect();
        let media_type = py_strip(params[0]);
        if media_type == "application/openmetrics-text" {
            let version = param(&params, "version").unwrap_or("");
            if version.is_empty() {
                let format = Format::OpenMetrics {
                    escaping: Escaping::Underscores,
                    major: 1,
                };
                return Ok((format, CONTENT_TYPE_OPENMETRICS_1_0_0.to_owned()));
            }
            if at_least(version, [1, 0, 0])? {
                let escaping = escaping(&params);
                // Native histograms need `>= (2, 0, 0)` in Python's tuple order, so "2.0" is 1.
                let major = match at_least(version, [2, 0, 0]) {
                    Ok(true) => py_int(version.split('.').next().unwrap_or(""))
                        .map_or(2, |major| major.clamp(2, u32::MAX.into()) as u32),
                    _ => 1,
                };
                let content_type = format!(
                    "application/openmetrics-text; version={version}; charset=utf-8; escaping={}",
                    escaping.as_str()
                );
                return Ok((Format::OpenMetrics { escaping, major }, content_type));
            }
        } else if media_type == "text/plain" {
            let version = param(&params, "version").unwrap_or("");
            if !version.is_empty() && at_least(version, [1, 0, 0])? {
                let escaping = escaping(&params);
                let content_type =
                    format!("{CONTENT_TYPE_TEXT_1_0_0}; escaping={}", escaping.as_str());
                return Ok((Format::Text { escaping }, content_type));
            }
        }
    }
    let format = Format::Text {
        escaping: Escaping::Underscores,
    };
    Ok((format, CONTENT_TYPE_TEXT_0_0_4.to_owned()))
}

/// Whether an `Accept-Encoding` header (`""` when absent) lists `gzip`, in any case and with
/// any parameters (`gzip;q=0` counts, `*` does not), as prometheus_client's `gzip_accepted`.
pub fn gzip_accepted(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|entry| {
        let coding = entry.split(';').next().unwrap_or("");
        py_strip(coding).eq_ignore_ascii_case("gzip")
    })
}

/// The `name[]` values of a query string, decoded as `urllib.parse.parse_qs` does (`+` is a
/// space, `%XX` escapes are UTF-8 with U+FFFD for invalid sequences, pairs without `=` or with a
/// blank value are dropped). `None` when no value remains: the output is then unrestricted.
pub fn query_names(query: &str) -> Option<Vec<String>> {
    let names: Vec<String> = query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (!value.is_empty() && unquote_plus(key) == "name[]").then(|| unquote_plus(value))
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The first `key=value` parameter named `key`; the key is compared after stripping the entry,
/// as prometheus_client's `_get_version` / `_get_escaping` do.
fn param<'a>(params: &[&'a str], key: &str) -> Option<&'a str> {
    params.iter().find_map(|p| {
        let (k, v) = py_strip(p).split_once('=')?;
        (k == key).then_some(v)
    })
}

fn escaping(params: &[&str]) -> Escaping {
    param(params, "escaping").map_or(Escaping::Underscores, Escaping::from_token)
}

/// `parse_version(version) >= minimum` with Python's tuple order: parts are `int()` or kept as
/// strings, and comparing a string part with an int is a `TypeError`.
fn at_least(version: &str, minimum: [i64; 3]) -> Result<bool, UnorderableVersion> {
    let mut parts = version.split('.');
    for bound in minimum {
        let Some(part) = parts.next() else {
            return Ok(false); // equal prefix, shorter tuple
        };
        match py_int(part) {
            Some(n) if n == bound => continue,
            Some(n) => return Ok(n > bound),
            None => return Err(UnorderableVersion(version.to_owned())),
        }
    }
    Ok(true)
}

/// Python's `int(s)` for a decimal string: surrounding whitespace, a sign, and `_` between
/// digits are allowed. Saturates instead of growing: only the order against small bounds matters.
fn py_int(s: &str) -> Option<i64> {
    let s = py_strip(s);
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut n: i64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(10)?;
        n = n.saturating_mul(10).saturating_add(d.into());
    }
    Some(if negative { -n } else { n })
}

/// `str.strip()`: Python's whitespace is Unicode's `White_Space` plus U+001C..U+001F.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\x1c'..='\x1f'))
}

/// `urllib.parse.unquote_plus`: runs of ASCII are percent-decoded to bytes and read as UTF-8
/// with replacement; other characters are kept as they are.
fn unquote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii() {
            out.push_str(&String::from_utf8_lossy(&run));
            run.clear();
            out.push(c);
            continue;
        }
        match c {
            '+' => run.push(b' '),
            '%' => {
                let hex: String = chars.clone().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(byte) if hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        run.push(byte);
                        chars.next();
                        chars.next();
                    }
                    _ => run.push(b'%'),
                }
            }
            _ => run.push(c as u8),
        }
    }
    out.push_str(&String::from_utf8_lossy(&run));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &str) -> (Format, String) {
        choose_encoder(accept).unwrap()
    }

    fn text(escaping: Escaping) -> Format {
        Format::Text { escaping }
    }

    fn om(escaping: Escaping, major: u32) -> Format {
        Format::OpenMetrics { escaping, major }
    }

    #[test]
    fn default_is_text_0_0_4() {
        let expected = (
            text(Escaping::Underscores),
            CONTENT_TYPE_TEXT_0_0_4.to_owned(),
        );
        for accept in [
            "",
            "*/*",
            "text/plain",
            "text/plain; version=0.0.4",
            "text/html,application/json",
        ] {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_without_version_ignores_escaping() {
        let (format, ct) = negotiate("application/openmetrics-text; escaping=allow-utf-8");
        assert_eq!(format, om(Escaping::Underscores, 1));
        assert_eq!(ct, CONTENT_TYPE_OPENMETRICS_1_0_0);
    }

    #[test]
    fn openmetrics_with_version_echoes_it() {
        let (format, ct) =
            negotiate("application/openmetrics-text; version=1.0.0; escaping=allow-utf-8");
        assert_eq!(format, om(Escaping::AllowUtf8, 1));
        assert_eq!(
            ct,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
        );
        let (format, ct) = negotiate("application/openmetrics-text;version=2.0.0;q=0.5");
        assert_eq!(format, om(Escaping::Underscores, 2));
        assert_eq!(
            ct,
            "application/openmetrics-text; version=2.0.0; charset=utf-8; escaping=underscores"
        );
    }

    #[test]
    fn native_histograms_need_a_full_2_0_0() {
        assert_eq!(
            negotiate("application/openmetrics-text; version=2.0").0,
            om(Escaping::Underscores, 1)
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=2").0,
            om(Escaping::Underscores, 1)
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=3.1.0").0,
            om(Escaping::Underscores, 3)
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=1.9.9").0,
            om(Escaping::Underscores, 1)
        );
    }

    #[test]
    fn old_versions_are_skipped() {
        let (format, _) =
            negotiate("application/openmetrics-text; version=0.0.1, text/plain; version=1.0.0");
        assert_eq!(format, text(Escaping::Underscores));
        let (format, _) = negotiate("text/plain, application/openmetrics-text");
        assert_eq!(format, om(Escaping::Underscores, 1));
    }

    #[test]
    fn text_1_0_0_with_escaping() {
        let (format, ct) = negotiate("text/plain; version=1.0.0; escaping=dots");
        assert_eq!(format, text(Escaping::Dots));
        assert_eq!(
            ct,
            "text/plain; version=1.0.0; charset=utf-8; escaping=dots"
        );
        let (format, ct) = negotiate("text/plain; version=1.0.0; escaping=bogus; escaping=values");
        assert_eq!(format, text(Escaping::Underscores));
        assert!(ct.ends_with("escaping=underscores"));
    }

    #[test]
    fn matching_is_exact_like_python() {
        // Media types are case-sensitive; keys are not stripped around `=`.
        assert_eq!(
            negotiate("Application/OpenMetrics-Text").0,
            text(Escaping::Underscores)
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version =2.0.0").1,
            CONTENT_TYPE_OPENMETRICS_1_0_0
        );
        // `int()` accepts a sign, spaces and underscores.
        assert_eq!(
            negotiate("application/openmetrics-text; version=+1.0_0.0").0,
            om(Escaping::Underscores, 1)
        );
        assert_eq!(
            negotiate("\u{a0}application/openmetrics-text\u{a0}; version=1.0.0").1,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
        );
        // Python's whitespace beyond Latin-1 (U+3000, U+2028) and U+001C..U+001F.
        assert_eq!(
            negotiate("\u{3000}text/plain\u{2028}; version=1.0.0\u{1f}").1,
            "text/plain; version=1.0.0; charset=utf-8; escaping=underscores"
        );
        assert!(gzip_accepted("\u{2003}gzip\u{1c}"));
    }

    #[test]
    fn unorderable_versions_are_errors() {
        for accept in [
            "application/openmetrics-text; version=1.x",
            "application/openmetrics-text; version=abc",
            "text/plain; version=1..0",
        ] {
            assert!(choose_encoder(accept).is_err(), "{accept:?}");
        }
        // Python stops comparing at the first differing part.
        assert!(choose_encoder("application/openmetrics-text; version=0.x").is_ok());
        assert!(choose_encoder("application/openmetrics-text; version=2.x").is_ok());
        assert!(choose_encoder("application/openmetrics-text; version=1.0.0.x").is_ok());
    }

    #[test]
    fn gzip() {
        for yes in [
            "gzip",
            "GZip",
            "deflate, gzip;q=0",
            " gzip ; q=1",
            "br,gzip",
        ] {
            assert!(gzip_accepted(yes), "{yes:?}");
        }
        for no in ["", "*", "deflate", "x-gzip", "gzip2"] {
            assert!(!gzip_accepted(no), "{no:?}");
        }
    }

    #[test]
    fn names_from_query() {
        assert_eq!(query_names(""), None);
        assert_eq!(query_names("name[]=&name[]&other=a"), None);
        assert_eq!(
            query_names("name[]=a_total&x=1&name%5B%5D=b+c&name[]=d%2Be%zz%C3%A9&&name[]=%ff"),
            Some(vec![
                "a_total".to_owned(),
                "b c".to_owned(),
                "d+e%zz\u{e9}".to_owned(),
                "\u{fffd}".to_owned()
            ])
        );
        // Bytes outside ASCII arrive as Latin-1 characters and are kept as they are.
        assert_eq!(
            query_names("name[]=\u{e9}%41"),
            Some(vec!["\u{e9}A".to_owned()])
        );
    }
}
