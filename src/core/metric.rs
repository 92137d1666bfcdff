//! Native metric storage: a family of children keyed by label values, each child holding
//! atomics. Rendering reads the atomics directly (no Python, no copies of the series).

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::core::atomic::AtomicF64;
use crate::core::error::{Error, Result};
use crate::core::fmt;
use crate::core::labels::{new_child_set, ChildSet, Key, LabelValues, Labelled, Query};
use crate::core::model::{Exemplar, FamilySource, SampleRef, Timestamp};
use crate::core::repr::py_str_repr;
use crate::core::value::{Cell, NewValues};

static USE_CREATED: AtomicBool = AtomicBool::new(true);

/// Whether `_created` samples are exposed (prometheus_client's `disable_created_metrics`).
pub fn use_created() -> bool {
    USE_CREATED.load(Ordering::Relaxed)
}

/// Turns `_created` samples on or off, process-wide.
pub fn set_use_created(on: bool) {
    USE_CREATED.store(on, Ordering::Relaxed);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // No code panics while holding these locks; a poisoned one still holds valid data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Name, HELP, unit and label names of a family (already validated).
#[derive(Debug)]
pub struct Desc {
    /// The full name (namespace, subsystem and unit included; no `_total`).
    pub name: String,
    /// The HELP text.
    pub help: String,
    /// The unit, or empty.
    pub unit: String,
    /// The label names, in declaration order (the order of label values).
    pub labelnames: Box<[String]>,
    /// Indices of `labelnames` in label-name order (samples print labels sorted).
    sorted: Box<[usize]>,
}

impl Desc {
    /// A description from already validated parts.
    pub fn new(name: String, help: String, unit: String, labelnames: Vec<String>) -> Desc {
        let mut sorted: Vec<usize> = (0..labelnames.len()).collect();
        sorted.sort_by(|&a, &b| labelnames[a].cmp(&labelnames[b]));
        Desc {
            name,
            help,
            unit,
            labelnames: labelnames.into_boxed_slice(),
            sorted: sorted.into_boxed_slice(),
        }
    }

    /// Checks that `got` label values match the label names in number.
    #[inline]
    pub fn check_label_count(&self, got: usize) -> Result<()> {
        let expected = self.labelnames.len();
        if got != expected {
            return Err(Error::LabelCount { expected, got });
        }
        Ok(())
    }

    /// The label values in label-name order, looked up by name with `lookup` (a
    /// `labels(**kwargs)` call with `count` keywords): the names given must be exactly the
    /// label names.
    pub fn values_by_name<V, E: From<Error>>(
        &self,
        count: usize,
        mut lookup: impl FnMut(&str) -> Result<Option<V>, E>,
    ) -> Result<Vec<V>, E> {
        if count != self.labelnames.len() {
            return Err(Error::IncorrectLabelNames.into());
        }
        let mut values = Vec::with_capacity(count);
        for name in &self.labelnames {
            match lookup(name)? {
                Some(v) => values.push(v),
                None => return Err(Error::IncorrectLabelNames.into()),
            }
        }
        Ok(values)
    }

    /// The positions of the label names in `labels` paired with their values (the filter
    /// of `remove_by_labels`); an unknown name is an error naming every unknown one.
    pub fn positions<K: AsRef<str>, V: AsRef<str>>(
        &self,
        labels: &[(K, V)],
    ) -> Result<Vec<(usize, String)>> {
        let mut filter = Vec::with_capacity(labels.len());
        let mut unknown = Vec::new();
        for (k, v) in labels {
            let key = k.as_ref();
            match self.labelnames.iter().position(|n| n == key) {
                Some(pos) => filter.push((pos, v.as_ref().to_owned())),
                None => unknown.push(key.to_owned()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::UnknownLabelNames {
                unknown,
                expected: self.labelnames.to_vec(),
            });
        }
        Ok(filter)
    }
}

/// What a metric type stores per child and how it turns into samples.
pub trait Kind: Send + Sync + Sized + 'static {
    /// What every child of a family shares (bucket bounds, states, mode).
    type Config: Send + Sync;
    /// The OpenMetrics type name.
    const TYPE: &'static str;
    /// A fresh value: its numbers created by `values` (in this process, or in multiprocess
    /// mode in this process's files, which can fail).
    fn new(config: &Self::Config, values: &NewValues<'_>) -> Result<Self>;
    /// The order prometheus_client's sample label dicts have (the encoders sort labels;
    /// this is for handing samples to Python): the label names, then extra ones.
    fn label_order(fam: &Family<Self>) -> Vec<String> {
        fam.desc.labelnames.to_vec()
    }
    /// Emits this child's samples; `base` are its labels sorted by name.
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()>;
}

/// One labelled series (or the only series of an unlabelled metric).
pub struct Child<K> {
    labels: LabelValues,
    created: AtomicF64,
    /// The series' value.
    pub value: K,
}

impl<K> Labelled for Child<K> {
    fn label_values(&self) -> &LabelValues {
        &self.labels
    }
}

impl<K> Child<K> {
    /// The series' label values, in label-name order.
    pub fn label_values(&self) -> &LabelValues {
        &self.labels
    }

    /// The creation time (`_created`), Unix seconds.
    pub fn created(&self) -> f64 {
        self.created.get()
    }

    /// Sets the creation time (a counter's `reset()`).
    pub fn set_created(&self, t: f64) {
        self.created.set(t);
    }
}

/// A metric family: its description, its type's configuration and its children.
pub struct Family<K: Kind> {
    /// Name, HELP, unit and label names.
    pub desc: Desc,
    /// What the children share.
    pub config: K::Config,
    solo: Option<Arc<Child<K>>>,
    children: RwLock<ChildSet<Child<K>>>,
    /// The most children with ordinary label values (the overflow child comes on top).
    max_series: Option<usize>,
    /// Whether the first overflow was reported (see [`Family::first_overflow`]).
    overflow_reported: AtomicBool,
    /// What the embedder reports overflows to (the Python glue: the metric's registry).
    overflow_sink: Option<Box<dyn Any + Send + Sync>>,
}

/// The value of every label of the overflow child of a family with a series cap.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// What [`Family::child_capped`] found.
pub struct Lookup<K> {
    /// The child for the label values, or the overflow child.
    pub child: Arc<Child<K>>,
    /// Whether the label values were new and the cap was reached (the overflow child).
    pub overflowed: bool,
}

impl<K: Kind> Family<K> {
    /// `now` is the creation time of the unlabelled child, if the metric has no labels.
    /// The unlabelled child's values are created in the current value class (see
    /// [`crate::core::multiprocess::store::value_class`]): in multiprocess mode, opening
    /// this process's file can fail.
    pub fn new(desc: Desc, config: K::Config, now: f64) -> Result<Family<K>> {
        let solo = if desc.labelnames.is_empty() {
            Some(Arc::new(Child {
                labels: LabelValues::default(),
                created: AtomicF64::new(now),
                value: K::new(&config, &NewValues::new(&desc, &[]))?,
            }))
        } else {
            None
        };
        Ok(Family {
            desc,
            config,
            solo,
            children: RwLock::new(new_child_set()),
            max_series: None,
            overflow_reported: AtomicBool::new(false),
            overflow_sink: None,
        })
    }

    /// The family with at most `max` children of ordinary label values (at least 1: see
    /// [`Family::check_max_series`]); beyond it, new label values get the overflow child.
    #[must_use]
    pub fn with_max_series(mut self, max: Option<usize>) -> Family<K> {
        self.max_series = max;
        self
    }

    /// The family with `sink`, what its embedder reports overflows to
    /// ([`Family::overflow_sink`]).
    #[must_use]
    pub fn with_overflow_sink(mut self, sink: Box<dyn Any + Send + Sync>) -> Family<K> {
        self.overflow_sink = Some(sink);
        self
    }

    /// What the embedder attached with [`Family::with_overflow_sink`].
    pub fn overflow_sink(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.overflow_sink.as_deref()
    }

    /// Checks a series cap: `None` (no cap) or at least 1 ([`Error::MaxSeries`]).
    pub fn check_max_series(max: Option<i64>) -> Result<Option<usize>> {
        match max {
            None => Ok(None),
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Some(n) => Err(Error::MaxSeries(n.to_string())),
        }
    }

    /// The series cap, if any.
    pub fn max_series(&self) -> Option<usize> {
        self.max_series
    }

    /// True exactly once: for the first overflow a caller reports (its warning).
    pub fn first_overflow(&self) -> bool {
        !self.overflow_reported.swap(true, Ordering::Relaxed)
    }

    /// The label values of the overflow child.
    pub fn overflow_values(&self) -> Vec<&'static str> {
        vec![OVERFLOW_LABEL_VALUE; self.desc.labelnames.len()]
    }

    /// The child of an unlabelled metric.
    pub fn solo(&self) -> Option<&Arc<Child<K>>> {
        self.solo.as_ref()
    }

    /// The existing child for `values`.
    pub fn get<S: AsRef<str>>(&self, values: &[S]) -> Option<Arc<Child<K>>> {
        let set = self.children.read().unwrap_or_else(PoisonError::into_inner);
        set.get(&Query(values)).map(|k| k.0.clone())
    }

    /// The child for `values` (one per label name: [`Error::LabelCount`] otherwise),
    /// created with creation time `now()` if missing, its values in the current value
    /// class (in multiprocess mode, this can fail and then creates nothing). `now` runs before any lock is taken,
    /// so it may call back into the embedder (Python's patched `time.time`); its error type
    /// is the caller's. The unlabelled family's only child is returned for no values.
    /// With a series cap, new values beyond it get the overflow child (see
    /// [`Family::child_capped`]).
    pub fn child<S: AsRef<str>, E: From<Error>>(
        &self,
        values: &[S],
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Arc<Child<K>>, E> {
        Ok(self.child_capped(values, now)?.child)
    }

    /// [`Family::child`], telling whether the values were redirected to the overflow child
    /// (every label [`OVERFLOW_LABEL_VALUE`]): new values while the family holds
    /// `max_series` other children. Removing children makes room again.
    pub fn child_capped<S: AsRef<str>, E: From<Error>>(
        &self,
        values: &[S],
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<Lookup<K>, E> {
        self.desc.check_label_count(values.len())?;
        let found = |child| Lookup {
            child,
            overflowed: false,
        };
        if let Some(solo) = &self.solo {
            return Ok(found(solo.clone()));
        }
        if let Some(c) = self.get(values) {
            return Ok(found(c));
        }
        let created = now()?;
        let Some(max) = self.max_series else {
            let fresh = self.new_child(values, created)?;
            let mut set = self.write();
            let (idx, _) = set.insert_full(Key(fresh));
            return Ok(found(set[idx].0.clone()));
        };
        // Capped: decided and created under the write lock, so that concurrent creators
        // never pass the cap and no value (a multiprocess file entry) is made for label
        // values that end up in the overflow child.
        let mut set = self.write();
        if let Some(k) = set.get(&Query(values)) {
            return Ok(found(k.0.clone()));
        }
        let overflow = self.overflow_values();
        let has_overflow = set.contains(&Query(&overflow));
        if set.len() - usize::from(has_overflow) < max {
            let fresh = self.new_child(values, created)?;
            let (idx, _) = set.insert_full(Key(fresh));
            return Ok(found(set[idx].0.clone()));
        }
        let child = if let Some(k) = set.get(&Query(&overflow)) {
            k.0.clone()
        } else {
            let fresh = self.new_child(&overflow, created)?;
            set.insert(Key(fresh.clone()));
            fresh
        };
        Ok(Lookup {
            child,
            overflowed: true,
        })
    }

    fn new_child<S: AsRef<str>>(&self, values: &[S], created: f64) -> Result<Arc<Child<K>>> {
        let labels: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
        let value = K::new(&self.config, &NewValues::new(&self.desc, &labels))?;
        Ok(Arc::new(Child {
            labels: LabelValues::new(values),
            created: AtomicF64::new(created),
            value,
        }))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ChildSet<Child<K>>> {
        self.children
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes the child for `values`; whether there was one.
    pub fn remove<S: AsRef<str>>(&self, values: &[S]) -> bool {
        let mut set = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        set.shift_remove(&Query(values))
    }

    /// Removes every child whose label at each given position equals the given value.
    pub fn remove_matching(&self, filter: &[(usize, String)]) {
        let mut set = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        set.retain(|k| {
            let values = k.0.labels.to_vec();
            !filter
                .iter()
                .all(|(pos, want)| values.get(*pos) == Some(&want.as_str()))
        });
    }

    /// Removes every child (of a labelled family).
    pub fn clear(&self) {
        let mut set = self
            .children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *set = new_child_set();
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        match &self.solo {
            Some(_) => 1,
            None => self
                .children
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
        }
    }

    /// Whether the family has no children.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The children in creation order, copied out of the lock.
    pub fn children(&self) -> Vec<Arc<Child<K>>> {
        if let Some(c) = &self.solo {
            vec![c.clone()]
        } else {
            let set = self.children.read().unwrap_or_else(PoisonError::into_inner);
            set.iter().map(|k| k.0.clone()).collect()
        }
    }
}

impl<K: Kind> FamilySource for Family<K> {
    fn name(&self) -> &str {
        &self.desc.name
    }
    fn help(&self) -> &str {
        &self.desc.help
    }
    fn type_name(&self) -> &str {
        K::TYPE
    }
    fn unit(&self) -> &str {
        &self.desc.unit
    }
    fn for_each_sample(&self, f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>) -> Result<()> {
        emit_children(self, &self.children(), f)
    }
    fn with_snapshot(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        f(&Snapshot {
            fam: self,
            children: self.children(),
        })
    }
}

/// A family with its children read once (see [`FamilySource::with_snapshot`]).
struct Snapshot<'a, K: Kind> {
    fam: &'a Family<K>,
    children: Vec<Arc<Child<K>>>,
}

impl<K: Kind> FamilySource for Snapshot<'_, K> {
    fn name(&self) -> &str {
        self.fam.name()
    }
    fn help(&self) -> &str {
        self.fam.help()
    }
    fn type_name(&self) -> &str {
        K::TYPE
    }
    fn unit(&self) -> &str {
        self.fam.unit()
    }
    fn for_each_sample(&self, f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>) -> Result<()> {
        emit_children(self.fam, &self.children, f)
    }
    fn with_snapshot(&self, f: &mut dyn FnMut(&dyn FamilySource) -> Result<()>) -> Result<()> {
        f(self)
    }
}

/// The samples of `children`, each child's labels sorted by name.
fn emit_children<K: Kind>(
    fam: &Family<K>,
    children: &[Arc<Child<K>>],
    f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
) -> Result<()> {
    let desc = &fam.desc;
    let mut base: Vec<(&str, &str)> = Vec::with_capacity(desc.labelnames.len());
    let mut values: Vec<&str> = Vec::with_capacity(desc.labelnames.len());
    for child in children {
        values.clear();
        values.extend(child.labels.iter());
        base.clear();
        base.extend(
            desc.sorted
                .iter()
                .map(|&i| (desc.labelnames[i].as_str(), values[i])),
        );
        K::emit(fam, child, &base, f)?;
    }
    Ok(())
}

fn sample<'a>(
    name: &'a [&'a str],
    labels: &'a [(&'a str, &'a str)],
    value: f64,
    exemplar: Option<&'a Exemplar>,
) -> SampleRef<'a> {
    SampleRef {
        name,
        labels,
        value: Some(value),
        timestamp: None,
        exemplar,
        native_histogram: None,
        native_exemplars: &[],
    }
}

fn emit_created<K: Kind>(
    fam: &Family<K>,
    child: &Child<K>,
    base: &[(&str, &str)],
    f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
) -> Result<()> {
    if use_created() {
        f(&sample(
            &[&fam.desc.name, "_created"],
            base,
            child.created(),
            None,
        ))?;
    }
    Ok(())
}

/// Labels `base` plus one more pair, kept sorted.
fn with_label<'a>(
    base: &[(&'a str, &'a str)],
    extra: (&'a str, &'a str),
) -> Vec<(&'a str, &'a str)> {
    let pos = base.partition_point(|(k, _)| *k < extra.0);
    let mut v = Vec::with_capacity(base.len() + 1);
    v.extend_from_slice(&base[..pos]);
    v.push(extra);
    v.extend_from_slice(&base[pos..]);
    v
}

// ---------------------------------------------------------------------------------------
// Counter

/// A counter's value and its last exemplar (none in multiprocess mode).
pub struct CounterValue {
    value: Cell,
    exemplar: Mutex<Option<Box<Exemplar>>>,
}

impl CounterValue {
    /// Checks an increment: counters only go up ([`Error::NegativeIncrement`]; NaN passes,
    /// as in prometheus_client).
    #[inline(always)]
    pub fn check_increment(amount: f64) -> Result<()> {
        if amount < 0.0 {
            return Err(Error::NegativeIncrement);
        }
        Ok(())
    }

    /// Adds `amount` (checked with [`CounterValue::check_increment`] by the caller).
    #[inline]
    pub fn inc(&self, amount: f64) -> Result<()> {
        self.value.inc(amount)
    }

    /// The count.
    pub fn get(&self) -> Result<f64> {
        self.value.get()
    }

    /// Sets the count (a counter's `reset()`).
    pub fn set(&self, v: f64) -> Result<()> {
        self.value.set(v, 0.0)
    }

    /// The stored count (prometheus_client's `_value`).
    pub fn cell(&self) -> &Cell {
        &self.value
    }

    /// Replaces the exemplar (multiprocess mode drops it, as prometheus_client).
    pub fn set_exemplar(&self, ex: Exemplar) {
        if !self.value.is_mapped() {
            *lock(&self.exemplar) = Some(Box::new(ex));
        }
    }

    /// The last exemplar.
    pub fn exemplar(&self) -> Option<Exemplar> {
        lock(&self.exemplar).as_deref().cloned()
    }
}

impl Kind for CounterValue {
    type Config = ();
    const TYPE: &'static str = "counter";
    fn new((): &(), values: &NewValues<'_>) -> Result<Self> {
        Ok(CounterValue {
            value: values.cell(Self::TYPE, "", "_total", None)?,
            exemplar: Mutex::new(None),
        })
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let ex = child.value.exemplar();
        f(&sample(
            &[&fam.desc.name, "_total"],
            base,
            child.value.get()?,
            ex.as_ref(),
        ))?;
        emit_created(fam, child, base, f)
    }
}

// ---------------------------------------------------------------------------------------
// Gauge

/// A callback that supplies a gauge's value at scrape (`Gauge.set_function`); its failure
/// crosses the core as [`Error::Callback`].
pub type GaugeFn = dyn Fn() -> Result<f64> + Send + Sync;

/// How a gauge's values from several processes combine (prometheus_client's
/// `multiprocess_mode`); `live…` modes drop the values of dead processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MultiprocessMode {
    /// Every process's value, labelled by pid (the default).
    #[default]
    All,
    /// `All`, live processes only.
    LiveAll,
    /// The minimum.
    Min,
    /// `Min`, live processes only.
    LiveMin,
    /// The maximum.
    Max,
    /// `Max`, live processes only.
    LiveMax,
    /// The sum.
    Sum,
    /// `Sum`, live processes only.
    LiveSum,
    /// The value set last; such a gauge refuses `inc`/`dec`.
    MostRecent,
    /// `MostRecent`, live processes only.
    LiveMostRecent,
}

impl MultiprocessMode {
    /// Every mode, in prometheus_client's order.
    pub const ALL: [MultiprocessMode; 10] = [
        MultiprocessMode::All,
        MultiprocessMode::LiveAll,
        MultiprocessMode::Min,
        MultiprocessMode::LiveMin,
        MultiprocessMode::Max,
        MultiprocessMode::LiveMax,
        MultiprocessMode::Sum,
        MultiprocessMode::LiveSum,
        MultiprocessMode::MostRecent,
        MultiprocessMode::LiveMostRecent,
    ];

    /// The mode named `name` ([`Error::InvalidMultiprocessMode`] if there is none).
    pub fn parse(name: &str) -> Result<MultiprocessMode> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::InvalidMultiprocessMode(name.to_owned()))
    }

    /// The mode's name, as `multiprocess_mode=` takes it.
    pub fn name(self) -> &'static str {
        match self {
            MultiprocessMode::All => "all",
            MultiprocessMode::LiveAll => "liveall",
            MultiprocessMode::Min => "min",
            MultiprocessMode::LiveMin => "livemin",
            MultiprocessMode::Max => "max",
            MultiprocessMode::LiveMax => "livemax",
            MultiprocessMode::Sum => "sum",
            MultiprocessMode::LiveSum => "livesum",
            MultiprocessMode::MostRecent => "mostrecent",
            MultiprocessMode::LiveMostRecent => "livemostrecent",
        }
    }

    /// Whether the mode keeps the value set last (`mostrecent`, `livemostrecent`).
    pub fn is_most_recent(self) -> bool {
        matches!(
            self,
            MultiprocessMode::MostRecent | MultiprocessMode::LiveMostRecent
        )
    }

    /// Whether the mode's series leave with their process (the `live*` modes, whose files
    /// `mark_process_dead` removes).
    pub fn is_live(self) -> bool {
        self.name().starts_with("live")
    }

    /// Checks an `inc` or `dec` (`op`): refused in the most-recent modes.
    #[inline(always)]
    pub fn check_add(self, op: &'static str) -> Result<()> {
        if self.is_most_recent() {
            return Err(Error::MostRecentUpdate(op));
        }
        Ok(())
    }
}

/// A gauge's value, or the callback that supplies it.
pub struct GaugeValue {
    value: Cell,
    func: Mutex<Option<Arc<GaugeFn>>>,
}

impl GaugeValue {
    /// Adds `amount` (negative to decrement); the family's mode is checked by the caller
    /// with [`MultiprocessMode::check_add`].
    #[inline]
    pub fn inc(&self, amount: f64) -> Result<()> {
        self.value.inc(amount)
    }

    /// Sets the value. In a most-recent `mode` the time `now()` goes with it (the entry's
    /// timestamp in multiprocess mode; prometheus_client calls `time.time()` there in any
    /// mode); otherwise the timestamp is 0.0 and `now` is not called.
    #[inline]
    pub fn set<E: From<Error>>(
        &self,
        mode: MultiprocessMode,
        v: f64,
        now: impl FnOnce() -> Result<f64, E>,
    ) -> Result<(), E> {
        let timestamp = if mode.is_most_recent() { now()? } else { 0.0 };
        Ok(self.value.set(v, timestamp)?)
    }

    /// The value last set (not the callback's).
    pub fn get(&self) -> Result<f64> {
        self.value.get()
    }

    /// The stored value (prometheus_client's `_value`).
    pub fn cell(&self) -> &Cell {
        &self.value
    }

    /// Makes scrapes report `f()` instead of the value.
    pub fn set_function(&self, f: Arc<GaugeFn>) {
        *lock(&self.func) = Some(f);
    }

    /// The value a scrape reports: the callback's if one is set.
    pub fn current(&self) -> Result<f64> {
        let func = lock(&self.func).clone();
        match func {
            Some(f) => f(),
            None => self.value.get(),
        }
    }
}

impl Kind for GaugeValue {
    type Config = MultiprocessMode;
    const TYPE: &'static str = "gauge";
    fn new(mode: &MultiprocessMode, values: &NewValues<'_>) -> Result<Self> {
        Ok(GaugeValue {
            value: values.cell(Self::TYPE, mode.name(), "", None)?,
            func: Mutex::new(None),
        })
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let v = child.value.current()?;
        f(&sample(&[&fam.desc.name], base, v, None))
    }
}

// ---------------------------------------------------------------------------------------
// Summary (count and sum, no quantiles: as prometheus_client)

/// A summary's count and sum.
pub struct SummaryValue {
    count: Cell,
    sum: Cell,
}

impl SummaryValue {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) -> Result<()> {
        self.count.inc(1.0)?;
        self.sum.inc(v)
    }

    /// The number of observations.
    pub fn count(&self) -> Result<f64> {
        self.count.get()
    }

    /// The sum of observations.
    pub fn sum(&self) -> Result<f64> {
        self.sum.get()
    }

    /// The stored count (prometheus_client's `_count`).
    pub fn count_cell(&self) -> &Cell {
        &self.count
    }

    /// The stored sum (prometheus_client's `_sum`).
    pub fn sum_cell(&self) -> &Cell {
        &self.sum
    }
}

impl Kind for SummaryValue {
    type Config = ();
    const TYPE: &'static str = "summary";
    fn new((): &(), values: &NewValues<'_>) -> Result<Self> {
        Ok(SummaryValue {
            count: values.cell(Self::TYPE, "", "_count", None)?,
            sum: values.cell(Self::TYPE, "", "_sum", None)?,
        })
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = fam.desc.name.as_str();
        f(&sample(&[name, "_count"], base, child.value.count()?, None))?;
        f(&sample(&[name, "_sum"], base, child.value.sum()?, None))?;
        emit_created(fam, child, base, f)
    }
}

// ---------------------------------------------------------------------------------------
// Histogram

/// prometheus_client's default histogram bounds.
pub const DEFAULT_BUCKETS: [f64; 15] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    f64::INFINITY,
];

/// Upper bounds (sorted, `+Inf` last) and their `le` strings.
pub struct Buckets {
    /// The upper bounds, increasing, `+Inf` last.
    pub bounds: Box<[f64]>,
    /// Each bound as its `le` label value.
    pub le: Box<[String]>,
}

impl Default for Buckets {
    /// [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        Buckets::new(DEFAULT_BUCKETS.to_vec()).expect("the default buckets are valid")
    }
}

impl Buckets {
    /// Validates as prometheus_client: sorted, `+Inf` appended if missing, at least two.
    pub fn new(mut bounds: Vec<f64>) -> Result<Buckets> {
        // NaN compares unequal to itself, so a list with NaN is never "sorted".
        if bounds.windows(2).any(|w| {
            w[0].partial_cmp(&w[1])
                .is_none_or(std::cmp::Ordering::is_gt)
        }) || bounds.iter().any(|b| b.is_nan())
        {
            return Err(Error::BucketsNotSorted);
        }
        if bounds.last().is_some_and(|b| *b != f64::INFINITY) {
            bounds.push(f64::INFINITY);
        }
        if bounds.len() < 2 {
            return Err(Error::TooFewBuckets);
        }
        let le = bounds.iter().map(|b| fmt::go_float(*b)).collect();
        Ok(Buckets {
            bounds: bounds.into_boxed_slice(),
            le,
        })
    }

    /// Index of the first bucket whose bound is `>= v`; `None` for NaN (counted nowhere).
    #[inline]
    pub fn index(&self, v: f64) -> Option<usize> {
        if v.is_nan() {
            return None;
        }
        Some(self.bounds.partition_point(|b| *b < v))
    }
}

/// A histogram's bucket counts (not cumulative), sum and per-bucket exemplars (none in
/// multiprocess mode).
pub struct HistogramValue {
    counts: Box<[Cell]>,
    sum: Cell,
    exemplars: Mutex<Option<Box<[Option<Exemplar>]>>>,
}

impl HistogramValue {
    /// Records `v` in bucket `idx` (from [`Buckets::index`]).
    #[inline]
    pub fn observe(&self, idx: Option<usize>, v: f64) -> Result<()> {
        self.sum.inc(v)?;
        if let Some(i) = idx {
            self.counts[i].inc(1.0)?;
        }
        Ok(())
    }

    /// Replaces the exemplar of bucket `idx` (multiprocess mode drops it, as
    /// prometheus_client).
    pub fn set_exemplar(&self, idx: usize, ex: Exemplar) {
        if self.sum.is_mapped() {
            return;
        }
        let mut g = lock(&self.exemplars);
        let slots = g.get_or_insert_with(|| (0..self.counts.len()).map(|_| None).collect());
        slots[idx] = Some(ex);
    }

    /// The sum of observations.
    pub fn sum(&self) -> Result<f64> {
        self.sum.get()
    }

    /// Per-bucket counts, each read once.
    pub fn counts(&self) -> Result<Vec<f64>> {
        self.counts.iter().map(Cell::get).collect()
    }

    /// The stored sum (prometheus_client's `_sum`).
    pub fn sum_cell(&self) -> &Cell {
        &self.sum
    }

    /// The stored per-bucket counts (prometheus_client's `_buckets`).
    pub fn bucket_cells(&self) -> &[Cell] {
        &self.counts
    }
}

impl Kind for HistogramValue {
    type Config = Buckets;
    const TYPE: &'static str = "histogram";
    fn new(b: &Buckets, values: &NewValues<'_>) -> Result<Self> {
        // The sum first, then the buckets: the order prometheus_client adds the keys in.
        let sum = values.cell(Self::TYPE, "", "_sum", None)?;
        let counts =
            b.le.iter()
                .map(|le| values.cell(Self::TYPE, "", "_bucket", Some(("le", le))))
                .collect::<Result<_>>()?;
        Ok(HistogramValue {
            counts,
            sum,
            exemplars: Mutex::new(None),
        })
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = fam.desc.name.as_str();
        let buckets = &fam.config;
        let exemplars = lock(&child.value.exemplars).clone();
        // Count is derived from the same reads as the buckets: `_count` always equals the
        // `+Inf` bucket, even while other threads observe.
        let counts = child.value.counts()?;
        let mut labels = with_label(base, ("le", ""));
        let le_pos = labels
            .iter()
            .position(|(k, _)| *k == "le")
            .expect("le inserted");
        let mut acc = 0.0;
        for (i, n) in counts.iter().enumerate() {
            acc += n;
            labels[le_pos].1 = &buckets.le[i];
            let ex = exemplars.as_ref().and_then(|e| e[i].as_ref());
            f(&sample(&[name, "_bucket"], &labels, acc, ex))?;
        }
        f(&sample(&[name, "_count"], base, acc, None))?;
        if buckets.bounds[0] >= 0.0 {
            f(&sample(&[name, "_sum"], base, child.value.sum()?, None))?;
        }
        emit_created(fam, child, base, f)
    }
}

// ---------------------------------------------------------------------------------------
// Info

/// An Info metric's key-value pairs.
pub struct InfoValue {
    labels: Mutex<Vec<(String, String)>>,
}

impl InfoValue {
    /// Checks the keys of a new value: none may be one of the metric's label names
    /// ([`Error::InfoOverlap`], showing the value as `shown()` writes it).
    pub fn check_keys<'k, E: From<Error>>(
        labelnames: &[String],
        keys: impl IntoIterator<Item = &'k str>,
        shown: impl FnOnce() -> Result<String, E>,
    ) -> Result<(), E> {
        let mut keys = keys.into_iter();
        if keys.any(|k| labelnames.iter().any(|n| n == k)) {
            return Err(Error::InfoOverlap {
                labelnames: labelnames.to_vec(),
                value: shown()?,
            }
            .into());
        }
        Ok(())
    }

    /// Replaces the pairs (checked with [`InfoValue::check_keys`] by the caller).
    pub fn set(&self, pairs: Vec<(String, String)>) {
        *lock(&self.labels) = pairs;
    }

    /// The pairs.
    pub fn get(&self) -> Vec<(String, String)> {
        lock(&self.labels).clone()
    }
}

impl Kind for InfoValue {
    type Config = ();
    const TYPE: &'static str = "info";
    fn new((): &(), _: &NewValues<'_>) -> Result<Self> {
        // Not a multiprocess value, as in prometheus_client.
        Ok(InfoValue {
            labels: Mutex::new(Vec::new()),
        })
    }
    fn label_order(fam: &Family<Self>) -> Vec<String> {
        let mut order = fam.desc.labelnames.to_vec();
        if let Some(child) = fam.children().first() {
            order.extend(child.value.get().into_iter().map(|(k, _)| k));
        }
        order
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let pairs = child.value.get();
        let mut labels: Vec<(&str, &str)> = base.to_vec();
        labels.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        labels.sort_by(|a, b| a.0.cmp(b.0));
        f(&sample(&[&fam.desc.name, "_info"], &labels, 1.0, None))
    }
}

// ---------------------------------------------------------------------------------------
// Enum (OpenMetrics stateset)

/// An Enum's current state, an index into the family's states.
pub struct StateSetValue {
    state: AtomicUsize,
}

impl StateSetValue {
    /// Checks an Enum's name against its label names: it labels the state samples, so it
    /// cannot be one of them.
    pub fn check_name(name: &str, labelnames: &[String]) -> Result<()> {
        if labelnames.iter().any(|n| n == name) {
            return Err(Error::EnumNameIsLabel(name.to_owned()));
        }
        Ok(())
    }

    /// The states of the Enum `name` (its family's configuration): at least one.
    pub fn states(name: &str, states: Vec<String>) -> Result<Box<[String]>> {
        if states.is_empty() {
            return Err(Error::NoEnumStates(name.to_owned()));
        }
        Ok(states.into_boxed_slice())
    }

    /// The index of `state` in `states` ([`Error::UnknownState`] if it is not one).
    pub fn index(states: &[String], state: &str) -> Result<usize> {
        states
            .iter()
            .position(|s| s == state)
            .ok_or_else(|| Error::UnknownState(py_str_repr(state)))
    }

    /// Sets the state by index (from [`StateSetValue::index`]).
    pub fn set(&self, idx: usize) {
        self.state.store(idx, Ordering::Relaxed);
    }

    /// The index of the current state.
    pub fn get(&self) -> usize {
        self.state.load(Ordering::Relaxed)
    }
}

impl Kind for StateSetValue {
    /// The states, in declaration order.
    type Config = Box<[String]>;
    const TYPE: &'static str = "stateset";
    fn new(_: &Box<[String]>, _: &NewValues<'_>) -> Result<Self> {
        // Not a multiprocess value, as in prometheus_client.
        Ok(StateSetValue {
            state: AtomicUsize::new(0),
        })
    }
    fn emit(
        fam: &Family<Self>,
        child: &Child<Self>,
        base: &[(&str, &str)],
        f: &mut dyn FnMut(&SampleRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let name = fam.desc.name.as_str();
        let current = child.value.get();
        for (i, state) in fam.config.iter().enumerate() {
            let labels = with_label(base, (name, state));
            let v = if i == current { 1.0 } else { 0.0 };
            f(&sample(&[name], &labels, v, None))?;
        }
        Ok(())
    }
}

/// An exemplar observed at Unix time `ts`.
pub fn exemplar(labels: Vec<(String, String)>, value: f64, ts: f64) -> Exemplar {
    Exemplar {
        labels,
        value,
        timestamp: Some(Timestamp::Float(ts)),
    }
}
