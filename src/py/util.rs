//! Conversions shared by the glue: label values, amounts, the clock, Python classes.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString, PyTuple};
use smallvec::SmallVec;

use crate::ffi::python as ffi;

/// Label values of one call: borrowed from exact `str` arguments, `str()` of anything else.
pub type Values<'a> = SmallVec<[Cow<'a, str>; 6]>;

/// `str(value)` as prometheus_client applies it to label values.
#[inline]
pub fn label_value<'a>(v: Borrowed<'a, '_, PyAny>) -> PyResult<Cow<'a, str>> {
    if let Ok(s) = v.cast_exact::<PyString>() {
        return Ok(Cow::Borrowed(ffi::str_utf8(s)?));
    }
    Ok(Cow::Owned(v.str()?.to_str()?.to_owned()))
}

pub fn tuple_values<'a>(t: &'a Bound<'_, PyTuple>) -> PyResult<Values<'a>> {
    let mut out = Values::new();
    for i in 0..t.len() {
        out.push(label_value(t.get_borrowed_item(i)?)?);
    }
    Ok(out)
}

/// A number argument such as `inc(amount)`: floats and ints (also huge ones, which raise
/// `OverflowError`); anything else is a `TypeError`, as in prometheus_client's arithmetic.
#[inline]
pub fn number(v: Option<&Bound<'_, PyAny>>, default: f64) -> PyResult<f64> {
    let Some(v) = v else { return Ok(default) };
    if let Ok(f) = v.cast_exact::<PyFloat>() {
        return Ok(f.value());
    }
    if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() || v.hasattr("__float__")? {
        return v.extract::<f64>();
    }
    Err(PyTypeError::new_err(format!(
        "amount must be a number, not '{}'",
        v.get_type().name()?
    )))
}

/// An `amount` argument, read later with [`number`]: left out, it is `Amount(None)` and
/// takes the default; an explicit `None` is a `TypeError` as in prometheus_client's
/// arithmetic (`inc(None)` must not count as `inc()`).
#[derive(Clone, Copy)]
pub struct Amount<'a, 'py>(pub Option<Borrowed<'a, 'py, PyAny>>);

impl<'a, 'py> FromPyObject<'a, 'py> for Amount<'a, 'py> {
    type Error = PyErr;

    #[inline]
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Amount(Some(obj)))
    }
}

/// `float(value)` (`Gauge.set` accepts strings, as prometheus_client does).
pub fn to_float(v: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(f) = v.cast_exact::<PyFloat>() {
        return Ok(f.value());
    }
    let builtins_float = v.py().get_type::<PyFloat>();
    builtins_float.call1((v,))?.extract::<f64>()
}

static TIME_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// `time.time()`, looked up on every call so that tests patching `time.time` see it.
pub fn now(py: Python<'_>) -> PyResult<f64> {
    let m = TIME_MODULE.get_or_try_init(py, || PyModule::import(py, "time").map(Bound::unbind))?;
    m.bind(py)
        .getattr(pyo3::intern!(py, "time"))?
        .call0()?
        .extract()
}

/// A class or function of a standard-library module, imported once. Never one of
/// fastprom's own modules: the package hands those over at import (`bound.rs`).
pub fn python_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(PyModule::import(py, module)?.getattr(name)?.unbind())
    })
    .map(|o| o.bind(py).clone())
}

/// `dict[str, str]` → sorted pairs; non-str keys or values are a `TypeError` naming them.
pub fn str_pairs(d: &Bound<'_, PyDict>, what: &str) -> PyResult<Vec<(String, String)>> {
    str_pairs_or(d, what, PyTypeError::new_err)
}

/// [`str_pairs`] with the exception a non-str value raises made by `value_error`
/// (prometheus_client's exposition fails on a collected sample's non-str label value with
/// `AttributeError`, and fastprom raises the same type there).
pub fn str_pairs_or(
    d: &Bound<'_, PyDict>,
    what: &str,
    value_error: fn(String) -> PyErr,
) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let key: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} names must be str, got {}",
                k.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        let value: String = v.extract().map_err(|_| {
            value_error(format!(
                "{what} value for {key:?} must be str, got {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        out.push((key, value));
    }
    Ok(out)
}
