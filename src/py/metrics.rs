//! The six metric classes. Each Python object is a handle (`handle.rs`): the family plus,
//! for an unlabelled metric or a `labels(...)` child, the child it updates. All state lives
//! in `core::metric`, the rules in `core`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::core::error::Error;
use crate::core::metric::{
    Buckets, CounterValue, Family, GaugeValue, HistogramValue, InfoValue, Kind, MultiprocessMode,
    StateSetValue, SummaryValue, DEFAULT_BUCKETS, OVERFLOW_LABEL_VALUE,
};
use crate::core::model::{Exemplar, Timestamp};
use crate::core::multiprocess::env;
use crate::core::registry::Collector;
use crate::core::validate;
use crate::py::collectors::NativeCollector;
use crate::py::errors::callback_error;
use crate::py::handle::{labelnames_from, ChildCache, Common, PyHandle, RegistryArg};
use crate::py::timers::{ExceptionCounter, InprogressTracker, Observe, Timer};
use crate::py::util::{now, number, str_pairs, to_float, Amount};
use crate::py::value_view::{Target, Value};
use crate::py::values::warn_if_multiprocess;

// The ASGI recorder (http.rs) names the handle through this module.
pub use crate::py::handle::Handle;

fn exemplar_from(
    py: Python<'_>,
    exemplar: Option<&Bound<'_, PyAny>>,
    value: f64,
) -> PyResult<Option<Exemplar>> {
    let Some(ex) = exemplar.filter(|e| !e.is_none()) else {
        return Ok(None);
    };
    if !ex.is_truthy()? {
        return Ok(None);
    }
    let d = ex.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("exemplar must be a dict of {label_name: label_value}")
    })?;
    let labels = str_pairs(d, "exemplar label")?;
    validate::validate_exemplar(&labels)?;
    Ok(Some(Exemplar {
        labels,
        value,
        timestamp: Some(Timestamp::Float(now(py)?)),
    }))
}

pyo3::create_exception!(
    fastprom._core,
    SeriesOverflowWarning,
    pyo3::exceptions::PyUserWarning,
    "A metric with max_series reached its cap: new label sets go to its overflow series."
);

/// The name of the counter of label sets sent to overflow series (`_total` exposed).
const OVERFLOW_COUNTER: &str = "fastprom_series_overflow";

/// The overflow counter of each registry (`is`-compared; None for unregistered metrics),
/// created in it at its first overflow. Registries are few; each stays alive with its
/// counter, so its identity is never reused.
static OVERFLOW: PyOnceLock<std::sync::Mutex<Vec<RegistryCounter>>> = PyOnceLock::new();

/// A registry and its overflow counter.
type RegistryCounter = (Py<PyAny>, Py<Counter>);

/// The overflow counter of `registry`.
fn overflow_counter(py: Python<'_>, registry: &Bound<'_, PyAny>) -> PyResult<Py<Counter>> {
    let all = OVERFLOW.get_or_init(py, || std::sync::Mutex::new(Vec::new()));
    // The GIL (or the critical section of the free-threaded build) is not held across
    // Python calls below: the lock is taken only to look up and to insert.
    let find = |all: &[RegistryCounter]| {
        all.iter()
            .find(|(r, _)| r.bind(py).is(registry))
            .map(|(_, c)| c.clone_ref(py))
    };
    if let Some(c) = find(
        &all.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    ) {
        return Ok(c);
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("registry", registry)?;
    let made = py.get_type::<Counter>().call(
        (
            OVERFLOW_COUNTER,
            "Label sets recorded into the overflow series of a metric with max_series.",
            ("metric",),
        ),
        Some(&kwargs),
    );
    let mut all = all
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Another thread may have created it meanwhile (then this one failed as a duplicate).
    if let Some(c) = find(&all) {
        return Ok(c);
    }
    let c = made?.cast_into::<Counter>()?.unbind();
    all.push((registry.clone().unbind(), c.clone_ref(py)));
    Ok(c)
}

/// The `max_series=` argument: None, or an int of at least 1 (not a bool).
fn max_series_from(arg: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    let Some(arg) = arg.filter(|a| !a.is_none()) else {
        return Ok(None);
    };
    if arg.is_instance_of::<PyBool>() || !arg.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "max_series must be None or an int, got {}",
            arg.repr()?
        )));
    }
    let n = arg.extract::<i64>().unwrap_or(i64::MAX);
    Ok(Family::<CounterValue>::check_max_series(Some(n))
        .map_err(|_| Error::MaxSeries(arg.repr().map(|r| r.to_string()).unwrap_or_default()))?)
}

/// Whether a `labels()` handle is its capped family's overflow child.
#[inline]
fn is_overflow<K: Kind>(h: &Handle<K>) -> bool {
    h.fam.max_series().is_some()
        && h.child
            .as_ref()
            .is_some_and(|c| c.label_values().iter().all(|v| v == OVERFLOW_LABEL_VALUE))
}

/// Counts one `labels()` call answered with the overflow child of `fam` and warns at its
/// family's first.
fn report_overflow<K: Kind>(py: Python<'_>, fam: &Family<K>) -> PyResult<()> {
    let registry = match fam
        .overflow_sink()
        .and_then(|s| s.downcast_ref::<Py<PyAny>>())
    {
        Some(r) => r.bind(py).clone(),
        None => py.None().into_bound(py),
    };
    let counter = overflow_counter(py, &registry)?;
    let counter = counter.get();
    let h = counter.h.labels(&[fam.desc.name.as_str()], || now(py))?;
    h.observable()?.value.inc(1.0)?;
    if fam.first_overflow() {
        let msg = format!(
            "{} reached max_series={}: new label sets are recorded into its series whose labels are all {OVERFLOW_LABEL_VALUE:?}",
            fam.desc.name,
            fam.max_series().unwrap_or_default()
        );
        PyErr::warn(
            py,
            &py.get_type::<SeriesOverflowWarning>(),
            &std::ffi::CString::new(msg)?,
            1,
        )?;
    }
    Ok(())
}

/// The methods every metric class has, around the class-specific ones in `$extra`.
macro_rules! metric_class {
    (
        $cls:ident, $kind:ty,
        new($py:ident, $common:ident $(, $arg:ident: $argty:ty = $default:tt)*) $new_body:block,
        { $($extra:tt)* }
    ) => {
        impl $cls {
            pub fn handle(&self) -> &Handle<$kind> {
                &self.h
            }
        }

        #[pymethods]
        impl $cls {
            /// `(name, documentation, labelnames=(), namespace='', subsystem='', unit='',
            /// registry=REGISTRY, _labelvalues=None, …)` as in prometheus_client.
            #[new]
            #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "", unit = "", registry = RegistryArg::Default, _labelvalues = None $(, $arg = $default)*, *, max_series = None))]
            #[allow(clippy::too_many_arguments)]
            fn new<'py>(
                $py: Python<'py>,
                name: String,
                documentation: String,
                labelnames: Option<Bound<'py, PyAny>>,
                namespace: &str,
                subsystem: &str,
                unit: &str,
                registry: RegistryArg<'py>,
                _labelvalues: Option<Bound<'py, PyAny>>,
                $($arg: $argty,)*
                max_series: Option<Bound<'py, PyAny>>,
            ) -> PyResult<Py<$cls>> {
                let max_series = max_series_from(max_series.as_ref())?;
                let $common = Common {
                    name,
                    documentation,
                    labelnames,
                    namespace: namespace.to_owned(),
                    subsystem: subsystem.to_owned(),
                    unit: unit.to_owned(),
                    labelvalues: _labelvalues,
                    registry,
                    max_series,
                };
                $new_body
            }

            $($extra)*

            /// The child for the given label values (positional or by name).
            #[pyo3(signature = (*labelvalues, **labelkwargs))]
            fn labels(&self, py: Python<'_>, labelvalues: &Bound<'_, PyTuple>, labelkwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<Self>> {
                if let Some(hit) = self.cache.get(py, labelvalues, labelkwargs)? {
                    return Ok(hit.cast_into::<Self>()?.unbind());
                }
                let h = self.h.labels_py(py, labelvalues, labelkwargs)?;
                let overflowed = is_overflow(&h);
                let child = Bound::new(py, $cls { h, x: self.x, cache: ChildCache::default() })?;
                if overflowed {
                    // Not cached: every call with new label values is counted.
                    report_overflow(py, &self.h.fam)?;
                } else {
                    self.cache.put(py, labelvalues, labelkwargs, child.as_any())?;
                }
                Ok(child.unbind())
            }

            /// Removes the child with the given label values.
            #[pyo3(signature = (*labelvalues))]
            fn remove(&self, py: Python<'_>, labelvalues: &Bound<'_, PyTuple>) -> PyResult<()> {
                warn_if_multiprocess(py, env::REMOVE_WARNING)?;
                self.h.remove_py(labelvalues)?;
                self.cache.clear(py);
                Ok(())
            }

            /// Removes every child whose labels include all of `labels`.
            fn remove_by_labels(&self, py: Python<'_>, labels: &Bound<'_, PyAny>) -> PyResult<()> {
                warn_if_multiprocess(py, env::REMOVE_WARNING)?;
                self.h.remove_by_labels_py(labels)?;
                self.cache.clear(py);
                Ok(())
            }

            /// Removes all children.
            fn clear(&self, py: Python<'_>) -> PyResult<()> {
                if !self.h.fam.desc.labelnames.is_empty() {
                    warn_if_multiprocess(py, env::CLEAR_WARNING)?;
                }
                self.h.clear();
                self.cache.clear(py);
                Ok(())
            }

            fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.h.describe_py(py)
            }

            fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.h.collect_py(py)
            }

            fn __str__(&self) -> String {
                self.h.describe()
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                slf.get().h.repr_py(&slf.get_type())
            }

            /// The series cap given as `max_series=` (None: no cap).
            #[getter]
            fn _max_series(&self) -> Option<usize> {
                self.h.fam.max_series()
            }

            #[getter]
            fn _name(&self) -> &str {
                &self.h.fam.desc.name
            }

            #[getter]
            fn _documentation(&self) -> &str {
                &self.h.fam.desc.help
            }

            #[getter]
            fn _unit(&self) -> &str {
                &self.h.fam.desc.unit
            }

            #[getter]
            fn _type(&self) -> &'static str {
                <$kind as Kind>::TYPE
            }

            #[getter]
            fn _labelnames<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                self.h.labelnames_tuple(py)
            }

            #[getter]
            fn _labelvalues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                self.h.labelvalues_tuple(py)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------

/// A monotonically increasing count (`_total`), with `_created`.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Counter {
    x: (),
    h: Handle<CounterValue>,
    cache: ChildCache,
}

metric_class!(Counter, CounterValue, new(py, common) {
        common.create(py, &[], (), |h| Counter {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Adds `amount` (default 1, must not be negative); `exemplar` labels the increment.
    #[pyo3(
        signature = (amount = Amount(None), exemplar = None),
        text_signature = "(self, /, amount=1, exemplar=None)"
    )]
    fn inc(
        &self,
        py: Python<'_>,
        amount: Amount<'_, '_>,
        exemplar: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let child = self.h.observable()?;
        let amount = number(amount.0.as_deref(), 1.0)?;
        CounterValue::check_increment(amount)?;
        match exemplar_from(py, exemplar, amount)? {
            None => child.value.inc(amount)?,
            Some(ex) => {
                child.value.inc(amount)?;
                child.value.set_exemplar(ex);
            }
        }
        Ok(())
    }

    /// Sets the count back to zero and `_created` to now.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let child = self.h.observable()?;
        let t = now(py)?;
        child.value.set(0.0)?;
        child.set_created(t);
        Ok(())
    }

    /// Counts exceptions of the given type(s) raised out of a block or function.
    #[pyo3(signature = (exception = None))]
    fn count_exceptions(
        &self,
        py: Python<'_>,
        exception: Option<Bound<'_, PyAny>>,
    ) -> PyResult<ExceptionCounter> {
        self.h.observable()?;
        let exception = match exception {
            Some(e) => e.unbind(),
            None => py
                .get_type::<pyo3::exceptions::PyException>()
                .into_any()
                .unbind(),
        };
        Ok(ExceptionCounter::new(self.h.clone(), exception))
    }

    /// The stored count, with `get()`, `inc()` and `set()` (prometheus_client's value object).
    #[getter]
    fn _value(&self) -> PyResult<Value> {
        Ok(Value::new(Target::Counter(self.h.observable()?.clone())))
    }

    #[getter]
    fn _created(&self) -> PyResult<f64> {
        Ok(self.h.observable()?.created())
    }
});

// ---------------------------------------------------------------------------------------

/// A value that goes up and down.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Gauge {
    x: (),
    h: Handle<GaugeValue>,
    cache: ChildCache,
}

metric_class!(Gauge, GaugeValue, new(py, common, multiprocess_mode: &str = "all") {
        let mode = MultiprocessMode::parse(multiprocess_mode)?;
        common.create(py, &[], mode, |h| Gauge {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Adds `amount` (default 1).
    #[pyo3(signature = (amount = Amount(None)), text_signature = "(self, /, amount=1)")]
    fn inc(&self, amount: Amount<'_, '_>) -> PyResult<()> {
        self.h.fam.config.check_add("inc")?;
        let child = self.h.observable()?;
        Ok(child.value.inc(number(amount.0.as_deref(), 1.0)?)?)
    }

    /// Subtracts `amount` (default 1).
    #[pyo3(signature = (amount = Amount(None)), text_signature = "(self, /, amount=1)")]
    fn dec(&self, amount: Amount<'_, '_>) -> PyResult<()> {
        self.h.fam.config.check_add("dec")?;
        let child = self.h.observable()?;
        Ok(child.value.inc(-number(amount.0.as_deref(), 1.0)?)?)
    }

    /// Sets the value (anything `float()` accepts).
    fn set(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.set(self.h.fam.config, to_float(value)?, || now(py))
    }

    /// Sets the value to the current Unix time.
    fn set_to_current_time(&self, py: Python<'_>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.set(self.h.fam.config, now(py)?, || now(py))
    }

    /// Increments on entering a block or function, decrements on leaving it.
    fn track_inprogress(&self) -> PyResult<InprogressTracker> {
        self.h.observable()?;
        Ok(InprogressTracker::new(self.h.clone()))
    }

    /// Sets the gauge to the duration of a block or function, in seconds.
    fn time(&self) -> Timer {
        Timer::new(Observe::Gauge(self.h.clone()))
    }

    /// Takes the value from `f()` at every scrape.
    fn set_function(&self, f: Py<PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.set_function(Arc::new(move || {
            Python::attach(|py| to_float(&f.bind(py).call0()?)).map_err(callback_error)
        }));
        Ok(())
    }

    #[getter]
    fn _multiprocess_mode(&self) -> &'static str {
        self.h.fam.config.name()
    }

    /// The stored value, with `get()`, `inc()` and `set()` (prometheus_client's value object).
    #[getter]
    fn _value(&self) -> PyResult<Value> {
        Ok(Value::new(Target::Gauge(self.h.observable()?.clone())))
    }
});

// ---------------------------------------------------------------------------------------

/// Count and sum of observations.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Summary {
    x: (),
    h: Handle<SummaryValue>,
    cache: ChildCache,
}

metric_class!(Summary, SummaryValue, new(py, common) {
        common.create(py, &["quantile"], (), |h| Summary {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Records one observation.
    fn observe(&self, amount: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        Ok(child.value.observe(number(Some(amount), 0.0)?)?)
    }

    /// Observes the duration of a block or function, in seconds.
    fn time(&self) -> Timer {
        Timer::new(Observe::Summary(self.h.clone()))
    }

    /// The stored count (prometheus_client's value object).
    #[getter]
    fn _count(&self) -> PyResult<Value> {
        Ok(Value::new(Target::SummaryCount(self.h.observable()?.clone())))
    }

    /// The stored sum (prometheus_client's value object).
    #[getter]
    fn _sum(&self) -> PyResult<Value> {
        Ok(Value::new(Target::SummarySum(self.h.observable()?.clone())))
    }
});

// ---------------------------------------------------------------------------------------

/// Observations counted in cumulative buckets, with count and sum.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Histogram {
    x: (),
    h: Handle<HistogramValue>,
    cache: ChildCache,
}

metric_class!(Histogram, HistogramValue, new(py, common, buckets: Option<Bound<'py, PyAny>> = None) {
        let buckets = match buckets {
            None => Buckets::default(),
            Some(b) => Buckets::new(
                b.try_iter()?
                    .map(|x| to_float(&x?))
                    .collect::<PyResult<Vec<f64>>>()?,
            )?,
        };
        common.create(py, &["le"], buckets, |h| Histogram {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Records one observation; `exemplar` labels the bucket it falls in.
    #[pyo3(signature = (amount, exemplar = None))]
    fn observe(
        &self,
        py: Python<'_>,
        amount: &Bound<'_, PyAny>,
        exemplar: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let child = self.h.observable()?;
        let v = number(Some(amount), 0.0)?;
        let idx = self.h.fam.config.index(v);
        let ex = match idx {
            Some(_) => exemplar_from(py, exemplar, v)?,
            None => None,
        };
        child.value.observe(idx, v)?;
        if let (Some(i), Some(ex)) = (idx, ex) {
            child.value.set_exemplar(i, ex);
        }
        Ok(())
    }

    /// Observes the duration of a block or function, in seconds.
    fn time(&self) -> Timer {
        Timer::new(Observe::Histogram(self.h.clone()))
    }

    /// The stored sum (prometheus_client's value object).
    #[getter]
    fn _sum(&self) -> PyResult<Value> {
        Ok(Value::new(Target::HistogramSum(self.h.observable()?.clone())))
    }

    /// Each bucket's own count, not cumulative (prometheus_client's value objects).
    #[getter]
    fn _buckets(&self) -> PyResult<Vec<Value>> {
        let child = self.h.observable()?;
        Ok((0..child.value.bucket_cells().len())
            .map(|i| Value::new(Target::HistogramBucket(child.clone(), i)))
            .collect())
    }

    #[classattr]
    #[allow(non_snake_case)]
    fn DEFAULT_BUCKETS(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, DEFAULT_BUCKETS)?.unbind())
    }

    #[getter]
    fn _upper_bounds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.h.fam.config.bounds.iter())
    }
});

// ---------------------------------------------------------------------------------------

/// Constant key-value information (`_info`, value 1).
#[pyclass(frozen, module = "fastprom._core")]
pub struct Info {
    x: (),
    h: Handle<InfoValue>,
    cache: ChildCache,
}

metric_class!(Info, InfoValue, new(py, common) {
        common.create(py, &[], (), |h| Info {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Sets the information (a dict of str to str).
    fn info(&self, val: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        let d = val
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("Info value must be a dict of str to str"))?;
        // Keys that are not str are left to str_pairs' TypeError below.
        let keys: Vec<String> = d.keys().iter().filter_map(|k| k.extract().ok()).collect();
        InfoValue::check_keys(
            &self.h.fam.desc.labelnames,
            keys.iter().map(String::as_str),
            || Ok::<_, PyErr>(d.repr()?.to_string()),
        )?;
        if d.values().iter().any(|v| v.is_none()) {
            return Err(Error::InfoValueNone.into());
        }
        child.value.set(str_pairs(d, "Info label")?);
        Ok(())
    }
});

// ---------------------------------------------------------------------------------------

/// One of a fixed set of states (OpenMetrics stateset).
#[pyclass(frozen, module = "fastprom._core")]
pub struct Enum {
    x: (),
    h: Handle<StateSetValue>,
    cache: ChildCache,
}

metric_class!(Enum, StateSetValue, new(py, common, states: Option<Bound<'py, PyAny>> = None) {
        let name = &common.name;
        StateSetValue::check_name(name, &labelnames_from(common.labelnames.as_ref())?)?;
        let states: Vec<String> = match states {
            Some(s) => s
                .try_iter()?
                .map(|x| x?.extract::<String>())
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        };
        let states = StateSetValue::states(name, states)?;
        common.create(py, &[], states, |h| Enum {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Sets the current state (one of `states`).
    fn state(&self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        let idx = match state.cast::<PyString>() {
            Ok(s) => StateSetValue::index(&self.h.fam.config, s.to_str()?),
            Err(_) => Err(Error::UnknownState(state.repr()?.to_string())),
        };
        child.value.set(idx?);
        Ok(())
    }

    #[getter]
    fn _states(&self) -> Vec<String> {
        self.h.fam.config.to_vec()
    }
});

/// The native family behind a metric object, if `obj` is one of fastprom's metrics.
pub fn native_collector(obj: &Bound<'_, PyAny>) -> Option<Arc<dyn Collector>> {
    if let Ok(m) = obj.cast::<Counter>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<Gauge>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<Histogram>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<Summary>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<Info>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<Enum>() {
        return Some(m.get().h.as_collector());
    }
    if let Ok(m) = obj.cast::<NativeCollector>() {
        return Some(m.get().inner.clone());
    }
    let delegate = obj
        .getattr_opt(pyo3::intern!(obj.py(), "__fastprom_collector__"))
        .ok()
        .flatten()?;
    delegate
        .cast::<NativeCollector>()
        .ok()
        .map(|m| m.get().inner.clone())
}
