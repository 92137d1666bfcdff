//! Mapped file memory as Rust references, for the multiprocess core
//! (`crate::core::multiprocess`). Always compiled: no Python here.
//!
//! A [`SharedMap`] maps a whole file read-write and shared (`MAP_SHARED`, through memmap2's
//! safe `MmapRaw`) and lends it out as a slice of `AtomicU64` words: every access to the
//! mapped bytes from Rust is an atomic load or store, so threads of this process and other
//! processes writing the same file never make a data race in Rust's sense.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use memmap2::{MmapOptions, MmapRaw};

/// A file mapped read-write and shared, seen as 8-byte atomic words.
pub struct SharedMap {
    raw: MmapRaw,
    words: usize,
}

impl SharedMap {
    /// Maps the first `len` bytes of `file`, which must be opened for reading and writing
    /// and be at least `len` bytes long. The words cover `len / 8` words; a tail of fewer
    /// than 8 bytes is not reachable.
    pub fn map(file: &File, len: usize) -> io::Result<SharedMap> {
        let raw = MmapOptions::new().len(len).map_raw(file)?;
        Ok(SharedMap {
            words: raw.len() / 8,
            raw,
        })
    }

    /// The mapping as 8-byte words, in the file's order.
    pub fn words(&self) -> &[AtomicU64] {
        if self.words == 0 {
            return &[];
        }
        // A mapping starts on a page boundary, so the cast is aligned (see below).
        #[allow(clippy::cast_ptr_alignment)]
        let first = self.raw.as_ptr().cast::<AtomicU64>();
        // SAFETY: `raw` maps `self.words * 8` bytes or more, readable and writable, for as long as
        // `self` lives (the returned slice borrows `self`). `first`, the start of the mapping, is
        // page-aligned, so aligned for `AtomicU64`. `AtomicU64` has the size and layout of `u64`
        // and may be created over any initialised bytes; mapped file bytes are always initialised
        // (zero past the file's data). The memory is shared with other mappings of the file (in
        // this process after a growth, and in other processes): all Rust accesses go through the
        // atomics, which is what memory changed behind the compiler's back requires. A file
        // truncated by someone else below the mapped length makes an access raise SIGBUS, as it
        // does for prometheus_client; this crate never shrinks the files it maps.
        unsafe { std::slice::from_raw_parts(first, self.words) }
    }
}

/// The value and timestamp words of one `.db` entry, which can be moved to the same entry of
/// another mapping (another process's file) while other threads read and update them.
///
/// Readers load one pointer (no lock); [`MovableWords::point`] stores a new one. Every
/// mapping the pointer ever pointed into is kept alive by `self`, so a thread that loaded
/// the previous pointer just before a move still writes into mapped memory (the previous
/// file, as if its update had happened before the move).
pub struct MovableWords {
    /// The entry's value word, inside one of `maps`; the timestamp is the next word.
    value: AtomicPtr<AtomicU64>,
    /// Every mapping `value` has pointed into; never shrinks while `self` lives.
    maps: Mutex<Vec<Arc<SharedMap>>>,
}

/// The address of `map`'s word `word`, checking that it and the next word are mapped.
fn word_ptr(map: &SharedMap, word: usize) -> *mut AtomicU64 {
    let words = map.words();
    assert!(word + 1 < words.len(), "entry outside its mapping");
    std::ptr::from_ref(&words[word]).cast_mut()
}

impl MovableWords {
    /// The words `word` and `word + 1` of `map` (panics if they are not mapped).
    pub fn new(map: Arc<SharedMap>, word: usize) -> MovableWords {
        MovableWords {
            value: AtomicPtr::new(word_ptr(&map, word)),
            maps: Mutex::new(vec![map]),
        }
    }

    /// Moves to the words `word` and `word + 1` of `map` (panics if they are not mapped).
    pub fn point(&self, map: Arc<SharedMap>, word: usize) {
        let ptr = word_ptr(&map, word);
        let mut maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        if !maps.iter().any(|m| Arc::ptr_eq(m, &map)) {
            maps.push(map);
        }
        // After the push: the mapping is held before any reader can see the pointer.
        self.value.store(ptr, Ordering::Release);
    }

    /// The value word and the timestamp word.
    #[inline]
    pub fn pair(&self) -> (&AtomicU64, &AtomicU64) {
        let ptr = self.value.load(Ordering::Acquire);
        // SAFETY: `ptr` was made by `word_ptr` from a mapping that `self.maps` holds (pushed
        // before the pointer was stored, with release/acquire ordering between the two) and
        // never drops while `self` lives; a mapping's memory stays at its address until it is
        // dropped. `word_ptr` checked that `ptr` and the word after it lie inside the mapping,
        // and they are aligned `AtomicU64`s there (see `SharedMap::words`). The references
        // borrow `self`, so they cannot outlive the mapping.
        unsafe { (&*ptr, &*ptr.add(1)) }
    }
}
