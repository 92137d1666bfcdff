//! Integration tests for src/server: a real listener on 127.0.0.1, raw-socket clients.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fastprom::core::format::{Escaping, Format};
use fastprom::server::{bind, serve, serve_with, Config, MetricsSource, ServerHandle};
use flate2::read::GzDecoder;

/// Echoes what it was asked for, so tests see the negotiated format and names.
struct Echo;

impl MetricsSource for Echo {
    fn render(&self, format: &Format, names: Option<&[String]>) -> Result<Vec<u8>, String> {
        Ok(format!("{format:?} {names:?}\n").into_bytes())
    }
}

struct Failing;

impl MetricsSource for Failing {
    fn render(&self, _: &Format, _: Option<&[String]>) -> Result<Vec<u8>, String> {
        Err("collector exploded".into())
    }
}

/// Blocks every render until released, like a render waiting for the GIL.
struct Gate(Mutex<mpsc::Receiver<()>>);

impl MetricsSource for Gate {
    fn render(&self, _: &Format, _: Option<&[String]>) -> Result<Vec<u8>, String> {
        let _ = self.0.lock().unwrap().recv_timeout(Duration::from_secs(10));
        Ok(b"released\n".to_vec())
    }
}

fn start(source: impl MetricsSource) -> ServerHandle {
    serve(bind(localhost(0)).unwrap(), Arc::new(source)).unwrap()
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn connect(server: &ServerHandle) -> TcpStream {
    let stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn read_all(mut stream: TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    raw
}

/// Sends `method target` with `headers` and `Connection: close`, returns the whole reply.
fn exchange(server: &ServerHandle, method: &str, target: &str, headers: &[&str]) -> Reply {
    let mut stream = connect(server);
    let mut request = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    stream
        .write_all(format!("{request}\r\n").as_bytes())
        .unwrap();
    parse(&read_all(stream))
}

fn get(server: &ServerHandle, target: &str, headers: &[&str]) -> Reply {
    exchange(server, "GET", target, headers)
}

#[test]
fn serves_text_0_0_4_on_any_path() {
    let server = start(Echo);
    for path in ["/metrics", "/", "/anything?x=1"] {
        let reply = get(&server, path, &[]);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(reply.body, b"Text { escaping: Underscores } None\n");
        assert_eq!(reply.header("content-encoding"), None);
    }
    server.shutdown();
}

#[test]
fn negotiates_openmetrics_and_joins_repeated_accept_headers() {
    let server = start(Echo);
    let reply = get(
        &server,
        "/",
        &[
            "Accept: text/plain",
            "Accept: application/openmetrics-text; version=1.0.0",
        ],
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores")
    );
    assert_eq!(
        reply.body,
        b"OpenMetrics { escaping: Underscores, major: 1 } None\n"
    );
    let reply = get(
        &server,
        "/",
        &["Accept: text/plain;version=1.0.0;escaping=allow-utf-8"],
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8")
    );
    let expected = Format::Text {
        escaping: Escaping::AllowUtf8,
    };
    assert_eq!(reply.body, format!("{expected:?} None\n").into_bytes());
    server.shutdown();
}

#[test]
fn gzip_when_accepted() {
    let server = start(Echo);
    let reply = get(&server, "/", &["Accept-Encoding: deflate, GZIP;q=0.5"]);
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    let mut body = Vec::new();
    GzDecoder::new(&reply.body[..])
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(body, b"Text { escaping: Underscores } None\n");
    server.shutdown();
}

#[test]
fn name_filter_reaches_the_source() {
    let server = start(Echo);
    let reply = get(
        &server,
        "/metrics?name[]=a_total&name%5B%5D=b+c&name[]=",
        &[],
    );
    assert_eq!(
        reply.body,
        b"Text { escaping: Underscores } Some([\"a_total\", \"b c\"])\n"
    );
    server.shutdown();
}

#[test]
fn head_has_headers_without_body() {
    let server = start(Echo);
    let reply = exchange(&server, "HEAD", "/", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-length"), Some("36"));
    assert!(reply.body.is_empty());
    server.shutdown();
}

#[test]
fn options_favicon_and_other_methods() {
    let server = start(Echo);
    let reply = exchange(&server, "OPTIONS", "/metrics", &[]);
    assert_eq!(
        (reply.status, reply.header("allow")),
        (200, Some("OPTIONS,GET"))
    );
    assert!(reply.body.is_empty());
    let reply = get(&server, "/favicon.ico", &[]);
    assert_eq!((reply.status, reply.header("content-type")), (200, None));
    assert!(reply.body.is_empty());
    let reply = exchange(&server, "POST", "/favicon.ico", &["Content-Length: 0"]);
    assert_eq!(
        (reply.status, reply.header("allow")),
        (405, Some("OPTIONS,GET"))
    );
    assert_eq!(
        reply.body,
        b"# HTTP 405 Method Not Allowed: POST; use OPTIONS or GET\n"
    );
    server.shutdown();
}

#[test]
fn errors_are_500() {
    let server = start(Failing);
    let reply = get(&server, "/", &[]);
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.body,
        b"# HTTP 500 Internal Server Error: collector exploded\n"
    );
    server.shutdown();
    // prometheus_client raises TypeError comparing "1.x" with (1, 0, 0).
    let server = start(Echo);
    let reply = get(
        &server,
        "/",
        &["Accept: application/openmetrics-text; version=1.x"],
    );
    assert_eq!(reply.status, 500);
    server.shutdown();
}

#[test]
fn busy_port_is_addr_in_use() {
    let server = start(Echo);
    let err = bind(server.local_addr()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert_eq!(err.raw_os_error(), Some(98));
    server.shutdown();
}

#[test]
fn shutdown_is_prompt_and_frees_the_port() {
    let server = start(Echo);
    let addr = server.local_addr();
    // An idle keep-alive client does not hold the shutdown up.
    let mut idle = connect(&server);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0; 256];
    assert!(idle.read(&mut buf).unwrap() > 0);
    assert!(server.is_running());
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(!server.is_running());
    assert_eq!(idle.read(&mut buf).unwrap(), 0, "idle connection closed");
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
    let again = serve(bind(addr).unwrap(), Arc::new(Echo)).unwrap();
    assert_eq!(get(&again, "/", &[]).status, 200);
    again.shutdown();
    again.shutdown();
}

#[test]
fn wait_times_out_while_running() {
    let server = start(Echo);
    assert!(!server.wait(Some(Duration::from_millis(50))));
    server.shutdown();
    assert!(server.wait(Some(Duration::ZERO)));
}

fn start_with(source: impl MetricsSource, config: Config) -> ServerHandle {
    serve_with(bind(localhost(0)).unwrap(), Arc::new(source), config).unwrap()
}

#[test]
fn trickling_client_is_closed_and_others_are_served() {
    let config = Config {
        header_read_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let server = start_with(Echo, config);
    let mut slow = connect(&server);
    let started = Instant::now();
    for chunk in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"Host: x\r\n",
        b"X-A: 1\r\n",
        b"X-B: 2\r\n",
    ] {
        if slow.write_all(chunk).is_err() {
            break;
        }
        assert_eq!(get(&server, "/", &[]).status, 200);
        std::thread::sleep(Duration::from_millis(400));
    }
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest); // EOF or reset: either way closed
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(!rest.starts_with(b"HTTP/1.1 200"));
    server.shutdown();
}

#[test]
fn malformed_requests_get_400_and_the_server_keeps_serving() {
    let server = start(Echo);
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
    ] {
        let mut stream = connect(&server);
        stream.write_all(garbage).unwrap();
        let raw = read_all(stream);
        assert!(
            raw.is_empty() || raw.starts_with(b"HTTP/1.1 4"),
            "{:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    let mut stream = connect(&server);
    stream.write_all(b"GARBAGE\r\n\r\n").unwrap();
    assert!(read_all(stream).starts_with(b"HTTP/1.1 400"));
    assert_eq!(get(&server, "/", &[]).status, 200);
    server.shutdown();
}

#[test]
fn five_hundred_concurrent_clients_are_all_served() {
    let server = start(Echo);
    let streams: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    for stream in streams {
        assert_eq!(parse(&read_all(stream)).status, 200);
    }
    server.shutdown();
}

#[test]
fn over_the_cap_connections_are_closed_not_queued() {
    let config = Config {
        max_connections: 2,
        ..Config::default()
    };
    let server = start_with(Echo, config);
    let held = [connect(&server), connect(&server)];
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = connect(&server);
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let started = Instant::now();
    let mut buf = [0; 64];
    assert!(matches!(extra.read(&mut buf), Ok(0) | Err(_)), "closed");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(held);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(get(&server, "/", &[]).status, 200);
    server.shutdown();
}

#[test]
fn a_stuck_render_does_not_stall_other_requests() {
    let (release, gate) = mpsc::channel();
    let server = start(Gate(Mutex::new(gate)));
    let mut scrape = connect(&server);
    scrape
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(exchange(&server, "OPTIONS", "/", &[]).status, 200);
    assert_eq!(get(&server, "/favicon.ico", &[]).status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    release.send(()).unwrap();
    let reply = parse(&read_all(scrape));
    assert_eq!((reply.status, reply.body), (200, b"released\n".to_vec()));
    server.shutdown();
}

#[test]
fn shutdown_waits_a_bounded_time_for_a_half_sent_request() {
    let config = Config {
        shutdown_grace: Duration::from_millis(300),
        ..Config::default()
    };
    let server = start_with(Echo, config);
    let mut half = connect(&server);
    half.write_all(b"GET / HTTP/1.1\r\nHost:").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let _ = half.shutdown(Shutdown::Both);
}
