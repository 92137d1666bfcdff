//! `/metrics` content negotiation and the HTTP vocabulary for the Python endpoints (WSGI, ASGI,
//! `MetricsHandler`): the same rules as the Rust server's, from `crate::core`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::core::format::Format;
use crate::core::http::{method_not_allowed_body, METHODS, METRICS_ALLOW};
use crate::core::negotiate as core_negotiate;

/// `(openmetrics, escaping, version_major, content_type)` for an `Accept` header; `version_major`
/// is 0 for the text format. A version Python cannot order against 1.0.0 (`1.x`) raises
/// `TypeError`, as prometheus_client's `choose_encoder` does.
#[pyfunction]
fn negotiate(accept: &str) -> PyResult<(bool, &'static str, u32, String)> {
    let (format, content_type) =
        core_negotiate::choose_encoder(accept).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    Ok(match format {
        Format::Text { escaping } => (false, escaping.as_str(), 0, content_type),
        Format::OpenMetrics { escaping, major } => (true, escaping.as_str(), major, content_type),
    })
}

/// Whether an `Accept-Encoding` header lists gzip.
#[pyfunction]
fn gzip_accepted(accept_encoding: &str) -> bool {
    core_negotiate::gzip_accepted(accept_encoding)
}

/// The body of a metrics endpoint's 405 answer to `method`.
#[pyfunction]
fn method_not_allowed(method: &str) -> String {
    method_not_allowed_body(method)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(negotiate, m)?)?;
    m.add_function(wrap_pyfunction!(gzip_accepted, m)?)?;
    m.add_function(wrap_pyfunction!(method_not_allowed, m)?)?;
    m.add("HTTP_METHODS", PyTuple::new(m.py(), METHODS)?)?;
    m.add("METRICS_ALLOW", METRICS_ALLOW)?;
    Ok(())
}
