//! The registry model: collectors in registration order, each rendering its families.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use crate::core::encode::Encoder;
use crate::core::error::Result;
use crate::core::format::Format;
use crate::core::metric::{Family, Kind};
use crate::core::model::{FamilySource, OwnedFamily, OwnedSample};

/// Anything that yields metric families at scrape time.
pub trait Collector: Send + Sync {
    /// Calls `f` on each of the collector's families, in order; stops at the first error.
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()>;
}

impl<K: Kind> Collector for Family<K> {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        f(self)
    }
}

impl Collector for OwnedFamily {
    fn visit(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        f(self)
    }
}

struct Entry {
    id: u64,
    collector: Arc<dyn Collector>,
    /// Sample names the collector registered under (for `name[]` restriction).
    names: Vec<String>,
    /// Collected by restricted scrapes whatever the names (`support_collectors_without_names`).
    always: bool,
}

/// Collectors in registration order, plus the optional `target_info` labels.
#[derive(Default)]
pub struct Registry {
    entries: RwLock<Vec<Arc<Entry>>>,
    target_info: RwLock<Option<Vec<(String, String)>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Appends `collector` under `id`, registered under the sample `names` (which a
    /// restricted scrape matches); `always`: collected by every restricted scrape.
    pub fn add(&self, id: u64, collector: Arc<dyn Collector>, names: Vec<String>, always: bool) {
        let entry = Arc::new(Entry {
            id,
            collector,
            names,
            always,
        });
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// Removes the collector registered under `id`; whether there was one.
    pub fn remove(&self, id: u64) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|e| e.id != id);
        entries.len() != before
    }

    /// Sets (or with `None` clears) the labels of the `target_info` family.
    pub fn set_target_info(&self, labels: Option<Vec<(String, String)>>) {
        *self
            .target_info
            .write()
            .unwrap_or_else(PoisonError::into_inner) = labels;
    }

    fn target_info_family(&self) -> Option<OwnedFamily> {
        let ti = self
            .target_info
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        Some(OwnedFamily {
            name: "target".into(),
            help: "Target metadata".into(),
            type_name: "info".into(),
            unit: String::new(),
            samples: vec![OwnedSample::new("target_info", ti, 1.0)],
        })
    }

    /// Renders every collector in registration order, target info first. With `names`,
    /// only collectors registered under one of them, and only samples so named.
    pub fn render(&self, format: &Format, names: Option<&[String]>) -> Result<Vec<u8>> {
        let set: Option<HashSet<String>> = names.map(|n| n.iter().cloned().collect());
        let mut enc = Encoder::new(format.clone(), set.as_ref());
        if let Some(ti) = self.target_info_family() {
            if set.as_ref().is_none_or(|s| s.contains("target_info")) {
                enc.family(&ti, false)?;
            }
        }
        let entries: Vec<Arc<Entry>> = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for e in entries {
            if let Some(s) = &set {
                if !e.always && !e.names.iter().any(|n| n != "target_info" && s.contains(n)) {
                    continue;
                }
            }
            let restrict = set.is_some();
            e.collector.visit(&mut |fam| enc.family(fam, restrict))?;
        }
        Ok(enc.finish())
    }
}

/// Encodes families that are not in a registry (`generate_latest` of any collector).
pub fn encode_families(format: &Format, families: &[&dyn FamilySource]) -> Result<Vec<u8>> {
    let mut enc = Encoder::new(format.clone(), None);
    for f in families {
        enc.family(*f, false)?;
    }
    Ok(enc.finish())
}
