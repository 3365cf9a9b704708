//! Parsing real order bodies: omnigate's exact parser (one pass over the body into borrowed raw
//! slices, each number read from its own text) against simd-json, which the product card names.
//!
//! simd-json cannot read a number without turning it into an `f64`, which the spec forbids
//! (`5.12580012` must stay 5.12580012); its row here is the speed it would buy at that price, so
//! the choice of parser rests on a measurement and not on a reputation. The simd-json row also pays
//! the copy into a mutable buffer it needs, as the server would.
//!
//! Run: `cargo bench --bench parse`. Results: perf/RESULTS.md.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::Deserialize;

use omnigate::order::parse_order;

const MARKET: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;
const FRACTIONAL: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":5.12580012,"clientID":"CUST0A19F","clientOrderID":"co-8f2d1c7a","ipAddress":"203.0.113.7"}"#;
const LIMIT_WITH_EXTRAS: &str = r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"MSFT","quantity":"10","price":"410.25","timeInForce":"GTX","preventQueuing":true,"clientID":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","clientOrderID":"co-1","commission":1.5,"metadata":{"desk":"retail","campaign":"spring","source":"ios"},"clientNotes":"customer asked for GTX"}"#;

/// The same fields, as simd-json would have to read them (numbers as binary floats).
#[derive(Deserialize)]
#[allow(dead_code)]
struct LossyOrder<'a> {
    #[serde(rename = "accountNo", borrow)]
    account_no: Option<&'a str>,
    #[serde(rename = "orderType", borrow)]
    order_type: Option<&'a str>,
    #[serde(borrow)]
    side: Option<&'a str>,
    #[serde(borrow)]
    symbol: Option<&'a str>,
    quantity: Option<simd_json::OwnedValue>,
    price: Option<simd_json::OwnedValue>,
    #[serde(rename = "amountCash")]
    amount_cash: Option<simd_json::OwnedValue>,
    #[serde(rename = "timeInForce", borrow)]
    time_in_force: Option<&'a str>,
    #[serde(rename = "preventQueuing")]
    prevent_queuing: Option<bool>,
    #[serde(rename = "clientID", borrow)]
    client_id: Option<&'a str>,
    #[serde(rename = "clientOrderID", borrow)]
    client_order_id: Option<&'a str>,
    #[serde(rename = "ipAddress", borrow)]
    ip_address: Option<&'a str>,
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_order");
    for (name, body) in [
        ("market", MARKET),
        ("fractional", FRACTIONAL),
        ("limit_with_extras", LIMIT_WITH_EXTRAS),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("serde_json_exact", name),
            body,
            |b, body| {
                b.iter(|| {
                    let order = parse_order(black_box(body.as_bytes())).expect("valid");
                    black_box(order.size);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("simd_json_lossy", name),
            body,
            |b, body| {
                b.iter(|| {
                    let mut buffer = black_box(body.as_bytes()).to_vec();
                    let order: LossyOrder<'_> =
                        simd_json::serde::from_slice(&mut buffer).expect("valid");
                    black_box(order.quantity.is_some());
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);
