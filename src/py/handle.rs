//! Handles and labels: what every metric class holds (a `core::handle::Handle`), the
//! arguments their constructors share, the `labels(...)` child cache, and the label calls
//! (`labels`, `remove`, `remove_by_labels`) read from Python arguments. The classes are in
//! `metrics.rs`; the timers depend on this module only.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::PyClassInitializer;

use crate::core::error::Error;
use crate::core::metric::{Desc, Family, Kind};
use crate::core::registry::Collector;
use crate::core::validate;
use crate::py::bound;
use crate::py::convert::family_to_py;
use crate::py::util::{label_value, now, tuple_values};

pub use crate::core::handle::Handle;

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

/// The registry a `registry=` argument names (the default one if left out).
fn resolve<'py>(py: Python<'py>, registry: RegistryArg<'py>) -> PyResult<Bound<'py, PyAny>> {
    match registry {
        RegistryArg::Default => bound::default_registry(py),
        RegistryArg::Given(r) => Ok(r),
    }
}

/// Whether a metric registers with `registry` (not None, not empty).
fn registers(registry: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(!registry.is_none() && registry.is_truthy()?)
}

/// Registers a new metric object with `registry` (none if it is None or empty).
fn register(obj: &Bound<'_, PyAny>, registry: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = obj.py();
    if registers(registry)? {
        registry.call_method1(pyo3::intern!(py, "register"), (obj,))?;
    }
    Ok(())
}

/// The `labelnames=` argument as strings (a `TypeError` names a label name that is not one).
pub fn labelnames_from(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
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
        kwargs.is_none_or(PyDictMethods::is_empty)
            && !args.is_empty()
            && args
                .iter_borrowed()
                .all(|a| a.is_exact_instance_of::<PyString>())
    }

    #[inline]
    pub fn get<'py>(
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

    pub fn put(
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

    pub fn clear(&self, py: Python<'_>) {
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
    /// The series cap (`max_series=`), checked.
    pub max_series: Option<usize>,
}

impl<'py> Common<'py> {
    /// Builds the family, wraps it in its Python class with `wrap` and registers the object
    /// (a `_labelvalues` child is not registered, as in prometheus_client).
    pub fn create<K: Kind, T: pyo3::PyClass + Into<PyClassInitializer<T>>>(
        mut self,
        py: Python<'py>,
        reserved: &[&str],
        config: K::Config,
        wrap: impl FnOnce(Handle<K>) -> T,
    ) -> PyResult<Py<T>> {
        let register_it = self.labelvalues.as_ref().is_none_or(PyAnyMethods::is_none);
        let registry = std::mem::replace(&mut self.registry, RegistryArg::Default);
        let registry = resolve(py, registry)?;
        // A capped family reports overflows to the registry it is exposed in (None if not
        // registered: its overflow counter is then not exposed either).
        let sink = if registers(&registry)? && register_it {
            registry.clone().unbind()
        } else {
            py.None()
        };
        let obj = Bound::new(py, wrap(build_handle(py, self, reserved, config, sink)?))?;
        if register_it {
            register(obj.as_any(), &registry)?;
        }
        Ok(obj.unbind())
    }
}

/// The handle of a new metric: name and label names validated, the family created, and
/// the child of `_labelvalues` if given.
fn build_handle<K: Kind>(
    py: Python<'_>,
    c: Common<'_>,
    reserved: &[&str],
    config: K::Config,
    sink: Py<PyAny>,
) -> PyResult<Handle<K>> {
    let full = validate::build_full_name(K::TYPE, &c.name, &c.namespace, &c.subsystem, &c.unit)?;
    let labelnames = labelnames_from(c.labelnames.as_ref())?;
    validate::validate_label_names(&labelnames, reserved)?;
    let unlabelled = labelnames.is_empty();
    let created = if unlabelled { now(py)? } else { 0.0 };
    let fam = Family::new(
        Desc::new(full, c.documentation, c.unit, labelnames),
        config,
        created,
    )?
    .with_max_series(c.max_series);
    let fam = match c.max_series {
        Some(_) => fam.with_overflow_sink(Box::new(sink)),
        None => fam,
    };
    let h = Handle::new(Arc::new(fam));
    if let Some(values) = c.labelvalues.filter(|v| !v.is_none()) {
        let values = values
            .try_iter()?
            .map(|v| v?.str().map(|s| s.to_string()))
            .collect::<PyResult<Vec<_>>>()?;
        if !values.is_empty() {
            return h.child_for(&values, || now(py));
        }
    }
    Ok(h)
}

/// What the metric classes do with their handle from Python arguments.
pub trait PyHandle<K: Kind> {
    /// `labels(*args, **kwargs)`.
    fn labels_py(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Handle<K>>;
    /// `remove(*args)`.
    fn remove_py(&self, args: &Bound<'_, PyTuple>) -> PyResult<()>;
    /// `remove_by_labels(labels)`.
    fn remove_by_labels_py(&self, labels: &Bound<'_, PyAny>) -> PyResult<()>;
    /// `describe()`: the family without samples.
    fn describe_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>>;
    /// `collect()`: the family with its samples.
    fn collect_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>>;
    /// `repr()`: `module.Class(name)`.
    fn repr_py(&self, cls: &Bound<'_, PyType>) -> PyResult<String>;
    /// `_labelnames`.
    fn labelnames_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>>;
    /// `_labelvalues`.
    fn labelvalues_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>>;
    /// The family, for the registry to render natively.
    fn as_collector(&self) -> Arc<dyn Collector>;
}

impl<K: Kind> PyHandle<K> for Handle<K> {
    fn labels_py(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Handle<K>> {
        self.check_labels()?;
        if let Some(kw) = kwargs.filter(|k| !k.is_empty()) {
            if !args.is_empty() {
                return Err(Error::MixedLabelArgs.into());
            }
            return self.labels_by_name(
                kw.len(),
                |name| match kw.get_item(name)? {
                    Some(v) => Ok(Some(label_value(v.as_borrowed())?.into_owned())),
                    None => Ok(None),
                },
                || now(py),
            );
        }
        // The count is checked before any value is converted with str().
        self.fam.desc.check_label_count(args.len())?;
        self.labels(&tuple_values(args)?, || now(py))
    }

    fn remove_py(&self, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.check_remove(args.len(), || Ok::<_, PyErr>(args.repr()?.to_string()))?;
        Ok(self.remove(&tuple_values(args)?)?)
    }

    fn remove_by_labels_py(&self, labels: &Bound<'_, PyAny>) -> PyResult<()> {
        self.require_labels()?;
        let labels = labels.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err("labels must be a dict of {label_name: label_value}")
        })?;
        let pairs = labels
            .iter()
            .map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(self.remove_by_labels(&pairs)?)
    }

    fn describe_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, [family_to_py(py, &*self.fam, false, &[])?])
    }

    fn collect_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
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

    fn repr_py(&self, cls: &Bound<'_, PyType>) -> PyResult<String> {
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
        PyTuple::new(py, self.label_values())
    }

    fn as_collector(&self) -> Arc<dyn Collector> {
        self.fam.clone()
    }
}
