//! The core's errors → the Python exceptions prometheus_client raises; the one place
//! where that choice is made. Messages are the core's (`Display`).

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::core::error::Error;

impl From<Error> for PyErr {
    // Only error paths call this: kept out of the hot paths' code.
    #[cold]
    fn from(e: Error) -> PyErr {
        match e {
            Error::Callback(inner) => match inner.downcast::<PyErr>() {
                Ok(err) => *err,
                Err(other) => PyRuntimeError::new_err(other.to_string()),
            },
            Error::MostRecentUpdate(_) => PyRuntimeError::new_err(e.to_string()),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::EmptyMetricName
            | Error::InvalidMetricName(_)
            | Error::UnitNotAllowed(_)
            | Error::InvalidLabelName(_)
            | Error::ReservedLabelName(_)
            | Error::ReservedLabelForType(_)
            | Error::ExemplarTooLong { .. }
            | Error::MissingLabelValues { .. }
            | Error::NoLabelNames { .. }
            | Error::AlreadyLabelled { .. }
            | Error::MixedLabelArgs
            | Error::LabelCount { .. }
            | Error::RemoveLabelCount { .. }
            | Error::IncorrectLabelNames
            | Error::UnknownLabelNames { .. }
            | Error::NegativeIncrement
            | Error::InvalidMultiprocessMode(_)
            | Error::BucketsNotSorted
            | Error::TooFewBuckets
            | Error::InfoOverlap { .. }
            | Error::InfoValueNone
            | Error::EnumNameIsLabel(_)
            | Error::NoEnumStates(_)
            | Error::UnknownState(_)
            | Error::UnknownEscaping(_)
            | Error::Value(_) => PyValueError::new_err(e.to_string()),
        }
    }
}

/// A Python exception raised by a callback the core runs (a `Gauge.set_function` callback,
/// a custom collector), carried through the core as [`Error::Callback`].
pub fn callback_error(err: PyErr) -> Error {
    Error::Callback(Box::new(err))
}
