//! The collector of a multiprocess directory: each scrape lists and merges its files
//! ([`collect`]), and where the merge's warnings go.
//!
//! A scrape made on behalf of a caller that wants the warnings (the Python glue turns them
//! into Python warnings) runs inside [`capture`], which hands them back on this thread.
//! Anywhere else (a scrape served by the Rust HTTP server) a warning is printed once on
//! stderr, the first time its text is met in this process, so a file left corrupt does not
//! flood the log at every scrape.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::core::error::Result;
use crate::core::model::FamilySource;
use crate::core::multiprocess::merge::{collect, Warning};
use crate::core::registry::Collector;

/// `MultiProcessCollector`: the merged view of a directory, read at every scrape.
pub struct DirCollector {
    dir: PathBuf,
}

impl DirCollector {
    /// A collector of `dir`'s `*.db` files.
    pub fn new(dir: impl Into<PathBuf>) -> DirCollector {
        DirCollector { dir: dir.into() }
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Collector for DirCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        let merged = collect(&self.dir);
        report(merged.warnings);
        for fam in &merged.families {
            f(fam)?;
        }
        Ok(())
    }
}

thread_local! {
    /// The warnings of the scrapes running inside [`capture`] on this thread.
    static CAPTURED: RefCell<Option<Vec<Warning>>> = const { RefCell::new(None) };
}

/// How many texts [`report`] remembers.
const MAX_PRINTED: usize = 4096;

/// The texts already printed on stderr by [`report`].
static PRINTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Runs `f`, returning with its result the warnings of the merges it made on this thread
/// (which are then not printed). Nested captures hand their warnings to the innermost.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<Warning>) {
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    let warnings = CAPTURED.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (result, warnings.unwrap_or_default())
}

/// Hands `warnings` to the [`capture`] running on this thread, or prints on stderr those
/// not printed before.
pub fn report(warnings: Vec<Warning>) {
    if warnings.is_empty() {
        return;
    }
    let rest = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(list) => {
            list.extend(warnings);
            None
        }
        None => Some(warnings),
    });
    let Some(rest) = rest else { return };
    let mut printed = PRINTED.lock().unwrap_or_else(PoisonError::into_inner);
    let printed = printed.get_or_insert_with(HashSet::new);
    if printed.len() >= MAX_PRINTED {
        // Bounded memory: a warning may then be printed again.
        printed.clear();
    }
    let mut err = std::io::stderr().lock();
    for w in rest {
        let text = w.to_string();
        if printed.insert(text.clone()) {
            // Nothing better to do if stderr is closed.
            let _ = writeln!(err, "fastprom: warning: {text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::multiprocess::{encode_key, MmapDict};

    fn families(c: &DirCollector) -> Vec<String> {
        let mut names = Vec::new();
        c.visit(&mut |f| {
            names.push(f.name().to_string());
            Ok(())
        })
        .unwrap();
        names
    }

    #[test]
    fn scrapes_read_the_directory_each_time_and_hand_warnings_to_the_capture() {
        let dir = std::env::temp_dir().join(format!("fastprom-collector-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = DirCollector::new(&dir);
        assert_eq!(c.dir(), dir.as_path());
        let (names, warnings) = capture(|| families(&c));
        assert!(names.is_empty() && warnings.is_empty());

        let d = MmapDict::open(dir.join("counter_1.db")).unwrap();
        let none: &[(&str, &str)] = &[];
        d.write_value(&encode_key("c", "c_total", none, "h"), 2.0, 0.0)
            .unwrap();
        std::fs::write(dir.join("counter_2.db"), b"garbage!garbage!").unwrap();
        let (names, warnings) = capture(|| families(&c));
        assert_eq!(names, ["c"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].to_string().contains("counter_2.db"));

        // Nested: the inner capture takes the warnings, the outer one gets none.
        let ((_, inner), outer) = capture(|| capture(|| families(&c)));
        assert_eq!((inner.len(), outer.len()), (1, 0));
        // Outside any capture they go to stderr; nothing is left captured afterwards.
        assert_eq!(families(&c), ["c"]);
        assert!(CAPTURED.with(|x| x.borrow().is_none()));
        drop(d);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
