//! The simulator's DriveWealth authentication (SPEC §9), black-box: tokens from
//! `POST /back-office/auth/tokens`, required with `simulator.require_auth`, expiring after
//! `simulator.token_ttl_s`; and through `omnigate run`, a router that authenticates first (as a
//! DriveWealth client library does) places an order, while omnigate renews its own token.

mod common;

use std::time::Duration;

use common::{config, send, wait_for, Gateway, Simulator};

const ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;

/// `POST /back-office/auth/tokens` at `addr`: the access token and `expires_in`.
fn token(addr: std::net::SocketAddr) -> (String, String) {
    let answer = send(
        addr,
        "POST",
        "/back-office/auth/tokens",
        &[("content-type", "application/json")],
        br#"{"clientID":"partner-router","clientSecret":"router-secret"}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["expires_in"].as_str().expect("a string").to_owned(),
    )
}

fn order_with(addr: std::net::SocketAddr, token: Option<&str>) -> common::Response {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("dw-client-app-key", "router-app-key"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    send(
        addr,
        "POST",
        "/back-office/orders",
        &headers,
        ORDER.as_bytes(),
    )
}

#[test]
fn the_simulator_requires_a_live_token_and_an_app_key() {
    let sim = Simulator::start("require_auth = true\ntoken_ttl_s = 1\nfill_delay_ms = 0");
    let refused = order_with(sim.addr, None);
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.error().0, "E401");
    assert!(
        refused.header("dw-request-id").is_some(),
        "every answer has one"
    );
    let made_up = order_with(sim.addr, Some("not-a-token"));
    assert_eq!(made_up.status, 401);

    let (live, expires_in) = token(sim.addr);
    assert_eq!(expires_in, "1");
    let placed = order_with(sim.addr, Some(&live));
    assert_eq!(placed.status, 200, "{}", placed.text());
    let order_id = placed.json()["orderId"].as_str().unwrap().to_owned();
    let without_key = send(
        sim.addr,
        "GET",
        &format!("/back-office/orders/{order_id}"),
        &[("authorization", &format!("Bearer {live}"))],
        b"",
    );
    assert_eq!(without_key.status, 401, "{}", without_key.text());
    // The control paths are the simulator's own and need nothing.
    assert_eq!(send(sim.addr, "GET", "/sim/orders", &[], b"").status, 200);

    let expired = wait_for("the token to expire", Duration::from_secs(10), || {
        let answer = order_with(sim.addr, Some(&live));
        (answer.status == 401).then_some(answer)
    });
    assert!(expired.error().1.contains("expired"), "{}", expired.text());
    let missing = send(
        sim.addr,
        "POST",
        "/back-office/auth/tokens",
        &[("content-type", "application/json")],
        br#"{"clientID":"partner-router"}"#,
    );
    assert_eq!(missing.status, 400, "{}", missing.text());
}

#[test]
fn a_router_that_authenticates_first_trades_through_omnigate_which_renews_its_own_token() {
    let sim = Simulator::start("require_auth = true\ntoken_ttl_s = 2");
    let gateway = Gateway::start(&config(
        "",
        &format!(
            "[upstream]\nurl = \"http://{}\"\npoll_interval_ms = 100\n[upstream.auth]\nclient_id = \"omnigate\"\nclient_secret = \"omnigate-secret\"\napp_key = \"omnigate-app-key\"\n",
            sim.addr
        ),
    ));
    gateway.fund_omni("1000000");
    // The order stays open, so omnigate's poller keeps reading it.
    common::pause_fills_at(sim.addr);
    // The router's token request is proxied to the simulator like any DriveWealth path.
    let (router_token, _) = token(gateway.order);
    let placed = order_with(gateway.order, Some(&router_token));
    assert_eq!(placed.status, 200, "{}", placed.text());
    assert_eq!(placed.header("x-omnigate-decision"), Some("accepted"));
    // omnigate's poller reads the order with a token of its own, renewed as it expires.
    let metrics = || gateway.admin("GET", "/metrics", "").text();
    let count = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    };
    wait_for(
        "two renewals and good polls",
        Duration::from_secs(20),
        || {
            let text = metrics();
            (count(
                &text,
                "omnigate_upstream_auth_renewals_total{result=\"ok\"} ",
            ) >= 2.0
                && count(&text, "omnigate_upstream_polls_total{result=\"ok\"} ") >= 1.0)
                .then_some(())
        },
    );
    let text = metrics();
    assert_eq!(
        count(
            &text,
            "omnigate_upstream_auth_renewals_total{result=\"failed\"} "
        ),
        0.0,
        "{text}"
    );
}
