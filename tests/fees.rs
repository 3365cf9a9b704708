//! Fees through the real binary (SPEC §5.1): `fees.per_order` and the order's own `commission` or
//! `commissionRate` are in a BUY's reservation and debited at its end even when DriveWealth
//! reports no fee; a SELL's commission comes out of its proceeds.

mod common;

use common::{config, Gateway};

fn gateway() -> Gateway {
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\npoll_interval_ms = 0\n[clock]\nadjustable = true\n[fees]\nper_order = \"1\"\n",
    ));
    gateway.fund_omni("10000");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    gateway.pause_fills();
    gateway
}

fn place(gateway: &Gateway, side: &str, extra: &str) -> String {
    let placed = gateway.post_order(&format!(
        r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"{side}","symbol":"AAPL","quantity":2,"price":100,"clientID":"123456789"{extra}}}"#
    ));
    assert_eq!(placed.status, 200, "{}", placed.text());
    placed.json()["orderId"].as_str().unwrap().to_owned()
}

/// An `orders.*` event without `fees`, as DriveWealth may send it.
fn progress(gateway: &Gateway, order_id: &str, status: &str, cumulative: &str, average: &str) {
    let event = format!(
        r#"{{"id":"ev-{order_id}-{cumulative}-{status}","type":"orders.updated","timestamp":"2026-11-19T16:41:53Z","payload":{{"id":"{order_id}","status":"{status}","cumulativeQuantity":{cumulative},"averagePrice":{average}}}}}"#
    );
    let answer = gateway.admin("POST", "/admin/events", &event);
    assert_eq!(answer.json()["result"], "applied", "{}", answer.text());
}

fn cash_and_reserved(gateway: &Gateway) -> (String, String) {
    let customer = gateway.customer("123456789");
    (
        customer["cash"].as_str().unwrap().to_owned(),
        customer["reserved"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_fixed_commission_is_reserved_and_debited_with_the_fee() {
    let gateway = gateway();
    // 2 × 100, plus fees.per_order 1 and commission 3.5.
    let order_id = place(&gateway, "BUY", r#","commission":3.5"#);
    assert_eq!(
        cash_and_reserved(&gateway),
        ("100000".into(), "204.5".into())
    );
    assert_eq!(gateway.omni()["reserved"], "204.5");
    progress(&gateway, &order_id, "FILLED", "2", "99");
    // Debited 198 for the shares and 4.5 of fees, though the event named none.
    assert_eq!(cash_and_reserved(&gateway), ("99797.5".into(), "0".into()));
    assert_eq!(gateway.omni()["cash"], "9797.5");
}

#[test]
fn a_commission_rate_follows_the_amount_filled() {
    let gateway = gateway();
    // 200 + 1% of it + fees.per_order 1.
    let order_id = place(&gateway, "BUY", r#","commissionRate":0.01"#);
    assert_eq!(cash_and_reserved(&gateway).1, "203");
    // 1 filled @ 99: the other share (100 + 1%) and, for the end, 1 + 1% of 99.
    progress(&gateway, &order_id, "PARTIAL_FILL", "1", "99");
    assert_eq!(
        cash_and_reserved(&gateway),
        ("99901".into(), "102.99".into())
    );
    // Canceled there: the fee and 1% of the 99 filled are charged, the rest returns.
    progress(&gateway, &order_id, "CANCELED", "1", "99");
    assert_eq!(cash_and_reserved(&gateway), ("99899.01".into(), "0".into()));
}

#[test]
fn a_sell_pays_its_commission_from_its_proceeds() {
    let gateway = gateway();
    let order_id = place(&gateway, "SELL", r#","commission":"1.5""#);
    assert_eq!(cash_and_reserved(&gateway), ("100000".into(), "0".into()));
    progress(&gateway, &order_id, "FILLED", "2", "100");
    // 200 of proceeds less the commission; fees.per_order is a BUY's.
    assert_eq!(cash_and_reserved(&gateway).0, "100198.5");
}

#[test]
fn a_sell_commission_never_takes_more_than_the_sale_brought() {
    let gateway = gateway();
    let omni_before = gateway.omni()["available"].as_str().unwrap().to_owned();
    let order_id = place(&gateway, "SELL", r#","commission":"1000000""#);
    progress(&gateway, &order_id, "FILLED", "2", "100");
    // Nothing reserved a SELL's commission: it is capped at the 200 of proceeds.
    assert_eq!(cash_and_reserved(&gateway).0, "100000");
    assert_eq!(gateway.omni()["available"], omni_before.as_str());
}
