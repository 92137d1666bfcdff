//! Every `unsafe` of the crate, in small safe wrappers: each `unsafe` block carries a
//! `// SAFETY:` note saying why it is sound. This is the one module that allows
//! `unsafe_code` (denied everywhere else by Cargo.toml's `[lints]`); callers see safe
//! functions only.
//!
//! * [`mmap`]: a shared file mapping lent out as atomic words (the multiprocess core);
//! * [`fork`]: a handler the C library runs in the child of every fork (the multiprocess core);
//! * [`python`]: CPython's C API and libc's clock (the pyo3 glue, feature `python`).

#![allow(unsafe_code)]

#[cfg(unix)]
pub mod fork;
pub mod mmap;
#[cfg(feature = "python")]
pub mod python;
