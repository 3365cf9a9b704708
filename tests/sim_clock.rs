//! `omnigate sim`'s own clock (SPEC §9): with `simulator.clock_adjustable`, `PUT /sim/clock`
//! moves it, and the orders it takes are stamped by it; without, the clock cannot be moved.

mod common;

use common::{send, Simulator};

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// `PUT /sim/clock` to 2027-03-01 15:00 UTC.
fn set_clock(sim: &Simulator) -> common::Response {
    send(
        sim.addr,
        "PUT",
        "/sim/clock",
        &JSON,
        br#"{"now":"2027-03-01T15:00:00Z"}"#,
    )
}

/// `GET /sim/clock`'s time.
fn clock_now(sim: &Simulator) -> String {
    let now = send(sim.addr, "GET", "/sim/clock", &[], b"").json();
    now["now"].as_str().expect("a time").to_owned()
}

#[test]
fn put_sim_clock_moves_the_simulators_time() {
    let sim = Simulator::start("clock_adjustable = true\nfill_delay_ms = 0");
    let set = set_clock(&sim);
    assert_eq!(set.status, 200, "{}", set.text());
    let now = clock_now(&sim);
    assert!(now.starts_with("2027-03-01T15:00:0"), "{now}");
    let placed = send(
        sim.addr,
        "POST",
        "/back-office/orders",
        &JSON,
        br#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1}"#,
    );
    assert_eq!(placed.status, 200, "{}", placed.text());
    let id = placed.json()["orderId"].as_str().unwrap().to_owned();
    let status = send(
        sim.addr,
        "GET",
        &format!("/back-office/orders/{id}"),
        &[],
        b"",
    )
    .json();
    assert!(
        status["created"]
            .as_str()
            .unwrap()
            .starts_with("2027-03-01T15:00:0"),
        "{status}"
    );
    let bad = send(
        sim.addr,
        "PUT",
        "/sim/clock",
        &JSON,
        br#"{"now":"tomorrow"}"#,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
}

#[test]
fn without_clock_adjustable_the_clock_stays_put() {
    let sim = Simulator::start("");
    let set = set_clock(&sim);
    assert_eq!(set.status, 404, "{}", set.text());
    let now = clock_now(&sim);
    assert!(!now.starts_with("2027-03-01"), "{now}");
}
