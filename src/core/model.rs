//! The data model every encoder reads: metric families made of samples.
//!
//! Native metrics expose their live storage through [`FamilySource`] without copying it;
//! families coming from elsewhere (a Python collector) are converted to [`OwnedFamily`].

use crate::core::error::Result;
use crate::core::fmt;

/// A sample timestamp, kept as the text each format needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Timestamp {
    /// Seconds as a float: OpenMetrics writes its `repr`, text writes `int(ts * 1000)`.
    Float(f64),
    /// Anything else (an int, a `Timestamp(sec, nsec)`): its `str()` and its milliseconds.
    Exact {
        /// The `str()` of the timestamp, written by OpenMetrics.
        text: String,
        /// Milliseconds, written by the text format.
        millis: i128,
    },
}

impl Timestamp {
    /// Appends the timestamp as OpenMetrics writes it (seconds).
    pub fn write_openmetrics(&self, out: &mut String) {
        match self {
            Timestamp::Float(v) => fmt::write_py_repr(out, *v),
            Timestamp::Exact { text, .. } => out.push_str(text),
        }
    }

    /// Appends the timestamp as the text format writes it (milliseconds).
    pub fn write_millis(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Timestamp::Float(v) => {
                let ms = (v * 1000.0).trunc();
                if ms.abs() < 9.0e15 {
                    // Integral and below 2^53: exact in an i64.
                    #[allow(clippy::cast_possible_truncation)]
                    let ms = ms as i64;
                    let _ = write!(out, "{ms}");
                } else {
                    let _ = write!(out, "{ms:.0}");
                }
            }
            Timestamp::Exact { millis, .. } => {
                let _ = write!(out, "{millis}");
            }
        }
    }
}

/// An exemplar attached to a counter or histogram-bucket sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (a trace id, …).
    pub labels: Vec<(String, String)>,
    /// The observed value.
    pub value: f64,
    /// When it was observed.
    pub timestamp: Option<Timestamp>,
}

/// One sample as the encoders see it. `name` is split in parts (`["req", "_bucket"]`) so
/// native metrics need not build strings; `labels` are sorted by name.
pub struct SampleRef<'a> {
    /// The sample name, in parts to concatenate.
    pub name: &'a [&'a str],
    /// The labels, sorted by name.
    pub labels: &'a [(&'a str, &'a str)],
    /// The value; `None` for a native-histogram sample (or a collector's missing value).
    pub value: Option<f64>,
    /// The sample's timestamp, if it has one.
    pub timestamp: Option<&'a Timestamp>,
    /// The sample's exemplar, if it has one.
    pub exemplar: Option<&'a Exemplar>,
    /// OpenMetrics 2.0 native-histogram value text (`{count:…}`), pre-rendered.
    pub native_histogram: Option<&'a str>,
    /// The exemplars of a native-histogram sample.
    pub native_exemplars: &'a [Exemplar],
}

impl SampleRef<'_> {
    /// Whether the sample's name is exactly `base` followed by `suffix`.
    pub fn name_is(&self, base: &str, suffix: &str) -> bool {
        let total: usize = self.name.iter().map(|p| p.len()).sum();
        if total != base.len() + suffix.len() {
            return false;
        }
        if let [a, b] = self.name {
            if a.len() == base.len() {
                return *a == base && *b == suffix;
            }
        }
        let mut want = base.bytes().chain(suffix.bytes());
        self.name
            .iter()
            .flat_map(|p| p.bytes())
            .all(|b| want.next() == Some(b))
    }

    /// Whether the sample's name ends with `suffix`.
    pub fn name_ends_with(&self, suffix: &str) -> bool {
        match self.name.last() {
            // Native names are split as [family, suffix]: no need to join them.
            Some(last) if last.len() >= suffix.len() => last.ends_with(suffix),
            _ => self.name.concat().ends_with(suffix),
        }
    }

    /// Appends the sample's name.
    pub fn write_name(&self, out: &mut String) {
        for p in self.name {
            out.push_str(p);
        }
    }
}

/// A metric family: name, HELP, type, unit and a way to walk its samples in order.
pub trait FamilySource {
    /// The family name (no type suffix).
    fn name(&self) -> &str;
    /// The HELP text.
    fn help(&self) -> &str;
    /// The OpenMetrics type: counter, gauge, summary, histogram, gaugehistogram, unknown,
    /// info or stateset.
    fn type_name(&self) -> &str;
    /// The unit, or empty.
    fn unit(&self) -> &str;
    /// Calls `f` with each sample, in exposition order; stops at `f`'s first error.
    fn for_each_sample(&self, f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>) -> Result<()>;
    /// Calls `f` with a view of this family whose walks all yield the same series (a
    /// native family reads its children once), for encoders that walk a family twice.
    fn with_snapshot(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()>;
}

/// A sample owned by an [`OwnedFamily`].
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedSample {
    /// The full sample name.
    pub name: String,
    /// Sorted by label name.
    pub labels: Vec<(String, String)>,
    /// The value; `None` for a native-histogram sample.
    pub value: Option<f64>,
    /// The timestamp, if any.
    pub timestamp: Option<Timestamp>,
    /// The exemplar, if any.
    pub exemplar: Option<Exemplar>,
    /// OpenMetrics 2.0 native-histogram value text, pre-rendered.
    pub native_histogram: Option<String>,
    /// The exemplars of a native-histogram sample.
    pub native_exemplars: Vec<Exemplar>,
}

impl OwnedSample {
    /// A plain sample: name, labels (sorted here) and value.
    pub fn new(
        name: impl Into<String>,
        mut labels: Vec<(String, String)>,
        value: f64,
    ) -> OwnedSample {
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        OwnedSample {
            name: name.into(),
            labels,
            value: Some(value),
            timestamp: None,
            exemplar: None,
            native_histogram: None,
            native_exemplars: Vec::new(),
        }
    }
}

/// A family held by value (from a foreign collector, or built for target info).
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedFamily {
    /// The family name.
    pub name: String,
    /// The HELP text.
    pub help: String,
    /// The OpenMetrics type name.
    pub type_name: String,
    /// The unit, or empty.
    pub unit: String,
    /// The samples, in exposition order.
    pub samples: Vec<OwnedSample>,
}

impl FamilySource for OwnedFamily {
    fn name(&self) -> &str {
        &self.name
    }
    fn help(&self) -> &str {
        &self.help
    }
    fn type_name(&self) -> &str {
        &self.type_name
    }
    fn unit(&self) -> &str {
        &self.unit
    }
    fn for_each_sample(&self, f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>) -> Result<()> {
        let mut labels: Vec<(&str, &str)> = Vec::new();
        for s in &self.samples {
            labels.clear();
            labels.extend(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            f(&SampleRef {
                name: &[s.name.as_str()],
                labels: &labels,
                value: s.value,
                timestamp: s.timestamp.as_ref(),
                exemplar: s.exemplar.as_ref(),
                native_histogram: s.native_histogram.as_deref(),
                native_exemplars: &s.native_exemplars,
            })?;
        }
        Ok(())
    }
    fn with_snapshot(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        f(self)
    }
}

/// Copies any family into an [`OwnedFamily`] (used to hand native families to Python).
pub fn to_owned_family(src: &dyn FamilySource) -> Result<OwnedFamily> {
    let mut samples = Vec::new();
    src.for_each_sample(&mut |s| {
        samples.push(OwnedSample {
            name: s.name.concat(),
            labels: s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: s.value,
            timestamp: s.timestamp.cloned(),
            exemplar: s.exemplar.cloned(),
            native_histogram: s.native_histogram.map(str::to_string),
            native_exemplars: s.native_exemplars.to_vec(),
        });
        Ok(())
    })?;
    Ok(OwnedFamily {
        name: src.name().to_string(),
        help: src.help().to_string(),
        type_name: src.type_name().to_string(),
        unit: src.unit().to_string(),
        samples,
    })
}
