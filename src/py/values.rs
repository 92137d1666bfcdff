//! `fastprom.values` and `fastprom.mmap_dict`, the writing side of multiprocess mode:
//! value classes (`MultiProcessStore`), one mapped value used on its own (`MappedValue`),
//! a `.db` file opened for writing (`MmapDict`), and the process-wide switches. The rules
//! are in `core::multiprocess`.

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use pyo3::exceptions::{PyUserWarning, PyValueError};
use pyo3::prelude::*;

use crate::core::error::Error;
use crate::core::multiprocess::encode_key;
use crate::core::multiprocess::store::{self, MappedCell, Store};
use crate::core::multiprocess::{env, read_all_entries_from_file, MmapDict as CoreDict};
use crate::py::errors::callback_error;
use crate::py::util::to_float;

/// Warns `message` (a `UserWarning`) if multiprocess mode is on (either directory variable
/// set), as prometheus_client's `remove`, `remove_by_labels` and `clear` do.
pub fn warn_if_multiprocess(py: Python<'_>, message: &str) -> PyResult<()> {
    if env::enabled() {
        let message = CString::new(message).map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 1)?;
    }
    Ok(())
}

/// A value class of multiprocess mode (`MultiProcessValue(process_identifier)`).
#[pyclass(frozen, module = "fastprom._core")]
pub struct MultiProcessStore(pub Arc<Store>);

#[pymethods]
impl MultiProcessStore {
    /// `process_identifier()` names the files (None: the pid, followed across forks
    /// by a fork handler); `deprecated_dir()` runs before a value is created while only
    /// the lower-case directory variable is set.
    #[new]
    #[pyo3(signature = (process_identifier = None, deprecated_dir = None))]
    fn new(
        process_identifier: Option<Py<PyAny>>,
        deprecated_dir: Option<Py<PyAny>>,
    ) -> PyResult<MultiProcessStore> {
        let identifier = process_identifier.map(|f| {
            Box::new(move || {
                Python::attach(|py| Ok(f.bind(py).call0()?.str()?.to_string()))
                    .map_err(callback_error)
            }) as Box<store::ProcessIdentifier>
        });
        let hook = deprecated_dir.map(|f| {
            Box::new(move || {
                Python::attach(|py| f.bind(py).call0().map(drop)).map_err(callback_error)
            }) as Box<store::DeprecatedDirHook>
        });
        Ok(MultiProcessStore(Store::new(identifier, hook)?))
    }

    /// A value stored under the key of `(metric_name, name, labels, help_text)` in this
    /// process's file for `typ` (and, for a gauge, `multiprocess_mode`).
    #[pyo3(signature = (typ, metric_name, name, labelnames, labelvalues, help_text, multiprocess_mode = ""))]
    #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // pyo3 extracts lists into Vecs
    fn value(
        &self,
        typ: &str,
        metric_name: &str,
        name: &str,
        labelnames: Vec<String>,
        labelvalues: Vec<String>,
        help_text: &str,
        multiprocess_mode: &str,
    ) -> PyResult<MappedValue> {
        let labels: Vec<(&String, &String)> = labelnames.iter().zip(&labelvalues).collect();
        let key = encode_key(metric_name, name, &labels, help_text);
        Ok(MappedValue(self.0.cell(typ, multiprocess_mode, key)?))
    }

    /// Closes the files and forgets the values (`MmapedValue.close_all_files()`).
    fn close(&self) {
        self.0.close();
    }

    /// The process identifier the files are named with now.
    #[getter]
    fn pid(&self) -> String {
        self.0.pid()
    }

    /// The number of files open.
    #[getter]
    fn open_files(&self) -> usize {
        self.0.open_files()
    }
}

/// One value of multiprocess mode (`MultiProcessValue()(...)`).
#[pyclass(frozen, module = "fastprom._core")]
pub struct MappedValue(Arc<MappedCell>);

#[pymethods]
impl MappedValue {
    /// Adds `amount` (the timestamp goes back to 0.0).
    fn inc(&self, amount: &Bound<'_, PyAny>) -> PyResult<()> {
        Ok(self.0.inc(to_float(amount)?)?)
    }

    /// Stores `value` with `timestamp` (0.0 if None or left out).
    #[pyo3(signature = (value, timestamp = None))]
    fn set(&self, value: &Bound<'_, PyAny>, timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let timestamp = match timestamp {
            Some(t) if t.is_truthy()? => to_float(t)?,
            _ => 0.0,
        };
        Ok(self.0.set(to_float(value)?, timestamp)?)
    }

    /// This process's value.
    fn get(&self) -> PyResult<f64> {
        Ok(self.0.get()?)
    }

    /// Exemplars are not kept in multiprocess mode.
    #[allow(clippy::unused_self)]
    fn set_exemplar(&self, _exemplar: &Bound<'_, PyAny>) {}

    /// Always None: exemplars are not kept in multiprocess mode.
    #[allow(clippy::unused_self)]
    fn get_exemplar(&self) -> Option<()> {
        None
    }

    /// The entry's key.
    #[getter]
    fn _key(&self) -> &str {
        self.0.key()
    }
}

/// A `.db` file opened for writing (`MmapedDict(filename)`), until `close()`.
#[pyclass(frozen, module = "fastprom._core")]
pub struct MmapDict {
    path: PathBuf,
    dict: RwLock<Option<Arc<CoreDict>>>,
}

impl MmapDict {
    fn open_dict(&self) -> PyResult<Arc<CoreDict>> {
        self.dict
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyValueError::new_err(format!("{} is closed", self.path.display())))
    }
}

#[pymethods]
impl MmapDict {
    /// Opens or creates the file.
    #[new]
    fn new(filename: PathBuf) -> PyResult<MmapDict> {
        let dict = CoreDict::open(&filename).map_err(Error::from)?;
        Ok(MmapDict {
            path: filename,
            dict: RwLock::new(Some(Arc::new(dict))),
        })
    }

    /// `(value, timestamp)` of `key`, added with 0.0 and 0.0 if new.
    fn read_value(&self, key: &str) -> PyResult<(f64, f64)> {
        Ok(self.open_dict()?.read_value(key).map_err(Error::from)?)
    }

    /// Stores `value` and `timestamp` for `key`.
    fn write_value(&self, key: &str, value: f64, timestamp: f64) -> PyResult<()> {
        Ok(self
            .open_dict()?
            .write_value(key, value, timestamp)
            .map_err(Error::from)?)
    }

    /// Every `(key, value, timestamp)`, in file order.
    fn read_all_values(&self) -> PyResult<Vec<(String, f64, f64)>> {
        Ok(self.open_dict()?.read_all_values().map_err(Error::from)?)
    }

    /// Every `(key, value, timestamp, offset of the value)` of the file `filename`, read
    /// without mapping it.
    #[staticmethod]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts the path into a PathBuf
    fn read_all_values_from_file(filename: PathBuf) -> PyResult<Vec<(String, f64, f64, usize)>> {
        Ok(read_all_entries_from_file(&filename).map_err(Error::from)?)
    }

    /// The file's length in bytes.
    #[getter]
    fn capacity(&self) -> PyResult<u64> {
        Ok(self.open_dict()?.capacity())
    }

    /// Bytes in use, header included.
    #[getter]
    fn used(&self) -> PyResult<usize> {
        Ok(self.open_dict()?.used())
    }

    /// Closes the file (slots handed out keep their mapping).
    fn close(&self) {
        self.dict
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Makes `store` the value class of the values created from now on (None: in-process).
#[pyfunction]
#[pyo3(signature = (store))]
fn set_value_class(store: Option<&Bound<'_, MultiProcessStore>>) {
    store::set_value_class(store.map(|s| s.get().0.clone()));
}

/// Closes the files of every value class and forgets their values.
#[pyfunction]
fn close_all_multiprocess_files() {
    store::close_all();
}

/// prometheus_client's `mmap_key(metric_name, name, labelnames, labelvalues, help_text)`.
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // pyo3 extracts lists into Vecs
fn mmap_key(
    metric_name: &str,
    name: &str,
    labelnames: Vec<String>,
    labelvalues: Vec<String>,
    help_text: &str,
) -> String {
    let labels: Vec<(&String, &String)> = labelnames.iter().zip(&labelvalues).collect();
    encode_key(metric_name, name, &labels, help_text)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MultiProcessStore>()?;
    m.add_class::<MappedValue>()?;
    m.add_class::<MmapDict>()?;
    m.add_function(wrap_pyfunction!(set_value_class, m)?)?;
    m.add_function(wrap_pyfunction!(close_all_multiprocess_files, m)?)?;
    m.add_function(wrap_pyfunction!(mmap_key, m)?)?;
    m.add("DEPRECATED_DIR_WARNING", env::DEPRECATED_DIR_WARNING)?;
    Ok(())
}
