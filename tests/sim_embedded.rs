//! The simulator inside `omnigate run`, on the embedded default's `[simulator]` section (its
//! webhook pointed at the gateway's own `POST /admin/events`), with the poller off: what
//! omnigate learns, it learns from the simulator's events (SPEC §9).

mod common;

use std::time::Duration;

use common::{send, wait_for, Gateway, ADMIN_TOKEN};

const EMBEDDED: &str = include_str!("../src/config/default.toml");

/// The embedded default on ephemeral ports, with the test book, an adjustable clock (set to a
/// regular session, so the simulator's hours let orders trade) and no poller; `simulator`
/// lines are added to its `[simulator]` section.
fn embedded(simulator: &str) -> String {
    // A key given here replaces the embedded default's.
    let mut text = EMBEDDED.to_owned();
    for line in simulator.lines() {
        if let Some((key, _)) = line.split_once(" = ") {
            text = text
                .lines()
                .filter(|kept| !kept.starts_with(&format!("{key} = ")))
                .map(|kept| format!("{kept}\n"))
                .collect();
        }
    }
    let text = text
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "admin_listen = \"127.0.0.1:8081\"",
            &format!("admin_listen = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN_TOKEN}\""),
        )
        .replace(
            "[simulator]\n",
            &format!("[simulator]\nmarket_hours = true\n{simulator}\n"),
        );
    assert!(text.contains("webhook_url = \"omnigate\""), "{text}");
    format!(
        "{text}\n[bootstrap]\ninstruments = \"instruments.jsonl\"\ncustomers = \"customers.jsonl\"\n\n[upstream]\npoll_interval_ms = 0\n\n[clock]\nadjustable = true\n"
    )
}

fn start(simulator: &str) -> Gateway {
    let gateway = Gateway::start(&embedded(simulator));
    // Tuesday 2026-03-10, 11:00 New York: the regular session.
    gateway.set_clock("2026-03-10T15:00:00Z");
    gateway
}

fn sim_call(gateway: &Gateway, method: &str, path: &str, body: &str) -> common::Response {
    send(
        gateway.simulator.expect("in-process simulator"),
        method,
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn buy(quantity: u32) -> String {
    format!(
        r#"{{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":{quantity},"clientID":"123456789"}}"#
    )
}

fn aapl_position(gateway: &Gateway) -> String {
    gateway.customer("123456789")["positions"]["AAPL"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_demo_order_fill_arrives_as_an_event() {
    let gateway = start("");
    gateway.fund_omni("100000");
    let placed = gateway.post_order(&buy(2));
    assert_eq!(placed.status, 200, "{}", placed.text());
    // No poller, and nobody reads the order through omnigate: only the webhook can tell it.
    wait_for("the fill event", Duration::from_secs(20), || {
        let customer = gateway.customer("123456789");
        (customer["positions"]["AAPL"] == "12" && customer["reserved"] == "0").then_some(())
    });
    // The position shows before the event's answer is back at the simulator: wait for it.
    let events = wait_for("the deliveries counted", Duration::from_secs(20), || {
        let events = sim_call(&gateway, "GET", "/sim/events", "").json();
        (events["delivered"].as_u64() >= Some(2)).then_some(events)
    });
    assert_eq!(events["webhook"], true, "{events}");
    assert_eq!(events["failed_attempts"], 0, "{events}");
}

#[test]
fn a_whole_share_order_on_a_halt_is_held_and_reserved_until_the_halt_lifts() {
    let gateway = start("");
    gateway.fund_omni("100000");
    let halted = sim_call(
        &gateway,
        "POST",
        "/sim/instruments/AAPL",
        r#"{"status":"HALTED"}"#,
    );
    assert_eq!(halted.status, 200, "{}", halted.text());
    let status = || gateway.admin("GET", "/admin/instruments/AAPL", "").json()["status"].clone();
    wait_for(
        "omnigate to learn of the halt",
        Duration::from_secs(20),
        || (status() == "HALTED").then_some(()),
    );

    // Fractional orders are refused by omnigate itself on a halt; whole shares go on.
    let fractional = gateway.post_order(&buy(1).replace("\"quantity\":1", "\"quantity\":0.5"));
    assert_eq!(fractional.error().0, "INSTRUMENT_HALTED");
    let placed = gateway.post_order(&buy(3));
    assert_eq!(placed.status, 200, "{}", placed.text());
    let order_id = placed.json()["orderId"].as_str().unwrap().to_owned();
    wait_for(
        "the simulator to hold the order",
        Duration::from_secs(20),
        || {
            let order = sim_call(
                &gateway,
                "GET",
                &format!("/back-office/orders/{order_id}"),
                "",
            );
            (order.json()["status"] == "PENDING").then_some(())
        },
    );
    let held = gateway.customer("123456789");
    assert_ne!(held["reserved"], "0", "reserved while held: {held}");
    assert_eq!(held["positions"]["AAPL"], "10");

    let lifted = sim_call(
        &gateway,
        "POST",
        "/sim/instruments/AAPL",
        r#"{"status":"ACTIVE"}"#,
    );
    assert_eq!(lifted.status, 200);
    wait_for("the fill after the halt", Duration::from_secs(20), || {
        let customer = gateway.customer("123456789");
        (customer["positions"]["AAPL"] == "13" && customer["reserved"] == "0").then_some(())
    });
    assert_eq!(status(), "ACTIVE");
}

#[test]
fn omnigate_refuses_first_the_buy_the_simulators_omni_balance_would_reject() {
    let gateway = start("omni_cash = \"1000\"");
    gateway.fund_omni("1000");
    // 10 AAPL at 190 is $1,900: more than the omni account holds, at omnigate and upstream.
    let before = gateway.upstream_requests();
    let refused = gateway.post_order(&buy(10));
    assert_eq!(refused.error().0, "INSUFFICIENT_OMNI_BUYING_POWER");
    assert_eq!(gateway.upstream_requests(), before, "not forwarded");

    // Sent straight to the simulator, DriveWealth's answer: REJECTED, "insufficient funds".
    let direct = sim_call(&gateway, "POST", "/back-office/orders", &buy(10));
    assert_eq!(direct.status, 200, "{}", direct.text());
    let id = direct.json()["orderId"].as_str().unwrap().to_owned();
    let rejected = wait_for("the simulator's rejection", Duration::from_secs(20), || {
        let order = sim_call(&gateway, "GET", &format!("/back-office/orders/{id}"), "").json();
        (order["status"] == "REJECTED").then_some(order)
    });
    assert_eq!(rejected["statusMessage"]["message"], "insufficient funds");

    // Within the balance, both take it.
    let placed = gateway.post_order(&buy(4));
    assert_eq!(placed.status, 200, "{}", placed.text());
    wait_for("the fill", Duration::from_secs(20), || {
        (aapl_position(&gateway) == "14").then_some(())
    });
    assert_eq!(
        sim_call(&gateway, "GET", "/sim/omni", "").json()["cash"],
        240
    );
}

/// With no fill delay the simulator fills an order, and posts its events, before it answers the
/// create, so a fill event may reach omnigate before the answer binds the order's id; such an
/// update waits for the bind (the engine's own test makes the overtaking certain). With the
/// poller off, every fill must come through the webhook.
#[test]
fn with_no_fill_delay_every_fill_still_arrives_through_the_webhook() {
    let gateway = start("fill_delay_ms = 0");
    gateway.fund_omni("100000");
    for _ in 0..20 {
        let placed = gateway.post_order(&buy(1));
        assert_eq!(placed.status, 200, "{}", placed.text());
    }
    wait_for("every fill", Duration::from_secs(20), || {
        let customer = gateway.customer("123456789");
        (customer["positions"]["AAPL"] == "30"
            && customer["reserved"] == "0"
            && customer["openOrders"].as_array().is_some_and(Vec::is_empty))
        .then_some(())
    });
}

/// In-process, the simulator reads omnigate's clock: `PUT /admin/clock` moves both.
#[test]
fn the_in_process_simulator_shares_the_gateways_clock() {
    let gateway = start("");
    let now = sim_call(&gateway, "GET", "/sim/clock", "").json()["now"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(now.starts_with("2026-03-10T15:00:"), "{now}");
    gateway.set_clock("2027-01-04T14:30:00Z");
    let now = sim_call(&gateway, "GET", "/sim/clock", "").json()["now"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(now.starts_with("2027-01-04T14:30:"), "{now}");
}
