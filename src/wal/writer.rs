//! The writer thread: group commit, segment rolls, and the fail-closed rule.
//!
//! One thread owns the active segment. It takes everything queued (bounded by
//! `max_batch_records` and [`BATCH_BYTES_MAX`]), assigns lsns, encodes the batch into one
//! reusable buffer, writes it with one positional write, fsyncs once (policy `Always`), and only
//! then completes every waiter. While it waits on the disk, the next batch gathers in the queue:
//! that is what turns one fsync into many acknowledged records.
//!
//! The first write or fsync error closes the log for good (see the module doc on fsyncgate):
//! the reason goes into [`Shared::failed`], every waiter gets it, and the thread exits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
// Interval fsyncs are paced by the monotonic clock. This is not a reading of the time of day
// (which goes through `clock::Clock`): it only measures "at most every interval".
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};

use super::completion::Completer;
use super::format::{self, SEGMENT_HEADER_BYTES};
use super::recovery::SegmentFile;
use super::storage::{Storage, StorageFile};
use super::{FsyncPolicy, Replica, WalError, WalOptions};

/// Payload bytes taken into one batch, at most (plus the one record that crosses it).
pub(crate) const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

/// What callers send the writer.
pub(crate) enum Request {
    /// Append a record; completes with its lsn. `copied_at` is `Some(lsn)` for a record
    /// copied from the shared log at that lsn (a follower's), which must land at the same lsn
    /// here and is not replicated again; `None` for a record this node made.
    Append {
        record: Vec<u8>,
        done: Completer,
        copied_at: Option<u64>,
    },
    /// Fsync what is written; completes with the next lsn to be written.
    Sync { done: Completer },
}

impl Request {
    fn payload_bytes(&self) -> usize {
        match self {
            Request::Append { record, .. } => record.len(),
            Request::Sync { .. } => 0,
        }
    }

    fn fail(self, error: &WalError) {
        match self {
            Request::Append { done, .. } | Request::Sync { done } => {
                done.complete(Err(error.clone()))
            }
        }
    }
}

/// What the writer shares with [`super::Wal`].
pub(crate) struct Shared {
    /// Set once, by the first write or fsync error: the log is closed for good.
    pub failed: OnceLock<String>,
    /// Set by `shutdown`: appends are refused from then on.
    pub closed: AtomicBool,
    /// The queue's only long-lived sending end. Taken out (dropped) by `shutdown`, or by the
    /// writer when it fails; the writer then drains the queue until it disconnects, so no
    /// request is ever left in it unanswered. (A bounded crossbeam channel keeps its messages
    /// until both ends are gone: "the writer exited" alone would strand a late sender.)
    /// Appends hold the read lock only for a `try_send`.
    pub sender: RwLock<Option<Sender<Request>>>,
    /// The segments on disk, oldest first; the last is the active one. The writer appends on a
    /// roll; a snapshot removes from the front.
    pub segments: Mutex<Vec<SegmentFile>>,
    /// Every lsn below this is written (and under `Always`, fsynced).
    pub written_next_lsn: AtomicU64,
    /// Replicated mode: where the records this node makes go before they are written here.
    pub replica: RwLock<Option<Arc<dyn Replica>>>,
    /// Replicated mode: a record this node makes is refused while `replica` is unset.
    pub replica_required: AtomicBool,
}

impl Shared {
    pub(crate) fn new(segments: Vec<SegmentFile>, next_lsn: u64, sender: Sender<Request>) -> Self {
        Self {
            failed: OnceLock::new(),
            closed: AtomicBool::new(false),
            sender: RwLock::new(Some(sender)),
            segments: Mutex::new(segments),
            written_next_lsn: AtomicU64::new(next_lsn),
            replica: RwLock::new(None),
            replica_required: AtomicBool::new(false),
        }
    }
}

/// The segment the writer starts in.
pub(crate) struct OpenSegment {
    pub file: Box<dyn StorageFile>,
    pub segment: SegmentFile,
    /// Where the next record goes.
    pub offset: u64,
}

pub(crate) struct Writer {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    max_batch_records: usize,
    shared: Arc<Shared>,
    file: Box<dyn StorageFile>,
    segment: SegmentFile,
    /// Where the buffer's first byte goes in the active segment.
    offset: u64,
    next_lsn: u64,
    /// The batch's frames; reused across batches.
    buffer: Vec<u8>,
    /// Appends in the batch, with their lsns; completed after the batch is durable.
    waiters: Vec<(Completer, u64)>,
    /// `Sync` requests in the batch.
    syncs: Vec<Completer>,
    /// Written since the last fsync of the active segment.
    dirty: bool,
    last_sync: Instant,
}

/// A buffer grown past this by a batch of large records is shrunk back afterwards.
const BUFFER_KEEP_BYTES: usize = 4 * 1024 * 1024;

impl Writer {
    pub(crate) fn new(
        dir: PathBuf,
        storage: Arc<dyn Storage>,
        options: &WalOptions,
        shared: Arc<Shared>,
        start: OpenSegment,
        next_lsn: u64,
    ) -> Self {
        Self {
            dir,
            storage,
            fsync: options.fsync,
            segment_bytes: options.segment_bytes,
            max_batch_records: options.max_batch_records,
            shared,
            file: start.file,
            segment: start.segment,
            offset: start.offset,
            next_lsn,
            buffer: Vec::with_capacity(64 * 1024),
            waiters: Vec::with_capacity(options.max_batch_records.min(4096)),
            syncs: Vec::new(),
            dirty: false,
            last_sync: Instant::now(),
        }
    }

    /// The thread's body: batches until every sender is gone (shutdown) or a failure.
    pub(crate) fn run(mut self, queue: Receiver<Request>) {
        let mut batch = Vec::with_capacity(self.max_batch_records.min(4096));
        loop {
            let first = match self.next_request(&queue) {
                Ok(Some(request)) => request,
                Ok(None) => {
                    // Shutdown: every sender is gone and the queue is empty. Make what was
                    // written durable, whatever the policy.
                    if let Err(error) = self.sync_if_dirty() {
                        self.fail(error, &mut batch, &queue);
                    }
                    return;
                }
                Err(error) => return self.fail(error, &mut batch, &queue),
            };
            self.take_batch(first, &mut batch, &queue);
            if let Err(error) = self.commit(&mut batch) {
                return self.fail(error, &mut batch, &queue);
            }
        }
    }

    /// Waits for the next request; under `Interval`, fsyncs when the interval runs out first.
    fn next_request(&mut self, queue: &Receiver<Request>) -> Result<Option<Request>, WalError> {
        loop {
            let FsyncPolicy::Interval(interval) = self.fsync else {
                return Ok(queue.recv().ok());
            };
            if !self.dirty {
                return Ok(queue.recv().ok());
            }
            match queue.recv_deadline(self.last_sync + interval) {
                Ok(request) => return Ok(Some(request)),
                Err(RecvTimeoutError::Timeout) => self.sync()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// `first` and whatever else is queued, up to the batch limits.
    fn take_batch(&self, first: Request, batch: &mut Vec<Request>, queue: &Receiver<Request>) {
        let mut bytes = first.payload_bytes();
        batch.push(first);
        while batch.len() < self.max_batch_records && bytes < BATCH_BYTES_MAX {
            match queue.try_recv() {
                Ok(request) => {
                    bytes += request.payload_bytes();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
    }

    /// Writes the batch, fsyncs per the policy, completes its waiters. On error the waiters
    /// (and any requests not yet taken from `batch`) are left for [`Writer::fail`].
    fn commit(&mut self, batch: &mut Vec<Request>) -> Result<(), WalError> {
        self.replicate(batch)?;
        let mut appended = false;
        // Taken from the back so that on error the untaken rest is still in `batch`.
        batch.reverse();
        while let Some(request) = batch.pop() {
            match request {
                Request::Append {
                    record,
                    done,
                    copied_at,
                } => {
                    let lsn = self.next_lsn;
                    self.waiters.push((done, lsn));
                    if copied_at.is_some_and(|at| at != lsn) {
                        return Err(WalError::Replication {
                            reason: format!(
                                "a record of the shared log's lsn {} would be lsn {lsn} here",
                                copied_at.unwrap_or_default()
                            ),
                        });
                    }
                    if self.needs_roll(record.len()) {
                        self.roll()?;
                    }
                    format::encode_record(&mut self.buffer, lsn, &record);
                    self.next_lsn += 1;
                    appended = true;
                }
                Request::Sync { done } => self.syncs.push(done),
            }
        }
        self.flush()?;
        metrics::histogram!("omnigate_wal_batch_records").record(self.waiters.len() as f64);
        let sync_due = match self.fsync {
            FsyncPolicy::Always => appended,
            FsyncPolicy::Interval(interval) => self.last_sync.elapsed() >= interval,
            FsyncPolicy::Off => false,
        };
        if sync_due || !self.syncs.is_empty() {
            self.sync_if_dirty()?;
        }
        self.shared
            .written_next_lsn
            .store(self.next_lsn, Ordering::Release);
        for (done, lsn) in self.waiters.drain(..) {
            done.complete(Ok(lsn));
        }
        for done in self.syncs.drain(..) {
            done.complete(Ok(self.next_lsn));
        }
        Ok(())
    }

    /// Replicated mode: hands the batch's own records to the replica, and returns only once
    /// it has them, before a byte of the batch is written here. So this log only ever holds
    /// a prefix of the shared one, and a refusal (a deposed leader's) leaves nothing behind.
    fn replicate(&self, batch: &[Request]) -> Result<(), WalError> {
        let Some(replica) = self.shared.replica.read().clone() else {
            let own = batch.iter().any(|request| {
                matches!(
                    request,
                    Request::Append {
                        copied_at: None,
                        ..
                    }
                )
            });
            if own && self.shared.replica_required.load(Ordering::Acquire) {
                return Err(WalError::Replication {
                    reason: "a record made here while no replica is attached (only the \
                             leader makes records)"
                        .to_owned(),
                });
            }
            return Ok(());
        };
        let mut lsn = self.next_lsn;
        let mut own = Vec::with_capacity(batch.len());
        for request in batch {
            if let Request::Append {
                record, copied_at, ..
            } = request
            {
                if copied_at.is_none() {
                    own.push((lsn, record.as_slice()));
                }
                lsn += 1;
            }
        }
        if own.is_empty() {
            return Ok(());
        }
        replica
            .replicate(&own)
            .map_err(|reason| WalError::Replication { reason })
    }

    fn needs_roll(&self, payload_bytes: usize) -> bool {
        let position = self.offset + self.buffer.len() as u64;
        let frame = format::record_frame_bytes(payload_bytes) as u64;
        // A segment always takes at least one record, however large.
        position > SEGMENT_HEADER_BYTES as u64 && position + frame > self.segment_bytes
    }

    /// Finishes the active segment (written, and fsynced unless the policy is `Off`) and
    /// starts a new one at the next lsn.
    fn roll(&mut self) -> Result<(), WalError> {
        self.flush()?;
        if self.fsync != FsyncPolicy::Off {
            self.sync_if_dirty()?;
        }
        let (file, segment) =
            create_segment(&*self.storage, &self.dir, self.next_lsn, self.segment_bytes)?;
        self.file = file;
        self.segment = segment.clone();
        self.offset = SEGMENT_HEADER_BYTES as u64;
        self.dirty = false;
        self.shared.segments.lock().push(segment);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WalError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.buffer, self.offset)
            .map_err(|e| WalError::io("write", &self.segment.path, Some(self.offset), &e))?;
        self.offset += self.buffer.len() as u64;
        self.dirty = true;
        self.buffer.clear();
        if self.buffer.capacity() > BUFFER_KEEP_BYTES {
            self.buffer.shrink_to(BUFFER_KEEP_BYTES);
        }
        Ok(())
    }

    fn sync_if_dirty(&mut self) -> Result<(), WalError> {
        if self.dirty {
            self.sync()?;
        }
        Ok(())
    }

    /// One fdatasync. Never retried: see the module doc.
    fn sync(&mut self) -> Result<(), WalError> {
        let started = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| WalError::io("fsync", &self.segment.path, Some(self.offset), &e))?;
        metrics::histogram!("omnigate_wal_fsync_seconds").record(started.elapsed().as_secs_f64());
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Closes the log for good: records why, closes the queue's sending end, and answers every
    /// waiter, the rest of the batch and everything still queued (until the queue disconnects)
    /// with the failure. Never retries.
    fn fail(mut self, error: WalError, batch: &mut Vec<Request>, queue: &Receiver<Request>) {
        let reason = error.to_string();
        tracing::error!(%reason, "wal: storage failure; the log is closed for good");
        // Set before the sender is taken, so an append that finds no sender reads the reason.
        let _ = self.shared.failed.set(reason.clone());
        drop(self.shared.sender.write().take());
        let failed = WalError::Failed { reason };
        for (done, _) in self.waiters.drain(..) {
            done.complete(Err(failed.clone()));
        }
        for done in self.syncs.drain(..) {
            done.complete(Err(failed.clone()));
        }
        for request in batch.drain(..) {
            request.fail(&failed);
        }
        // Ends once the last short-lived sender clone (a snapshot's sync) is dropped too.
        while let Ok(request) = queue.recv() {
            request.fail(&failed);
        }
    }
}

/// Creates segment `wal-<first_lsn>.seg`: header, preallocation, fsync, directory fsync. After
/// this returns, a crash leaves a segment recovery can read.
pub(crate) fn create_segment(
    storage: &dyn Storage,
    dir: &std::path::Path,
    first_lsn: u64,
    segment_bytes: u64,
) -> Result<(Box<dyn StorageFile>, SegmentFile), WalError> {
    let name = format::segment_file_name(first_lsn);
    let path = dir.join(&name);
    let error = |op, e: &std::io::Error| WalError::io(op, &path, None, e);
    let mut file = storage.create_new(&path).map_err(|e| error("create", &e))?;
    file.write_all_at(&format::encode_segment_header(first_lsn), 0)
        .map_err(|e| error("write header of", &e))?;
    file.preallocate(segment_bytes)
        .map_err(|e| error("preallocate", &e))?;
    file.sync_data().map_err(|e| error("fsync", &e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| WalError::io("fsync directory", dir, None, &e))?;
    Ok((
        file,
        SegmentFile {
            name,
            path,
            first_lsn,
        },
    ))
}
