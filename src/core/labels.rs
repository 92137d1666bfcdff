//! Label values of one child, packed in one allocation, and the map from label values
//! to children that keeps creation order and looks up borrowed `&[&str]` without allocating.

#![allow(clippy::pedantic, missing_docs)] // TODO(merge): rust-core fixes these

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::{Equivalent, IndexSet};

/// Label values packed as `len (u32 LE) | bytes` records: one heap block per child.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelValues(Box<[u8]>);

impl LabelValues {
    /// Packs `values`.
    pub fn new<S: AsRef<str>>(values: &[S]) -> LabelValues {
        let size = values.iter().map(|v| 4 + v.as_ref().len()).sum();
        let mut buf = Vec::with_capacity(size);
        for v in values {
            let v = v.as_ref();
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            buf.extend_from_slice(v.as_bytes());
        }
        LabelValues(buf.into_boxed_slice())
    }

    /// The values, in order.
    pub fn iter(&self) -> LabelIter<'_> {
        LabelIter { rest: &self.0 }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn eq_values<S: AsRef<str>>(&self, values: &[S]) -> bool {
        let mut it = self.iter();
        for v in values {
            match it.next() {
                Some(x) if x == v.as_ref() => {}
                _ => return false,
            }
        }
        it.next().is_none()
    }

    /// The values, in order, collected.
    pub fn to_vec(&self) -> Vec<&str> {
        self.iter().collect()
    }
}

/// The values of a [`LabelValues`], in order.
pub struct LabelIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = u32::from_le_bytes(self.rest[..4].try_into().expect("4 bytes")) as usize;
        let (v, rest) = self.rest[4..].split_at(len);
        self.rest = rest;
        // Built from `&str` values only.
        Some(std::str::from_utf8(v).expect("label values are UTF-8"))
    }
}

fn hash_values<'a, H: Hasher>(values: impl Iterator<Item = &'a str>, h: &mut H) {
    for v in values {
        h.write(v.as_bytes());
        h.write_u8(0xff); // never a UTF-8 byte: ("ab","c") and ("a","bc") differ
    }
}

/// Something that carries label values (a child of a metric).
pub trait Labelled {
    /// The label values.
    fn label_values(&self) -> &LabelValues;
}

/// Map key: the child itself, hashed and compared by its label values.
pub struct Key<C>(pub Arc<C>);

impl<C: Labelled> Hash for Key<C> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_values(self.0.label_values().iter(), h);
    }
}

impl<C: Labelled> PartialEq for Key<C> {
    fn eq(&self, other: &Self) -> bool {
        self.0.label_values() == other.0.label_values()
    }
}

impl<C: Labelled> Eq for Key<C> {}

/// Borrowed lookup key.
pub struct Query<'a, S>(pub &'a [S]);

impl<S: AsRef<str>> Hash for Query<'_, S> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        hash_values(self.0.iter().map(|s| s.as_ref()), h);
    }
}

impl<C: Labelled, S: AsRef<str>> Equivalent<Key<C>> for Query<'_, S> {
    fn equivalent(&self, key: &Key<C>) -> bool {
        key.0.label_values().eq_values(self.0)
    }
}

/// The children of a family, in creation order, keyed by their label values.
pub type ChildSet<C> = IndexSet<Key<C>, foldhash::fast::RandomState>;

/// An empty [`ChildSet`].
pub fn new_child_set<C>() -> ChildSet<C> {
    IndexSet::with_hasher(foldhash::fast::RandomState::default())
}
