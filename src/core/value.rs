//! One stored number of a metric (a counter's count, a bucket, a sum): in this process's
//! memory, or, in multiprocess mode, in this process's `.db` file (prometheus_client's
//! `MutexValue` and `MultiProcessValue()`).

use std::sync::Arc;

use crate::core::atomic::AtomicF64;
use crate::core::error::Result;
use crate::core::metric::Desc;
use crate::core::multiprocess::key::encode_key;
use crate::core::multiprocess::store::{value_class, MappedCell, Store};

/// A stored number.
pub enum Cell {
    /// In this process's memory.
    Local(AtomicF64),
    /// In this process's file of multiprocess mode.
    Mapped(Arc<MappedCell>),
}

impl Cell {
    /// Adds `amount` (in a file, the entry's timestamp goes back to 0.0).
    #[inline(always)]
    pub fn inc(&self, amount: f64) -> Result<()> {
        match self {
            Cell::Local(v) => {
                v.add(amount);
                Ok(())
            }
            Cell::Mapped(m) => m.inc(amount),
        }
    }

    /// Sets the value; `timestamp` is written to a file only (a `mostrecent` gauge's).
    #[inline(always)]
    pub fn set(&self, value: f64, timestamp: f64) -> Result<()> {
        match self {
            Cell::Local(v) => {
                v.set(value);
                Ok(())
            }
            Cell::Mapped(m) => m.set(value, timestamp),
        }
    }

    /// The value (this process's, in multiprocess mode).
    #[inline]
    pub fn get(&self) -> Result<f64> {
        match self {
            Cell::Local(v) => Ok(v.get()),
            Cell::Mapped(m) => m.get(),
        }
    }

    /// Whether the value lives in a file (multiprocess mode keeps no exemplars).
    #[inline]
    pub fn is_mapped(&self) -> bool {
        matches!(self, Cell::Mapped(_))
    }
}

/// What the values of a new child are created from: the value class current when the
/// child is created, and the child's family and label values (its file keys).
pub struct NewValues<'a> {
    store: Option<Arc<Store>>,
    desc: &'a Desc,
    labelvalues: &'a [&'a str],
}

impl<'a> NewValues<'a> {
    /// The values of the child of `desc` labelled `labelvalues`, in the current value class.
    pub fn new(desc: &'a Desc, labelvalues: &'a [&'a str]) -> NewValues<'a> {
        NewValues {
            store: value_class(),
            desc,
            labelvalues,
        }
    }

    /// In-process values only (the value class is not looked up).
    pub fn local(desc: &'a Desc, labelvalues: &'a [&'a str]) -> NewValues<'a> {
        NewValues {
            store: None,
            desc,
            labelvalues,
        }
    }

    /// Whether the values go to files.
    pub fn is_mapped(&self) -> bool {
        self.store.is_some()
    }

    /// The value of the sample `<name><suffix>` of a metric of type `typ` (a gauge's
    /// multiprocess `mode`), with the extra label `extra` (a bucket's `le`) after the
    /// child's: prometheus_client's `ValueClass(typ, name, name + suffix, labelnames,
    /// labelvalues, help, multiprocess_mode=mode)`.
    pub fn cell(
        &self,
        typ: &str,
        mode: &str,
        suffix: &str,
        extra: Option<(&str, &str)>,
    ) -> Result<Cell> {
        let Some(store) = &self.store else {
            return Ok(Cell::Local(AtomicF64::new(0.0)));
        };
        let name = &self.desc.name;
        let mut labels: Vec<(&str, &str)> = self
            .desc
            .labelnames
            .iter()
            .map(String::as_str)
            .zip(self.labelvalues.iter().copied())
            .collect();
        labels.extend(extra);
        let key = encode_key(name, &format!("{name}{suffix}"), &labels, &self.desc.help);
        Ok(Cell::Mapped(store.cell(typ, mode, key)?))
    }
}
