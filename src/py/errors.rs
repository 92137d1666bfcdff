//! The core's errors → the Python exceptions prometheus_client raises; the one place
//! where that choice is made. Messages are the core's (`Display`).

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::core::error::Error;
use crate::core::multiprocess::{Corruption, MmapError};

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
            // prometheus_client joins the unset directory (None) to a file name: a TypeError.
            Error::SampleWithoutValue { .. } | Error::MultiprocessDirUnset => {
                PyTypeError::new_err(e.to_string())
            }
            Error::Multiprocess(inner) => multiprocess_error(&inner),
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
            | Error::MaxSeries(_)
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
            | Error::ExemplarNotAllowed { .. } => PyValueError::new_err(e.to_string()),
        }
    }
}

/// A multiprocess error: the system's errors are `OSError(errno, message, path)`, which
/// Python turns into the errno's subclass (`FileNotFoundError`, `PermissionError`, …) with
/// `filename` set; an entry running past the file's used size is the `RuntimeError`
/// prometheus_client raises reading it; other corruption (a key that is not UTF-8: a
/// `UnicodeDecodeError` there) and a key too long for the file are a `ValueError`. The
/// message names the file.
fn multiprocess_error(e: &MmapError) -> PyErr {
    let source = match e {
        MmapError::Open { source, .. }
        | MmapError::Grow { source, .. }
        | MmapError::Write { source, .. }
        | MmapError::Map { source, .. }
        | MmapError::Read { source, .. }
        | MmapError::Remove { source, .. } => source,
        MmapError::Corrupt {
            kind: Corruption::KeyLength { .. } | Corruption::EntryPastUsed { .. },
            ..
        } => return PyRuntimeError::new_err(e.to_string()),
        MmapError::Corrupt { .. } | MmapError::KeyTooLong { .. } => {
            return PyValueError::new_err(e.to_string())
        }
    };
    let path = e.path().to_string_lossy().into_owned();
    match source.raw_os_error() {
        Some(errno) => PyOSError::new_err((errno, e.to_string(), path)),
        None => PyOSError::new_err(e.to_string()),
    }
}

/// A Python exception raised by a callback the core runs (a `Gauge.set_function` callback,
/// a custom collector), carried through the core as [`Error::Callback`].
pub fn callback_error(err: PyErr) -> Error {
    Error::Callback(Box::new(err))
}
