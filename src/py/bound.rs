//! The Python objects the native module builds or calls, handed over once by the Python
//! package at import (`fastprom._native` calls `_core._bind(...)`). The native module never
//! imports from the package: the dependency goes one way, Python → Rust.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// What `_bind` hands over.
struct Bindings {
    /// The default registry (`fastprom.registry.REGISTRY`), for `registry=` left out.
    registry: Py<PyAny>,
    /// `fastprom.context_managers._decorate(f, cm)`: wraps a function in a timer/tracker.
    decorate: Py<PyAny>,
    /// The `Metric` class that `collect()`/`describe()` return.
    metric: Py<PyAny>,
    /// The `Sample` class.
    sample: Py<PyAny>,
    /// The `Exemplar` class.
    exemplar: Py<PyAny>,
    /// Renders a native-histogram sample value as OpenMetrics text.
    native_histogram_value: Py<PyAny>,
}

static BINDINGS: PyOnceLock<Bindings> = PyOnceLock::new();

fn bindings(py: Python<'_>) -> PyResult<&Bindings> {
    BINDINGS.get(py).ok_or_else(|| {
        PyRuntimeError::new_err(
            "fastprom._core is not bound to its Python package yet: import fastprom \
             (its fastprom._native module calls _core._bind) before using the native module",
        )
    })
}

/// Hands the native module the Python objects it needs; called once, by `fastprom._native`.
#[pyfunction]
#[pyo3(signature = (*, registry, decorate, metric, sample, exemplar, native_histogram_value))]
fn _bind(
    py: Python<'_>,
    registry: Py<PyAny>,
    decorate: Py<PyAny>,
    metric: Py<PyAny>,
    sample: Py<PyAny>,
    exemplar: Py<PyAny>,
    native_histogram_value: Py<PyAny>,
) -> PyResult<()> {
    BINDINGS
        .set(
            py,
            Bindings {
                registry,
                decorate,
                metric,
                sample,
                exemplar,
                native_histogram_value,
            },
        )
        .map_err(|_| PyRuntimeError::new_err("fastprom._core is already bound"))
}

/// Whether `_bind` has been called.
#[pyfunction]
fn _bound(py: Python<'_>) -> bool {
    BINDINGS.get(py).is_some()
}

/// The default registry.
pub fn default_registry(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.registry.bind(py).clone())
}

/// `_decorate(f, cm)`.
pub fn decorate(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.decorate.bind(py).clone())
}

/// The `Metric` class.
pub fn metric_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.metric.bind(py).clone())
}

/// The `Sample` class.
pub fn sample_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.sample.bind(py).clone())
}

/// The `Exemplar` class.
pub fn exemplar_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.exemplar.bind(py).clone())
}

/// The native-histogram value renderer.
pub fn native_histogram_value(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(bindings(py)?.native_histogram_value.bind(py).clone())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_bind, m)?)?;
    m.add_function(wrap_pyfunction!(_bound, m)?)?;
    Ok(())
}
