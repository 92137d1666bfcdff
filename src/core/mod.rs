//! Pure-Rust core: storage, the registry model and the encoders. No pyo3 here.

pub mod atomic;
pub mod collectors;
pub mod encode;
pub mod error;
pub mod fmt;
pub mod format;
pub mod handle;
pub mod http;
pub mod labels;
pub mod metric;
pub mod model;
pub mod multiprocess;
pub mod negotiate;
pub mod registry;
pub mod repr;
pub mod validate;
pub mod value;
