//! The log's directory: creating it durably, its lock, and installing a snapshot into it.

use std::fs::File;
use std::io;
use std::path::Path;

use super::storage::{FileStorage, Storage};
use super::{snapshot, writer, WalError};

/// Held with `flock` while the log is open.
pub(super) const LOCK_FILE: &str = "LOCK";

/// Replaces what `dir` holds with a snapshot covering every lsn below `next_lsn` and an empty
/// segment from `next_lsn` on, before the log is opened: a node of a replicated log that
/// starts empty, or behind what the shared log still holds, starts from the shared log's
/// snapshot. The caller guarantees that every record here has an lsn below `next_lsn` (this
/// log is a prefix of the shared one), so nothing removed is lost.
pub fn install_snapshot(
    dir: &Path,
    state: &[u8],
    next_lsn: u64,
    segment_bytes: u64,
) -> Result<(), WalError> {
    let storage = FileStorage;
    create_dir(&storage, dir)?;
    let _lock = lock_dir(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|e| WalError::io("list", dir, None, &e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = (name.starts_with("wal-") && name.ends_with(".seg"))
            || (name.starts_with("snapshot-")
                && (name.ends_with(".snap") || name.ends_with(".tmp")));
        if ours {
            std::fs::remove_file(entry.path())
                .map_err(|e| WalError::io("remove", &entry.path(), None, &e))?;
        }
    }
    snapshot::write(&storage, dir, state, next_lsn)?;
    writer::create_segment(&storage, dir, next_lsn, segment_bytes)?;
    Ok(())
}

/// Creates `dir` if missing, making its entry in the parent durable.
pub(super) fn create_dir(storage: &dyn Storage, dir: &Path) -> Result<(), WalError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| WalError::io("create directory", dir, None, &e))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        storage
            .sync_dir(parent)
            .map_err(|e| WalError::io("fsync directory", parent, None, &e))?;
    }
    Ok(())
}

/// Takes an exclusive `flock` on `dir/LOCK`: two writers on one log would interleave records.
pub(super) fn lock_dir(dir: &Path) -> Result<File, WalError> {
    use std::os::unix::io::AsRawFd;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| WalError::io("open", &path, None, &e))?;
    // SAFETY: the descriptor is open for the lifetime of `file`; flock reads no memory.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(file);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Err(WalError::Locked {
            file: path.display().to_string(),
        });
    }
    Err(WalError::io("lock", &path, None, &error))
}
