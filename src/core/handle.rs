//! A metric as its user holds it: a family and, for an unlabelled metric or a child
//! returned by `labels(...)`, the series it updates. The rules prometheus_client applies
//! to label values (which calls need them, how many, chaining, removal) live here.

use std::sync::Arc;

use crate::core::error::{Error, Result};
use crate::core::metric::{Child, Family, Kind};
use crate::core::repr::py_tuple_repr;

/// A family and, unless it is a labelled metric's parent, the child it updates.
pub struct Handle<K: Kind> {
    /// The family (shared by all handles on it).
    pub fam: Arc<Family<K>>,
    /// The child updated by `inc`/`observe`/…; `None` for a labelled parent.
    pub child: Option<Arc<Child<K>>>,
}

impl<K: Kind> Clone for Handle<K> {
    fn clone(&self) -> Self {
        Handle {
            fam: self.fam.clone(),
            child: self.child.clone(),
        }
    }
}

impl<K: Kind> Handle<K> {
    /// The handle of a new metric: its only child if it has no label names, else the parent.
    pub fn new(fam: Arc<Family<K>>) -> Handle<K> {
        Handle {
            child: fam.solo().cloned(),
            fam,
        }
    }

    /// `type:name`, as prometheus_client's `str()` of a metric.
    pub fn describe(&self) -> String {
        format!("{}:{}", K::TYPE, self.fam.desc.name)
    }

    /// The child to update ([`Error::MissingLabelValues`] on a labelled parent).
    #[inline(always)]
    pub fn observable(&self) -> Result<&Arc<Child<K>>> {
        match &self.child {
            Some(c) => Ok(c),
            None => Err(Error::MissingLabelValues { kind: K::TYPE }),
        }
    }

    /// Whether this is a child returned by `labels(...)`.
    pub fn is_child(&self) -> bool {
        self.child.is_some() && !self.fam.desc.labelnames.is_empty()
    }

    /// A child's label values, in label-name order; none for other handles.
    pub fn label_values(&self) -> Vec<&str> {
        match &self.child {
            Some(c) if self.is_child() => c.label_values().to_vec(),
            _ => Vec::new(),
        }
    }

    /// A child's labels as (name, value) pairs, in label-name order.
    pub fn labels_set(&self) -> Vec<(String, String)> {
        self.fam
            .desc
            .labelnames
            .iter()
            .zip(self.label_values())
            .map(|(k, v)| (k.clone(), v.to_owned()))
            .collect()
    }

    /// [`Error::NoLabelNames`] unless the metric has label names.
    pub fn require_labels(&self) -> Result<()> {
        if self.fam.desc.labelnames.is_empty() {
            return Err(Error::NoLabelNames {
                kind: K::TYPE,
                name: self.fam.desc.name.clone(),
            });
        }
        Ok(())
    }

    /// Checks that `labels(...)` may be called: the metric has label names and this is
    /// not already a child ([`Error::AlreadyLabelled`]).
    pub fn check_labels(&self) -> Result<()> {
        self.require_labels()?;
        if self.is_child() {
            return Err(Error::AlreadyLabelled {
                kind: K::TYPE,
                name: self.fam.desc.name.clone(),
                labels: self.labels_set(),
            });
        }
        Ok(())
    }

    /// `labels(*values)`: the child for `values` (one per label name), created with
    /// creation time `now()` if missing; `now`'s error type is the caller's.
    pub fn labels<S: AsRef<str>, E: From<Error>>(
        &self,
        values: &[S],
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Handle<K>, E> {
        self.check_labels()?;
        self.child_for(values, now)
    }

    /// The child for `values` without the checks of [`Handle::labels`] (a metric
    /// constructed with its label values, prometheus_client's `_labelvalues`).
    pub fn child_for<S: AsRef<str>, E: From<Error>>(
        &self,
        values: &[S],
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Handle<K>, E> {
        let child = self.fam.child(values, now)?;
        Ok(Handle {
            fam: self.fam.clone(),
            child: Some(child),
        })
    }

    /// `labels(**values)`: `lookup` gives the value of a label name, `count` is the number
    /// of names given; they must be exactly the label names.
    pub fn labels_by_name<V: AsRef<str>, E: From<Error>>(
        &self,
        count: usize,
        lookup: impl FnMut(&str) -> Result<Option<V>, E>,
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Handle<K>, E> {
        self.check_labels()?;
        let values = self.fam.desc.values_by_name(count, lookup)?;
        self.child_for(&values, now)
    }

    /// Checks a `remove(*values)` call with `got` values, shown as `shown()` writes them.
    pub fn check_remove<E: From<Error>>(
        &self,
        got: usize,
        shown: impl FnOnce() -> Result<String, E>,
    ) -> Result<(), E> {
        self.require_labels()?;
        let expected = self.fam.desc.labelnames.len();
        if got != expected {
            return Err(Error::RemoveLabelCount {
                expected,
                got: shown()?,
            }
            .into());
        }
        Ok(())
    }

    /// `remove(*values)`: removes the child for `values`, if there is one.
    pub fn remove<S: AsRef<str>>(&self, values: &[S]) -> Result<()> {
        self.check_remove(values.len(), || Ok::<_, Error>(py_tuple_repr(values)))?;
        self.fam.remove(values);
        Ok(())
    }

    /// `remove_by_labels(labels)`: removes every child whose labels include all of
    /// `labels`; nothing for no labels. Unknown label names are an error.
    pub fn remove_by_labels<N: AsRef<str>, V: AsRef<str>>(&self, labels: &[(N, V)]) -> Result<()> {
        self.require_labels()?;
        if labels.is_empty() {
            return Ok(());
        }
        let filter = self.fam.desc.positions(labels)?;
        self.fam.remove_matching(&filter);
        Ok(())
    }

    /// `clear()`: removes every child of a labelled metric; nothing for an unlabelled one.
    pub fn clear(&self) {
        if !self.fam.desc.labelnames.is_empty() {
            self.fam.clear();
        }
    }
}
