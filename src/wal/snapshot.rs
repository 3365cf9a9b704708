//! Writing a snapshot atomically, and removing the segments and snapshots it makes redundant.

use std::path::Path;

use super::format::{self, SNAPSHOT_BYTES_MAX, SNAPSHOT_HEADER_BYTES};
use super::recovery;
use super::storage::Storage;
use super::writer::Shared;
use super::WalError;

/// A snapshot's payload is written in pieces of this size. Each piece's writeback is started as
/// soon as it is written and waited for once the next one is written, so the disk takes the
/// snapshot while it is written and at most two pieces are dirty. Written whole and then
/// fsynced, a 200 MiB snapshot was flushed all at once, and the log's fsyncs queued behind that
/// flush for 52–79 ms; written in 4 MiB pieces, 5–8 ms at most (perf/RESULTS.md, 2026-12-02
/// "snapshots written as they go"). The same idea as RocksDB's `bytes_per_sync` and
/// PostgreSQL's `checkpoint_flush_after`.
pub(crate) const WRITEBACK_PIECE_BYTES: usize = 4 << 20;

/// Writes `snapshot-<next_lsn>.snap` holding `state`: to `<name>.tmp`, fsync, rename, fsync the
/// directory. Either the whole snapshot is in place afterwards or (on error) none of it is.
pub(crate) fn write(
    storage: &dyn Storage,
    dir: &Path,
    state: &[u8],
    next_lsn: u64,
) -> Result<(), WalError> {
    if state.len() > SNAPSHOT_BYTES_MAX {
        return Err(WalError::SnapshotRefused {
            reason: format!(
                "state of {} bytes is over the snapshot limit {SNAPSHOT_BYTES_MAX}",
                state.len()
            ),
        });
    }
    let name = format::snapshot_file_name(next_lsn);
    let path = dir.join(&name);
    let temp = dir.join(format!("{name}{}", format::TEMP_SUFFIX));
    let result = write_temp_and_rename(storage, dir, &temp, &path, state, next_lsn);
    if result.is_err() {
        // Best effort: a left-over temp file is removed at the next open anyway.
        let _ = storage.remove_file(&temp);
    }
    result
}

fn write_temp_and_rename(
    storage: &dyn Storage,
    dir: &Path,
    temp: &Path,
    path: &Path,
    state: &[u8],
    next_lsn: u64,
) -> Result<(), WalError> {
    match storage.remove_file(temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(WalError::io("remove", temp, None, &e)),
    }
    let mut file = storage
        .create_new(temp)
        .map_err(|e| WalError::io("create", temp, None, &e))?;
    let header = format::encode_snapshot_header(next_lsn, state);
    file.write_all_at(&header, 0)
        .map_err(|e| WalError::io("write", temp, Some(0), &e))?;
    let mut at = SNAPSHOT_HEADER_BYTES as u64;
    let mut unfinished: Option<(u64, u64)> = None;
    for piece in state.chunks(WRITEBACK_PIECE_BYTES) {
        let len = piece.len() as u64;
        file.write_all_at(piece, at)
            .map_err(|e| WalError::io("write", temp, Some(at), &e))?;
        file.start_writeback(at, len)
            .map_err(|e| WalError::io("write back", temp, Some(at), &e))?;
        if let Some((offset, len)) = unfinished.replace((at, len)) {
            file.finish_writeback(offset, len)
                .map_err(|e| WalError::io("write back", temp, Some(offset), &e))?;
        }
        at += len;
    }
    // The header and the last piece are left to the fsync.
    file.sync_data()
        .map_err(|e| WalError::io("fsync", temp, None, &e))?;
    drop(file);
    storage
        .rename(temp, path)
        .map_err(|e| WalError::io("rename to snapshot", temp, None, &e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| WalError::io("fsync directory", dir, None, &e))
}

/// Removes every segment wholly below `next_lsn` (its successor starts at or before it; the
/// active segment is never removed) and every older snapshot. The first error is returned
/// after trying the rest; what is left is removed by the next open.
pub(crate) fn remove_covered(
    storage: &dyn Storage,
    dir: &Path,
    shared: &Shared,
    next_lsn: u64,
) -> Result<(), WalError> {
    let mut first_error = None;
    {
        // Held while removing, so the writer's roll (which appends to the list) waits: rare.
        let mut segments = shared.segments.lock();
        let covered = segments
            .windows(2)
            .take_while(|pair| pair[1].first_lsn <= next_lsn)
            .count();
        for segment in segments.drain(..covered) {
            note(
                &mut first_error,
                storage.remove_file(&segment.path),
                &segment.path,
            );
        }
    }
    match recovery::list_dir(dir) {
        Ok(listing) => {
            for older in listing.snapshots.iter().filter(|s| s.next_lsn < next_lsn) {
                note(
                    &mut first_error,
                    storage.remove_file(&older.path),
                    &older.path,
                );
            }
        }
        Err(error) => {
            first_error.get_or_insert(error);
        }
    }
    note(&mut first_error, storage.sync_dir(dir), dir);
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Keeps the first real error; a file already gone is fine.
fn note(first_error: &mut Option<WalError>, result: std::io::Result<()>, path: &Path) {
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            first_error.get_or_insert_with(|| WalError::io("remove", path, None, &e));
        }
    }
}

#[cfg(test)]
mod tests;
