//! Every way the log can fail, each naming the file and, where it applies, the offset.

use std::io;
use std::path::Path;

/// Why the log could not do something. Every message names the file and, where it applies,
/// the byte offset. `Clone` so one failure can answer every waiter.
///
/// For the HTTP layer: `QueueFull` is overload (503, retry later); `Failed` and `Closed` mean
/// the log takes nothing more (503 until an operator restarts); at open, `Corrupt`,
/// `MissingSegment`, `BadSnapshot` need an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalError {
    /// A file operation failed.
    #[error("{op} {file}{}: {message}", at_offset(.offset))]
    Io {
        op: &'static str,
        file: String,
        offset: Option<u64>,
        kind: io::ErrorKind,
        message: String,
    },
    /// A damaged or impossible record (or header) where the log cannot just be cut.
    #[error(
        "corrupt log: {segment} at byte {offset}: {reason}; refusing to start \
         (the operator's truncate_corrupt_tail flag cuts the log here, losing what follows)"
    )]
    Corrupt {
        segment: String,
        offset: u64,
        reason: String,
    },
    /// A torn tail, reported by [`verify`] and [`dump`]; [`Wal::open`] cuts it.
    #[error("torn tail: {segment} at byte {offset}: {reason} (open cuts the log here)")]
    TornTail {
        segment: String,
        offset: u64,
        reason: String,
    },
    /// Records that should be in the log are not: a gap between segments or after a snapshot.
    #[error("missing segment: {detail}")]
    MissingSegment { detail: String },
    /// The newest snapshot cannot be trusted.
    #[error("bad snapshot {file} at byte {offset}: {reason}")]
    BadSnapshot {
        file: String,
        offset: u64,
        reason: String,
    },
    /// A record outside 1..=limit bytes; nothing was queued.
    #[error("record of {bytes} bytes refused: a record must be 1..={limit} bytes")]
    RecordSize { bytes: usize, limit: usize },
    /// The writer's queue is full; nothing was queued. Overload: answer 503.
    #[error("the log's queue is full ({capacity} appends waiting); try again")]
    QueueFull { capacity: usize },
    /// A write or fsync failed earlier; the log is closed for good.
    #[error("the log is closed after a storage failure: {reason}")]
    Failed { reason: String },
    /// The log was shut down (or its writer is gone).
    #[error("the log is shut down")]
    Closed,
    /// A snapshot that would not be correct.
    #[error("snapshot refused: {reason}")]
    SnapshotRefused { reason: String },
    #[error("invalid WAL options: {}", .problems.join("; "))]
    InvalidOptions { problems: Vec<String> },
    /// Replicated mode: the shared log did not take a batch (this node was deposed, or lost
    /// its link to it). Like a storage failure, this closes the log for good.
    #[error("the shared log did not take the records: {reason}")]
    Replication { reason: String },
    /// Another process (or another open `Wal`) holds the directory.
    #[error("{file} is locked: another process has this log open")]
    Locked { file: String },
}

fn at_offset(offset: &Option<u64>) -> String {
    offset.map_or_else(String::new, |offset| format!(" at byte {offset}"))
}

impl WalError {
    pub(crate) fn io(
        op: &'static str,
        file: &Path,
        offset: Option<u64>,
        error: &io::Error,
    ) -> Self {
        WalError::Io {
            op,
            file: file.display().to_string(),
            offset,
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}
