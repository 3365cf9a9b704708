//! Ids already applied: redelivered events, credited payments.

use std::collections::{HashSet, VecDeque};

use parking_lot::Mutex;

/// Remembers the most recent event ids so a redelivered event is applied once.
///
/// Bounded: past `capacity` ids the oldest is forgotten. DriveWealth redelivers within minutes;
/// order updates are idempotent by themselves, so only deposits rely on this, and they are also
/// kept once per `paymentID` by the ledger.
pub struct SeenEvents {
    capacity: usize,
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl SeenEvents {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// Every id remembered, oldest first (for snapshots).
    pub fn ids(&self) -> Vec<String> {
        self.inner.lock().1.iter().cloned().collect()
    }

    /// True the first time `id` is seen.
    pub fn first_time(&self, id: &str) -> bool {
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        if set.contains(id) {
            return false;
        }
        if order.len() >= self.capacity {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        set.insert(id.to_owned());
        order.push_back(id.to_owned());
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
