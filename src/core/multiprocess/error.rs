//! The errors of multiprocess mode: files that cannot be opened, grown or parsed.
//!
//! A local enum with the path and the cause of each failure; the glue maps it into
//! [`crate::core::error::Error`] (a missing or unwritable directory and a full disk become
//! Python exceptions) or turns it into a scrape warning (a corrupt file is skipped).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What is wrong with a `.db` file whose bytes do not follow prometheus_client's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corruption {
    /// The file is shorter than the 8-byte header.
    TooShort {
        /// The file's length in bytes.
        len: u64,
    },
    /// The header's `used` is negative or smaller than the header itself (but not 0, which
    /// marks a file just created), or not a multiple of 8 in a file opened for writing.
    BadUsed {
        /// The header's value.
        used: i64,
    },
    /// The header's `used` points past the end of the file (a truncated file).
    UsedBeyondFile {
        /// The header's value.
        used: u64,
        /// The file's length in bytes.
        len: u64,
    },
    /// An entry's key length is negative or its entry runs past `used`.
    KeyLength {
        /// Offset of the entry in the file.
        offset: u64,
        /// The key length read there.
        keylen: i64,
    },
    /// An entry's value and timestamp run past `used`.
    EntryPastUsed {
        /// Offset of the entry in the file.
        offset: u64,
        /// The header's `used`.
        used: u64,
    },
    /// An entry's key is not UTF-8.
    KeyNotUtf8 {
        /// Offset of the entry in the file.
        offset: u64,
    },
    /// An entry's key is not the JSON list prometheus_client writes.
    BadKey {
        /// Offset of the entry in the file.
        offset: u64,
        /// Why the key was rejected.
        reason: String,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TooShort { len } => {
                write!(f, "file of {len} bytes is shorter than its 8-byte header")
            }
            Corruption::BadUsed { used } => write!(f, "header gives an invalid used size {used}"),
            Corruption::UsedBeyondFile { used, len } => write!(
                f,
                "header says {used} bytes are used but the file has only {len} (truncated)"
            ),
            Corruption::KeyLength { offset, keylen } => write!(
                f,
                "entry at offset {offset} has a key length {keylen} out of range"
            ),
            Corruption::EntryPastUsed { offset, used } => {
                write!(f, "entry at offset {offset} runs past the used size {used}")
            }
            Corruption::KeyNotUtf8 { offset } => {
                write!(f, "entry at offset {offset} has a key that is not UTF-8")
            }
            Corruption::BadKey { offset, reason } => {
                write!(f, "entry at offset {offset} has an invalid key: {reason}")
            }
        }
    }
}

/// An error of multiprocess mode, naming the file (or directory) concerned.
#[derive(Debug)]
pub enum MmapError {
    /// The file could not be opened or created: a missing or unwritable directory, a
    /// permission, a directory where a file was expected.
    Open {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The file could not be grown, typically because the disk is full. The file keeps
    /// its previous size and contents.
    Grow {
        /// The file.
        path: PathBuf,
        /// The size before growing.
        from: u64,
        /// The size asked for.
        to: u64,
        /// The system's error.
        source: io::Error,
    },
    /// Bytes could not be written into the file (an entry being appended, or the header
    /// of a new file), typically because the disk is full. Nothing written is in use:
    /// the file's `used` and its other entries are unchanged.
    Write {
        /// The file.
        path: PathBuf,
        /// Where the write started.
        offset: u64,
        /// How many bytes were to be written.
        len: usize,
        /// The system's error.
        source: io::Error,
    },
    /// The file could not be mapped into memory.
    Map {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The file (or the directory) could not be read.
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The file's bytes do not follow the layout.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        kind: Corruption,
    },
    /// A file could not be removed.
    Remove {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A key too long to be stored (its length must fit the entry's 32-bit length field).
    KeyTooLong {
        /// The file.
        path: PathBuf,
        /// The key's length in bytes.
        len: usize,
    },
}

impl MmapError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            MmapError::Open { path, .. }
            | MmapError::Grow { path, .. }
            | MmapError::Write { path, .. }
            | MmapError::Map { path, .. }
            | MmapError::Read { path, .. }
            | MmapError::Remove { path, .. }
            | MmapError::Corrupt { path, .. }
            | MmapError::KeyTooLong { path, .. } => path,
        }
    }
}

impl fmt::Display for MmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MmapError::Open { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            MmapError::Grow {
                path,
                from,
                to,
                source,
            } => write!(
                f,
                "cannot grow {} from {from} to {to} bytes: {source}",
                path.display()
            ),
            MmapError::Write {
                path,
                offset,
                len,
                source,
            } => write!(
                f,
                "cannot write {len} bytes at offset {offset} of {}: {source}",
                path.display()
            ),
            MmapError::Map { path, source } => {
                write!(f, "cannot map {}: {source}", path.display())
            }
            MmapError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            MmapError::Remove { path, source } => {
                write!(f, "cannot remove {}: {source}", path.display())
            }
            MmapError::Corrupt { path, kind } => {
                write!(f, "corrupt file {}: {kind}", path.display())
            }
            MmapError::KeyTooLong { path, len } => {
                write!(f, "key of {len} bytes is too long for {}", path.display())
            }
        }
    }
}

impl std::error::Error for MmapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MmapError::Open { source, .. }
            | MmapError::Grow { source, .. }
            | MmapError::Write { source, .. }
            | MmapError::Map { source, .. }
            | MmapError::Read { source, .. }
            | MmapError::Remove { source, .. } => Some(source),
            _ => None,
        }
    }
}
