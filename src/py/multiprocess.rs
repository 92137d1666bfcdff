//! The reading side of multiprocess mode for `fastprom.multiprocess`: the collector of a
//! directory, the static merge, `mark_process_dead`, and the Python warnings that a
//! corrupt or unreadable file gives.

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::core::error::Error;
use crate::core::multiprocess::{self, capture, DirCollector, Warning};
use crate::py::collectors::NativeCollector;
use crate::py::convert::family_to_py;

pyo3::create_exception!(
    fastprom._core,
    MultiprocessWarning,
    pyo3::exceptions::PyUserWarning,
    "A multiprocess file was left out of a scrape (corrupt, truncated, unreadable or \
     misnamed); the message names it."
);

/// Issues one `MultiprocessWarning` per warning (an error if warnings are errors).
pub fn emit_warnings(py: Python<'_>, warnings: &[Warning]) -> PyResult<()> {
    let category = py.get_type::<MultiprocessWarning>();
    for w in warnings {
        // A path or key never holds a NUL byte; replaced if one ever does.
        let text = CString::new(w.to_string().replace('\0', "\\0")).unwrap_or_default();
        PyErr::warn(py, category.as_any(), &text, 1)?;
    }
    Ok(())
}

/// Runs `f` without the GIL, then issues as Python warnings those of the merges it made.
pub fn detach_warning<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    let (result, warnings) = py.detach(|| capture(f));
    emit_warnings(py, &warnings)?;
    Ok(result)
}

/// The collector of `path`'s `*.db` files, merged at each scrape.
#[pyfunction]
pub fn multiprocess_collector(path: PathBuf) -> NativeCollector {
    NativeCollector {
        inner: Arc::new(DirCollector::new(path)),
    }
}

/// `MultiProcessCollector.merge(files, accumulate)`: `Metric` objects, in
/// prometheus_client's order.
#[pyfunction]
#[pyo3(signature = (files, accumulate = true))]
#[allow(clippy::needless_pass_by_value)] // pyo3 extracts a list into a Vec
pub fn multiprocess_merge(
    py: Python<'_>,
    files: Vec<PathBuf>,
    accumulate: bool,
) -> PyResult<Bound<'_, PyList>> {
    let merged = py.detach(|| multiprocess::merge(&files, accumulate));
    emit_warnings(py, &merged.warnings)?;
    let list = PyList::empty(py);
    for fam in &merged.families {
        list.append(family_to_py(py, fam, true, &[])?)?;
    }
    Ok(list)
}

/// Removes the `live*` gauge files of process `pid` from `path`; the paths removed.
#[pyfunction]
pub fn mark_process_dead(py: Python<'_>, pid: &str, path: PathBuf) -> PyResult<Vec<String>> {
    let removed = py
        .detach(move || multiprocess::mark_process_dead(pid, &path))
        .map_err(Error::from)?;
    Ok(removed
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "MultiprocessWarning",
        m.py().get_type::<MultiprocessWarning>(),
    )?;
    m.add_function(wrap_pyfunction!(multiprocess_collector, m)?)?;
    m.add_function(wrap_pyfunction!(multiprocess_merge, m)?)?;
    m.add_function(wrap_pyfunction!(mark_process_dead, m)?)?;
    Ok(())
}
