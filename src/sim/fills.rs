//! How orders move on: each open order has a task that steps it (see [`Order::advance`]) after
//! `fill_delay_ms`, and, while its session is closed, a halt holds it or its price is not met,
//! waits for a change (a price, a status, the clock) or the next [`RECHECK`], whichever first.
//! Every step that changes an order posts its event.
//!
//! [`Order::advance`]: super::order::Order::advance

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::{watch, Notify};

use super::book::SimOrder;
use super::order::{Conditions, Progress, Status};
use super::wire::{self, FillsUpdate, JsonObject};
use super::{stopped_signalled, Simulator};
use crate::money::Fixed;

/// How often a waiting order looks again without being told of a change: the in-process
/// simulator shares omnigate's clock, which `PUT /admin/clock` moves without telling it, and
/// real time reaches the open by itself.
pub const RECHECK: Duration = Duration::from_secs(1);

pub struct Progression {
    /// Delay before each fill step.
    fill_delay_ms: AtomicU64,
    /// `PUT /sim/fills {"paused": true}` holds every order where it is.
    paused: watch::Sender<bool>,
    /// Fill steps take it shared, `PUT /sim/fills` exclusively: once a pause is answered, no
    /// fill step is still under way.
    gate: RwLock<()>,
    /// Told of anything that may let a waiting order move.
    changed: Notify,
}

impl Progression {
    pub fn new(fill_delay_ms: u64) -> Progression {
        Progression {
            fill_delay_ms: AtomicU64::new(fill_delay_ms),
            paused: watch::channel(false).0,
            gate: RwLock::new(()),
            changed: Notify::new(),
        }
    }

    /// Wakes every waiting order to look again.
    pub fn market_changed(&self) {
        self.changed.notify_waiters();
    }
}

enum Step {
    Done,
    More,
    Paused,
    Waiting,
}

/// The event an order's new status is told in.
fn event_kind(status: Status) -> &'static str {
    if status.is_final() {
        "orders.completed"
    } else {
        "orders.updated"
    }
}

impl Simulator {
    /// `PUT /sim/fills`.
    pub(super) fn update_fills(&self, update: FillsUpdate) -> String {
        let progression = &self.progression;
        let _exclusive = progression.gate.write();
        if let Some(delay_ms) = update.fill_delay_ms {
            progression.fill_delay_ms.store(delay_ms, Ordering::Relaxed);
        }
        if let Some(paused) = update.paused {
            progression.paused.send_replace(paused);
        }
        self.fills_json()
    }

    /// `GET /sim/fills`.
    pub(super) fn fills_json(&self) -> String {
        let progression = &self.progression;
        let mut object = JsonObject::new();
        object
            .boolean("paused", *progression.paused.borrow())
            .integer(
                "fill_delay_ms",
                progression.fill_delay_ms.load(Ordering::Relaxed),
            );
        object.finish()
    }

    /// Starts an order on its way to a final status: at once when there is no fill delay and
    /// fills are not paused, else on its own task.
    pub(super) fn start_fills(self: &Arc<Self>, record: Arc<SimOrder>) {
        if self.progression.fill_delay_ms.load(Ordering::Relaxed) == 0 {
            loop {
                match self.fill_step(&record) {
                    Step::Done => return,
                    Step::More => continue,
                    Step::Paused | Step::Waiting => break,
                }
            }
        }
        tokio::spawn(Arc::clone(self).run_fills(record));
    }

    async fn run_fills(self: Arc<Self>, record: Arc<SimOrder>) {
        let mut stopped = self.stopped.subscribe();
        let mut paused = self.progression.paused.subscribe();
        let mut wait_delay = true;
        loop {
            let delay_ms = self.progression.fill_delay_ms.load(Ordering::Relaxed);
            if wait_delay && delay_ms > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                    _ = stopped_signalled(&mut stopped) => return,
                }
            }
            tokio::select! {
                resumed = fills_resumed(&mut paused) => {
                    if !resumed {
                        return;
                    }
                }
                _ = stopped_signalled(&mut stopped) => return,
            }
            // Listening before the step, so a change made during it is not missed.
            let changed = self.progression.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            match self.fill_step(&record) {
                Step::Done => return,
                Step::More => wait_delay = true,
                // Paused between the wait and the step: wait for the resume, not a new delay.
                Step::Paused => wait_delay = false,
                Step::Waiting => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep(RECHECK) => {}
                        _ = stopped_signalled(&mut stopped) => return,
                    }
                    wait_delay = false;
                }
            }
        }
    }

    fn fill_step(&self, record: &SimOrder) -> Step {
        let _shared = self.progression.gate.read();
        if *self.progression.paused.borrow() {
            return Step::Paused;
        }
        let now = self.clock.now();
        let mut state = record.state.lock();
        let status_before = state.status();
        let progress = self.funds.settle(|cash| {
            let taken_before = state.cash_taken();
            let trading = self.hours.trading(now, &state);
            let progress = state.advance(Conditions {
                now,
                price: self.prices.price(&record.listing.symbol),
                trading,
                halted: record.listing.is_halted(),
                cash,
            });
            let spent = state
                .cash_taken()
                .checked_sub(taken_before)
                .unwrap_or(Fixed::ZERO);
            (progress, spent)
        });
        let changed = state.status() != status_before
            || matches!(progress, Progress::PartiallyFilled | Progress::Filled);
        if changed {
            self.post_order_event(event_kind(state.status()), &state);
        }
        match progress {
            Progress::PartiallyFilled => Step::More,
            Progress::Waiting => Step::Waiting,
            Progress::Filled | Progress::Rejected | Progress::Expired | Progress::Unchanged => {
                Step::Done
            }
        }
    }

    /// Posts the event of a change made outside a fill step (a create, a cancel).
    pub(super) fn post_order_event(&self, kind: &str, state: &super::order::Order) {
        let payload = wire::order_status(state, wire::Shape::EventPayload).finish();
        self.outbox.post(kind, &payload);
    }
}

/// Resolves once fills are not paused; false if the simulator is gone.
async fn fills_resumed(paused: &mut watch::Receiver<bool>) -> bool {
    paused.wait_for(|paused| !*paused).await.is_ok()
}
