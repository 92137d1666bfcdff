//! The embedded `/metrics` server behind `start_http_server`: HTTP/1.1 on hyper, driven by a
//! current-thread tokio runtime on its own thread, so it answers whatever Python is doing.
//!
//! Requests follow prometheus_client's WSGI app: GET or HEAD on any path serves the metrics
//! (`/favicon.ico` is empty), OPTIONS lists the allowed methods, anything else is a 405.

mod respond;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::core::format::Format;

/// Name of the serving thread.
pub const THREAD_NAME: &str = "fastprom-http";
/// Listen backlog: room for a burst of scrapers (std and Python use 128 and 5).
const BACKLOG: i32 = 1024;
/// Threads that render at once; more scrapes queue for them.
const RENDER_THREADS: usize = 2;

/// What the server exposes: called on a render thread, once per scrape.
pub trait MetricsSource: Send + Sync + 'static {
    /// The exposition in `format`, restricted to samples named in `names` when given.
    fn render(&self, format: &Format, names: Option<&[String]>) -> Result<Vec<u8>, String>;
}

/// Limits that keep slow or numerous clients from stalling scrapes.
#[derive(Clone, Debug)]
pub struct Config {
    /// A client must send a complete request head within this; idle keep-alive connections
    /// are closed after it too.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones are closed as soon as they are accepted.
    pub max_connections: usize,
    /// How long `shutdown` lets responses in progress finish.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(1),
        }
    }
}

/// Binds the listening socket, with `SO_REUSEADDR` as Python's HTTP servers set it.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Serves `source` on `listener` with the default [`Config`].
pub fn serve(
    listener: std::net::TcpListener,
    source: Arc<dyn MetricsSource>,
) -> io::Result<ServerHandle> {
    serve_with(listener, source, Config::default())
}

/// Serves `source` on `listener` from a new thread until [`ServerHandle::shutdown`].
/// Setup errors are returned here, in the caller.
pub fn serve_with(
    listener: std::net::TcpListener,
    source: Arc<dyn MetricsSource>,
    config: Config,
) -> io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(RENDER_THREADS)
        .thread_name("fastprom-render")
        .build()?;
    let listener = {
        let _context = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let stop = Arc::new(watch::Sender::new(false));
    let finished = Arc::new(Finished::default());
    let stopped = stop.subscribe();
    let on_exit = SetOnDrop(finished.clone());
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            let _on_exit = on_exit;
            runtime.block_on(accept_loop(listener, source, config, stopped));
            // Renders still running (past the grace period) finish on their own threads.
            runtime.shutdown_background();
        })?;
    Ok(ServerHandle {
        local_addr,
        stop,
        finished,
    })
}

/// Controls a running server. Dropping it leaves the server running, as a discarded
/// prometheus_client server keeps serving.
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: Arc<watch::Sender<bool>>,
    finished: Arc<Finished>,
}

impl ServerHandle {
    /// The address the server listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes the listener (the port is free on return), closes idle
    /// connections and gives responses in progress up to `shutdown_grace`. Idempotent.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        self.wait(None);
    }

    /// Waits for the server thread to end, at most `timeout`; true if it has.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut done = self
            .finished
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = match deadline {
                None => self
                    .finished
                    .cond
                    .wait(done)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return false;
                    };
                    self.finished
                        .cond
                        .wait_timeout(done, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        true
    }

    /// Whether the server thread is still running.
    pub fn is_running(&self) -> bool {
        !*self
            .finished
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    cond: Condvar,
}

/// Marks the server finished when the thread ends, even by a panic.
struct SetOnDrop(Arc<Finished>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        *self.0.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.0.cond.notify_all();
    }
}

async fn accept_loop(
    listener: TcpListener,
    source: Arc<dyn MetricsSource>,
    config: Config,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let mut connections = JoinSet::new();
    let stop_signal = stopped.clone();
    loop {
        tokio::select! {
            _ = stopped.wait_for(|&stop| stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Over the cap the stream is dropped: a prompt close, not a queue.
                    if let Ok(permit) = permits.clone().try_acquire_owned() {
                        let task = connection(stream, source.clone(), config.clone(), stop_signal.clone(), permit);
                        connections.spawn(task);
                    }
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) if !is_per_connection(&e) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => {}
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(config.shutdown_grace, drain).await;
}

async fn connection(
    stream: TcpStream,
    source: Arc<dyn MetricsSource>,
    config: Config,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| respond::respond(request, source.clone()));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopped.wait_for(|&stop| stop) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
