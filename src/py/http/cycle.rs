//! One request in flight: the `send` and the `receive` the application is given.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicU8, Ordering::Relaxed};

use pyo3::exceptions::{PyBaseException, PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use pyo3::{intern, PyTraverseError, PyVisit};

use super::keys::{body_len, get_item, str_or_empty};
use super::receive::{awaitable_iter, ReceiveAwait};
use super::recorder::HttpRecorder;
use crate::ffi::python as ffi;
use crate::py::util::python_attr;

/// nginx's "client closed request": the client left before the response ended.
const CLIENT_CLOSED: u16 = 499;

static CANCELLED_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

const FINISHED: u8 = 1;
const DISCONNECTED: u8 = 2;

/// One request in flight; also the `send` and the `receive` the application is given.
#[pyclass(frozen, module = "fastprom._core")]
pub struct HttpCycle {
    recorder: Py<HttpRecorder>,
    scope: Py<PyAny>,
    send: Py<PyAny>,
    receive: Py<PyAny>,
    /// The scope's `root_path` when the request started (a `str`), unless empty.
    root_path: Option<Py<PyAny>>,
    method: u8,
    /// When the request started, [`ffi::monotonic_ns`].
    start: u64,
    status: AtomicU16,
    first_byte: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    flags: AtomicU8,
}

impl HttpCycle {
    /// A request of `recorder` starting now; `root_path` is the scope's, unless empty.
    pub(super) fn new(
        recorder: &Bound<'_, HttpRecorder>,
        scope: &Bound<'_, PyAny>,
        receive: &Bound<'_, PyAny>,
        send: &Bound<'_, PyAny>,
        root_path: Option<Py<PyAny>>,
        method: u8,
    ) -> HttpCycle {
        HttpCycle {
            recorder: recorder.clone().unbind(),
            scope: scope.clone().unbind(),
            send: send.clone().unbind(),
            receive: receive.clone().unbind(),
            root_path,
            method,
            start: ffi::monotonic_ns(),
            status: AtomicU16::new(0),
            first_byte: AtomicU64::new(0),
            request_bytes: AtomicU64::new(0),
            response_bytes: AtomicU64::new(0),
            flags: AtomicU8::new(0),
        }
    }

    /// Seconds since the request started.
    #[inline(always)]
    fn seconds(&self) -> f64 {
        ffi::monotonic_ns().saturating_sub(self.start) as f64 * 1e-9
    }

    fn flag(&self, f: u8) -> bool {
        self.flags.load(Relaxed) & f != 0
    }

    /// Records the request once, with `status`.
    fn finish(&self, py: Python<'_>, status: u16) -> PyResult<()> {
        if self.flags.fetch_or(FINISHED, Relaxed) & FINISHED != 0 {
            return Ok(());
        }
        let duration = self.seconds();
        let recorder = self.recorder.get();
        recorder.in_progress[self.method as usize].value.inc(-1.0)?;
        let series = recorder.series(
            py,
            self.scope.bind(py),
            str_or_empty(self.root_path.as_ref().map(|r| r.bind(py)))?,
            self.method,
            status,
        )?;
        series.record(
            duration,
            f64::from_bits(self.first_byte.load(Relaxed)),
            self.request_bytes.load(Relaxed) as f64,
            self.response_bytes.load(Relaxed) as f64,
        )?;
        Ok(())
    }

    /// The application's `receive()`: the server's, counting request body bytes and noting a
    /// disconnect.
    fn receive(slf: &Bound<'_, Self>) -> PyResult<Py<ReceiveAwait>> {
        let py = slf.py();
        let awaitable = slf.get().receive.bind(py).call0()?;
        let inner = awaitable_iter(&awaitable)?;
        Py::new(py, ReceiveAwait::new(slf.clone().unbind(), inner.unbind()))
    }

    /// Notes what a message the application sends says; whether it ends the response.
    fn note_sent(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        let keys = &self.recorder.get().keys;
        let mut last = false;
        if let Some(kind) = get_item(message, keys.type_.bind(py))? {
            if let Ok(kind) = kind.cast::<PyString>() {
                match kind.to_str()? {
                    "http.response.start" => {
                        if let Some(status) = get_item(message, keys.status.bind(py))? {
                            if let Ok(status) = status.extract::<u16>() {
                                self.status.store(status, Relaxed);
                            }
                        }
                        self.first_byte.store(self.seconds().to_bits(), Relaxed);
                    }
                    "http.response.body" => {
                        self.response_bytes
                            .fetch_add(body_len(message, keys.body.bind(py))?, Relaxed);
                        last = match get_item(message, keys.more_body.bind(py))? {
                            Some(more) => !more.is_truthy()?,
                            None => true,
                        };
                    }
                    "http.response.pathsend" => last = true,
                    _ => {} // trailers come after the body has ended
                }
            }
        }
        Ok(last)
    }

    /// Notes what a message the server gave the application (through `receive()`) says.
    pub(super) fn note_received(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let keys = &self.recorder.get().keys;
        if let Some(kind) = get_item(message, keys.type_.bind(py))? {
            if let Ok(kind) = kind.cast::<PyString>() {
                match kind.to_str()? {
                    "http.request" => {
                        self.request_bytes
                            .fetch_add(body_len(message, keys.body.bind(py))?, Relaxed);
                    }
                    "http.disconnect" => {
                        self.flags.fetch_or(DISCONNECTED, Relaxed);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Whether `err` came out of the server's `send` (ASGI >= 2.4 servers raise `OSError` from
    /// it when the client has gone away): the traceback passes through the code of that
    /// `send`. A `send` without Python code (a native server's) cannot be told from the app's
    /// own I/O errors, which stay 500s.
    fn raised_by_send(&self, py: Python<'_>, err: &PyErr) -> bool {
        let send = self.send.bind(py);
        let function = send
            .getattr(intern!(py, "__func__"))
            .unwrap_or_else(|_| send.clone());
        let Ok(code) = function.getattr(intern!(py, "__code__")) else {
            return false;
        };
        let mut tb = err.traceback(py).map(Bound::into_any);
        while let Some(entry) = tb {
            let matches = entry
                .getattr(intern!(py, "tb_frame"))
                .and_then(|frame| frame.getattr(intern!(py, "f_code")))
                .is_ok_and(|c| c.is(&code));
            if matches {
                return true;
            }
            tb = entry
                .getattr(intern!(py, "tb_next"))
                .ok()
                .filter(|t| !t.is_none());
        }
        false
    }
}

#[pymethods]
impl HttpCycle {
    /// The application returned: a request it did not answer (fully) is recorded now.
    fn returned(&self, py: Python<'_>) -> PyResult<()> {
        if self.flag(FINISHED) {
            return Ok(());
        }
        let status = if self.flag(DISCONNECTED) {
            CLIENT_CLOSED
        } else {
            match self.status.load(Relaxed) {
                0 => 500, // the server answers an app that returns without responding with a 500
                s => s,
            }
        };
        self.finish(py, status)
    }

    /// The application raised `exc` (or was cancelled): recorded as 499 when the client has
    /// gone, 500 otherwise. Never raises: a failure to record is reported as unraisable so
    /// that `exc`, which the caller re-raises, is not masked.
    fn failed(&self, py: Python<'_>, exc: &Bound<'_, PyBaseException>) {
        if self.flag(FINISHED) {
            return;
        }
        let err = PyErr::from_value(exc.clone().into_any());
        let cancelled = python_attr(py, &CANCELLED_ERROR, "asyncio", "CancelledError")
            .is_ok_and(|cls| exc.is_instance(&cls).unwrap_or(false));
        if cancelled || (exc.is_instance_of::<PyOSError>() && self.raised_by_send(py, &err)) {
            self.flags.fetch_or(DISCONNECTED, Relaxed);
        }
        let status = if self.flag(DISCONNECTED) {
            CLIENT_CLOSED
        } else {
            500
        };
        if let Err(record_err) = self.finish(py, status) {
            record_err.write_unraisable(py, None);
        }
    }

    /// The application's `send` and `receive`: `send(message)` notes what the message says,
    /// then hands it to the server and returns the server's awaitable as it is; `receive()`
    /// returns a [`ReceiveAwait`] of the server's `receive()`.
    #[pyo3(signature = (*args))]
    fn __call__(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let message = match args.len() {
            1 => args.get_borrowed_item(0)?,
            0 => return Ok(HttpCycle::receive(slf)?.into_any()),
            n => {
                return Err(PyTypeError::new_err(format!(
                    "ASGI send() takes one message and receive() none, got {n} arguments"
                )))
            }
        };
        let message = &*message;
        let py = slf.py();
        let this = slf.get();
        // A message that can't be read is the server's to refuse: handed over, not noted.
        let last = this.note_sent(py, message).unwrap_or(false);
        if last {
            // Recorded as the last chunk is handed to the server: the duration ends here, and
            // background tasks that run after it are not billed to the request.
            let status = this.status.load(Relaxed);
            this.finish(py, status)?;
        }
        Ok(this.send.bind(py).call1((message,))?.unbind())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.recorder)?;
        visit.call(&self.scope)?;
        visit.call(&self.send)?;
        visit.call(&self.receive)?;
        if let Some(root_path) = &self.root_path {
            visit.call(root_path)?;
        }
        Ok(())
    }
}
