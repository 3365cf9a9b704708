//! A one-shot completion that an async task can `.await` and a plain thread can `wait()` on.
//!
//! tokio's oneshot would serve the async side, but its `blocking_recv` panics inside a runtime,
//! and the log's callers are both. This one is a mutex, a condvar and a waker slot. The writer
//! end ([`Completer`]) completes on drop with [`WalError::Closed`] if nothing completed it, so a
//! request lost in a disconnected channel can never leave its caller waiting forever.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::WalError;

enum Slot {
    Pending(Option<Waker>),
    Done(Result<u64, WalError>),
    Taken,
}

struct Completion {
    slot: Mutex<Slot>,
    ready: Condvar,
}

/// The writer's end: completes exactly once.
pub(crate) struct Completer(Option<Arc<Completion>>);

impl Completer {
    pub(crate) fn complete(mut self, result: Result<u64, WalError>) {
        if let Some(completion) = self.0.take() {
            fill(&completion, result);
        }
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(completion) = self.0.take() {
            fill(&completion, Err(WalError::Closed));
        }
    }
}

fn fill(completion: &Completion, result: Result<u64, WalError>) {
    let waker = {
        let mut slot = completion.slot.lock();
        let Slot::Pending(waker) = std::mem::replace(&mut *slot, Slot::Done(result)) else {
            // Completed already (cannot happen: the Completer is consumed). Keep what was there.
            debug_assert!(false, "completed twice");
            return;
        };
        waker
    };
    completion.ready.notify_all();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A pair: the writer's [`Completer`] and the caller's [`Appending`].
pub(crate) fn pair() -> (Completer, Appending) {
    let completion = Arc::new(Completion {
        slot: Mutex::new(Slot::Pending(None)),
        ready: Condvar::new(),
    });
    (
        Completer(Some(completion.clone())),
        Appending(State::Waiting(completion)),
    )
}

/// An append in flight. `.await` it, or call [`Appending::wait`] from a thread that may block.
/// It resolves to the record's lsn once the record is durable under the log's fsync policy.
/// Dropping it does not cancel the append.
#[must_use = "an append is acknowledged only when this resolves"]
pub struct Appending(State);

enum State {
    Ready(Option<Result<u64, WalError>>),
    Waiting(Arc<Completion>),
}

impl Appending {
    /// An append that failed before it was queued.
    pub(crate) fn ready(result: Result<u64, WalError>) -> Self {
        Appending(State::Ready(Some(result)))
    }

    /// True when the append never reached the queue (it has already resolved to an error), so
    /// no lsn was given to it.
    pub fn was_refused(&self) -> bool {
        matches!(self.0, State::Ready(Some(Err(_))))
    }

    /// Blocks the calling thread until the append completes. Not for async code: `.await`.
    pub fn wait(self) -> Result<u64, WalError> {
        match self.0 {
            State::Ready(result) => result.unwrap_or(Err(WalError::Closed)),
            State::Waiting(completion) => {
                let mut slot = completion.slot.lock();
                loop {
                    if let Some(result) = take(&mut slot) {
                        return result;
                    }
                    completion.ready.wait(&mut slot);
                }
            }
        }
    }

    /// Like [`Appending::wait`], but gives up after `timeout`, returning the still-pending
    /// append.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<u64, WalError>, Appending> {
        match self.0 {
            State::Ready(result) => Ok(result.unwrap_or(Err(WalError::Closed))),
            State::Waiting(completion) => {
                {
                    let mut slot = completion.slot.lock();
                    if let Some(result) = take(&mut slot) {
                        return Ok(result);
                    }
                    let _ = completion.ready.wait_for(&mut slot, timeout);
                    if let Some(result) = take(&mut slot) {
                        return Ok(result);
                    }
                }
                Err(Appending(State::Waiting(completion)))
            }
        }
    }
}

fn take(slot: &mut Slot) -> Option<Result<u64, WalError>> {
    match std::mem::replace(slot, Slot::Taken) {
        Slot::Done(result) => Some(result),
        // Taken twice would be a second poll after Ready; answer with an error, don't panic.
        Slot::Taken => Some(Err(WalError::Closed)),
        pending @ Slot::Pending(_) => {
            *slot = pending;
            None
        }
    }
}

impl Future for Appending {
    type Output = Result<u64, WalError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.0 {
            State::Ready(result) => Poll::Ready(result.take().unwrap_or(Err(WalError::Closed))),
            State::Waiting(completion) => {
                let mut slot = completion.slot.lock();
                if let Slot::Pending(waker) = &mut *slot {
                    match waker {
                        Some(waker) if waker.will_wake(cx.waker()) => {}
                        _ => *waker = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
                Poll::Ready(take(&mut slot).unwrap_or(Err(WalError::Closed)))
            }
        }
    }
}

impl std::fmt::Debug for Appending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.0 {
            State::Ready(_) => "ready",
            State::Waiting(completion) => match &*completion.slot.lock() {
                Slot::Pending(_) => "pending",
                Slot::Done(_) => "done",
                Slot::Taken => "taken",
            },
        };
        f.debug_tuple("Appending").field(&state).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_a_blocked_thread() {
        let (completer, appending) = pair();
        let waiter = std::thread::spawn(move || appending.wait());
        completer.complete(Ok(7));
        assert_eq!(waiter.join().expect("waiter thread"), Ok(7));
    }

    #[test]
    fn completes_an_awaiting_task() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (completer, appending) = pair();
        let thread = std::thread::spawn(move || completer.complete(Ok(3)));
        assert_eq!(runtime.block_on(appending), Ok(3));
        thread.join().expect("completer thread");
    }

    #[test]
    fn a_dropped_completer_answers_closed() {
        let (completer, appending) = pair();
        drop(completer);
        assert_eq!(appending.wait(), Err(WalError::Closed));
    }

    #[test]
    fn wait_timeout_gives_the_append_back() {
        let (completer, appending) = pair();
        let appending = appending
            .wait_timeout(Duration::from_millis(1))
            .expect_err("still pending");
        completer.complete(Ok(1));
        assert_eq!(
            appending.wait_timeout(Duration::from_secs(5)).ok(),
            Some(Ok(1))
        );
    }
}
