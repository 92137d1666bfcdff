//! What an exposition request asks for: the format and the name-escaping scheme.

/// How metric and label names outside the legacy character set are written
/// (prometheus_client's `escaping=` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Escaping {
    /// `allow-utf-8`: quote names that are not legacy-valid.
    AllowUtf8,
    /// `underscores` (the default): replace invalid characters by `_`.
    Underscores,
    /// `dots`: `_` → `__`, `.` → `_dot_`, others → `__`.
    Dots,
    /// `values`: `U__` prefix, `_` → `__`, others → `_<hex>_`.
    Values,
}

impl Escaping {
    /// Parses the `escaping=` token; unknown values fall back to `underscores`
    /// as prometheus_client's `_get_escaping` does.
    pub fn from_token(s: &str) -> Escaping {
        match s {
            "allow-utf-8" => Escaping::AllowUtf8,
            "dots" => Escaping::Dots,
            "values" => Escaping::Values,
            _ => Escaping::Underscores,
        }
    }

    /// Strict parse for API arguments (`generate_latest(escaping=...)`).
    pub fn parse(s: &str) -> Option<Escaping> {
        match s {
            "allow-utf-8" => Some(Escaping::AllowUtf8),
            "underscores" => Some(Escaping::Underscores),
            "dots" => Some(Escaping::Dots),
            "values" => Some(Escaping::Values),
            _ => None,
        }
    }

    /// The scheme's token, as [`Escaping::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Escaping::AllowUtf8 => "allow-utf-8",
            Escaping::Underscores => "underscores",
            Escaping::Dots => "dots",
            Escaping::Values => "values",
        }
    }
}

/// The exposition format of one rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format (0.0.4 / 1.0.0: the same bytes).
    Text {
        /// How names outside the legacy character set are written.
        escaping: Escaping,
    },
    /// OpenMetrics; `major >= 2` writes native-histogram samples.
    OpenMetrics {
        /// How names outside the legacy character set are written.
        escaping: Escaping,
        /// The major version: 1, or 2 and above (native histograms written).
        major: u32,
    },
}
