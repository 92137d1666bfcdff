//! The byte layout of prometheus_client's `.db` files, and reading a file as its
//! collector does (plain reads, no mapping).
//!
//! A file starts with a native-endian `i32` `used` (the bytes in use, header included) and
//! 4 pad bytes. Entries follow, each an `i32` key length, the UTF-8 key padded with spaces
//! so that the length field and the key end on a multiple of 8, then the value and a
//! timestamp as native-endian `f64`s. A new file is [`INITIAL_MMAP_SIZE`] bytes long and
//! doubles whenever an entry does not fit.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::core::multiprocess::error::{Corruption, MmapError};

/// Size of a new file (prometheus_client's `_INITIAL_MMAP_SIZE`).
pub const INITIAL_MMAP_SIZE: u64 = 1 << 16;

/// Size of the header: `used` and 4 pad bytes.
pub const HEADER_LEN: usize = 8;

/// The first read of a file (`mmap.PAGESIZE` in `prometheus_client`): enough for the header
/// and, for small files, everything.
const FIRST_READ: usize = 4096;

/// The key's length once padded: the length field plus the key end on a multiple of 8.
/// A key whose length field and bytes already do gets 8 spaces, as in prometheus_client.
pub fn padded_key_len(keylen: usize) -> usize {
    keylen + (8 - (keylen + 4) % 8)
}

/// The bytes an entry with a key of `keylen` bytes takes.
pub fn entry_len(keylen: usize) -> usize {
    4 + padded_key_len(keylen) + 16
}

/// Appends the entry of `key` with `value` and `timestamp` to `out`; returns the offset of
/// the value within the appended bytes. `key.len()` must fit an `i32`.
pub fn encode_entry(out: &mut Vec<u8>, key: &str, value: f64, timestamp: f64) -> usize {
    let keylen = i32::try_from(key.len()).unwrap_or(i32::MAX);
    let start = out.len();
    out.extend_from_slice(&keylen.to_ne_bytes());
    out.extend_from_slice(key.as_bytes());
    let pad = padded_key_len(key.len()) - key.len();
    out.resize(out.len() + pad, b' ');
    let value_at = out.len() - start;
    out.extend_from_slice(&value.to_ne_bytes());
    out.extend_from_slice(&timestamp.to_ne_bytes());
    value_at
}

/// One entry of a file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry<'a> {
    /// The key (JSON text, see [`crate::core::multiprocess::key`]).
    pub key: &'a str,
    /// The value.
    pub value: f64,
    /// The timestamp in seconds (0.0 unless set by a `mostrecent` gauge).
    pub timestamp: f64,
    /// Offset of the entry (its key length) in the file.
    pub offset: usize,
    /// Offset of the value in the file; the timestamp follows it.
    pub value_offset: usize,
}

/// Reads the header's `used` from the start of a file. `Ok(None)` for a file with nothing
/// written yet (empty, or `used` still 0).
pub fn parse_used(data: &[u8]) -> Result<Option<usize>, Corruption> {
    if data.is_empty() {
        return Ok(None);
    }
    let Some(head) = data.get(..4) else {
        return Err(Corruption::TooShort {
            len: data.len() as u64,
        });
    };
    if data.len() < HEADER_LEN {
        return Err(Corruption::TooShort {
            len: data.len() as u64,
        });
    }
    let used = i32::from_ne_bytes([head[0], head[1], head[2], head[3]]);
    match usize::try_from(used) {
        Ok(0) => Ok(None),
        Ok(u) if u >= HEADER_LEN => Ok(Some(u)),
        _ => Err(Corruption::BadUsed {
            used: i64::from(used),
        }),
    }
}

/// One entry of a file, its key not yet checked to be UTF-8.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawEntry<'a> {
    /// The key's bytes.
    pub key: &'a [u8],
    /// The value.
    pub value: f64,
    /// The timestamp in seconds.
    pub timestamp: f64,
    /// Offset of the entry (its key length) in the file.
    pub offset: usize,
    /// Offset of the value in the file; the timestamp follows it.
    pub value_offset: usize,
}

/// Calls `f` on each entry of `data[..used]`, in file order. Stops at the first entry that
/// breaks the layout, or at the first error `f` returns, and returns that error. `data`
/// must hold `used` bytes.
pub fn for_each_raw_entry<'a>(
    data: &'a [u8],
    used: usize,
    mut f: impl FnMut(RawEntry<'a>) -> Result<(), Corruption>,
) -> Result<(), Corruption> {
    if data.len() < used {
        return Err(Corruption::UsedBeyondFile {
            used: used as u64,
            len: data.len() as u64,
        });
    }
    let mut pos = HEADER_LEN;
    while pos < used {
        let Some(len_bytes) = data.get(pos..pos + 4).filter(|_| pos + 4 <= used) else {
            return Err(Corruption::EntryPastUsed {
                offset: pos as u64,
                used: used as u64,
            });
        };
        let keylen = i32::from_ne_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let key_start = pos + 4;
        let Some(keylen) = usize::try_from(keylen)
            .ok()
            .filter(|&k| key_start + k <= used)
        else {
            return Err(Corruption::KeyLength {
                offset: pos as u64,
                keylen: i64::from(keylen),
            });
        };
        let value_at = key_start + padded_key_len(keylen);
        if value_at + 16 > used {
            return Err(Corruption::EntryPastUsed {
                offset: pos as u64,
                used: used as u64,
            });
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&data[value_at..value_at + 8]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&data[value_at + 8..value_at + 16]);
        f(RawEntry {
            key: &data[key_start..key_start + keylen],
            value: f64::from_ne_bytes(v),
            timestamp: f64::from_ne_bytes(t),
            offset: pos,
            value_offset: value_at,
        })?;
        pos = value_at + 16;
    }
    Ok(())
}

/// Calls `f` on each entry of `data[..used]`, in file order. Stops at the first entry that
/// breaks the layout (a key that is not UTF-8 included) and returns what is wrong with
/// it. `data` must hold `used` bytes.
pub fn for_each_entry<'a>(
    data: &'a [u8],
    used: usize,
    mut f: impl FnMut(Entry<'a>),
) -> Result<(), Corruption> {
    for_each_raw_entry(data, used, |e| {
        let key = std::str::from_utf8(e.key).map_err(|_| Corruption::KeyNotUtf8 {
            offset: e.offset as u64,
        })?;
        f(Entry {
            key,
            value: e.value,
            timestamp: e.timestamp,
            offset: e.offset,
            value_offset: e.value_offset,
        });
        Ok(())
    })
}

/// Reads the used part of a file into `buf` (cleared first) as prometheus_client's
/// collector does: one read of the first 4 KiB, then the rest up to `used`. Returns
/// `used`, or 0 for a file with nothing written yet (including an empty file, which a
/// worker leaves when killed between creating and sizing it).
pub fn read_used(path: &Path, buf: &mut Vec<u8>) -> Result<usize, MmapError> {
    buf.clear();
    let read_err = |source| MmapError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let mut file = file.take(FIRST_READ as u64);
    file.read_to_end(buf).map_err(read_err)?;
    let used = match parse_used(buf) {
        Ok(Some(used)) => used,
        Ok(None) => return Ok(0),
        Err(kind) => {
            return Err(MmapError::Corrupt {
                path: path.to_path_buf(),
                kind,
            })
        }
    };
    if used > buf.len() {
        let mut rest = file.into_inner().take((used - buf.len()) as u64);
        rest.read_to_end(buf).map_err(read_err)?;
        if used > buf.len() {
            return Err(MmapError::Corrupt {
                path: path.to_path_buf(),
                kind: Corruption::UsedBeyondFile {
                    used: used as u64,
                    len: buf.len() as u64,
                },
            });
        }
    }
    Ok(used)
}

/// Every `(key, value, timestamp)` of a file, in file order (prometheus_client's
/// `MmapedDict.read_all_values_from_file`, without the offsets).
pub fn read_all_values_from_file(path: &Path) -> Result<Vec<(String, f64, f64)>, MmapError> {
    Ok(read_all_entries_from_file(path)?
        .into_iter()
        .map(|(k, v, t, _)| (k, v, t))
        .collect())
}

/// Every `(key, value, timestamp, offset of the value)` of a file, in file order (what
/// prometheus_client's `MmapedDict.read_all_values_from_file` yields).
pub fn read_all_entries_from_file(
    path: &Path,
) -> Result<Vec<(String, f64, f64, usize)>, MmapError> {
    let mut buf = Vec::new();
    let used = read_used(path, &mut buf)?;
    let mut out = Vec::new();
    if used == 0 {
        return Ok(out);
    }
    for_each_entry(&buf, used, |e| {
        out.push((e.key.to_string(), e.value, e.timestamp, e.value_offset));
    })
    .map_err(|kind| MmapError::Corrupt {
        path: path.to_path_buf(),
        kind,
    })?;
    Ok(out)
}
