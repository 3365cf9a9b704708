//! The simulator as DriveWealth where omnigate's rules meet it (SPEC §9), black-box against
//! `omnigate sim` on its own adjustable clock: trading hours and cancel cut-offs from the NYSE
//! calendar across a DST switch, a holiday and an early close; halts; LIMIT, STOP and
//! MARKET_IF_TOUCHED triggers; DAY expiry; crypto; the price walk; the simulator's own omni
//! balance and deposits; the webhook's retries, deliberate duplicates and dead letters; reads
//! by order number and ids unique across restarts.

mod common;

use std::time::{Duration, Instant};

use common::webhook::WebhookReceiver;
use common::{Response, Simulator};

const HOURS: &str = "market_hours = true\nclock_adjustable = true\nfill_delay_ms = 0";

fn hours_sim() -> Simulator {
    Simulator::start_listed(HOURS, "")
}

fn set_clock(sim: &Simulator, now: &str) {
    let answer = sim.call("PUT", "/sim/clock", &format!(r#"{{"now":"{now}"}}"#));
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// Places an order; its `orderId`.
fn place(sim: &Simulator, body: &str) -> String {
    let answer = sim.call("POST", "/back-office/orders", body);
    assert_eq!(answer.status, 200, "{body}: {}", answer.text());
    answer.json()["orderId"].as_str().unwrap().to_owned()
}

fn order(symbol: &str, side: &str, extra: &str) -> String {
    format!(
        r#"{{"accountNo":"DWOM000001","orderType":"MARKET","side":"{side}","symbol":"{symbol}","quantity":2{extra}}}"#
    )
}

fn status(sim: &Simulator, id: &str) -> serde_json::Value {
    let answer = sim.call("GET", &format!("/back-office/orders/{id}"), "");
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

fn wait_for_status(sim: &Simulator, id: &str, wanted: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let order = status(sim, id);
        if order["status"] == wanted {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {wanted}: {order}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cancel(sim: &Simulator, id: &str) -> Response {
    common::cancel_at(sim.addr, id)
}

fn set_price(sim: &Simulator, symbol: &str, price: &str) {
    let answer = sim.call(
        "POST",
        "/sim/prices",
        &format!(r#"[{{"symbol":"{symbol}","price":"{price}"}}]"#),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// US daylight saving time began on Sunday 2026-03-08: the Monday open at 09:30 New York is
/// 13:30 UTC, where the Friday close at 16:00 was 21:00 UTC.
#[test]
fn orders_after_the_close_queue_for_the_open_across_a_dst_switch() {
    let sim = hours_sim();
    // Friday 2026-03-06, 21:00 EST: closed, post-market over.
    set_clock(&sim, "2026-03-07T02:00:00Z");
    let queued = place(&sim, &order("AAPL", "BUY", ""));
    let before = status(&sim, &queued);
    assert_eq!(before["status"], "NEW", "{before}");
    assert_eq!(before["cumulativeQuantity"], 0);
    assert_eq!(
        before["OrderExpires"], "2026-03-09T20:00:00.000Z",
        "4:00pm EDT of the session it waits for"
    );

    // An extended-hours order placed overnight waits for Monday's pre-market, expires at its
    // post-market close (20:00 EDT), and is not held by the opening cut-off.
    let gtx_overnight = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":150,"timeInForce":"GTX"}"#,
    );
    let waiting = status(&sim, &gtx_overnight);
    assert_eq!(waiting["status"], "NEW");
    assert_eq!(
        waiting["OrderExpires"], "2026-03-10T00:00:00.000Z",
        "{waiting}"
    );

    let refused = sim.call(
        "POST",
        "/back-office/orders",
        &order("AAPL", "BUY", r#","preventQueuing":true"#),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    let (code, message) = refused.error();
    assert_eq!(code, "O120");
    assert!(message.contains("2026-03-09T13:30:00Z"), "{message}");

    // An extended-hours LIMIT trades in the post-market session (Friday 17:00 EST).
    set_clock(&sim, "2026-03-06T22:00:00Z");
    let gtx = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":200,"timeInForce":"GTX"}"#,
    );
    assert_eq!(status(&sim, &gtx)["status"], "FILLED");
    assert_eq!(status(&sim, &gtx)["averagePrice"], 190, "the better price");
    let gtx_resting = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":150,"timeInForce":"GTX"}"#,
    );
    assert_eq!(
        status(&sim, &gtx_resting)["OrderExpires"],
        "2026-03-07T01:00:00.000Z",
        "the post-market close, 20:00 EST"
    );
    let plain = place(&sim, &order("AAPL", "BUY", ""));
    assert_eq!(status(&sim, &plain)["status"], "NEW", "not GTX: queued");

    // Cut-offs on Monday, in EDT: NASDAQ 09:28, ARCA 09:29, NYSE at the open.
    let nasdaq = place(&sim, &order("AAPL", "BUY", ""));
    let arca = place(&sim, &order("SPY", "BUY", ""));
    let arca_late = place(&sim, &order("SPY", "BUY", ""));
    let nyse = place(&sim, &order("BRK.A", "BUY", ""));
    set_clock(&sim, "2026-03-09T13:27:00Z");
    assert_eq!(cancel(&sim, &plain).status, 200, "before every cut-off");
    set_clock(&sim, "2026-03-09T13:28:30Z");
    let late = cancel(&sim, &nasdaq);
    assert_eq!(late.status, 422, "{}", late.text());
    let (code, message) = late.error();
    assert_eq!(code, "O121");
    assert!(
        message.contains("NASDAQ") && message.contains("09:28 ET"),
        "{message}"
    );
    assert_eq!(cancel(&sim, &arca).status, 200, "ARCA's cut-off is 09:29");
    assert_eq!(
        cancel(&sim, &gtx_overnight).status,
        200,
        "not queued for the open"
    );
    set_clock(&sim, "2026-03-09T13:29:30Z");
    assert_eq!(cancel(&sim, &arca_late).status, 422);
    assert_eq!(
        cancel(&sim, &nyse).status,
        200,
        "NYSE's cut-off is the open"
    );
    assert_eq!(
        status(&sim, &queued)["status"],
        "NEW",
        "09:29:30: still queued"
    );

    // 09:30 EDT is 13:30 UTC: the queue is released and fills.
    set_clock(&sim, "2026-03-09T13:30:00Z");
    let released = wait_for_status(&sim, &queued, "FILLED");
    assert_eq!(released["averagePrice"], 190);
    wait_for_status(&sim, &nasdaq, "FILLED");
    assert_eq!(cancel(&sim, &nasdaq).status, 422, "filled: final");
}

#[test]
fn holidays_and_early_closes_come_from_the_calendar() {
    let sim = hours_sim();
    // Good Friday 2026-04-03 is an NYSE holiday: 10:00 EDT is closed.
    set_clock(&sim, "2026-04-03T14:00:00Z");
    let refused = sim.call(
        "POST",
        "/back-office/orders",
        &order("AAPL", "BUY", r#","preventQueuing":true"#),
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.error().1.contains("2026-04-06T13:30:00Z"),
        "{}",
        refused.text()
    );
    let queued = place(&sim, &order("AAPL", "BUY", ""));
    assert_eq!(
        status(&sim, &queued)["OrderExpires"],
        "2026-04-06T20:00:00.000Z"
    );

    // Crypto trades on the holiday.
    let btc = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"BTC","amountCash":650}"#,
    );
    let btc = status(&sim, &btc);
    assert_eq!(btc["status"], "FILLED", "{btc}");
    assert_eq!(btc["quantity"], 0.01);

    // 2026-11-27, the day after Thanksgiving, closes at 13:00 EST (18:00 UTC; DST ended on
    // 2026-11-01). 12:59 trades; 13:30 queues for Monday's 09:30 EST, 14:30 UTC.
    set_clock(&sim, "2026-11-27T17:59:00Z");
    let early = place(&sim, &order("AAPL", "BUY", ""));
    assert_eq!(status(&sim, &early)["status"], "FILLED");
    set_clock(&sim, "2026-11-27T18:30:00Z");
    let refused = sim.call(
        "POST",
        "/back-office/orders",
        &order("AAPL", "BUY", r#","preventQueuing":true"#),
    );
    assert!(
        refused.error().1.contains("2026-11-30T14:30:00Z"),
        "{}",
        refused.text()
    );
}

/// Seed `001`, "Security halts", and SPEC §9.
#[test]
fn a_halt_holds_whole_shares_pending_rejects_fractional_ones_and_lifts() {
    let sim = hours_sim();
    set_clock(&sim, "2026-03-10T15:00:00Z");
    let halt = sim.call("POST", "/sim/instruments/AAPL", r#"{"status":"HALTED"}"#);
    assert_eq!(halt.status, 200, "{}", halt.text());
    assert_eq!(halt.json()["status"], "HALTED");

    let whole = place(&sim, &order("AAPL", "BUY", ""));
    let held = status(&sim, &whole);
    assert_eq!(held["status"], "PENDING", "{held}");
    let resting = sim.call("GET", "/back-office/accounts/a-1/summary/orders", "");
    let resting = resting.json();
    assert_eq!(resting["orders"][0]["orderID"], whole.as_str());
    assert_eq!(resting["orders"][0]["orderStatus"], "A", "FIX pending new");

    let fractional = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":0.5}"#,
    );
    let rejected = status(&sim, &fractional);
    assert_eq!(rejected["status"], "REJECTED", "immediately: {rejected}");
    assert!(rejected["statusMessage"]["message"]
        .as_str()
        .unwrap()
        .contains("halted"));

    let bad = sim.call("POST", "/sim/instruments/AAPL", r#"{"status":"PAUSED"}"#);
    assert_eq!(bad.status, 400);
    assert_eq!(
        sim.call("POST", "/sim/instruments/NOPE", r#"{"status":"HALTED"}"#)
            .error()
            .0,
        "I019"
    );

    let lift = sim.call("POST", "/sim/instruments/AAPL", r#"{"status":"ACTIVE"}"#);
    assert_eq!(lift.status, 200);
    let filled = wait_for_status(&sim, &whole, "FILLED");
    assert_eq!(filled["cumulativeQuantity"], 2);
}

/// Seed `001`, "Order Types": limits wait for their price and fill at the better one; stops
/// and market-if-touched orders wait for their trigger, then fill at market.
#[test]
fn limit_stop_and_market_if_touched_orders_wait_for_their_prices() {
    let sim = hours_sim();
    set_clock(&sim, "2026-03-10T15:00:00Z");
    let priced = |order_type: &str, side: &str, price: &str| {
        format!(
            r#"{{"accountNo":"DWOM000001","orderType":"{order_type}","side":"{side}","symbol":"AAPL","quantity":3,"price":{price}}}"#
        )
    };
    // AAPL starts at its reference price, 190. With no fill delay, the first look at an order
    // is made before its create is answered.
    let cases = [
        ("LIMIT", "BUY", "180", "175"),
        ("LIMIT", "SELL", "200", "205"),
        ("STOP", "BUY", "210", "211"),
        ("STOP", "SELL", "180", "179"),
        ("MARKET_IF_TOUCHED", "BUY", "170", "170"),
        ("MARKET_IF_TOUCHED", "SELL", "185", "186"),
    ];
    for (order_type, side, trigger, reached) in cases {
        let case = format!("{order_type} {side} {trigger}");
        let id = place(&sim, &priced(order_type, side, trigger));
        let waiting = status(&sim, &id);
        assert_eq!(waiting["status"], "NEW", "{case}: {waiting}");
        assert_eq!(waiting["averagePrice"], 0, "{case}");
        set_price(&sim, "AAPL", reached);
        let filled = wait_for_status(&sim, &id, "FILLED");
        assert_eq!(
            filled["averagePrice"].to_string(),
            reached,
            "{case}: fills at the market price"
        );
    }
    assert_eq!(
        sim.call("GET", "/sim/prices", "").json()[0]["price"],
        186,
        "prices read back"
    );
}

#[test]
fn crypto_is_pending_then_filled_or_rejected_whole() {
    let sim = hours_sim();
    // A Saturday: crypto trades 24/7.
    set_clock(&sim, "2026-03-07T12:00:00Z");
    let paused = sim.call("PUT", "/sim/fills", r#"{"paused":true}"#);
    assert_eq!(paused.status, 200);
    let btc = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"BTC","quantity":1.5}"#,
    );
    assert_eq!(status(&sim, &btc)["status"], "PENDING");
    let refused = cancel(&sim, &btc);
    assert_eq!(refused.status, 422, "PENDING crypto is immutable");
    assert!(refused.error().1.contains("crypto"), "{}", refused.text());
    sim.call("PUT", "/sim/fills", r#"{"paused":false}"#);
    let filled = wait_for_status(&sim, &btc, "FILLED");
    assert_eq!(filled["cumulativeQuantity"], 1.5, "whole, never partial");
    assert_eq!(filled["averagePrice"], 65000);

    let dust = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"BTC","amountCash":0.00000001}"#,
    );
    assert_eq!(
        wait_for_status(&sim, &dust, "REJECTED")["cumulativeQuantity"],
        0
    );
}

#[test]
fn the_random_walk_moves_prices_within_its_bound() {
    let sim = Simulator::start_listed("price_walk_bps = 50\nseed = 11", "");
    let deadline = Instant::now() + Duration::from_secs(10);
    let started = Instant::now();
    let aapl = loop {
        let prices = sim.call("GET", "/sim/prices", "").json();
        let aapl = prices
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["symbol"] == "AAPL")
            .expect("AAPL is priced from the master")["price"]
            .as_f64()
            .unwrap();
        if aapl != 190.0 {
            break aapl;
        }
        assert!(Instant::now() < deadline, "the price never moved");
        std::thread::sleep(Duration::from_millis(20));
    };
    // One step a second, each at most 0.5%, rounded to the cent.
    let steps = started.elapsed().as_secs() as i32 + 1;
    let bound = 190.0 * (1.005f64.powi(steps) - 1.0) + 0.01;
    assert!((aapl - 190.0).abs() <= bound, "{aapl} after {steps} steps");
    assert_eq!((aapl * 100.0).round() / 100.0, aapl, "whole cents");
}

/// Seed `003`: "If a Partner runs out of prefunding … 'insufficient funds'"; only BUYs.
#[test]
fn its_own_omni_balance_rejects_buys_beyond_it_and_deposits_add_to_it() {
    let sim = Simulator::start_listed("omni_cash = \"1000\"\nfill_delay_ms = 0", "");
    let too_much = place(
        &sim,
        &order("AAPL", "BUY", "").replace("\"quantity\":2", "\"quantity\":10"),
    );
    let rejected = status(&sim, &too_much);
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(rejected["statusMessage"]["message"], "insufficient funds");

    let five = place(
        &sim,
        &order("AAPL", "BUY", "").replace("\"quantity\":2", "\"quantity\":5"),
    );
    assert_eq!(status(&sim, &five)["status"], "FILLED");
    assert_eq!(sim.call("GET", "/sim/omni", "").json()["cash"], 50);
    let sell = place(&sim, &order("AAPL", "SELL", ""));
    assert_eq!(status(&sim, &sell)["status"], "FILLED");
    assert_eq!(sim.call("GET", "/sim/omni", "").json()["cash"], 430);

    let deposit = sim.call(
        "POST",
        "/sim/deposits",
        r#"{"accountNo":"DWOM000001","amount":"1000.50"}"#,
    );
    assert_eq!(deposit.status, 200, "{}", deposit.text());
    assert_eq!(deposit.json()["status"], 2);
    assert_eq!(sim.call("GET", "/sim/omni", "").json()["cash"], 1430.5);
    let again = place(
        &sim,
        &order("AAPL", "BUY", "").replace("\"quantity\":2", "\"quantity\":7"),
    );
    assert_eq!(status(&sim, &again)["status"], "FILLED", "1330 ≤ 1430.50");
}

/// DriveWealth: "Events can arrive out of order or more than once."
#[test]
fn events_are_retried_until_taken_and_sent_twice_on_purpose() {
    let receiver = WebhookReceiver::start(3);
    let sim = Simulator::start_listed(
        &format!(
            "fill_delay_ms = 0\nwebhook_url = \"{}\"\nwebhook_token = \"hook-token\"\nwebhook_duplicate_pct = 100",
            receiver.url()
        ),
        "",
    );
    let id = place(&sim, &order("AAPL", "BUY", ""));
    let halt = sim.call("POST", "/sim/instruments/SPY", r#"{"status":"HALTED"}"#);
    assert_eq!(halt.status, 200);
    let deposit = sim.call(
        "POST",
        "/sim/deposits",
        r#"{"accountNo":"DWOM000001","amount":250}"#,
    );
    assert_eq!(deposit.status, 200);

    let accepted = receiver.wait_for_accepted(8);
    let kinds: Vec<&str> = accepted
        .iter()
        .map(|event| event.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "orders.created",
            "orders.created",
            "orders.completed",
            "orders.completed",
            "instruments.updated",
            "instruments.updated",
            "deposits.updated",
            "deposits.updated",
        ]
    );
    for pair in accepted.chunks(2) {
        assert_eq!(pair[0].body, pair[1].body, "a duplicate is the same event");
        assert!(pair[0].body["id"].as_str().unwrap().starts_with("event_"));
    }
    assert_ne!(accepted[0].body["id"], accepted[2].body["id"]);
    assert_eq!(accepted[0].body["payload"]["id"], id.as_str());
    assert_eq!(accepted[0].body["payload"]["status"], "NEW");
    assert_eq!(accepted[2].body["payload"]["status"], "FILLED");
    let instrument = &accepted[4].body["payload"];
    assert_eq!(
        instrument["instrumentID"],
        "c9a5f4f2-8a3d-4f57-8e1f-2e5b0c6d7a22"
    );
    assert_eq!(instrument["previous"]["status"], "ACTIVE");
    assert_eq!(instrument["current"]["status"], "HALTED");
    assert_eq!(accepted[6].body["payload"]["amount"], 250);
    assert!(accepted
        .iter()
        .all(|event| event.authorization.as_deref() == Some("Bearer hook-token")));

    let all = receiver.received();
    let failed: Vec<_> = all
        .iter()
        .filter(|event| event.status_sent == 503)
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(
        failed.iter().all(|event| event.body == accepted[0].body),
        "the first event, retried until taken"
    );
    wait_for_counters(&sim, |counters| {
        counters["failed_attempts"] == 3
            && counters["duplicates"] == 4
            && counters["delivered"] == 4
            && counters["dropped"] == 0
    });
}

/// A receiver that refuses one event outright (a 4xx) has it set aside after a few attempts, so
/// the events after it still arrive; one that is down (5xx) is retried for as long as it takes.
#[test]
fn an_event_the_receiver_refuses_is_set_aside_and_the_rest_still_arrive() {
    let receiver = WebhookReceiver::failing_with(5, 422);
    let sim = Simulator::start_listed(
        &format!("fill_delay_ms = 0\nwebhook_url = \"{}\"", receiver.url()),
        "",
    );
    let id = place(&sim, &order("AAPL", "BUY", ""));
    let accepted = receiver.wait_for_accepted(1);
    assert_eq!(accepted[0].body["type"], "orders.completed", "{accepted:?}");
    assert_eq!(accepted[0].body["payload"]["id"], id.as_str());
    let refused: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|event| event.status_sent == 422)
        .collect();
    assert_eq!(refused.len(), 5);
    assert!(refused
        .iter()
        .all(|event| event.body["type"] == "orders.created"));
    // The receiver logs a post before the simulator reads its answer: wait for the count.
    wait_for_counters(&sim, |counters| {
        counters["dead_lettered"] == 1 && counters["delivered"] == 1
    });
}

/// Waits until `GET /sim/events` satisfies `done`.
fn wait_for_counters(sim: &Simulator, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counters = sim.call("GET", "/sim/events", "").json();
        if done(&counters) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "counters never settled: {counters}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// DriveWealth's `timeInForce` default is DAY for LIMIT: unfilled at 4:00pm ET, it is canceled.
/// STOP defaults to GTC and rests on into the next session.
#[test]
fn day_orders_expire_at_the_close_and_gtc_ones_rest() {
    let sim = hours_sim();
    set_clock(&sim, "2026-03-10T15:00:00Z");
    let limit = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":3,"price":150}"#,
    );
    let stop = place(
        &sim,
        r#"{"accountNo":"DWOM000001","orderType":"STOP","side":"BUY","symbol":"AAPL","quantity":3,"price":250}"#,
    );
    let resting = status(&sim, &limit);
    assert_eq!(
        resting["OrderExpires"], "2026-03-10T20:00:00.000Z",
        "{resting}"
    );
    set_clock(&sim, "2026-03-10T20:00:00Z");
    let expired = wait_for_status(&sim, &limit, "CANCELED");
    assert_eq!(expired["cumulativeQuantity"], 0);
    assert!(
        expired["statusMessage"]["message"]
            .as_str()
            .unwrap()
            .starts_with("expired unfilled at 2026-03-10T20:00:00Z"),
        "{expired}"
    );
    // The STOP outlived the close: the next day, its trigger fills it.
    set_clock(&sim, "2026-03-11T15:00:00Z");
    set_price(&sim, "AAPL", "251");
    let filled = wait_for_status(&sim, &stop, "FILLED");
    assert_eq!(filled["averagePrice"], 251);
}

/// `GET /back-office/orders/byOrderNo/{orderNo}` finds an order by its number, and a restarted
/// simulator (same seed, same config) issues neither an id nor a number it issued before.
#[test]
fn orders_are_found_by_number_and_ids_never_repeat_across_restarts() {
    let first_run = {
        let sim = Simulator::start_listed("fill_delay_ms = 0\nseed = 5", "");
        let id = place(&sim, &order("AAPL", "BUY", ""));
        let order_no = status(&sim, &id)["orderNo"].as_str().unwrap().to_owned();
        let by_no = sim.call(
            "GET",
            &format!("/back-office/orders/byOrderNo/{order_no}"),
            "",
        );
        assert_eq!(by_no.status, 200, "{}", by_no.text());
        assert_eq!(by_no.json()["id"], id.as_str());
        assert_eq!(
            sim.call("GET", "/back-office/orders/byOrderNo/SMZZ999999", "")
                .error()
                .0,
            "O001"
        );
        (id, order_no)
    };
    let sim = Simulator::start_listed("fill_delay_ms = 0\nseed = 5", "");
    let id = place(&sim, &order("AAPL", "BUY", ""));
    assert_ne!(id, first_run.0, "a new start's ids are its own");
    // The number's two letters come from the start's random epoch too, but two letters repeat
    // one start in 676: the id is what must never repeat.
    let order_no = status(&sim, &id)["orderNo"].as_str().unwrap().to_owned();
    assert!(
        order_no.ends_with("000001"),
        "{order_no} after {}",
        first_run.1
    );
}
