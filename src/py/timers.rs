//! Context managers and decorators: `time()`, `track_inprogress()`, `count_exceptions()`.
//! Entering and leaving run in Rust; wrapping a function (sync, async, generator) is done
//! by `fastprom.context_managers._decorate`, handed over at import (`bound.rs`).

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::core::metric::{CounterValue, GaugeValue, HistogramValue, SummaryValue};
use crate::py::bound;
use crate::py::handle::{Handle, PyHandle};
use crate::py::util::now;

/// What a timer reports its duration to.
#[derive(Clone)]
pub enum Observe {
    Histogram(Handle<HistogramValue>),
    Summary(Handle<SummaryValue>),
    Gauge(Handle<GaugeValue>),
}

impl Observe {
    fn record(&self, py: Python<'_>, v: f64) -> PyResult<()> {
        match self {
            Observe::Histogram(h) => {
                let idx = h.fam.config.index(v);
                h.observable()?.value.observe(idx, v)?;
            }
            Observe::Summary(h) => h.observable()?.value.observe(v)?,
            Observe::Gauge(h) => h.observable()?.value.set(h.fam.config, v, || now(py))?,
        }
        Ok(())
    }

    fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kw: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Observe> {
        Ok(match self {
            Observe::Histogram(h) => Observe::Histogram(h.labels_py(py, args, kw)?),
            Observe::Summary(h) => Observe::Summary(h.labels_py(py, args, kw)?),
            Observe::Gauge(h) => Observe::Gauge(h.labels_py(py, args, kw)?),
        })
    }
}

fn decorate<'py>(cm: &Bound<'py, PyAny>, f: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    bound::decorate(cm.py())?.call1((f, cm))
}

struct TimerState {
    target: Observe,
    start: Option<Instant>,
    duration: Option<f64>,
}

/// Times a block (`with m.time():`) or every call of a function (`@m.time()`).
#[pyclass(frozen, module = "fastprom._core")]
pub struct Timer {
    state: Mutex<TimerState>,
}

impl Timer {
    pub fn new(target: Observe) -> Timer {
        Timer {
            state: Mutex::new(TimerState {
                target,
                start: None,
                duration: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Timer {
    fn __enter__<'py>(slf: &Bound<'py, Self>) -> Bound<'py, Self> {
        slf.get().state().start = Some(Instant::now());
        slf.clone()
    }

    #[pyo3(signature = (_typ = None, _value = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _typ: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut st = self.state();
        let elapsed = st.start.map_or(0.0, |s| s.elapsed().as_secs_f64());
        st.duration = Some(elapsed);
        st.target.record(py, elapsed)?;
        Ok(false)
    }

    /// Records `seconds` for the metric this timer reports to (used by the decorators,
    /// which measure each call themselves instead of creating a timer per call).
    fn _observe(&self, py: Python<'_>, seconds: f64) -> PyResult<()> {
        self.state().target.record(py, seconds.max(0.0))
    }

    /// Chooses the child to report to, inside the `with` block.
    #[pyo3(signature = (*args, **kwargs))]
    fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let target = self.state().target.clone();
        let labelled = target.labels(py, args, kwargs)?;
        self.state().target = labelled;
        Ok(())
    }

    /// Seconds measured by the last `with` block, or None.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.state().duration
    }

    /// A fresh timer for the same metric (one per decorated call).
    fn _new_timer(&self) -> Timer {
        Timer::new(self.state().target.clone())
    }

    fn __call__<'py>(slf: &Bound<'py, Self>, f: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        decorate(slf.as_any(), f)
    }
}

/// Increments a gauge while a block or function runs.
#[pyclass(frozen, module = "fastprom._core")]
pub struct InprogressTracker {
    gauge: Handle<GaugeValue>,
}

impl InprogressTracker {
    pub fn new(gauge: Handle<GaugeValue>) -> InprogressTracker {
        InprogressTracker { gauge }
    }

    /// `inc` or `dec` (`op`) by `amount`: refused by a gauge in a `mostrecent` mode.
    fn add(&self, op: &'static str, amount: f64) -> PyResult<()> {
        self.gauge.fam.config.check_add(op)?;
        Ok(self.gauge.observable()?.value.inc(amount)?)
    }
}

#[pymethods]
impl InprogressTracker {
    fn __enter__(&self) -> PyResult<()> {
        self.add("inc", 1.0)
    }

    #[pyo3(signature = (_typ = None, _value = None, _tb = None))]
    fn __exit__(
        &self,
        _typ: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.add("dec", -1.0)?;
        Ok(false)
    }

    fn __call__<'py>(slf: &Bound<'py, Self>, f: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        decorate(slf.as_any(), f)
    }
}

/// Counts exceptions of a type raised out of a block or function.
#[pyclass(frozen, module = "fastprom._core")]
pub struct ExceptionCounter {
    counter: Handle<CounterValue>,
    exception: Py<PyAny>,
}

impl ExceptionCounter {
    pub fn new(counter: Handle<CounterValue>, exception: Py<PyAny>) -> ExceptionCounter {
        ExceptionCounter { counter, exception }
    }
}

#[pymethods]
impl ExceptionCounter {
    // A method of the context manager protocol: Python passes `self`.
    #[allow(clippy::unused_self)]
    fn __enter__(&self) {}

    #[pyo3(signature = (_typ = None, value = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _typ: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            if v.is_instance(self.exception.bind(py))? {
                self.counter.observable()?.value.inc(1.0)?;
            }
        }
        Ok(false)
    }

    fn __call__<'py>(slf: &Bound<'py, Self>, f: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        decorate(slf.as_any(), f)
    }
}
