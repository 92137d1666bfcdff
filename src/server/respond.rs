//! One request, one response: prometheus_client's WSGI app, with `/metrics` rendered by a
//! [`MetricsSource`] on tokio's blocking pool.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::Full;
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE,
};
use hyper::http::HeaderMap;
use hyper::{Method, Request, Response, StatusCode};

use super::MetricsSource;
use crate::core::http::{method_not_allowed_body, METRICS_ALLOW};
use crate::core::negotiate::{choose_encoder, gzip_accepted, query_names};

pub(super) async fn respond<B>(
    request: Request<B>,
    source: Arc<dyn MetricsSource>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method();
    let response = if method == Method::OPTIONS {
        plain(StatusCode::OK, Bytes::new()).with(ALLOW, METRICS_ALLOW)
    } else if method != Method::GET && method != Method::HEAD {
        let body = method_not_allowed_body(method.as_str());
        plain(StatusCode::METHOD_NOT_ALLOWED, body.into()).with(ALLOW, METRICS_ALLOW)
    } else if request.uri().path() == "/favicon.ico" {
        plain(StatusCode::OK, Bytes::new())
    } else {
        metrics(&request, source).await
    };
    Ok(response)
}

async fn metrics<B>(request: &Request<B>, source: Arc<dyn MetricsSource>) -> Response<Full<Bytes>> {
    let headers = request.headers();
    let (format, content_type) = match choose_encoder(&joined(headers, ACCEPT)) {
        Ok(negotiated) => negotiated,
        Err(e) => return server_error(&e.to_string()),
    };
    let Ok(content_type) = HeaderValue::from_bytes(&latin1_bytes(&content_type)) else {
        return server_error("unrepresentable Content-Type");
    };
    let gzip = gzip_accepted(&joined(headers, ACCEPT_ENCODING));
    let names = request.uri().query().and_then(query_names);
    // Rendering may wait for the GIL or take a while on a big registry: keep it off the
    // thread that accepts connections and answers everything else.
    let rendered = tokio::task::spawn_blocking(move || {
        let body = source.render(&format, names.as_deref())?;
        Ok(if gzip { compress(&body) } else { body })
    })
    .await
    .unwrap_or_else(|e| Err(format!("render panicked: {e}")));
    match rendered {
        Ok(body) => {
            let response = plain(StatusCode::OK, body.into()).with(CONTENT_TYPE, content_type);
            if gzip {
                response.with(CONTENT_ENCODING, "gzip")
            } else {
                response
            }
        }
        Err(e) => server_error(&e),
    }
}

fn server_error(message: &str) -> Response<Full<Bytes>> {
    let body = format!("# HTTP 500 Internal Server Error: {message}\n");
    plain(StatusCode::INTERNAL_SERVER_ERROR, body.into())
        .with(CONTENT_TYPE, "text/plain; charset=utf-8")
}

fn plain(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

trait With {
    fn with(self, name: HeaderName, value: impl TryInto<HeaderValue>) -> Self;
}

impl With for Response<Full<Bytes>> {
    fn with(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> Self {
        if let Ok(value) = value.try_into() {
            self.headers_mut().insert(name, value);
        }
        self
    }
}

/// All values of a header joined with `,` and read as Latin-1, as wsgiref builds `HTTP_*`.
fn joined(headers: &HeaderMap, name: HeaderName) -> String {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| v.as_bytes().iter().map(|&b| char::from(b)).collect())
        .collect();
    values.join(",")
}

/// The inverse of reading bytes as Latin-1: every char of a negotiated content type is < U+0100.
fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(c).unwrap_or(b'?')).collect()
}

fn compress(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::default());
    encoder
        .write_all(body)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}
