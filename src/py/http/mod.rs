//! The ASGI middleware's per-request work, in Rust.
//!
//! `fastprom.asgi.PrometheusMiddleware.__call__` (a plain `async def`) asks [`HttpRecorder`] to
//! start a request and gets the request's [`HttpCycle`], which it hands to the application as
//! both `send` and `receive` (one object, told apart by the argument: `send(message)`,
//! `receive()`). `send` notes the status, the time to first byte and the body sizes, then
//! returns the server's own awaitable untouched; `receive` returns a [`ReceiveAwait`] that
//! counts request body bytes and notes `http.disconnect`. The request is
//! recorded once: as its last body chunk is handed to the server, or when the application
//! returns or raises without having finished its response (`returned()` / `failed()`). Recording
//! updates the in-progress gauge, then the five series bound for the request's (route, status,
//! method) in an [`HttpSeries`], found in a cache keyed by the identity of the route object the
//! framework resolved; a miss asks Python (`make_series`) for the route template and children.
//!
//! On a real server every request runs this code with cold caches, so the hot path is kept
//! small: no Python coroutine or closure per `send`, one object per request, the dict keys
//! interned once and kept together, no lookup that a cached route does not need.
//!
//! - [`keys`]: reading scopes and messages (the interned keys, dict look-ups);
//! - [`series`]: the children one request updates ([`HttpSeries`]);
//! - [`recorder`]: one per middleware: starts requests, finds their series ([`HttpRecorder`]);
//! - [`cycle`]: one request in flight, its `send` and `receive` ([`HttpCycle`]);
//! - [`receive`]: what the application's `receive()` returns ([`ReceiveAwait`]).

mod cycle;
mod keys;
mod receive;
mod recorder;
mod series;

pub use cycle::HttpCycle;
pub use receive::ReceiveAwait;
pub use recorder::HttpRecorder;
pub use series::HttpSeries;
