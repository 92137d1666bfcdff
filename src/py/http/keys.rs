//! Reading ASGI scopes and messages: the keys every request reads, and dict look-ups.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::ffi::python as ffi;

/// The dict keys read on every request, interned once and kept together in the recorder (one
/// `intern!` static each would scatter them over as many cold cache lines).
pub(super) struct Keys {
    pub(super) type_: Py<PyString>,
    pub(super) http: Py<PyString>,
    pub(super) root_path: Py<PyString>,
    pub(super) path: Py<PyString>,
    pub(super) method: Py<PyString>,
    pub(super) fastapi: Py<PyString>,
    pub(super) effective_route_context: Py<PyString>,
    pub(super) route: Py<PyString>,
    pub(super) endpoint: Py<PyString>,
    pub(super) status: Py<PyString>,
    pub(super) body: Py<PyString>,
    pub(super) more_body: Py<PyString>,
}

impl Keys {
    pub(super) fn new(py: Python<'_>) -> Keys {
        let key = |s: &str| PyString::intern(py, s).unbind();
        Keys {
            type_: key("type"),
            http: key("http"),
            root_path: key("root_path"),
            path: key("path"),
            method: key("method"),
            fastapi: key("fastapi"),
            effective_route_context: key("effective_route_context"),
            route: key("route"),
            endpoint: key("endpoint"),
            status: key("status"),
            body: key("body"),
            more_body: key("more_body"),
        }
    }
}

/// Looks `key` up in a scope or message: a dict (every ASGI server's) without a method call.
///
/// Inlined, and the other mappings' path kept out of line: this runs a dozen times a request,
/// with the code cold each time on a real server.
#[inline(always)]
pub(super) fn get_item<'py>(
    map: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match ffi::as_dict(map) {
        Some(dict) => ffi::dict_get(dict, key),
        None => get_item_other(map, key),
    }
}

/// [`get_item`] of a mapping other than a dict: its `get` method.
#[cold]
#[inline(never)]
fn get_item_other<'py>(
    map: &Bound<'py, PyAny>,
    key: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let value = map.call_method1(intern!(map.py(), "get"), (key,))?;
    Ok(if value.is_none() { None } else { Some(value) })
}

/// The text of an optional `str` value: "" when it is absent or not a `str`.
pub(super) fn str_or_empty<'a>(value: Option<&'a Bound<'_, PyAny>>) -> PyResult<&'a str> {
    match value {
        Some(v) => match v.cast::<PyString>() {
            Ok(s) => s.to_str(),
            Err(_) => Ok(""),
        },
        None => Ok(""),
    }
}

/// Length of a message body: bytes, bytearray, memoryview; 0 when absent.
pub(super) fn body_len(message: &Bound<'_, PyAny>, key: &Bound<'_, PyString>) -> PyResult<u64> {
    Ok(match get_item(message, key)? {
        Some(body) => match body.cast::<PyBytes>() {
            Ok(b) => b.as_bytes().len() as u64,
            Err(_) => body.len().unwrap_or(0) as u64,
        },
        None => 0,
    })
}
