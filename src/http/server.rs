//! One HTTP/1.1 connection server for every listener, with its limits.
//!
//! - at most `max_connections` open connections: the accept loop takes a permit before it
//!   accepts, so excess clients wait in the kernel's backlog instead of costing memory here
//!   (listeners sharing one budget accept first, see [`Budget::Shared`]);
//! - the request head must arrive within `header_read_timeout_ms` and fit `max_header_bytes`
//!   and `max_headers` (hyper answers 431 otherwise);
//! - with `[server.tls]`, the TLS handshake must also finish within `header_read_timeout_ms`;
//! - on shutdown every connection finishes its request in flight and closes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::stop::{Stop, Stopping};
use crate::config::ServerConfig;
use crate::upstream::ProxyBody;

/// Per-connection limits, taken from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
}

impl ConnectionLimits {
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            max_connections: server.max_connections,
            max_headers: server.max_headers,
            max_header_bytes: server.max_header_bytes,
            header_read_timeout: Duration::from_millis(server.header_read_timeout_ms),
        }
    }
}

/// Serves `listener` with `handler` until `shutdown` becomes true, then drains connections.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ConnectionLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: H,
    shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    serve_with(
        listener,
        permits,
        Budget::Own,
        limits,
        tls,
        handler,
        shutdown,
    )
    .await
}

/// Whose connection permits a listener takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Budget {
    /// Its own: a permit first, then `accept`, so excess clients wait in the kernel's backlog.
    Own,
    /// Shared with other listeners (the order listener's threads, [`super::cores`]), so
    /// `max_connections` bounds them all together: `accept`, then a permit. A loop holding a
    /// permit while it waits in `accept` would strand it while another listener's clients wait
    /// for one (with `max_connections = 1`, for ever); so besides the `max_connections`
    /// served, each listener may hold one accepted connection that waits for a permit.
    Shared,
}

/// [`serve`], taking its permits from `permits` as `budget` says.
pub(super) async fn serve_with<H, F>(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    budget: Budget,
    limits: ConnectionLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let stop = Arc::new(Stop::default());
    loop {
        let taken_first = match budget {
            Budget::Own => match permit(&permits, &mut shutdown).await {
                Some(permit) => Some(permit),
                None => break,
            },
            Budget::Shared => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning; the permit is returned.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let permit = match taken_first {
            Some(permit) => permit,
            None => match permit(&permits, &mut shutdown).await {
                Some(permit) => permit,
                None => break,
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let stopping = stop.stopping();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, peer, limits, handler, stopping).await,
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, limits, handler, stopping).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    // Stop taking connections, then let those in flight finish (bounded by their timeouts);
    // with shared permits, those of every listener sharing them.
    drop(listener);
    stopping(&mut shutdown).await;
    stop.stop();
    let _ = permits.acquire_many(limits.max_connections as u32).await;
}

/// One connection, plain or TLS: requests until the client closes, or shutdown.
async fn serve_connection<S, H, F>(
    stream: S,
    peer: std::net::SocketAddr,
    limits: ConnectionLimits,
    handler: H,
    stopping: Stopping,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let service = service_fn(move |request| {
        let response = handler(request);
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(limits.max_headers)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// A connection permit, or `None` once shutdown is requested (or the budget is closed).
async fn permit(
    permits: &Arc<Semaphore>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    tokio::select! {
        permit = permits.clone().acquire_owned() => permit.ok(),
        _ = shutdown.changed() => None,
    }
}

/// Resolves once shutdown is requested (or its sender is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
