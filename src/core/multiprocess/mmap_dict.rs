//! The writer: a `.db` file mapped into memory, whose values are updated in place.
//!
//! Thread safety: every value lives in the mapped file and is only touched through atomic
//! 8-byte loads and stores ([`Slot`]); an increment is a compare-and-swap loop on the
//! value's word, so threads of one process never lose an update and need no lock to write.
//! A mutex guards only what changes the layout: appending an entry (key, then `used`) and
//! growing the file. Growing maps the larger file anew instead of remapping in place: the
//! old mapping stays valid (each [`Slot`] holds its mapping alive through an `Arc`) and,
//! being a shared mapping of the same file, sees the same bytes, so a slot handed out
//! before a growth keeps working without any lock. The price is address space only (the
//! mappings of one file sum to less than twice its size).
//!
//! Sizes and contents are those prometheus_client writes: the file starts at
//! [`INITIAL_MMAP_SIZE`] bytes and doubles (`ftruncate`, so sparse, as there) whenever an
//! entry does not fit. A new entry (and a new file's header) is written with `pwrite`
//! rather than through the mapping: the write allocates the entry's disk blocks, so a full
//! disk is an error here ([`MmapError::Write`]) instead of a SIGBUS at the first store into
//! a page that cannot be allocated; later stores go to blocks that exist.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::core::multiprocess::error::{Corruption, MmapError};
use crate::core::multiprocess::layout::{
    encode_entry, entry_len, for_each_entry, HEADER_LEN, INITIAL_MMAP_SIZE,
};
use crate::ffi::mmap::SharedMap;

/// The value and timestamp of one entry, written in place in the mapped file.
#[derive(Clone)]
pub struct Slot {
    map: Arc<SharedMap>,
    /// Index of the value's word; the timestamp is the next one.
    word: usize,
}

impl Slot {
    fn words(&self) -> Words<'_> {
        let words = self.map.words();
        Words(&words[self.word], &words[self.word + 1])
    }

    /// The mapping the entry lives in and the index of its value word (the timestamp is
    /// the next word), for [`crate::ffi::mmap::MovableWords`].
    pub fn location(&self) -> (Arc<SharedMap>, usize) {
        (self.map.clone(), self.word)
    }

    /// The value and the timestamp.
    pub fn get(&self) -> (f64, f64) {
        self.words().get()
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.words().value()
    }

    /// Stores a value and a timestamp (prometheus_client's `set`).
    pub fn set(&self, value: f64, timestamp: f64) {
        self.words().set(value, timestamp);
    }

    /// Adds `amount` atomically and resets the timestamp to 0.0 (prometheus_client's
    /// `inc`); returns the new value.
    pub fn inc(&self, amount: f64) -> f64 {
        self.words().inc(amount)
    }
}

/// The value and timestamp words of an entry, and what prometheus_client does with them.
#[derive(Clone, Copy)]
pub struct Words<'a>(pub &'a AtomicU64, pub &'a AtomicU64);

impl Words<'_> {
    /// The value and the timestamp.
    #[inline]
    pub fn get(self) -> (f64, f64) {
        (
            f64::from_bits(self.0.load(Ordering::Relaxed)),
            f64::from_bits(self.1.load(Ordering::Relaxed)),
        )
    }

    /// The value.
    #[inline]
    pub fn value(self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Stores a value and a timestamp.
    #[inline]
    pub fn set(self, value: f64, timestamp: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
        self.1.store(timestamp.to_bits(), Ordering::Relaxed);
    }

    /// Adds `amount` (a compare-and-swap loop: no update is lost) and resets the timestamp
    /// to 0.0; returns the new value.
    #[inline]
    pub fn inc(self, amount: f64) -> f64 {
        let mut old = self.0.load(Ordering::Relaxed);
        let new = loop {
            let new = (f64::from_bits(old) + amount).to_bits();
            match self
                .0
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break new,
                Err(current) => old = current,
            }
        };
        if self.1.load(Ordering::Relaxed) != 0 {
            self.1.store(0, Ordering::Relaxed);
        }
        f64::from_bits(new)
    }
}

struct Inner {
    file: File,
    /// The mapping of the whole file as it is now.
    map: Arc<SharedMap>,
    /// The file's length.
    capacity: u64,
    /// Bytes in use, header included (a multiple of 8).
    used: usize,
    positions: HashMap<String, Slot>,
    scratch: Vec<u8>,
}

/// A `.db` file opened for writing (prometheus_client's `MmapedDict`), safe to share
/// between threads.
pub struct MmapDict {
    path: PathBuf,
    inner: Mutex<Inner>,
}

/// Writes `bytes` at `offset` of the file.
fn write_at(path: &Path, file: &File, bytes: &[u8], offset: u64) -> Result<(), MmapError> {
    file.write_all_at(bytes, offset)
        .map_err(|source| MmapError::Write {
            path: path.to_path_buf(),
            offset,
            len: bytes.len(),
            source,
        })
}

/// The header of a file with `used` bytes in use.
fn header_bytes(used: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&used_field(used));
    h
}

/// The 4 bytes of the header's `used` field. [`MmapDict::slot`] never lets `used` pass
/// `i32::MAX` (the field's range in prometheus_client).
fn used_field(used: usize) -> [u8; 4] {
    i32::try_from(used)
        .expect("`used` is kept within i32")
        .to_ne_bytes()
}

fn load_bytes(words: &[AtomicU64], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    for w in &words[..len.div_ceil(8)] {
        out.extend_from_slice(&w.load(Ordering::Acquire).to_ne_bytes());
    }
    out.truncate(len);
    out
}

impl MmapDict {
    /// Opens or creates the file. A new (or empty) file is sized to
    /// [`INITIAL_MMAP_SIZE`] bytes; an existing one is read so that its entries are
    /// updated in place.
    pub fn open(path: impl AsRef<Path>) -> Result<MmapDict, MmapError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| MmapError::Open {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(open_err)?;
        let mut capacity = file.metadata().map_err(open_err)?.len();
        if capacity == 0 {
            // The header first (it allocates the first block), then the size.
            write_at(&path, &file, &header_bytes(HEADER_LEN), 0)?;
            file.set_len(INITIAL_MMAP_SIZE)
                .map_err(|source| MmapError::Grow {
                    path: path.clone(),
                    from: 0,
                    to: INITIAL_MMAP_SIZE,
                    source,
                })?;
            capacity = INITIAL_MMAP_SIZE;
        }
        let corrupt = |kind| MmapError::Corrupt {
            path: path.clone(),
            kind,
        };
        if capacity < HEADER_LEN as u64 {
            return Err(corrupt(Corruption::TooShort { len: capacity }));
        }
        let len = usize::try_from(capacity).map_err(|_| {
            corrupt(Corruption::UsedBeyondFile {
                used: capacity,
                len: capacity,
            })
        })?;
        let map = Arc::new(SharedMap::map(&file, len).map_err(|source| MmapError::Map {
            path: path.clone(),
            source,
        })?);
        let header = map.words()[0].load(Ordering::Acquire).to_ne_bytes();
        let used = i32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
        let mut positions = HashMap::new();
        let used = if used == 0 {
            // A file created by prometheus_client and not written yet: its first block may
            // not exist, so this write goes through the file too.
            write_at(&path, &file, &used_field(HEADER_LEN), 0)?;
            HEADER_LEN
        } else {
            let used = match usize::try_from(used) {
                Ok(u) if u >= HEADER_LEN && u % 8 == 0 => u,
                _ => {
                    return Err(corrupt(Corruption::BadUsed {
                        used: i64::from(used),
                    }))
                }
            };
            if used > len {
                return Err(corrupt(Corruption::UsedBeyondFile {
                    used: used as u64,
                    len: capacity,
                }));
            }
            let bytes = load_bytes(map.words(), used);
            for_each_entry(&bytes, used, |e| {
                let slot = Slot {
                    map: map.clone(),
                    word: e.value_offset / 8,
                };
                positions.insert(e.key.to_string(), slot);
            })
            .map_err(corrupt)?;
            used
        };
        Ok(MmapDict {
            path,
            inner: Mutex::new(Inner {
                file,
                map,
                capacity,
                used,
                positions,
                scratch: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn capacity(&self) -> u64 {
        self.lock().capacity
    }

    /// Bytes in use, header included.
    pub fn used(&self) -> usize {
        self.lock().used
    }

    /// The slot of `key`, appending an entry with value and timestamp 0.0 (and growing the
    /// file if needed) when the key is new.
    pub fn slot(&self, key: &str) -> Result<Slot, MmapError> {
        let mut inner = self.lock();
        if let Some(slot) = inner.positions.get(key) {
            return Ok(slot.clone());
        }
        let inner = &mut *inner;
        let len = entry_len(key.len());
        let new_used = inner.used + len;
        if i32::try_from(key.len()).is_err() || i32::try_from(new_used).is_err() {
            return Err(MmapError::KeyTooLong {
                path: self.path.clone(),
                len: key.len(),
            });
        }
        if new_used as u64 > inner.capacity {
            let mut to = inner.capacity;
            while new_used as u64 > to {
                to *= 2;
            }
            self.grow(inner, to)?;
        }
        inner.scratch.clear();
        let value_at = encode_entry(&mut inner.scratch, key, 0.0, 0.0);
        // Through the file, not the mapping: a full disk is an error, not a SIGBUS. The
        // range is past `used`, so no slot and no reader looks at it yet.
        write_at(&self.path, &inner.file, &inner.scratch, inner.used as u64)?;
        store_used(&inner.map, new_used);
        let slot = Slot {
            map: inner.map.clone(),
            word: (inner.used + value_at) / 8,
        };
        inner.used = new_used;
        inner.positions.insert(key.to_string(), slot.clone());
        Ok(slot)
    }

    fn grow(&self, inner: &mut Inner, to: u64) -> Result<(), MmapError> {
        let from = inner.capacity;
        let grow_err = |source| MmapError::Grow {
            path: self.path.clone(),
            from,
            to,
            source,
        };
        let len =
            usize::try_from(to).map_err(|_| grow_err(io::Error::other("file too large to map")))?;
        inner.file.set_len(to).map_err(grow_err)?;
        let map = SharedMap::map(&inner.file, len).map_err(|source| MmapError::Map {
            path: self.path.clone(),
            source,
        })?;
        inner.map = Arc::new(map);
        inner.capacity = to;
        Ok(())
    }

    /// The value and timestamp of `key` (adding the key if new, as prometheus_client).
    pub fn read_value(&self, key: &str) -> Result<(f64, f64), MmapError> {
        Ok(self.slot(key)?.get())
    }

    /// Stores the value and timestamp of `key` (adding the key if new).
    pub fn write_value(&self, key: &str, value: f64, timestamp: f64) -> Result<(), MmapError> {
        self.slot(key)?.set(value, timestamp);
        Ok(())
    }

    /// Every `(key, value, timestamp)`, in file order. The bytes were checked when the
    /// file was opened, but another mapping of the file may have changed them since:
    /// [`MmapError::Corrupt`] if they no longer parse.
    pub fn read_all_values(&self) -> Result<Vec<(String, f64, f64)>, MmapError> {
        let inner = self.lock();
        let bytes = load_bytes(inner.map.words(), inner.used);
        let mut out = Vec::with_capacity(inner.positions.len());
        for_each_entry(&bytes, inner.used, |e| {
            out.push((e.key.to_string(), e.value, e.timestamp));
        })
        .map_err(|kind| MmapError::Corrupt {
            path: self.path.clone(),
            kind,
        })?;
        Ok(out)
    }
}

/// Writes `used` into the header's first 4 bytes, keeping the 4 pad bytes.
fn store_used(map: &SharedMap, used: usize) {
    let header = &map.words()[0];
    let mut bytes = header.load(Ordering::Relaxed).to_ne_bytes();
    bytes[..4].copy_from_slice(&used_field(used));
    header.store(u64::from_ne_bytes(bytes), Ordering::Release);
}
