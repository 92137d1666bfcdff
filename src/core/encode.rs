//! The two exposition encoders: Prometheus text (0.0.4) and OpenMetrics, byte-for-byte
//! what prometheus_client 0.26 writes for the same families.

use std::collections::HashSet;

use crate::core::error::{Error, Result};
use crate::core::fmt::{self, Runes};
use crate::core::format::{Escaping, Format};
use crate::core::model::{Exemplar, FamilySource, SampleRef};

/// Writes families one after the other; `finish` returns the bytes.
pub struct Encoder<'n> {
    format: Format,
    /// `name[]` restriction: keep only samples with these names, drop families left empty.
    names: Option<&'n HashSet<String>>,
    out: String,
    scratch: String,
}

/// The samples the text format writes after a family's others, each set under its own
/// `gauge` header, in this order.
const SIDE_SUFFIXES: [&str; 3] = ["_created", "_gcount", "_gsum"];

impl<'n> Encoder<'n> {
    /// An encoder writing `format`; with `names`, only samples so named (a `name[]` scrape).
    pub fn new(format: Format, names: Option<&'n HashSet<String>>) -> Encoder<'n> {
        Encoder {
            format,
            names,
            out: String::with_capacity(4096),
            scratch: String::new(),
        }
    }

    /// The bytes written, with OpenMetrics' closing `# EOF`.
    pub fn finish(mut self) -> Vec<u8> {
        if matches!(self.format, Format::OpenMetrics { .. }) {
            self.out.push_str("# EOF\n");
        }
        self.out.into_bytes()
    }

    /// Encodes one family; `restrict` says whether the `name[]` filter applies to it.
    pub fn family(&mut self, fam: &dyn FamilySource, restrict: bool) -> Result<()> {
        let names = if restrict { self.names } else { None };
        match self.format {
            // The text format may walk a family twice: both walks see the same series.
            Format::Text { escaping } => {
                fam.with_snapshot(&mut |snap| self.text_family(snap, escaping, names))
            }
            Format::OpenMetrics { escaping, major } => self.om_family(fam, escaping, major, names),
        }
    }

    fn keep(scratch: &mut String, names: Option<&HashSet<String>>, s: &SampleRef<'_>) -> bool {
        match names {
            None => true,
            Some(set) => {
                scratch.clear();
                s.write_name(scratch);
                set.contains(scratch.as_str())
            }
        }
    }

    fn text_family(
        &mut self,
        fam: &dyn FamilySource,
        escaping: Escaping,
        names: Option<&HashSet<String>>,
    ) -> Result<()> {
        let start = self.out.len();
        let name = fam.name();
        let (suffix, mtype) = match fam.type_name() {
            "counter" => ("_total", "counter"),
            "info" => ("_info", "gauge"),
            "stateset" => ("", "gauge"),
            "gaugehistogram" => ("", "histogram"),
            "unknown" => ("", "untyped"),
            other => ("", other),
        };
        let help = fam.help();
        text_header(&mut self.out, &[name, suffix], help, mtype, escaping);
        // The `_created`, `_gcount` and `_gsum` samples follow the others, each set under
        // its own header: a first pass writes the others and notes which sets exist, one
        // more pass per set writes it (no side buffer as big as the family's output).
        let mut kept = 0usize;
        let mut sides = [false; 3];
        let (out, scratch) = (&mut self.out, &mut self.scratch);
        fam.for_each_sample(&mut |s| {
            if !Self::keep(scratch, names, s) {
                return Ok(());
            }
            kept += 1;
            match side_of(name, s) {
                Some(i) => {
                    // Fail where a single pass would: at this sample, in sample order.
                    sample_value(s)?;
                    sides[i] = true;
                    Ok(())
                }
                None => text_sample(out, s, escaping),
            }
        })?;
        if names.is_some() && kept == 0 {
            self.out.truncate(start);
            return Ok(());
        }
        for (i, _) in sides.iter().enumerate().filter(|(_, on)| **on) {
            text_header(
                &mut self.out,
                &[name, SIDE_SUFFIXES[i]],
                help,
                "gauge",
                escaping,
            );
            let (out, scratch) = (&mut self.out, &mut self.scratch);
            fam.for_each_sample(&mut |s| {
                if side_of(name, s) == Some(i) && Self::keep(scratch, names, s) {
                    text_sample(out, s, escaping)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn om_family(
        &mut self,
        fam: &dyn FamilySource,
        escaping: Escaping,
        major: u32,
        names: Option<&HashSet<String>>,
    ) -> Result<()> {
        let start = self.out.len();
        let name = fam.name();
        let out = &mut self.out;
        out.push_str("# HELP ");
        fmt::write_metric_name(out, &[name], escaping);
        out.push(' ');
        fmt::write_escaped_value(out, fam.help());
        out.push_str("\n# TYPE ");
        fmt::write_metric_name(out, &[name], escaping);
        out.push(' ');
        let type_name = fam.type_name();
        out.push_str(type_name);
        out.push('\n');
        // A restricted family is rebuilt without its unit by prometheus_client.
        if !fam.unit().is_empty() && names.is_none() {
            out.push_str("# UNIT ");
            fmt::write_metric_name(out, &[name], escaping);
            out.push(' ');
            out.push_str(fam.unit());
            out.push('\n');
        }
        let mut kept = 0usize;
        let scratch = &mut self.scratch;
        fam.for_each_sample(&mut |s| {
            if !Self::keep(scratch, names, s) {
                return Ok(());
            }
            kept += 1;
            om_sample(out, name, type_name, s, escaping, major)
        })?;
        if names.is_some() && kept == 0 {
            self.out.truncate(start);
        }
        Ok(())
    }
}

fn text_header(out: &mut String, name: &[&str], help: &str, mtype: &str, escaping: Escaping) {
    out.push_str("# HELP ");
    fmt::write_metric_name(out, name, escaping);
    out.push(' ');
    fmt::write_escaped_help_text(out, help);
    out.push_str("\n# TYPE ");
    fmt::write_metric_name(out, name, escaping);
    out.push(' ');
    out.push_str(mtype);
    out.push('\n');
}

/// `{"name",label="value",…}`: a sample whose (quoted UTF-8) name goes inside the braces.
fn write_name_in_braces(
    out: &mut String,
    name: &[&str],
    labels: &[(&str, &str)],
    escaping: Escaping,
) {
    out.push('{');
    fmt::write_metric_name(out, name, escaping);
    if !labels.is_empty() {
        out.push(',');
        write_labels(out, labels, escaping);
    }
    out.push('}');
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], escaping: Escaping) {
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        fmt::write_label_name(out, k, escaping);
        out.push_str("=\"");
        fmt::write_escaped_value(out, v);
        out.push('"');
    }
}

/// Which of [`SIDE_SUFFIXES`] the text format moves `s` under, if any. prometheus_client
/// checks the suffixes in the order `_created`, `_gsum`, `_gcount`.
fn side_of(family: &str, s: &SampleRef<'_>) -> Option<usize> {
    if s.name_is(family, "_created") {
        Some(0)
    } else if s.name_is(family, "_gsum") {
        Some(2)
    } else if s.name_is(family, "_gcount") {
        Some(1)
    } else {
        None
    }
}

/// The value the text format writes, or the error prometheus_client raises without one.
fn sample_value(s: &SampleRef<'_>) -> Result<f64> {
    s.value.ok_or_else(|| Error::SampleWithoutValue {
        sample: s.name.concat(),
    })
}

fn text_sample(out: &mut String, s: &SampleRef<'_>, escaping: Escaping) -> Result<()> {
    let value = sample_value(s)?;
    if escaping != Escaping::AllowUtf8 || fmt::sample_name_valid(s.name) {
        fmt::write_metric_name(out, s.name, escaping);
        if !s.labels.is_empty() {
            out.push('{');
            write_labels(out, s.labels, escaping);
            out.push('}');
        }
    } else {
        write_name_in_braces(out, s.name, s.labels, escaping);
    }
    out.push(' ');
    fmt::write_go_float(out, value);
    if let Some(ts) = s.timestamp {
        out.push(' ');
        ts.write_millis(out);
    }
    out.push('\n');
    Ok(())
}

fn exemplar_allowed(type_name: &str, family: &str, s: &SampleRef<'_>) -> bool {
    match type_name {
        "counter" => s.name_ends_with("_total"),
        "gaugehistogram" => s.name_ends_with("_bucket"),
        "histogram" => s.name_ends_with("_bucket") || s.name_is(family, ""),
        _ => false,
    }
}

fn write_exemplar(
    out: &mut String,
    family: &str,
    type_name: &str,
    s: &SampleRef<'_>,
    ex: &Exemplar,
) -> Result<()> {
    if !exemplar_allowed(type_name, family, s) {
        return Err(Error::ExemplarNotAllowed {
            family: family.to_owned(),
        });
    }
    let mut labels: Vec<&(String, String)> = ex.labels.iter().collect();
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    out.push_str(" # {");
    for (i, (k, v)) in labels.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        fmt::write_escaped_value(out, v);
        out.push('"');
    }
    out.push_str("} ");
    fmt::write_go_float(out, ex.value);
    if let Some(ts) = &ex.timestamp {
        out.push(' ');
        ts.write_openmetrics(out);
    }
    Ok(())
}

fn om_sample(
    out: &mut String,
    family: &str,
    type_name: &str,
    s: &SampleRef<'_>,
    escaping: Escaping,
    major: u32,
) -> Result<()> {
    let quoted_name = escaping == Escaping::AllowUtf8 && !fmt::sample_name_valid(s.name);
    let mut exemplar = String::new();
    if let Some(ex) = s.exemplar {
        write_exemplar(&mut exemplar, family, type_name, s, ex)?;
    }
    if s.native_histogram.is_some() && major < 2 {
        return Ok(());
    }
    for ex in s.native_exemplars {
        write_exemplar(&mut exemplar, family, type_name, s, ex)?;
    }
    if quoted_name {
        write_name_in_braces(out, s.name, s.labels, escaping);
    } else {
        fmt::write_escape(out, s.name, escaping, Runes::Label);
        if !s.labels.is_empty() {
            out.push('{');
            write_labels(out, s.labels, escaping);
            out.push('}');
        }
    }
    out.push(' ');
    if let Some(nh) = s.native_histogram {
        out.push_str(nh);
    } else if let Some(v) = s.value {
        fmt::write_go_float(out, v);
    }
    if let Some(ts) = s.timestamp {
        out.push(' ');
        ts.write_openmetrics(out);
    }
    out.push_str(&exemplar);
    out.push('\n');
    Ok(())
}
