//! Multiprocess mode, file-compatible with prometheus_client 0.26: each process writes its
//! values into memory-mapped `.db` files of a shared directory, and a scrape merges them.
//!
//! * [`layout`]: the bytes of a `.db` file, and reading one;
//! * [`key`]: the JSON key of an entry, written and read as Python's `json` does;
//! * [`mmap_dict`]: the writer, updating values in place from any thread;
//! * [`files`]: file names, listing a directory, `mark_process_dead`;
//! * [`merge`]: the collector's merge of a directory into families;
//! * [`collector`]: the collector of a directory, and where its warnings go;
//! * [`store`]: the value classes, whose values live in this process's files;
//! * [`env`]: the environment variable that turns the mode on, and its warnings;
//! * [`error`]: what can go wrong, naming the file.

pub mod collector;
pub mod env;
pub mod error;
pub mod files;
pub mod key;
pub mod layout;
pub mod merge;
pub mod mmap_dict;
pub mod store;

pub use collector::{capture, DirCollector};
pub use error::{Corruption, MmapError};
pub use files::{file_name, list_db_files, mark_process_dead, parse_file_name};
pub use key::{decode_key, encode_key, Key};
pub use layout::{read_all_entries_from_file, read_all_values_from_file, INITIAL_MMAP_SIZE};
pub use merge::{collect, merge, Merged, Warning, WarningKind};
pub use mmap_dict::{MmapDict, Slot};
