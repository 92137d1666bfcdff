//! The one error type of the core. Each variant names what was wrong; its `Display` is
//! the message prometheus_client gives in the same situation. The Python glue maps each
//! variant to the exception class prometheus_client raises, in one place
//! (`src/py/errors.rs`).

use std::fmt;

use crate::core::multiprocess::MmapError;
use crate::core::repr::py_dict_repr;

/// Everything the core refuses, and the one way an embedder's callback failure crosses it.
#[derive(Debug)]
pub enum Error {
    // -- names ------------------------------------------------------------------------
    /// A metric was constructed with an empty name.
    EmptyMetricName,
    /// A metric name that fails validation (empty, or outside the legacy character set
    /// once legacy validation is on).
    InvalidMetricName(String),
    /// `info` and `stateset` metrics cannot have a unit; holds the full name.
    UnitNotAllowed(String),
    /// A label name outside the legacy character set (legacy validation only).
    InvalidLabelName(String),
    /// A label name reserved for every metric (`__` prefix).
    ReservedLabelName(String),
    /// A label name reserved by the metric's type (`le` of a histogram, `quantile` of a
    /// summary).
    ReservedLabelForType(String),
    /// Exemplar labels longer than 128 characters in names and values together.
    ExemplarTooLong {
        /// The characters counted.
        runes: usize,
    },

    // -- labels -------------------------------------------------------------------------
    /// An update of a labelled metric's parent, which has no series of its own.
    MissingLabelValues {
        /// The metric's type name (`counter`, `gauge`, …).
        kind: &'static str,
    },
    /// `labels()`, `remove()`… on a metric constructed without label names.
    NoLabelNames {
        /// The metric's type name.
        kind: &'static str,
        /// The metric's full name.
        name: String,
    },
    /// `labels()` on a child that already has its label values.
    AlreadyLabelled {
        /// The metric's type name.
        kind: &'static str,
        /// The metric's full name.
        name: String,
        /// The child's labels, in label-name order.
        labels: Vec<(String, String)>,
    },
    /// Label values given both by position and by name.
    MixedLabelArgs,
    /// A number of positional label values that differs from the number of label names.
    LabelCount {
        /// The number of label names.
        expected: usize,
        /// The number of values given.
        got: usize,
    },
    /// `remove()` with a number of values that differs from the number of label names.
    RemoveLabelCount {
        /// The number of label names.
        expected: usize,
        /// The values given, as the caller writes them (a Python tuple's `repr`).
        got: String,
    },
    /// Label values given by name whose names are not exactly the metric's label names.
    IncorrectLabelNames,
    /// A series cap (`max_series`) below 1, as the caller wrote it.
    MaxSeries(String),
    /// `remove_by_labels()` naming labels the metric does not have.
    UnknownLabelNames {
        /// The names given that are not label names, in the order given.
        unknown: Vec<String>,
        /// The metric's label names.
        expected: Vec<String>,
    },

    // -- values ---------------------------------------------------------------------------
    /// A counter incremented by a negative amount.
    NegativeIncrement,
    /// `inc`/`dec` of a gauge in a `mostrecent` multiprocess mode; holds the operation.
    MostRecentUpdate(&'static str),
    /// A gauge multiprocess mode that does not exist.
    InvalidMultiprocessMode(String),
    /// Histogram bounds not in increasing order (or containing NaN).
    BucketsNotSorted,
    /// Histogram bounds that leave fewer than two buckets.
    TooFewBuckets,
    /// An Info value whose keys include one of the metric's label names.
    InfoOverlap {
        /// The metric's label names.
        labelnames: Vec<String>,
        /// The value given, as the caller writes it (a Python dict's `repr`).
        value: String,
    },
    /// An Info value with a missing (None) value.
    InfoValueNone,
    /// An Enum whose name is also one of its label names; holds the name.
    EnumNameIsLabel(String),
    /// An Enum constructed without states; holds the name.
    NoEnumStates(String),
    /// A state an Enum does not have, as the caller writes it (a Python `repr`).
    UnknownState(String),

    // -- exposition ---------------------------------------------------------------------
    /// An escaping scheme that does not exist (`generate_latest(escaping=...)`).
    UnknownEscaping(String),
    /// A sample without a value (a custom collector's `None`): the text format cannot
    /// write it.
    SampleWithoutValue {
        /// The sample's full name.
        sample: String,
    },
    /// An exemplar on a sample that cannot carry one (only counters' `_total` and
    /// histograms' buckets can).
    ExemplarNotAllowed {
        /// The family's name.
        family: String,
    },

    // -- multiprocess -------------------------------------------------------------------
    /// A `.db` file or directory of multiprocess mode could not be used (see
    /// [`MmapError`], which names the file).
    Multiprocess(MmapError),
    /// A value of multiprocess mode created while `PROMETHEUS_MULTIPROC_DIR` is not set.
    MultiprocessDirUnset,

    /// Code of the embedder failed while the core was running it: a `Gauge.set_function`
    /// callback or a custom collector's `collect()` called during a scrape, or the visitor
    /// given to `for_each_sample`. The core only passes the error through; the embedder gets
    /// its own error back out (the Python glue downcasts it to the original `PyErr`). No
    /// rule of the core produces this variant.
    Callback(Box<dyn std::error::Error + Send + Sync>),
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyMetricName => f.write_str("Metric name should not be empty"),
            Error::InvalidMetricName(name) if name.is_empty() => {
                f.write_str("metric name cannot be empty")
            }
            Error::InvalidMetricName(name) => write!(f, "invalid metric name {name}"),
            Error::UnitNotAllowed(name) => {
                write!(
                    f,
                    "Metric name is of a type that cannot have a unit: {name}"
                )
            }
            Error::InvalidLabelName(name) => write!(f, "Invalid label metric name: {name}"),
            Error::ReservedLabelName(name) => write!(f, "Reserved label metric name: {name}"),
            Error::ReservedLabelForType(name) => {
                write!(f, "Reserved label name for this metric type: {name}")
            }
            Error::ExemplarTooLong { runes } => write!(
                f,
                "Exemplar labels have {runes} UTF-8 characters, exceeding the limit of 128"
            ),
            Error::MissingLabelValues { kind } => {
                write!(f, "{kind} metric is missing label values")
            }
            Error::NoLabelNames { kind, name } => {
                write!(f, "No label names were set when constructing {kind}:{name}")
            }
            Error::AlreadyLabelled { kind, name, labels } => write!(
                f,
                "{kind}:{name} already has labels set ({}); can not chain calls to .labels()",
                py_dict_repr(labels)
            ),
            Error::MixedLabelArgs => f.write_str("Can't pass both *args and **kwargs"),
            Error::LabelCount { .. } => f.write_str("Incorrect label count"),
            Error::RemoveLabelCount { expected, got } => {
                write!(f, "Incorrect label count (expected {expected}, got {got})")
            }
            Error::IncorrectLabelNames => f.write_str("Incorrect label names"),
            Error::MaxSeries(n) => write!(
                f,
                "max_series must be None or an int of at least 1, got {n}"
            ),
            Error::UnknownLabelNames { unknown, expected } => {
                write!(f, "Unknown label names: {unknown:?}; expected {expected:?}")
            }
            Error::NegativeIncrement => {
                f.write_str("Counters can only be incremented by non-negative amounts.")
            }
            Error::MostRecentUpdate(op) => {
                write!(f, "{op} must not be used with the mostrecent mode")
            }
            Error::InvalidMultiprocessMode(mode) => {
                write!(f, "Invalid multiprocess mode: {mode}")
            }
            Error::BucketsNotSorted => f.write_str("Buckets not in sorted order"),
            Error::TooFewBuckets => f.write_str("Must have at least two buckets"),
            Error::InfoOverlap { labelnames, value } => write!(
                f,
                "Overlapping labels for Info metric, metric: {labelnames:?} child: {value}"
            ),
            Error::InfoValueNone => f.write_str("Label value cannot be None"),
            Error::EnumNameIsLabel(name) => {
                write!(f, "Overlapping labels for Enum metric: {name}")
            }
            Error::NoEnumStates(name) => write!(f, "No states provided for Enum metric: {name}"),
            Error::UnknownState(state) => write!(f, "{state} is not in list"),
            Error::UnknownEscaping(name) => write!(
                f,
                "unknown escaping scheme {name:?}: expected 'allow-utf-8', 'underscores', 'dots' or 'values'"
            ),
            Error::SampleWithoutValue { sample } => write!(
                f,
                "sample {sample} has no value: float() argument must be a string or a real number, not 'NoneType'"
            ),
            Error::ExemplarNotAllowed { family } => write!(
                f,
                "Metric {family} has exemplars, but is not a histogram bucket or counter"
            ),
            Error::Multiprocess(e) => e.fmt(f),
            Error::MultiprocessDirUnset => f.write_str(
                "multiprocess mode needs the directory of its files in the environment \
                 variable PROMETHEUS_MULTIPROC_DIR, which is not set",
            ),
            Error::Callback(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Callback(e) => Some(e.as_ref()),
            Error::Multiprocess(e) => Some(e),
            _ => None,
        }
    }
}

impl From<MmapError> for Error {
    fn from(e: MmapError) -> Error {
        Error::Multiprocess(e)
    }
}
