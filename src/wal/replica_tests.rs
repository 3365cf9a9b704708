//! The replicated log's side of the WAL (SPEC §12): what reaches the replica, and when; what a
//! refusal leaves on disk; copies at the shared log's lsns; a snapshot installed before open.

use std::sync::Arc;

use parking_lot::Mutex;

use super::*;

fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("omnigate-wal-replica-{name}-"))
        .tempdir()
        .expect("create test dir")
}

/// Keeps what it is given; refuses everything once `refuse` is set.
#[derive(Default)]
struct Recorder {
    /// Each record replicated, with its lsn and how many records were on disk then.
    seen: Mutex<Vec<(u64, Vec<u8>, u64)>>,
    refuse: std::sync::atomic::AtomicBool,
    snapshots: Mutex<Vec<u64>>,
    wal_dir: std::path::PathBuf,
}

impl Replica for Recorder {
    fn replicate(&self, records: &[(u64, &[u8])]) -> Result<(), String> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("deposed".to_owned());
        }
        let on_disk = verify(&self.wal_dir)
            .map(|report| report.records)
            .unwrap_or(0);
        let mut seen = self.seen.lock();
        for (lsn, payload) in records {
            seen.push((*lsn, payload.to_vec(), on_disk));
        }
        Ok(())
    }

    fn snapshot_written(&self, _state: &[u8], next_lsn: u64) {
        self.snapshots.lock().push(next_lsn);
    }
}

fn recorder(dir: &Path) -> Arc<Recorder> {
    Arc::new(Recorder {
        wal_dir: dir.to_path_buf(),
        ..Recorder::default()
    })
}

#[test]
fn own_records_reach_the_replica_before_the_disk_and_copies_do_not() {
    let dir = scratch("order");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(wal.append_copy(b"copied".to_vec(), 1).wait().unwrap(), 1);
    let replica = recorder(dir.path());
    wal.replicate_to(replica.clone());
    assert_eq!(wal.append(b"own-2".to_vec()).wait().unwrap(), 2);
    assert_eq!(wal.append_copy(b"copied-3".to_vec(), 3).wait().unwrap(), 3);
    assert_eq!(wal.append(b"own-4".to_vec()).wait().unwrap(), 4);
    wal.snapshot(b"state", 5).unwrap();
    wal.shutdown();

    let seen = replica.seen.lock().clone();
    assert_eq!(
        seen.iter()
            .map(|(lsn, payload, _)| (*lsn, payload.as_slice()))
            .collect::<Vec<_>>(),
        vec![(2, &b"own-2"[..]), (4, &b"own-4"[..])]
    );
    // Each was handed over while the disk held only the records before it.
    assert_eq!(seen[0].2, 1);
    assert_eq!(seen[1].2, 3);
    assert_eq!(*replica.snapshots.lock(), vec![5]);
}

#[test]
fn a_refusal_closes_the_log_and_leaves_nothing_of_the_batch() {
    let dir = scratch("refused");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let replica = recorder(dir.path());
    wal.replicate_to(replica.clone());
    assert_eq!(wal.append(b"kept".to_vec()).wait().unwrap(), 1);
    replica
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = wal.append(b"refused".to_vec()).wait();
    assert!(
        matches!(&refused, Err(WalError::Failed { reason }) if reason.contains("deposed")),
        "{refused:?}"
    );
    assert!(matches!(
        wal.append(b"later".to_vec()).wait(),
        Err(WalError::Failed { .. })
    ));
    wal.shutdown();
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.records, vec![b"kept".to_vec()]);
    assert_eq!(recovered.next_lsn, 2);
}

#[test]
fn a_copy_that_would_land_at_another_lsn_closes_the_log() {
    let dir = scratch("diverged");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(wal.append_copy(b"one".to_vec(), 1).wait().unwrap(), 1);
    let skipped = wal.append_copy(b"three".to_vec(), 3).wait();
    assert!(
        matches!(&skipped, Err(WalError::Failed { reason }) if reason.contains("lsn 3")),
        "{skipped:?}"
    );
    wal.shutdown();
    drop(wal);
    let (_, recovered) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.records, vec![b"one".to_vec()]);
}

#[test]
fn an_installed_snapshot_replaces_the_log_and_appends_follow_it() {
    let dir = scratch("installed");
    {
        let (wal, _) = Wal::open(dir.path(), WalOptions::default()).unwrap();
        for n in 0..3u8 {
            wal.append(vec![n + 1]).wait().unwrap();
        }
        wal.shutdown();
    }
    let segment_bytes = WalOptions::default().segment_bytes;
    install_snapshot(dir.path(), b"shared state", 40, segment_bytes).unwrap();
    let (wal, recovered) = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(recovered.snapshot.as_deref(), Some(&b"shared state"[..]));
    assert!(recovered.records.is_empty());
    assert_eq!(recovered.next_lsn, 40);
    assert!(recovered.warnings.is_empty(), "{:?}", recovered.warnings);
    assert_eq!(wal.append_copy(b"forty".to_vec(), 40).wait().unwrap(), 40);
    // An empty folder takes one too.
    let empty = scratch("installed-empty");
    let fresh = empty.path().join("wal");
    install_snapshot(&fresh, b"s", 7, segment_bytes).unwrap();
    let (_, recovered) = Wal::open(&fresh, WalOptions::default()).unwrap();
    assert_eq!(recovered.next_lsn, 7);
}
