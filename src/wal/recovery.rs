//! Reading a log directory back: the decision table of the module doc, row by row.
//!
//! [`analyze`] only reads: it returns what was recovered, the warnings, and the [`Action`]s
//! (cut a torn tail, remove a left-over file) that [`apply`] then performs. [`super::verify`]
//! runs the same analysis without applying anything, to say what `open` would decide.

use std::path::{Path, PathBuf};

use super::format::{self, RecordRead, SEGMENT_HEADER_BYTES};
use super::storage::Storage;
use super::WalError;

/// A segment file, known by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    pub name: String,
    pub path: PathBuf,
    /// From the name; the header must agree.
    pub first_lsn: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotFile {
    pub name: String,
    pub path: PathBuf,
    pub next_lsn: u64,
}

/// The log's files in a directory, each list sorted by lsn.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub segments: Vec<SegmentFile>,
    pub snapshots: Vec<SnapshotFile>,
    /// `*.tmp`: snapshots whose writing was interrupted.
    pub temp_files: Vec<PathBuf>,
}

/// Lists `dir`. A missing directory is an empty listing; names that are not the log's are
/// ignored.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing, WalError> {
    let mut listing = Listing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
        Err(e) => return Err(WalError::io("list", dir, None, &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| WalError::io("list", dir, None, &e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        if let Some(first_lsn) = format::parse_segment_file_name(&name) {
            listing.segments.push(SegmentFile {
                name,
                path,
                first_lsn,
            });
        } else if let Some(next_lsn) = format::parse_snapshot_file_name(&name) {
            listing.snapshots.push(SnapshotFile {
                name,
                path,
                next_lsn,
            });
        } else if name.ends_with(format::TEMP_SUFFIX)
            && (name.starts_with("wal-") || name.starts_with("snapshot-"))
        {
            listing.temp_files.push(path);
        }
    }
    listing.segments.sort_by_key(|s| s.first_lsn);
    listing.snapshots.sort_by_key(|s| s.next_lsn);
    listing.temp_files.sort();
    Ok(listing)
}

/// Largest segment file read back: the largest `segment_bytes` plus one oversized record.
const SEGMENT_FILE_BYTES_MAX: u64 = super::SEGMENT_BYTES_MAX
    + (SEGMENT_HEADER_BYTES + format::RECORD_HEADER_BYTES + format::RECORD_BYTES_MAX) as u64;

/// Where and why reading a segment stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    pub offset: u64,
    pub reason: String,
    /// The frame is whole (checksum good) but impossible: never a torn write.
    pub checksum_valid: bool,
    /// The header itself is bad.
    pub in_header: bool,
    /// Offset of an intact record somewhere after the damage, if one exists.
    pub intact_after: Option<u64>,
}

/// One segment read through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    pub file_bytes: u64,
    pub records: u64,
    /// The lsn after the last good record (the first lsn if there is none).
    pub next_lsn: u64,
    /// The byte after the last good record (the header's end if there is none).
    pub valid_end: u64,
    /// `None` when the data ends cleanly (end of file, or zeros to it).
    pub damage: Option<Damage>,
}

/// Reads `segment` from its header to its first problem, calling `visit(lsn, offset, payload)`
/// for every good record. Fails only if the file cannot be read; damage is data.
pub(crate) fn scan_segment(
    segment: &SegmentFile,
    visit: &mut dyn FnMut(u64, u64, &[u8]),
) -> Result<SegmentScan, WalError> {
    let file_bytes = std::fs::metadata(&segment.path)
        .map_err(|e| WalError::io("stat", &segment.path, None, &e))?
        .len();
    let mut scan = SegmentScan {
        file_bytes,
        records: 0,
        next_lsn: segment.first_lsn,
        valid_end: SEGMENT_HEADER_BYTES as u64,
        damage: None,
    };
    if file_bytes > SEGMENT_FILE_BYTES_MAX {
        scan.valid_end = 0;
        scan.damage = Some(Damage {
            offset: 0,
            reason: format!(
                "file of {file_bytes} bytes is over the segment file limit {SEGMENT_FILE_BYTES_MAX}"
            ),
            checksum_valid: false,
            in_header: true,
            intact_after: None,
        });
        return Ok(scan);
    }
    let buf =
        std::fs::read(&segment.path).map_err(|e| WalError::io("read", &segment.path, None, &e))?;
    scan.file_bytes = buf.len() as u64;

    let header_problem = match format::decode_segment_header(&buf) {
        Ok(first_lsn) if first_lsn == segment.first_lsn => None,
        Ok(first_lsn) => Some(format!(
            "header says first lsn {first_lsn} but the file name says {}",
            segment.first_lsn
        )),
        Err(reason) => Some(reason),
    };
    if let Some(reason) = header_problem {
        scan.valid_end = 0;
        scan.damage = Some(Damage {
            offset: 0,
            reason,
            checksum_valid: false,
            in_header: true,
            intact_after: intact_after(&buf, SEGMENT_HEADER_BYTES - 1, segment.first_lsn),
        });
        return Ok(scan);
    }

    let mut offset = SEGMENT_HEADER_BYTES;
    loop {
        match format::read_record(&buf, offset, scan.next_lsn) {
            RecordRead::Record { lsn, payload, next } => {
                let Some(next_lsn) = lsn.checked_add(1) else {
                    // Only a crafted file gets here (2^64 records were never written).
                    scan.damage = Some(Damage {
                        offset: offset as u64,
                        reason: format!("lsn {lsn} leaves no lsn after it"),
                        checksum_valid: true,
                        in_header: false,
                        intact_after: None,
                    });
                    break;
                };
                visit(lsn, offset as u64, payload);
                scan.records += 1;
                scan.next_lsn = next_lsn;
                offset = next;
            }
            RecordRead::End => break,
            RecordRead::Bad {
                reason,
                checksum_valid,
            } => {
                scan.damage = Some(Damage {
                    offset: offset as u64,
                    reason,
                    checksum_valid,
                    in_header: false,
                    intact_after: intact_after(&buf, offset, scan.next_lsn),
                });
                break;
            }
        }
    }
    scan.valid_end = offset as u64;
    Ok(scan)
}

/// An intact record after `from` whose lsn could belong to this log from `next_lsn` on.
fn intact_after(buf: &[u8], from: usize, next_lsn: u64) -> Option<u64> {
    let remaining = buf.len().saturating_sub(from) as u64;
    let lsn_max = next_lsn.saturating_add(remaining / format::record_frame_bytes(1) as u64 + 1);
    format::find_intact_record_after(buf, from, next_lsn, lsn_max).map(|at| at as u64)
}

/// A change recovery makes to the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remove a file: an interrupted snapshot, a segment or snapshot the newest snapshot
    /// covers, a segment dropped by a cut.
    Remove(PathBuf),
    /// Cut a segment at `offset`, zeroing what follows (re-preallocated).
    Cut { path: PathBuf, offset: u64 },
}

/// Where the writer continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Active {
    /// In this segment, at this offset.
    Continue { segment: SegmentFile, offset: u64 },
    /// In a new segment starting at this lsn.
    Create { first_lsn: u64 },
}

/// What recovery found and decided.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub snapshot: Option<(SnapshotFile, Vec<u8>)>,
    /// The newest snapshot's next lsn, or the first lsn.
    pub snapshot_next_lsn: u64,
    /// Records at or after the snapshot's next lsn (only when asked to collect).
    pub records: Vec<Vec<u8>>,
    pub warnings: Vec<String>,
    pub actions: Vec<Action>,
    /// Segments that remain after the actions, in order.
    pub live_segments: Vec<SegmentFile>,
    pub active: Active,
    pub next_lsn: u64,
}

/// Reads the listed files and decides per the table in the module doc. `collect` keeps the
/// payloads of the records after the snapshot (open); `verify` only needs the decision.
pub(crate) fn analyze(
    listing: &Listing,
    truncate_corrupt_tail: bool,
    collect: bool,
) -> Result<Analysis, WalError> {
    let mut warnings = Vec::new();
    let mut actions = Vec::new();
    for temp in &listing.temp_files {
        warnings.push(format!(
            "removed {}: a snapshot whose writing was interrupted",
            temp.display()
        ));
        actions.push(Action::Remove(temp.clone()));
    }

    // Row "bad snapshot": the newest snapshot must be whole.
    let snapshot = match listing.snapshots.last() {
        Some(file) => Some((file.clone(), read_snapshot(file)?)),
        None => None,
    };
    let covered = snapshot
        .as_ref()
        .map_or(format::FIRST_LSN, |(file, _)| file.next_lsn);
    for older in listing.snapshots.iter().rev().skip(1) {
        warnings.push(format!(
            "removed {}: superseded by a newer snapshot",
            older.path.display()
        ));
        actions.push(Action::Remove(older.path.clone()));
    }

    // Segments wholly covered by the snapshot: the next one starts at or before its next lsn.
    let segments = &listing.segments;
    let stale = segments
        .windows(2)
        .take_while(|pair| pair[1].first_lsn <= covered)
        .count();
    for segment in &segments[..stale] {
        warnings.push(format!(
            "removed {}: wholly covered by the snapshot (next lsn {covered})",
            segment.path.display()
        ));
        actions.push(Action::Remove(segment.path.clone()));
    }
    let live = &segments[stale..];

    let mut analysis = Analysis {
        snapshot_next_lsn: covered,
        snapshot,
        records: Vec::new(),
        warnings,
        actions,
        live_segments: Vec::new(),
        active: Active::Create { first_lsn: covered },
        next_lsn: covered,
    };

    // Row "empty", and the first rows of "missing segment".
    let Some(first) = live.first() else {
        if let Some((file, _)) = &analysis.snapshot {
            return Err(WalError::MissingSegment {
                detail: format!(
                    "{} covers lsns below {covered} but no segment is left to hold lsn \
                     {covered} onwards",
                    file.path.display()
                ),
            });
        }
        return Ok(analysis);
    };
    if first.first_lsn > covered {
        let before = match &analysis.snapshot {
            Some((file, _)) => format!("{} ends below lsn {covered}", file.path.display()),
            None => format!("the log starts at lsn {covered}"),
        };
        return Err(WalError::MissingSegment {
            detail: format!(
                "lsns {covered}..={} are missing: {before}, but the first segment {} starts at \
                 lsn {}",
                first.first_lsn - 1,
                first.path.display(),
                first.first_lsn
            ),
        });
    }

    let mut next_lsn = first.first_lsn;
    for (index, segment) in live.iter().enumerate() {
        let is_last = index + 1 == live.len();
        // Row "missing segment" between two segments (or "corrupt middle" for an overlap).
        if index > 0 && segment.first_lsn != next_lsn {
            let previous = &live[index - 1];
            if segment.first_lsn > next_lsn {
                return Err(WalError::MissingSegment {
                    detail: format!(
                        "lsns {next_lsn}..={} are missing: {} ends at lsn {} and {} starts at \
                         lsn {}",
                        segment.first_lsn - 1,
                        previous.path.display(),
                        next_lsn - 1,
                        segment.path.display(),
                        segment.first_lsn
                    ),
                });
            }
            let error = WalError::Corrupt {
                segment: segment.path.display().to_string(),
                offset: 0,
                reason: format!(
                    "segments overlap: it starts at lsn {} but {} runs to lsn {}",
                    segment.first_lsn,
                    previous.path.display(),
                    next_lsn - 1
                ),
            };
            cut_or_refuse(&mut analysis, error, live, index, 0, truncate_corrupt_tail)?;
            break;
        }

        let records = &mut analysis.records;
        let scan = scan_segment(segment, &mut |lsn, _offset, payload| {
            if collect && lsn >= covered {
                records.push(payload.to_vec());
            }
        })?;
        analysis.live_segments.push(segment.clone());
        next_lsn = scan.next_lsn;
        let Some(damage) = scan.damage else {
            // Row "clean end".
            analysis.active = Active::Continue {
                segment: segment.clone(),
                offset: scan.valid_end,
            };
            continue;
        };

        // Row "torn tail": only in the last segment, only if nothing intact follows, and never
        // for an intact frame with an impossible lsn.
        let torn = is_last && !damage.checksum_valid && damage.intact_after.is_none();
        if torn && damage.in_header {
            // The segment's creation was interrupted before its header reached the disk; it
            // holds no record. Remove it; the writer creates it anew.
            analysis.warnings.push(format!(
                "removed {}: its header is not whole ({}) and it holds no record (an \
                 interrupted segment creation)",
                segment.path.display(),
                damage.reason
            ));
            analysis.actions.push(Action::Remove(segment.path.clone()));
            analysis.live_segments.pop();
            analysis.active = match analysis.live_segments.last() {
                Some(_) => analysis.active.clone(),
                None => Active::Create {
                    first_lsn: segment.first_lsn,
                },
            };
            break;
        }
        if torn {
            analysis.warnings.push(format!(
                "torn tail cut: {} at byte {}: {}; the log now ends at lsn {} ({} bytes after \
                 the last whole record zeroed)",
                segment.path.display(),
                damage.offset,
                damage.reason,
                next_lsn.saturating_sub(1),
                scan.file_bytes.saturating_sub(damage.offset)
            ));
            analysis.actions.push(Action::Cut {
                path: segment.path.clone(),
                offset: damage.offset,
            });
            analysis.active = Active::Continue {
                segment: segment.clone(),
                offset: damage.offset,
            };
            break;
        }

        // Row "corrupt middle".
        let mut reason = damage.reason.clone();
        if let Some(at) = damage.intact_after {
            reason.push_str(&format!("; an intact record follows at byte {at}"));
        } else if damage.checksum_valid {
            reason.push_str("; the frame itself is intact, so this is not a torn write");
        } else if damage.in_header {
            reason.push_str("; in a segment's header");
        }
        if !is_last {
            reason.push_str(&format!(
                "; {} later segment(s) follow, from {}",
                live.len() - index - 1,
                live[index + 1].path.display()
            ));
        }
        let error = WalError::Corrupt {
            segment: segment.path.display().to_string(),
            offset: damage.offset,
            reason,
        };
        cut_or_refuse(
            &mut analysis,
            error,
            live,
            index,
            damage.offset,
            truncate_corrupt_tail,
        )?;
        break;
    }

    // Housekeeping row: a log cut before the snapshot's next lsn continues after it.
    if next_lsn < covered {
        analysis.warnings.push(format!(
            "the log ends at lsn {} before the snapshot's next lsn {covered}: continuing in a \
             new segment at lsn {covered}",
            next_lsn.saturating_sub(1)
        ));
        analysis.active = Active::Create { first_lsn: covered };
        next_lsn = covered;
    } else if let Active::Create { first_lsn } = &mut analysis.active {
        *first_lsn = next_lsn;
    }
    analysis.next_lsn = next_lsn;
    debug_assert!(
        !collect || analysis.records.len() as u64 == next_lsn - covered,
        "records recovered are exactly those from the snapshot on"
    );
    Ok(analysis)
}

/// The "corrupt middle" decision: refuse, or with the operator's flag cut at `offset` of
/// `live[index]` and remove every later segment.
fn cut_or_refuse(
    analysis: &mut Analysis,
    error: WalError,
    live: &[SegmentFile],
    index: usize,
    offset: u64,
    truncate_corrupt_tail: bool,
) -> Result<(), WalError> {
    if !truncate_corrupt_tail {
        return Err(error);
    }
    let segment = &live[index];
    let dropped: Vec<String> = live[index + 1..]
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    analysis.warnings.push(format!(
        "CORRUPT LOG CUT by truncate_corrupt_tail: {error}. Everything after it is DROPPED: the \
         rest of {}{}",
        segment.path.display(),
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" and segments {}", dropped.join(", "))
        }
    ));
    for later in &live[index + 1..] {
        analysis.actions.push(Action::Remove(later.path.clone()));
    }
    if offset == 0 {
        // The segment's header (or its place in the sequence) is bad: drop it whole.
        analysis.actions.push(Action::Remove(segment.path.clone()));
        if analysis.live_segments.last() == Some(segment) {
            analysis.live_segments.pop();
        }
        if !matches!(&analysis.active, Active::Continue { segment: s, .. } if s != segment) {
            analysis.active = Active::Create {
                first_lsn: segment.first_lsn,
            };
        }
    } else {
        analysis.actions.push(Action::Cut {
            path: segment.path.clone(),
            offset,
        });
        analysis.active = Active::Continue {
            segment: segment.clone(),
            offset,
        };
    }
    Ok(())
}

/// Reads and checks a snapshot file: its payload, or [`WalError::BadSnapshot`].
pub(crate) fn read_snapshot(file: &SnapshotFile) -> Result<Vec<u8>, WalError> {
    let bad = |offset: u64, reason: String| WalError::BadSnapshot {
        file: file.path.display().to_string(),
        offset,
        reason,
    };
    let file_bytes = std::fs::metadata(&file.path)
        .map_err(|e| WalError::io("stat", &file.path, None, &e))?
        .len();
    let limit = (format::SNAPSHOT_HEADER_BYTES + format::SNAPSHOT_BYTES_MAX) as u64;
    if file_bytes > limit {
        return Err(bad(
            0,
            format!("file of {file_bytes} bytes is over the snapshot limit {limit}"),
        ));
    }
    let mut buf =
        std::fs::read(&file.path).map_err(|e| WalError::io("read", &file.path, None, &e))?;
    let (next_lsn, payload_bytes) = format::decode_snapshot(&buf)
        .map(|(next_lsn, payload)| (next_lsn, payload.len()))
        .map_err(|(at, why)| bad(at, why))?;
    if next_lsn != file.next_lsn {
        return Err(bad(
            16,
            format!(
                "header says next lsn {next_lsn} but the file name says {}",
                file.next_lsn
            ),
        ));
    }
    // Reuse the read buffer: drop the header in place rather than copy a large payload.
    buf.drain(..buf.len() - payload_bytes);
    Ok(buf)
}

/// Performs `actions` (open only), then makes the directory durable.
pub(crate) fn apply(
    storage: &dyn Storage,
    dir: &Path,
    actions: &[Action],
    segment_bytes: u64,
) -> Result<(), WalError> {
    for action in actions {
        match action {
            Action::Remove(path) => match storage.remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("remove", path, None, &e)),
            },
            Action::Cut { path, offset } => {
                let error = |op, e: &std::io::Error| WalError::io(op, path, Some(*offset), e);
                let mut file = storage.open_write(path).map_err(|e| error("open", &e))?;
                file.set_len(*offset).map_err(|e| error("truncate", &e))?;
                file.preallocate(segment_bytes.max(*offset))
                    .map_err(|e| error("preallocate", &e))?;
                file.sync_data().map_err(|e| error("fsync", &e))?;
            }
        }
    }
    if !actions.is_empty() {
        storage
            .sync_dir(dir)
            .map_err(|e| WalError::io("fsync directory", dir, None, &e))?;
    }
    Ok(())
}
