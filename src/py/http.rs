//! The ASGI middleware's per-request work, in Rust.
//!
//! `fastprom.asgi.PrometheusMiddleware.__call__` (a plain `async def`) asks [`HttpRecorder`] to
//! start a request and gets the request's [`HttpCycle`], which it hands to the application as
//! both `send` and `receive` (one object, told apart by the argument: `send(message)`,
//! `receive()`). `send` notes the status, the time to first byte and the body sizes, then
//! returns the server's own awaitable untouched; `receive` returns a [`ReceiveAwait`] that
//! counts request body bytes and notes `http.disconnect`. The request is
//! recorded once: as its last body chunk is handed to the server, or when the application
//! returns or raises without having finished its response (`returned()` / `failed()`). Recording
//! updates the in-progress gauge, then the five series bound for the request's (route, status,
//! method) in an [`HttpSeries`], found in a cache keyed by the identity of the route object the
//! framework resolved; a miss asks Python (`make_series`) for the route template and children.
//!
//! On a real server every request runs this code with cold caches, so the hot path is kept
//! small: no Python coroutine or closure per `send`, one object per request, the dict keys
//! interned once and kept together, no lookup that a cached route does not need.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyBaseException, PyOSError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use pyo3::{intern, PyTraverseError, PyVisit};

use crate::core::http::{method_index, METHODS, OTHER_METHOD};
use crate::core::metric::{Child, CounterValue, Family, GaugeValue, HistogramValue, SummaryValue};
use crate::py::metrics::{Counter, Gauge, Histogram, Summary};
use crate::py::util::python_attr;

fn child<K: crate::core::metric::Kind>(
    h: &crate::py::metrics::Handle<K>,
    what: &str,
) -> PyResult<Arc<Child<K>>> {
    h.child.clone().ok_or_else(|| {
        PyValueError::new_err(format!("{what} must be a child (call .labels() first)"))
    })
}

struct Timed {
    fam: Arc<Family<HistogramValue>>,
    child: Arc<Child<HistogramValue>>,
}

impl Timed {
    fn new(h: &Bound<'_, Histogram>, what: &str) -> PyResult<Timed> {
        let h = h.get().handle();
        Ok(Timed {
            fam: h.fam.clone(),
            child: child(h, what)?,
        })
    }

    #[inline]
    fn observe(&self, v: f64) {
        self.child.value.observe(self.fam.config.index(v), v);
    }
}

/// The children one request updates.
struct Series {
    requests: Arc<Child<CounterValue>>,
    duration: Timed,
    first_byte: Timed,
    request_size: Arc<Child<SummaryValue>>,
    response_size: Arc<Child<SummaryValue>>,
}

impl Series {
    /// Counts one request and observes its duration, its time to first byte (0: no response
    /// was started, nothing observed) and its body sizes.
    #[inline]
    fn record(&self, duration: f64, first_byte: f64, request_bytes: f64, response_bytes: f64) {
        self.requests.value.inc(1.0);
        self.duration.observe(duration);
        if first_byte != 0.0 {
            self.first_byte.observe(first_byte);
        }
        self.request_size.value.observe(request_bytes);
        self.response_size.value.observe(response_bytes);
    }
}

/// The children one request updates: requests (counter), duration and time to first byte
/// (histograms), request and response size (summaries).
#[pyclass(frozen, module = "fastprom._core")]
pub struct HttpSeries(Arc<Series>);

#[pymethods]
impl HttpSeries {
    #[new]
    fn new(
        requests: &Bound<'_, Counter>,
        duration: &Bound<'_, Histogram>,
        first_byte: &Bound<'_, Histogram>,
        request_size: &Bound<'_, Summary>,
        response_size: &Bound<'_, Summary>,
    ) -> PyResult<HttpSeries> {
        Ok(HttpSeries(Arc::new(Series {
            requests: child(requests.get().handle(), "requests")?,
            duration: Timed::new(duration, "duration")?,
            first_byte: Timed::new(first_byte, "first_byte")?,
            request_size: child(request_size.get().handle(), "request_size")?,
            response_size: child(response_size.get().handle(), "response_size")?,
        })))
    }
}

// ---------------------------------------------------------------------------------------
// The recorder: one per middleware

/// nginx's "client closed request": the client left before the response ended.
const CLIENT_CLOSED: u16 = 499;

#[derive(Hash, PartialEq, Eq)]
struct RouteKey {
    /// Identity of the route object (kept alive by the cache entry, so never reused).
    target: usize,
    status: u16,
    method: u8,
    /// Root paths and extra label values; `None` when there are none (the usual case).
    rest: Option<Box<KeyRest>>,
}

#[derive(Hash, PartialEq, Eq)]
struct KeyRest {
    root_path: Box<str>,
    end_root_path: Box<str>,
    extra: Vec<Box<str>>,
}

type RouteCache = foldhash::HashMap<RouteKey, (Py<PyAny>, Arc<Series>)>;

/// Looks `key` up in a scope or message: a dict (every ASGI server's) without a method call.
///
/// Inlined, and the other mappings' path kept out of line: this runs a dozen times a request,
/// with the code cold each time on a real server.
#[inline(always)]
fn get_item<'py>(
    map: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // SAFETY: a type check on a live object.
    if unsafe { ffi::PyDict_Check(map.as_ptr()) } == 0 {
        return get_item_other(map, key);
    }
    // SAFETY: both are live; the result is borrowed (NULL: absent, or an error is set).
    let value = unsafe { ffi::PyDict_GetItemWithError(map.as_ptr(), key.as_ptr()) };
    if value.is_null() {
        // SAFETY: reads the thread's error indicator.
        return if unsafe { ffi::PyErr_Occurred() }.is_null() {
            Ok(None)
        } else {
            Err(PyErr::fetch(map.py()))
        };
    }
    // SAFETY: `value` is a live borrowed reference; this takes a new one.
    Ok(Some(unsafe { Bound::from_borrowed_ptr(map.py(), value) }))
}

/// [`get_item`] of a mapping other than a dict: its `get` method.
#[cold]
#[inline(never)]
fn get_item_other<'py>(
    map: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = map.call_method1(intern!(map.py(), "get"), (key,))?;
    Ok(if value.is_none() { None } else { Some(value) })
}

/// The text of an optional `str` value: "" when it is absent or not a `str`.
fn str_or_empty<'a>(value: Option<&'a Bound<'_, PyAny>>) -> PyResult<&'a str> {
    match value {
        Some(v) => match v.cast::<PyString>() {
            Ok(s) => s.to_str(),
            Err(_) => Ok(""),
        },
        None => Ok(""),
    }
}

static CANCELLED_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The dict keys read on every request, interned once and kept together in the recorder (one
/// `intern!` static each would scatter them over as many cold cache lines).
struct Keys {
    type_: Py<PyString>,
    http: Py<PyString>,
    root_path: Py<PyString>,
    path: Py<PyString>,
    method: Py<PyString>,
    fastapi: Py<PyString>,
    effective_route_context: Py<PyString>,
    route: Py<PyString>,
    endpoint: Py<PyString>,
    status: Py<PyString>,
    body: Py<PyString>,
    more_body: Py<PyString>,
}

impl Keys {
    fn new(py: Python<'_>) -> Keys {
        let key = |s: &str| PyString::intern(py, s).unbind();
        Keys {
            type_: key("type"),
            http: key("http"),
            root_path: key("root_path"),
            path: key("path"),
            method: key("method"),
            fastapi: key("fastapi"),
            effective_route_context: key("effective_route_context"),
            route: key("route"),
            endpoint: key("endpoint"),
            status: key("status"),
            body: key("body"),
            more_body: key("more_body"),
        }
    }
}

/// Records the requests passing through one `PrometheusMiddleware`.
#[pyclass(frozen, module = "fastprom._core")]
pub struct HttpRecorder {
    /// Request paths not recorded: compared one by one when there are few (the usual one or
    /// two), looked up in the set otherwise.
    excluded_list: Vec<Box<str>>,
    excluded: foldhash::HashSet<String>,
    in_progress: Vec<Arc<Child<GaugeValue>>>,
    method_labels: Vec<Py<PyString>>,
    extra_getters: Vec<Py<PyAny>>,
    make_series: Py<PyAny>,
    cache: Mutex<RouteCache>,
    keys: Keys,
}

impl HttpRecorder {
    fn is_excluded(&self, path: &str) -> bool {
        if self.excluded_list.len() <= 8 {
            self.excluded_list.iter().any(|p| **p == *path)
        } else {
            self.excluded.contains(path)
        }
    }

    /// The series of a finished request, from the cache or from `make_series`.
    fn series(
        &self,
        py: Python<'_>,
        scope: &Bound<'_, PyAny>,
        root_path: &str,
        method: u8,
        status: u16,
    ) -> PyResult<Arc<Series>> {
        // What the router resolved: FastAPI's route context (requests of included routers run
        // the original route object, whose path_format lacks the include_router prefixes), else
        // the route, else the endpoint (plain Starlette routes set only that).
        let mut target = None;
        let k = &self.keys;
        if let Some(fastapi) = get_item(scope, k.fastapi.bind(py))? {
            if let Ok(fastapi) = fastapi.cast::<PyDict>() {
                target = fastapi.get_item(k.effective_route_context.bind(py))?;
            }
        }
        if target.is_none() {
            target = get_item(scope, k.route.bind(py))?;
        }
        if target.is_none() {
            target = get_item(scope, k.endpoint.bind(py))?;
        }
        let target = target.unwrap_or_else(|| py.None().into_bound(py));
        let end_root = get_item(scope, k.root_path.bind(py))?;
        let end_root_path = str_or_empty(end_root.as_ref())?;
        let rest =
            if root_path.is_empty() && end_root_path.is_empty() && self.extra_getters.is_empty() {
                None
            } else {
                Some(self.key_rest(scope, root_path, end_root_path)?)
            };
        let key = RouteKey {
            target: target.as_ptr() as usize,
            status,
            method,
            rest,
        };
        if let Some((_, series)) = lock(&self.cache).get(&key) {
            return Ok(series.clone());
        }
        self.make_series(py, scope, target, root_path, end_root_path, key)
    }

    /// The rarer parts of a route's key: root paths, extra label values.
    #[cold]
    #[inline(never)]
    fn key_rest(
        &self,
        scope: &Bound<'_, PyAny>,
        root_path: &str,
        end_root_path: &str,
    ) -> PyResult<Box<KeyRest>> {
        let mut extra = Vec::with_capacity(self.extra_getters.len());
        for getter in &self.extra_getters {
            extra.push(Box::from(
                getter.bind(scope.py()).call1((scope,))?.str()?.to_str()?,
            ));
        }
        Ok(Box::new(KeyRest {
            root_path: Box::from(root_path),
            end_root_path: Box::from(end_root_path),
            extra,
        }))
    }

    /// A combination not seen before: its series from Python, then cached.
    #[cold]
    #[inline(never)]
    fn make_series(
        &self,
        py: Python<'_>,
        scope: &Bound<'_, PyAny>,
        target: Bound<'_, PyAny>,
        root_path: &str,
        end_root_path: &str,
        key: RouteKey,
    ) -> PyResult<Arc<Series>> {
        let extra = key.rest.as_ref().map_or(&[][..], |r| &r.extra[..]);
        let extra_values = PyTuple::new(py, extra.iter().map(|v| &**v))?;
        let made = self.make_series.bind(py).call1((
            scope,
            &target,
            root_path,
            end_root_path,
            self.method_labels[key.method as usize].bind(py),
            key.status,
            extra_values,
        ))?;
        let series = made
            .cast::<HttpSeries>()
            .map_err(|_| PyTypeError::new_err("make_series must return an HttpSeries"))?
            .get()
            .0
            .clone();
        lock(&self.cache).insert(key, (target.unbind(), series.clone()));
        Ok(series)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[pymethods]
impl HttpRecorder {
    /// `(excluded_paths, in_progress, extra_getters, make_series)`: `in_progress` holds
    /// the gauge child of each method of `METHODS` (OTHER last); `make_series(scope, route,
    /// root_path, end_root_path, method, status, extra_values)` returns the `HttpSeries` of a
    /// combination not seen before.
    #[new]
    fn new(
        py: Python<'_>,
        excluded_paths: Vec<String>,
        in_progress: Vec<Bound<'_, Gauge>>,
        extra_getters: Vec<Py<PyAny>>,
        make_series: Py<PyAny>,
    ) -> PyResult<HttpRecorder> {
        if in_progress.len() != METHODS.len() {
            return Err(PyValueError::new_err(format!(
                "in_progress must hold {} gauge children (one per method, OTHER last)",
                METHODS.len()
            )));
        }
        let in_progress = in_progress
            .iter()
            .map(|g| child(g.get().handle(), "in_progress"))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(HttpRecorder {
            excluded_list: excluded_paths
                .iter()
                .map(|p| Box::from(p.as_str()))
                .collect(),
            excluded: excluded_paths.into_iter().collect(),
            in_progress,
            method_labels: METHODS
                .iter()
                .map(|m| PyString::intern(py, m).unbind())
                .collect(),
            extra_getters,
            make_series,
            cache: Mutex::new(RouteCache::default()),
            keys: Keys::new(py),
        })
    }

    /// Starts recording one ASGI call: `None` when it is not recorded (not HTTP, or an excluded
    /// path), else the request's [`HttpCycle`], which the application gets as both its `send`
    /// and its `receive`.
    fn start(
        slf: &Bound<'_, Self>,
        scope: &Bound<'_, PyAny>,
        receive: &Bound<'_, PyAny>,
        send: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Py<HttpCycle>>> {
        let py = slf.py();
        let this = slf.get();
        let keys = &this.keys;
        let kind = get_item(scope, keys.type_.bind(py))?;
        let is_http = match &kind {
            Some(k) => {
                k.is(keys.http.bind(py))
                    || k.cast::<PyString>()
                        .is_ok_and(|s| s.to_str().is_ok_and(|s| s == "http"))
            }
            None => false,
        };
        if !is_http {
            return Ok(None);
        }
        let root = get_item(scope, keys.root_path.bind(py))?;
        let root_path = str_or_empty(root.as_ref())?;
        if !this.excluded_list.is_empty() {
            if let Some(path) = get_item(scope, keys.path.bind(py))? {
                if let Ok(path) = path.cast::<PyString>() {
                    let path = path.to_str()?;
                    let relative = match path.strip_prefix(root_path) {
                        Some(rest) if !root_path.is_empty() => rest,
                        _ => path,
                    };
                    if this.is_excluded(relative) {
                        return Ok(None);
                    }
                }
            }
        }
        let method = match get_item(scope, keys.method.bind(py))? {
            Some(m) => m.cast::<PyString>().map_or(OTHER_METHOD, |s| {
                s.to_str().map_or(OTHER_METHOD, method_index)
            }),
            None => OTHER_METHOD,
        };
        this.in_progress[method as usize].value.inc(1.0);
        let cycle = Py::new(
            py,
            HttpCycle {
                recorder: slf.clone().unbind(),
                scope: scope.clone().unbind(),
                send: send.clone().unbind(),
                receive: receive.clone().unbind(),
                root_path: if root_path.is_empty() {
                    None
                } else {
                    root.map(Bound::unbind)
                },
                method,
                start: now_ns(),
                status: AtomicU32::new(0),
                first_byte: AtomicU64::new(0),
                request_bytes: AtomicU64::new(0),
                response_bytes: AtomicU64::new(0),
                flags: AtomicU8::new(0),
            },
        )?;
        Ok(Some(cycle))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.make_series)?;
        for getter in &self.extra_getters {
            visit.call(getter)?;
        }
        if let Ok(cache) = self.cache.try_lock() {
            for (target, _) in cache.values() {
                visit.call(target)?;
            }
        }
        Ok(())
    }
}

/// What `await obj` iterates: a coroutine or generator itself, else `obj.__await__()`.
fn awaitable_iter<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: type checks on a live object.
    let direct =
        unsafe { ffi::PyCoro_CheckExact(obj.as_ptr()) != 0 || ffi::PyGen_Check(obj.as_ptr()) != 0 };
    if direct {
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

// ---------------------------------------------------------------------------------------
// One request

/// Nanoseconds on the monotonic clock (the one `Instant` reads), in one inlined call: the
/// request's timing runs with cold code on a real server.
#[cfg(unix)]
#[inline(always)]
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into `ts`; CLOCK_MONOTONIC is always there.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(not(unix))]
fn now_ns() -> u64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

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
    /// When the request started, [`now_ns`].
    start: u64,
    status: AtomicU32,
    first_byte: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    flags: AtomicU8,
}

/// Length of a message body: bytes, bytearray, memoryview; 0 when absent.
fn body_len(message: &Bound<'_, PyAny>, key: &Bound<'_, PyString>) -> PyResult<u64> {
    Ok(match get_item(message, key)? {
        Some(body) => match body.cast::<PyBytes>() {
            Ok(b) => b.as_bytes().len() as u64,
            Err(_) => body.len().unwrap_or(0) as u64,
        },
        None => 0,
    })
}

impl HttpCycle {
    /// Seconds since the request started.
    #[inline(always)]
    fn seconds(&self) -> f64 {
        now_ns().saturating_sub(self.start) as f64 * 1e-9
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
        recorder.in_progress[self.method as usize].value.inc(-1.0);
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
        );
        Ok(())
    }

    /// The application's `receive()`: the server's, counting request body bytes and noting a
    /// disconnect.
    fn receive(slf: &Bound<'_, Self>) -> PyResult<Py<ReceiveAwait>> {
        let py = slf.py();
        let awaitable = slf.get().receive.bind(py).call0()?;
        let inner = awaitable_iter(&awaitable)?;
        Py::new(
            py,
            ReceiveAwait {
                cycle: slf.clone().unbind(),
                inner: inner.unbind(),
            },
        )
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
                                self.status.store(u32::from(status), Relaxed);
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

    /// Whether `err` came out of the server's `send` (ASGI >= 2.4 servers raise OSError from it
    /// when the client has gone away): the traceback passes through the code of that `send`.
    /// A `send` without Python code (a native server's) cannot be told from the app's own I/O
    /// errors, which stay 500s.
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
                s => s as u16,
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
            let status = this.status.load(Relaxed) as u16;
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

// ---------------------------------------------------------------------------------------
// What the application's `receive()` returns

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
    fn step(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Step> {
        let mut out: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: both objects are alive; PyIter_Send returns a new reference in `out`.
        let result = unsafe { ffi::PyIter_Send(self.inner.as_ptr(), value.as_ptr(), &mut out) };
        match result {
            // SAFETY (both): a new reference.
            ffi::PySendResult::PYGEN_NEXT => Ok(Step::Yield(
                unsafe { Bound::from_owned_ptr(py, out) }.unbind(),
            )),
            ffi::PySendResult::PYGEN_RETURN => {
                let message = unsafe { Bound::from_owned_ptr(py, out) };
                self.received(py, &message);
                Ok(Step::Done(message.unbind()))
            }
            ffi::PySendResult::PYGEN_ERROR => Err(PyErr::fetch(py)),
        }
    }

    /// Notes what a message the server gave the application says. One that can't be read is
    /// the application's to refuse: handed over, not noted.
    fn received(&self, py: Python<'_>, message: &Bound<'_, PyAny>) {
        let _unreadable = self.note_received(py, message);
    }

    fn note_received(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let cycle = self.cycle.get();
        let keys = &cycle.recorder.get().keys;
        if let Some(kind) = get_item(message, keys.type_.bind(py))? {
            if let Ok(kind) = kind.cast::<PyString>() {
                match kind.to_str()? {
                    "http.request" => {
                        cycle
                            .request_bytes
                            .fetch_add(body_len(message, keys.body.bind(py))?, Relaxed);
                    }
                    "http.disconnect" => {
                        cycle.flags.fetch_or(DISCONNECTED, Relaxed);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
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
