//! The signal that tells a listener's open connections to finish.
//!
//! A connection's task polls it beside the connection on every wake-up, twice an order (the
//! request, the upstream's answer). tokio's `watch` takes its waiter list's lock on each of those
//! polls, which came to about 1.5k instructions an order; here a poll after the first is one load
//! and a waker comparison. A connection registers its waker once, under the lock, and removes it
//! when it ends.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// Stops every [`Stopping`] made from it, once.
#[derive(Default)]
pub struct Stop {
    stopped: AtomicBool,
    next_key: AtomicU64,
    /// The waker of each registered [`Stopping`] not yet woken, by its key.
    waiting: Mutex<HashMap<u64, Waker>>,
}

impl Stop {
    /// A future that resolves once [`Stop::stop`] has been called.
    pub fn stopping(self: &Arc<Self>) -> Stopping {
        Stopping {
            stop: self.clone(),
            registered: None,
        }
    }

    /// Resolves every [`Stopping`], those polled later included.
    pub fn stop(&self) {
        // The flag first: a poll that takes the lock after the wakers are taken sees it there.
        self.stopped.store(true, Ordering::Release);
        let woken: Vec<Waker> = self
            .waiting
            .lock()
            .drain()
            .map(|(_, waker)| waker)
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }

    /// How many futures wait with a registered waker.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// Resolves once its [`Stop`] is stopped.
pub struct Stopping {
    stop: Arc<Stop>,
    /// This future's key in `stop.waiting` and the waker registered there.
    registered: Option<(u64, Waker)>,
}

impl Future for Stopping {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.stop.stopped.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &this.registered {
            if waker.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        let mut waiting = this.stop.waiting.lock();
        // Checked again under the lock: a stop that took the wakers before it must be seen here,
        // or this waker would be stored after them and never woken.
        if this.stop.stopped.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let key = match &this.registered {
            Some((key, _)) => *key,
            None => this.stop.next_key.fetch_add(1, Ordering::Relaxed),
        };
        waiting.insert(key, cx.waker().clone());
        this.registered = Some((key, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Stopping {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            self.stop.waiting.lock().remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn resolves_when_stopped_before_or_after_its_first_poll() {
        let stop = Arc::new(Stop::default());
        let mut early = stop.stopping();
        assert!((&mut early).now_or_never().is_none());
        assert_eq!(stop.waiting(), 1);
        stop.stop();
        assert_eq!(stop.waiting(), 0);
        assert!(early.now_or_never().is_some());
        assert!(stop.stopping().now_or_never().is_some());
    }

    #[test]
    fn a_dropped_future_leaves_no_waker_behind() {
        let stop = Arc::new(Stop::default());
        let mut pending: Vec<Stopping> = (0..3).map(|_| stop.stopping()).collect();
        for future in &mut pending {
            assert!(future.now_or_never().is_none());
        }
        assert_eq!(stop.waiting(), 3);
        pending.truncate(1);
        assert_eq!(stop.waiting(), 1);
        drop(pending);
        assert_eq!(stop.waiting(), 0);
    }

    #[test]
    fn a_poll_with_another_waker_replaces_the_registered_one() {
        let stop = Arc::new(Stop::default());
        let mut future = stop.stopping();
        assert!((&mut future).now_or_never().is_none());
        let (woken, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert_eq!(stop.waiting(), 1);
        stop.stop();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
    }

    /// Tasks on other threads, some waiting already, some polled as the stop comes: every one
    /// finishes (within a deadline far beyond what it takes).
    #[test]
    fn every_waiting_task_on_every_thread_is_woken() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..50 {
                let stop = Arc::new(Stop::default());
                let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(stop.stopping())).collect();
                tokio::task::yield_now().await;
                stop.stop();
                for task in tasks {
                    tokio::time::timeout(Duration::from_secs(10), task)
                        .await
                        .expect("a waiting task was never woken")
                        .unwrap();
                }
                assert_eq!(stop.waiting(), 0);
            }
        });
    }

    fn counting_waker() -> (Arc<std::sync::atomic::AtomicUsize>, Waker) {
        struct Counting(Arc<std::sync::atomic::AtomicUsize>);
        impl std::task::Wake for Counting {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        (count.clone(), Waker::from(Arc::new(Counting(count))))
    }
}
