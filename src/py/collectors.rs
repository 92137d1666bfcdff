//! Python handles on the Rust collectors of `core::collectors`.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::core::collectors::{GcCollector, ProcessCollector, StaticCollector};
use crate::core::error::Result as CoreResult;
use crate::core::model::to_owned_family;
use crate::core::registry::Collector;
use crate::py::convert::{family_from_py, family_to_py};
use crate::py::multiprocess::detach_warning;

/// A collector implemented in Rust. A Python collector that exposes one as its
/// `__fastprom_collector__` attribute is rendered from Rust, without the GIL.
#[pyclass(frozen, module = "fastprom._core")]
pub struct NativeCollector {
    pub inner: Arc<dyn Collector>,
}

#[pymethods]
impl NativeCollector {
    /// The families as `Metric` objects, collected without the GIL (the warnings of a
    /// multiprocess collector become Python warnings).
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inner = &self.inner;
        let owned = detach_warning(py, || {
            let mut owned = Vec::new();
            inner.visit(&mut |fam| -> CoreResult<()> {
                owned.push(to_owned_family(fam)?);
                Ok(())
            })?;
            Ok::<_, crate::core::error::Error>(owned)
        })??;
        let list = PyList::empty(py);
        for fam in &owned {
            list.append(family_to_py(py, fam, true, &[])?)?;
        }
        Ok(list)
    }
}

/// `process_*` metrics of the process directory `proc/pid`.
#[pyfunction]
pub fn process_collector(
    namespace: &str,
    proc: &str,
    pid: &str,
    ticks: f64,
    page_size: f64,
) -> NativeCollector {
    NativeCollector {
        inner: Arc::new(ProcessCollector::new(
            namespace, proc, pid, ticks, page_size,
        )),
    }
}

/// Constant families, converted once from `Metric` objects.
#[pyfunction]
pub fn static_collector(metrics: &Bound<'_, PyAny>) -> PyResult<NativeCollector> {
    let families = metrics
        .try_iter()?
        .map(|m| family_from_py(&m?))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(NativeCollector {
        inner: Arc::new(StaticCollector(families)),
    })
}

/// Garbage-collector counters, fed by a `gc.callbacks` hook.
#[pyclass(frozen, module = "fastprom._core")]
pub struct GcCounters {
    inner: Arc<GcCollector>,
}

#[pymethods]
impl GcCounters {
    /// `initial`: (collected, uncollectable, collections) per generation so far.
    #[new]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts a list into a Vec
    fn new(initial: Vec<(u64, u64, u64)>) -> GcCounters {
        let gens: Vec<[u64; 3]> = initial.iter().map(|&(a, b, c)| [a, b, c]).collect();
        GcCounters {
            inner: Arc::new(GcCollector::new(&gens)),
        }
    }

    /// Records one finished collection.
    fn record(&self, generation: usize, collected: u64, uncollectable: u64) {
        self.inner.record(generation, collected, uncollectable);
    }

    fn collector(&self) -> NativeCollector {
        NativeCollector {
            inner: self.inner.clone(),
        }
    }
}
