//! The switch of multiprocess mode: the environment variable naming the directory, and the
//! warnings prometheus_client gives in that mode.

use std::path::PathBuf;

use crate::core::error::{Error, Result};

/// The variable naming the directory of the `.db` files.
pub const DIR_VAR: &str = "PROMETHEUS_MULTIPROC_DIR";

/// The deprecated lower-case spelling of [`DIR_VAR`].
pub const DEPRECATED_DIR_VAR: &str = "prometheus_multiproc_dir";

/// The warning of prometheus_client when its deprecated variable is copied to [`DIR_VAR`].
pub const DEPRECATED_DIR_WARNING: &str = "prometheus_multiproc_dir variable has been deprecated \
     in favor of the upper case naming PROMETHEUS_MULTIPROC_DIR";

/// The warning of `remove()` and `remove_by_labels()` in multiprocess mode (two spaces
/// after "in", as prometheus_client writes it).
pub const REMOVE_WARNING: &str =
    "Removal of labels has not been implemented in  multi-process mode yet.";

/// The warning of `clear()` in multiprocess mode.
pub const CLEAR_WARNING: &str =
    "Clearing labels has not been implemented in multi-process mode yet";

/// Whether either variable is set (prometheus_client's test for multiprocess mode).
pub fn enabled() -> bool {
    std::env::var_os(DIR_VAR).is_some() || std::env::var_os(DEPRECATED_DIR_VAR).is_some()
}

/// Whether only the deprecated variable is set (it is then copied to [`DIR_VAR`], with
/// [`DEPRECATED_DIR_WARNING`]).
pub fn only_deprecated_set() -> bool {
    std::env::var_os(DIR_VAR).is_none() && std::env::var_os(DEPRECATED_DIR_VAR).is_some()
}

/// The directory of the `.db` files, read now: [`DIR_VAR`], else the deprecated variable
/// ([`Error::MultiprocessDirUnset`] if neither is set).
pub fn directory() -> Result<PathBuf> {
    std::env::var_os(DIR_VAR)
        .or_else(|| std::env::var_os(DEPRECATED_DIR_VAR))
        .map(PathBuf::from)
        .ok_or(Error::MultiprocessDirUnset)
}
