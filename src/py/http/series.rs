//! The children one request updates, bound once per (route, status, method).

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::core::metric::{Child, CounterValue, Family, HistogramValue, Kind, SummaryValue};
use crate::py::metrics::{Counter, Handle, Histogram, Summary};

/// The child of a labelled metric handle; `what` names the argument in the error.
pub(super) fn child<K: Kind>(h: &Handle<K>, what: &str) -> PyResult<Arc<Child<K>>> {
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
    fn observe(&self, v: f64) -> crate::core::error::Result<()> {
        self.child.value.observe(self.fam.config.index(v), v)
    }
}

/// The children one request updates.
pub(super) struct Series {
    requests: Arc<Child<CounterValue>>,
    duration: Timed,
    first_byte: Timed,
    request_size: Arc<Child<SummaryValue>>,
    response_size: Arc<Child<SummaryValue>>,
}

impl Series {
    /// Counts one request and observes its duration, its time to first byte (0: no response
    /// was started, nothing observed) and its body sizes. Fails only in multiprocess mode
    /// (a file of a new process that cannot be opened).
    #[inline]
    pub(super) fn record(
        &self,
        duration: f64,
        first_byte: f64,
        request_bytes: f64,
        response_bytes: f64,
    ) -> crate::core::error::Result<()> {
        self.requests.value.inc(1.0)?;
        self.duration.observe(duration)?;
        if first_byte != 0.0 {
            self.first_byte.observe(first_byte)?;
        }
        self.request_size.value.observe(request_bytes)?;
        self.response_size.value.observe(response_bytes)
    }
}

/// The children one request updates: requests (counter), duration and time to first byte
/// (histograms), request and response size (summaries).
#[pyclass(frozen, module = "fastprom._core")]
pub struct HttpSeries(pub(super) Arc<Series>);

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
