//! The write-ahead log: durable appends per second under concurrency (group commit), and
//! replay speed at open.
//!
//! Rows measured in one run, so their ratios hold on a noisy machine:
//! - `wal_append/raw_write_fdatasync`: one 116-byte positional write + `fdatasync` on a
//!   preallocated file, no log at all: this machine's fsync latency, the floor under `Always`.
//! - `wal_append/always_threads/1`: one appender, `FsyncPolicy::Always`: one fsync per record.
//! - `wal_append/always_threads/{64,256}`: that many threads appending ~100-byte records, each
//!   waiting for its acknowledgement before the next (as an order waits before it is forwarded).
//! - `wal_append/always_tasks/1024`: 1,024 tokio tasks on a 2-worker runtime doing the same.
//! - `wal_append/off_threads/64`: `FsyncPolicy::Off`: the queue, writer and completion machinery
//!   without the disk's fsync, the ceiling group commit approaches.
//! - `wal_replay/open_1m_records`: `Wal::open` of a directory holding 1,000,000 ~100-byte
//!   records (116 MB in two 64 MiB segments), files in the page cache.
//!
//! Each append row also prints records per fsync (the group-commit ratio).
//!
//! Run: `cargo bench --bench wal -- --warm-up-time 1 --measurement-time 5`.
//! Last result, 2026-11-21, 2-core Intel Xeon (KVM guest), ext4 on a virtio disk, two runs
//! minutes apart (A: machine loaded by other builds; B: quieter). Details in perf/RESULTS.md.
//!
//! | row | run A | run B | records per fsync (A / B) |
//! | --- | --- | --- | --- |
//! | raw write + fdatasync | 3.62 ms | 2.57 ms | - |
//! | always, 1 thread | 496/s | 11.6k/s | 1.0 / 1.0 |
//! | always, 64 threads | 88.3k/s | 150k/s | 51.6 / 55.6 |
//! | always, 256 threads | 81.1k/s | 193k/s | 180 / 230 |
//! | always, 1,024 tokio tasks | 357k/s | 1.06M/s | 538 / 530 |
//! | off, 64 threads | 167k/s | 402k/s | - |
//! | replay, open 1M records | 9.4M/s | 7.1M/s | |
//!
//! This VM's fsync latency swings between ~0.1 ms and ~4 ms (p99 8 ms) from minute to minute,
//! so compare rows within a run; records per fsync is the stable number.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use omnigate::wal::{Fault, FaultPlan, FaultyStorage, FsyncPolicy, Wal, WalOptions};

const RECORD_BYTES: usize = 100;
const REPLAY_RECORDS: u64 = 1_000_000;

fn bench_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("wal-bench")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn payload(n: u64) -> Vec<u8> {
    let mut record = vec![b'.'; RECORD_BYTES];
    record[..8].copy_from_slice(&n.to_le_bytes());
    record
}

/// A log whose storage counts fsyncs (the fault plan never fires).
fn open_counting(dir: &Path, fsync: FsyncPolicy) -> (Arc<Wal>, Arc<FaultPlan>) {
    let plan = FaultPlan::new(Fault::Io);
    let options = WalOptions {
        fsync,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open_with_storage(dir, options, Arc::new(FaultyStorage::new(plan.clone())))
        .expect("open bench log");
    (Arc::new(wal), plan)
}

/// `appenders` threads append `total` records between them, each waiting for every
/// acknowledgement. Timed from the moment all threads are ready.
fn appends_on_threads(wal: &Arc<Wal>, appenders: u64, total: u64) -> Duration {
    let start = Barrier::new(appenders as usize + 1);
    std::thread::scope(|scope| {
        for thread in 0..appenders {
            let share = total / appenders + u64::from(thread < total % appenders);
            let wal = wal.clone();
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for n in 0..share {
                    wal.append(payload(n)).wait().expect("append");
                }
            });
        }
        start.wait();
        let began = Instant::now();
        // Leaving the scope joins every appender.
        began
    })
    .elapsed()
}

fn appends_on_tasks(
    runtime: &tokio::runtime::Runtime,
    wal: &Arc<Wal>,
    tasks: u64,
    total: u64,
) -> Duration {
    runtime.block_on(async {
        let began = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let share = total / tasks + u64::from(task < total % tasks);
                let wal = wal.clone();
                tokio::spawn(async move {
                    for n in 0..share {
                        wal.append(payload(n)).await.expect("append");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("appender task");
        }
        began.elapsed()
    })
}

fn print_ratio(row: &str, records: u64, plan: &FaultPlan, syncs_before: u64) {
    let syncs = plan.syncs().saturating_sub(syncs_before).max(1);
    // Integers only: tenths of a record per fsync.
    let tenths = records * 10 / syncs;
    eprintln!(
        "{row}: {records} records, {syncs} fsyncs, {}.{} records per fsync",
        tenths / 10,
        tenths % 10
    );
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_append");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));

    // The disk's own fsync latency, no log involved.
    {
        let dir = bench_dir("raw");
        std::fs::create_dir_all(&dir).expect("bench dir");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(dir.join("raw"))
            .expect("raw file");
        file.set_len(64 << 20).expect("preallocate");
        file.sync_all().expect("sync");
        let record = vec![7u8; RECORD_BYTES + 16];
        let mut offset = 0u64;
        group.bench_function("raw_write_fdatasync", |b| {
            b.iter(|| {
                file.write_all_at(&record, offset).expect("write");
                file.sync_data().expect("fdatasync");
                offset = (offset + record.len() as u64) % (60 << 20);
            })
        });
        drop(file);
        let _ = std::fs::remove_dir_all(&dir);
    }

    for (policy_name, fsync, appenders) in [
        ("always_threads", FsyncPolicy::Always, 1u64),
        ("always_threads", FsyncPolicy::Always, 64),
        ("always_threads", FsyncPolicy::Always, 256),
        ("off_threads", FsyncPolicy::Off, 64),
    ] {
        let dir = bench_dir(&format!("{policy_name}-{appenders}"));
        let (wal, plan) = open_counting(&dir, fsync);
        let syncs_before = plan.syncs();
        let mut records = 0;
        group.bench_function(BenchmarkId::new(policy_name, appenders), |b| {
            b.iter_custom(|iters| {
                records += iters;
                appends_on_threads(&wal, appenders, iters)
            })
        });
        print_ratio(
            &format!("{policy_name}/{appenders}"),
            records,
            &plan,
            syncs_before,
        );
        wal.shutdown();
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }

    {
        let tasks = 1024;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        let dir = bench_dir("always-tasks");
        let (wal, plan) = open_counting(&dir, FsyncPolicy::Always);
        let syncs_before = plan.syncs();
        let mut records = 0;
        group.bench_function(BenchmarkId::new("always_tasks", tasks), |b| {
            b.iter_custom(|iters| {
                records += iters;
                appends_on_tasks(&runtime, &wal, tasks, iters)
            })
        });
        print_ratio(
            &format!("always_tasks/{tasks}"),
            records,
            &plan,
            syncs_before,
        );
        wal.shutdown();
        drop(wal);
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let dir = bench_dir("replay");
    {
        let options = WalOptions {
            fsync: FsyncPolicy::Off,
            ..WalOptions::default()
        };
        let (wal, _) = Wal::open(&dir, options).expect("open");
        // Pipelined: 8,192 appends in flight, well under the queue's capacity.
        let mut lsn = 0;
        while lsn < REPLAY_RECORDS {
            let chunk = (REPLAY_RECORDS - lsn).min(8192);
            let pending: Vec<_> = (0..chunk).map(|n| wal.append(payload(lsn + n))).collect();
            for appending in pending {
                appending.wait().expect("append");
            }
            lsn += chunk;
        }
        wal.shutdown();
    }

    let mut group = c.benchmark_group("wal_replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(REPLAY_RECORDS));
    group.bench_function("open_1m_records", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let began = Instant::now();
                let (wal, recovered) = Wal::open(&dir, WalOptions::default()).expect("open");
                total += began.elapsed();
                assert_eq!(recovered.records.len() as u64, REPLAY_RECORDS);
                drop(wal);
                drop(recovered);
            }
            total
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, appends, replay);
criterion_main!(benches);
