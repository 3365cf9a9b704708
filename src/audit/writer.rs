//! The audit writer: its own thread, a file a day, old files removed after the retention.
//!
//! Entries are written in the order they were queued, each file named by the UTC day of its
//! entries' `ts` (`audit-2026-12-01.jsonl`), appended to, never rewritten. The writer drains the
//! queue every 10 ms, flushes to the OS after each drain and syncs a day's file when it leaves
//! it; it fsyncs nothing per entry (SPEC §11.1: the WAL, not the audit trail, is an order's
//! durable record).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossbeam_channel::{Receiver, TryRecvError};

use super::{line, Audit, Entry};

/// How often the writer looks for entries: the most an entry waits before it is written.
const POLL: Duration = Duration::from_millis(10);

/// `audit.dir` could not be made ready.
#[derive(Debug, thiserror::Error)]
#[error("audit.dir {dir}: {problem}")]
pub struct StartError {
    pub dir: String,
    pub problem: String,
}

/// The running writer; [`Writer::drain`] waits for what is queued at a clean shutdown.
pub struct Writer {
    audit: Audit,
    busy: Arc<AtomicBool>,
}

/// The file of one UTC day.
pub fn file_name(day: NaiveDate) -> String {
    format!("audit-{}.jsonl", day.format("%Y-%m-%d"))
}

/// The day a file holds, when `name` is an audit file's name.
pub(super) fn day_of(name: &str) -> Option<NaiveDate> {
    let day = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

impl Writer {
    /// Creates `dir` if needed and starts the writer thread.
    pub fn start(
        dir: &Path,
        retention_days: u32,
        capacity: usize,
    ) -> Result<(Audit, Writer), StartError> {
        let failed = |problem: String| StartError {
            dir: dir.display().to_string(),
            problem,
        };
        std::fs::create_dir_all(dir).map_err(|error| failed(format!("cannot create: {error}")))?;
        std::fs::read_dir(dir).map_err(|error| failed(format!("cannot read: {error}")))?;
        let (queue, entries) = crossbeam_channel::bounded(capacity);
        let busy = Arc::new(AtomicBool::new(false));
        let mut files = DayFiles {
            dir: dir.to_path_buf(),
            retention_days,
            open: None,
            last_error: None,
        };
        let thread_busy = busy.clone();
        std::thread::Builder::new()
            .name("omnigate-audit".to_owned())
            .spawn(move || files.run(&entries, &thread_busy))
            .map_err(|error| failed(format!("cannot start its writer: {error}")))?;
        let audit = Audit::new(queue);
        Ok((audit.clone(), Writer { audit, busy }))
    }

    /// Waits (at most `patience`) until everything queued so far is written.
    pub fn drain(&self, patience: Duration) {
        let Some(inner) = &self.audit.inner else {
            return;
        };
        let deadline = Instant::now() + patience;
        while (!inner.queue.is_empty() || self.busy.load(Ordering::Acquire))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

struct DayFiles {
    dir: PathBuf,
    retention_days: u32,
    open: Option<(NaiveDate, BufWriter<File>)>,
    /// When a write last failed, so a broken disk is logged once a minute, not per entry.
    last_error: Option<Instant>,
}

impl DayFiles {
    fn run(&mut self, entries: &Receiver<Entry>, busy: &AtomicBool) {
        // The writer looks for entries every POLL instead of sleeping in `recv`: a sender then
        // never has a parked thread to wake, so queueing an entry costs the order path no
        // syscall and no context switch (a blocked `recv` would take one per entry whenever
        // the writer keeps up).
        loop {
            busy.store(true, Ordering::Release);
            let mut wrote = false;
            loop {
                match entries.try_recv() {
                    Ok(entry) => {
                        self.write(&entry);
                        wrote = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush();
                        self.close();
                        return;
                    }
                }
            }
            if wrote {
                self.flush();
            }
            busy.store(false, Ordering::Release);
            std::thread::sleep(POLL);
        }
    }

    fn flush(&mut self) {
        if let Some((_, file)) = &mut self.open {
            if let Err(error) = file.flush() {
                self.failed("flush", &error);
            }
        }
    }

    fn write(&mut self, entry: &Entry) {
        let day = entry.ts().date_naive();
        if self.open.as_ref().map(|(open, _)| *open) != Some(day) {
            self.close();
            self.remove_expired(day);
            let path = self.dir.join(file_name(day));
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(file) => self.open = Some((day, BufWriter::with_capacity(64 * 1024, file))),
                Err(error) => {
                    self.failed("open", &error);
                    return;
                }
            }
        }
        let mut text = line::render(entry);
        text.push('\n');
        if let Some((_, file)) = &mut self.open {
            if let Err(error) = file.write_all(text.as_bytes()) {
                self.failed("write", &error);
            }
        }
    }

    fn close(&mut self) {
        if let Some((_, mut file)) = self.open.take() {
            let synced = file.flush().and_then(|()| file.get_ref().sync_data());
            if let Err(error) = synced {
                self.failed("sync", &error);
            }
        }
    }

    /// Removes the files of days more than `retention_days` before `today`.
    fn remove_expired(&mut self, today: NaiveDate) {
        let Some(oldest_kept) =
            today.checked_sub_days(chrono::Days::new(self.retention_days.into()))
        else {
            return;
        };
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for item in listing.flatten() {
            let name = item.file_name();
            let expired = name
                .to_str()
                .and_then(day_of)
                .is_some_and(|day| day < oldest_kept);
            if expired {
                match std::fs::remove_file(item.path()) {
                    Ok(()) => {
                        tracing::info!(file = ?name, "audit file past audit.retention_days removed")
                    }
                    Err(error) => self.failed("remove", &error),
                }
            }
        }
    }

    fn failed(&mut self, what: &str, error: &std::io::Error) {
        metrics::counter!("omnigate_audit_write_errors_total").increment(1);
        let quiet = self
            .last_error
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60));
        if !quiet {
            self.last_error = Some(Instant::now());
            tracing::error!(dir = %self.dir.display(), %error, "audit trail: {what} failed; entries are being lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Credential, Entry};
    use bytes::Bytes;

    fn admin_at(ts: &str) -> Entry {
        Entry::Admin {
            ts: ts.parse().unwrap(),
            credential: Credential::Admin,
            method: http::Method::PUT,
            path: "/admin/kill-switch".to_owned(),
            status: 200,
            body: Bytes::new(),
        }
    }

    #[test]
    fn entries_go_to_the_file_of_their_day_and_old_days_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir
            .path()
            .join(file_name(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()));
        let kept = dir
            .path()
            .join(file_name(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()));
        std::fs::write(&stale, "{}\n").unwrap();
        std::fs::write(&kept, "{}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let (audit, writer) = Writer::start(dir.path(), 10, 16).unwrap();
        audit.record(admin_at("2026-11-30T23:59:59.999999Z"));
        audit.record(admin_at("2026-12-01T00:00:00Z"));
        audit.record(admin_at("2026-12-01T10:00:00Z"));
        writer.drain(Duration::from_secs(10));
        let day = |d: u32, m: u32| {
            std::fs::read_to_string(
                dir.path()
                    .join(file_name(NaiveDate::from_ymd_opt(2026, m, d).unwrap())),
            )
            .unwrap()
        };
        assert_eq!(day(30, 11).lines().count(), 1);
        assert_eq!(day(1, 12).lines().count(), 2);
        assert!(!stale.exists(), "older than 10 days before 2026-11-30");
        assert!(kept.exists());
        assert!(dir.path().join("notes.txt").exists());
        assert_eq!(audit.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (queue, _entries) = crossbeam_channel::bounded(1);
        let audit = Audit::new(queue);
        for _ in 0..3 {
            audit.record(admin_at("2026-12-01T10:00:00Z"));
        }
        assert_eq!(audit.dropped(), 2);
    }
}
