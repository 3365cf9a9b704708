//! The controls' memory survives a crash (SPEC §3.0 "No reset by restart", §10): a customer's
//! BUY total for the day, the `clientOrderID`s it used, and freezes — after a SIGKILL (rebuilt
//! from the log) and after a clean stop (rebuilt from the final snapshot).

mod common;

use std::sync::Arc;

use common::{config, Gateway, TempDir};

/// A LIMIT order of `quantity` AAPL at 190 for 123456789 (a BUY's notional is
/// `quantity × 190`; a SELL adds nothing to the day).
fn limit(side: &str, quantity: &str, client_order_id: Option<&str>) -> String {
    let id = client_order_id
        .map(|id| format!(r#","clientOrderID":"{id}""#))
        .unwrap_or_default();
    format!(
        r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"{side}","symbol":"AAPL","quantity":{quantity},"price":"190","clientID":"123456789"{id}}}"#
    )
}

fn buy(quantity: &str, client_order_id: Option<&str>) -> String {
    limit("BUY", quantity, client_order_id)
}

fn settings() -> String {
    // No poller and no snapshots until asked: after a SIGKILL the state comes from the log.
    config(
        "",
        "[upstream]\npoll_interval_ms = 0\n[wal]\nsnapshot_every = 1000000\n[limits.default]\ndaily_buy_notional = 1000",
    )
}

fn code(gateway: &Gateway, body: &str) -> String {
    let answer = gateway.post_order(body);
    if answer.status == 200 {
        "ACCEPTED".to_owned()
    } else {
        answer.error().0
    }
}

/// Uses most of the day's limit, a clientOrderID, and freezes CUST0A19F; then checks that each
/// control still holds.
fn spend_the_day(gateway: &Gateway) {
    gateway.fund_omni("1000000");
    assert_eq!(code(gateway, &buy("4", Some("before-crash"))), "ACCEPTED"); // 760 of 1000
    assert_eq!(code(gateway, &buy("2", None)), "LIMIT_EXCEEDED"); // 760 + 380
    let frozen = gateway.admin(
        "PUT",
        "/admin/customers/CUST0A19F/freeze",
        r#"{"frozen":true,"reason":"KYC review"}"#,
    );
    assert_eq!(frozen.status, 200, "{}", frozen.text());
    assert_eq!(frozen.json()["frozenReason"], "KYC review");
}

fn the_day_is_remembered(gateway: &Gateway) {
    let (code_after, message) = gateway.post_order(&buy("2", None)).error();
    assert_eq!(code_after, "LIMIT_EXCEEDED", "{message}");
    assert!(message.contains("daily_buy_notional"), "{message}");
    // Exactly 760 was remembered: one more share (950) still fits.
    assert_eq!(code(gateway, &buy("1", None)), "ACCEPTED");
    let (duplicate, message) = gateway
        .post_order(&limit("SELL", "1", Some("before-crash")))
        .error();
    assert_eq!(duplicate, "DUPLICATE_ORDER", "{message}");
    assert_eq!(
        code(gateway, &limit("SELL", "1", Some("after-crash"))),
        "ACCEPTED"
    );
    let order = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":0.01,"clientID":"CUST0A19F"}"#;
    let (frozen, message) = gateway.post_order(order).error();
    assert_eq!(frozen, "TRADING_DISABLED");
    assert!(message.contains("KYC review"), "{message}");
    assert_eq!(gateway.customer("CUST0A19F")["frozen"], true);
}

#[test]
fn daily_totals_client_order_ids_and_freezes_survive_sigkill() {
    let dir = Arc::new(TempDir::new("controls-kill"));
    let text = settings();
    let gateway = Gateway::start_in(dir.clone(), &text);
    spend_the_day(&gateway);
    gateway.kill();
    let gateway = Gateway::start_in(dir.clone(), &text);
    the_day_is_remembered(&gateway);

    // Unfrozen, the customer trades again, and that survives too.
    let thawed = gateway.admin(
        "PUT",
        "/admin/customers/CUST0A19F/freeze",
        r#"{"frozen":false}"#,
    );
    assert_eq!(thawed.status, 200, "{}", thawed.text());
    gateway.kill();
    let gateway = Gateway::start_in(dir, &text);
    assert_eq!(gateway.customer("CUST0A19F")["frozen"], false);
}

#[test]
fn daily_totals_client_order_ids_and_freezes_survive_a_snapshot() {
    let dir = Arc::new(TempDir::new("controls-snapshot"));
    let text = settings();
    let gateway = Gateway::start_in(dir.clone(), &text);
    spend_the_day(&gateway);
    // A clean stop writes a final snapshot and the log restarts from it.
    gateway.stop();
    let gateway = Gateway::start_in(dir.clone(), &text);
    the_day_is_remembered(&gateway);
}

#[test]
fn a_freeze_needs_a_known_customer_and_a_reason() {
    let gateway = Gateway::start(&settings());
    let unknown = gateway.admin(
        "PUT",
        "/admin/customers/NOBODY123/freeze",
        r#"{"frozen":true,"reason":"x"}"#,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let no_reason = gateway.admin(
        "PUT",
        "/admin/customers/CUST0A19F/freeze",
        r#"{"frozen":true}"#,
    );
    assert_eq!(no_reason.status, 400, "{}", no_reason.text());
}
