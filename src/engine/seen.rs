//! Ids already applied: redelivered events, credited payments.

use std::collections::{HashSet, VecDeque};

use crate::cow::{CowCell, Freeze, SnapshotEpoch};

/// Remembers the most recent event ids so a redelivered event is applied once.
///
/// Bounded: past `capacity` ids the oldest is forgotten. DriveWealth redelivers within minutes;
/// order updates are idempotent by themselves, so only deposits rely on this, and they are also
/// kept once per `paymentID` by the ledger. Snapshots read it copy-on-write ([`crate::cow`]).
pub struct SeenEvents {
    capacity: usize,
    epoch: SnapshotEpoch,
    inner: CowCell<Seen>,
}

#[derive(Default)]
struct Seen {
    set: HashSet<String>,
    /// Oldest first.
    order: VecDeque<String>,
}

impl Freeze for Seen {
    type Frozen = Vec<String>;
    fn freeze(&self) -> Vec<String> {
        self.order.iter().cloned().collect()
    }
}

impl SeenEvents {
    pub fn new(capacity: usize) -> Self {
        let epoch = SnapshotEpoch::default();
        Self {
            capacity,
            inner: CowCell::new(Seen::default(), &epoch),
            epoch,
        }
    }

    /// Begins a snapshot (every change paused); read it with [`SeenEvents::read_snapshot`].
    pub(crate) fn begin_snapshot(&self) -> u64 {
        self.epoch.begin()
    }

    /// Every id remembered when snapshot `running` began, oldest first.
    pub(crate) fn read_snapshot(&self, running: u64) -> Vec<String> {
        let ids = self.inner.snapshot(running).unwrap_or_default();
        self.epoch.end();
        ids
    }

    /// Whether `id` has been seen (and not forgotten since).
    pub fn contains(&self, id: &str) -> bool {
        self.inner.read().set.contains(id)
    }

    /// True the first time `id` is seen.
    pub fn first_time(&self, id: &str) -> bool {
        if self.inner.read().set.contains(id) {
            return false;
        }
        let mut seen = self.inner.change(&self.epoch);
        if seen.set.contains(id) {
            return false;
        }
        if seen.order.len() >= self.capacity {
            if let Some(oldest) = seen.order.pop_front() {
                seen.set.remove(&oldest);
            }
        }
        seen.set.insert(id.to_owned());
        seen.order.push_back(id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_seen_once_within_capacity() {
        let seen = SeenEvents::new(2);
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        assert!(seen.first_time("b"));
        assert!(seen.first_time("c")); // forgets "a"
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("c"));
    }
}
