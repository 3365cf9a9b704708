//! Read-only inspection for operators: [`verify`] checks every file, [`dump`] lists records.
//!
//! Neither changes the directory nor takes its lock, so both can run beside a live gateway
//! (which may then show a tail still being written as torn).

use std::path::Path;

use super::recovery::{self, Damage, SegmentFile};
use super::WalError;

/// What [`verify`] found. Every problem names its file and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Every segment file, in lsn order.
    pub segments: Vec<SegmentReport>,
    /// Every snapshot file, oldest first.
    pub snapshots: Vec<SnapshotReport>,
    /// Intact records across all segments.
    pub records: u64,
    /// Every problem, segments in lsn order then snapshots, as `file at byte N: reason`.
    pub problems: Vec<String>,
    /// What [`super::Wal::open`] would do without the operator's flag: continue cleanly,
    /// repair (its warnings), or refuse (its error).
    pub open_decision: String,
    /// Whether that open would refuse to start.
    pub open_refuses: bool,
}

impl VerifyReport {
    /// No problem anywhere.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem, if any.
    pub fn first_problem(&self) -> Option<&str> {
        self.problems.first().map(String::as_str)
    }
}

/// One segment file checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    pub name: String,
    /// From the file name.
    pub first_lsn: u64,
    /// Intact records from the header to the first problem (or the end).
    pub records: u64,
    pub last_lsn: Option<u64>,
    /// Bytes from the start of the file to the end of the last intact record.
    pub valid_bytes: u64,
    pub file_bytes: u64,
    /// The first problem in this file: `name at byte N: reason`.
    pub problem: Option<String>,
}

/// One snapshot file checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotReport {
    pub name: String,
    /// From the file name.
    pub next_lsn: u64,
    /// The payload size, when the file checks out.
    pub payload_bytes: Option<u64>,
    pub problem: Option<String>,
}

/// One record, as [`dump`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    /// The segment file's name.
    pub segment: String,
    /// The record's byte offset in that file.
    pub offset: u64,
    pub lsn: u64,
    pub record: Vec<u8>,
}

fn existing_dir(dir: &Path) -> Result<(), WalError> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(WalError::io(
            "open",
            dir,
            None,
            &std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        )),
        Err(e) => Err(WalError::io("open", dir, None, &e)),
    }
}

/// Checks every segment and snapshot in `dir`: records, the valid length of each segment, gaps
/// between segments, and the first problem with its file and byte offset. Fails only when the
/// directory or a file cannot be read; damage is reported, not returned as an error.
pub fn verify(dir: &Path) -> Result<VerifyReport, WalError> {
    existing_dir(dir)?;
    let listing = recovery::list_dir(dir)?;
    let mut problems = Vec::new();
    let mut segments = Vec::with_capacity(listing.segments.len());
    let mut records = 0;
    let mut previous: Option<(&SegmentFile, u64)> = None;
    for (index, segment) in listing.segments.iter().enumerate() {
        if let Some(problem) = gap_problem(previous, segment) {
            problems.push(problem);
        }
        let scan = recovery::scan_segment(segment, &mut |_, _, _| {})?;
        let is_last = index + 1 == listing.segments.len();
        let problem = scan
            .damage
            .as_ref()
            .map(|damage| damage_error(segment, damage, is_last).to_string());
        problems.extend(problem.clone());
        records += scan.records;
        segments.push(SegmentReport {
            name: segment.name.clone(),
            first_lsn: segment.first_lsn,
            records: scan.records,
            last_lsn: (scan.records > 0).then(|| scan.next_lsn - 1),
            valid_bytes: scan.valid_end,
            file_bytes: scan.file_bytes,
            problem,
        });
        previous = scan.damage.is_none().then_some((segment, scan.next_lsn));
    }

    let mut snapshots = Vec::with_capacity(listing.snapshots.len());
    for snapshot in &listing.snapshots {
        let (payload_bytes, problem) = match recovery::read_snapshot(snapshot) {
            Ok(payload) => (Some(payload.len() as u64), None),
            Err(WalError::BadSnapshot {
                file,
                offset,
                reason,
            }) => (None, Some(format!("{file} at byte {offset}: {reason}"))),
            Err(error) => return Err(error),
        };
        problems.extend(problem.clone());
        snapshots.push(SnapshotReport {
            name: snapshot.name.clone(),
            next_lsn: snapshot.next_lsn,
            payload_bytes,
            problem,
        });
    }

    let (open_decision, open_refuses) = match recovery::analyze(&listing, false, false) {
        Ok(analysis) if analysis.warnings.is_empty() => (
            format!("open continues cleanly at lsn {}", analysis.next_lsn),
            false,
        ),
        Ok(analysis) => (
            format!(
                "open repairs and continues at lsn {}: {}",
                analysis.next_lsn,
                analysis.warnings.join("; ")
            ),
            false,
        ),
        Err(error) => (format!("open refuses: {error}"), true),
    };
    Ok(VerifyReport {
        segments,
        snapshots,
        records,
        problems,
        open_decision,
        open_refuses,
    })
}

/// Calls `out` for every intact record of every segment in `dir`, in lsn order, each segment
/// up to its first problem (records before a snapshot included). Returns the first problem
/// (torn tail, corruption or gap) after everything readable has been listed.
pub fn dump(dir: &Path, out: &mut dyn FnMut(DumpEntry)) -> Result<(), WalError> {
    existing_dir(dir)?;
    let listing = recovery::list_dir(dir)?;
    let mut first_problem = None;
    let mut previous: Option<(&SegmentFile, u64)> = None;
    for (index, segment) in listing.segments.iter().enumerate() {
        if let Some(detail) = gap_problem(previous, segment) {
            first_problem.get_or_insert(WalError::MissingSegment { detail });
        }
        let scan = recovery::scan_segment(segment, &mut |lsn, offset, payload| {
            out(DumpEntry {
                segment: segment.name.clone(),
                offset,
                lsn,
                record: payload.to_vec(),
            });
        })?;
        if let Some(damage) = &scan.damage {
            let is_last = index + 1 == listing.segments.len();
            first_problem.get_or_insert_with(|| damage_error(segment, damage, is_last));
        }
        previous = scan.damage.is_none().then_some((segment, scan.next_lsn));
    }
    match first_problem {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// A gap or overlap between a cleanly ended segment and the next.
fn gap_problem(previous: Option<(&SegmentFile, u64)>, segment: &SegmentFile) -> Option<String> {
    let (previous, next_lsn) = previous?;
    if segment.first_lsn == next_lsn {
        return None;
    }
    let what = if segment.first_lsn > next_lsn {
        format!("lsns {next_lsn}..={} are missing", segment.first_lsn - 1)
    } else {
        "segments overlap".to_string()
    };
    Some(format!(
        "{what}: {} ends at lsn {} and {} starts at lsn {}",
        previous.path.display(),
        next_lsn.saturating_sub(1),
        segment.path.display(),
        segment.first_lsn
    ))
}

/// Damage as the error open would see, torn tail or corruption (per the decision table).
fn damage_error(segment: &SegmentFile, damage: &Damage, is_last: bool) -> WalError {
    let torn = is_last && !damage.checksum_valid && damage.intact_after.is_none();
    let segment_path = segment.path.display().to_string();
    if torn {
        return WalError::TornTail {
            segment: segment_path,
            offset: damage.offset,
            reason: damage.reason.clone(),
        };
    }
    let mut reason = damage.reason.clone();
    if let Some(at) = damage.intact_after {
        reason.push_str(&format!("; an intact record follows at byte {at}"));
    }
    WalError::Corrupt {
        segment: segment_path,
        offset: damage.offset,
        reason,
    }
}
