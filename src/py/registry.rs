//! The registry's native half (`fastprom._core.Registry`), used by
//! `fastprom.registry.CollectorRegistry`, and the encoders' entry points.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::core::error::Result as CoreResult;
use crate::core::format::Format;
use crate::core::model::{FamilySource, OwnedFamily};
use crate::core::registry::{encode_families, Collector, Registry};
use crate::py::convert::family_from_py;
use crate::py::errors::callback_error;
use crate::py::metrics::native_collector;
use crate::py::util::str_pairs;

/// A Python object with `collect()`: collected with the GIL, encoded without it.
struct PyCollector {
    obj: Py<PyAny>,
}

impl Collector for PyCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> CoreResult<()>) -> CoreResult<()> {
        let families = Python::attach(|py| -> PyResult<Vec<OwnedFamily>> {
            let collected = self
                .obj
                .bind(py)
                .call_method0(pyo3::intern!(py, "collect"))?;
            collected.try_iter()?.map(|m| family_from_py(&m?)).collect()
        })
        .map_err(callback_error)?;
        for fam in &families {
            f(fam)?;
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

    /// Renders the registry; native families are encoded without holding the GIL.
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
        let bytes = py.detach(move || inner.render(&format, names.as_deref()))?;
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
    let families = metrics
        .try_iter()?
        .map(|m| family_from_py(&m?))
        .collect::<PyResult<Vec<OwnedFamily>>>()?;
    let bytes = py.detach(move || {
        let refs: Vec<&dyn FamilySource> =
            families.iter().map(|f| f as &dyn FamilySource).collect();
        encode_families(&format, &refs)
    })?;
    Ok(PyBytes::new(py, &bytes))
}
