//! The merge of a directory's files into metric families, as prometheus_client 0.26's
//! `MultiProcessCollector.collect()` does: same families, samples, values and order, so
//! that fastprom's encoders render the same bytes.
//!
//! Files are read in the order given (the directory's order for [`collect`]). A family is
//! created where its metric is first met, with that file's type and the first help text;
//! its samples are then grouped by label set in order of appearance:
//!
//! * counters, summaries (and any other type) are summed over files;
//! * histograms sum `_sum` over files, re-accumulate `_bucket`s in `le` order (the `le`
//!   rewritten by `floatToGoString`) and derive `_count` from the last bucket;
//! * gauges carry the file's `pid` label; modes `all`/`liveall` (and unknown modes) keep one
//!   series per pid, `min`/`max`/`sum`/`mostrecent` and their `live` variants drop the `pid`
//!   label and aggregate (`mostrecent` keeps the value of the latest non-zero timestamp,
//!   a series without one is left out). The mode applied to a gauge family is that of the
//!   last gauge file holding it.
//!
//! No `_created` samples exist in this mode. Where prometheus_client would raise and fail
//! the whole scrape (a corrupt or truncated file, a name that is not `<type>_<pid>.db`, a
//! bucket whose `le` is not a number), the file (or that one sample) is left out and a
//! [`Warning`] names it. A `live*` gauge file removed between listing and reading is
//! skipped silently, as there.

use std::fmt;
use std::hash::Hash;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use indexmap::IndexMap;

use crate::core::fmt::go_float;
use crate::core::metric::MultiprocessMode;
use crate::core::model::{OwnedFamily, OwnedSample};
use crate::core::multiprocess::error::{Corruption, MmapError};
use crate::core::multiprocess::files::{list_db_files, parse_file_name};
use crate::core::multiprocess::key::decode_key;
use crate::core::multiprocess::layout::{for_each_raw_entry, read_used};

type Hasher = foldhash::fast::RandomState;
type FastMap<K, V> = std::collections::HashMap<K, V, Hasher>;
type FastIndexMap<K, V> = IndexMap<K, V, Hasher>;

/// Why part of a directory was left out of a merge.
#[derive(Debug)]
pub enum WarningKind {
    /// The file could not be read or is corrupt: none of its samples are used.
    File(MmapError),
    /// The file's name is not one prometheus_client's collector can use.
    Name(String),
    /// A histogram bucket's `le` is not a number: that sample is left out.
    BadLe {
        /// The metric.
        metric: String,
        /// The `le` label's value.
        le: String,
    },
}

/// Something left out of a merge, and the file it came from.
#[derive(Debug)]
pub struct Warning {
    /// The file (or the directory, when it could not be listed).
    pub path: PathBuf,
    /// What was left out, and why.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            // The error names the file already.
            WarningKind::File(e) => write!(f, "{e} (skipped)"),
            WarningKind::Name(why) => write!(f, "skipped {path}: {why}"),
            WarningKind::BadLe { metric, le } => write!(
                f,
                "skipped a sample of {metric} in {path}: le={le:?} is not a number"
            ),
        }
    }
}

/// The families merged from a directory, and what was left out.
#[derive(Debug, Default)]
pub struct Merged {
    /// The families, in prometheus_client's order.
    pub families: Vec<OwnedFamily>,
    /// One warning per file (or sample) left out.
    pub warnings: Vec<Warning>,
}

/// Lists `dir`'s `*.db` files and merges them with buckets accumulated
/// (`MultiProcessCollector(registry, path=dir).collect()`). A directory that cannot be
/// listed gives no families and one warning.
pub fn collect(dir: &Path) -> Merged {
    match list_db_files(dir) {
        Ok(files) => merge(&files, true),
        Err(e) => Merged {
            families: Vec::new(),
            warnings: vec![Warning {
                path: dir.to_path_buf(),
                kind: WarningKind::File(e),
            }],
        },
    }
}

/// Merges `files`, in this order (`MultiProcessCollector.merge(files, accumulate)`).
/// With `accumulate` false, histogram buckets keep their per-bucket sums and no `_count`
/// is derived (for writing merged values back into files).
pub fn merge<P: AsRef<Path>>(files: &[P], accumulate: bool) -> Merged {
    let mut m = Merger::default();
    for path in files {
        m.read_file(path.as_ref());
    }
    let families = m.accumulate(accumulate);
    Merged {
        families,
        warnings: m.warnings,
    }
}

/// Values met many times (names, label sets) stored once and named by a number.
struct Interner<T: ?Sized + Eq + Hash> {
    map: FastMap<Rc<T>, u32>,
    list: Vec<Rc<T>>,
}

impl<T: ?Sized + Eq + Hash> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            map: FastMap::default(),
            list: Vec::new(),
        }
    }
}

/// The id of the next element of a list of `len` elements. A scrape never holds 2^32 names,
/// label sets, keys or files: each is read from the bytes of a mapped file.
#[allow(clippy::cast_possible_truncation)]
fn next_id(len: usize) -> u32 {
    len as u32
}

impl<T: ?Sized + Eq + Hash> Interner<T> {
    fn intern<'a>(&mut self, v: &'a T) -> u32
    where
        Rc<T>: From<&'a T>,
    {
        if let Some(&id) = self.map.get(v) {
            return id;
        }
        let rc: Rc<T> = Rc::from(v);
        let id = next_id(self.list.len());
        self.list.push(rc.clone());
        self.map.insert(rc, id);
        id
    }

    fn get(&self, id: u32) -> &T {
        &self.list[id as usize]
    }
}

type Label = (Rc<str>, Rc<str>);

/// A label set's `le`: its value as a float (`None` if not a number) and the label set
/// without `le`; `None` without an `le` label.
type SplitLe = Option<(Option<f64>, u32)>;

/// "Not yet known" in the caches indexed by id, and "no pid" in [`Raw::pid`].
const NONE: u32 = u32::MAX;

/// What an entry's key says, with its strings interned.
struct KeyInfo {
    metric: u32,
    sample: u32,
    labels: u32,
    help: Rc<str>,
    /// The index of the metric's entry in `Merger::metrics` once a file using this key
    /// was read ([`NONE`] before): one lookup per key rather than one per entry.
    acc: u32,
}

/// A sample as read from a file, before merging.
struct Raw {
    name: u32,
    /// The key's label set.
    labels: u32,
    /// The name id of the gauge file's pid, [`NONE`] for other files. The `pid` label is
    /// appended only where the merge keeps it ([`Merger::with_pid`]): the aggregating
    /// gauge modes only need the key's label set without `pid`, one per key rather than
    /// one per (key, file).
    pid: u32,
    file: u32,
    value: f64,
    timestamp: f64,
}

struct MetricAcc {
    name: Rc<str>,
    help: Rc<str>,
    typ: &'static str,
    mode: Option<Rc<str>>,
    samples: Vec<Raw>,
}

#[derive(Default)]
struct Merger {
    names: Interner<str>,
    tuples: Interner<[Label]>,
    keys: FastMap<Box<[u8]>, u32>,
    infos: Vec<KeyInfo>,
    metrics: FastIndexMap<u32, MetricAcc>,
    files: Vec<PathBuf>,
    warnings: Vec<Warning>,
    buf: Vec<u8>,
    entries: Vec<(u32, f64, f64)>,
    with_pid: FastMap<(u32, u32), u32>,
    /// By label-set id: that set without its `pid` labels ([`NONE`] until computed).
    without_pid: Vec<u32>,
    /// By label-set id: [`Merger::split_le`]'s answer (`None` until computed).
    split_le: Vec<Option<SplitLe>>,
    with_le: FastMap<(u32, u64), u32>,
}

fn metric_type(typ: &str) -> &'static str {
    match typ {
        "counter" => "counter",
        "gauge" => "gauge",
        "summary" => "summary",
        "histogram" => "histogram",
        "gaugehistogram" => "gaugehistogram",
        "info" => "info",
        "stateset" => "stateset",
        _ => "unknown",
    }
}

/// Python's `float(s)` for the forms a bucket bound takes (`0.5`, `1e+06`, `+Inf`, with
/// surrounding whitespace and digit-separating underscores).
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.contains('_') {
        let b = t.as_bytes();
        let ok = b.iter().enumerate().all(|(i, &c)| {
            c != b'_'
                || (i > 0
                    && b[i - 1].is_ascii_digit()
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        if !ok {
            return None;
        }
        return t.replace('_', "").parse().ok();
    }
    t.parse().ok()
}

impl Merger {
    fn warn(&mut self, path: &Path, kind: WarningKind) {
        self.warnings.push(Warning {
            path: path.to_path_buf(),
            kind,
        });
    }

    /// The number of the key of the entry at `offset`, decoding the key when first met.
    fn key_info(&mut self, key: &[u8], offset: usize) -> Result<u32, Corruption> {
        if let Some(&id) = self.keys.get(key) {
            return Ok(id);
        }
        let offset = offset as u64;
        let text = std::str::from_utf8(key).map_err(|_| Corruption::KeyNotUtf8 { offset })?;
        let bad = |reason: String| Corruption::BadKey { offset, reason };
        let k = decode_key(text).map_err(|e| bad(e.to_string()))?;
        if k.metric_name.is_empty() {
            return Err(bad("empty metric name".to_string()));
        }
        let labels: Vec<Label> = k
            .labels
            .iter()
            .map(|(n, v)| (Rc::from(n.as_str()), Rc::from(v.as_str())))
            .collect();
        let info = KeyInfo {
            metric: self.names.intern(k.metric_name.as_str()),
            sample: self.names.intern(k.sample_name.as_str()),
            labels: self.tuples.intern(labels.as_slice()),
            help: Rc::from(k.help.as_str()),
            acc: NONE,
        };
        let id = next_id(self.infos.len());
        self.infos.push(info);
        self.keys.insert(Box::from(key), id);
        Ok(id)
    }

    /// Reads a file's entries into `entries`, decoding their keys.
    fn load(&mut self, path: &Path, entries: &mut Vec<(u32, f64, f64)>) -> Result<(), MmapError> {
        entries.clear();
        let mut buf = std::mem::take(&mut self.buf);
        let parsed = match read_used(path, &mut buf) {
            Ok(0) => Ok(()),
            Ok(used) => for_each_raw_entry(&buf, used, |e| {
                entries.push((self.key_info(e.key, e.offset)?, e.value, e.timestamp));
                Ok(())
            })
            .map_err(|kind| MmapError::Corrupt {
                path: path.to_path_buf(),
                kind,
            }),
            Err(e) => Err(e),
        };
        self.buf = buf;
        parsed
    }

    fn read_file(&mut self, path: &Path) {
        let Some(base) = path.file_name().and_then(|n| n.to_str()) else {
            self.warn(
                path,
                WarningKind::Name("file name is not UTF-8".to_string()),
            );
            return;
        };
        let fname = match parse_file_name(base) {
            Ok(f) => f,
            Err(why) => {
                self.warn(path, WarningKind::Name(why));
                return;
            }
        };
        let live = fname
            .gauge
            .as_ref()
            .is_some_and(|(mode, _)| mode.starts_with("live"));
        // A file that does not parse is read a second time before it is given up: a
        // scrape racing a worker may catch `used` before the entry it covers (plain reads
        // of a page being written are not ordered).
        let mut entries = std::mem::take(&mut self.entries);
        let mut result = self.load(path, &mut entries);
        if matches!(result, Err(MmapError::Corrupt { .. })) {
            result = self.load(path, &mut entries);
        }
        match result {
            Ok(()) => {}
            Err(MmapError::Read { source, .. })
                if live && source.kind() == io::ErrorKind::NotFound =>
            {
                // Removed by mark_process_dead since the listing.
                self.entries = entries;
                return;
            }
            Err(e) => {
                self.entries = entries;
                self.warn(path, WarningKind::File(e));
                return;
            }
        }
        let file = next_id(self.files.len());
        self.files.push(path.to_path_buf());
        let typ = metric_type(&fname.typ);
        let gauge = fname.gauge.as_ref().map(|(mode, pid)| {
            (
                Rc::<str>::from(mode.as_str()),
                self.names.intern(pid.as_str()),
            )
        });
        for &(id, value, timestamp) in &entries {
            let info = &mut self.infos[id as usize];
            if info.acc == NONE {
                let entry = self.metrics.entry(info.metric);
                info.acc = next_id(entry.index());
                entry.or_insert_with(|| MetricAcc {
                    name: self.names.list[info.metric as usize].clone(),
                    help: info.help.clone(),
                    typ,
                    mode: None,
                    samples: Vec::new(),
                });
            }
            let (_, metric) = self
                .metrics
                .get_index_mut(info.acc as usize)
                .expect("a metric is never removed while files are read");
            let pid = match &gauge {
                Some((mode, pid)) => {
                    metric.mode = Some(mode.clone());
                    *pid
                }
                None => NONE,
            };
            metric.samples.push(Raw {
                name: info.sample,
                labels: info.labels,
                pid,
                file,
                value,
                timestamp,
            });
        }
        self.entries = entries;
    }

    /// The labels of a sample where the merge keeps one series per pid: the key's labels
    /// and, from a gauge file, `("pid", pid)` appended (it overrides a user label named
    /// `pid` in `dict_labels`, as in `dict(labels)`).
    fn with_pid(&mut self, labels: u32, pid: u32) -> u32 {
        if pid == NONE {
            return labels;
        }
        let tuples = &mut self.tuples;
        let names = &self.names;
        *self.with_pid.entry((labels, pid)).or_insert_with(|| {
            let mut t = tuples.get(labels).to_vec();
            t.push((Rc::from("pid"), names.list[pid as usize].clone()));
            tuples.intern(t.as_slice())
        })
    }

    /// The labels of a sample in an aggregating gauge mode: every label named `pid` is
    /// dropped, the file's and a user's alike (as prometheus_client does). The file's pid
    /// is not in `labels` (see [`Raw::pid`]), so this is per label set, not per file.
    fn without_pid(&mut self, labels: u32) -> u32 {
        let i = labels as usize;
        if let Some(&id) = self.without_pid.get(i).filter(|&&id| id != NONE) {
            return id;
        }
        let t: Vec<Label> = self
            .tuples
            .get(labels)
            .iter()
            .filter(|(n, _)| &**n != "pid")
            .cloned()
            .collect();
        let id = self.tuples.intern(t.as_slice());
        if self.without_pid.len() <= i {
            self.without_pid.resize(i + 1, NONE);
        }
        self.without_pid[i] = id;
        id
    }

    /// For a label set with an `le`: its value parsed and the set without `le`.
    fn split_le(&mut self, labels: u32) -> SplitLe {
        let i = labels as usize;
        if let Some(&Some(split)) = self.split_le.get(i) {
            return split;
        }
        let t = self.tuples.get(labels);
        let split = t.iter().find(|(n, _)| &**n == "le").map(|(_, le)| {
            let rest: Vec<Label> = t.iter().filter(|(n, _)| &**n != "le").cloned().collect();
            (py_float(le), rest)
        });
        let split = split.map(|(bound, rest)| (bound, self.tuples.intern(rest.as_slice())));
        if self.split_le.len() <= i {
            self.split_le.resize(i + 1, None);
        }
        self.split_le[i] = Some(split);
        split
    }

    /// The text of a label set's `le` label.
    fn le_text(&self, labels: u32) -> &str {
        self.tuples
            .get(labels)
            .iter()
            .find(|(n, _)| &**n == "le")
            .map_or("", |(_, le)| le)
    }

    fn with_le(&mut self, labels: u32, bound: f64) -> u32 {
        let tuples = &mut self.tuples;
        *self
            .with_le
            .entry((labels, bound.to_bits()))
            .or_insert_with(|| {
                let mut t = tuples.get(labels).to_vec();
                t.push((Rc::from("le"), Rc::from(go_float(bound).as_str())));
                tuples.intern(t.as_slice())
            })
    }

    fn accumulate(&mut self, accumulate: bool) -> Vec<OwnedFamily> {
        let metrics = std::mem::take(&mut self.metrics);
        let mut out = Vec::with_capacity(metrics.len());
        for (_, metric) in metrics {
            out.push(self.accumulate_metric(&metric, accumulate));
        }
        out
    }

    fn accumulate_metric(&mut self, metric: &MetricAcc, accumulate: bool) -> OwnedFamily {
        let how = How::of(metric.typ, metric.mode.as_deref());
        let mut groups: FastIndexMap<u32, FastIndexMap<(u32, u32), f64>> = FastIndexMap::default();
        let mut stamps: FastMap<(u32, u32), f64> = FastMap::default();
        let mut buckets: FastIndexMap<u32, Vec<(f64, f64)>> = FastIndexMap::default();
        for s in &metric.samples {
            let labels = match how {
                How::Min | How::Max | How::Sum | How::MostRecent => self.without_pid(s.labels),
                _ => self.with_pid(s.labels, s.pid),
            };
            let key = (s.name, labels);
            match how {
                How::Min | How::Max => {
                    let slot = groups
                        .entry(labels)
                        .or_default()
                        .entry(key)
                        .or_insert(s.value);
                    if (how == How::Min && s.value < *slot) || (how == How::Max && s.value > *slot)
                    {
                        *slot = s.value;
                    }
                }
                How::MostRecent => {
                    let current = stamps.entry(key).or_insert(0.0);
                    if *current < s.timestamp {
                        *current = s.timestamp;
                        groups.entry(labels).or_default().insert(key, s.value);
                    }
                }
                How::PerPid => {
                    groups.entry(labels).or_default().insert(key, s.value);
                }
                How::Histogram => match self.split_le(labels) {
                    Some((Some(bound), rest)) => {
                        let b = buckets.entry(rest).or_default();
                        // Equal bounds are one bucket (a float key of a dict in
                        // prometheus_client): an exact comparison.
                        #[allow(clippy::float_cmp)]
                        let slot = b.iter_mut().find(|(k, _)| *k == bound);
                        match slot {
                            Some((_, v)) => *v += s.value,
                            None => b.push((bound, s.value)),
                        }
                    }
                    Some((None, _)) => {
                        let warning = Warning {
                            path: self.files[s.file as usize].clone(),
                            kind: WarningKind::BadLe {
                                metric: metric.name.to_string(),
                                le: self.le_text(labels).to_string(),
                            },
                        };
                        self.warnings.push(warning);
                    }
                    None => *groups.entry(labels).or_default().entry(key).or_insert(0.0) += s.value,
                },
                How::Sum | How::Add => {
                    *groups.entry(labels).or_default().entry(key).or_insert(0.0) += s.value;
                }
            }
        }
        if how == How::Histogram {
            self.add_buckets(&metric.name, buckets, &mut groups, accumulate);
        }
        let mut samples = Vec::new();
        for (_, group) in groups {
            for ((name, labels), value) in group {
                samples.push(OwnedSample::new(
                    self.names.get(name),
                    dict_labels(self.tuples.get(labels)),
                    value,
                ));
            }
        }
        OwnedFamily {
            name: metric.name.to_string(),
            help: metric.help.to_string(),
            type_name: metric.typ.to_string(),
            unit: String::new(),
            samples,
        }
    }

    /// Adds a histogram's `_bucket` samples (sorted by bound, cumulative when `accumulate`,
    /// then with its `_count`) to `groups`.
    fn add_buckets(
        &mut self,
        metric: &str,
        buckets: FastIndexMap<u32, Vec<(f64, f64)>>,
        groups: &mut FastIndexMap<u32, FastIndexMap<(u32, u32), f64>>,
        accumulate: bool,
    ) {
        let bucket_name = self.names.intern(&format!("{metric}_bucket"));
        let count_name = self.names.intern(&format!("{metric}_count"));
        for (labels, mut values) in buckets {
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            for (bound, value) in values {
                let key = (bucket_name, self.with_le(labels, bound));
                let v = if accumulate {
                    acc += value;
                    acc
                } else {
                    value
                };
                groups.entry(labels).or_default().insert(key, v);
            }
            if accumulate {
                groups
                    .entry(labels)
                    .or_default()
                    .insert((count_name, labels), acc);
            }
        }
    }
}

/// How the samples of one metric merge across files, by its type and gauge mode.
#[derive(Clone, Copy, PartialEq)]
enum How {
    Min,
    Max,
    Sum,
    MostRecent,
    PerPid,
    Histogram,
    Add,
}

impl How {
    fn of(typ: &str, mode: Option<&str>) -> How {
        use MultiprocessMode as M;
        match typ {
            // An unknown mode merges as `all`, as in prometheus_client.
            "gauge" => match mode.and_then(|m| M::parse(m).ok()) {
                Some(M::Min | M::LiveMin) => How::Min,
                Some(M::Max | M::LiveMax) => How::Max,
                Some(M::Sum | M::LiveSum) => How::Sum,
                Some(M::MostRecent | M::LiveMostRecent) => How::MostRecent,
                Some(M::All | M::LiveAll) | None => How::PerPid,
            },
            "histogram" => How::Histogram,
            _ => How::Add,
        }
    }
}

/// `dict(labels)`: a name given twice keeps its last value (the encoders sort by name).
fn dict_labels(t: &[Label]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(t.len());
    for (n, v) in t {
        match out.iter_mut().find(|(k, _)| k.as_str() == &**n) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((n.to_string(), v.to_string())),
        }
    }
    out
}
