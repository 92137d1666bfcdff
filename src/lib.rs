//! fastprom: a Rust core for a prometheus_client-compatible Python package.
//!
//! `core` is pure Rust (storage, registry model, encoders); `server` is the hyper
//! `/metrics` server; `py` (feature `python`) is the thin pyo3 glue.

pub mod core;
pub mod server;

#[cfg(feature = "python")]
mod py;

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
