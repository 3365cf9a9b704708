//! DriveWealth's events as DriveWealth sends them, through the real binary (SPEC §6): statuses
//! as names or numbers (JSON numbers or strings), `Pending Cancel` not final, deposits naming
//! their account by `accountNo` or `accountID`, and a returned deposit debited once.

mod common;

use std::time::Duration;

use common::{cancel_at, config, send, wait_for, Gateway, TempDir};

fn event(id: &str, kind: &str, payload: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"{kind}","timestamp":"2026-11-19T16:41:53.938331938Z","payload":{payload}}}"#
    )
}

fn post(gateway: &Gateway, body: &str) -> String {
    let answer = gateway.admin("POST", "/admin/events", body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["result"].as_str().unwrap().to_owned()
}

fn paused_gateway(rest: &str) -> Gateway {
    let gateway = Gateway::start(&config(
        "",
        &format!("[upstream]\npoll_interval_ms = 0\n[clock]\nadjustable = true\n{rest}"),
    ));
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    gateway.pause_fills();
    gateway
}

#[test]
fn order_statuses_are_read_as_names_or_numbers() {
    let gateway = paused_gateway("");
    gateway.fund_omni("10000");
    let place = || {
        let placed = gateway.post_order(
            r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":100,"clientID":"123456789"}"#,
        );
        assert_eq!(placed.status, 200, "{}", placed.text());
        placed.json()["orderId"].as_str().unwrap().to_owned()
    };
    let update = |event_id: &str, order_id: &str, status: &str, cumulative: u32| {
        let payload = format!(
            r#"{{"id":"{order_id}","status":{status},"cumulativeQuantity":{cumulative},"averagePrice":100}}"#
        );
        post(&gateway, &event(event_id, "orders.updated", &payload))
    };
    let open = || {
        gateway
            .admin("GET", "/admin/orders?state=open", "")
            .json()
            .as_array()
            .unwrap()
            .len()
    };

    // 1 as a JSON number is PARTIAL_FILL; "2" as a string is FILLED (final).
    let first = place();
    assert_eq!(update("a1", &first, "1", 1), "applied");
    assert_eq!(gateway.customer("123456789")["reserved"], "100");
    assert_eq!(update("a2", &first, r#""2""#, 2), "applied");
    assert_eq!(gateway.customer("123456789")["reserved"], "0");
    assert_eq!(open(), 0);

    // Pending Cancel, as a name with a space or as 6, is not final: the order stays open.
    let second = place();
    assert_eq!(update("b1", &second, r#""Pending Cancel""#, 0), "duplicate");
    assert_eq!(update("b2", &second, "6", 0), "duplicate");
    assert_eq!(open(), 1);
    assert_eq!(gateway.customer("123456789")["reserved"], "200");
    // 4 is CANCELED: final, the reservation returns.
    assert_eq!(update("b3", &second, "4", 0), "applied");
    assert_eq!(open(), 0);
    assert_eq!(gateway.customer("123456789")["reserved"], "0");

    // A status that is neither a string nor an integer is a bad body.
    let bad = event(
        "c1",
        "orders.updated",
        r#"{"id":"x","status":{"name":"NEW"},"cumulativeQuantity":0}"#,
    );
    assert_eq!(gateway.admin("POST", "/admin/events", &bad).status, 400);

    let metrics = gateway.admin("GET", "/metrics", "").text();
    for line in [
        r#"omnigate_events_total{result="applied"} 3"#,
        r#"omnigate_events_total{result="duplicate"} 2"#,
        r#"omnigate_events_total{result="refused"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}

fn deposit(event_id: &str, payment_id: &str, account: &str, amount: &str, status: &str) -> String {
    event(
        event_id,
        "deposits.updated",
        &format!(
            r#"{{"paymentID":"{payment_id}","category":"DEPOSIT","type":"WIRE","amount":{amount},"currency":"USD","status":{status}{account}}}"#
        ),
    )
}

#[test]
fn deposits_name_their_account_either_way_and_a_return_is_debited_once() {
    let accounts =
        "[[omnibus.accounts]]\nnumber = \"DWOM000001\"\naccount_id = \"acct-equities\"\n\n\
                    [[omnibus.accounts]]\nnumber = \"DWCR000001\"\naccount_id = \"acct-crypto\"\n\
                    asset_classes = [\"CRYPTO\"]\n";
    let settings =
        config("", accounts).replace("[omnibus]\naccount_numbers = [\"DWOM000001\"]\n", "");
    let dir = std::sync::Arc::new(TempDir::new("events"));
    let gateway = Gateway::start_in(dir.clone(), &settings);
    let available = |account: &str| {
        gateway
            .admin("GET", &format!("/admin/omni/{account}"), "")
            .json()["available"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let by_id = r#","accountID":"acct-crypto""#;
    let by_number = r#","accountNo":"DWOM000001""#;
    assert_eq!(
        post(&gateway, &deposit("d1", "pay-1", by_id, "500", "2")),
        "applied"
    );
    assert_eq!(
        post(&gateway, &deposit("d2", "pay-2", by_number, "300", "2")),
        "applied"
    );
    assert_eq!(available("DWCR000001"), "500");
    assert_eq!(available("DWOM000001"), "300");

    // Returned (5, or its name): debited once per paymentID, at the account it was credited to.
    assert_eq!(
        post(&gateway, &deposit("d3", "pay-1", by_id, "500", "5")),
        "applied"
    );
    assert_eq!(available("DWCR000001"), "0");
    let again = post(
        &gateway,
        &deposit("d4", "pay-1", by_id, "500", r#""Returned""#),
    );
    assert_eq!(again, "ignored");
    assert_eq!(available("DWCR000001"), "0");
    // A return of a payment never credited moves nothing.
    let stranger = post(&gateway, &deposit("d5", "pay-9", by_id, "50", "5"));
    assert_eq!(stranger, "ignored");
    assert_eq!(available("DWCR000001"), "0");

    // An unknown accountID, and two fields naming two accounts, are refused.
    let unknown = deposit("d6", "pay-3", r#","accountID":"acct-elsewhere""#, "1", "2");
    assert_eq!(gateway.admin("POST", "/admin/events", &unknown).status, 400);
    let both = deposit(
        "d7",
        "pay-4",
        r#","accountNo":"DWOM000001","accountID":"acct-crypto""#,
        "1",
        "2",
    );
    assert_eq!(gateway.admin("POST", "/admin/events", &both).status, 400);
    assert_eq!(available("DWOM000001"), "300");

    // The return is durable: after a SIGKILL it is neither lost nor made again.
    gateway.kill();
    let gateway = Gateway::start_in(dir, &settings);
    let available = |account: &str| {
        gateway
            .admin("GET", &format!("/admin/omni/{account}"), "")
            .json()["available"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(available("DWCR000001"), "0");
    assert_eq!(available("DWOM000001"), "300");
    let after = post(&gateway, &deposit("d8", "pay-1", by_id, "500", "5"));
    assert_eq!(after, "ignored");
}

/// SPEC §6: an order whose answer was lost is bound by the first DriveWealth event that carries
/// its clientOrderID and account; the listing shows what identifies it until then, also after a
/// restart.
#[test]
fn an_in_doubt_order_is_bound_by_an_event_naming_its_client_order_id() {
    let dir = std::sync::Arc::new(TempDir::new("in-doubt"));
    let settings = config(
        "",
        "[upstream]\ntimeout_ms = 300\npoll_interval_ms = 0\n[simulator]\ntimeout_pct = 100\n\
         [clock]\nadjustable = true\n",
    );
    let gateway = Gateway::start_in(dir.clone(), &settings);
    gateway.fund_omni("10000");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    let sent = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":100,"clientID":"123456789","clientOrderID":"co-77"}"#,
    );
    assert_eq!(sent.error().0, "UPSTREAM_TIMEOUT");
    let listed = |gateway: &Gateway| {
        gateway
            .admin("GET", "/admin/orders?state=in_doubt", "")
            .json()
            .as_array()
            .unwrap()
            .clone()
    };
    let check_listing = |gateway: &Gateway| {
        let in_doubt = listed(gateway);
        assert_eq!(in_doubt.len(), 1, "{in_doubt:?}");
        let order = &in_doubt[0];
        assert_eq!(order["clientOrderID"], "co-77");
        assert_eq!(order["clientID"], "123456789");
        assert_eq!(order["symbol"], "AAPL");
        assert_eq!(order["side"], "BUY");
        assert_eq!(order["quantity"], "2");
        assert_eq!(order["reservedCash"], "200");
        assert!(
            order["createdAt"]
                .as_str()
                .is_some_and(|at| at.starts_with("2026-11-19T16:00")),
            "{order}"
        );
    };
    check_listing(&gateway);
    gateway.kill();
    let gateway = Gateway::start_in(dir, &settings);
    check_listing(&gateway);

    // Another account's clientOrderID, or another id, binds nothing.
    let created = |event_id: &str, account: &str, client_order_id: &str| {
        let payload = format!(
            r#"{{"id":"GB.late","status":"NEW","cumulativeQuantity":0,"clientOrderID":"{client_order_id}","accountNo":"{account}"}}"#
        );
        post(&gateway, &event(event_id, "orders.created", &payload))
    };
    assert_ne!(created("e0", "DWOM000001", "co-78"), "applied");
    assert_eq!(listed(&gateway).len(), 1);
    assert_eq!(created("e1", "DWOM000001", "co-77"), "applied");
    assert!(listed(&gateway).is_empty());
    let open = gateway.admin("GET", "/admin/orders?state=open", "").json();
    assert_eq!(open[0]["orderId"], "GB.late");
    // From now on its updates find it by that id.
    let filled = r#"{"id":"GB.late","status":"FILLED","cumulativeQuantity":2,"averagePrice":99}"#;
    assert_eq!(
        post(&gateway, &event("e2", "orders.completed", filled)),
        "applied"
    );
    let customer = gateway.customer("123456789");
    assert_eq!(customer["reserved"], "0");
    assert_eq!(customer["cash"], "99802");
}

/// SPEC §6: reconciliation reads each account's resting orders at DriveWealth and reports an
/// order only DriveWealth has and one only omnigate holds open.
#[test]
fn reconciliation_reports_what_only_one_side_has() {
    let accounts =
        "[[omnibus.accounts]]\nnumber = \"DWOM000001\"\naccount_id = \"acct-equities\"\n\
                    [upstream]\npoll_interval_ms = 0\nreconcile_interval_ms = 50\n\
                    [clock]\nadjustable = true\n";
    let gateway = Gateway::start(
        &config("", accounts).replace("[omnibus]\naccount_numbers = [\"DWOM000001\"]\n", ""),
    );
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    let funded = gateway.admin(
        "POST",
        "/admin/omni/DWOM000001/cash",
        r#"{"amount":"10000"}"#,
    );
    assert_eq!(funded.status, 200, "{}", funded.text());
    let sim = gateway.simulator.unwrap();
    let json = [("content-type", "application/json")];
    gateway.pause_fills();
    let order = r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":100,"clientID":"123456789"}"#;
    let through_omnigate = || {
        let placed = gateway.post_order(order);
        assert_eq!(placed.status, 200, "{}", placed.text());
        placed.json()["orderId"].as_str().unwrap().to_owned()
    };
    let both = through_omnigate();
    let canceled_behind = through_omnigate();
    // DriveWealth cancels one without omnigate hearing of it (no events, no poller) ...
    let cancel = cancel_at(sim, &canceled_behind);
    assert_eq!(cancel.status, 200, "{}", cancel.text());
    // ... and takes one placed around omnigate.
    let around = send(sim, "POST", "/back-office/orders", &json, order.as_bytes());
    assert_eq!(around.status, 200, "{}", around.text());
    let around = around.json()["orderId"].as_str().unwrap().to_owned();

    let report = wait_for("a reconciliation", Duration::from_secs(10), || {
        let report = gateway.admin("GET", "/admin/reconciliation", "").json();
        (report["mismatches"] == 2).then_some(report)
    });
    let account = &report["accounts"][0];
    assert_eq!(account["accountNo"], "DWOM000001");
    assert_eq!(account["accountID"], "acct-equities");
    assert_eq!(
        account["onlyInOmnigate"],
        serde_json::json!([canceled_behind])
    );
    assert_eq!(account["onlyAtDrivewealth"], serde_json::json!([around]));
    assert_eq!(account["quantitiesDiffer"], serde_json::json!([]));
    assert!(report["ranAt"].as_str().unwrap().starts_with("2026-11-19"));
    assert_ne!(both, canceled_behind);
    let metrics = gateway.admin("GET", "/metrics", "").text();
    assert!(
        metrics.contains("omnigate_reconciliation_mismatches 2"),
        "{metrics}"
    );
}

/// SPEC §6: DriveWealth's ticker changes and `instruments.created` apply to the instrument
/// master, and a ticker change moves the positions and open orders with it, across a restart.
#[test]
fn a_ticker_change_moves_the_instrument_its_positions_and_its_open_orders() {
    let dir = std::sync::Arc::new(TempDir::new("rename"));
    let settings = config(
        "",
        "[upstream]\npoll_interval_ms = 0\n[clock]\nadjustable = true\n",
    );
    let gateway = Gateway::start_in(dir.clone(), &settings);
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    gateway.pause_fills();
    let sell = |symbol: &str| {
        gateway.post_order(&format!(
            r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"SELL","symbol":"{symbol}","quantity":2,"price":200,"clientID":"123456789"}}"#
        ))
    };
    assert_eq!(sell("AAPL").status, 200);

    let aapl = "a67422af-8504-43df-9e63-7361eb0bd99e";
    let renamed = event(
        "r1",
        "instruments.updated",
        &format!(
            r#"{{"instrumentID":"{aapl}","previous":{{"symbol":"AAPL"}},"current":{{"symbol":"APPLX"}}}}"#
        ),
    );
    assert_eq!(post(&gateway, &renamed), "applied");
    let check = |gateway: &Gateway| {
        let customer = gateway.customer("123456789");
        assert_eq!(customer["positions"], serde_json::json!({"APPLX": "10"}));
        assert_eq!(customer["pendingSells"], serde_json::json!({"APPLX": "2"}));
        let open = gateway.admin("GET", "/admin/orders?state=open", "").json();
        assert_eq!(open[0]["symbol"], "APPLX");
        assert_eq!(
            gateway.admin("GET", "/admin/instruments/APPLX", "").status,
            200
        );
        assert_eq!(
            gateway.admin("GET", "/admin/instruments/AAPL", "").status,
            404
        );
    };
    check(&gateway);
    // The new ticker trades, and the shares it holds are still only 10.
    let refused = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"SELL","symbol":"APPLX","quantity":9,"price":200,"clientID":"123456789"}"#,
    );
    assert_eq!(refused.error().0, "INSUFFICIENT_POSITION");
    assert_eq!(sell("APPLX").status, 200);
    assert_ne!(sell("AAPL").status, 200);

    // instruments.created for an instrument in the master applies its status; one not in it
    // is not guessed in.
    let created = |event_id: &str, id: &str| {
        event(
            event_id,
            "instruments.created",
            &format!(
                r#"{{"instrumentID":"{id}","symbol":"APPLX","name":"Apple","status":"HALTED"}}"#
            ),
        )
    };
    assert_eq!(post(&gateway, &created("c1", aapl)), "applied");
    let instrument = gateway.admin("GET", "/admin/instruments/APPLX", "").json();
    assert_eq!(instrument["status"], "HALTED");
    assert_eq!(post(&gateway, &created("c2", "unknown-id")), "ignored");

    gateway.kill();
    let gateway = Gateway::start_in(dir, &settings);
    let customer = gateway.customer("123456789");
    assert_eq!(customer["pendingSells"], serde_json::json!({"APPLX": "4"}));
    assert_eq!(
        gateway.admin("GET", "/admin/instruments/AAPL", "").status,
        404
    );
}
