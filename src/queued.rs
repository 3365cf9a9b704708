//! Orders omnigate accepted for a later open, by the upstream's `orderId`: what the cancel
//! cut-off rule (SPEC §4.4) needs to know about an order it is asked to cancel.
//!
//! Bounded: an entry is useless once its open has passed, so expired entries are swept as new
//! ones arrive, and past its share of `capacity` a shard drops its oldest-opening eighth first.
//! Snapshots read the shards copy-on-write ([`crate::cow`]).

use chrono::{DateTime, Utc};

use crate::cow::{CowShards, Freeze};
use crate::decide::QueuedOrder;
use crate::fast_map::{shard_hash, FastHashMap};

/// Entries per shard at most (before rounding): what a running snapshot may have to copy for
/// one change.
const ENTRIES_PER_SHARD: usize = 4096;
const SHARDS_MAX: usize = 256;

/// A full shard drops this fraction of its entries, the earliest to open, at once.
const EVICTED_PER_SCAN: usize = 8;

/// By DriveWealth's orderId, with the order path's fast hasher (an insert per queued order).
#[derive(Default)]
struct Shard(FastHashMap<String, QueuedOrder>);

impl Shard {
    /// Drops the `count` entries that open first (ties at the last open taken in any order).
    fn drop_oldest_opening(&mut self, count: usize) {
        if count == 0 || self.0.is_empty() {
            return;
        }
        if count >= self.0.len() {
            self.0.clear();
            return;
        }
        let mut opens: Vec<DateTime<Utc>> = self.0.values().map(|entry| entry.open).collect();
        let (earlier, cutoff, _) = opens.select_nth_unstable(count - 1);
        let cutoff = *cutoff;
        // `earlier` holds the count - 1 smallest opens but the cutoff, some equal to it.
        let mut ties = count - earlier.iter().filter(|open| **open < cutoff).count();
        self.0.retain(|_, entry| {
            if entry.open < cutoff {
                false
            } else if entry.open == cutoff && ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl Freeze for Shard {
    type Frozen = Vec<(String, QueuedOrder)>;
    fn freeze(&self) -> Self::Frozen {
        self.0
            .iter()
            .map(|(order_id, queued)| (order_id.clone(), *queued))
            .collect()
    }
}

pub struct QueuedOrders {
    per_shard: usize,
    shards: CowShards<Shard>,
}

impl QueuedOrders {
    pub fn new(capacity: usize) -> Self {
        let shards = capacity
            .div_ceil(ENTRIES_PER_SHARD)
            .next_power_of_two()
            .min(SHARDS_MAX);
        Self {
            per_shard: capacity.div_ceil(shards).max(1),
            shards: CowShards::new(shards),
        }
    }

    fn shard_of(&self, order_id: &str) -> usize {
        self.shards.index(shard_hash(order_id))
    }

    pub fn insert(&self, order_id: &str, queued: QueuedOrder, now: DateTime<Utc>) {
        let mut shard = self.shards.change(self.shard_of(order_id));
        if shard.0.len() >= self.per_shard {
            shard.0.retain(|_, entry| entry.open > now);
            if shard.0.len() >= self.per_shard {
                // A whole eighth at once: the scan is paid once per eighth of a shard's inserts,
                // not on every insert into a full shard (it cost ~10 µs an order at 1 million).
                let excess = shard.0.len() + 1 - self.per_shard;
                shard.drop_oldest_opening(excess.max(self.per_shard / EVICTED_PER_SCAN));
            }
        }
        shard.0.insert(order_id.to_owned(), queued);
    }

    /// What is known of `order_id`, if it was queued for an open still to come.
    pub fn get(&self, order_id: &str, now: DateTime<Utc>) -> Option<QueuedOrder> {
        let queued = *self.shards.read(self.shard_of(order_id)).0.get(order_id)?;
        (queued.open > now).then_some(queued)
    }

    /// Begins a snapshot (every change paused); read it with [`QueuedOrders::read_snapshot`].
    pub(crate) fn begin_snapshot(&self) -> u64 {
        self.shards.begin_snapshot()
    }

    /// Every entry as it was when snapshot `running` began, sorted by orderId.
    pub(crate) fn read_snapshot(&self, running: u64) -> Vec<(String, QueuedOrder)> {
        let mut entries: Vec<(String, QueuedOrder)> = self
            .shards
            .read_snapshot(running)
            .into_iter()
            .flat_map(|(_, shard)| shard)
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries
    }

    pub fn len(&self) -> usize {
        (0..self.shards.count())
            .map(|index| self.shards.read(index).0.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn a_full_shard_drops_its_earliest_opening_eighth_at_once() {
        let queued = QueuedOrders::new(64); // one shard of 64
        let order = |open| QueuedOrder {
            exchange: Exchange::Nasdaq,
            open,
        };
        // 32 orders opening at hour 3, then 32 at hour 9 (all still to come at hour 0).
        for index in 0..64 {
            let open = if index < 32 { at(3) } else { at(9) };
            queued.insert(&format!("o{index}"), order(open), at(0));
        }
        assert_eq!(queued.len(), 64);
        queued.insert("late", order(at(12)), at(0));
        // 64 / 8 = 8 went, all from the earliest open; the new entry is in.
        assert_eq!(queued.len(), 57);
        let early = (0..32)
            .filter(|index| queued.get(&format!("o{index}"), at(0)).is_some())
            .count();
        let later = (32..64)
            .filter(|index| queued.get(&format!("o{index}"), at(0)).is_some())
            .count();
        assert_eq!((early, later), (24, 32));
        assert!(queued.get("late", at(0)).is_some());
        // The next seven inserts fit without another drop.
        for index in 0..7 {
            queued.insert(&format!("n{index}"), order(at(12)), at(0));
        }
        assert_eq!(queued.len(), 64);
    }
}
