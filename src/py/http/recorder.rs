//! One recorder per middleware: starts the requests it records, and finds the series of a
//! finished one (cached by route, status, method).

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use super::cycle::HttpCycle;
use super::keys::{get_item, str_or_empty, Keys};
use super::series::{child, HttpSeries, Series};
use crate::core::http::{method_index, METHODS, OTHER_METHOD};
use crate::core::metric::{Child, GaugeValue};
use crate::py::metrics::Gauge;

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

/// Records the requests passing through one `PrometheusMiddleware`.
#[pyclass(frozen, module = "fastprom._core")]
pub struct HttpRecorder {
    /// Request paths not recorded: compared one by one when there are few (the usual one or
    /// two), looked up in the set otherwise.
    excluded_list: Vec<Box<str>>,
    excluded: foldhash::HashSet<String>,
    pub(super) in_progress: Vec<Arc<Child<GaugeValue>>>,
    method_labels: Vec<Py<PyString>>,
    extra_getters: Vec<Py<PyAny>>,
    make_series: Py<PyAny>,
    cache: Mutex<RouteCache>,
    pub(super) keys: Keys,
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
    pub(super) fn series(
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
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[pymethods]
impl HttpRecorder {
    /// `(excluded_paths, in_progress, extra_getters, make_series)`: `in_progress` holds
    /// the gauge child of each method of `METHODS` (OTHER last); `make_series(scope, route,
    /// root_path, end_root_path, method, status, extra_values)` returns the `HttpSeries` of a
    /// combination not seen before.
    #[new]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts a list into a Vec
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
        this.in_progress[method as usize].value.inc(1.0)?;
        let root_path = if root_path.is_empty() {
            None
        } else {
            root.map(Bound::unbind)
        };
        let cycle = HttpCycle::new(slf, scope, receive, send, root_path, method);
        let cycle = Py::new(py, cycle)?;
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
