//! `start_http_server`: binds in the caller (so errors raise there), then serves from the
//! Rust server thread. Python code runs only inside a source that needs it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::core::format::Format;
use crate::core::registry::Registry;
use crate::py::registry::PyRegistry;
use crate::server::{self, MetricsSource, ServerHandle};

/// Renders by calling `render(openmetrics, escaping, version_major, names) -> bytes` (with
/// `version_major` 0 for text) while attached to the interpreter.
struct PyCallbackSource(Py<PyAny>);

impl MetricsSource for PyCallbackSource {
    fn render(&self, format: &Format, names: Option<&[String]>) -> Result<Vec<u8>, String> {
        let (openmetrics, escaping, major) = match *format {
            Format::Text { escaping } => (false, escaping, 0),
            Format::OpenMetrics { escaping, major } => (true, escaping, major),
        };
        Python::try_attach(|py| {
            let rendered = self
                .0
                .bind(py)
                .call1((openmetrics, escaping.as_str(), major, names));
            match rendered.and_then(|out| Ok(out.cast_into::<PyBytes>()?.as_bytes().to_vec())) {
                Ok(body) => Ok(body),
                Err(e) => {
                    e.display(py); // the traceback goes to stderr, as wsgiref prints it
                    Err(e.to_string())
                }
            }
        })
        .unwrap_or_else(|| Err("the Python interpreter is shutting down".into()))
    }
}

/// A fastprom registry, rendered in Rust: the GIL is taken only for Python collectors.
struct NativeSource(Arc<Registry>);

impl MetricsSource for NativeSource {
    fn render(&self, format: &Format, names: Option<&[String]>) -> Result<Vec<u8>, String> {
        self.0.render(format, names).map_err(|e| e.to_string())
    }
}

/// What serves the metrics: `native`, the native half of a plain `CollectorRegistry` (the
/// Python side passes it only when no subclass may override `collect`), rendered without
/// Python; else `render`, the Python rendering callback.
fn source_for(
    native: Option<&Bound<'_, PyRegistry>>,
    render: &Bound<'_, PyAny>,
) -> Arc<dyn MetricsSource> {
    match native {
        Some(native) => Arc::new(NativeSource(native.get().inner.clone())),
        None => Arc::new(PyCallbackSource(render.clone().unbind())),
    }
}

/// The server half of `start_http_server`'s `(server, thread)`.
#[pyclass(frozen, module = "fastprom._core")]
pub struct MetricsServer(Arc<ServerHandle>);

#[pymethods]
impl MetricsServer {
    /// Stops serving: returns once the port is free.
    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.0.shutdown());
    }

    /// Frees the port; the listener belongs to the server thread, so this stops it too.
    fn server_close(&self, py: Python<'_>) {
        self.shutdown(py);
    }

    #[getter]
    fn server_port(&self) -> u16 {
        self.0.local_addr().port()
    }

    /// `(host, port)`, or `(host, port, flowinfo, scope_id)` for IPv6, as `socket.getsockname()`.
    #[getter]
    fn server_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0.local_addr() {
            SocketAddr::V4(a) => (a.ip().to_string(), a.port())
                .into_pyobject(py)
                .map(Bound::into_any),
            SocketAddr::V6(a) => (a.ip().to_string(), a.port(), a.flowinfo(), a.scope_id())
                .into_pyobject(py)
                .map(Bound::into_any),
        }
    }

    fn __repr__(&self) -> String {
        format!("<fastprom MetricsServer on {}>", self.0.local_addr())
    }
}

/// The thread half of `start_http_server`'s `(server, thread)`: the Rust serving thread,
/// with the parts of `threading.Thread` that callers use.
#[pyclass(frozen, module = "fastprom._core")]
pub struct ServerThread(Arc<ServerHandle>);

#[pymethods]
impl ServerThread {
    /// Waits until the server has been shut down, at most `timeout` seconds; interruptible
    /// by signals (Ctrl-C) like `threading.Thread.join`.
    #[pyo3(signature = (timeout=None))]
    fn join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        const SLICE: Duration = Duration::from_millis(100);
        let deadline = match timeout {
            None => None,
            Some(t) => Some(
                Instant::now()
                    + Duration::try_from_secs_f64(t.max(0.0))
                        .map_err(|e| PyValueError::new_err(e.to_string()))?,
            ),
        };
        loop {
            let left = deadline.map_or(SLICE, |d| {
                d.saturating_duration_since(Instant::now()).min(SLICE)
            });
            if py.detach(|| self.0.wait(Some(left)))
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Ok(());
            }
            py.check_signals()?;
        }
    }

    fn is_alive(&self) -> bool {
        self.0.is_running()
    }

    #[getter]
    #[allow(clippy::unused_self)] // a Python property
    fn daemon(&self) -> bool {
        true
    }

    #[getter]
    #[allow(clippy::unused_self)] // a Python property
    fn name(&self) -> &'static str {
        server::THREAD_NAME
    }

    fn __repr__(&self) -> String {
        let state = if self.0.is_running() {
            "started daemon"
        } else {
            "stopped"
        };
        format!("<ServerThread({}, {state})>", server::THREAD_NAME)
    }
}

/// Binds `addr:port` (an IP literal) and serves the native registry `native` if given,
/// else what `render` returns.
#[pyfunction]
fn start_http_server(
    py: Python<'_>,
    port: u16,
    addr: &str,
    native: Option<&Bound<'_, PyRegistry>>,
    render: &Bound<'_, PyAny>,
) -> PyResult<(MetricsServer, ServerThread)> {
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| PyValueError::new_err(format!("not an IP address: {addr:?}")))?;
    let source = source_for(native, render);
    let listener = server::bind(SocketAddr::new(ip, port)).map_err(|e| os_error(py, &e))?;
    let handle = Arc::new(server::serve(listener, source).map_err(|e| os_error(py, &e))?);
    Ok((MetricsServer(handle.clone()), ServerThread(handle)))
}

/// `OSError(errno, strerror)` as Python's socket module raises it; pyo3's own conversion
/// leaves `errno` unset.
fn os_error(py: Python<'_>, e: &io::Error) -> PyErr {
    let Some(errno) = e.raw_os_error() else {
        return PyOSError::new_err(e.to_string());
    };
    let strerror = py
        .import("os")
        .and_then(|os| os.call_method1("strerror", (errno,)))
        .and_then(|s| s.extract::<String>())
        .unwrap_or_else(|_| e.to_string());
    PyOSError::new_err((errno, strerror))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MetricsServer>()?;
    m.add_class::<ServerThread>()?;
    m.add_function(wrap_pyfunction!(start_http_server, m)?)?;
    Ok(())
}
