//! The writing side of multiprocess mode: prometheus_client's `MultiProcessValue()`.
//!
//! A [`Store`] is one value class: the process identifier it names its files with, the
//! files it has open (one per file prefix: the type, and a gauge's mode) and every value it
//! created, in creation order. A [`MappedCell`] is one value: its file and key, and the
//! entry's words in the mapped file, updated in place with atomics (no lock).
//!
//! When the process identifier changes (a fork, or a custom identifier returning something
//! new), the store closes its files and moves every value it created, in creation order,
//! to the same key of the new identifier's files, as prometheus_client does: the new files
//! hold every key at once, each with the value the file already had (0.0 for a new one).
//!
//! Detecting the change costs, with the default identifier (the pid), one relaxed atomic
//! load per update: the C library's fork handler bumps a process-wide fork generation in
//! the child of each fork ([`note_fork`]), and only then is the pid asked for. A custom identifier is a
//! closure the store calls on every update, as prometheus_client calls it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use crate::core::error::Result;
use crate::core::multiprocess::env;
use crate::core::multiprocess::files::file_name;
use crate::core::multiprocess::mmap_dict::{MmapDict, Slot, Words};
use crate::ffi::mmap::MovableWords;

/// The count of forks this process went through as a child (see [`note_fork`]).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Tells the stores that this process is the child of a fork: their next use asks for the
/// pid again. Run in the child of every fork once a store exists (see [`Store::new`]); a
/// single atomic operation, as a handler run at that moment must be.
pub fn note_fork() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

extern "C" fn forked() {
    note_fork();
}

/// A custom process identifier (prometheus_client's `process_identifier` callable, its
/// result as `str()` writes it).
pub type ProcessIdentifier = dyn Fn() -> Result<String> + Send + Sync;

/// Run before a value is created while only the deprecated directory variable is set: the
/// glue copies it to `PROMETHEUS_MULTIPROC_DIR` in the embedder's environment and warns.
pub type DeprecatedDirHook = dyn Fn() -> Result<()> + Send + Sync;

struct State {
    /// The directory of the files (`None`: the one the environment names when a file is
    /// opened, as prometheus_client reads it).
    directory: Option<PathBuf>,
    /// The process identifier the open files are named with.
    pid: String,
    /// The open files, by file name.
    files: HashMap<String, MmapDict>,
    /// Every value created (since the last close), in creation order.
    cells: Vec<Arc<MappedCell>>,
}

impl State {
    /// The slot of `key` in this identifier's file for `typ` and `mode`, opening the file
    /// (in the directory the environment names now) if needed.
    fn slot(&mut self, typ: &str, mode: &str, key: &str) -> Result<Slot> {
        let name = file_name(typ, mode, &self.pid);
        if let Some(d) = self.files.get(&name) {
            return Ok(d.slot(key)?);
        }
        let directory = match &self.directory {
            Some(d) => d.clone(),
            None => env::directory()?,
        };
        let d = MmapDict::open(directory.join(&name))?;
        let slot = d.slot(key)?;
        self.files.insert(name, d);
        Ok(slot)
    }
}

/// One value class of multiprocess mode (see the module's documentation).
pub struct Store {
    identifier: Option<Box<ProcessIdentifier>>,
    deprecated_dir: Option<Box<DeprecatedDirHook>>,
    /// The fork generation the pid was last read in (default identifier only).
    seen_fork: AtomicU64,
    state: Mutex<State>,
}

/// Every store alive, for [`close_all`].
static STORES: Mutex<Vec<Weak<Store>>> = Mutex::new(Vec::new());

/// The value class metrics use for the values they create: `None` for in-process values.
static CURRENT: RwLock<Option<Arc<Store>>> = RwLock::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; a poisoned one still holds valid data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes `store` the value class of the values created from now on (`None`: in-process
/// values, prometheus_client's `MutexValue`).
pub fn set_value_class(store: Option<Arc<Store>>) {
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = store;
}

/// The value class of new values.
pub fn value_class() -> Option<Arc<Store>> {
    CURRENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Closes the files of every store and forgets their values
/// (`close_all_multiprocess_files`). Values created before keep their mapping.
pub fn close_all() {
    let stores: Vec<Arc<Store>> = {
        let mut all = lock(&STORES);
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    for s in stores {
        s.close();
    }
}

impl Store {
    /// A value class naming its files with `identifier()`, or with the pid if `None`.
    /// The identifier is called once now, as prometheus_client does.
    pub fn new(
        identifier: Option<Box<ProcessIdentifier>>,
        deprecated_dir: Option<Box<DeprecatedDirHook>>,
    ) -> Result<Arc<Store>> {
        Self::build(None, identifier, deprecated_dir)
    }

    /// A value class writing its files in `directory` rather than the one the environment
    /// names (for embedders without the environment variable).
    pub fn in_directory(
        directory: PathBuf,
        identifier: Option<Box<ProcessIdentifier>>,
    ) -> Result<Arc<Store>> {
        Self::build(Some(directory), identifier, None)
    }

    fn build(
        directory: Option<PathBuf>,
        identifier: Option<Box<ProcessIdentifier>>,
        deprecated_dir: Option<Box<DeprecatedDirHook>>,
    ) -> Result<Arc<Store>> {
        // Every fork from now on, made by Python or by C code, bumps the generation.
        #[cfg(unix)]
        crate::ffi::fork::in_child_after_fork(forked);
        let seen_fork = FORK_GENERATION.load(Ordering::Relaxed);
        let pid = match &identifier {
            Some(f) => f()?,
            None => std::process::id().to_string(),
        };
        let store = Arc::new(Store {
            identifier,
            deprecated_dir,
            seen_fork: AtomicU64::new(seen_fork),
            state: Mutex::new(State {
                directory,
                pid,
                files: HashMap::new(),
                cells: Vec::new(),
            }),
        });
        lock(&STORES).push(Arc::downgrade(&store));
        Ok(store)
    }

    /// The process identifier the files are named with now.
    pub fn pid(&self) -> String {
        lock(&self.state).pid.clone()
    }

    /// The number of files open.
    pub fn open_files(&self) -> usize {
        lock(&self.state).files.len()
    }

    /// Follows a change of process identifier, if there was one.
    #[inline(always)]
    fn check(&self) -> Result<()> {
        match &self.identifier {
            None => {
                if FORK_GENERATION.load(Ordering::Relaxed) != self.seen_fork.load(Ordering::Relaxed)
                {
                    return self.after_fork();
                }
                Ok(())
            }
            Some(f) => {
                // Called without the lock: it is the embedder's code.
                let id = f()?;
                let mut st = lock(&self.state);
                if st.pid != id {
                    Self::switch(&mut st, id)?;
                }
                Ok(())
            }
        }
    }

    #[cold]
    fn after_fork(&self) -> Result<()> {
        let mut st = lock(&self.state);
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        let pid = std::process::id().to_string();
        if st.pid != pid {
            Self::switch(&mut st, pid)?;
        }
        self.seen_fork.store(generation, Ordering::Relaxed);
        Ok(())
    }

    /// Moves to the files of `pid`: every value, in creation order, to its key there.
    #[cold]
    fn switch(st: &mut State, pid: String) -> Result<()> {
        st.pid = pid;
        st.files.clear();
        let cells = st.cells.clone();
        for cell in cells {
            let slot = st.slot(&cell.typ, &cell.mode, &cell.key)?;
            let (map, word) = slot.location();
            cell.words.point(map, word);
        }
        Ok(())
    }

    /// A new value of type `typ` (a gauge's file also carries its `mode`) stored under
    /// `key` (from [`crate::core::multiprocess::encode_key`]): prometheus_client's
    /// `MmapedValue(...)`. Its value is what the file holds for the key (0.0 if new).
    pub fn cell(self: &Arc<Self>, typ: &str, mode: &str, key: String) -> Result<Arc<MappedCell>> {
        if let Some(hook) = &self.deprecated_dir {
            if env::only_deprecated_set() {
                hook()?;
            }
        }
        self.check()?;
        let mut st = lock(&self.state);
        let (map, word) = st.slot(typ, mode, &key)?.location();
        let cell = Arc::new(MappedCell {
            store: self.clone(),
            typ: typ.into(),
            mode: mode.into(),
            key: key.into(),
            words: MovableWords::new(map, word),
        });
        st.cells.push(cell.clone());
        Ok(cell)
    }

    /// Closes the files and forgets the values (their mappings stay valid: a value used
    /// afterwards still writes to the file it had).
    pub fn close(&self) {
        let mut st = lock(&self.state);
        st.files.clear();
        st.cells.clear();
    }
}

/// One value of multiprocess mode: an entry of this process's file, updated in place.
pub struct MappedCell {
    store: Arc<Store>,
    typ: Box<str>,
    mode: Box<str>,
    key: Box<str>,
    words: MovableWords,
}

impl MappedCell {
    #[inline(always)]
    fn words(&self) -> Result<Words<'_>> {
        self.store.check()?;
        let (value, timestamp) = self.words.pair();
        Ok(Words(value, timestamp))
    }

    /// Adds `amount` and resets the timestamp to 0.0 (prometheus_client's `inc`).
    #[inline]
    pub fn inc(&self, amount: f64) -> Result<()> {
        self.words()?.inc(amount);
        Ok(())
    }

    /// Stores the value and the timestamp.
    #[inline]
    pub fn set(&self, value: f64, timestamp: f64) -> Result<()> {
        self.words()?.set(value, timestamp);
        Ok(())
    }

    /// This process's value.
    pub fn get(&self) -> Result<f64> {
        Ok(self.words()?.value())
    }

    /// The entry's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The store the value belongs to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}
