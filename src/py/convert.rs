//! Metric families between the core's model and fastprom's Python classes
//! (`Metric`, `Sample`, handed over at import: `bound.rs`), in both directions.

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString, PyTuple};

use crate::core::error::Result as CoreResult;
use crate::core::model::{Exemplar, FamilySource, OwnedFamily, OwnedSample, Timestamp};
use crate::py::bound;
use crate::py::errors::callback_error;
use crate::py::util::{str_pairs_or, to_float};

fn labels_dict<'py, 'a>(
    py: Python<'py>,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in labels {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn timestamp_to_py<'py>(py: Python<'py>, ts: Option<&Timestamp>) -> Bound<'py, PyAny> {
    match ts {
        None => py.None().into_bound(py),
        Some(Timestamp::Float(f)) => PyFloat::new(py, *f).into_any(),
        Some(Timestamp::Exact { text, .. }) => PyString::new(py, text).into_any(),
    }
}

fn exemplar_to_py<'py>(py: Python<'py>, ex: &Exemplar) -> PyResult<Bound<'py, PyAny>> {
    let labels = labels_dict(py, ex.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    bound::exemplar_class(py)?.call1((labels, ex.value, timestamp_to_py(py, ex.timestamp.as_ref())))
}

/// `Metric` objects for a native family (`collect()`); without samples for `describe()`.
/// Sample labels list `label_order` first (a metric's label names, as prometheus_client's
/// dicts do), then the others (`le`, an Enum's state) sorted.
pub fn family_to_py<'py>(
    py: Python<'py>,
    fam: &dyn FamilySource,
    with_samples: bool,
    label_order: &[String],
) -> PyResult<Bound<'py, PyAny>> {
    let metric =
        bound::metric_class(py)?.call1((fam.name(), fam.help(), fam.type_name(), fam.unit()))?;
    if with_samples {
        let sample_cls = bound::sample_class(py)?;
        let stateset = fam.type_name() == "stateset";
        let samples = PyList::empty(py);
        let res: CoreResult<()> = fam.for_each_sample(&mut |s| {
            let build = || -> PyResult<Bound<'py, PyAny>> {
                let first = label_order
                    .iter()
                    .filter_map(|k| s.labels.iter().find(|(name, _)| name == k).copied());
                let rest = s
                    .labels
                    .iter()
                    .filter(|(name, _)| !label_order.iter().any(|k| k == name));
                let labels = labels_dict(py, first.chain(rest.copied()))?;
                let ex = match s.exemplar {
                    Some(e) => exemplar_to_py(py, e)?,
                    None => py.None().into_bound(py),
                };
                // prometheus_client's Enum samples are the ints 0 and 1: the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let value = match s.value {
                    Some(v) if stateset => (v as i64).into_pyobject(py)?.into_any(),
                    Some(v) => PyFloat::new(py, v).into_any(),
                    None => py.None().into_bound(py),
                };
                sample_cls.call1((
                    s.name.concat(),
                    labels,
                    value,
                    timestamp_to_py(py, s.timestamp),
                    ex,
                ))
            };
            match build().and_then(|o| samples.append(o)) {
                Ok(()) => Ok(()),
                Err(e) => Err(callback_error(e)),
            }
        });
        res?;
        metric.setattr(pyo3::intern!(py, "samples"), samples)?;
    }
    Ok(metric)
}

fn timestamp_from_py(v: &Bound<'_, PyAny>) -> PyResult<Option<Timestamp>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(f) = v.cast_exact::<PyFloat>() {
        return Ok(Some(Timestamp::Float(f.value())));
    }
    let seconds = to_float(v)?;
    // The cast saturates: i128 holds the milliseconds of any finite float up to 1.7e35
    // seconds, far past any timestamp a collector reports.
    #[allow(clippy::cast_possible_truncation)]
    Ok(Some(Timestamp::Exact {
        text: v.str()?.to_str()?.to_owned(),
        millis: (seconds * 1000.0).trunc() as i128,
    }))
}

fn exemplar_from_py(v: &Bound<'_, PyAny>) -> PyResult<Option<Exemplar>> {
    if v.is_none() || !v.is_truthy()? {
        return Ok(None);
    }
    let py = v.py();
    let labels = v.getattr(pyo3::intern!(py, "labels"))?;
    let labels = labels
        .cast::<PyDict>()
        .map_err(|_| PyAttributeError::new_err("exemplar labels must be a dict"))?;
    Ok(Some(Exemplar {
        labels: str_pairs_or(labels, "exemplar label", PyAttributeError::new_err)?,
        value: to_float(&v.getattr(pyo3::intern!(py, "value"))?)?,
        timestamp: timestamp_from_py(&v.getattr(pyo3::intern!(py, "timestamp"))?)?,
    }))
}

fn sample_from_py(s: &Bound<'_, PyAny>) -> PyResult<OwnedSample> {
    let py = s.py();
    let name: String = s.getattr(pyo3::intern!(py, "name"))?.extract()?;
    let labels = s.getattr(pyo3::intern!(py, "labels"))?;
    // prometheus_client's exposition reads a collected sample's labels with `.items()` and
    // escapes their values with `.replace()`: what is not a dict, or not a str, fails
    // with AttributeError there, and here.
    let labels = labels.cast::<PyDict>().map_err(|_| {
        PyAttributeError::new_err(format!("labels of sample {name} must be a dict"))
    })?;
    let mut labels = str_pairs_or(
        labels,
        &format!("sample {name} label"),
        PyAttributeError::new_err,
    )?;
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let value = s.getattr(pyo3::intern!(py, "value"))?;
    let value = if value.is_none() {
        None
    } else {
        Some(to_float(&value)?)
    };
    let mut sample = OwnedSample {
        name,
        labels,
        value,
        timestamp: timestamp_from_py(&s.getattr(pyo3::intern!(py, "timestamp"))?)?,
        exemplar: exemplar_from_py(&s.getattr(pyo3::intern!(py, "exemplar"))?)?,
        native_histogram: None,
        native_exemplars: Vec::new(),
    };
    // Older Sample types have no native_histogram field.
    if let Ok(nh) = s.getattr(pyo3::intern!(py, "native_histogram")) {
        if !nh.is_none() {
            let text = bound::native_histogram_value(py)?
                .call1((&nh,))?
                .extract::<String>()?;
            sample.native_histogram = Some(text);
            let exemplars = nh.getattr(pyo3::intern!(py, "nh_exemplars"))?;
            if !exemplars.is_none() {
                for ex in exemplars.try_iter()? {
                    if let Some(e) = exemplar_from_py(&ex?)? {
                        sample.native_exemplars.push(e);
                    }
                }
            }
        }
    }
    Ok(sample)
}

/// Any `Metric`-like object (fastprom's or prometheus_client's) → an owned family.
/// An error names the object as its last argument, as prometheus_client's exposition does.
pub fn family_from_py(m: &Bound<'_, PyAny>) -> PyResult<OwnedFamily> {
    convert_family(m).map_err(|e| with_metric(e, m))
}

fn convert_family(m: &Bound<'_, PyAny>) -> PyResult<OwnedFamily> {
    let py = m.py();
    let samples = m
        .getattr(pyo3::intern!(py, "samples"))?
        .try_iter()?
        .map(|s| sample_from_py(&s?))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(OwnedFamily {
        name: m.getattr(pyo3::intern!(py, "name"))?.extract()?,
        help: m.getattr(pyo3::intern!(py, "documentation"))?.extract()?,
        type_name: m.getattr(pyo3::intern!(py, "type"))?.extract()?,
        unit: m.getattr(pyo3::intern!(py, "unit"))?.extract()?,
        samples,
    })
}

/// `err` with `metric` appended to its `args`: prometheus_client's exposition does this to
/// any exception raised while rendering a collected metric, so that the caller can tell
/// which collector broke (`exc.args[-1]`).
pub fn with_metric(err: PyErr, metric: &Bound<'_, PyAny>) -> PyErr {
    let py = metric.py();
    let value = err.value(py);
    // Failing to annotate (an exception whose `args` cannot be set) leaves it as raised.
    let _ = value
        .getattr(pyo3::intern!(py, "args"))
        .and_then(|args| {
            let mut items: Vec<Bound<'_, PyAny>> = args.try_iter()?.collect::<PyResult<_>>()?;
            items.push(metric.clone());
            PyTuple::new(py, items)
        })
        .and_then(|args| value.setattr(pyo3::intern!(py, "args"), args));
    err
}
