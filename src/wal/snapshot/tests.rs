//! A snapshot of many writeback pieces: it reads back byte for byte, and an I/O error while a
//! piece is written back fails the snapshot cleanly (no file, the log still open).

use std::path::Path;
use std::sync::Arc;

use super::WRITEBACK_PIECE_BYTES;
use crate::wal::storage::{Fault, FaultPlan, FaultyStorage};
use crate::wal::{FsyncPolicy, Wal, WalError, WalOptions};

fn options() -> WalOptions {
    WalOptions {
        fsync: FsyncPolicy::Always,
        ..WalOptions::default()
    }
}

/// Two and a half pieces of bytes that differ from piece to piece, so a piece written at the
/// wrong offset or twice would not read back the same.
fn state() -> Vec<u8> {
    (0..WRITEBACK_PIECE_BYTES * 5 / 2)
        .map(|i| (i % 251) as u8 ^ (i / WRITEBACK_PIECE_BYTES) as u8)
        .collect()
}

fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("snapshot-"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_of_many_pieces_reads_back_exactly() {
    let temp = tempfile::tempdir().expect("scratch");
    let (wal, _) = Wal::open(temp.path(), options()).expect("open");
    for n in 0..3u8 {
        wal.append(vec![n; 50]).wait().expect("append");
    }
    let state = state();
    wal.snapshot(&state, 4).expect("snapshot");
    drop(wal);
    let (_wal, recovered) = Wal::open(temp.path(), options()).expect("reopen");
    assert_eq!(recovered.snapshot.as_deref(), Some(&state[..]));
    assert_eq!(recovered.next_lsn, 4);
}

#[test]
fn a_writeback_error_fails_the_snapshot_and_leaves_the_log_whole() {
    let temp = tempfile::tempdir().expect("scratch");
    let plan = FaultPlan::new(Fault::Io);
    let storage = Arc::new(FaultyStorage::new(plan.clone()));
    let (wal, _) = Wal::open_with_storage(temp.path(), options(), storage).expect("open");
    for n in 0..3u8 {
        wal.append(vec![n; 50]).wait().expect("append");
    }
    // Every record is durable, so the snapshot's own log sync has nothing to do: the next
    // sync counted is the wait for the first piece's writeback.
    let syncs = plan.syncs();
    plan.fail_sync_after(0);
    let error = wal.snapshot(&state(), 4).expect_err("the writeback failed");
    assert_eq!(plan.syncs(), syncs + 1, "failed at the first piece's wait");
    assert!(
        matches!(&error, WalError::Io { op: "write back", offset: Some(offset), .. }
            if *offset == crate::wal::format::SNAPSHOT_HEADER_BYTES as u64),
        "{error}"
    );
    assert_eq!(snapshot_files(temp.path()), Vec::<String>::new());
    assert_eq!(wal.failed(), None, "the log itself is still whole");
    assert_eq!(wal.append(vec![9; 50]).wait(), Ok(4));
    drop(wal);

    let (_wal, recovered) = Wal::open(temp.path(), options()).expect("reopen");
    assert_eq!(recovered.snapshot, None);
    assert_eq!(recovered.records.len(), 4);
}
