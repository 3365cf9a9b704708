//! The audit writer: its own thread, a file a day, old files removed after the retention.
//!
//! Entries are written in the order they were queued, each to the file of the UTC day of its
//! `ts` (`audit-2026-12-01.jsonl`), appended to, never rewritten. The writer drains the queue
//! every 10 ms and flushes to the OS after each drain; it syncs a day's file when it leaves it
//! and at a clean shutdown, and fsyncs nothing per entry (SPEC §11.1: the WAL, not the audit
//! trail, is an order's durable record). The two newest days' files stay open, so entries from
//! either side of midnight, queued in any order, cost no reopening.
//!
//! Retention counts from the operating system's date, never the gateway's clock (which
//! `clock.adjustable` can move): files of days more than `audit.retention_days` before it are
//! removed at start and whenever a new day's file is opened.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossbeam_channel::{Receiver, TryRecvError};

use super::{line, Audit, Entry};
use crate::clock::{Clock, SystemClock};

/// How often the writer looks for entries: the most an entry waits before it is written.
const POLL: Duration = Duration::from_millis(10);

/// Day files kept open: today's and yesterday's.
const OPEN_DAYS_MAX: usize = 2;

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
    control: Arc<Control>,
}

/// What the writer thread and [`Writer`] share.
#[derive(Debug, Default)]
struct Control {
    /// The writer is draining (it may hold entries it took from the queue).
    busy: AtomicBool,
    /// Sync and close every open file; the writer clears it when done.
    sync: AtomicBool,
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
    /// Creates `dir` if needed, removes the files past the retention and starts the writer
    /// thread.
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
        let control = Arc::new(Control::default());
        let mut files = DayFiles {
            dir: dir.to_path_buf(),
            retention_days,
            open: Vec::with_capacity(OPEN_DAYS_MAX + 1),
            newest: None,
            last_error: None,
            line: String::with_capacity(1024),
            memo: line::Memo::default(),
        };
        files.remove_expired();
        let thread_control = control.clone();
        std::thread::Builder::new()
            .name("omnigate-audit".to_owned())
            .spawn(move || files.run(&entries, &thread_control))
            .map_err(|error| failed(format!("cannot start its writer: {error}")))?;
        let audit = Audit::new(queue);
        Ok((audit.clone(), Writer { audit, control }))
    }

    /// Waits (at most `patience` in all) until everything queued so far is written, then until
    /// the open files are synced.
    pub fn drain(&self, patience: Duration) {
        let Some(inner) = &self.audit.inner else {
            return;
        };
        let deadline = Instant::now() + patience;
        let waiting = |done: &dyn Fn() -> bool| {
            while !done() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        waiting(&|| inner.queue.is_empty() && !self.control.busy.load(Ordering::Acquire));
        self.control.sync.store(true, Ordering::Release);
        waiting(&|| !self.control.sync.load(Ordering::Acquire));
    }
}

struct DayFiles {
    dir: PathBuf,
    retention_days: u32,
    /// The newest days' files, oldest first.
    open: Vec<(NaiveDate, BufWriter<File>)>,
    /// The newest day a file was opened for (retention runs when it moves on).
    newest: Option<NaiveDate>,
    /// When a write last failed, so a broken disk is logged once a minute, not per entry.
    last_error: Option<Instant>,
    /// The buffer every line is rendered into.
    line: String,
    /// What the last lines leave for the next: recent bodies' fields, the second's timestamp.
    memo: line::Memo,
}

impl DayFiles {
    fn run(&mut self, entries: &Receiver<Entry>, control: &Control) {
        // The writer looks for entries every POLL instead of sleeping in `recv`: a sender then
        // never has a parked thread to wake, so queueing an entry costs the order path no
        // syscall and no context switch (a blocked `recv` would take one per entry whenever
        // the writer keeps up).
        loop {
            control.busy.store(true, Ordering::Release);
            let mut wrote = false;
            let disconnected = loop {
                match entries.try_recv() {
                    Ok(entry) => {
                        self.write(&entry);
                        wrote = true;
                    }
                    Err(TryRecvError::Empty) => break false,
                    Err(TryRecvError::Disconnected) => break true,
                }
            };
            if wrote {
                self.flush();
            }
            if disconnected || control.sync.load(Ordering::Acquire) {
                while !self.open.is_empty() {
                    self.close_oldest();
                }
                control.sync.store(false, Ordering::Release);
            }
            control.busy.store(false, Ordering::Release);
            if disconnected {
                return;
            }
            std::thread::sleep(POLL);
        }
    }

    fn write(&mut self, entry: &Entry) {
        let day = entry.ts().date_naive();
        let index = match self.open.iter().position(|(open, _)| *open == day) {
            Some(index) => index,
            None => match self.open_day(day) {
                Some(index) => index,
                None => return,
            },
        };
        let mut text = line::render(entry, std::mem::take(&mut self.line), &mut self.memo);
        text.push('\n');
        if let Err(error) = self.open[index].1.write_all(text.as_bytes()) {
            self.failed("write", &error);
        }
        self.line = text;
    }

    /// Opens `day`'s file (closing the oldest open one if need be); its index in `open`.
    fn open_day(&mut self, day: NaiveDate) -> Option<usize> {
        if self.newest.is_none_or(|newest| day > newest) {
            self.newest = Some(day);
            self.remove_expired();
        }
        let path = self.dir.join(file_name(day));
        let file = match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => file,
            Err(error) => {
                self.failed("open", &error);
                return None;
            }
        };
        if self.open.len() == OPEN_DAYS_MAX {
            self.close_oldest();
        }
        self.open
            .push((day, BufWriter::with_capacity(64 * 1024, file)));
        self.open.sort_by_key(|(open, _)| *open);
        self.open.iter().position(|(open, _)| *open == day)
    }

    fn flush(&mut self) {
        let mut failure = None;
        for (_, file) in &mut self.open {
            if let Err(error) = file.flush() {
                failure = Some(error);
            }
        }
        if let Some(error) = failure {
            self.failed("flush", &error);
        }
    }

    fn close_oldest(&mut self) {
        let (_, mut file) = self.open.remove(0);
        let synced = file.flush().and_then(|()| file.get_ref().sync_data());
        if let Err(error) = synced {
            self.failed("sync", &error);
        }
    }

    /// Removes the files of days more than `retention_days` before the operating system's
    /// date.
    fn remove_expired(&mut self) {
        let today = SystemClock.now().date_naive();
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
            .join(file_name(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()));
        let today = dir.path().join(file_name(SystemClock.now().date_naive()));
        std::fs::write(&stale, "{}\n").unwrap();
        std::fs::write(&today, "{}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let (audit, writer) = Writer::start(dir.path(), 10, 16).unwrap();
        assert!(
            !stale.exists(),
            "removed at start: older than 10 days before today"
        );
        assert!(today.exists());
        assert!(dir.path().join("notes.txt").exists());
        // Either side of midnight, queued out of order.
        audit.record(admin_at("2031-06-01T00:00:00Z"));
        audit.record(admin_at("2031-05-31T23:59:59.999999Z"));
        audit.record(admin_at("2031-06-01T10:00:00Z"));
        writer.drain(Duration::from_secs(10));
        let day = |d: u32, m: u32| {
            std::fs::read_to_string(
                dir.path()
                    .join(file_name(NaiveDate::from_ymd_opt(2031, m, d).unwrap())),
            )
            .unwrap()
        };
        assert_eq!(day(31, 5).lines().count(), 1);
        assert_eq!(day(1, 6).lines().count(), 2);
        assert_eq!(audit.dropped(), 0);
    }

    #[test]
    fn refused_calls_are_recorded_within_a_budget_a_second() {
        let (queue, entries) = crossbeam_channel::bounded(1000);
        let audit = Audit::new(queue);
        for _ in 0..100 {
            audit.record_refusal(admin_at("2026-12-01T10:00:00Z"));
        }
        audit.record_refusal(admin_at("2026-12-01T10:00:01Z"));
        assert_eq!(entries.try_iter().count(), 21);
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
