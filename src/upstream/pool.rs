//! The idle keep-alive connections to the one upstream, and the answer body that hands its
//! connection back once the answer has been read to its end.
//!
//! Each order thread owns an [`super::Upstream`] and so a pool of its own, and omnigate's own
//! calls (poller, reconciliation, token renewal) share one more: the lock below is taken by one
//! thread at a time in practice, and a connection's task runs on the runtime that opened it.
//! There is one upstream per pool, so connections are not keyed by host.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use parking_lot::Mutex;

use super::ProxyBody;

/// A connection's sending half: the request goes in, the answer comes out.
pub(super) type Sender = SendRequest<ProxyBody>;

pub(super) struct Pool {
    /// Oldest first; a connection is taken from the back (the most recently used is the least
    /// likely to have been closed by the upstream) and expires from the front.
    idle: Mutex<VecDeque<Idle>>,
    idle_max: usize,
    idle_timeout: Duration,
    /// Whether a task closing expired connections while no request comes has been started.
    reaper: std::sync::atomic::AtomicBool,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

impl Pool {
    pub(super) fn new(idle_max: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(VecDeque::new()),
            idle_max,
            idle_timeout,
            reaper: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The most recently used idle connection that is still open and not expired, if any.
    pub(super) fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock();
        while let Some(entry) = idle.pop_back() {
            if entry.since.elapsed() >= self.idle_timeout {
                // Every older one has expired too.
                idle.clear();
                return None;
            }
            if !entry.sender.is_closed() {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request, unless it is closed or the pool is full.
    fn give(self: &Arc<Self>, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        {
            let mut idle = self.idle.lock();
            Self::expire(&mut idle, now, self.idle_timeout);
            if idle.len() >= self.idle_max {
                return;
            }
            idle.push_back(Idle { sender, since: now });
        }
        self.start_reaper();
    }

    fn expire(idle: &mut VecDeque<Idle>, now: Instant, timeout: Duration) {
        while idle
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= timeout)
        {
            idle.pop_front();
        }
    }

    /// Closes connections that expire while no request comes to take or give one back. It holds
    /// the pool weakly, so it ends with the pool (or with the runtime it was started on; then
    /// expired connections are still closed by the next `take` or `give`).
    fn start_reaper(self: &Arc<Self>) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.reaper.load(Relaxed) || self.reaper.swap(true, Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.reaper.store(false, Relaxed);
            return;
        };
        let pool: Weak<Self> = Arc::downgrade(self);
        let every = (self.idle_timeout / 2).max(Duration::from_millis(10));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else { return };
                let mut idle = pool.idle.lock();
                Self::expire(&mut idle, Instant::now(), pool.idle_timeout);
            }
        });
    }

    /// Idle connections still open.
    #[cfg(test)]
    pub(super) fn idle_count(&self) -> usize {
        let idle = self.idle.lock();
        idle.iter()
            .filter(|entry| !entry.sender.is_closed())
            .count()
    }
}

/// An upstream answer's body. Read to its end, it gives its connection back to the pool; dropped
/// before that, the connection goes with it (HTTP/1 cannot reuse a connection whose answer was
/// not read).
pub struct UpstreamBody {
    inner: Incoming,
    give_back: Option<(Sender, Arc<Pool>)>,
}

impl UpstreamBody {
    pub(super) fn new(inner: Incoming, sender: Sender, pool: Arc<Pool>) -> Self {
        Self {
            inner,
            give_back: Some((sender, pool)),
        }
    }

    fn give_back(&mut self) {
        if let Some((sender, pool)) = self.give_back.take() {
            pool.give(sender);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            // The end (a chunked answer may say so only by its last poll).
            None => this.give_back(),
            Some(Ok(_)) if this.inner.is_end_stream() => this.give_back(),
            Some(Ok(_)) => {}
            // A cut answer: the connection is not reusable.
            Some(Err(_)) => this.give_back = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for UpstreamBody {
    /// An empty answer (`content-length: 0`, a 204) may never be polled: it is at its end already.
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.give_back();
        }
    }
}
