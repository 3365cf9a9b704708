//! How long a snapshot stops the order path, with a large book (SPEC §10; target: under 1 ms at
//! a million open orders).
//!
//! ```text
//! cargo run --release --example snapshot_pause -- --customers 1000000 --orders 1000000
//! ```
//!
//! Builds an engine with a real WAL (in a temporary folder, `fsync = "off"` so the disk is not
//! what is measured), registers the customers, opens the orders (each bound to an upstream id,
//! as a live book would be), then keeps `--threads` threads deciding, reserving and binding new
//! orders: first for `--seconds` with no snapshot, then while `--snapshots` snapshots are taken
//! back to back. It prints each snapshot's pause (the gate held exclusively) and read time, the
//! order path's latency percentiles in both phases, the memory held (and the most ever held,
//! the kernel's high-water mark), and the start-up time of a restart from the last snapshot.
//! `--threads 0` places no orders meanwhile, so the peak is the snapshot's own: with orders
//! going on, the book grows by about half a million orders while a snapshot of this size runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mimalloc::MiMalloc;
use omnigate::clock::{Clock, FixedClock};
use omnigate::config::{Config, FsyncMode};
use omnigate::engine::{CustomerSpec, Durability, Engine};
use omnigate::instruments::InstrumentSpec;
use omnigate::money::Fixed;
use omnigate::order::parse_order;

/// The server's allocator, so that what is measured is what `omnigate run` does (with the
/// system allocator, one order waited ~90 ms behind an arena lock while the snapshot freed what
/// the order path had allocated).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

struct Options {
    customers: u64,
    orders: u64,
    threads: u64,
    seconds: u64,
    snapshots: u64,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        customers: 1_000_000,
        orders: 1_000_000,
        threads: 2,
        seconds: 3,
        snapshots: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .ok_or(format!("{flag} needs a value"))?
            .parse()
            .map_err(|error| format!("{flag}: {error}"))?;
        match flag.as_str() {
            "--customers" => options.customers = value.max(1),
            "--orders" => options.orders = value,
            "--threads" => options.threads = value,
            "--seconds" => options.seconds = value,
            "--snapshots" => options.snapshots = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

fn rss_mib() -> u64 {
    status_mib("VmRSS:")
}

/// The most this process has had resident so far (the kernel's high-water mark).
fn peak_rss_mib() -> u64 {
    status_mib("VmHWM:")
}

fn status_mib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with(field))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

fn client_id(n: u64) -> String {
    format!("PAUSE{n:07}")
}

/// Decides, reserves and binds one order, and waits until both records are durable; returns the
/// time until they were queued, which is what a snapshot could stall.
fn place(engine: &Engine, customer: u64, n: u64) -> Duration {
    let (elapsed, durable) = place_unwaited(engine, customer, n);
    for durability in durable {
        durability.wait_blocking().expect("durable");
    }
    elapsed
}

/// [`place`] without waiting for durability (the book is built with one wait per batch).
fn place_unwaited(engine: &Engine, customer: u64, n: u64) -> (Duration, [Durability; 2]) {
    let body = format!(
        r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":"1.{:02}","clientID":"{}"}}"#,
        n % 100,
        client_id(customer)
    );
    let order = parse_order(body.as_bytes()).expect("a valid order");
    let started = Instant::now();
    let (admitted, durability) = engine.admit(&order).expect("admitted");
    let bound = engine.bound(&admitted, &format!("PAUSE.{n}"));
    (started.elapsed(), [durability, bound])
}

fn percentiles(name: &str, latency: &Histogram<u64>) {
    println!(
        "{name:<22} {:>9} orders  p50 {:>6} ns  p99 {:>7} ns  p99.9 {:>8} ns  max {:>9} ns",
        latency.len(),
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
        latency.value_at_quantile(0.999),
        latency.max()
    );
}

/// Places orders on `threads` threads until `stop`, into one histogram.
fn under_load(
    engine: &Arc<Engine>,
    options: &Options,
    next: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<Histogram<u64>> {
    let (engine, next, stop) = (engine.clone(), next.clone(), stop.clone());
    let (threads, customers) = (options.threads, options.customers);
    std::thread::spawn(move || {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (engine, next, stop) = (engine.clone(), next.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut latency =
                        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let took = place(&engine, n % customers, n);
                        let _ = latency.record(took.as_nanos().max(1) as u64);
                    }
                    latency
                })
            })
            .collect();
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
        for worker in workers {
            latency
                .add(worker.join().expect("worker"))
                .expect("same bounds");
        }
        latency
    })
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("snapshot_pause: {error}");
            std::process::exit(2);
        }
    };
    let scratch = std::env::temp_dir().join(format!("omnigate-pause-{}", std::process::id()));
    let mut config = Config::parse(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n",
        "snapshot_pause",
    )
    .expect("config");
    config.wal.dir = scratch.clone();
    config.wal.fsync = FsyncMode::Off;
    // Thursday 2026-11-19, 11:00 New York: the market is open.
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(
        "2026-11-19T16:00:00Z".parse().expect("a time"),
    ));
    let engine = Arc::new(
        Engine::open(&config, clock.clone(), false)
            .expect("engine")
            .engine,
    );
    let spec: InstrumentSpec = serde_json::from_str(
        r#"{"instrumentID":"i-aapl","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"1"}"#,
    )
    .expect("spec");
    engine
        .upsert_instrument("AAPL", spec)
        .expect("instrument")
        .1
        .wait_blocking()
        .expect("durable");
    engine
        .omni_deposit(Fixed::from_int(1_000_000_000).expect("amount"))
        .expect("deposit")
        .1
        .wait_blocking()
        .expect("durable");

    let started = Instant::now();
    for n in 0..options.customers {
        let spec: CustomerSpec =
            serde_json::from_str(&format!(r#"{{"customerId":"pause-{n}","cash":"100000"}}"#))
                .expect("spec");
        let durability = engine
            .register_customer(&client_id(n), spec)
            .expect("registered");
        if n % 4096 == 0 || n + 1 == options.customers {
            durability.wait_blocking().expect("durable");
        }
    }
    println!(
        "customers              {} registered in {:.1} s, RSS {} MiB",
        options.customers,
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    let started = Instant::now();
    let mut pending = Vec::with_capacity(2048);
    for n in 0..options.orders {
        let (_, durable) = place_unwaited(&engine, n % options.customers, n);
        pending.extend(durable);
        if pending.len() >= 2048 || n + 1 == options.orders {
            for durability in pending.drain(..) {
                durability.wait_blocking().expect("durable");
            }
        }
    }
    println!(
        "open orders            {} placed in {:.1} s, RSS {} MiB",
        options.orders,
        started.elapsed().as_secs_f64(),
        rss_mib()
    );

    let next = Arc::new(AtomicU64::new(options.orders));
    let stop = Arc::new(AtomicBool::new(false));
    let quiet = under_load(&engine, &options, &next, &stop);
    std::thread::sleep(Duration::from_secs(options.seconds));
    stop.store(true, Ordering::Relaxed);
    let quiet = quiet.join().expect("load");

    let stop = Arc::new(AtomicBool::new(false));
    let before_snapshots = peak_rss_mib();
    let during = under_load(&engine, &options, &next, &stop);
    let mut pause_max = Duration::ZERO;
    for round in 1..=options.snapshots {
        let report = engine.snapshot_now().expect("a snapshot");
        pause_max = pause_max.max(report.pause);
        println!(
            "snapshot {round:<13} pause {:>6} µs, read {:>6} ms, written {:>6} ms, {} MiB",
            report.pause.as_micros(),
            report.read.as_millis(),
            report.total.as_millis(),
            report.bytes >> 20
        );
    }
    stop.store(true, Ordering::Relaxed);
    let during = during.join().expect("load");
    percentiles("order path, quiet", &quiet);
    percentiles("order path, snapshots", &during);
    println!(
        "pause max              {} µs (gate held exclusively); RSS {} MiB, peak {} MiB \
         ({} MiB before the snapshots)",
        pause_max.as_micros(),
        rss_mib(),
        peak_rss_mib(),
        before_snapshots
    );
    engine.close_without_snapshot();
    drop(engine);

    let started = Instant::now();
    let reopened = Engine::open(&config, clock, false)
        .expect("reopened")
        .engine;
    println!(
        "restart                replayed snapshot + log in {:.2} s, RSS {} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib()
    );
    reopened.close_without_snapshot();
    drop(reopened);
    let _ = std::fs::remove_dir_all(&scratch);
}
