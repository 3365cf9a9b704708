//! `/metrics` counts every code of SPEC §3.1 that can occur, and each order's outcome: an order
//! is `ACCEPTED` once the upstream took it; an upstream refusal, an upstream error, a timeout
//! and an unreachable upstream are their own outcomes (SPEC §11).

mod common;

use std::collections::BTreeMap;

use common::{cancel_at, config, dead_port, send, Gateway};

/// Thursday 2026-11-19, 11:00 ET: the regular session.
const REGULAR: &str = "2026-11-19T11:00:00-05:00";

fn order(fields: &str) -> String {
    common::market_buy(fields)
}

/// `omnigate_decisions_total` by code.
fn decisions(gateway: &Gateway) -> BTreeMap<String, u64> {
    let text = gateway.admin("GET", "/metrics", "").text();
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("omnigate_decisions_total{code=\"")?;
            let (code, count) = rest.split_once("\"} ")?;
            Some((code.to_owned(), count.trim().parse().ok()?))
        })
        .collect()
}

fn expect(gateway: &Gateway, body: &str, code: &str) {
    let response = gateway.post_order(body);
    assert_eq!(response.error().0, code, "{body}: {}", response.text());
}

fn put_instrument(gateway: &Gateway, symbol: &str, fields: &str) {
    let response = gateway.admin(
        "PUT",
        &format!("/admin/instruments/{symbol}"),
        &format!(r#"{{"assetClass":"EQUITY","exchange":"NASDAQ","fractionable":true,{fields}}}"#),
    );
    assert_eq!(response.status, 200, "{symbol}: {}", response.text());
}

fn sim_faults(gateway: &Gateway, body: &str) {
    let sim = gateway.simulator.expect("an in-process simulator");
    let json = [("content-type", "application/json")];
    let set = send(sim, "PUT", "/sim/faults", &json, body.as_bytes());
    assert_eq!(set.status, 200, "{}", set.text());
}

#[test]
fn every_code_and_every_outcome_is_counted() {
    let gateway = Gateway::start(
        &config(
            "",
            r#"[clock]
adjustable = true
[upstream]
timeout_ms = 300
[client_id]
deny = ["ACMECO"]
[limits.default]
max_order_quantity = "1000"
price_band_pct = "10"
[[limits.customer]]
client_id = "RATE0001"
orders_per_second = "1"
burst = 1
"#,
        )
        .replace(
            r#"account_numbers = ["DWOM000001"]"#,
            r#"account_numbers = ["DWOM000001", "REJECT0001"]"#,
        ),
    );
    gateway.pause_fills();
    gateway.set_clock(REGULAR);
    let mut upstream_took = 0;

    // Before the omni account is funded, a BUY is beyond it.
    expect(&gateway, &order(""), "INSUFFICIENT_OMNI_BUYING_POWER");
    gateway.fund_omni("1000000");

    put_instrument(
        &gateway,
        "HALT",
        r#""instrumentID":"26fa9515-d1c6-44ce-93b2-b94430451508","status":"HALTED","price":"10""#,
    );
    put_instrument(
        &gateway,
        "DEAD",
        r#""instrumentID":"36fa9515-d1c6-44ce-93b2-b94430451508","status":"INACTIVE","price":"10""#,
    );
    put_instrument(
        &gateway,
        "LOTS",
        r#""instrumentID":"46fa9515-d1c6-44ce-93b2-b94430451508","status":"ACTIVE","price":"10","orderSizeMin":"10""#,
    );
    put_instrument(
        &gateway,
        "NEWCO",
        r#""instrumentID":"56fa9515-d1c6-44ce-93b2-b94430451508","status":"ACTIVE""#,
    );
    let rate = gateway.admin(
        "PUT",
        "/admin/customers/RATE0001",
        r#"{"customerId":"c-rate","cash":"100000"}"#,
    );
    assert_eq!(rate.status, 200, "{}", rate.text());

    let cases: Vec<(String, &str)> = vec![
        (order(r#""quantity":5.125800121"#), "INVALID_ORDER"),
        (
            order("").replace("DWOM000001", "CSSW000001"),
            "ACCOUNT_NOT_ALLOWED",
        ),
        (
            order("").replace(r#","clientID":"123456789""#, ""),
            "CLIENT_ID_MISSING",
        ),
        (
            order("").replace("123456789", "ACMECO"),
            "CLIENT_ID_INVALID",
        ),
        (
            order("").replace("123456789", "NOSUCH42"),
            "CLIENT_ID_UNKNOWN",
        ),
        (order("").replace("AAPL", "MS"), "INSTRUMENT_UNKNOWN"),
        (
            order(r#""quantity":0.5"#).replace("AAPL", "HALT"),
            "INSTRUMENT_HALTED",
        ),
        (order("").replace("AAPL", "DEAD"), "INSTRUMENT_NOT_TRADABLE"),
        (order("").replace("AAPL", "LOTS"), "ORDER_SIZE_INVALID"),
        (
            order(r#""quantity":0.5"#).replace("AAPL", "BRK.A"),
            "FRACTIONAL_NOT_ALLOWED",
        ),
        (order(r#""timeInForce":"GTX""#), "ORDER_TYPE_NOT_ALLOWED"),
        (order("").replace("AAPL", "NEWCO"), "NO_REFERENCE_PRICE"),
        (
            order(r#""price":300"#).replace("MARKET", "LIMIT"),
            "PRICE_OUT_OF_BAND",
        ),
        (order(r#""quantity":2000"#), "LIMIT_EXCEEDED"),
        (
            order(r#""quantity":100"#).replace("123456789", "CUST0A19F"),
            "INSUFFICIENT_BUYING_POWER",
        ),
        (
            order(r#""quantity":100"#).replace("BUY", "SELL"),
            "INSUFFICIENT_POSITION",
        ),
    ];
    for (body, code) in &cases {
        expect(&gateway, body, code);
    }

    // Controls with memory.
    let kill = gateway.admin(
        "PUT",
        "/admin/kill-switch",
        r#"{"global":false,"clientIDs":[],"symbols":["SPY"],"cancelOpen":false}"#,
    );
    assert_eq!(kill.status, 200, "{}", kill.text());
    expect(
        &gateway,
        &order("").replace("AAPL", "SPY"),
        "TRADING_DISABLED",
    );
    let first = gateway.post_order(&order(r#""clientOrderID":"dup-1""#));
    assert_eq!(first.status, 200, "{}", first.text());
    upstream_took += 1;
    expect(
        &gateway,
        &order(r#""clientOrderID":"dup-1","quantity":2"#),
        "DUPLICATE_ORDER",
    );
    let keyed = |body: &str| {
        send(
            gateway.order,
            "POST",
            "/back-office/orders",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "k-1"),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(keyed(&order(r#""quantity":3"#)).status, 200);
    upstream_took += 1;
    assert_eq!(
        keyed(&order(r#""quantity":4"#)).error().0,
        "IDEMPOTENCY_KEY_REUSED"
    );
    let rated = order(r#""quantity":5"#).replace("123456789", "RATE0001");
    let rated_first = gateway.post_order(&rated);
    assert_eq!(rated_first.status, 200, "{}", rated_first.text());
    upstream_took += 1;
    expect(
        &gateway,
        &rated.replace(r#""quantity":5"#, r#""quantity":6"#),
        "RATE_LIMITED",
    );

    // The path and method rules of the order listener.
    let odd = send(gateway.order, "GET", "//back-office/orders/1", &[], b"");
    assert_eq!(odd.error().0, "INVALID_REQUEST");
    let delete = send(gateway.order, "DELETE", "/back-office/orders", &[], b"");
    assert_eq!(delete.error().0, "METHOD_NOT_ALLOWED");

    // Hours: queuing refused after the close, a cancel inside the opening cut-off.
    gateway.set_clock("2026-11-19T16:00:00-05:00");
    expect(
        &gateway,
        &order(r#""preventQueuing":true"#),
        "MARKET_CLOSED",
    );
    gateway.set_clock("2026-11-20T08:00:00-05:00");
    let queued = gateway.post_order(&order(r#""quantity":7"#));
    assert_eq!(queued.status, 200, "{}", queued.text());
    upstream_took += 1;
    let queued_id = queued.json()["orderId"].as_str().unwrap().to_owned();
    gateway.set_clock("2026-11-20T09:28:05-05:00");
    let cancel = cancel_at(gateway.order, &queued_id);
    assert_eq!(cancel.error().0, "CANCEL_NOT_ALLOWED");
    gateway.set_clock(REGULAR);

    // Outcomes after the decision: refused upstream, an upstream error, no answer.
    let refused = gateway.post_order(&order(r#""quantity":8"#).replace("DWOM000001", "REJECT0001"));
    assert_eq!(refused.status, 422, "{}", refused.text());
    sim_faults(&gateway, r#"{"error_pct":100}"#);
    let failed = gateway.post_order(&order(r#""quantity":9"#));
    assert!(failed.status >= 500, "{}", failed.text());
    sim_faults(&gateway, r#"{"error_pct":0,"timeout_pct":100}"#);
    assert_eq!(
        gateway.post_order(&order(r#""quantity":10"#)).error().0,
        "UPSTREAM_TIMEOUT"
    );
    sim_faults(&gateway, r#"{"timeout_pct":0}"#);

    let counted = decisions(&gateway);
    let mut expected: Vec<&str> = cases.iter().map(|(_, code)| *code).collect();
    expected.extend([
        "INSUFFICIENT_OMNI_BUYING_POWER",
        "TRADING_DISABLED",
        "DUPLICATE_ORDER",
        "IDEMPOTENCY_KEY_REUSED",
        "RATE_LIMITED",
        "INVALID_REQUEST",
        "METHOD_NOT_ALLOWED",
        "MARKET_CLOSED",
        "CANCEL_NOT_ALLOWED",
        "UPSTREAM_REJECTED",
        "UPSTREAM_ERROR",
        "UPSTREAM_TIMEOUT",
    ]);
    for code in expected {
        assert!(
            counted.get(code).is_some_and(|n| *n >= 1),
            "{code} not counted: {counted:?}"
        );
    }
    assert_eq!(
        counted.get("ACCEPTED").copied(),
        Some(upstream_took),
        "ACCEPTED counts the orders the upstream took, nothing else: {counted:?}"
    );
    for outcome in ["UPSTREAM_REJECTED", "UPSTREAM_ERROR", "UPSTREAM_TIMEOUT"] {
        assert_eq!(counted[outcome], 1, "{outcome}: {counted:?}");
    }
    // Each order the upstream took was decided and sent, and both times were recorded.
    let text = gateway.admin("GET", "/metrics", "").text();
    for histogram in ["omnigate_decision_seconds", "omnigate_upstream_seconds"] {
        let count: u64 = text
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{histogram}_count ")))
            .unwrap_or_else(|| panic!("no {histogram}_count in /metrics:\n{text}"))
            .trim()
            .parse()
            .unwrap();
        assert!(
            count >= upstream_took,
            "{histogram} recorded {count} times for {upstream_took} orders taken"
        );
    }
}

#[test]
fn an_unknown_router_and_an_unreachable_upstream_are_counted() {
    let gateway = Gateway::start(&config(
        r#"router_app_keys = ["known-router-key"]"#,
        &format!("[upstream]\nurl = \"http://{}\"\n", dead_port()),
    ));
    gateway.fund_omni("1000000");
    let unknown = gateway.post_order(&order(""));
    assert_eq!(unknown.error().0, "UNAUTHORIZED");
    let known = send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("dw-client-app-key", "known-router-key"),
        ],
        order("").as_bytes(),
    );
    assert_eq!(known.error().0, "UPSTREAM_UNAVAILABLE");
    let counted = decisions(&gateway);
    assert_eq!(counted.get("UNAUTHORIZED"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("UPSTREAM_UNAVAILABLE"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("ACCEPTED"), None, "{counted:?}");
}
