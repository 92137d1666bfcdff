//! Small safe wrappers over CPython's C API and libc's clock, for the glue's hot paths
//! (`crate::py`) where pyo3's own wrappers cost more (a generic call, an extra check, a new
//! reference). Compiled with the `python` feature only.

use pyo3::ffi as py_ffi;
use pyo3::prelude::*;
use pyo3::type_object::PyTypeCheck;
use pyo3::types::{PyDict, PyString};

/// The text of a `str`, borrowed for as long as the object is: CPython caches the UTF-8
/// form inside the object. Fails (`UnicodeEncodeError`) on lone surrogates.
#[inline]
pub fn str_utf8<'a>(s: Borrowed<'a, '_, PyString>) -> PyResult<&'a str> {
    let mut size: py_ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str object borrowed for 'a; `size` is a valid out pointer.
    let ptr = unsafe { py_ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &raw mut size) };
    if ptr.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    // Never negative on success (and a checked conversion would cost a branch here).
    #[allow(clippy::cast_sign_loss)]
    let len = size as usize;
    // SAFETY: CPython returned `len` bytes of valid UTF-8 at `ptr`, kept in the object,
    // which outlives 'a.
    let text =
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr.cast::<u8>(), len)) };
    Ok(text)
}

/// `obj` as a dict (or a subclass), when it is one: a type check and nothing else (a failed
/// `cast` builds an error holding the expected type).
#[inline(always)]
pub fn as_dict<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, PyDict>> {
    if PyDict::type_check(obj) {
        // SAFETY: `obj` was just checked to be a dict.
        Some(unsafe { obj.cast_unchecked::<PyDict>() })
    } else {
        None
    }
}

/// `dict.get(key)` without a method call or a generic conversion: `None` when absent.
#[inline(always)]
pub fn dict_get<'py>(
    dict: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // SAFETY: both objects are alive (borrowed by the caller); `dict` is a dict. The result
    // is a borrowed reference; NULL means absent, or an error is set.
    let value = unsafe { py_ffi::PyDict_GetItemWithError(dict.as_ptr(), key.as_ptr()) };
    if value.is_null() {
        // SAFETY: reads the calling thread's error indicator (we hold the GIL: `dict`).
        return if unsafe { py_ffi::PyErr_Occurred() }.is_null() {
            Ok(None)
        } else {
            Err(PyErr::fetch(dict.py()))
        };
    }
    // SAFETY: `value` is a live borrowed reference (the dict holds it); this takes a new one
    // before anything else can run and drop it.
    Ok(Some(unsafe { Bound::from_borrowed_ptr(dict.py(), value) }))
}

/// Whether `obj` is a coroutine (exactly) or a generator: what `await` iterates directly.
#[inline]
pub fn is_coroutine_or_generator(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: type checks that only read the type of a live object.
    unsafe {
        py_ffi::PyCoro_CheckExact(obj.as_ptr()) != 0 || py_ffi::PyGen_Check(obj.as_ptr()) != 0
    }
}

/// One step of an awaitable's iterator, as [`iter_send`] returns it.
pub enum Sent<'py> {
    /// The iterator yielded this value (it is not finished).
    Yield(Bound<'py, PyAny>),
    /// The iterator returned this value (`StopIteration.value`), without raising.
    Return(Bound<'py, PyAny>),
}

/// `iter.send(value)` without a `StopIteration` for the final value (`PyIter_Send`).
#[inline]
pub fn iter_send<'py>(iter: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
    let py = iter.py();
    let mut out: *mut py_ffi::PyObject = std::ptr::null_mut();
    // SAFETY: both objects are alive; `out` is a valid out pointer. On NEXT and RETURN,
    // `out` holds a new (owned) reference, which `from_owned_ptr` takes over.
    match unsafe { py_ffi::PyIter_Send(iter.as_ptr(), value.as_ptr(), &raw mut out) } {
        py_ffi::PySendResult::PYGEN_NEXT => {
            // SAFETY: see above: a new reference.
            Ok(Sent::Yield(unsafe { Bound::from_owned_ptr(py, out) }))
        }
        py_ffi::PySendResult::PYGEN_RETURN => {
            // SAFETY: see above: a new reference.
            Ok(Sent::Return(unsafe { Bound::from_owned_ptr(py, out) }))
        }
        py_ffi::PySendResult::PYGEN_ERROR => Err(PyErr::fetch(py)),
    }
}

/// Nanoseconds on the monotonic clock (the one `Instant` reads), in one inlined call: a
/// request's timing runs with cold code on a real server.
#[cfg(unix)]
#[inline(always)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: only writes into `ts`; CLOCK_MONOTONIC always exists (so it cannot fail).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    // The monotonic clock's fields are never negative.
    #[allow(clippy::cast_sign_loss)]
    let (secs, nanos) = (ts.tv_sec as u64, ts.tv_nsec as u64);
    secs * 1_000_000_000 + nanos
}

/// Nanoseconds since the first call, on the monotonic clock.
#[cfg(not(unix))]
pub fn monotonic_ns() -> u64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    // 2^64 ns is 584 years.
    #[allow(clippy::cast_possible_truncation)]
    let ns = BASE
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64;
    ns
}
