//! Mapped file memory as Rust references, for the multiprocess core
//! (`crate::core::multiprocess`). Always compiled: no Python here.
//!
//! A [`SharedMap`] maps a whole file read-write and shared (`MAP_SHARED`, through memmap2's
//! safe `MmapRaw`) and lends it out as a slice of `AtomicU64` words: every access to the
//! mapped bytes from Rust is an atomic load or store, so threads of this process and other
//! processes writing the same file never make a data race in Rust's sense.

use std::fs::File;
use std::io;
use std::sync::atomic::AtomicU64;

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
