//! fastprom: a Rust core for a prometheus_client-compatible Python package.
//!
//! `core` is pure Rust (storage, registry model, encoders); `server` is the hyper
//! `/metrics` server; `py` (feature `python`) is the thin pyo3 glue; `ffi` holds every
//! `unsafe` of the crate, behind safe wrappers.

pub mod core;
mod ffi;
pub mod server;

#[cfg(feature = "python")]
mod py;

#[cfg(feature = "python")]
use pyo3::prelude::*;

// `gil_used = false`: a free-threaded interpreter (3.13t) may run this module without
// re-enabling the GIL. Its state is atomics, locks and `PyOnceLock`s, and the Python package's
// shared state (the families caches, gemini's and agents' caches) is locked or idempotent;
// tests/python/test_concurrency.py hammers both from threads switching every microsecond.
// It has never run on a free-threaded interpreter: none can be installed where this project
// is built and tested so far.
#[cfg(feature = "python")]
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
