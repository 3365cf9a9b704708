//! The order rules through the real binary: every rejected order never reaches the upstream,
//! every accepted one does, unchanged (SPEC §3.1, §4).

mod common;

use common::{cancel_at, config, Gateway};

/// Thursday 2026-11-19, 11:00 ET: the regular session.
const REGULAR: &str = "2026-11-19T11:00:00-05:00";

fn gateway() -> Gateway {
    let gateway = Gateway::start(&config(
        "",
        "[clock]\nadjustable = true\n[client_id]\ndeny = [\"ACMECO\", \"GLOBAL\"]\n",
    ));
    gateway.fund_omni("1000000");
    gateway.set_clock(REGULAR);
    let halted = gateway.admin(
        "PUT",
        "/admin/instruments/HALT",
        r#"{"instrumentID":"26fa9515-d1c6-44ce-93b2-b94430451508","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"10"}"#,
    );
    assert_eq!(halted.status, 200, "{}", halted.text());
    gateway
}

fn order(fields: &str) -> String {
    common::market_buy(fields)
}

#[test]
fn rejected_orders_never_reach_the_upstream_and_accepted_ones_do_unchanged() {
    let gateway = gateway();
    // seed 002: the halt arrives as an instruments.updated event.
    let event = gateway.admin(
        "POST",
        "/admin/events",
        r#"{"id":"event_17913550-6db0-4086-9137-3fd728bd6821","type":"instruments.updated","timestamp":"2019-08-21T16:41:53.938331938Z","payload":{"instrumentID":"26fa9515-d1c6-44ce-93b2-b94430451508","previous":{"status":"ACTIVE"},"current":{"status":"HALTED"}}}"#,
    );
    assert_eq!(event.status, 200, "{}", event.text());
    assert_eq!(event.json()["result"], "applied");

    let rejected: &[(&str, String, &str)] = &[
        (
            "INVALID_ORDER",
            order(r#""quantity":5.125800121"#),
            "8 decimal",
        ),
        (
            "ACCOUNT_NOT_ALLOWED",
            order("").replace("DWOM000001", "CSSW000001"),
            "CSSW000001",
        ),
        (
            "CLIENT_ID_MISSING",
            order("").replace(r#""clientID":"123456789""#, r#""clientID":"""#),
            "clientID",
        ),
        (
            "CLIENT_ID_MISSING",
            order("").replace(r#","clientID":"123456789""#, ""),
            "missing",
        ),
        (
            "CLIENT_ID_INVALID",
            order("").replace("123456789", "ACMECO"),
            "deny list",
        ),
        (
            "CLIENT_ID_INVALID",
            order("").replace("123456789", "20260604"),
            "date",
        ),
        (
            "CLIENT_ID_INVALID",
            order("").replace("123456789", "0604"),
            "date",
        ),
        (
            "CLIENT_ID_UNKNOWN",
            order("").replace("123456789", &"ab".repeat(32)),
            "not a registered customer",
        ),
        ("INSTRUMENT_UNKNOWN", order("").replace("AAPL", "MS"), "MS"),
        (
            "INSTRUMENT_HALTED",
            order(r#""symbol":"HALT","quantity":0.555555"#).replace(r#""symbol":"AAPL","#, ""),
            "0.555555",
        ),
        (
            "FRACTIONAL_NOT_ALLOWED",
            order(r#""orderType":"LIMIT","price":160,"quantity":5.12580012"#)
                .replace(r#""orderType":"MARKET","#, ""),
            "whole shares",
        ),
        (
            "FRACTIONAL_NOT_ALLOWED",
            order(r#""quantity":0.5"#).replace("AAPL", "BRK.A"),
            "not fractionable",
        ),
        (
            "ORDER_TYPE_NOT_ALLOWED",
            order(r#""timeInForce":"GTX""#),
            "GTX",
        ),
        (
            "ORDER_TYPE_NOT_ALLOWED",
            order(r#""orderType":"LIMIT","price":60000"#)
                .replace(r#""orderType":"MARKET","#, "")
                .replace("AAPL", "BTC"),
            "crypto",
        ),
    ];
    let before = gateway.upstream_requests();
    for (code, body, needle) in rejected {
        let response = gateway.post_order(body);
        let (got, message) = response.error();
        assert_eq!(&got, code, "{body}: {message}");
        assert!(message.contains(needle), "{code}: {message}");
        assert_eq!(response.header("x-omnigate-decision"), Some("rejected"));
    }
    assert_eq!(
        gateway.upstream_requests(),
        before,
        "a rejected order reached the upstream"
    );

    // Whole shares on a halt are forwarded (DriveWealth holds them until the halt lifts), and so
    // is every accepted shape, byte for byte.
    let accepted = [
        order(r#""symbol":"HALT","quantity":3"#).replace(r#""symbol":"AAPL","#, ""),
        order(r#""quantity":5.12580012"#),
        order(r#""orderType":"LIMIT","price":"160.00","quantity":"2""#)
            .replace(r#""orderType":"MARKET","#, ""),
        order(r#""orderType":"LIMIT","price":160,"timeInForce":"GTX""#)
            .replace(r#""orderType":"MARKET","#, ""),
        order(r#""amountCash":30"#).replace("AAPL", "BTC"),
        order(r#""side":"SELL","quantity":1"#).replace(r#""side":"BUY","#, ""),
    ];
    for body in &accepted {
        let response = gateway.post_order(body);
        assert_eq!(response.status, 200, "{body}: {}", response.text());
        assert_eq!(response.header("x-omnigate-decision"), Some("accepted"));
        assert!(response.header("x-omnigate-queued-until").is_none());
    }
    let received: Vec<String> = gateway
        .upstream_orders()
        .iter()
        .map(|order| order["requestBody"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, accepted);
}

#[test]
fn market_hours_queue_or_refuse_and_cancels_respect_the_opening_cutoff() {
    let gateway = gateway();
    let sim = gateway.simulator.unwrap();
    common::pause_fills_at(sim);

    // seeds 001/002: with preventQueuing, an order at or after 4:00pm ET is refused.
    gateway.set_clock("2026-11-19T16:00:00-05:00");
    let before = gateway.upstream_requests();
    let response = gateway.post_order(&order(r#""preventQueuing":true"#));
    let (code, message) = response.error();
    assert_eq!(code, "MARKET_CLOSED", "{message}");
    assert!(message.contains("2026-11-20 09:30"), "{message}");
    assert_eq!(gateway.upstream_requests(), before);

    // Without it, the order is accepted and queued for the next open, which the answer says.
    let response = gateway.post_order(&order(""));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("x-omnigate-queued-until"),
        Some("2026-11-20T14:30:00+00:00")
    );
    let order_id = response.json()["orderId"].as_str().unwrap().to_owned();
    let cancel = |id: &str| cancel_at(gateway.order, id);

    // AAPL is NASDAQ-listed: no cancels from 09:28 ET until the open.
    gateway.set_clock("2026-11-20T09:28:05-05:00");
    let before = gateway.upstream_requests();
    let refused = cancel(&order_id);
    assert_eq!(refused.status, 422, "{}", refused.text());
    let (code, message) = refused.error();
    assert_eq!(code, "CANCEL_NOT_ALLOWED");
    assert!(message.contains("09:28"), "{message}");
    assert_eq!(
        gateway.upstream_requests(),
        before,
        "a refused cancel reached the upstream"
    );

    // A second queued order, canceled before the cut-off, is forwarded.
    gateway.set_clock("2026-11-19T20:30:00-05:00");
    let second = gateway.post_order(&order(""));
    let second_id = second.json()["orderId"].as_str().unwrap().to_owned();
    gateway.set_clock("2026-11-20T09:27:59-05:00");
    let before = gateway.upstream_requests();
    let allowed = cancel(&second_id);
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(gateway.upstream_requests(), before + 1);
}

/// SPEC §4.4: a partner's own config, with no `[market]` section, still has the NYSE calendar.
#[test]
fn a_config_without_a_market_section_has_the_nyse_calendar() {
    let gateway = gateway();
    let cases = [
        // Christmas Day: closed all day, so preventQueuing refuses and names the next open.
        ("2026-12-25T10:00:00-05:00", Some("2026-12-28 09:30")),
        // Day after Thanksgiving: the regular session ends at 13:00.
        ("2026-11-27T13:30:00-05:00", Some("2026-11-30 09:30")),
        ("2026-11-27T12:59:00-05:00", None),
        // Independence Day observed, 2027.
        ("2027-07-05T11:00:00-04:00", Some("2027-07-06 09:30")),
        // Martin Luther King, Jr. Day 2028, the built-in table's last year.
        ("2028-01-17T11:00:00-05:00", Some("2028-01-18 09:30")),
    ];
    for (now, refused_until) in cases {
        gateway.set_clock(now);
        let response = gateway.post_order(&order(r#""preventQueuing":true"#));
        match refused_until {
            Some(next_open) => {
                let (code, message) = response.error();
                assert_eq!(code, "MARKET_CLOSED", "{now}: {message}");
                assert!(message.contains(next_open), "{now}: {message}");
            }
            None => assert_eq!(response.status, 200, "{now}: {}", response.text()),
        }
    }
    let metrics = gateway.admin("GET", "/metrics", "");
    assert!(
        metrics.text().contains("omnigate_calendar_days_left 349"),
        "2028-01-17 is 349 days before 2028-12-31:\n{}",
        metrics.text()
    );
}

/// `market.calendar = "none"` starts from an empty calendar: Christmas trades like any Friday.
#[test]
fn an_empty_calendar_knows_only_the_days_it_lists() {
    let gateway = Gateway::start(&config(
        "",
        "[clock]\nadjustable = true\n[market]\ncalendar = \"none\"\nholidays = [\"2026-12-24\"]\n",
    ));
    gateway.fund_omni("1000000");
    gateway.set_clock("2026-12-25T10:00:00-05:00");
    let response = gateway.post_order(&order(r#""preventQueuing":true"#));
    assert_eq!(response.status, 200, "{}", response.text());
    gateway.set_clock("2026-12-24T10:00:00-05:00");
    let (code, message) = gateway
        .post_order(&order(r#""preventQueuing":true"#))
        .error();
    assert_eq!(code, "MARKET_CLOSED", "{message}");
}
