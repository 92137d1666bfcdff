//! Pure-Rust core: no pyo3 here.
pub mod format;
pub mod negotiate;
