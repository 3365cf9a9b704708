//! Durability through the real binary (SPEC §10): state comes back after a clean stop and after
//! SIGKILL, and killing the gateway at random moments under load loses nothing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use common::{binary, send, wait_for, Gateway, Simulator, TempDir, ADMIN_TOKEN};

fn config(simulator: &Simulator, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\
         [omnibus]\naccount_numbers = [\"DWOM000001\"]\n\
         [bootstrap]\ninstruments = \"instruments.jsonl\"\ncustomers = \"customers.jsonl\"\n\
         [upstream]\nurl = \"http://{}\"\npoll_interval_ms = 20\n{extra}\n",
        simulator.addr
    )
}

/// Everything the admin API says about the state that must survive.
fn state(gateway: &Gateway) -> serde_json::Value {
    let get = |path: &str| {
        let response = gateway.admin("GET", path, "");
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    };
    let customers: Vec<serde_json::Value> = ["123456789", "CUST0A19F", "NEW0001"]
        .iter()
        .map(|id| get(&format!("/admin/customers/{id}")))
        .collect();
    serde_json::json!({
        "customers": customers,
        "omni": get("/admin/omni"),
        "open": get("/admin/orders?state=open"),
        "in_doubt": get("/admin/orders?state=in_doubt"),
        "kill_switch": get("/admin/kill-switch"),
        "limits": get("/admin/limits"),
        "halted": get("/admin/instruments/SPY")["status"],
        "price": get("/admin/instruments/AAPL")["price"],
    })
}

#[test]
fn everything_comes_back_after_a_clean_stop_and_after_sigkill() {
    let simulator = Simulator::start("fill_delay_ms = 0");
    let dir = Arc::new(TempDir::new("restart"));
    let text = config(&simulator, "[wal]\nsnapshot_every = 7\n");
    let gateway = Gateway::start_in(dir.clone(), &text);
    gateway.fund_omni("100000");
    let put = gateway.admin(
        "PUT",
        "/admin/customers/NEW0001",
        r#"{"customerId":"c-new","cash":"500.25","positions":{"SPY":"0.5"}}"#,
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        gateway
            .admin(
                "POST",
                "/admin/customers/NEW0001/cash",
                r#"{"amount":"-0.25"}"#
            )
            .status,
        200
    );
    let order = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":2,"clientID":"123456789"}"#;
    let keyed = send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "k-1"),
        ],
        order.as_bytes(),
    );
    assert_eq!(keyed.status, 200, "{}", keyed.text());
    // An order that stays open: paused fills upstream.
    common::pause_fills_at(simulator.addr);
    let open = gateway.post_order(
        &order
            .replace("123456789", "CUST0A19F")
            .replace("\"quantity\":2", "\"quantity\":1"),
    );
    assert_eq!(open.status, 200, "{}", open.text());
    assert_eq!(
        gateway
            .admin("PUT", "/admin/kill-switch", r#"{"symbols":["BTC"]}"#)
            .status,
        200
    );
    assert_eq!(
        gateway
            .admin(
                "PUT",
                "/admin/limits/123456789",
                &format!(
                    r#"{{"max_order_quantity":"50","expiresAt":"{}"}}"#,
                    in_a_day()
                ),
            )
            .status,
        200
    );
    assert_eq!(
        gateway
            .admin(
                "POST",
                "/admin/prices",
                r#"[{"symbol":"AAPL","price":"191.5"}]"#
            )
            .status,
        200
    );
    let halt = r#"{"id":"e-halt","type":"instruments.updated","payload":{"instrumentID":"c9a5f4f2-8a3d-4f57-8e1f-2e5b0c6d7a22","current":{"status":"HALTED"}}}"#;
    assert_eq!(gateway.admin("POST", "/admin/events", halt).status, 200);
    let deposit = r#"{"id":"e-dep","type":"deposits.updated","payload":{"paymentID":"pay-1","amount":"250","status":2}}"#;
    assert_eq!(
        gateway.admin("POST", "/admin/events", deposit).json()["result"],
        "applied"
    );
    // The first order fills (fills were on when it was placed); wait until the ledger knows.
    wait_for("the first order's fill", Duration::from_secs(10), || {
        (gateway.customer("123456789")["positions"]["AAPL"] == "12").then_some(())
    });
    let before = state(&gateway);

    gateway.stop();
    let gateway = Gateway::start_in(dir.clone(), &text);
    assert_eq!(state(&gateway), before, "after a clean stop");

    gateway.kill();
    let gateway = Gateway::start_in(dir.clone(), &text);
    assert_eq!(state(&gateway), before, "after SIGKILL");

    // The idempotency key, the credited payment and the kill switch still act.
    let upstream_before = simulator.orders().len();
    let replay = send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "k-1"),
        ],
        order.as_bytes(),
    );
    assert_eq!(replay.text(), keyed.text());
    assert_eq!(replay.header("x-omnigate-idempotent-replay"), Some("true"));
    assert_eq!(
        gateway
            .admin(
                "POST",
                "/admin/events",
                &deposit.replace("e-dep", "e-dep-2")
            )
            .json()["result"],
        "duplicate"
    );
    let btc = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"BTC","amountCash":10,"clientID":"123456789"}"#;
    assert_eq!(gateway.post_order(btc).error().0, "TRADING_DISABLED");
    assert_eq!(simulator.orders().len(), upstream_before);

    // The log can be inspected offline once the gateway is gone.
    gateway.stop();
    let wal_dir = dir.path().join("omnigate-data");
    let verify = Command::new(binary())
        .args(["wal", "verify"])
        .arg(&wal_dir)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let dump = Command::new(binary())
        .args(["wal", "dump"])
        .arg(&wal_dir)
        .output()
        .unwrap();
    assert!(dump.status.success());
    for line in String::from_utf8_lossy(&dump.stdout).lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(entry["lsn"].is_u64() && entry["type"].is_string(), "{line}");
    }
}

/// A moment a day from now by the wall clock, which the gateway under test also reads.
#[allow(clippy::disallowed_methods)]
fn in_a_day() -> String {
    (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339()
}

/// Orders from the load generator carry a unique quantity, so an order in doubt after a crash
/// can be matched to what the upstream received.
/// (Always ending in 1, so its text has no trailing zeros to normalise away.)
fn unique_quantity(n: u64) -> String {
    format!("0.{n:07}1")
}

/// The simulator's order list with every value as its exact JSON text.
type RawOrder = HashMap<String, Box<RawValue>>;

fn raw_orders(simulator: &Simulator) -> Vec<RawOrder> {
    let response = send(simulator.addr, "GET", "/sim/orders", &[], b"");
    serde_json::from_slice(&response.body).expect("the simulator's order list")
}

/// A field of the order body as received, exactly as sent.
fn sent(order: &RawOrder, field: &str) -> String {
    let body: String = serde_json::from_str(order["requestBody"].get()).unwrap();
    let body: RawOrder = serde_json::from_str(&body).unwrap();
    body[field].get().trim_matches('"').to_owned()
}

#[test]
fn sigkill_at_random_moments_under_load_loses_nothing() {
    const CYCLES: u64 = 20;
    const CUSTOMERS: [&str; 2] = ["123456789", "CUST0A19F"];
    let simulator = Simulator::start("fill_delay_ms = 2");
    let dir = Arc::new(TempDir::new("crash"));
    let text = config(&simulator, "[wal]\nsnapshot_every = 200\n");
    let counter = Arc::new(AtomicU64::new(0));
    // A seeded generator for the kill moments, so a failure can be replayed.
    let mut seed: u64 = 0x5eed_0fc0_ffee;
    let mut next_delay_ms = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        20 + seed % 180
    };
    let initial_cash: HashMap<&str, i128> = [("123456789", 100_000), ("CUST0A19F", 1_000)]
        .into_iter()
        .map(|(id, dollars)| (id, dollars * 100_000_000))
        .collect();
    let omni_cash: i128 = 5_000_000 * 100_000_000;

    for cycle in 0..CYCLES {
        let gateway = Gateway::start_in(dir.clone(), &text);
        if cycle == 0 {
            gateway.fund_omni("5000000");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let load: Vec<_> = (0..4)
            .map(|worker| {
                let (order_addr, stop, counter) = (gateway.order, stop.clone(), counter.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let body = format!(
                            r#"{{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":{},"clientID":"{}"}}"#,
                            unique_quantity(n),
                            CUSTOMERS[(worker % 2) as usize]
                        );
                        // The connection dies with the gateway; that is the point.
                        let _ = std::panic::catch_unwind(|| {
                            send(order_addr, "POST", "/back-office/orders", &[("content-type", "application/json")], body.as_bytes())
                        });
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(next_delay_ms()));
        gateway.kill();
        stop.store(true, Ordering::Relaxed);
        for worker in load {
            worker.join().unwrap();
        }
    }

    // Recover once more and settle every order whose fate the crash hid.
    let gateway = Gateway::start_in(dir.clone(), &text);
    let upstream = raw_orders(&simulator);
    assert!(
        upstream.len() > 20,
        "the load placed too few orders: {}",
        upstream.len()
    );
    let by_quantity: HashMap<String, String> = upstream
        .iter()
        .map(|order| {
            (
                sent(order, "quantity"),
                order["id"].get().trim_matches('"').to_owned(),
            )
        })
        .collect();
    let in_doubt = gateway
        .admin("GET", "/admin/orders?state=in_doubt", "")
        .json();
    for order in in_doubt.as_array().unwrap() {
        let quantity = order["quantity"].as_str().unwrap();
        let local = order["localId"].as_str().unwrap();
        let body = match by_quantity.get(quantity) {
            Some(order_id) => format!(r#"{{"outcome":"placed","orderId":"{order_id}"}}"#),
            None => r#"{"outcome":"not_placed"}"#.to_owned(),
        };
        let resolved = gateway.admin("POST", &format!("/admin/orders/{local}/resolve"), &body);
        assert_eq!(resolved.status, 200, "{}", resolved.text());
    }
    wait_for(
        "every order to be filled and applied",
        Duration::from_secs(30),
        || {
            let open = gateway.admin("GET", "/admin/orders?state=open", "").json();
            open.as_array().unwrap().is_empty().then_some(())
        },
    );

    // Recompute every balance from the upstream's own record of what it filled.
    let units = |text: &str| -> i128 {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let fraction = format!("{fraction:0<8}");
        whole.parse::<i128>().unwrap() * 100_000_000 + fraction[..8].parse::<i128>().unwrap()
    };
    let mut spent: BTreeMap<String, i128> = BTreeMap::new();
    let mut shares: BTreeMap<String, i128> = BTreeMap::new();
    for order in &upstream {
        assert_eq!(order["status"].get(), "\"FILLED\"");
        let client = sent(order, "clientID");
        let filled = units(order["cumulativeQuantity"].get());
        // cumulativeQuantity × averagePrice, rounded up to 10⁻⁸ as omnigate debits it.
        let product = filled * units(order["averagePrice"].get());
        let amount = (product + 99_999_999) / 100_000_000;
        *spent.entry(client.clone()).or_default() += amount;
        *shares.entry(client).or_default() += filled;
    }
    let mut omni_spent = 0;
    for client in CUSTOMERS {
        let view = gateway.customer(client);
        let spent = spent.get(client).copied().unwrap_or(0);
        omni_spent += spent;
        assert_eq!(
            units(view["cash"].as_str().unwrap()),
            initial_cash[client] - spent,
            "{client}: {view}"
        );
        assert_eq!(
            view["reserved"], "0",
            "{client}: a reservation outlived its order"
        );
        let held = view["positions"]["AAPL"].as_str().map_or(0, units);
        let initial_shares = if client == "123456789" {
            10 * 100_000_000
        } else {
            0
        };
        assert_eq!(
            held,
            initial_shares + shares.get(client).copied().unwrap_or(0),
            "{client}"
        );
    }
    let omni = gateway.omni();
    assert_eq!(
        units(omni["cash"].as_str().unwrap()),
        omni_cash - omni_spent,
        "{omni}"
    );
    assert_eq!(omni["reserved"], "0", "{omni}");
}
