//! The order path before the wire: parse → decide (every rule) → reserve at customer and omni,
//! and the release that undoes it, against a book of 10,000 customers.
//!
//! Rows measured in one run, so their ratios hold on a noisy machine:
//! - `parse` alone (the floor every order pays),
//! - `decide` alone on a parsed order: the one decision the server runs (every rule and
//!   control of SPEC §3.1: registry, kill switch and freezes, rate, instrument, market hours,
//!   duplicates, cost and limits), plus giving back what it recorded so every iteration decides
//!   the same order afresh,
//! - `parse_decide_reserve_release` (the full admission, then the release an upstream refusal
//!   makes, which also gives back the clientOrderID and the day's notional, so the balances and
//!   the duplicate guard stay as they were).
//!
//! Last result (2026-12-01, 2-core Intel Xeon KVM guest; perf/RESULTS.md has the comparison with
//! the previous version in the same run): parse 400 / 302 ns, decide 346 / 293 ns, the whole
//! path 1.16 µs / 0.97 µs for the LIMIT / fractional MARKET order.
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
use omnigate::money::Fixed;
use omnigate::order::parse_order;

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
    let (_, no_wal) = engine
        .omni_deposit(Fixed::from_int(10_000_000_000).expect("amount"))
        .expect("deposit");
    drop(no_wal);
    engine
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
    group.finish();
}

criterion_group!(benches, order_path);
criterion_main!(benches);
