//! The accept loop: each connection is served by hyper with its own deadlines, and the number of
//! open connections is capped without ever locking the operator out.
//!
//! Every connection is in one of three phases: *idle* (waiting for the first byte of a request),
//! *head* (a request has started; its head must be complete in `header_timeout`) or *request*
//! (a request is being handled; an authorized body read is bounded by the router's body timeout).
//! An idle connection is closed after `idle_timeout`, a head that does not complete after
//! `header_timeout`. When `max_connections` are open, a new connection closes the oldest one
//! that is not serving an authorized request: idle and half-sent connections can never keep the
//! CLI's `halt` or `kill` out, however many a local process opens, while an operator's request
//! in flight is never cut.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::server::{ApiLimits, RefusalCause, note_refusal};

/// hyper's own header timer runs from the moment a connection is ready for a request, idle time
/// included; ours are finer (idle vs head), so hyper's is only a backstop past both.
fn hyper_header_backstop(limits: &ApiLimits) -> Duration {
    limits.idle_timeout + limits.header_timeout
}

/// Largest request head hyper buffers (its minimum is 8 KiB); heads beyond it are refused.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How long a failed `accept` (out of descriptors, for one) pauses the loop instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle(Instant),
    Head(Instant),
    Request,
}

/// One open connection as the accept loop and the router see it.
#[derive(Debug)]
pub(super) struct Conn {
    id: u64,
    accepted: Instant,
    phase: Mutex<Phase>,
    /// Serving a request that passed the token check: such a connection is never evicted.
    authorized: AtomicBool,
    /// Cancelled to close the connection at once (evicted).
    close: CancellationToken,
    changed: Notify,
}

impl Conn {
    fn new(id: u64) -> Self {
        let now = Instant::now();
        Self {
            id,
            accepted: now,
            phase: Mutex::new(Phase::Idle(now)),
            authorized: AtomicBool::new(false),
            close: CancellationToken::new(),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A poisoned lock only means a panic elsewhere mid-update; the phase is still a valid value.
        self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_phase(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection has started a request head.
    fn saw_bytes(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// The router marks the connection once the request's token checked out.
    pub(super) fn authorized(&self) {
        self.authorized.store(true, Ordering::Relaxed);
    }

    fn is_idle(&self) -> bool {
        matches!(*self.phase(), Phase::Idle(_))
    }

    /// Resolves when the idle or head deadline of the current phase has passed.
    async fn expired(&self, limits: &ApiLimits) {
        loop {
            let deadline = match *self.phase() {
                Phase::Idle(since) => Some(since + limits.idle_timeout),
                Phase::Head(since) => Some(since + limits.header_timeout),
                Phase::Request => None,
            };
            match deadline {
                Some(deadline) if Instant::now() >= deadline => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

/// The request extension through which the router reaches its connection.
#[derive(Debug, Clone)]
pub(super) struct ConnHandle(pub(super) Arc<Conn>);

/// The open connections, for the cap and its eviction.
#[derive(Debug, Default)]
struct Registry {
    open: Mutex<Vec<Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn open(&self) -> MutexGuard<'_, Vec<Arc<Conn>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection, closing the oldest unauthorized one when `max` are open.
    /// `None` only when every open connection serves an authorized request.
    fn admit(&self, max: usize) -> Option<Arc<Conn>> {
        let mut open = self.open();
        if open.len() >= max {
            let oldest = open
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.authorized.load(Ordering::Relaxed))
                .min_by_key(|(_, c)| c.accepted)
                .map(|(i, _)| i)?;
            let victim = open.swap_remove(oldest);
            victim.close.cancel();
            note_refusal(RefusalCause::Evicted, "connection limit reached: closed the oldest idle or unauthorized one");
        }
        let conn = Arc::new(Conn::new(self.next_id.fetch_add(1, Ordering::Relaxed)));
        open.push(conn.clone());
        Some(conn)
    }

    fn remove(&self, id: u64) {
        self.open().retain(|c| c.id != id);
    }
}

/// Accepts and serves connections until `stop` is cancelled, then lets requests in flight finish.
pub(super) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: Arc<ApiLimits>,
    stop: CancellationToken,
) {
    let registry = Arc::new(Registry::default());
    let tasks = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of descriptors, or the peer gave up before we took it: pause rather
                    // than spin, then carry on; evictions free descriptors meanwhile.
                    note_refusal(RefusalCause::Accept, &format!("accept failed: {e}"));
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        let Some(conn) = registry.admit(limits.max_connections) else {
            note_refusal(RefusalCause::Full, "every connection serves an authorized request: refused a new one");
            continue;
        };
        let (router, limits, registry, stop) = (router.clone(), limits.clone(), registry.clone(), stop.clone());
        tasks.spawn(async move {
            serve_connection(stream, conn.clone(), router, &limits, stop).await;
            registry.remove(conn.id);
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

async fn serve_connection(
    stream: TcpStream,
    conn: Arc<Conn>,
    router: Router,
    limits: &ApiLimits,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Watched { inner: stream, conn: conn.clone() });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let (router, conn) = (router.clone(), conn.clone());
            async move {
                conn.set_phase(Phase::Request);
                request.extensions_mut().insert(ConnHandle(conn.clone()));
                let response = router.oneshot(request).await;
                conn.authorized.store(false, Ordering::Relaxed);
                conn.set_phase(Phase::Idle(Instant::now()));
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(hyper_header_backstop(limits))
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "control API connection ended with an error");
                }
                return;
            }
            () = conn.close.cancelled() => return,
            () = conn.expired(limits) => return,
            () = stop.cancelled(), if !draining => {
                // Shutting down: an idle or half-sent connection goes now; a request in flight
                // finishes and its connection closes after the answer.
                if !matches!(*conn.phase(), Phase::Request) {
                    return;
                }
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The socket, telling its connection when request bytes arrive (the start of a request head).
struct Watched {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before && this.conn.is_idle() {
            this.conn.saw_bytes();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_registry_evicts_the_oldest_unauthorized_connection() {
        let registry = Registry::default();
        let first = registry.admit(3).unwrap();
        let second = registry.admit(3).unwrap();
        let third = registry.admit(3).unwrap();
        first.authorized();
        let fourth = registry.admit(3).unwrap();
        assert!(!first.close.is_cancelled(), "an authorized request in flight is never cut");
        assert!(second.close.is_cancelled(), "the oldest unauthorized connection goes");
        assert!(!third.close.is_cancelled() && !fourth.close.is_cancelled());
        assert_eq!(registry.open().len(), 3);
        for conn in [&third, &fourth] {
            conn.authorized();
        }
        assert!(registry.admit(3).is_none(), "only authorized requests open: the new one waits its turn");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_head_deadlines_follow_the_phase() {
        let limits = ApiLimits {
            idle_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(5),
            ..ApiLimits::default()
        };
        let conn = Conn::new(0);
        let started = Instant::now();
        conn.saw_bytes();
        conn.expired(&limits).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(6), "{waited:?}");
        conn.set_phase(Phase::Request);
        let in_request = tokio::time::timeout(Duration::from_secs(600), conn.expired(&limits)).await;
        assert!(in_request.is_err(), "no idle deadline while a request is handled");
    }
}
