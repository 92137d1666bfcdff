//! What the application's `receive()` returns: the server's awaitable, awaited for the
//! application, with the message it ends with noted on the request's cycle.

use pyo3::exceptions::{PyBaseException, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::{intern, PyTraverseError, PyVisit};

use super::cycle::HttpCycle;
use crate::ffi::python as ffi;

/// What `await obj` iterates: a coroutine or generator itself, else `obj.__await__()`.
pub(super) fn awaitable_iter<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if ffi::is_coroutine_or_generator(obj) {
        return Ok(obj.clone());
    }
    match obj.call_method0(intern!(obj.py(), "__await__")) {
        Ok(iter) => Ok(iter),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the ASGI application returned {}, which can't be awaited",
            obj.get_type().name()?
        ))),
    }
}

/// Awaits the server's `receive()` for the application, as a coroutine would (`send`,
/// `throw`, `close`), and notes the message it ends with.
#[pyclass(frozen, module = "fastprom._core")]
pub struct ReceiveAwait {
    cycle: Py<HttpCycle>,
    inner: Py<PyAny>,
}

enum Step {
    Yield(Py<PyAny>),
    Done(Py<PyAny>),
}

impl ReceiveAwait {
    /// Awaits `inner` (the server's `receive()`, as [`awaitable_iter`] gives it) for `cycle`.
    pub(super) fn new(cycle: Py<HttpCycle>, inner: Py<PyAny>) -> ReceiveAwait {
        ReceiveAwait { cycle, inner }
    }

    fn step(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Step> {
        match ffi::iter_send(self.inner.bind(py), value)? {
            ffi::Sent::Yield(v) => Ok(Step::Yield(v.unbind())),
            ffi::Sent::Return(message) => {
                self.received(py, &message);
                Ok(Step::Done(message.unbind()))
            }
        }
    }

    /// Notes what a message the server gave the application says. One that can't be read is
    /// the application's to refuse: handed over, not noted.
    fn received(&self, py: Python<'_>, message: &Bound<'_, PyAny>) {
        let _unreadable = self.cycle.get().note_received(py, message);
    }
}

fn stop_iteration(value: Py<PyAny>) -> PyErr {
    PyStopIteration::new_err((value,))
}

#[pymethods]
impl ReceiveAwait {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.step(py, &py.None().into_bound(py))? {
            Step::Yield(v) => Ok(Some(v)),
            Step::Done(v) => Err(stop_iteration(v)),
        }
    }

    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match self.step(py, value)? {
            Step::Yield(v) => Ok(v),
            Step::Done(v) => Err(stop_iteration(v)),
        }
    }

    /// Throws into the server's awaitable (`throw(exc)` or the older `throw(type, value, tb)`);
    /// one without a `throw` method gets the exception raised here, as `await` would.
    #[pyo3(signature = (*args))]
    fn throw(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.bind(py);
        if !inner.hasattr(intern!(py, "throw"))? {
            let first = args.get_item(0)?;
            return Err(if first.is_instance_of::<PyBaseException>() {
                PyErr::from_value(first)
            } else {
                let value = args.get_item(1).ok().filter(|v| !v.is_none());
                match value {
                    Some(v) => PyErr::from_type(first.cast_into()?, (v.unbind(),)),
                    None => PyErr::from_type(first.cast_into()?, ()),
                }
            });
        }
        match inner.call_method1(intern!(py, "throw"), args) {
            Ok(yielded) => Ok(yielded.unbind()),
            Err(err) if err.is_instance_of::<PyStopIteration>(py) => {
                let message = err.value(py).getattr(intern!(py, "value"))?;
                self.received(py, &message);
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.bind(py);
        if inner.hasattr(intern!(py, "close"))? {
            inner.call_method0(intern!(py, "close"))?;
        }
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.cycle)?;
        visit.call(&self.inner)
    }
}
