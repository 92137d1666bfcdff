//! Name rules of prometheus_client 0.26: UTF-8 names by default, the legacy character set
//! only after `enable_legacy_validation()`.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::error::{Error, Result};
use crate::core::fmt;

static LEGACY: AtomicBool = AtomicBool::new(false);

/// Whether the legacy character set is enforced (`enable_legacy_validation()`).
pub fn legacy_validation() -> bool {
    LEGACY.load(Ordering::Relaxed)
}

/// Turns legacy validation on or off, process-wide.
pub fn set_legacy_validation(on: bool) {
    LEGACY.store(on, Ordering::Relaxed);
}

/// `namespace_subsystem_name[_unit]`, with a counter's `_total` dropped and the unit
/// appended unless it already ends the name.
pub fn build_full_name(
    type_name: &str,
    name: &str,
    namespace: &str,
    subsystem: &str,
    unit: &str,
) -> Result<String> {
    if name.is_empty() {
        return Err(Error::EmptyMetricName);
    }
    let mut full =
        String::with_capacity(namespace.len() + subsystem.len() + name.len() + unit.len() + 3);
    for part in [namespace, subsystem] {
        if !part.is_empty() {
            full.push_str(part);
            full.push('_');
        }
    }
    full.push_str(name);
    if type_name == "counter" && full.ends_with("_total") {
        full.truncate(full.len() - "_total".len());
    }
    if !unit.is_empty() {
        if !(full.ends_with(unit) && full[..full.len() - unit.len()].ends_with('_')) {
            full.push('_');
            full.push_str(unit);
        }
        if matches!(type_name, "info" | "stateset") {
            return Err(Error::UnitNotAllowed(full));
        }
    }
    validate_metric_name(&full)?;
    Ok(full)
}

/// A metric name: not empty; in the legacy character set if legacy validation is on.
pub fn validate_metric_name(name: &str) -> Result<()> {
    if name.is_empty() || (legacy_validation() && !fmt::is_valid_legacy_metric_name(name)) {
        return Err(Error::InvalidMetricName(name.to_owned()));
    }
    Ok(())
}

/// A label name: not reserved (`__` prefix); legacy characters if legacy validation is on.
pub fn validate_label_name(name: &str) -> Result<()> {
    if legacy_validation() && !fmt::is_legacy_label_name_syntax(name) {
        return Err(Error::InvalidLabelName(name.to_owned()));
    }
    if fmt::is_reserved_label_name(name) {
        return Err(Error::ReservedLabelName(name.to_owned()));
    }
    Ok(())
}

/// Label names of a metric; `reserved` holds the type's own (`le`, `quantile`).
pub fn validate_label_names(names: &[String], reserved: &[&str]) -> Result<()> {
    for n in names {
        validate_label_name(n)?;
        if reserved.contains(&n.as_str()) {
            return Err(Error::ReservedLabelForType(n.clone()));
        }
    }
    Ok(())
}

/// Exemplar labels: valid names, at most 128 characters in names and values together.
pub fn validate_exemplar(labels: &[(String, String)]) -> Result<()> {
    let mut runes = 0;
    for (k, v) in labels {
        validate_label_name(k)?;
        runes += k.chars().count() + v.chars().count();
    }
    if runes > 128 {
        return Err(Error::ExemplarTooLong { runes });
    }
    Ok(())
}
