//! The file operations the log writes through, behind a trait so tests can make them fail.
//!
//! Like tikv/raft-engine's swappable file system: [`FileStorage`] is the real one;
//! [`FaultyStorage`] fails the N-th write or sync with EIO or ENOSPC, which is how the tests show
//! the fail-closed rule. Reads (recovery, verify, dump) use `std::fs` directly: what they need to
//! survive is damaged bytes, which tests make by editing files, not failing calls.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where the log's files live. `Send + Sync`: the writer thread and `snapshot` callers share it.
#[doc(hidden)]
pub trait Storage: Send + Sync + 'static {
    /// Creates a file that must not exist yet, open for writing.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for writing at explicit offsets.
    fn open_write(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// One open file.
#[doc(hidden)]
pub trait StorageFile: Send {
    /// Writes all of `buf` at `offset` (positional: segments are preallocated, so the write
    /// position is not the end of the file).
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// `fdatasync`: the data and the metadata needed to read it back.
    fn sync_data(&mut self) -> io::Result<()>;
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Reserves `len` bytes (reading as zeros) so appends neither allocate blocks nor hit ENOSPC
    /// mid-segment. Never shrinks the file.
    fn preallocate(&mut self, len: u64) -> io::Result<()>;
    /// Starts writing the `len` bytes at `offset` to the disk and returns at once (Linux:
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`; elsewhere nothing). It makes nothing durable:
    /// only `sync_data` does.
    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()>;
    /// Waits until the `len` bytes at `offset` have been written to the disk, starting what was
    /// not started. An error here is the write's: the caller must fail as a failed `sync_data`
    /// would, since the kernel reports it once and the next `sync_data` may not see it.
    fn finish_writeback(&mut self, offset: u64, len: u64) -> io::Result<()>;
}

/// The real file system.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct FileStorage;

impl Storage for FileStorage {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

struct RealFile(File);

impl StorageFile for RealFile {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_all_at(buf, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        preallocate(&self.0, len)
    }

    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        writeback(&self.0, offset, len, Writeback::Start)
    }

    fn finish_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        writeback(&self.0, offset, len, Writeback::Finish)
    }
}

#[derive(Clone, Copy)]
enum Writeback {
    Start,
    Finish,
}

#[cfg(target_os = "linux")]
fn writeback(file: &File, offset: u64, len: u64, how: Writeback) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "writeback range too large",
        ));
    };
    let flags = match how {
        Writeback::Start => libc::SYNC_FILE_RANGE_WRITE,
        Writeback::Finish => {
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER
        }
    };
    // SAFETY: the descriptor is open for the lifetime of `file`; sync_file_range reads no memory.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Without `sync_file_range` the final `sync_data` writes everything, as it would anyway.
#[cfg(not(target_os = "linux"))]
fn writeback(_file: &File, _offset: u64, _len: u64, _how: Writeback) -> io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
fn preallocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let Ok(len) = libc::off_t::try_from(len) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "preallocation too large",
        ));
    };
    // SAFETY: the descriptor is open for the lifetime of `file`; fallocate reads no memory.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        // A file system without fallocate: a sparse extension still reads as zeros.
        Some(libc::EOPNOTSUPP) => extend_sparse(file, len as u64),
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(file: &File, len: u64) -> io::Result<()> {
    extend_sparse(file, len)
}

fn extend_sparse(file: &File, len: u64) -> io::Result<()> {
    if file.metadata()?.len() < len {
        file.set_len(len)?;
    }
    Ok(())
}

/// Which error an injected fault returns.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// EIO: the device failed (the fsync case that loses dirty pages).
    Io,
    /// ENOSPC: the disk is full.
    NoSpace,
}

impl Fault {
    fn error(self, what: &str) -> io::Error {
        let errno = match self {
            Fault::Io => libc::EIO,
            Fault::NoSpace => libc::ENOSPC,
        };
        let os = io::Error::from_raw_os_error(errno);
        io::Error::new(os.kind(), format!("injected {what} fault: {os}"))
    }
}

/// When the next fault fires. Shared between a test and its [`FaultyStorage`].
#[doc(hidden)]
#[derive(Debug)]
pub struct FaultPlan {
    fault: Fault,
    /// Writes that still succeed before one fails; `u64::MAX` = never fail.
    writes_left: AtomicU64,
    syncs_left: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
}

impl FaultPlan {
    pub fn new(fault: Fault) -> Arc<Self> {
        Arc::new(Self {
            fault,
            writes_left: AtomicU64::new(u64::MAX),
            syncs_left: AtomicU64::new(u64::MAX),
            writes: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        })
    }

    /// The write after the next `n` successful ones fails (once). Half of its buffer reaches
    /// the file first, as in a torn write.
    pub fn fail_write_after(&self, n: u64) {
        self.writes_left.store(n, Ordering::SeqCst);
    }

    /// The sync (file or directory) after the next `n` successful ones fails (once).
    pub fn fail_sync_after(&self, n: u64) {
        self.syncs_left.store(n, Ordering::SeqCst);
    }

    /// Writes attempted so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Syncs attempted so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    /// Whether this call fails: counts it down and disarms once it fires.
    fn fires(counter: &AtomicU64) -> bool {
        let previous =
            counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                u64::MAX => None,
                0 => Some(u64::MAX),
                n => Some(n - 1),
            });
        previous == Ok(0)
    }

    fn write_fires(&self) -> bool {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Self::fires(&self.writes_left)
    }

    fn sync_fires(&self) -> bool {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Self::fires(&self.syncs_left)
    }
}

/// The real file system with faults injected per a [`FaultPlan`].
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct FaultyStorage {
    plan: Arc<FaultPlan>,
}

impl FaultyStorage {
    pub fn new(plan: Arc<FaultPlan>) -> Self {
        Self { plan }
    }
}

impl Storage for FaultyStorage {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let inner = FileStorage.create_new(path)?;
        Ok(Box::new(FaultyFile {
            inner,
            plan: self.plan.clone(),
        }))
    }

    fn open_write(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let inner = FileStorage.open_write(path)?;
        Ok(Box::new(FaultyFile {
            inner,
            plan: self.plan.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        FileStorage.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        FileStorage.remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if self.plan.sync_fires() {
            return Err(self.plan.fault.error("directory sync"));
        }
        FileStorage.sync_dir(dir)
    }
}

struct FaultyFile {
    inner: Box<dyn StorageFile>,
    plan: Arc<FaultPlan>,
}

impl StorageFile for FaultyFile {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.plan.write_fires() {
            self.inner.write_all_at(&buf[..buf.len() / 2], offset)?;
            return Err(self.plan.fault.error("write"));
        }
        self.inner.write_all_at(buf, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        if self.plan.sync_fires() {
            return Err(self.plan.fault.error("fsync"));
        }
        self.inner.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.inner.preallocate(len)
    }

    /// Passed through: it only starts what `finish_writeback` waits for.
    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.start_writeback(offset, len)
    }

    /// Counted and failed as a sync: an I/O error of the pieces waited for is reported here.
    fn finish_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        if self.plan.sync_fires() {
            return Err(self.plan.fault.error("writeback"));
        }
        self.inner.finish_writeback(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_fires_once_after_n_calls() {
        let plan = FaultPlan::new(Fault::Io);
        assert!(!plan.write_fires());
        plan.fail_write_after(2);
        assert!(!plan.write_fires());
        assert!(!plan.write_fires());
        assert!(plan.write_fires());
        assert!(!plan.write_fires());
        assert_eq!(plan.writes(), 5);
        let error = Fault::NoSpace.error("fsync");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert!(
            error.to_string().contains("injected fsync fault"),
            "{error}"
        );
    }
}
