//! Order updates that arrive before their order's id is bound (SPEC §6). DriveWealth's events
//! travel apart from its answers: an `orders.completed` can reach `POST /admin/events` while the
//! create that made the order is still on its way back, when the id names nothing yet. Such an
//! update is parked here for a while and applied the moment the id is bound, instead of being
//! dropped until the poller or reconciliation finds it.
//!
//! Should the create go unanswered instead, its order is held in doubt: an update parked with
//! that order's clientOrderID and account is then its answer, as an in-doubt order's event is.
//!
//! Parking is memory only and bounded ([`EARLY_IDS_MAX`] ids, [`EARLY_UPDATES_PER_ID`] updates
//! each, [`EARLY_TTL`]): what a crash loses here the poller and reconciliation still recover,
//! because the order they are about is open and its reservation kept. An update for an order
//! that never comes (one placed around omnigate) simply ages out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::ledger::{AccountIndex, OrderUpdate};

/// Most order ids with parked updates; the oldest goes first beyond it.
pub const EARLY_IDS_MAX: usize = 4_096;
/// Most updates kept for one id (a burst of events for one order: the latest are kept).
pub const EARLY_UPDATES_PER_ID: usize = 8;
/// Longest order id parked (DriveWealth's are about 40 bytes).
pub const ORDER_ID_BYTES_MAX: usize = 128;
/// How long an update waits for its bind: well past any upstream answer's timeout.
pub const EARLY_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct EarlyUpdates {
    parked: Mutex<HashMap<String, Parked>>,
    /// How many ids are parked, stored under `parked`'s lock after each change: a bind reads
    /// it without the lock and, seeing none, takes no lock at all. Sound because the engine
    /// parks and takes under one more lock (its updates lock), which orders this store before
    /// that load.
    ids: AtomicUsize,
}

struct Parked {
    since: Instant,
    /// The clientOrderID and account the updates named, to find the order should its create go
    /// unanswered and the order be held in doubt instead of bound.
    hint: Option<(String, AccountIndex)>,
    updates: Vec<OrderUpdate>,
}

impl EarlyUpdates {
    /// Parks `update` for `order_id`, in arrival order, with the clientOrderID and account it
    /// names.
    pub fn park(&self, order_id: &str, update: OrderUpdate, hint: Option<(String, AccountIndex)>) {
        self.park_at(order_id, update, hint, Instant::now());
    }

    fn park_at(
        &self,
        order_id: &str,
        update: OrderUpdate,
        hint: Option<(String, AccountIndex)>,
        now: Instant,
    ) {
        // Not an id DriveWealth issues; a hostile event's must not fill memory.
        if order_id.len() > ORDER_ID_BYTES_MAX {
            return;
        }
        let mut parked = self.parked.lock();
        if let Some(entry) = parked.get_mut(order_id) {
            // The latest updates carry the final status; the oldest go first.
            if entry.updates.len() >= EARLY_UPDATES_PER_ID {
                entry.updates.remove(0);
            }
            entry.updates.push(update);
            entry.hint = entry.hint.take().or(hint);
            return;
        }
        if parked.len() >= EARLY_IDS_MAX {
            parked.retain(|_, entry| now.duration_since(entry.since) < EARLY_TTL);
        }
        if parked.len() >= EARLY_IDS_MAX {
            let oldest = parked
                .iter()
                .min_by_key(|(_, entry)| entry.since)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                parked.remove(&oldest);
            }
        }
        parked.insert(
            order_id.to_owned(),
            Parked {
                since: now,
                hint,
                updates: vec![update],
            },
        );
        self.ids.store(parked.len(), Ordering::Release);
    }

    /// The updates parked for `order_id` within [`EARLY_TTL`], in arrival order, and forgets
    /// them. With none parked, as on nearly every bind, one atomic load and no lock. The
    /// caller holds the lock its parks are made under (see `ids`).
    pub fn take(&self, order_id: &str) -> Vec<OrderUpdate> {
        self.take_at(order_id, Instant::now())
    }

    fn take_at(&self, order_id: &str, now: Instant) -> Vec<OrderUpdate> {
        if self.ids.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let mut parked = self.parked.lock();
        let entry = parked.remove(order_id);
        self.ids.store(parked.len(), Ordering::Release);
        match entry {
            Some(entry) if now.duration_since(entry.since) < EARLY_TTL => entry.updates,
            _ => Vec::new(),
        }
    }
}

impl EarlyUpdates {
    /// The id and updates parked with `client_order_id` and an account `owns` accepts (the
    /// order held in doubt is that account's), within [`EARLY_TTL`]; forgotten once taken.
    pub fn take_for_client_order_id(
        &self,
        client_order_id: &str,
        owns: impl Fn(AccountIndex) -> bool,
    ) -> Option<(String, Vec<OrderUpdate>)> {
        let now = Instant::now();
        let mut parked = self.parked.lock();
        let order_id = parked
            .iter()
            .find(|(_, entry)| {
                now.duration_since(entry.since) < EARLY_TTL
                    && entry
                        .hint
                        .as_ref()
                        .is_some_and(|(id, account)| id == client_order_id && owns(*account))
            })
            .map(|(order_id, _)| order_id.clone())?;
        let entry = parked.remove(&order_id)?;
        self.ids.store(parked.len(), Ordering::Release);
        Some((order_id, entry.updates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::OrderStatus;
    use crate::money::Fixed;

    fn update(status: OrderStatus, quantity: i64) -> OrderUpdate {
        OrderUpdate {
            status,
            cumulative_quantity: Fixed::from_int(quantity).unwrap(),
            average_price: Fixed::from_int(100).unwrap(),
            fees: None,
        }
    }

    #[test]
    fn updates_wait_for_their_bind_in_order_and_age_out() {
        let early = EarlyUpdates::default();
        let start = Instant::now();
        early.park_at("SM.1", update(OrderStatus::PartialFill, 1), None, start);
        early.park_at("SM.1", update(OrderStatus::Filled, 2), None, start);
        early.park_at("SM.2", update(OrderStatus::Filled, 1), None, start);
        assert_eq!(
            early.take_at("SM.1", start + Duration::from_secs(1)),
            [
                update(OrderStatus::PartialFill, 1),
                update(OrderStatus::Filled, 2)
            ]
        );
        assert!(early.take_at("SM.1", start).is_empty(), "taken once");
        assert!(
            early.take_at("SM.2", start + EARLY_TTL).is_empty(),
            "aged out"
        );
    }

    #[test]
    fn the_parking_is_bounded() {
        let early = EarlyUpdates::default();
        let start = Instant::now();
        for n in 0..=EARLY_IDS_MAX {
            let at = start + Duration::from_millis(n as u64);
            early.park_at(&format!("SM.{n}"), update(OrderStatus::Filled, 1), None, at);
        }
        assert_eq!(early.parked.lock().len(), EARLY_IDS_MAX);
        assert!(
            early.take_at("SM.0", start).is_empty(),
            "the oldest went first"
        );
        assert_eq!(
            early.take_at(&format!("SM.{EARLY_IDS_MAX}"), start).len(),
            1
        );
        for n in 1..=2 * EARLY_UPDATES_PER_ID as i64 {
            early.park_at("SM.x", update(OrderStatus::PartialFill, n), None, start);
        }
        let kept = early.take_at("SM.x", start);
        assert_eq!(kept.len(), EARLY_UPDATES_PER_ID);
        assert_eq!(
            kept.last(),
            Some(&update(
                OrderStatus::PartialFill,
                2 * EARLY_UPDATES_PER_ID as i64
            )),
            "the latest are kept"
        );
        let long = "S".repeat(ORDER_ID_BYTES_MAX + 1);
        early.park_at(&long, update(OrderStatus::Filled, 1), None, start);
        assert!(early.take_at(&long, start).is_empty(), "not parked");
    }
}
