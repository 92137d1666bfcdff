//! The registry's native half (`fastprom._core.Registry`), used by
//! `fastprom.registry.CollectorRegistry`, and the encoders' entry points.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::core::encode::Encoder;
use crate::core::error::Result as CoreResult;
use crate::core::format::Format;
use crate::core::model::{FamilySource, OwnedFamily};
use crate::core::registry::{Collector, Registry};
use crate::py::convert::{family_from_py, with_metric};
use crate::py::errors::callback_error;
use crate::py::metrics::native_collector;
use crate::py::multiprocess::detach_warning;
use crate::py::util::str_pairs;

/// A Python object with `collect()`: collected with the GIL, encoded without it.
struct PyCollector {
    obj: Py<PyAny>,
}

impl Collector for PyCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> CoreResult<()>) -> CoreResult<()> {
        let collected = Python::attach(|py| {
            Collected::gather(
                &self
                    .obj
                    .bind(py)
                    .call_method0(pyo3::intern!(py, "collect"))?,
            )
        })
        .map_err(callback_error)?;
        let result = collected.visit(f);
        Python::attach(|_| drop(collected));
        result
    }
}

/// Families converted from a collector's `Metric` objects, each kept with its object so
/// that an error while encoding it carries the object as its last argument, as
/// prometheus_client's exposition does (see [`with_metric`]).
struct Collected(Vec<(Py<PyAny>, OwnedFamily)>);

impl Collected {
    fn gather(metrics: &Bound<'_, PyAny>) -> PyResult<Collected> {
        metrics
            .try_iter()?
            .map(|m| {
                let m = m?;
                let fam = family_from_py(&m)?;
                Ok((m.unbind(), fam))
            })
            .collect::<PyResult<Vec<_>>>()
            .map(Collected)
    }

    /// Calls `f` on each family; may run without the GIL (it takes it only to report an error).
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> CoreResult<()>) -> CoreResult<()> {
        for (metric, fam) in &self.0 {
            f(fam).map_err(|e| {
                callback_error(Python::attach(|py| with_metric(e.into(), metric.bind(py))))
            })?;
        }
        Ok(())
    }
}

fn format_for(openmetrics: bool, escaping: &str, version_major: u32) -> PyResult<Format> {
    Ok(Format::from_args(openmetrics, escaping, version_major)?)
}

/// The collectors of one `CollectorRegistry`, in registration order.
#[pyclass(frozen, module = "fastprom._core", name = "Registry")]
pub struct PyRegistry {
    pub inner: Arc<Registry>,
}

fn id_of(obj: &Bound<'_, PyAny>) -> u64 {
    obj.as_ptr() as usize as u64
}

#[pymethods]
impl PyRegistry {
    #[new]
    fn new() -> PyRegistry {
        PyRegistry {
            inner: Arc::new(Registry::new()),
        }
    }

    /// Adds a collector registered under `names`; `always` keeps it in restricted scrapes.
    fn add(&self, collector: &Bound<'_, PyAny>, names: Vec<String>, always: bool) {
        let native = native_collector(collector);
        let c: Arc<dyn Collector> = match native {
            Some(c) => c,
            None => Arc::new(PyCollector {
                obj: collector.clone().unbind(),
            }),
        };
        self.inner.add(id_of(collector), c, names, always);
    }

    fn remove(&self, collector: &Bound<'_, PyAny>) -> bool {
        self.inner.remove(id_of(collector))
    }

    fn set_target_info(&self, labels: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        let labels = match labels {
            Some(d) if !d.is_empty() => Some(str_pairs(d, "target info label")?),
            _ => None,
        };
        self.inner.set_target_info(labels);
        Ok(())
    }

    /// Renders the registry; native families are encoded without holding the GIL. The
    /// warnings of multiprocess collectors become Python warnings.
    #[pyo3(signature = (openmetrics = false, escaping = "underscores", version_major = 1, names = None))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        openmetrics: bool,
        escaping: &str,
        version_major: u32,
        names: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = format_for(openmetrics, escaping, version_major)?;
        let inner = self.inner.clone();
        let bytes = detach_warning(py, move || inner.render(&format, names.as_deref()))??;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// Encodes `Metric` objects from any collector (`generate_latest(some_collector)`).
#[pyfunction]
#[pyo3(signature = (metrics, openmetrics = false, escaping = "underscores", version_major = 1))]
pub fn encode<'py>(
    py: Python<'py>,
    metrics: &Bound<'py, PyAny>,
    openmetrics: bool,
    escaping: &str,
    version_major: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let format = format_for(openmetrics, escaping, version_major)?;
    let collected = Collected::gather(metrics)?;
    let bytes = py.detach(|| {
        let mut enc = Encoder::new(format, None);
        collected.visit(&mut |fam| enc.family(fam, false))?;
        Ok::<_, crate::core::error::Error>(enc.finish())
    })?;
    Ok(PyBytes::new(py, &bytes))
}
