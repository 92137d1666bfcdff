//! The HTTP vocabulary shared by the `/metrics` server, the ASGI request recorder and the
//! Python package (which reads it from `fastprom._core`): the methods that get a label of their
//! own, and what a metrics endpoint allows.

/// The methods with a label of their own, in the order the request recorder indexes them;
/// every other method is recorded as `OTHER`, the last entry.
pub const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];

/// The index of `OTHER` in [`METHODS`].
pub const OTHER_METHOD: u8 = 9;

/// The index in [`METHODS`] of a request method (compared exactly: methods are case-sensitive).
pub fn method_index(method: &str) -> u8 {
    METHODS[..OTHER_METHOD as usize]
        .iter()
        .position(|m| *m == method)
        .map_or(OTHER_METHOD, |i| i as u8)
}

/// The `Allow` header of a metrics endpoint, as prometheus_client's WSGI app sends it.
pub const METRICS_ALLOW: &str = "OPTIONS,GET";

/// The body of a metrics endpoint's 405 answer to `method`.
pub fn method_not_allowed_body(method: &str) -> String {
    format!("# HTTP 405 Method Not Allowed: {method}; use OPTIONS or GET\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_index_their_table() {
        for (i, method) in METHODS.iter().enumerate().take(OTHER_METHOD as usize) {
            assert_eq!(method_index(method), i as u8);
        }
        assert_eq!(METHODS[OTHER_METHOD as usize], "OTHER");
        for other in ["get", "PROPFIND", "", "OTHER"] {
            assert_eq!(method_index(other), OTHER_METHOD, "{other:?}");
        }
    }

    #[test]
    fn not_allowed_body_names_the_method() {
        assert_eq!(
            method_not_allowed_body("POST"),
            "# HTTP 405 Method Not Allowed: POST; use OPTIONS or GET\n"
        );
    }
}
