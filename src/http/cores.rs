//! The order listener, served on every core: one event loop per thread (a current-thread tokio
//! runtime), each accepting from its own `SO_REUSEPORT` socket on the one order address and
//! sending upstream through a pool of its own.
//!
//! Why: on the shared multi-thread runtime an order hopped between workers — a connection's task
//! stolen by the other worker, the pooled upstream connection's task living on a third — and
//! each hop was a wake-up and a cache miss on every order. Here the kernel spreads connections
//! over the threads (as it does over nginx's workers), and a connection, its orders and the
//! upstream connections they use stay on the thread that accepted it; only the WAL's writer,
//! which every thread shares through the engine, is crossed.
//!
//! Invariants: every thread's listener is bound before any serves, so the address (port 0
//! included) is fixed and a bind failure stops the start; `max_connections` is one budget over
//! all threads; each thread ends when shutdown is asked for or its sender is gone (a dropped
//! gateway), after its connections finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Semaphore};

use super::server::{self, Budget, ConnectionLimits};
use crate::upstream::ProxyBody;

/// Listening sockets that other sockets of this process may join on the same address.
pub struct SharedListener {
    first: std::net::TcpListener,
    addr: SocketAddr,
}

impl SharedListener {
    /// Binds `addr` with `SO_REUSEPORT` (`key` names it in the error). Call inside a runtime.
    pub fn bind(addr: SocketAddr, key: &str) -> Result<SharedListener, String> {
        let cannot = |error: std::io::Error| format!("{key}: cannot listen on {addr}: {error}");
        let first = listen(addr).map_err(cannot)?;
        let addr = first.local_addr().map_err(cannot)?;
        let first = first.into_std().map_err(cannot)?;
        Ok(SharedListener { first, addr })
    }

    /// Where it listens (the port chosen, when `addr` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A new socket on the same address; joining the kernel's spread of its connections.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// How many threads serve orders: `configured`, or one per core when it is 0.
pub fn thread_count(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
        threads => threads,
    }
}

/// Serves `listener` on `threads` threads until `shutdown`; thread `i`'s handler is
/// `handler_for(i)`, made on that thread, so the connections it opens (an upstream pool's)
/// belong to that thread's event loop. Resolves once every thread has finished. Call inside a
/// runtime.
pub fn serve<M, H, F>(
    listener: SharedListener,
    threads: usize,
    limits: ConnectionLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler_for: M,
    shutdown: watch::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + 'static, String>
where
    M: Fn(usize) -> H + Send + Sync + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let addr = listener.addr;
    let mut sockets = vec![listener.first];
    for _ in 1..threads.max(1) {
        let joined = listen(addr)
            .and_then(TcpListener::into_std)
            .map_err(|error| format!("server.listen: cannot listen again on {addr}: {error}"))?;
        sockets.push(joined);
    }
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let handler_for = Arc::new(handler_for);
    let mut finished = Vec::with_capacity(sockets.len());
    for (index, socket) in sockets.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start an order thread: {error}"))?;
        let (done, ended) = tokio::sync::oneshot::channel::<()>();
        let permits = permits.clone();
        let tls = tls.clone();
        let handler_for = handler_for.clone();
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name(format!("omnigate-orders-{index}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(socket) {
                        Ok(listener) => {
                            let handler = handler_for(index);
                            server::serve_with(
                                listener,
                                permits,
                                Budget::Shared,
                                limits,
                                tls,
                                handler,
                                shutdown,
                            )
                            .await;
                        }
                        Err(error) => tracing::error!(%error, "an order thread cannot listen"),
                    }
                });
                // Connections still open past their drain are cut when the runtime drops.
                drop(runtime);
                let _ = done.send(());
            })
            .map_err(|error| format!("cannot start an order thread: {error}"))?;
        finished.push(ended);
    }
    Ok(async move {
        for ended in finished {
            let _ = ended.await;
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    fn limits(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            // Longer than any deadline below: an idle connection is closed by shutdown, not by
            // this timeout.
            header_read_timeout: Duration::from_secs(60),
        }
    }

    /// A handler answering with the name of the thread that served it, counting its answers.
    fn thread_namer(
        answered: Arc<AtomicUsize>,
    ) -> impl Fn(Request<Incoming>) -> std::future::Ready<Response<ProxyBody>>
           + Clone
           + Send
           + Sync
           + 'static {
        move |_| {
            answered.fetch_add(1, Ordering::SeqCst);
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            std::future::ready(Response::new(crate::upstream::full(name)))
        }
    }

    /// One GET on `stream`; the answer's body (the serving thread's name).
    async fn get(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .unwrap();
            assert!(read > 0, "the connection closed without an answer");
            answer.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .expect("a content-length")
                    .parse()
                    .unwrap();
                if answer.len() >= end + 4 + length {
                    return text[end + 4..end + 4 + length].to_owned();
                }
            }
        }
    }

    /// Two order threads serving [`thread_namer`] on a port of their own.
    struct Served {
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        answered: Arc<AtomicUsize>,
        done: tokio::task::JoinHandle<()>,
    }

    fn two_threads(max_connections: usize) -> Served {
        let listener = SharedListener::bind("127.0.0.1:0".parse().unwrap(), "test").unwrap();
        let addr = listener.local_addr();
        let (stop, shutdown) = watch::channel(false);
        let answered = Arc::new(AtomicUsize::new(0));
        let counted = answered.clone();
        let done = serve(
            listener,
            2,
            limits(max_connections),
            None,
            move |_| thread_namer(counted.clone()),
            shutdown,
        )
        .unwrap();
        Served {
            addr,
            stop,
            answered,
            done: tokio::spawn(done),
        }
    }

    #[tokio::test]
    async fn connections_are_spread_over_the_threads_and_each_is_served_on_one() {
        let Served {
            addr,
            stop,
            answered,
            done,
        } = two_threads(1024);
        let mut names = std::collections::BTreeSet::new();
        // The kernel hashes each connection to one of the two sockets: all 32 on one would
        // happen with probability 2^-31.
        for _ in 0..32 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let first = get(&mut stream).await;
            assert_eq!(
                get(&mut stream).await,
                first,
                "a connection stays on its thread"
            );
            names.insert(first);
        }
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["omnigate-orders-0", "omnigate-orders-1"]
        );
        assert_eq!(answered.load(Ordering::SeqCst), 64);
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), done)
            .await
            .expect("every thread ends on shutdown")
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "nothing listens after"
        );
    }

    /// Shutdown closes the connections that stay open, idle ones included, and the threads end.
    #[tokio::test]
    async fn shutdown_closes_every_open_connection() {
        let Served {
            addr, stop, done, ..
        } = two_threads(1024);
        let mut open = Vec::new();
        for _ in 0..8 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            get(&mut stream).await;
            open.push(stream);
        }
        stop.send(true).unwrap();
        for mut stream in open {
            let mut rest = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut rest))
                .await
                .expect("an idle connection is closed on shutdown");
            assert!(
                matches!(read, Ok(0) | Err(_)),
                "closed, not answered: {read:?}"
            );
        }
        tokio::time::timeout(Duration::from_secs(10), done)
            .await
            .expect("every thread ends once its connections are closed")
            .unwrap();
    }

    #[tokio::test]
    async fn max_connections_is_one_budget_over_every_thread() {
        let Served {
            addr,
            stop: _stop,
            answered,
            done: _done,
        } = two_threads(1);
        let mut first = TcpStream::connect(addr).await.unwrap();
        get(&mut first).await;
        // Whichever thread's socket the second connection lands on, it waits for a permit.
        let mut second = TcpStream::connect(addr).await.unwrap();
        second
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        for answers in 2..=5 {
            get(&mut first).await;
            assert_eq!(
                answered.load(Ordering::SeqCst),
                answers,
                "only the first is served"
            );
        }
        drop(first);
        // Its permit returned, the second connection is taken and answered.
        let mut rest = Vec::new();
        let mut chunk = [0u8; 512];
        while !String::from_utf8_lossy(&rest).contains("omnigate-orders-") {
            let read = tokio::time::timeout(Duration::from_secs(10), second.read(&mut chunk))
                .await
                .expect("the second connection is answered once the first closes")
                .unwrap();
            assert!(read > 0);
            rest.extend_from_slice(&chunk[..read]);
        }
        assert_eq!(answered.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn zero_threads_means_one_per_core() {
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(thread_count(0), cores);
        assert_eq!(thread_count(3), 3);
    }
}
