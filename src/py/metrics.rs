//! The six metric classes. Each Python object is a family handle plus, for an unlabelled
//! metric or a `labels(...)` child, the child it updates. All state lives in `core::metric`.

#![allow(clippy::pedantic)] // TODO(merge): rust-core fixes these

use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::PyClassInitializer;

use crate::core::metric::{
    Buckets, Child, CounterValue, Desc, Family, GaugeValue, HistogramValue, InfoValue, Kind,
    StateSetValue, SummaryValue,
};
use crate::core::model::{Exemplar, Timestamp};
use crate::core::registry::Collector;
use crate::core::validate;
use crate::py::collectors::NativeCollector;
use crate::py::convert::family_to_py;
use crate::py::errors::foreign;
use crate::py::timers::{ExceptionCounter, InprogressTracker, Observe, Timer};
use crate::py::util::{
    label_value, now, number, python_attr, str_pairs, to_float, tuple_values, Amount, Values,
};

/// The `registry=` argument: left out (the default registry) or given (None = don't register).
pub enum RegistryArg<'py> {
    Default,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for RegistryArg<'py> {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(RegistryArg::Given(obj.to_owned()))
    }
}

static DEFAULT_REGISTRY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn register(obj: &Bound<'_, PyAny>, registry: RegistryArg<'_>) -> PyResult<()> {
    let py = obj.py();
    let registry = match registry {
        RegistryArg::Default => {
            python_attr(py, &DEFAULT_REGISTRY, "fastprom.registry", "REGISTRY")?
        }
        RegistryArg::Given(r) => r,
    };
    if !registry.is_none() && registry.is_truthy()? {
        registry.call_method1(pyo3::intern!(py, "register"), (obj,))?;
    }
    Ok(())
}

/// What a metric object refers to: its family (shared by all handles) and its child.
pub struct Handle<K: Kind> {
    pub fam: Arc<Family<K>>,
    /// The child updated by `inc`/`observe`/…; `None` for a labelled parent.
    pub child: Option<Arc<Child<K>>>,
    type_name: &'static str,
}

impl<K: Kind> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Handle {
            fam: self.fam.clone(),
            child: self.child.clone(),
            type_name: self.type_name,
        }
    }
}

fn labelnames_from(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        let s: String = item.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "label names must be str, got {}",
                item.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        out.push(s);
    }
    Ok(out)
}

/// The child objects of a labelled metric for its hottest label sets, keyed by the
/// `labels(...)` argument tuple, so that repeated `labels()` calls return the same object
/// (as prometheus_client does) without a lookup in Rust or an allocation. Only tuples of
/// exact `str` are cached (`1` and `1.0` are equal keys but different labels), and at most
/// `CHILD_CACHE_SIZE` of them, so memory per series stays that of the Rust child.
pub struct ChildCache(PyOnceLock<Py<PyDict>>);

impl Default for ChildCache {
    fn default() -> Self {
        ChildCache(PyOnceLock::new())
    }
}

const CHILD_CACHE_SIZE: usize = 256;

impl ChildCache {
    fn cacheable(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> bool {
        kwargs.is_none_or(|k| k.is_empty())
            && !args.is_empty()
            && args
                .iter_borrowed()
                .all(|a| a.is_exact_instance_of::<PyString>())
    }

    #[inline]
    fn get<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.0.get(py) {
            Some(d) if Self::cacheable(args, kwargs) => d.bind(py).get_item(args),
            _ => Ok(None),
        }
    }

    fn put(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        child: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if !Self::cacheable(args, kwargs) {
            return Ok(());
        }
        let d = self.0.get_or_init(py, || PyDict::new(py).unbind()).bind(py);
        if d.len() < CHILD_CACHE_SIZE {
            d.set_item(args, child)?;
        }
        Ok(())
    }

    fn clear(&self, py: Python<'_>) {
        if let Some(d) = self.0.get(py) {
            d.bind(py).clear();
        }
    }
}

/// The arguments every metric constructor shares.
pub struct Common<'py> {
    pub name: String,
    pub documentation: String,
    pub labelnames: Option<Bound<'py, PyAny>>,
    pub namespace: String,
    pub subsystem: String,
    pub unit: String,
    pub labelvalues: Option<Bound<'py, PyAny>>,
    pub registry: RegistryArg<'py>,
}

impl<'py> Common<'py> {
    /// Builds the family, wraps it in its Python class with `wrap` and registers the object
    /// (a `_labelvalues` child is not registered, as in prometheus_client).
    fn create<K: Kind, T: pyo3::PyClass + Into<PyClassInitializer<T>>>(
        mut self,
        py: Python<'py>,
        type_name: &'static str,
        reserved: &[&str],
        config: K::Config,
        wrap: impl FnOnce(Handle<K>) -> T,
    ) -> PyResult<Py<T>> {
        let register_it = self.labelvalues.as_ref().is_none_or(|v| v.is_none());
        let registry = std::mem::replace(&mut self.registry, RegistryArg::Default);
        let obj = Bound::new(
            py,
            wrap(Handle::build(py, self, type_name, reserved, config)?),
        )?;
        if register_it {
            register(obj.as_any(), registry)?;
        }
        Ok(obj.unbind())
    }
}

impl<K: Kind> Handle<K> {
    fn build(
        py: Python<'_>,
        c: Common<'_>,
        type_name: &'static str,
        reserved: &[&str],
        config: K::Config,
    ) -> PyResult<Handle<K>> {
        let full =
            validate::build_full_name(type_name, &c.name, &c.namespace, &c.subsystem, &c.unit)?;
        let labelnames = labelnames_from(c.labelnames.as_ref())?;
        validate::validate_label_names(&labelnames, reserved)?;
        let unlabelled = labelnames.is_empty();
        let created = if unlabelled { now(py)? } else { 0.0 };
        let fam = Arc::new(Family::new(
            Desc::new(full, c.documentation, c.unit, labelnames),
            config,
            created,
        ));
        let mut h = Handle {
            child: fam.solo().cloned(),
            fam,
            type_name,
        };
        if let Some(values) = c.labelvalues.filter(|v| !v.is_none()) {
            let values = values
                .try_iter()?
                .map(|v| v?.str().map(|s| s.to_string()))
                .collect::<PyResult<Vec<_>>>()?;
            if !values.is_empty() {
                h = h.child_for(py, &values)?;
            }
        }
        Ok(h)
    }

    fn describe_str(&self) -> String {
        format!("{}:{}", self.type_name, self.fam.desc.name)
    }

    /// The child to update, or the error prometheus_client raises on a labelled parent.
    #[inline]
    pub fn observable(&self) -> PyResult<&Arc<Child<K>>> {
        match &self.child {
            Some(c) => Ok(c),
            None => Err(PyValueError::new_err(format!(
                "{} metric is missing label values",
                self.type_name
            ))),
        }
    }

    fn child_for<S: AsRef<str>>(&self, py: Python<'_>, values: &[S]) -> PyResult<Handle<K>> {
        let child = self.fam.child(values, || now(py).map_err(foreign))?;
        Ok(Handle {
            fam: self.fam.clone(),
            child: Some(child),
            type_name: self.type_name,
        })
    }

    fn is_child(&self) -> bool {
        self.child.is_some() && !self.fam.desc.labelnames.is_empty()
    }

    pub fn labels(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Handle<K>> {
        let names = &self.fam.desc.labelnames;
        if names.is_empty() {
            return Err(PyValueError::new_err(format!(
                "No label names were set when constructing {}",
                self.describe_str()
            )));
        }
        if self.is_child() {
            return Err(PyValueError::new_err(format!(
                "{} already has labels set ({}); can not chain calls to .labels()",
                self.describe_str(),
                self.labelvalues_dict(py)?.repr()?
            )));
        }
        let kwargs = kwargs.filter(|k| !k.is_empty());
        if let Some(kw) = kwargs {
            if !args.is_empty() {
                return Err(PyValueError::new_err("Can't pass both *args and **kwargs"));
            }
            if kw.len() != names.len() {
                return Err(PyValueError::new_err("Incorrect label names"));
            }
            let mut values = Values::new();
            for n in names.iter() {
                match kw.get_item(n)? {
                    Some(v) => values.push(std::borrow::Cow::Owned(
                        label_value(v.as_borrowed())?.into_owned(),
                    )),
                    None => return Err(PyValueError::new_err("Incorrect label names")),
                }
            }
            return self.child_for(py, &values);
        }
        if args.len() != names.len() {
            return Err(PyValueError::new_err("Incorrect label count"));
        }
        let values = tuple_values(args)?;
        self.child_for(py, &values)
    }

    fn labelvalues_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let Some(c) = self.child.as_ref().filter(|_| self.is_child()) {
            for (k, v) in self.fam.desc.labelnames.iter().zip(c.label_values().iter()) {
                d.set_item(k, v)?;
            }
        }
        Ok(d)
    }

    fn require_labels(&self) -> PyResult<()> {
        if self.fam.desc.labelnames.is_empty() {
            return Err(PyValueError::new_err(format!(
                "No label names were set when constructing {}",
                self.describe_str()
            )));
        }
        Ok(())
    }

    pub fn remove(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.require_labels()?;
        let n = self.fam.desc.labelnames.len();
        if args.len() != n {
            return Err(PyValueError::new_err(format!(
                "Incorrect label count (expected {n}, got {})",
                args.repr()?
            )));
        }
        self.fam.remove(&tuple_values(args)?);
        Ok(())
    }

    pub fn remove_by_labels(&self, labels: &Bound<'_, PyAny>) -> PyResult<()> {
        self.require_labels()?;
        let labels = labels.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err("labels must be a dict of {label_name: label_value}")
        })?;
        if labels.is_empty() {
            return Ok(());
        }
        let names = &self.fam.desc.labelnames;
        let mut filter = Vec::with_capacity(labels.len());
        let mut unknown = Vec::new();
        for (k, v) in labels.iter() {
            let key = k.str()?.to_string();
            match names.iter().position(|n| *n == key) {
                Some(pos) => filter.push((pos, v.str()?.to_string())),
                None => unknown.push(key),
            }
        }
        if !unknown.is_empty() {
            return Err(PyValueError::new_err(format!(
                "Unknown label names: {unknown:?}; expected {names:?}"
            )));
        }
        self.fam.remove_matching(&filter);
        Ok(())
    }

    pub fn clear(&self) {
        if !self.fam.desc.labelnames.is_empty() {
            self.fam.clear();
        }
    }

    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, [family_to_py(py, &*self.fam, false, &[])?])
    }

    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            [family_to_py(
                py,
                &*self.fam,
                true,
                &K::label_order(&self.fam),
            )?],
        )
    }

    fn repr(&self, cls: &Bound<'_, PyType>) -> PyResult<String> {
        let module = cls.module()?.to_string();
        let module = if module == "fastprom._core" {
            "fastprom.metrics".to_string()
        } else {
            module
        };
        Ok(format!(
            "{module}.{}({})",
            cls.qualname()?,
            self.fam.desc.name
        ))
    }

    fn labelnames_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.fam.desc.labelnames.iter())
    }

    fn labelvalues_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let values: Vec<&str> = match &self.child {
            Some(c) if self.is_child() => c.label_values().to_vec(),
            _ => Vec::new(),
        };
        PyTuple::new(py, values)
    }

    pub fn as_collector(&self) -> Arc<dyn Collector> {
        self.fam.clone()
    }
}

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
            #[pyo3(signature = (name, documentation, labelnames = None, namespace = "", subsystem = "", unit = "", registry = RegistryArg::Default, _labelvalues = None $(, $arg = $default)*))]
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
            ) -> PyResult<Py<$cls>> {
                let $common = Common {
                    name,
                    documentation,
                    labelnames,
                    namespace: namespace.to_owned(),
                    subsystem: subsystem.to_owned(),
                    unit: unit.to_owned(),
                    labelvalues: _labelvalues,
                    registry,
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
                let h = self.h.labels(py, labelvalues, labelkwargs)?;
                let child = Bound::new(py, $cls { h, x: self.x, cache: ChildCache::default() })?;
                self.cache.put(py, labelvalues, labelkwargs, child.as_any())?;
                Ok(child.unbind())
            }

            /// Removes the child with the given label values.
            #[pyo3(signature = (*labelvalues))]
            fn remove(&self, py: Python<'_>, labelvalues: &Bound<'_, PyTuple>) -> PyResult<()> {
                self.h.remove(labelvalues)?;
                self.cache.clear(py);
                Ok(())
            }

            /// Removes every child whose labels include all of `labels`.
            fn remove_by_labels(&self, py: Python<'_>, labels: &Bound<'_, PyAny>) -> PyResult<()> {
                self.h.remove_by_labels(labels)?;
                self.cache.clear(py);
                Ok(())
            }

            /// Removes all children.
            fn clear(&self, py: Python<'_>) {
                self.h.clear();
                self.cache.clear(py);
            }

            fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.h.describe(py)
            }

            fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.h.collect(py)
            }

            fn __str__(&self) -> String {
                self.h.describe_str()
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                slf.get().h.repr(&slf.get_type())
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
                self.h.type_name
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
        common.create(py, "counter", &[], (), |h| Counter {
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
        if amount < 0.0 {
            return Err(PyValueError::new_err(
                "Counters can only be incremented by non-negative amounts.",
            ));
        }
        match exemplar_from(py, exemplar, amount)? {
            None => child.value.inc(amount),
            Some(ex) => {
                child.value.inc(amount);
                child.value.set_exemplar(ex);
            }
        }
        Ok(())
    }

    /// Sets the count back to zero and `_created` to now.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let child = self.h.observable()?;
        let t = now(py)?;
        child.value.set(0.0);
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

    #[getter]
    fn _value(&self) -> PyResult<f64> {
        Ok(self.h.observable()?.value.get())
    }

    #[getter]
    fn _created(&self) -> PyResult<f64> {
        Ok(self.h.observable()?.created())
    }
});

// ---------------------------------------------------------------------------------------

const MULTIPROCESS_MODES: [&str; 10] = [
    "all",
    "liveall",
    "min",
    "livemin",
    "max",
    "livemax",
    "sum",
    "livesum",
    "mostrecent",
    "livemostrecent",
];

/// A value that goes up and down.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Gauge {
    h: Handle<GaugeValue>,
    x: GaugeMode,
    cache: ChildCache,
}

/// The multiprocess mode a Gauge was created with (accepted for compatibility).
#[derive(Clone, Copy)]
pub struct GaugeMode {
    name: &'static str,
    most_recent: bool,
}

metric_class!(Gauge, GaugeValue, new(py, common, multiprocess_mode: &str = "all") {
        let Some(mode) = MULTIPROCESS_MODES.iter().find(|m| **m == multiprocess_mode) else {
            return Err(PyValueError::new_err(format!(
                "Invalid multiprocess mode: {multiprocess_mode}"
            )));
        };
        let x = GaugeMode {
            name: mode,
            most_recent: mode.ends_with("mostrecent"),
        };
        common.create(py, "gauge", &[], (), |h| Gauge {
            h,
            x,
            cache: ChildCache::default(),
        })
}, {
    /// Adds `amount` (default 1).
    #[pyo3(signature = (amount = Amount(None)), text_signature = "(self, /, amount=1)")]
    fn inc(&self, amount: Amount<'_, '_>) -> PyResult<()> {
        self.not_most_recent("inc")?;
        let child = self.h.observable()?;
        child.value.inc(number(amount.0.as_deref(), 1.0)?);
        Ok(())
    }

    /// Subtracts `amount` (default 1).
    #[pyo3(signature = (amount = Amount(None)), text_signature = "(self, /, amount=1)")]
    fn dec(&self, amount: Amount<'_, '_>) -> PyResult<()> {
        self.not_most_recent("dec")?;
        let child = self.h.observable()?;
        child.value.inc(-number(amount.0.as_deref(), 1.0)?);
        Ok(())
    }

    /// Sets the value (anything `float()` accepts).
    fn set(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.set(to_float(value)?);
        Ok(())
    }

    /// Sets the value to the current Unix time.
    fn set_to_current_time(&self, py: Python<'_>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.set(now(py)?);
        Ok(())
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
            Python::attach(|py| to_float(&f.bind(py).call0()?)).map_err(foreign)
        }));
        Ok(())
    }

    #[getter]
    fn _multiprocess_mode(&self) -> &'static str {
        self.x.name
    }

    #[getter]
    fn _value(&self) -> PyResult<f64> {
        Ok(self.h.observable()?.value.get())
    }
});

impl Gauge {
    fn not_most_recent(&self, op: &str) -> PyResult<()> {
        if self.x.most_recent {
            return Err(PyRuntimeError::new_err(format!(
                "{op} must not be used with the mostrecent mode"
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------

/// Count and sum of observations.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Summary {
    x: (),
    h: Handle<SummaryValue>,
    cache: ChildCache,
}

metric_class!(Summary, SummaryValue, new(py, common) {
        common.create(py, "summary", &["quantile"], (), |h| Summary {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Records one observation.
    fn observe(&self, amount: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        child.value.observe(number(Some(amount), 0.0)?);
        Ok(())
    }

    /// Observes the duration of a block or function, in seconds.
    fn time(&self) -> Timer {
        Timer::new(Observe::Summary(self.h.clone()))
    }
});

// ---------------------------------------------------------------------------------------

const DEFAULT_BUCKETS: [f64; 15] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    f64::INFINITY,
];

/// Observations counted in cumulative buckets, with count and sum.
#[pyclass(frozen, module = "fastprom._core")]
pub struct Histogram {
    x: (),
    h: Handle<HistogramValue>,
    cache: ChildCache,
}

metric_class!(Histogram, HistogramValue, new(py, common, buckets: Option<Bound<'py, PyAny>> = None) {
        let bounds = match buckets {
            None => DEFAULT_BUCKETS.to_vec(),
            Some(b) => b
                .try_iter()?
                .map(|x| to_float(&x?))
                .collect::<PyResult<Vec<f64>>>()?,
        };
        let buckets = Buckets::new(bounds)?;
        common.create(py, "histogram", &["le"], buckets, |h| Histogram {
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
        child.value.observe(idx, v);
        if let (Some(i), Some(ex)) = (idx, ex) {
            child.value.set_exemplar(i, ex);
        }
        Ok(())
    }

    /// Observes the duration of a block or function, in seconds.
    fn time(&self) -> Timer {
        Timer::new(Observe::Histogram(self.h.clone()))
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
        common.create(py, "info", &[], (), |h| Info {
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
        let names = &self.h.fam.desc.labelnames;
        for k in d.keys() {
            if let Ok(k) = k.extract::<String>() {
                if names.contains(&k) {
                    return Err(PyValueError::new_err(format!(
                        "Overlapping labels for Info metric, metric: {names:?} child: {}",
                        d.repr()?
                    )));
                }
            }
        }
        if d.values().iter().any(|v| v.is_none()) {
            return Err(PyValueError::new_err("Label value cannot be None"));
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
        if labelnames_from(common.labelnames.as_ref())?.contains(name) {
            return Err(PyValueError::new_err(format!(
                "Overlapping labels for Enum metric: {name}"
            )));
        }
        let states: Vec<String> = match states {
            Some(s) => s
                .try_iter()?
                .map(|x| x?.extract::<String>())
                .collect::<PyResult<_>>()?,
            None => Vec::new(),
        };
        if states.is_empty() {
            return Err(PyValueError::new_err(format!(
                "No states provided for Enum metric: {name}"
            )));
        }
        common.create(py, "stateset", &[], states.into_boxed_slice(), |h| Enum {
            x: (),
            h,
            cache: ChildCache::default(),
        })
}, {
    /// Sets the current state (one of `states`).
    fn state(&self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let child = self.h.observable()?;
        let idx = match state.cast::<PyString>() {
            Ok(s) => {
                let s = s.to_str()?;
                self.h.fam.config.iter().position(|x| x == s)
            }
            Err(_) => None,
        };
        match idx {
            Some(i) => {
                child.value.set(i);
                Ok(())
            }
            None => Err(PyValueError::new_err(format!(
                "{} is not in list",
                state.repr()?
            ))),
        }
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
