//! The write-ahead log: opaque records stored durably, recovered in order, bounded by snapshots.
//!
//! This module is the storage engine only. It does not know what a record means: the gateway's
//! domain records are `engine::record`, encoded with [`crate::codec`] and handed here as
//! bytes; this module imports nothing of the domain. An order is
//! forwarded only after [`Wal::append`] for it resolves (SPEC §10).
//!
//! # Pieces
//!
//! - [`format`](mod@format): the bytes on disk (names, headers, the record frame), pure functions.
//! - `recovery`: reading a directory back and the decision table below.
//! - `writer`: the one thread that writes, with group commit.
//! - `completion`: the one-shot an appender awaits (async) or waits on (blocking).
//! - `snapshot`: writing a snapshot atomically and removing what it covers.
//! - `inspect`: [`verify`] and [`dump`], read-only, for the CLI.
//! - `storage`: the file operations behind a trait, so tests can inject EIO and ENOSPC.
//! - `dir`: the directory itself: creating it, its lock, installing a snapshot into it.
//! - `error`: [`WalError`], every way the log can fail, each naming the file and offset.
//!
//! # Writing: group commit, fail closed
//!
//! [`Wal::append`] puts the record on a bounded queue (`queue_capacity`; full is
//! [`WalError::QueueFull`], which the HTTP layer answers with 503) to a dedicated writer thread.
//! The writer takes everything queued (up to `max_batch_records` and 16 MiB), assigns dense
//! increasing lsns in queue order, writes the batch with one positional write, then under
//! [`FsyncPolicy::Always`] issues ONE `fdatasync` for the whole batch, and only then completes
//! every waiter. Under `Interval(d)` waiters complete once written and the file is synced at
//! most every `d`; under `Off`, never (tests and benchmarks only). [`Wal::shutdown`] closes the
//! queue's sending end; the writer commits what is queued, fsyncs, and exits.
//!
//! If a write or an fsync fails, the log is closed for good: [`Wal::failed`] says why, every
//! waiter in the batch and every later append gets [`WalError::Failed`], and the writer stops.
//! It never retries an fsync: after a failed fsync the kernel may already have dropped the dirty
//! pages and marked them clean, so a retry that "succeeds" proves nothing (PostgreSQL's
//! fsyncgate, 2018). Restarting runs recovery, which reads back what the disk really holds;
//! everything acknowledged before the failure is there.
//!
//! # On disk
//!
//! A directory of segment files and snapshot files; integers are little-endian.
//!
//! ```text
//! wal-<first lsn, 20 digits>.seg            preallocated to `segment_bytes` (fallocate)
//! ┌───────────── segment header, 32 bytes ─────────────────────────────────────────────┐
//! │ 0 magic "OGWALSEG" │ 8 version u32 = 1 │ 12 reserved u32 │ 16 first lsn u64        │
//! │ 24 crc32c u32 over bytes 0..24 │ 28 reserved u32                                   │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! then records back to back from byte 32, each:
//! ┌──────────┬────────────────────────────────┬──────────┬──────────────────────────┐
//! │ 0 len u32│ 4 crc32c u32 over lsn‖payload  │ 8 lsn u64│ 16 payload, len bytes    │
//! └──────────┴────────────────────────────────┴──────────┴──────────────────────────┘
//! len is 1..=1 MiB (checked when appending and when reading); lsns are dense: each record's
//! lsn is the previous one's + 1, the first is the header's first lsn.
//! then zeros to the end of the file: a len of 0 followed only by zeros (or end of file) is the
//! end of the data. A record is never empty, so a real record never has len 0.
//!
//! snapshot-<next lsn, 20 digits>.snap       state covering every lsn < next lsn
//! ┌───────────── snapshot header, 40 bytes ────────────────────────────────────────────┐
//! │ 0 magic "OGWALSNP" │ 8 version u32 = 1 │ 12 reserved u32 │ 16 next lsn u64         │
//! │ 24 payload length u64 (≤ 1 GiB) │ 32 crc32c u32 over payload │ 36 crc32c u32 over 0..36 │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! then the payload. Written as `<name>.tmp`, fsynced, renamed, directory fsynced.
//! ```
//!
//! A fresh log's first lsn is 1. A segment is rolled when the next record would take it past
//! `segment_bytes` (a segment always takes at least one record). A `LOCK` file, held with
//! `flock` while the log is open, keeps a second process from writing the same directory.
//!
//! # Recovery: a decision table
//!
//! [`Wal::open`] reads the newest snapshot, then the segments from the one holding the
//! snapshot's next lsn onwards, and decides by the first row that matches:
//!
//! | case | what it looks like | decision |
//! | --- | --- | --- |
//! | **empty** | the directory is missing or holds no segment and no snapshot | fresh log at lsn 1 |
//! | **clean end** | after the last whole record: end of file, or zeros to it | open and continue appending after it |
//! | **torn tail** | in the LAST segment, the last record is incomplete or fails its checksum, and no intact record follows it (also: a last segment whose header never made it to disk and that holds no record) | cut the file at the last whole record (zeroing the rest), open, and say so in [`Recovered::warnings`] |
//! | **corrupt middle** | a record fails its checksum or is impossible (length over the limit, lsn not the next, zero length with data after it) and an intact record follows it or it is not in the last segment; a damaged header of a segment that is not the last or that holds records; two segments overlapping | refuse: [`WalError::Corrupt`] naming the segment file and byte offset. With `truncate_corrupt_tail`, cut there instead, remove every later segment, and warn loudly |
//! | **missing segment** | a gap in lsns between consecutive segments, or the first segment left starts after the snapshot's next lsn (after lsn 1 without a snapshot), or a snapshot with no segment at all | refuse: [`WalError::MissingSegment`] naming the lsns and files on each side of the gap |
//! | **bad snapshot** | the newest snapshot's header or payload fails its checksum, its length or its name | refuse: [`WalError::BadSnapshot`] naming the file and byte offset (an older snapshot is not tried: its segments are gone) |
//!
//! Housekeeping at open, each with a warning: a left-over `*.tmp` (an interrupted snapshot) is
//! removed; segments wholly covered by the snapshot (an interrupted removal) are removed, as are
//! older snapshots; if the log ends before the snapshot's next lsn (only possible when the log
//! was cut), appending continues in a new segment at the snapshot's next lsn.
//!
//! What a torn tail cannot be told from: if a crash left a later page of the last batch on disk
//! but not an earlier one, an intact (never acknowledged) record follows the damage and the
//! case reads as **corrupt middle**. Refusing is the safe reading; the operator's flag cuts it.
//!
//! [`verify`] runs the same reading over every file without changing anything and reports what
//! `open` would decide; [`dump`] lists every record.

mod completion;
mod dir;
mod error;
pub mod format;
mod inspect;
mod recovery;
mod snapshot;
mod storage;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::TrySendError;
use parking_lot::Mutex;

pub use completion::Appending;
pub use dir::install_snapshot;
use dir::{create_dir, lock_dir};
pub use error::WalError;
pub use inspect::{dump, verify, DumpEntry, SegmentReport, SnapshotReport, VerifyReport};
#[doc(hidden)]
pub use storage::{Fault, FaultPlan, FaultyStorage, FileStorage, Storage, StorageFile};

use writer::{Request, Shared};

/// When appended records are fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// An append resolves after the `fdatasync` of the batch that holds it (group commit).
    Always,
    /// An append resolves once written; the file is synced at most this often. A crash can
    /// lose up to this much acknowledged history.
    Interval(Duration),
    /// Never synced (except at shutdown and before a snapshot). For tests and benchmarks.
    Off,
}

/// How the log is opened. Every field has a default ([`WalOptions::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// Default [`FsyncPolicy::Always`].
    pub fsync: FsyncPolicy,
    /// A segment is rolled when the next record would take it past this many bytes. Default
    /// 64 MiB; 4 KiB..=1 GiB.
    pub segment_bytes: u64,
    /// The operator's flag: on a corrupt record mid-log, cut the log there (dropping everything
    /// after it) instead of refusing to start. Default false.
    pub truncate_corrupt_tail: bool,
    /// Appends waiting for the writer thread, at most. A full queue is
    /// [`WalError::QueueFull`] (503), never unbounded growth. Default 65,536; 1..=1,048,576.
    pub queue_capacity: usize,
    /// Records in one group commit, at most. Default 4,096; 1..=65,536.
    pub max_batch_records: usize,
}

/// Smallest and largest `segment_bytes` (the config's bounds, so `check-config` and the log agree).
pub use crate::config::{
    WAL_SEGMENT_BYTES_MAX as SEGMENT_BYTES_MAX, WAL_SEGMENT_BYTES_MIN as SEGMENT_BYTES_MIN,
};
const QUEUE_CAPACITY_MAX: usize = 1024 * 1024;
const BATCH_RECORDS_MAX: usize = 65_536;

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 * 1024 * 1024,
            truncate_corrupt_tail: false,
            queue_capacity: 65_536,
            max_batch_records: 4_096,
        }
    }
}

impl WalOptions {
    /// Every problem at once, each naming the option.
    pub fn validate(&self) -> Result<(), WalError> {
        let mut problems = Vec::new();
        if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes) {
            problems.push(format!(
                "segment_bytes = {} is outside {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}",
                self.segment_bytes
            ));
        }
        if !(1..=QUEUE_CAPACITY_MAX).contains(&self.queue_capacity) {
            problems.push(format!(
                "queue_capacity = {} is outside 1..={QUEUE_CAPACITY_MAX}",
                self.queue_capacity
            ));
        }
        if !(1..=BATCH_RECORDS_MAX).contains(&self.max_batch_records) {
            problems.push(format!(
                "max_batch_records = {} is outside 1..={BATCH_RECORDS_MAX}",
                self.max_batch_records
            ));
        }
        if self.fsync == FsyncPolicy::Interval(Duration::ZERO) {
            problems.push("fsync = Interval(0): use Always".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WalError::InvalidOptions { problems })
        }
    }
}

/// What [`Wal::open`] read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recovered {
    /// The newest snapshot's payload.
    pub snapshot: Option<Vec<u8>>,
    /// Every record after the snapshot (lsn ≥ its next lsn), in lsn order.
    pub records: Vec<Vec<u8>>,
    /// What recovery cut or removed, one sentence each. Log them loudly.
    pub warnings: Vec<String>,
    /// The lsn the next append gets. `records[i]` has lsn `next_lsn - records.len() + i`.
    pub next_lsn: u64,
}

/// Where a replicated log's own records go first (SPEC §12). The log knows nothing of what
/// is behind it; `ha` implements it on a JetStream stream.
pub trait Replica: Send + Sync {
    /// Makes `records` — `(lsn, payload)`, consecutive lsns, oldest first — durable in the
    /// shared log at those same positions, or says why not. Called from the writer thread
    /// before the batch is written locally; it may block (the writer's next batch gathers
    /// meanwhile). An error closes the log for good.
    fn replicate(&self, records: &[(u64, &[u8])]) -> Result<(), String>;

    /// A snapshot covering every lsn below `next_lsn` was written locally: the shared log may
    /// keep it and trim what it covers. Called from the snapshotting thread; errors are the
    /// replica's to report (the local snapshot stands either way).
    fn snapshot_written(&self, state: &[u8], next_lsn: u64);
}

/// The log. `Send + Sync`; share it as `Arc<Wal>`.
pub struct Wal {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    queue_capacity: usize,
    /// State the writer thread shares: the queue's sender, the failure, the closed flag, the
    /// segment list.
    shared: Arc<Shared>,
    /// Taken by the first `shutdown`.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The newest snapshot's next lsn; the mutex also serialises `snapshot` calls.
    newest_snapshot: Mutex<u64>,
    /// Holds the directory's `flock` until shutdown.
    lock: Mutex<Option<File>>,
}

impl Wal {
    /// Opens (or creates) the log in `dir` and recovers it per the table in the module doc.
    /// Blocks on file I/O: call it before starting the runtime or from `spawn_blocking`.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, Recovered), WalError> {
        Self::open_with_storage(dir, options, Arc::new(FileStorage))
    }

    /// [`Wal::open`] writing through `storage` (tests inject faults with [`FaultyStorage`]).
    #[doc(hidden)]
    pub fn open_with_storage(
        dir: &Path,
        options: WalOptions,
        storage: Arc<dyn Storage>,
    ) -> Result<(Wal, Recovered), WalError> {
        options.validate()?;
        create_dir(&*storage, dir)?;
        let lock = lock_dir(dir)?;
        let listing = recovery::list_dir(dir)?;
        let analysis = recovery::analyze(&listing, options.truncate_corrupt_tail, true)?;
        recovery::apply(&*storage, dir, &analysis.actions, options.segment_bytes)?;

        let mut segments = analysis.live_segments;
        let (file, segment, offset) = match analysis.active {
            recovery::Active::Continue { segment, offset } => {
                let file = storage
                    .open_write(&segment.path)
                    .map_err(|e| WalError::io("open", &segment.path, None, &e))?;
                (file, segment, offset)
            }
            recovery::Active::Create { first_lsn } => {
                let (file, segment) =
                    writer::create_segment(&*storage, dir, first_lsn, options.segment_bytes)?;
                segments.push(segment.clone());
                (file, segment, format::SEGMENT_HEADER_BYTES as u64)
            }
        };
        let next_lsn = analysis.next_lsn;
        let (requests, queue) = crossbeam_channel::bounded(options.queue_capacity);
        let shared = Arc::new(Shared::new(segments, next_lsn, requests));
        let start = writer::OpenSegment {
            file,
            segment,
            offset,
        };
        let writer = writer::Writer::new(
            dir.to_path_buf(),
            storage.clone(),
            &options,
            shared.clone(),
            start,
            next_lsn,
        );
        let handle = std::thread::Builder::new()
            .name("wal-writer".to_string())
            .spawn(move || writer.run(queue))
            .map_err(|e| WalError::io("spawn the writer thread for", dir, None, &e))?;

        let recovered = Recovered {
            snapshot: analysis.snapshot.map(|(_, payload)| payload),
            records: analysis.records,
            warnings: analysis.warnings,
            next_lsn,
        };
        debug_assert!(recovered.records.len() as u64 <= next_lsn);
        let wal = Wal {
            dir: dir.to_path_buf(),
            storage,
            queue_capacity: options.queue_capacity,
            shared,
            writer: Mutex::new(Some(handle)),
            newest_snapshot: Mutex::new(analysis.snapshot_next_lsn),
            lock: Mutex::new(Some(lock)),
        };
        Ok((wal, recovered))
    }

    /// Appends one record (1 byte to 1 MiB). The returned [`Appending`] resolves to the
    /// record's lsn once it is durable under the fsync policy: with `Always`, after the
    /// `fdatasync` of the batch that holds it; otherwise once written to the file. Lsns are
    /// dense and increasing in the order appends reach the queue. Never blocks: a full queue
    /// resolves at once to [`WalError::QueueFull`].
    pub fn append(&self, record: Vec<u8>) -> Appending {
        self.append_at(record, None)
    }

    /// Appends a record copied from the shared log, where it has lsn `lsn`; it must get the
    /// same lsn here (else the log closes: the two have diverged) and is not replicated again.
    pub fn append_copy(&self, record: Vec<u8>, lsn: u64) -> Appending {
        self.append_at(record, Some(lsn))
    }

    /// From now on, every record this node makes goes to `replica` before it is written here.
    pub fn replicate_to(&self, replica: Arc<dyn Replica>) {
        *self.shared.replica.write() = Some(replica);
    }

    /// From now on a record this node makes (not a copy) is refused, closing the log, until
    /// [`Wal::replicate_to`]: a replicated log's follower only copies.
    pub fn require_replica(&self) {
        self.shared.replica_required.store(true, Ordering::Release);
    }

    fn append_at(&self, record: Vec<u8>, copied_at: Option<u64>) -> Appending {
        if let Some(error) = self.refusal() {
            return Appending::ready(Err(error));
        }
        if !format::record_size_ok(record.len()) {
            return Appending::ready(Err(WalError::RecordSize {
                bytes: record.len(),
                limit: format::RECORD_BYTES_MAX,
            }));
        }
        let (done, appending) = completion::pair();
        let sender = self.shared.sender.read();
        let Some(sender) = sender.as_ref() else {
            return Appending::ready(Err(self.refusal().unwrap_or(WalError::Closed)));
        };
        match sender.try_send(Request::Append {
            record,
            done,
            copied_at,
        }) {
            Ok(()) => appending,
            Err(TrySendError::Full(_)) => Appending::ready(Err(WalError::QueueFull {
                capacity: self.queue_capacity,
            })),
            Err(TrySendError::Disconnected(_)) => {
                Appending::ready(Err(self.refusal().unwrap_or(WalError::Closed)))
            }
        }
    }

    /// Writes `state` as a snapshot covering every record with lsn < `next_lsn`, atomically
    /// (temp file, write, fsync, rename, fsync the directory), then removes the segments it
    /// wholly covers and older snapshots. The log is fsynced first, so `next_lsn` may be any
    /// lsn already acknowledged + 1. Blocks on file I/O (use `spawn_blocking`).
    ///
    /// A failure here does not close the log: the snapshot either is in place or is not, and
    /// the log still holds everything.
    pub fn snapshot(&self, state: &[u8], next_lsn: u64) -> Result<(), WalError> {
        if let Some(error) = self.refusal() {
            return Err(error);
        }
        let mut newest = self.newest_snapshot.lock();
        if next_lsn < *newest {
            return Err(WalError::SnapshotRefused {
                reason: format!(
                    "next_lsn {next_lsn} is below the newest snapshot's next lsn {}",
                    *newest
                ),
            });
        }
        // Everything below next_lsn must be durable in the log before a snapshot claims it.
        // A clone, so the lock is not held across a blocking send; the writer drains the queue
        // until this clone is dropped too.
        let Some(sender) = self.shared.sender.read().clone() else {
            return Err(self.refusal().unwrap_or(WalError::Closed));
        };
        let (done, synced) = completion::pair();
        let sent = sender.send(Request::Sync { done });
        drop(sender);
        if sent.is_err() {
            return Err(self.refusal().unwrap_or(WalError::Closed));
        }
        let written_next_lsn = synced.wait()?;
        if next_lsn > written_next_lsn {
            return Err(WalError::SnapshotRefused {
                reason: format!(
                    "next_lsn {next_lsn} is past the log's end (the next lsn to be written is \
                     {written_next_lsn})"
                ),
            });
        }
        snapshot::write(&*self.storage, &self.dir, state, next_lsn)?;
        *newest = next_lsn;
        let removed = snapshot::remove_covered(&*self.storage, &self.dir, &self.shared, next_lsn);
        let replica = self.shared.replica.read().clone();
        if let Some(replica) = replica {
            replica.snapshot_written(state, next_lsn);
        }
        removed
    }

    /// Why the log is closed for good, once a write or fsync has failed.
    pub fn failed(&self) -> Option<String> {
        self.shared.failed.get().cloned()
    }

    /// Writes and fsyncs everything queued, stops the writer thread and releases the
    /// directory. Later appends get [`WalError::Closed`]. Idempotent; also run on drop.
    pub fn shutdown(&self) {
        let Some(handle) = self.writer.lock().take() else {
            return;
        };
        self.shared.closed.store(true, Ordering::SeqCst);
        // Closing the sending end is the stop signal: the writer commits what is queued (and
        // any append that was mid-send), fsyncs, and exits when the queue disconnects.
        drop(self.shared.sender.write().take());
        if handle.join().is_err() {
            tracing::error!("wal: the writer thread panicked");
        }
        self.lock.lock().take();
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn refusal(&self) -> Option<WalError> {
        if let Some(reason) = self.shared.failed.get() {
            return Some(WalError::Failed {
                reason: reason.clone(),
            });
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Some(WalError::Closed);
        }
        None
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("failed", &self.failed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod replica_tests;
#[cfg(test)]
mod tests;
