//! T+1 settlement through the real binary (SPEC §5.4): a trade settles at the first settlement
//! roll on the business day after its trade date, holidays skipped; a roll missed while omnigate
//! was down is made at start.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{binary, config, wait_for, Gateway, TempDir};

/// Cashless funding with a $10,000 line, SELL proceeds held until settlement, rolls at 17:00,
/// fills only through the events the test posts.
fn settings() -> String {
    config(
        "",
        "[buying_power]\nsell_proceeds = \"on_settlement\"\n[upstream]\npoll_interval_ms = 0\n\
         [clock]\nadjustable = true\n",
    )
    .replace(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n",
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\nfunding = \"cashless\"\n\
         credit_limit = \"10000\"\nsettlement_time = \"17:00:00\"\n",
    )
}

/// The days of the settlement rolls in the gateway's WAL, in log order (the gateway stopped).
fn logged_rolls(dir: &TempDir) -> Vec<String> {
    let dump = Command::new(binary())
        .args(["wal", "dump"])
        .arg(dir.path().join("omnigate-data"))
        .output()
        .unwrap();
    assert!(dump.status.success());
    String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["type"] == "settlement_rolled")
        .map(|entry| entry["record"]["day"].as_str().unwrap().to_owned())
        .collect()
}

/// Places an order and fills it whole at `price` through an `orders.completed` event.
fn trade(gateway: &Gateway, side: &str, client_id: &str, quantity: &str, price: &str) {
    let placed = gateway.post_order(&format!(
        r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"{side}","symbol":"AAPL","quantity":{quantity},"price":{price},"clientID":"{client_id}"}}"#
    ));
    assert_eq!(placed.status, 200, "{}", placed.text());
    let order_id = placed.json()["orderId"].as_str().unwrap().to_owned();
    let event = format!(
        r#"{{"id":"fill-{order_id}","type":"orders.completed","timestamp":"2026-11-19T16:41:53Z","payload":{{"id":"{order_id}","status":"FILLED","cumulativeQuantity":{quantity},"averagePrice":{price},"fees":0}}}}"#
    );
    let answer = gateway.admin("POST", "/admin/events", &event);
    assert_eq!(answer.json()["result"], "applied", "{}", answer.text());
}

fn pending(gateway: &Gateway) -> String {
    gateway.omni()["pendingSettlement"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn unsettled(gateway: &Gateway, client_id: &str) -> String {
    gateway.customer(client_id)["unsettledProceeds"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sets the clock and waits for the roll of `day`.
fn roll_at(gateway: &Gateway, now: &str, day: &str) {
    gateway.set_clock(now);
    wait_for(
        &format!("the settlement roll of {day}"),
        Duration::from_secs(10),
        || (gateway.omni()["lastSettlementRoll"] == day).then_some(()),
    );
}

#[test]
fn a_friday_trade_settles_at_mondays_roll_and_a_holiday_is_skipped() {
    let dir = Arc::new(TempDir::new("settle"));
    let gateway = Gateway::start_in(dir.clone(), &settings());
    gateway.pause_fills();
    // Thursday 2026-11-19 17:00:05: the feed rolls Thursday (nothing is pending yet).
    roll_at(&gateway, "2026-11-19T17:00:05-05:00", "2026-11-19");

    // Friday 11:00: a $200 BUY and a $1,900 SELL.
    gateway.set_clock("2026-11-20T11:00:00-05:00");
    trade(&gateway, "BUY", "CUST0A19F", "2", "100");
    trade(&gateway, "SELL", "123456789", "10", "190");
    assert_eq!(pending(&gateway), "200");
    assert_eq!(gateway.omni()["available"], "9800");
    assert_eq!(unsettled(&gateway, "123456789"), "1900");

    // Friday's own roll settles nothing of Friday's (T+0 would).
    roll_at(&gateway, "2026-11-20T17:00:05-05:00", "2026-11-20");
    assert_eq!(pending(&gateway), "200");
    assert_eq!(unsettled(&gateway, "123456789"), "1900");
    // No roll on the weekend; Monday's settles Friday's trades.
    roll_at(&gateway, "2026-11-23T17:00:05-05:00", "2026-11-23");
    assert_eq!(pending(&gateway), "0");
    assert_eq!(gateway.omni()["available"], "10000");
    let seller = gateway.customer("123456789");
    assert_eq!(
        (
            seller["cash"].as_str(),
            seller["unsettledProceeds"].as_str()
        ),
        (Some("101900"), Some("0"))
    );

    // A Wednesday trade before Thanksgiving settles on Friday, not on the holiday. (The jump
    // from Monday to Wednesday makes Tuesday's roll on the way.)
    gateway.set_clock("2026-11-25T11:00:00-05:00");
    trade(&gateway, "BUY", "CUST0A19F", "1", "100");
    roll_at(&gateway, "2026-11-25T17:00:05-05:00", "2026-11-25");
    assert_eq!(pending(&gateway), "100");
    roll_at(&gateway, "2026-11-27T17:00:05-05:00", "2026-11-27");
    assert_eq!(pending(&gateway), "0");
    gateway.stop();
    // One roll per business day, in order: none on the weekend, none on Thanksgiving. (Before
    // the clock was set, the start made the real clock's latest roll.)
    assert_eq!(
        logged_rolls(&dir)
            .into_iter()
            .skip_while(|day| day != "2026-11-19")
            .collect::<Vec<_>>(),
        [
            "2026-11-19",
            "2026-11-20",
            "2026-11-23",
            "2026-11-24",
            "2026-11-25",
            "2026-11-27"
        ]
    );
}

#[test]
fn a_roll_missed_while_down_is_made_at_start() {
    let dir = Arc::new(TempDir::new("settle"));
    let gateway = Gateway::start_in(dir.clone(), &settings());
    gateway.pause_fills();
    roll_at(&gateway, "2026-11-19T09:00:00-05:00", "2026-11-18");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    trade(&gateway, "SELL", "123456789", "10", "190");
    assert_eq!(unsettled(&gateway, "123456789"), "1900");
    gateway.kill();

    // Restarted on the real clock, days later: the rolls from 2026-11-20 on are made at start,
    // and the first of them settles the Thursday sale.
    let gateway = Gateway::start_in(dir, &settings());
    wait_for("the missed rolls", Duration::from_secs(10), || {
        let last = gateway.omni()["lastSettlementRoll"].as_str()?.to_owned();
        (last.as_str() >= "2026-11-20").then_some(())
    });
    let seller = gateway.customer("123456789");
    assert_eq!(
        (
            seller["cash"].as_str(),
            seller["unsettledProceeds"].as_str()
        ),
        (Some("101900"), Some("0"))
    );
}
