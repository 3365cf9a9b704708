//! How the engine writes to the WAL, and why the order of records can be trusted.
//!
//! Every state change is applied in memory and its record put on the WAL's queue while a
//! *gate* is held; the caller then awaits durability (outside the gate) before it acts on the
//! change — forwards the order, or answers the admin call.
//!
//! - The order path, fills and order lifecycle take the gate **shared**: they run concurrently
//!   and their records may reach the queue in another order than their effects reached memory.
//!   Replay copes: reservations replay as effects without balance checks (they commute), each
//!   order's own records are causally ordered (a bind is queued before the order can be found
//!   by its upstream id; updates are applied and queued under one mutex), and fills are
//!   idempotent by cumulative quantity.
//! - Admin changes (customers, cash, omni, instruments, kill switch, limits, the settlement
//!   roll) take the gate **exclusively**, so their records sit in the log exactly where their
//!   effects happened relative to everything else.
//! - A snapshot *begins* with the gate held exclusively, for microseconds: with no change in
//!   flight, the state at that instant is exactly the effect of every record queued so far, i.e.
//!   of every lsn below `base_lsn + queued`. It is then read copy-on-write while orders go on
//!   ([`crate::cow`]): a change after the beginning first keeps what it changes as it was. For
//!   that to hold, every change that is not idempotent on replay (reservations, the daily totals
//!   and clientOrderIDs a decision adds, give-backs) is made and queued in one hold of the gate.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use std::sync::Arc;

use super::leadership::Leadership;
use crate::engine::record::Record;
use crate::wal::{Appending, Wal};

/// The WAL as the engine uses it.
pub struct Journal {
    wal: Wal,
    /// Replicated mode: only the leader makes records (a follower copies the leader's).
    leadership: Arc<Leadership>,
    /// The lsn of the first record appended in this run.
    base_lsn: u64,
    /// Records queued in this run (successfully handed to the WAL).
    queued: AtomicU64,
    /// A snapshot is due after this many records, or after `last_snapshot_entries` if more.
    snapshot_every: u64,
    since_snapshot: AtomicU64,
    /// Entries (customers, orders, other records) the last snapshot held. Writing a snapshot
    /// costs about one entry's encoding per entry, so waiting for as many new records before the
    /// next keeps that cost at most one encoding per record logged, however large the book grows
    /// (Redis rewrites its log by the same rule); replay stays bounded by the snapshot's own size.
    last_snapshot_entries: AtomicU64,
    /// The last snapshot's payload size, to size the next one's buffer.
    last_snapshot_bytes: AtomicUsize,
    snapshot_running: AtomicBool,
    /// Held by a snapshot from its beginning until it is written: two snapshots read at once
    /// would share the copy-on-write cells' one epoch (a due snapshot still being read when
    /// shutdown writes the final one, say).
    snapshot_turn: Mutex<()>,
}

/// The mutation gate and the update serialiser (see the module doc).
#[derive(Default)]
pub struct Gate {
    lock: RwLock<()>,
    updates: Mutex<()>,
}

impl Gate {
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read()
    }

    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.lock.write()
    }

    /// Held while an order update is applied and queued, so updates of one order reach the log
    /// in the order they were applied.
    pub fn updates(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.updates.lock()
    }
}

/// Why a change could not be made durable: the WAL is closed (a failed write or fsync) or its
/// queue is full. The change must not be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the write-ahead log cannot take this change: {0}")]
pub struct StorageError(pub String);

/// A queued record's durability, to await before acting on its change.
#[must_use = "a change is acted on only once its record is durable"]
pub enum Durability {
    /// No WAL (benchmarks, unit tests): nothing to wait for.
    None,
    /// Every record's append, in queue order.
    Pending(Vec<Appending>),
    Refused(StorageError),
}

impl Durability {
    pub async fn wait(self) -> Result<(), StorageError> {
        match self {
            Durability::None => Ok(()),
            Durability::Refused(error) => Err(error),
            Durability::Pending(appendings) => {
                for appending in appendings {
                    appending
                        .await
                        .map_err(|error| StorageError(error.to_string()))?;
                }
                Ok(())
            }
        }
    }

    /// For callers outside the runtime (bootstrap, recovery).
    pub fn wait_blocking(self) -> Result<(), StorageError> {
        match self {
            Durability::None => Ok(()),
            Durability::Refused(error) => Err(error),
            Durability::Pending(appendings) => {
                for appending in appendings {
                    appending
                        .wait()
                        .map_err(|error| StorageError(error.to_string()))?;
                }
                Ok(())
            }
        }
    }

    /// Both changes' durability: waits for each (a refusal of either is the answer).
    pub fn and(self, later: Durability) -> Durability {
        match (self, later) {
            (Durability::Refused(error), _) | (_, Durability::Refused(error)) => {
                Durability::Refused(error)
            }
            (Durability::None, other) | (other, Durability::None) => other,
            (Durability::Pending(mut first), Durability::Pending(mut second)) => {
                first.append(&mut second);
                Durability::Pending(first)
            }
        }
    }

    /// True when the record could not even be queued.
    pub fn refused(&self) -> bool {
        matches!(self, Durability::Refused(_))
    }
}

impl Journal {
    pub fn new(
        wal: Wal,
        next_lsn: u64,
        snapshot_every: u64,
        leadership: Arc<Leadership>,
    ) -> Journal {
        Journal {
            wal,
            leadership,
            base_lsn: next_lsn,
            queued: AtomicU64::new(0),
            snapshot_every,
            since_snapshot: AtomicU64::new(0),
            last_snapshot_entries: AtomicU64::new(0),
            last_snapshot_bytes: AtomicUsize::new(0),
            snapshot_running: AtomicBool::new(false),
            snapshot_turn: Mutex::new(()),
        }
    }

    /// Queues `record`. Call with the gate held (shared or exclusive), right after (or, for a
    /// bind, right before) the change it records.
    pub fn append(&self, record: &Record) -> Durability {
        self.append_encoded(record.encode())
    }

    /// [`Journal::append`] for a record already encoded (see [`ReservationRecord`]).
    ///
    /// [`ReservationRecord`]: crate::engine::record::ReservationRecord
    pub fn append_encoded(&self, bytes: Vec<u8>) -> Durability {
        if !self.leadership.may_decide() {
            return Durability::Refused(StorageError(
                "this node is not the leader (SPEC §12)".to_owned(),
            ));
        }
        self.counted(self.wal.append(bytes))
    }

    /// Queues a record copied from the shared log at `lsn` (a follower's). Call with the gate
    /// held exclusively, after applying it.
    pub fn append_copy(&self, bytes: Vec<u8>, lsn: u64) -> Durability {
        self.counted(self.wal.append_copy(bytes, lsn))
    }

    /// The WAL itself, for the replica to attach.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    fn counted(&self, appending: Appending) -> Durability {
        if appending.was_refused() {
            let reason = match appending.wait() {
                Err(error) => error.to_string(),
                Ok(_) => "refused".to_owned(),
            };
            return Durability::Refused(StorageError(reason));
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.since_snapshot.fetch_add(1, Ordering::Relaxed);
        Durability::Pending(vec![appending])
    }

    /// The lsn the next queued record will get. Exact only while the gate is held exclusively.
    pub fn next_lsn(&self) -> u64 {
        self.base_lsn + self.queued.load(Ordering::Relaxed)
    }

    /// Waits for any snapshot being taken to be written, then holds the turn for this one.
    pub fn snapshot_turn(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.snapshot_turn.lock()
    }

    /// The last snapshot's payload size in this run (0 before the first).
    pub fn last_snapshot_bytes(&self) -> usize {
        self.last_snapshot_bytes.load(Ordering::Relaxed)
    }

    /// Claims the right to take a snapshot when one is due; `false` if not due or running.
    pub fn snapshot_due(&self) -> bool {
        let due_after = self
            .snapshot_every
            .max(self.last_snapshot_entries.load(Ordering::Relaxed));
        self.since_snapshot.load(Ordering::Relaxed) >= due_after
            && self
                .snapshot_running
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Writes a snapshot of `entries` entries covering every lsn below `next_lsn` (blocking
    /// file I/O).
    pub fn write_snapshot(
        &self,
        state: &[u8],
        entries: u64,
        next_lsn: u64,
    ) -> Result<(), StorageError> {
        let result = self
            .wal
            .snapshot(state, next_lsn)
            .map_err(|error| StorageError(error.to_string()));
        if result.is_ok() {
            // Records queued since its beginning count towards the next one.
            let since = self.next_lsn().saturating_sub(next_lsn);
            self.since_snapshot.store(since, Ordering::Relaxed);
            self.last_snapshot_entries.store(entries, Ordering::Relaxed);
            self.last_snapshot_bytes
                .store(state.len(), Ordering::Relaxed);
        }
        self.snapshot_running.store(false, Ordering::Release);
        result
    }

    pub fn failed(&self) -> Option<String> {
        self.wal.failed()
    }

    pub fn shutdown(&self) {
        self.wal.shutdown();
    }
}
