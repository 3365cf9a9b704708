//! Risk-officer controls through the real binary (SPEC §5.3): hot reload, kill switch,
//! idempotency under concurrency, rate limits and temporary raises.

mod common;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{cancel_at, config, send, wait_for, Gateway};

const ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":QTY,"clientID":"123456789"}"#;

fn order(quantity: &str) -> String {
    ORDER.replace("QTY", quantity)
}

fn started(limits: &str) -> Gateway {
    let gateway = Gateway::start(&config("", limits));
    gateway.fund_omni("10000000");
    gateway
}

#[test]
fn a_reload_tightens_limits_for_the_next_order_and_a_broken_file_changes_nothing() {
    let gateway = started("[limits.default]\nmax_order_quantity = 10\n");
    assert_eq!(gateway.post_order(&order("8")).status, 200);

    // Tighten the limit through the file, reload by admin call: the next order is refused.
    let path = gateway.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("max_order_quantity = 10", "max_order_quantity = 5"),
    )
    .unwrap();
    let reloaded = gateway.admin("POST", "/admin/reload", "");
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    let (code, message) = gateway.post_order(&order("8")).error();
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert_eq!(
        message,
        "order quantity 8 shares is above max_order_quantity 5"
    );
    assert_eq!(
        gateway.post_order(&order("5")).status,
        200,
        "at the limit passes"
    );

    // A broken file is refused with every problem listed, and the old limit still holds.
    let tightened = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        tightened.replace(
            "max_order_quantity = 5",
            "max_order_quantity = -1\nmax_order_qty = 3",
        ),
    )
    .unwrap();
    let refused = gateway.admin("POST", "/admin/reload", "");
    assert_eq!(refused.status, 400);
    let (_, problems) = refused.error();
    assert!(
        problems.contains("limits.default.max_order_qty: unknown key"),
        "{problems}"
    );
    assert_eq!(gateway.post_order(&order("6")).error().0, "LIMIT_EXCEEDED");
    assert_eq!(gateway.post_order(&order("5")).status, 200);

    // SIGHUP does the same as the admin call.
    std::fs::write(
        &path,
        tightened.replace("max_order_quantity = 5", "max_order_quantity = 2"),
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &gateway.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for(
        "SIGHUP to apply the new limit",
        Duration::from_secs(10),
        || (gateway.post_order(&order("3")).error().0 == "LIMIT_EXCEEDED").then_some(()),
    );
}

#[test]
fn the_kill_switch_stops_new_orders_lets_cancels_through_and_can_cancel_open_orders() {
    let gateway = started("");
    let sim = gateway.simulator.unwrap();
    common::pause_fills_at(sim);
    let open: Vec<String> = (0..2)
        .map(|_| {
            let placed = gateway.post_order(&order("1"));
            assert_eq!(placed.status, 200, "{}", placed.text());
            placed.json()["orderId"].as_str().unwrap().to_owned()
        })
        .collect();

    for (setting, blocked, passes) in [
        (
            r#"{"symbols":["aapl"]}"#,
            order("1"),
            order("1").replace("AAPL", "SPY"),
        ),
        (
            r#"{"clientIDs":["123456789"]}"#,
            order("1"),
            order("1").replace("123456789", "CUST0A19F"),
        ),
    ] {
        let set = gateway.admin("PUT", "/admin/kill-switch", setting);
        assert_eq!(set.status, 200, "{}", set.text());
        let before = gateway.upstream_requests();
        let (code, message) = gateway.post_order(&blocked).error();
        assert_eq!(code, "TRADING_DISABLED", "{setting}: {message}");
        assert_eq!(gateway.upstream_requests(), before);
        assert_eq!(gateway.post_order(&passes).status, 200, "{setting}");
    }

    // Global: everything new is refused, but a cancel still goes through.
    assert_eq!(
        gateway
            .admin("PUT", "/admin/kill-switch", r#"{"global":true}"#)
            .status,
        200
    );
    assert_eq!(
        gateway
            .post_order(&order("1").replace("AAPL", "SPY"))
            .error()
            .0,
        "TRADING_DISABLED"
    );
    let cancel = cancel_at(gateway.order, &open[0]);
    assert_eq!(cancel.status, 200, "{}", cancel.text());
    assert_eq!(
        gateway.admin("GET", "/admin/kill-switch", "").json()["global"],
        true
    );

    // cancelOpen sends the cancels upstream for what the switch covers.
    let set = gateway.admin(
        "PUT",
        "/admin/kill-switch",
        r#"{"clientIDs":["123456789"],"cancelOpen":true}"#,
    );
    assert_eq!(set.status, 200, "{}", set.text());
    let canceling = set.json()["canceling"].as_array().unwrap().len();
    assert!(canceling >= 1, "{}", set.text());
    wait_for(
        "the upstream to cancel the second order",
        Duration::from_secs(10),
        || {
            gateway
                .upstream_orders()
                .iter()
                .find(|o| o["id"] == open[1].as_str())
                .filter(|o| o["status"] == "CANCELED")
                .map(|_| ())
        },
    );
    // Clearing the switch lets orders through again.
    assert_eq!(gateway.admin("PUT", "/admin/kill-switch", "{}").status, 200);
    assert_eq!(gateway.post_order(&order("1")).status, 200);
}

#[test]
fn the_same_idempotency_key_from_many_tasks_forwards_exactly_once() {
    let gateway = Arc::new(started(""));
    // The single reservation is read back while its order is open.
    gateway.pause_fills();
    let before = gateway.upstream_requests();
    let tasks = 16;
    let barrier = Arc::new(Barrier::new(tasks));
    let answers: Vec<(u16, String, Option<String>)> = (0..tasks)
        .map(|_| {
            let gateway = gateway.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let response = send(
                    gateway.order,
                    "POST",
                    "/back-office/orders",
                    &[
                        ("content-type", "application/json"),
                        ("idempotency-key", "order-7f3a"),
                    ],
                    order("2").as_bytes(),
                );
                (
                    response.status,
                    response.text(),
                    response
                        .header("x-omnigate-idempotent-replay")
                        .map(str::to_owned),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    assert_eq!(
        gateway.upstream_requests(),
        before + 1,
        "forwarded exactly once"
    );
    let first = &answers[0].1;
    assert!(
        answers
            .iter()
            .all(|(status, body, _)| *status == 200 && body == first),
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|(_, _, replay)| replay.is_none())
            .count(),
        1
    );
    // Reserved once: 2 × 190 × 1.05.
    assert_eq!(gateway.customer("123456789")["reserved"], "399");

    let reused = send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "order-7f3a"),
        ],
        order("3").as_bytes(),
    );
    assert_eq!(reused.error().0, "IDEMPOTENCY_KEY_REUSED");
}

#[test]
fn rate_limits_and_temporary_raises() {
    let gateway = Gateway::start(&config(
        "",
        "[clock]\nadjustable = true\n[limits.default]\norders_per_second = 1\nburst = 2\nmax_order_quantity = 5\n",
    ));
    gateway.fund_omni("10000000");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    assert_eq!(gateway.post_order(&order("1")).status, 200);
    assert_eq!(gateway.post_order(&order("1")).status, 200);
    let limited = gateway.post_order(&order("1"));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error().0, "RATE_LIMITED");

    // A temporary raise applies until it expires, then the configured limit is back.
    let raise = gateway.admin(
        "PUT",
        "/admin/limits/123456789",
        r#"{"max_order_quantity":"20","orders_per_second":100,"burst":100,"expiresAt":"2026-11-19T12:00:00-05:00"}"#,
    );
    assert_eq!(raise.status, 200, "{}", raise.text());
    gateway.set_clock("2026-11-19T11:30:00-05:00");
    assert_eq!(gateway.post_order(&order("15")).status, 200);
    gateway.set_clock("2026-11-19T12:00:01-05:00");
    let (code, message) = gateway.post_order(&order("15")).error();
    assert_eq!(code, "LIMIT_EXCEEDED", "{message}");
}

#[test]
fn duplicates_and_the_low_balance_warning() {
    let accounts = r#"account_numbers = ["DWOM000001"]"#;
    let gateway = Gateway::start(
        &config("", "[limits.default]\nduplicate_window_ms = 60000\n")
            .replace(accounts, &format!("{accounts}\nlow_balance_warning = 1000")),
    );
    gateway.fund_omni("1500");
    let with_id = |id: &str, quantity: &str| {
        order(quantity).replace(
            r#""clientID""#,
            &format!(r#""clientOrderID":"{id}","clientID""#),
        )
    };
    assert_eq!(gateway.post_order(&with_id("co-1", "1")).status, 200);
    // The same clientOrderID again, even for another size.
    let (code, message) = gateway.post_order(&with_id("co-1", "2")).error();
    assert_eq!(code, "DUPLICATE_ORDER", "{message}");
    // Same customer, symbol, side and size inside the window, under a new clientOrderID.
    assert_eq!(
        gateway.post_order(&with_id("co-2", "1")).error().0,
        "DUPLICATE_ORDER"
    );
    // 1 × 190 × 1.05 = 199.50 is reserved so far; 3 more shares (598.50) take omni below 1000.
    let metrics = || gateway.admin("GET", "/metrics", "").text();
    assert!(!metrics().contains("omnigate_omni_low_balance 1"));
    assert_eq!(gateway.post_order(&with_id("co-3", "3")).status, 200);
    let text = metrics();
    assert!(text.contains("omnigate_omni_low_balance 1"), "{text}");
    assert!(
        text.contains("omnigate_decisions_total{code=\"DUPLICATE_ORDER\"} 2"),
        "{text}"
    );
}

/// SPEC §6: `cancelOpen` retries a failed cancel every `upstream.cancel_retry_ms`, at most 10
/// times, then gives up (the order stays held, for an operator).
#[test]
fn cancel_open_retries_a_failed_cancel_ten_times_at_most() {
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\npoll_interval_ms = 0\ncancel_retry_ms = 20\n[clock]\nadjustable = true\n",
    ));
    gateway.fund_omni("100000");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    let sim = gateway.simulator.unwrap();
    let json = [("content-type", "application/json")];
    gateway.pause_fills();
    let placed = gateway.post_order(&order("1"));
    assert_eq!(placed.status, 200, "{}", placed.text());
    // From now on DriveWealth answers 503 to everything.
    let faults = send(sim, "PUT", "/sim/faults", &json, br#"{"error_pct":100}"#);
    assert_eq!(faults.status, 200, "{}", faults.text());
    let switched = gateway.admin(
        "PUT",
        "/admin/kill-switch",
        r#"{"global":true,"clientIDs":[],"symbols":[],"cancelOpen":true}"#,
    );
    assert_eq!(switched.status, 200, "{}", switched.text());
    let failed = |gateway: &Gateway| {
        let metrics = gateway.admin("GET", "/metrics", "").text();
        metrics
            .lines()
            .find(|line| line.starts_with(r#"omnigate_upstream_cancels_total{result="failed"}"#))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|count| count.parse::<u32>().ok())
    };
    // The first attempt and ten retries.
    wait_for("eleven failed cancels", Duration::from_secs(10), || {
        (failed(&gateway) == Some(11)).then_some(())
    });
    // The order is still held: giving up cancels nothing in the books.
    let open = gateway.admin("GET", "/admin/orders?state=open", "").json();
    assert_eq!(open.as_array().unwrap().len(), 1);
}
