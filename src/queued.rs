//! Orders omnigate accepted for a later open, by the upstream's `orderId`: what the cancel
//! cut-off rule (SPEC §4.4) needs to know about an order it is asked to cancel.
//!
//! Bounded: an entry is useless once its open has passed, so expired entries are swept as new
//! ones arrive, and past `capacity` live entries the oldest-opening ones go first.

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::decide::QueuedOrder;

pub struct QueuedOrders {
    capacity: usize,
    by_order_id: DashMap<String, QueuedOrder>,
}

impl QueuedOrders {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            by_order_id: DashMap::new(),
        }
    }

    pub fn insert(&self, order_id: &str, queued: QueuedOrder, now: DateTime<Utc>) {
        if self.by_order_id.len() >= self.capacity {
            self.by_order_id.retain(|_, entry| entry.open > now);
            while self.by_order_id.len() >= self.capacity {
                let oldest = self
                    .by_order_id
                    .iter()
                    .min_by_key(|entry| entry.open)
                    .map(|entry| entry.key().clone());
                match oldest {
                    Some(key) => {
                        self.by_order_id.remove(&key);
                    }
                    None => break,
                }
            }
        }
        self.by_order_id.insert(order_id.to_owned(), queued);
    }

    /// What is known of `order_id`, if it was queued for an open still to come.
    pub fn get(&self, order_id: &str, now: DateTime<Utc>) -> Option<QueuedOrder> {
        let queued = *self.by_order_id.get(order_id)?;
        (queued.open > now).then_some(queued)
    }

    /// Every entry (for snapshots).
    pub fn entries(&self) -> Vec<(String, QueuedOrder)> {
        self.by_order_id
            .iter()
            .map(|entry| (entry.key().clone(), *entry.value()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_order_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_order_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::Exchange;

    fn at(hour: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + i64::from(hour) * 3600, 0).unwrap()
    }

    #[test]
    fn entries_expire_at_their_open_and_the_map_stays_bounded() {
        let queued = QueuedOrders::new(2);
        let order = |open| QueuedOrder {
            exchange: Exchange::Nasdaq,
            open,
        };
        queued.insert("a", order(at(1)), at(0));
        queued.insert("b", order(at(5)), at(0));
        assert_eq!(queued.get("a", at(0)), Some(order(at(1))));
        assert_eq!(queued.get("a", at(1)), None, "the open has come");
        queued.insert("c", order(at(6)), at(2)); // sweeps "a", which has expired
        assert_eq!(queued.len(), 2);
        queued.insert("d", order(at(7)), at(2)); // full of live entries: "b" opens first, goes
        assert_eq!(queued.len(), 2);
        assert!(queued.get("b", at(2)).is_none());
        assert!(queued.get("d", at(2)).is_some());
    }
}
