//! Label values of one child, packed in one allocation, and the map from label values
//! to children that keeps creation order and looks up borrowed `&[&str]` without allocating.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::{Equivalent, IndexSet};

/// Label values packed in one string, one heap block per child: each value preceded by
/// its length in base-64 digits, most significant first, every digit but the last marked
/// with 0x40 (`"GET"` is `"\x03GET"`). The digits are ASCII, so the packed values stay a
/// `str` and reading them back needs no UTF-8 check; most values take a one-byte header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelValues(Box<str>);

/// Bytes of the header of a value of `len` bytes.
fn header_len(len: usize) -> usize {
    let mut n = 1;
    while len >> (6 * n) != 0 {
        n += 1;
    }
    n
}

impl LabelValues {
    /// Packs `values`.
    pub fn new<S: AsRef<str>>(values: &[S]) -> LabelValues {
        let size = values
            .iter()
            .map(|v| header_len(v.as_ref().len()) + v.as_ref().len())
            .sum();
        let mut buf = String::with_capacity(size);
        for v in values {
            let v = v.as_ref();
            for digit in (0..header_len(v.len())).rev() {
                // Masked to 6 bits: the cast keeps every bit.
                #[allow(clippy::cast_possible_truncation)]
                let bits = ((v.len() >> (6 * digit)) & 0x3f) as u8;
                buf.push(char::from(if digit > 0 { 0x40 | bits } else { bits }));
            }
            buf.push_str(v);
        }
        LabelValues(buf.into_boxed_str())
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

impl<'a> IntoIterator for &'a LabelValues {
    type Item = &'a str;
    type IntoIter = LabelIter<'a>;
    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// The values of a [`LabelValues`], in order.
pub struct LabelIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.rest.as_bytes();
        let mut len = 0usize;
        let mut i = 0;
        loop {
            let digit = *bytes.get(i)?;
            i += 1;
            len = (len << 6) | usize::from(digit & 0x3f);
            if digit & 0x40 == 0 {
                break;
            }
        }
        // Header and value boundaries are character boundaries: slicing cannot fail.
        let (v, rest) = self.rest[i..].split_at(len);
        self.rest = rest;
        Some(v)
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
        hash_values(self.0.iter().map(AsRef::as_ref), h);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_whatever_their_length_and_content() {
        let long = "é".repeat(3000); // 6000 bytes: a three-digit header
        let cases: Vec<Vec<&str>> = vec![
            vec![],
            vec![""],
            vec!["", ""],
            vec!["GET", "/api/1", "200"],
            vec!["\0", "\u{40}", "x\ny", &long],
            vec![&long[..126], &long[..128], &long[..4096]],
        ];
        for values in &cases {
            let packed = LabelValues::new(values);
            assert_eq!(packed.to_vec(), *values);
            assert!(packed.eq_values(values));
            assert_eq!(packed.is_empty(), values.is_empty());
        }
        assert_eq!(LabelValues::new(&["GET"]).0.as_ref(), "\x03GET");
        assert_eq!(header_len(63), 1);
        assert_eq!(header_len(64), 2);
        assert_eq!(header_len(4096), 3);
        // ("ab", "c") and ("a", "bc") differ.
        assert_ne!(
            LabelValues::new(&["ab", "c"]),
            LabelValues::new(&["a", "bc"])
        );
        assert!(!LabelValues::new(&["ab", "c"]).eq_values(&["a", "bc"]));
    }
}
