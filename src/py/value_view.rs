//! `Value`: one stored number of a metric as prometheus_client's value objects show it
//! (`counter._value`, `gauge._value`, `summary._count` / `_sum`, `histogram._sum` /
//! `_buckets[i]`), so that the common `c._value.get()` of users' tests works. It reads and
//! writes the metric's own storage (the process's file in multiprocess mode).

use std::sync::Arc;

use pyo3::prelude::*;

use crate::core::metric::{Child, CounterValue, GaugeValue, HistogramValue, SummaryValue};
use crate::core::value::Cell;
use crate::py::util::to_float;

/// The child a view keeps alive, and which of its numbers it shows.
pub enum Target {
    /// A counter's count.
    Counter(Arc<Child<CounterValue>>),
    /// A gauge's value.
    Gauge(Arc<Child<GaugeValue>>),
    /// A summary's count.
    SummaryCount(Arc<Child<SummaryValue>>),
    /// A summary's sum.
    SummarySum(Arc<Child<SummaryValue>>),
    /// A histogram's sum.
    HistogramSum(Arc<Child<HistogramValue>>),
    /// A histogram's bucket (its own count, not cumulative).
    HistogramBucket(Arc<Child<HistogramValue>>, usize),
}

impl Target {
    fn cell(&self) -> &Cell {
        match self {
            Target::Counter(c) => c.value.cell(),
            Target::Gauge(c) => c.value.cell(),
            Target::SummaryCount(c) => c.value.count_cell(),
            Target::SummarySum(c) => c.value.sum_cell(),
            Target::HistogramSum(c) => c.value.sum_cell(),
            Target::HistogramBucket(c, i) => &c.value.bucket_cells()[*i],
        }
    }
}

/// One stored number of a metric (prometheus_client's `MutexValue` / `MmapedValue`).
#[pyclass(frozen, module = "fastprom._core")]
pub struct Value {
    target: Target,
}

impl Value {
    pub fn new(target: Target) -> Value {
        Value { target }
    }
}

#[pymethods]
impl Value {
    /// The number.
    fn get(&self) -> PyResult<f64> {
        Ok(self.target.cell().get()?)
    }

    /// Adds `amount`, unchecked (as on prometheus_client's value objects).
    fn inc(&self, amount: &Bound<'_, PyAny>) -> PyResult<()> {
        Ok(self.target.cell().inc(to_float(amount)?)?)
    }

    /// Sets the number, unchecked; `timestamp` is kept in multiprocess files only.
    #[pyo3(signature = (value, timestamp = None))]
    fn set(&self, value: &Bound<'_, PyAny>, timestamp: Option<f64>) -> PyResult<()> {
        let value = to_float(value)?;
        Ok(self.target.cell().set(value, timestamp.unwrap_or(0.0))?)
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("<fastprom value {}>", self.target.cell().get()?))
    }
}
