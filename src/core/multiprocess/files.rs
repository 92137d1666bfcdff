//! The files of a multiprocess directory: their names, listing them as
//! prometheus_client's collector does, and removing a dead process's `live*` gauges.
//!
//! A process writes `<type>_<pid>.db` for counters, histograms and summaries and
//! `gauge_<mode>_<pid>.db` for gauges, where `mode` is the gauge's multiprocess mode.

use std::io;
use std::path::{Path, PathBuf};

use crate::core::metric::MultiprocessMode;
use crate::core::multiprocess::error::MmapError;

/// The name of a process's file: `gauge_<mode>_<pid>.db` for a gauge, else
/// `<type>_<pid>.db` (`mode` is ignored).
pub fn file_name(typ: &str, mode: &str, pid: &str) -> String {
    if typ == "gauge" {
        format!("gauge_{mode}_{pid}.db")
    } else {
        format!("{typ}_{pid}.db")
    }
}

/// What a file's name says about its samples, read as prometheus_client reads it: the
/// name split at `_`, the type first; for a gauge the mode second and, as the `pid` label,
/// the third part without its last three characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName {
    /// The type as written in the name (`counter`, `gauge`, `histogram`, `summary`, or
    /// another of prometheus_client's metric types).
    pub typ: String,
    /// For a gauge: its mode and the value of the `pid` label its samples get.
    pub gauge: Option<(String, String)>,
}

/// The metric types prometheus_client's `Metric` accepts (`untyped` is read as `unknown`).
const METRIC_TYPES: [&str; 9] = [
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gaugehistogram",
    "unknown",
    "info",
    "stateset",
    "untyped",
];

/// Parses a file name (without directory). `Err` says why prometheus_client's collector
/// could not use a file of that name.
pub fn parse_file_name(name: &str) -> Result<FileName, String> {
    let mut parts = name.split('_');
    let typ = parts.next().unwrap_or_default();
    if !METRIC_TYPES.contains(&typ) {
        return Err(format!(
            "file name does not start with a metric type ({typ:?})"
        ));
    }
    let gauge = if typ == "gauge" {
        let (Some(mode), Some(third)) = (parts.next(), parts.next()) else {
            return Err("gauge file name is not gauge_<mode>_<pid>.db".to_string());
        };
        let keep = third.chars().count().saturating_sub(3);
        let pid: String = third.chars().take(keep).collect();
        Some((mode.to_string(), pid))
    } else {
        None
    };
    Ok(FileName {
        typ: typ.to_string(),
        gauge,
    })
}

/// The `*.db` files of `dir`, in the order the directory lists them (`glob.glob`'s
/// order): names ending in `.db` and not starting with a dot.
pub fn list_db_files(dir: &Path) -> Result<Vec<PathBuf>, MmapError> {
    let read_err = |source| MmapError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if bytes.ends_with(b".db") && !bytes.starts_with(b".") {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes the `live*` gauge files of process `pid` from `dir` (prometheus_client's
/// `mark_process_dead`); returns the files removed. A file already gone is not an error.
pub fn mark_process_dead(pid: &str, dir: &Path) -> Result<Vec<PathBuf>, MmapError> {
    let mut removed = Vec::new();
    for mode in MultiprocessMode::ALL.into_iter().filter(|m| m.is_live()) {
        let path = dir.join(file_name("gauge", mode.name(), pid));
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(MmapError::Remove { path, source }),
        }
    }
    Ok(removed)
}
