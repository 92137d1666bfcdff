//! The one error type of the core. The glue maps each variant to the Python exception
//! prometheus_client raises in the same situation.

#![allow(clippy::pedantic, missing_docs)] // TODO(merge): rust-core fixes these

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Bad value or state: `ValueError`.
    Value(String),
    /// Wrong type: `TypeError`.
    Type(String),
    /// A number out of range: `OverflowError`.
    Overflow(String),
    /// Operation not allowed in this mode: `RuntimeError`.
    Runtime(String),
    /// An error raised by code outside the core (a Python collector or callback); the glue
    /// gets the original exception back out of it.
    Foreign(Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn value(msg: impl Into<String>) -> Error {
        Error::Value(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Value(m) | Error::Type(m) | Error::Overflow(m) | Error::Runtime(m) => {
                f.write_str(m)
            }
            Error::Foreign(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}
