//! Collectors that live in Rust so that the default registry renders without the GIL:
//! process metrics read from `/proc`, garbage-collector counters published by a
//! `gc.callbacks` hook, and constant families (the platform's `python_info`).

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::error::Result;
use crate::core::model::{FamilySource, OwnedFamily, OwnedSample};
use crate::core::registry::Collector;

fn family(name: String, help: &str, type_name: &str, samples: Vec<OwnedSample>) -> OwnedFamily {
    OwnedFamily {
        name,
        help: help.to_string(),
        type_name: type_name.to_string(),
        unit: String::new(),
        samples,
    }
}

fn single(
    name: String,
    help: &str,
    type_name: &str,
    sample_suffix: &str,
    value: f64,
) -> OwnedFamily {
    let sample = OwnedSample::new(format!("{name}{sample_suffix}"), Vec::new(), value);
    family(name, help, type_name, vec![sample])
}

/// `process_*` metrics of one process, read from a procfs tree.
pub struct ProcessCollector {
    prefix: String,
    pid_dir: PathBuf,
    ticks: f64,
    page_size: f64,
    boot_time: f64,
}

impl ProcessCollector {
    /// `pid` is a directory name under `proc` (`"self"` for this process).
    pub fn new(
        namespace: &str,
        proc: &str,
        pid: &str,
        ticks: f64,
        page_size: f64,
    ) -> ProcessCollector {
        let boot_time = fs::read_to_string(PathBuf::from(proc).join("stat"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("btime ")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                })
            })
            .unwrap_or(0.0);
        let prefix = if namespace.is_empty() {
            "process_".to_string()
        } else {
            format!("{namespace}_process_")
        };
        ProcessCollector {
            prefix,
            pid_dir: PathBuf::from(proc).join(pid),
            ticks,
            page_size,
            boot_time,
        }
    }

    fn stat_families(&self) -> Option<Vec<OwnedFamily>> {
        let stat = fs::read(self.pid_dir.join("stat")).ok()?;
        // The fields after the command name, which may contain spaces and ')'.
        let close = stat.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let p = &self.prefix;
        Some(vec![
            single(
                format!("{p}virtual_memory_bytes"),
                "Virtual memory size in bytes.",
                "gauge",
                "",
                num(20)?,
            ),
            single(
                format!("{p}resident_memory_bytes"),
                "Resident memory size in bytes.",
                "gauge",
                "",
                num(21)? * self.page_size,
            ),
            single(
                format!("{p}start_time_seconds"),
                "Start time of the process since unix epoch in seconds.",
                "gauge",
                "",
                num(19)? / self.ticks + self.boot_time,
            ),
            single(
                format!("{p}cpu_seconds"),
                "Total user and system CPU time spent in seconds.",
                "counter",
                "_total",
                num(11)? / self.ticks + num(12)? / self.ticks,
            ),
        ])
    }

    fn fd_families(&self) -> Option<Vec<OwnedFamily>> {
        let limits = fs::read_to_string(self.pid_dir.join("limits")).ok()?;
        let max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open file"))
            .and_then(|l| l.split_ascii_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok())?;
        let open_fds = fs::read_dir(self.pid_dir.join("fd")).ok()?.count() as f64;
        let p = &self.prefix;
        Some(vec![
            single(
                format!("{p}open_fds"),
                "Number of open file descriptors.",
                "gauge",
                "",
                open_fds,
            ),
            single(
                format!("{p}max_fds"),
                "Maximum number of open file descriptors.",
                "gauge",
                "",
                max_fds,
            ),
        ])
    }
}

impl Collector for ProcessCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        if self.boot_time == 0.0 {
            return Ok(());
        }
        let families = self
            .stat_families()
            .into_iter()
            .chain(self.fd_families())
            .flatten();
        for fam in families {
            f(&fam)?;
        }
        Ok(())
    }
}

/// Per-generation garbage-collector counters, updated as collections finish.
pub struct GcCollector {
    /// (collected, uncollectable, collections) per generation.
    generations: Vec<[AtomicU64; 3]>,
}

const GC_FAMILIES: [(&str, &str); 3] = [
    ("python_gc_objects_collected", "Objects collected during gc"),
    (
        "python_gc_objects_uncollectable",
        "Uncollectable objects found during GC",
    ),
    (
        "python_gc_collections",
        "Number of times this generation was collected",
    ),
];

impl GcCollector {
    /// Starts from the interpreter's totals so far.
    pub fn new(initial: &[[u64; 3]]) -> GcCollector {
        GcCollector {
            generations: initial.iter().map(|g| g.map(AtomicU64::new)).collect(),
        }
    }

    /// Records one finished collection of `generation`.
    pub fn record(&self, generation: usize, collected: u64, uncollectable: u64) {
        if let Some(g) = self.generations.get(generation) {
            g[0].fetch_add(collected, Ordering::Relaxed);
            g[1].fetch_add(uncollectable, Ordering::Relaxed);
            g[2].fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Collector for GcCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        for (i, (name, help)) in GC_FAMILIES.iter().enumerate() {
            let samples = self
                .generations
                .iter()
                .enumerate()
                .map(|(gen, g)| {
                    OwnedSample::new(
                        format!("{name}_total"),
                        vec![("generation".to_string(), gen.to_string())],
                        g[i].load(Ordering::Relaxed) as f64,
                    )
                })
                .collect();
            f(&family(name.to_string(), help, "counter", samples))?;
        }
        Ok(())
    }
}

/// Families that never change (computed once, rendered as they are).
pub struct StaticCollector(pub Vec<OwnedFamily>);

impl Collector for StaticCollector {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        for fam in &self.0 {
            f(fam)?;
        }
        Ok(())
    }
}
