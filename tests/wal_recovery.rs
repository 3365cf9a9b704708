//! The WAL's recovery decision table, row by row, through the public API and real files:
//! write a log, damage it the way a crash or a bad disk would, reopen, and check the decision.
//! Also: snapshots, segment rolls, concurrent appenders, verify and dump, and the fail-closed
//! rule under injected EIO/ENOSPC (nothing acknowledged is ever lost).
//!
//! Tests wait on conditions (an append resolving, a thread joining), never on sleeps.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omnigate::wal::{
    dump, verify, DumpEntry, Fault, FaultPlan, FaultyStorage, Recovered, Wal, WalError, WalOptions,
};

/// A scratch directory removed on drop (`tempfile`), named for the test that uses it.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("omnigate-wal-{name}-"))
        .tempdir()
        .expect("create test dir")
}

fn options() -> WalOptions {
    WalOptions {
        segment_bytes: 64 * 1024,
        ..WalOptions::default()
    }
}

/// Small segments: about 40 records of [`record`] each.
fn small_segments() -> WalOptions {
    WalOptions {
        segment_bytes: 4096,
        ..WalOptions::default()
    }
}

/// A ~80-byte record that names its number, so a misplaced one is seen.
fn record(n: u64) -> Vec<u8> {
    format!("record {n:08} {}", "x".repeat(60)).into_bytes()
}

fn open(dir: &Path, options: WalOptions) -> (Wal, Recovered) {
    Wal::open(dir, options).expect("open")
}

/// Writes records 1..=count (each acknowledged before the next) and shuts the log down.
fn write_log(dir: &Path, options: WalOptions, count: u64) {
    let (wal, recovered) = open(dir, options);
    let first = recovered.next_lsn;
    for n in 0..count {
        let lsn = wal.append(record(first + n)).wait().expect("append");
        assert_eq!(lsn, first + n);
    }
    wal.shutdown();
}

fn expected_records(lsns: std::ops::RangeInclusive<u64>) -> Vec<Vec<u8>> {
    lsns.map(record).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    files_starting_with(dir, "wal-")
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    files_starting_with(dir, "snapshot-")
}

fn files_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix))
        })
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("file name")
        .to_string()
}

/// Every record's segment and offset, as dump sees them.
fn entries(dir: &Path) -> Vec<DumpEntry> {
    let mut entries = Vec::new();
    dump(dir, &mut |entry| entries.push(entry)).expect("dump of a good log");
    entries
}

fn entry(dir: &Path, lsn: u64) -> DumpEntry {
    entries(dir)
        .into_iter()
        .find(|e| e.lsn == lsn)
        .expect("record in dump")
}

fn edit_file(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).expect("read");
    edit(&mut bytes);
    std::fs::write(path, bytes).expect("write");
}

fn flip_bit(path: &Path, offset: u64) {
    edit_file(path, |bytes| bytes[offset as usize] ^= 0x08);
}

// ── row "empty" ──────────────────────────────────────────────────────────────────────────

#[test]
fn empty_or_missing_directory_is_a_fresh_log() {
    let temp = scratch("empty");
    for dir in [temp.path().to_path_buf(), temp.path().join("not/yet/there")] {
        let (wal, recovered) = open(&dir, options());
        assert_eq!(
            recovered,
            Recovered {
                next_lsn: 1,
                ..Recovered::default()
            }
        );
        assert_eq!(wal.append(b"first".to_vec()).wait(), Ok(1));
        drop(wal);
        let (_wal, recovered) = open(&dir, options());
        assert_eq!(recovered.records, vec![b"first".to_vec()]);
        assert_eq!(recovered.next_lsn, 2);
        assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
    }
}

// ── row "clean end" ──────────────────────────────────────────────────────────────────────

#[test]
fn clean_end_reopens_and_continues() {
    let temp = scratch("clean");
    write_log(temp.path(), options(), 25);
    let (wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records, expected_records(1..=25));
    assert_eq!(recovered.next_lsn, 26);
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
    assert_eq!(wal.append(record(26)).wait(), Ok(26));
    drop(wal);
    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records, expected_records(1..=26));
}

#[test]
fn a_file_ending_exactly_at_a_record_boundary_is_a_clean_end() {
    let temp = scratch("boundary");
    write_log(temp.path(), options(), 6);
    let last = entry(temp.path(), 6);
    let segment = temp.path().join(&last.segment);
    // The preallocated zeros cut off right after record 6, and right before it.
    for (cut, records) in [
        (last.offset + 16 + last.record.len() as u64, 6),
        (last.offset, 5),
    ] {
        let copy = scratch(&format!("boundary-{cut}"));
        std::fs::copy(&segment, copy.path().join(&last.segment)).expect("copy");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path().join(&last.segment))
            .expect("open");
        file.set_len(cut).expect("truncate");
        drop(file);
        let (_wal, recovered) = open(copy.path(), options());
        assert_eq!(recovered.records, expected_records(1..=records));
        assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
    }
}

// ── row "torn tail" ──────────────────────────────────────────────────────────────────────

/// The last record made it to disk only up to `keep` of its bytes; the rest reads as the
/// preallocated zeros (`truncate` false) or the file ends there (`truncate` true).
fn tear_last_record(dir: &Path, lsn: u64, keep: u64, truncate: bool) {
    let last = entry(dir, lsn);
    let path = dir.join(&last.segment);
    let frame = 16 + last.record.len() as u64;
    assert!(keep < frame);
    edit_file(&path, |bytes| {
        let start = (last.offset + keep) as usize;
        if truncate {
            bytes.truncate(start);
        } else {
            bytes[start..(last.offset + frame) as usize].fill(0);
        }
    });
}

#[test]
fn torn_tail_is_cut_at_the_last_whole_record_wherever_the_tear_is() {
    // Inside the length, inside the crc, inside the lsn, inside the payload, its last byte.
    let frame = 16 + record(8).len() as u64;
    for keep in [1, 3, 4, 6, 9, 15, 16, 40, frame - 1] {
        for truncate in [false, true] {
            let temp = scratch(&format!("torn-{keep}-{truncate}"));
            write_log(temp.path(), options(), 8);
            let segment = file_name(&segment_files(temp.path())[0]);
            let offset = entry(temp.path(), 8).offset;
            tear_last_record(temp.path(), 8, keep, truncate);

            let (wal, recovered) = open(temp.path(), options());
            assert_eq!(recovered.records, expected_records(1..=7), "keep {keep}");
            assert_eq!(recovered.next_lsn, 8);
            assert_eq!(recovered.warnings.len(), 1, "{:?}", recovered.warnings);
            let warning = &recovered.warnings[0];
            assert!(warning.contains("torn tail cut"), "{warning}");
            assert!(warning.contains(&segment), "{warning}");
            assert!(warning.contains(&format!("at byte {offset}")), "{warning}");
            // The log continues where it was cut, and the cut is durable and clean.
            assert_eq!(wal.append(b"after the cut".to_vec()).wait(), Ok(8));
            drop(wal);
            let (_wal, recovered) = open(temp.path(), options());
            assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
            assert_eq!(recovered.records.len(), 8);
            assert_eq!(recovered.records[7], b"after the cut");
        }
    }
}

#[test]
fn a_bad_checksum_on_the_last_record_is_a_torn_tail() {
    let temp = scratch("torn-crc");
    write_log(temp.path(), options(), 5);
    let last = entry(temp.path(), 5);
    flip_bit(&temp.path().join(&last.segment), last.offset + 30);
    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records, expected_records(1..=4));
    assert!(
        recovered.warnings[0].contains("checksum mismatch"),
        "{:?}",
        recovered.warnings
    );
}

#[test]
fn an_interrupted_segment_creation_is_removed() {
    let temp = scratch("torn-header");
    write_log(temp.path(), small_segments(), 100);
    let segments = segment_files(temp.path());
    let last = segments.last().expect("segments");
    // The crash hit after the file was created and preallocated, before its header was on disk.
    edit_file(last, |bytes| bytes.fill(0));
    let first_lsn_of_last = entry_lsns_in(temp.path(), last).0;
    assert!(
        first_lsn_of_last.is_none(),
        "the zeroed segment holds nothing"
    );
    let lost_from: u64 = file_name(last)[4..24].parse().expect("lsn in name");

    let (wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(recovered.records, expected_records(1..=lost_from - 1));
    assert!(
        recovered.warnings[0].contains("interrupted segment creation"),
        "{:?}",
        recovered.warnings
    );
    // The segment is recreated by the writer at the same lsn.
    assert_eq!(wal.append(record(lost_from)).wait(), Ok(lost_from));
    drop(wal);
    let (_wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(recovered.records, expected_records(1..=lost_from));
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
}

/// (first lsn, count) of the records dump finds in one segment (ignoring dump's verdict).
fn entry_lsns_in(dir: &Path, segment: &Path) -> (Option<u64>, usize) {
    let name = file_name(segment);
    let mut lsns = Vec::new();
    let _ = dump(dir, &mut |e| {
        if e.segment == name {
            lsns.push(e.lsn)
        }
    });
    (lsns.first().copied(), lsns.len())
}

// ── row "corrupt middle" ─────────────────────────────────────────────────────────────────

#[test]
fn a_flipped_bit_mid_log_refuses_naming_segment_and_offset() {
    let temp = scratch("mid");
    write_log(temp.path(), options(), 10);
    let bad = entry(temp.path(), 5);
    flip_bit(&temp.path().join(&bad.segment), bad.offset + 20);

    let error = Wal::open(temp.path(), options()).expect_err("must refuse");
    let WalError::Corrupt {
        segment,
        offset,
        reason,
    } = &error
    else {
        panic!("{error}")
    };
    assert!(segment.ends_with(&bad.segment), "{segment}");
    assert_eq!(*offset, bad.offset);
    assert!(reason.contains("checksum mismatch"), "{reason}");
    assert!(reason.contains("an intact record follows"), "{reason}");
    let message = error.to_string();
    assert!(message.contains(&bad.segment) && message.contains(&format!("byte {}", bad.offset)));
    assert!(message.contains("truncate_corrupt_tail"), "{message}");
    // Refusing changed nothing: it refuses again, the same way.
    assert_eq!(Wal::open(temp.path(), options()).expect_err("again"), error);
}

#[test]
fn with_the_operator_flag_a_mid_log_corruption_is_cut_there() {
    let temp = scratch("mid-flag");
    write_log(temp.path(), options(), 10);
    let bad = entry(temp.path(), 5);
    flip_bit(&temp.path().join(&bad.segment), bad.offset + 20);

    let flagged = WalOptions {
        truncate_corrupt_tail: true,
        ..options()
    };
    let (wal, recovered) = open(temp.path(), flagged);
    assert_eq!(recovered.records, expected_records(1..=4));
    assert_eq!(recovered.next_lsn, 5);
    assert!(
        recovered.warnings[0].starts_with("CORRUPT LOG CUT"),
        "{:?}",
        recovered.warnings
    );
    assert!(recovered.warnings[0].contains(&bad.segment));
    assert_eq!(wal.append(b"new 5".to_vec()).wait(), Ok(5));
    drop(wal);
    // Without the flag it now opens: the cut is durable.
    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records.len(), 5);
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
}

#[test]
fn damage_at_the_end_of_a_segment_that_is_not_the_last_refuses() {
    let temp = scratch("mid-segment");
    write_log(temp.path(), small_segments(), 100);
    let segments = segment_files(temp.path());
    assert!(segments.len() >= 3, "{segments:?}");
    // The last record of the first segment: nothing follows it in its file, but a later
    // segment does, so it is not a torn tail.
    let first = file_name(&segments[0]);
    let last_in_first = entries(temp.path())
        .into_iter()
        .rfind(|e| e.segment == first)
        .expect("records");
    flip_bit(&segments[0], last_in_first.offset + 25);

    let error = Wal::open(temp.path(), small_segments()).expect_err("must refuse");
    let WalError::Corrupt {
        segment,
        offset,
        reason,
    } = &error
    else {
        panic!("{error}")
    };
    assert!(segment.ends_with(&first));
    assert_eq!(*offset, last_in_first.offset);
    assert!(reason.contains("later segment(s) follow"), "{reason}");

    let flagged = WalOptions {
        truncate_corrupt_tail: true,
        ..small_segments()
    };
    let (_wal, recovered) = open(temp.path(), flagged);
    assert_eq!(
        recovered.records,
        expected_records(1..=last_in_first.lsn - 1)
    );
    assert_eq!(
        segment_files(temp.path()),
        vec![segments[0].clone()],
        "later segments removed"
    );
}

#[test]
fn an_intact_record_with_an_impossible_lsn_refuses_even_at_the_tail() {
    let temp = scratch("bad-lsn");
    write_log(temp.path(), options(), 3);
    let last = entry(temp.path(), 3);
    // Re-frame record 3 as lsn 9 with a good checksum: whole, so not a torn write.
    edit_file(&temp.path().join(&last.segment), |bytes| {
        let at = last.offset as usize;
        bytes[at + 8..at + 16].copy_from_slice(&9u64.to_le_bytes());
        let crc = crc32c_of(9, &last.record);
        bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    });
    let error = Wal::open(temp.path(), options()).expect_err("must refuse");
    assert!(
        matches!(&error, WalError::Corrupt { offset, reason, .. }
            if *offset == last.offset && reason.contains("lsn 9 where lsn 3 is next")),
        "{error}"
    );
}

/// The record checksum, computed the long way (bitwise CRC-32C) so the test does not reuse
/// the code under test.
fn crc32c_of(lsn: u64, payload: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in lsn.to_le_bytes().iter().chain(payload) {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn an_over_limit_length_mid_log_refuses() {
    let temp = scratch("huge-len");
    write_log(temp.path(), options(), 6);
    let bad = entry(temp.path(), 2);
    edit_file(&temp.path().join(&bad.segment), |bytes| {
        let at = bad.offset as usize;
        bytes[at..at + 4].copy_from_slice(&(2u32 << 20).to_le_bytes());
    });
    let error = Wal::open(temp.path(), options()).expect_err("must refuse");
    assert!(
        matches!(&error, WalError::Corrupt { offset, reason, .. }
            if *offset == bad.offset && reason.contains("over the record limit")),
        "{error}"
    );
}

// ── row "missing segment" ────────────────────────────────────────────────────────────────

#[test]
fn a_missing_middle_segment_refuses_naming_the_gap() {
    let temp = scratch("gap");
    write_log(temp.path(), small_segments(), 120);
    let segments = segment_files(temp.path());
    assert!(segments.len() >= 3, "{segments:?}");
    std::fs::remove_file(&segments[1]).expect("remove");
    let error = Wal::open(temp.path(), small_segments()).expect_err("must refuse");
    let WalError::MissingSegment { detail } = &error else {
        panic!("{error}")
    };
    let second_first: u64 = file_name(&segments[1])[4..24].parse().expect("lsn");
    let third_first: u64 = file_name(&segments[2])[4..24].parse().expect("lsn");
    assert!(
        detail.contains(&format!(
            "lsns {second_first}..={} are missing",
            third_first - 1
        )),
        "{detail}"
    );
    assert!(detail.contains(&file_name(&segments[0])) && detail.contains(&file_name(&segments[2])));
    // Even the operator's flag does not paper over a missing file.
    let flagged = WalOptions {
        truncate_corrupt_tail: true,
        ..small_segments()
    };
    assert!(matches!(
        Wal::open(temp.path(), flagged),
        Err(WalError::MissingSegment { .. })
    ));
}

#[test]
fn a_missing_first_segment_refuses() {
    let temp = scratch("gap-first");
    write_log(temp.path(), small_segments(), 100);
    let segments = segment_files(temp.path());
    std::fs::remove_file(&segments[0]).expect("remove");
    let error = Wal::open(temp.path(), small_segments()).expect_err("must refuse");
    assert!(
        matches!(&error, WalError::MissingSegment { detail } if detail.contains("the log starts at lsn 1")),
        "{error}"
    );
}

#[test]
fn a_missing_segment_after_the_snapshot_refuses() {
    let temp = scratch("gap-snapshot");
    let (wal, _) = open(temp.path(), small_segments());
    for n in 1..=100 {
        wal.append(record(n)).wait().expect("append");
    }
    wal.snapshot(b"state at 50", 50).expect("snapshot");
    drop(wal);
    // The segment holding lsn 50 (the first left) goes missing.
    let segments = segment_files(temp.path());
    std::fs::remove_file(&segments[0]).expect("remove");
    let error = Wal::open(temp.path(), small_segments()).expect_err("must refuse");
    assert!(
        matches!(&error, WalError::MissingSegment { detail }
            if detail.contains("snapshot-00000000000000000050.snap") && detail.contains("lsns 50..=")),
        "{error}"
    );
}

// ── row "bad snapshot" ───────────────────────────────────────────────────────────────────

#[test]
fn a_bad_snapshot_refuses_naming_the_file() {
    let temp = scratch("bad-snapshot");
    let (wal, _) = open(temp.path(), options());
    for n in 1..=10 {
        wal.append(record(n)).wait().expect("append");
    }
    wal.snapshot(b"the state after ten records", 11)
        .expect("snapshot");
    drop(wal);
    let snapshot = snapshot_files(temp.path()).pop().expect("snapshot file");
    for (offset, expected_at) in [(45u64, 40u64), (17, 36), (0, 0)] {
        flip_bit(&snapshot, offset);
        let error = Wal::open(temp.path(), options()).expect_err("must refuse");
        let WalError::BadSnapshot {
            file, offset: at, ..
        } = &error
        else {
            panic!("{error}")
        };
        assert!(
            file.ends_with("snapshot-00000000000000000011.snap"),
            "{file}"
        );
        assert_eq!(*at, expected_at, "{error}");
        flip_bit(&snapshot, offset);
    }
    // Repaired, it opens.
    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(
        recovered.snapshot.as_deref(),
        Some(&b"the state after ten records"[..])
    );
}

// ── snapshots ────────────────────────────────────────────────────────────────────────────

#[test]
fn snapshot_then_tail_replay_returns_only_records_after_it() {
    let temp = scratch("snapshot");
    let (wal, _) = open(temp.path(), small_segments());
    for n in 1..=100 {
        assert_eq!(wal.append(record(n)).wait(), Ok(n));
    }
    let before = segment_files(temp.path());
    assert!(before.len() >= 3);
    wal.snapshot(b"state covering 1..=60", 61)
        .expect("snapshot");
    let after = segment_files(temp.path());
    // Segments wholly below lsn 61 are gone; the one holding 61 is kept.
    assert!(after.len() < before.len());
    let first_kept: u64 = file_name(&after[0])[4..24].parse().expect("lsn");
    assert!(first_kept <= 61, "{after:?}");
    let removed: Vec<_> = before.iter().filter(|p| !after.contains(p)).collect();
    assert!(!removed.is_empty());
    for n in 101..=120 {
        assert_eq!(wal.append(record(n)).wait(), Ok(n));
    }
    drop(wal);

    let (wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(
        recovered.snapshot.as_deref(),
        Some(&b"state covering 1..=60"[..])
    );
    assert_eq!(recovered.records, expected_records(61..=120));
    assert_eq!(recovered.next_lsn, 121);
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);

    // A newer snapshot replaces the older one; an older next lsn is refused.
    wal.snapshot(b"state covering 1..=120", 121)
        .expect("second snapshot");
    assert_eq!(
        snapshot_files(temp.path()),
        vec![temp.path().join("snapshot-00000000000000000121.snap")]
    );
    assert!(matches!(
        wal.snapshot(b"older", 100),
        Err(WalError::SnapshotRefused { .. })
    ));
    assert!(matches!(
        wal.snapshot(b"ahead of the log", 500),
        Err(WalError::SnapshotRefused { .. })
    ));
    drop(wal);
    let (_wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(recovered.records, Vec::<Vec<u8>>::new());
    assert_eq!(recovered.next_lsn, 121);
    assert_eq!(
        recovered.snapshot.as_deref(),
        Some(&b"state covering 1..=120"[..])
    );
}

// ── segment rolls ────────────────────────────────────────────────────────────────────────

#[test]
fn segments_roll_and_recover_in_order() {
    let temp = scratch("roll");
    write_log(temp.path(), small_segments(), 500);
    let segments = segment_files(temp.path());
    assert!(segments.len() >= 10, "{} segments", segments.len());
    // Each segment is named for its first record's lsn, and none passes segment_bytes.
    let all = entries(temp.path());
    for segment in &segments {
        let name = file_name(segment);
        let first = all
            .iter()
            .find(|e| e.segment == name)
            .expect("records in segment");
        assert_eq!(name, format!("wal-{:020}.seg", first.lsn));
        let end = all
            .iter()
            .filter(|e| e.segment == name)
            .map(|e| e.offset + 16 + e.record.len() as u64)
            .max()
            .expect("records");
        assert!(end <= 4096, "{name} ends at {end}");
    }
    let (wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(recovered.records, expected_records(1..=500));
    // A record larger than a segment gets a segment of its own.
    let big = vec![7u8; 10_000];
    assert_eq!(wal.append(big.clone()).wait(), Ok(501));
    assert_eq!(wal.append(record(502)).wait(), Ok(502));
    drop(wal);
    let (_wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(recovered.records[500], big);
    assert_eq!(recovered.records.len(), 502);
}

// ── concurrency ──────────────────────────────────────────────────────────────────────────

#[test]
fn concurrent_appenders_are_all_acknowledged_and_recovered_in_lsn_order() {
    let temp = scratch("concurrent");
    const THREADS: u64 = 64;
    const EACH: u64 = 60;
    let (wal, _) = open(temp.path(), small_segments());
    let wal = Arc::new(wal);
    let acknowledged: Vec<(u64, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let wal = wal.clone();
                scope.spawn(move || {
                    let mut acks = Vec::new();
                    let mut last = 0;
                    for n in 0..EACH {
                        let body = format!("thread {thread} record {n}").into_bytes();
                        let lsn = wal.append(body.clone()).wait().expect("append");
                        assert!(lsn > last, "one thread's lsns increase");
                        last = lsn;
                        acks.push((lsn, body));
                    }
                    acks
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("appender thread"))
            .collect()
    });
    let total = THREADS * EACH;
    let lsns: HashSet<u64> = acknowledged.iter().map(|(lsn, _)| *lsn).collect();
    assert_eq!(lsns.len() as u64, total, "no duplicate lsn");
    assert_eq!(lsns, (1..=total).collect(), "lsns are dense");
    drop(wal);

    let (_wal, recovered) = open(temp.path(), small_segments());
    assert_eq!(
        recovered.records.len() as u64,
        total,
        "no loss, no duplicate"
    );
    for (lsn, body) in &acknowledged {
        assert_eq!(&recovered.records[(*lsn - 1) as usize], body, "lsn {lsn}");
    }
}

#[test]
fn async_appenders_on_a_runtime() {
    let temp = scratch("async");
    let (wal, _) = open(temp.path(), options());
    let wal = Arc::new(wal);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let lsns: Vec<u64> = runtime.block_on(async {
        let tasks: Vec<_> = (0..256u64)
            .map(|task| {
                let wal = wal.clone();
                tokio::spawn(async move {
                    let mut lsns = Vec::new();
                    for n in 0..4 {
                        lsns.push(
                            wal.append(format!("{task}/{n}").into_bytes())
                                .await
                                .expect("append"),
                        );
                    }
                    lsns
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("task"));
        }
        all
    });
    let unique: HashSet<u64> = lsns.iter().copied().collect();
    assert_eq!(unique, (1..=1024).collect());
    drop(runtime);
    drop(wal);
    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records.len(), 1024);
}

// ── verify and dump ──────────────────────────────────────────────────────────────────────

#[test]
fn verify_and_dump_a_good_log() {
    let temp = scratch("verify-good");
    write_log(temp.path(), small_segments(), 150);
    let report = verify(temp.path()).expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(!report.open_refuses);
    assert_eq!(report.open_decision, "open continues cleanly at lsn 151");
    assert_eq!(report.records, 150);
    assert_eq!(report.segments.len(), segment_files(temp.path()).len());
    let mut next = 1;
    for segment in &report.segments {
        assert_eq!(segment.first_lsn, next);
        assert!(segment.valid_bytes <= segment.file_bytes);
        next = segment.last_lsn.expect("records") + 1;
    }
    let all = entries(temp.path());
    assert_eq!(
        all.iter().map(|e| e.lsn).collect::<Vec<_>>(),
        (1..=150).collect::<Vec<_>>()
    );
    assert_eq!(all[41].record, record(42));
    assert_eq!(all[0].offset, 32, "records start after the 32-byte header");
}

#[test]
fn verify_and_dump_a_bad_log() {
    let temp = scratch("verify-bad");
    write_log(temp.path(), small_segments(), 150);
    let bad = entry(temp.path(), 60);
    flip_bit(&temp.path().join(&bad.segment), bad.offset + 18);
    let report = verify(temp.path()).expect("verify");
    assert!(!report.is_clean());
    assert!(report.open_refuses, "{}", report.open_decision);
    let first = report.first_problem().expect("a problem");
    assert!(
        first.contains(&bad.segment) && first.contains(&format!("byte {}", bad.offset)),
        "{first}"
    );
    let segment = report
        .segments
        .iter()
        .find(|s| s.name == bad.segment)
        .expect("segment");
    assert_eq!(segment.valid_bytes, bad.offset);
    assert_eq!(segment.last_lsn, Some(59));
    // Later segments are still checked and counted.
    assert!(report.records > 100);

    let mut listed = Vec::new();
    let error =
        dump(temp.path(), &mut |e| listed.push(e.lsn)).expect_err("dump reports the damage");
    assert!(
        matches!(&error, WalError::Corrupt { offset, .. } if *offset == bad.offset),
        "{error}"
    );
    assert!(listed.contains(&59) && !listed.contains(&60) && listed.contains(&150));

    // A torn tail is reported as such; verify says open would repair it.
    let temp = scratch("verify-torn");
    write_log(temp.path(), options(), 4);
    tear_last_record(temp.path(), 4, 10, false);
    let report = verify(temp.path()).expect("verify");
    assert!(!report.open_refuses);
    assert!(
        report.open_decision.contains("torn tail cut"),
        "{}",
        report.open_decision
    );
    assert!(report
        .first_problem()
        .expect("problem")
        .starts_with("torn tail"));
    assert!(matches!(
        dump(temp.path(), &mut |_| {}),
        Err(WalError::TornTail { .. })
    ));

    // A bad snapshot is named.
    let temp = scratch("verify-snapshot");
    let (wal, _) = open(temp.path(), options());
    wal.append(record(1)).wait().expect("append");
    wal.snapshot(b"state", 2).expect("snapshot");
    drop(wal);
    flip_bit(&snapshot_files(temp.path())[0], 41);
    let report = verify(temp.path()).expect("verify");
    assert!(report.open_refuses);
    assert!(
        report.problems[0].contains("snapshot-00000000000000000002.snap at byte 40"),
        "{:?}",
        report.problems
    );

    // verify of no directory at all is an error naming it.
    let missing = temp.path().join("nope");
    assert!(matches!(verify(&missing), Err(WalError::Io { file, .. }) if file.ends_with("nope")));
}

// ── fail closed ──────────────────────────────────────────────────────────────────────────

fn open_faulty(dir: &Path, plan: &Arc<FaultPlan>) -> Wal {
    let (wal, _) =
        Wal::open_with_storage(dir, options(), Arc::new(FaultyStorage::new(plan.clone())))
            .expect("open");
    wal
}

#[test]
fn an_fsync_error_closes_the_log_for_good_and_loses_nothing_acknowledged() {
    let temp = scratch("fail-fsync");
    let plan = FaultPlan::new(Fault::Io);
    let wal = open_faulty(temp.path(), &plan);
    for n in 1..=10 {
        assert_eq!(wal.append(record(n)).wait(), Ok(n));
    }
    plan.fail_sync_after(0);
    let pending = wal.append(record(11)).wait();
    let Err(WalError::Failed { reason }) = pending else {
        panic!("{pending:?}")
    };
    assert!(
        reason.contains("fsync") && reason.contains("wal-00000000000000000001.seg"),
        "{reason}"
    );
    assert!(
        reason.contains("Input/output error") || reason.contains("os error 5"),
        "{reason}"
    );
    assert_eq!(wal.failed(), Some(reason.clone()));
    let syncs_at_failure = plan.syncs();

    // Later appends fail at once, without waiting on the writer.
    let later = wal.append(record(12)).wait_timeout(Duration::ZERO);
    assert!(
        matches!(later, Ok(Err(WalError::Failed { .. }))),
        "{later:?}"
    );
    assert!(matches!(
        wal.snapshot(b"s", 11),
        Err(WalError::Failed { .. })
    ));
    wal.shutdown();
    assert_eq!(
        plan.syncs(),
        syncs_at_failure,
        "the failed fsync is never retried"
    );
    drop(wal);

    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(
        recovered.records[..10],
        expected_records(1..=10)[..],
        "every acknowledged record"
    );
}

#[test]
fn a_torn_write_with_enospc_closes_the_log_and_recovery_cuts_it() {
    let temp = scratch("fail-write");
    let plan = FaultPlan::new(Fault::NoSpace);
    let wal = open_faulty(temp.path(), &plan);
    for n in 1..=5 {
        assert_eq!(wal.append(record(n)).wait(), Ok(n));
    }
    plan.fail_write_after(0);
    // Several records in flight: one batch, half of it written.
    let pending: Vec<_> = (6..=9).map(|n| wal.append(record(n))).collect();
    for appending in pending {
        let result = appending.wait();
        assert!(
            matches!(&result, Err(WalError::Failed { reason }) if reason.contains("No space left")),
            "{result:?}"
        );
    }
    assert!(wal.failed().expect("failed").contains("write"));
    drop(wal);

    let (_wal, recovered) = open(temp.path(), options());
    assert_eq!(recovered.records[..5], expected_records(1..=5)[..]);
    // What the torn write left is either whole records (never acknowledged, kept) or cut.
    for (index, body) in recovered.records.iter().enumerate() {
        assert_eq!(body, &record(index as u64 + 1));
    }
}

#[test]
fn under_concurrent_load_a_failure_loses_no_acknowledged_record() {
    let temp = scratch("fail-load");
    let plan = FaultPlan::new(Fault::Io);
    let wal = Arc::new(open_faulty(temp.path(), &plan));
    // Fail the 20th fsync from now, while 16 threads append as fast as they are acknowledged.
    plan.fail_sync_after(20);
    let acknowledged = Mutex::new(Vec::new());
    let saw_failure = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for thread in 0..16u64 {
            let wal = wal.clone();
            let acknowledged = &acknowledged;
            let saw_failure = &saw_failure;
            scope.spawn(move || {
                // Bounded: the fault fires long before this runs out.
                for n in 0..10_000u64 {
                    let body = format!("t{thread}-{n}").into_bytes();
                    match wal.append(body.clone()).wait() {
                        Ok(lsn) => acknowledged.lock().expect("lock").push((lsn, body)),
                        Err(WalError::Failed { .. }) => {
                            saw_failure.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(other) => panic!("unexpected {other}"),
                    }
                }
            });
        }
    });
    assert!(saw_failure.load(Ordering::SeqCst));
    assert!(wal.failed().is_some());
    drop(wal);

    let acknowledged = acknowledged.into_inner().expect("lock");
    assert!(!acknowledged.is_empty());
    let (_wal, recovered) = open(temp.path(), options());
    for (lsn, body) in &acknowledged {
        assert_eq!(
            recovered.records.get((*lsn - 1) as usize),
            Some(body),
            "acknowledged lsn {lsn}"
        );
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let temp = scratch("lock");
    let (wal, _) = open(temp.path(), options());
    assert!(matches!(
        Wal::open(temp.path(), options()),
        Err(WalError::Locked { .. })
    ));
    wal.shutdown();
    assert!(matches!(
        wal.append(record(1)).wait(),
        Err(WalError::Closed)
    ));
    let (_again, recovered) = open(temp.path(), options());
    assert_eq!(recovered.next_lsn, 1);
}

#[test]
fn records_are_limited_in_size_on_the_way_in() {
    let temp = scratch("limits");
    let (wal, _) = open(temp.path(), options());
    assert!(matches!(
        wal.append(Vec::new()).wait(),
        Err(WalError::RecordSize { bytes: 0, .. })
    ));
    let over = vec![1u8; (1 << 20) + 1];
    assert!(matches!(
        wal.append(over).wait(),
        Err(WalError::RecordSize { .. })
    ));
    assert_eq!(wal.append(vec![1u8; 1 << 20]).wait(), Ok(1));
}
