//! pyo3 glue: thin wrappers over `crate::core`.

use pyo3::prelude::*;

mod bound;
mod collectors;
mod convert;
mod errors;
mod handle;
mod http;
mod metrics;
mod multiprocess;
mod negotiate;
mod registry;
mod server;
mod timers;
mod util;
mod value_view;
mod values;

use crate::core::{fmt, metric, validate};

#[pyfunction]
fn float_to_go_string(v: f64) -> String {
    fmt::go_float(v)
}

#[pyfunction]
fn set_use_created(on: bool) {
    metric::set_use_created(on);
}

#[pyfunction]
fn use_created() -> bool {
    metric::use_created()
}

#[pyfunction]
fn set_legacy_validation(on: bool) {
    validate::set_legacy_validation(on);
}

#[pyfunction]
fn legacy_validation() -> bool {
    validate::legacy_validation()
}

#[pyfunction]
fn validate_metric_name(name: &str) -> PyResult<()> {
    Ok(validate::validate_metric_name(name)?)
}

#[pyfunction]
fn validate_label_name(name: &str) -> PyResult<()> {
    Ok(validate::validate_label_name(name)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<metrics::Counter>()?;
    m.add(
        "SeriesOverflowWarning",
        m.py().get_type::<metrics::SeriesOverflowWarning>(),
    )?;
    m.add_class::<metrics::Gauge>()?;
    m.add_class::<metrics::Summary>()?;
    m.add_class::<metrics::Histogram>()?;
    m.add_class::<metrics::Info>()?;
    m.add_class::<metrics::Enum>()?;
    m.add_class::<value_view::Value>()?;
    m.add_class::<http::HttpSeries>()?;
    m.add_class::<http::HttpRecorder>()?;
    m.add_class::<http::HttpCycle>()?;
    m.add_class::<http::ReceiveAwait>()?;
    m.add_class::<timers::Timer>()?;
    m.add_class::<timers::InprogressTracker>()?;
    m.add_class::<timers::ExceptionCounter>()?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<collectors::NativeCollector>()?;
    m.add_class::<collectors::GcCounters>()?;
    m.add_function(wrap_pyfunction!(collectors::process_collector, m)?)?;
    m.add_function(wrap_pyfunction!(collectors::static_collector, m)?)?;
    m.add_function(wrap_pyfunction!(registry::encode, m)?)?;
    m.add_function(wrap_pyfunction!(float_to_go_string, m)?)?;
    m.add_function(wrap_pyfunction!(set_use_created, m)?)?;
    m.add_function(wrap_pyfunction!(use_created, m)?)?;
    m.add_function(wrap_pyfunction!(set_legacy_validation, m)?)?;
    m.add_function(wrap_pyfunction!(legacy_validation, m)?)?;
    m.add_function(wrap_pyfunction!(validate_metric_name, m)?)?;
    m.add_function(wrap_pyfunction!(validate_label_name, m)?)?;
    multiprocess::register(m)?;
    server::register(m)?;
    bound::register(m)?;
    negotiate::register(m)?;
    values::register(m)?;
    Ok(())
}
