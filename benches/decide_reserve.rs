//! The order path before the wire: parse → decide (every rule) → reserve at customer and omni,
//! and the release that undoes it, against a book of 10,000 customers.
//!
//! Rows measured in one run, so their ratios hold on a noisy machine:
//! - `parse` alone (the floor every order pays),
//! - `decide` alone on a parsed order: the one decision the server runs (every rule and
//!   control of SPEC §3.1: registry, kill switch and freezes, rate, instrument, market hours,
//!   duplicates, cost and limits), plus giving back what it recorded so every iteration decides
//!   the same order afresh,
//! - `reserve_release`: the ledger alone, reserving a BUY at customer and omni and releasing it
//!   (what the decision's cost becomes once decided),
//! - `parse_decide_reserve_release` (the full admission, then the release an upstream refusal
//!   makes, which also gives back the clientOrderID and the day's notional, so the balances and
//!   the duplicate guard stay as they were),
//! - `denied_buying_power`: the same order from a customer with no cash, refused at the
//!   reservation, the most expensive way to be denied (every rule passes first): a denial must
//!   cost no more than an acceptance.
//!
//! Last result (2026-12-03, a 2-core AMD EPYC Firecracker guest, about half as fast as the Xeon
//! guest of the runs before and far noisier; mimalloc as in the server; three rounds alternating
//! with the build before): the whole path for the LIMIT order 2.06–2.26 µs, denied at the
//! reservation 1.73–2.08 µs (the build before: 1.74–2.69 µs). Counted in instructions
//! (`perf/instructions.sh`, the same on every run): parse 4,693, decide 4,513, reserve + release
//! 1,280, the whole LIMIT path 10,991, the fractional MARKET one 9,162, denied 10,497 — fewer
//! than an acceptance (perf/RESULTS.md).
//!
//! Run: `cargo bench --bench decide_reserve`. Results: perf/RESULTS.md.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

use omnigate::clock::FixedClock;
use omnigate::config::Config;
use omnigate::decide::decide;
use omnigate::engine::{CustomerSpec, Engine};
use omnigate::instruments::InstrumentSpec;
use omnigate::ledger::{BuyCost, Funding, Ledger, LedgerConfig, SellProceeds};
use omnigate::money::Fixed;
use omnigate::order::parse_order;

// The server's allocator (src/main.rs), so that the path's allocations cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: usize = 10_000;
const LIMIT_BUY: &str = r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":"190.25","timeInForce":"DAY","clientID":"CUST0004242","clientOrderID":"co-1"}"#;
const FRACTIONAL_MARKET_BUY: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":5.12580012,"clientID":"CUST0004242"}"#;

fn engine() -> Engine {
    let config = Config::parse(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n[client_id]\ndeny = [\"ACMECO\"]\n",
        "bench",
    )
    .expect("config");
    // Thursday 2026-11-19, 11:00 ET: the regular session.
    let now: DateTime<Utc> = "2026-11-19T16:00:00Z".parse().expect("time");
    let engine = Engine::new(&config, Arc::new(FixedClock::new(now)));
    let spec: InstrumentSpec = serde_json::from_str(
        r#"{"instrumentID":"a67422af","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"190"}"#,
    )
    .expect("instrument");
    let (_, no_wal) = engine.upsert_instrument("AAPL", spec).expect("upsert");
    drop(no_wal);
    for index in 0..CUSTOMERS {
        let spec: CustomerSpec =
            serde_json::from_str(&format!(r#"{{"customerId":"c-{index}","cash":"1000000"}}"#))
                .expect("customer");
        let no_wal = engine
            .register_customer(&format!("CUST{index:07}"), spec)
            .expect("register");
        drop(no_wal);
    }
    let spec: CustomerSpec =
        serde_json::from_str(r#"{"customerId":"c-broke","cash":"0"}"#).expect("customer");
    drop(
        engine
            .register_customer("CUSTBROKE", spec)
            .expect("register"),
    );
    let (_, no_wal) = engine
        .omni_deposit(Fixed::from_int(10_000_000_000).expect("amount"))
        .expect("deposit");
    drop(no_wal);
    engine
}

/// The ledger alone, with the same book.
fn ledger() -> Ledger {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Prefunded,
        sell_proceeds: SellProceeds::OnFill,
    });
    for index in 0..CUSTOMERS {
        ledger
            .register(
                &format!("CUST{index:07}"),
                &format!("c-{index}"),
                Fixed::from_int(1_000_000).expect("cash"),
                Vec::new(),
            )
            .expect("register");
    }
    ledger
        .omni_deposit(Fixed::from_int(10_000_000_000).expect("amount"))
        .expect("deposit");
    ledger
}

fn order_path(c: &mut Criterion) {
    let engine = engine();
    let now = engine.now();
    let mut group = c.benchmark_group("order_path");
    for (name, body) in [
        ("limit", LIMIT_BUY),
        ("fractional_market", FRACTIONAL_MARKET_BUY),
    ] {
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| black_box(parse_order(black_box(body.as_bytes())).expect("valid").size))
        });
        let parsed = parse_order(body.as_bytes()).expect("valid");
        group.bench_function(format!("decide/{name}"), |b| {
            b.iter(|| {
                let settings = engine.settings();
                let context = settings.decision_context(engine.instruments());
                let decision =
                    decide(black_box(&parsed), &context, &engine, now).expect("accepted");
                decision.give_back(&engine);
                black_box(decision.queued_until)
            })
        });
        group.bench_function(format!("parse_decide_reserve_release/{name}"), |b| {
            b.iter(|| {
                let order = parse_order(black_box(body.as_bytes())).expect("valid");
                let (admitted, durability) = engine.admit(&order).expect("admitted");
                drop(durability); // no WAL in this bench: the decision path alone
                drop(engine.refused_upstream(&admitted));
            })
        });
    }
    let ledger = ledger();
    let cost = BuyCost {
        per_share: Some(Fixed::parse("190.25").expect("price")),
        quantity: Some(Fixed::from_int(2).expect("quantity")),
        amount_cash: None,
        fee: Fixed::ZERO,
        commission_rate: Fixed::ZERO,
    };
    group.bench_function("reserve_release/limit", |b| {
        b.iter(|| {
            let local = ledger
                .reserve_buy(black_box("CUST0004242"), "AAPL", cost)
                .expect("reserved");
            ledger.release(local).expect("released");
        })
    });
    let broke = LIMIT_BUY.replace("CUST0004242", "CUSTBROKE");
    group.bench_function("denied_buying_power/limit", |b| {
        b.iter(|| {
            let order = parse_order(black_box(broke.as_bytes())).expect("valid");
            black_box(engine.admit(&order).is_err())
        })
    });
    group.finish();
}

criterion_group!(benches, order_path);
criterion_main!(benches);
