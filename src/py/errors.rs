//! The core's error → the Python exception prometheus_client raises.

use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::core::error::Error;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Value(m) => PyValueError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Overflow(m) => PyOverflowError::new_err(m),
            Error::Runtime(m) => PyRuntimeError::new_err(m),
            Error::Foreign(inner) => match inner.downcast::<PyErr>() {
                Ok(err) => *err,
                Err(other) => PyRuntimeError::new_err(other.to_string()),
            },
        }
    }
}

/// Carries a Python exception through core code that calls back into Python.
pub fn foreign(err: PyErr) -> Error {
    Error::Foreign(Box::new(err))
}
