//! Copy-on-write cells, so a snapshot reads one instant of the state while orders keep changing
//! it (SPEC §10: "a snapshot never stops the order path").
//!
//! # How a snapshot sees one instant
//! State that a snapshot carries lives in [`CowCell`]s: one per customer (without its orders),
//! one per shard of the smaller maps. Open orders are kept one by one the same way by the ledger
//! itself (`Ledger::change_order`, with [`SnapshotEpoch::running`]), so that a customer with many
//! open orders costs a change no more than one with few. A snapshot *begins* ([`SnapshotEpoch::begin`]) with every change paused — the
//! engine's gate held exclusively, for microseconds — and from then on:
//! - the first change to a cell copies what the snapshot needs from it ([`Freeze::freeze`]) before
//!   changing it, and keeps the copy in the cell;
//! - the snapshot visits every cell once ([`CowCell::snapshot`]) and takes that copy, or, for a
//!   cell nobody changed since the beginning, freezes the cell as it is now (the same content);
//! - a cell created after the beginning did not exist at that instant, and is skipped.
//!
//! So the snapshot is exactly the state at its beginning, whatever the order path did meanwhile,
//! and an order waits at most for one cell's copy (a customer, an order, or one shard of a map).
//!
//! # Invariant the callers keep
//! Every change goes through [`CowCell::change`]; [`CowCell::read`] gives no way to change. The
//! beginning must be atomic with the log position it is taken at: [`SnapshotEpoch::begin`] runs
//! while no change is in flight, and every change whose record is in the log below that
//! position was made before it.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};

/// Which snapshot is being read, if any. One per structure that snapshots read.
#[derive(Debug, Default)]
pub struct SnapshotEpoch {
    /// The running snapshot's number; 0 when none runs.
    running: AtomicU64,
    last: AtomicU64,
}

impl SnapshotEpoch {
    /// Starts a snapshot and returns its number. Call with every change paused (see the module
    /// doc), and end it with [`SnapshotEpoch::end`] once every cell was visited.
    pub fn begin(&self) -> u64 {
        let number = self.last.fetch_add(1, Ordering::Relaxed) + 1;
        self.running.store(number, Ordering::Release);
        number
    }

    /// Ends the running snapshot: changes stop keeping copies.
    pub fn end(&self) {
        self.running.store(0, Ordering::Release);
    }

    /// The running snapshot's number, 0 when none runs. For state kept copy-on-write by hand
    /// (the ledger's orders, each with the number of the snapshot that has it).
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Acquire)
    }
}

/// What a snapshot needs of a value, copied out of it.
pub trait Freeze {
    /// The copy (usually the value's records, or cheap handles to them).
    type Frozen: Send;
    fn freeze(&self) -> Self::Frozen;
}

/// A value behind a mutex that a snapshot can read as of its beginning.
pub struct CowCell<T: Freeze> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T: Freeze> {
    value: T,
    /// The snapshot that has this cell's content (copied, or read), or that the cell was born
    /// during. A change copies when the running snapshot differs.
    seen_by: u64,
    /// The copy a change made for `seen_by`, until the snapshot takes it.
    kept: Option<T::Frozen>,
}

impl<T: Freeze> CowCell<T> {
    /// A cell that exists from now on: a snapshot already running does not see it.
    pub fn new(value: T, epoch: &SnapshotEpoch) -> Self {
        CowCell {
            inner: Mutex::new(Inner {
                value,
                seen_by: epoch.running(),
                kept: None,
            }),
        }
    }

    /// Locks the value to change it. If a snapshot is running and has not read this cell yet,
    /// its content is copied first.
    pub fn change(&self, epoch: &SnapshotEpoch) -> MappedMutexGuard<'_, T> {
        let mut inner = self.inner.lock();
        let running = epoch.running();
        if running != 0 && inner.seen_by != running {
            inner.kept = Some(inner.value.freeze());
            inner.seen_by = running;
        }
        MutexGuard::map(inner, |inner| &mut inner.value)
    }

    /// Locks the value to read it.
    pub fn read(&self) -> ReadGuard<'_, T> {
        ReadGuard(MutexGuard::map(self.inner.lock(), |inner| &mut inner.value))
    }

    /// Snapshot `running`'s read of this cell: its content at the snapshot's beginning, or
    /// `None` if the cell was born after it (or was already read).
    pub fn snapshot(&self, running: u64) -> Option<T::Frozen> {
        let mut inner = self.inner.lock();
        if inner.seen_by == running {
            return inner.kept.take();
        }
        inner.seen_by = running;
        inner.kept = None;
        Some(inner.value.freeze())
    }
}

impl<T: Freeze> std::fmt::Debug for CowShards<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CowShards")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// A locked value, read-only.
pub struct ReadGuard<'a, T: Freeze>(MappedMutexGuard<'a, T>);

impl<T: Freeze> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A fixed number of [`CowCell`] shards with their own [`SnapshotEpoch`]: the shape of every map
/// a snapshot carries besides the customers. Shard counts are powers of two.
pub struct CowShards<T: Freeze> {
    shards: Box<[CowCell<T>]>,
    epoch: SnapshotEpoch,
}

impl<T: Freeze + Default> CowShards<T> {
    pub fn new(count: usize) -> Self {
        assert!(
            count.is_power_of_two(),
            "shard count {count} is a power of two"
        );
        let epoch = SnapshotEpoch::default();
        CowShards {
            shards: (0..count)
                .map(|_| CowCell::new(T::default(), &epoch))
                .collect(),
            epoch,
        }
    }
}

impl<T: Freeze> CowShards<T> {
    /// The shard of a key's hash.
    pub fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.shards.len() - 1)
    }

    pub fn count(&self) -> usize {
        self.shards.len()
    }

    /// Locks shard `index` to change it (see [`CowCell::change`]).
    pub fn change(&self, index: usize) -> MappedMutexGuard<'_, T> {
        self.shards[index].change(&self.epoch)
    }

    pub fn read(&self, index: usize) -> ReadGuard<'_, T> {
        self.shards[index].read()
    }

    /// Begins a snapshot (every change paused, see the module doc).
    pub fn begin_snapshot(&self) -> u64 {
        self.epoch.begin()
    }

    /// Every shard as it was when snapshot `running` began, with its index; then it ends.
    pub fn read_snapshot(&self, running: u64) -> Vec<(usize, T::Frozen)> {
        let frozen = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(index, shard)| Some((index, shard.snapshot(running)?)))
            .collect();
        self.epoch.end();
        frozen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Freeze for Vec<u32> {
        type Frozen = Vec<u32>;
        fn freeze(&self) -> Vec<u32> {
            self.clone()
        }
    }

    #[test]
    fn a_snapshot_reads_each_cell_as_it_was_when_it_began() {
        let epoch = SnapshotEpoch::default();
        let changed = CowCell::new(vec![1], &epoch);
        let untouched = CowCell::new(vec![2], &epoch);
        changed.change(&epoch).push(10); // no snapshot running: no copy
        let running = epoch.begin();
        let born = CowCell::new(vec![3], &epoch);
        changed.change(&epoch).push(11);
        changed.change(&epoch).push(12); // copied once, at the first change
        born.change(&epoch).push(30);
        assert_eq!(changed.snapshot(running), Some(vec![1, 10]));
        assert_eq!(untouched.snapshot(running), Some(vec![2]));
        assert_eq!(born.snapshot(running), None, "born after the beginning");
        untouched.change(&epoch).push(20); // read already: no copy kept
        assert_eq!(untouched.snapshot(running), None);
        epoch.end();
        assert_eq!(*changed.read(), vec![1, 10, 11, 12]);

        let next = epoch.begin();
        assert_eq!(born.snapshot(next), Some(vec![3, 30]));
        assert_eq!(untouched.snapshot(next), Some(vec![2, 20]));
    }

    #[test]
    fn concurrent_changes_never_leak_into_a_running_snapshot() {
        let epoch = SnapshotEpoch::default();
        let cells: Vec<CowCell<Vec<u32>>> =
            (0..64).map(|i| CowCell::new(vec![i], &epoch)).collect();
        for round in 1..=20u32 {
            let running = epoch.begin();
            let expected: Vec<Vec<u32>> = cells.iter().map(|cell| cell.read().clone()).collect();
            let seen = std::thread::scope(|scope| {
                scope.spawn(|| {
                    for cell in cells.iter().rev() {
                        cell.change(&epoch).push(round);
                    }
                });
                cells
                    .iter()
                    .map(|cell| cell.snapshot(running).expect("existed at the start"))
                    .collect::<Vec<_>>()
            });
            epoch.end();
            assert_eq!(seen, expected, "round {round}");
        }
    }
}
