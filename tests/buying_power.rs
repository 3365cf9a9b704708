//! Buying power through the real binary (SPEC §5, §6): the seed's prefunding walkthrough,
//! fill events in any order, upstream rejects and orders in doubt.

mod common;

use std::time::Duration;

use common::{config, send, wait_for, Gateway};

fn event(id: &str, kind: &str, payload: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"{kind}","timestamp":"2026-11-19T16:41:53.938331938Z","payload":{payload}}}"#
    )
}

fn deposit(event_id: &str, payment_id: &str, amount: &str) -> String {
    event(
        event_id,
        "deposits.updated",
        &format!(
            r#"{{"paymentID":"{payment_id}","category":"DEPOSIT","type":"WIRE","amount":{amount},"currency":"USD","status":2,"statusMessage":"Successful"}}"#
        ),
    )
}

fn buy_btc(amount: &str) -> String {
    format!(
        r#"{{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"BTC","amountCash":{amount},"clientID":"123456789"}}"#
    )
}

#[test]
fn the_seed_prefunding_walkthrough() {
    // seed 003, "fully funded" then "under funded": the omni account starts empty.
    // The simulator prices BTC and AAPL at 100 here (not their reference prices), so that the
    // seed's round numbers come out: $30 is 0.3 BTC.
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\npoll_interval_ms = 20\n\n[simulator]\nprices = { BTC = \"100\", AAPL = \"100\" }\n",
    ));
    assert_eq!(gateway.omni()["available"], "0");

    // T+0 09:00: $100 deposit received from Partner.
    let credited = gateway.admin("POST", "/admin/events", &deposit("event_1", "pay-1", "100"));
    assert_eq!(credited.json()["result"], "applied", "{}", credited.text());
    assert_eq!(gateway.omni()["available"], "100");
    // The same deposit again, as a redelivered event or under a new event id: credited once.
    let again = gateway.admin("POST", "/admin/events", &deposit("event_1", "pay-1", "100"));
    assert_eq!(again.json()["result"], "duplicate");
    let again = gateway.admin(
        "POST",
        "/admin/events",
        &deposit("event_1b", "pay-1", "100"),
    );
    assert_eq!(again.json()["result"], "duplicate");
    // A deposit that has not succeeded moves nothing.
    let pending = deposit("event_p", "pay-p", "500").replace(r#""status":2"#, r#""status":1"#);
    assert_eq!(
        gateway.admin("POST", "/admin/events", &pending).json()["result"],
        "ignored"
    );
    assert_eq!(gateway.omni()["available"], "100");

    // T+0 09:05: customer purchases $30 BTC.
    let bought = gateway.post_order(&buy_btc("30"));
    assert_eq!(bought.status, 200, "{}", bought.text());
    wait_for("the $30 purchase to fill", Duration::from_secs(10), || {
        (gateway.omni()["cash"] == "70" && gateway.omni()["reserved"] == "0").then_some(())
    });
    // The simulator fills BTC at 100: $30 is 0.3 BTC.
    assert_eq!(gateway.customer("123456789")["positions"]["BTC"], "0.3");

    // Under-funded: the customer wants $150 of BTC, the omni account has $70.
    let before = gateway.upstream_requests();
    let refused = gateway.post_order(&buy_btc("150"));
    let (code, message) = refused.error();
    assert_eq!(code, "INSUFFICIENT_OMNI_BUYING_POWER", "{message}");
    assert!(
        message.contains("70.00") && message.contains("150.00"),
        "{message}"
    );
    assert_eq!(
        gateway.upstream_requests(),
        before,
        "a refused order reached the upstream"
    );

    // "When the prefunded amount is depleted, only SELLS will be permitted."
    let sell = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"SELL","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#,
    );
    assert_eq!(sell.status, 200, "{}", sell.text());

    // T+0 09:25: $200 deposit received from Partner; now the $150 purchase goes through.
    gateway.admin("POST", "/admin/events", &deposit("event_2", "pay-2", "200"));
    let bought = gateway.post_order(&buy_btc("150"));
    assert_eq!(bought.status, 200, "{}", bought.text());
    wait_for("every order to fill", Duration::from_secs(10), || {
        let open = gateway.customer("123456789")["openOrders"].clone();
        (open.as_array().is_some_and(Vec::is_empty)).then_some(())
    });
    let omni = gateway.omni();
    // $300 funded, $30 + $150 of BTC bought, the AAPL sale's proceeds (filled at 100) credited
    // on fill.
    assert_eq!(
        (omni["cash"].as_str(), omni["reserved"].as_str()),
        (Some("220"), Some("0")),
        "{omni}"
    );
}

#[test]
fn fill_events_apply_once_in_any_order() {
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\npoll_interval_ms = 0\n[clock]\nadjustable = true\n",
    ));
    gateway.fund_omni("1000");
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    let sim = gateway.simulator.unwrap();
    common::pause_fills_at(sim);

    // SPEC §5.2: a LIMIT BUY of 2 @ 100 reserves 200.
    let placed = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":100,"clientID":"CUST0A19F"}"#,
    );
    assert_eq!(placed.status, 200, "{}", placed.text());
    let order_id = placed.json()["orderId"].as_str().unwrap().to_owned();
    let customer = gateway.customer("CUST0A19F");
    assert_eq!(
        (customer["cash"].as_str(), customer["reserved"].as_str()),
        (Some("1000"), Some("200"))
    );
    assert_eq!(customer["openOrders"][0], order_id.as_str());

    let update = |event_id: &str, kind: &str, status: &str, cumulative: &str, average: &str| {
        let payload = format!(
            r#"{{"id":"{order_id}","orderNo":"X","type":"LIMIT","side":"BUY","status":"{status}","symbol":"AAPL","cumulativeQuantity":{cumulative},"averagePrice":{average},"quantity":2,"fees":0}}"#
        );
        let answer = gateway.admin("POST", "/admin/events", &event(event_id, kind, &payload));
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["result"].as_str().unwrap().to_owned()
    };
    let balances = || {
        let customer = gateway.customer("CUST0A19F");
        let omni = gateway.omni();
        (
            customer["cash"].as_str().unwrap().to_owned(),
            customer["reserved"].as_str().unwrap().to_owned(),
            omni["cash"].as_str().unwrap().to_owned(),
            omni["reserved"].as_str().unwrap().to_owned(),
        )
    };

    // Filled 1 @ 99: cash −99, reserved 100 (the unfilled share at its limit).
    assert_eq!(
        update("e1", "orders.updated", "PARTIAL_FILL", "1", "99"),
        "applied"
    );
    let after_partial = balances();
    assert_eq!(
        after_partial,
        ("901".into(), "100".into(), "901".into(), "100".into())
    );
    // The same event again, and an older one arriving late: nothing changes.
    assert_eq!(
        update("e1", "orders.updated", "PARTIAL_FILL", "1", "99"),
        "duplicate"
    );
    assert_eq!(update("e0", "orders.created", "NEW", "0", "0"), "duplicate");
    assert_eq!(balances(), after_partial);
    // Completed: 2 @ 99.5 in all, the reservation is released.
    assert_eq!(
        update("e2", "orders.completed", "FILLED", "2", "99.5"),
        "applied"
    );
    assert_eq!(
        balances(),
        ("801".into(), "0".into(), "801".into(), "0".into())
    );
    // A stale partial fill after completion changes nothing.
    update("e1-late", "orders.updated", "PARTIAL_FILL", "1", "99");
    assert_eq!(
        balances(),
        ("801".into(), "0".into(), "801".into(), "0".into())
    );
    assert_eq!(gateway.customer("CUST0A19F")["positions"]["AAPL"], "2");
}

#[test]
fn an_upstream_reject_releases_the_reservation() {
    // The simulator refuses accounts whose number starts with REJECT (DriveWealth's A051).
    let gateway = Gateway::start(&config("", "").replace(
        r#"account_numbers = ["DWOM000001"]"#,
        r#"account_numbers = ["DWOM000001", "REJECT0001"]"#,
    ));
    gateway.fund_omni("1000000");
    let refused = gateway.post_order(
        r#"{"accountNo":"REJECT0001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":3,"clientID":"123456789"}"#,
    );
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(
        refused.error().0,
        "A051",
        "DriveWealth's own answer is relayed"
    );
    let customer = gateway.customer("123456789");
    assert_eq!(customer["reserved"], "0");
    assert_eq!(customer["openOrders"].as_array().map(Vec::len), Some(0));
    assert_eq!(gateway.omni()["reserved"], "0");
}

#[test]
fn an_order_without_an_answer_is_held_in_doubt_until_resolved() {
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\ntimeout_ms = 300\n[simulator]\ntimeout_pct = 100\n",
    ));
    // The bound order must stay open for the reservation to be read: no fill may race it.
    gateway.pause_fills();
    gateway.fund_omni("1000000");
    let order = r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":5,"price":100,"clientID":"123456789"}"#;
    for _ in 0..2 {
        let response = gateway.post_order(order);
        assert_eq!(response.status, 504, "{}", response.text());
        assert_eq!(response.error().0, "UPSTREAM_TIMEOUT");
    }
    let in_doubt = gateway
        .admin("GET", "/admin/orders?state=in_doubt", "")
        .json();
    let in_doubt = in_doubt.as_array().unwrap().clone();
    assert_eq!(in_doubt.len(), 2);
    assert_eq!(gateway.customer("123456789")["reserved"], "1000");
    assert_eq!(gateway.omni()["reserved"], "1000");

    // The first never reached DriveWealth: release it. The second did: bind it, to an id
    // DriveWealth knows (here, an order placed at the simulator directly, its faults off).
    let sim = gateway.simulator.unwrap();
    let json = [("content-type", "application/json")];
    let faults_off = send(sim, "PUT", "/sim/faults", &json, br#"{"timeout_pct":0}"#);
    assert_eq!(faults_off.status, 200, "{}", faults_off.text());
    let placed = send(sim, "POST", "/back-office/orders", &json, order.as_bytes());
    assert_eq!(placed.status, 200, "{}", placed.text());
    let known_id = placed.json()["orderId"].as_str().unwrap().to_owned();
    let first = in_doubt[0]["localId"].as_str().unwrap();
    let second = in_doubt[1]["localId"].as_str().unwrap();
    // An id DriveWealth does not know is refused, and nothing changes.
    let unknown = gateway.admin(
        "POST",
        &format!("/admin/orders/{second}/resolve"),
        r#"{"outcome":"placed","orderId":"GB.nowhere"}"#,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(gateway.customer("123456789")["reserved"], "1000");
    let released = gateway.admin(
        "POST",
        &format!("/admin/orders/{first}/resolve"),
        r#"{"outcome":"not_placed"}"#,
    );
    assert_eq!(released.status, 200, "{}", released.text());
    let bound = gateway.admin(
        "POST",
        &format!("/admin/orders/{second}/resolve"),
        &format!(r#"{{"outcome":"placed","orderId":"{known_id}"}}"#),
    );
    assert_eq!(bound.status, 200, "{}", bound.text());
    assert_eq!(gateway.customer("123456789")["reserved"], "500");
    assert_eq!(
        gateway
            .admin("GET", "/admin/orders?state=in_doubt", "")
            .json(),
        serde_json::json!([])
    );
    let open = gateway.admin("GET", "/admin/orders?state=open", "").json();
    assert_eq!(open[0]["orderId"], known_id.as_str());
    // Resolving again is refused: it is no longer in doubt.
    let again = gateway.admin(
        "POST",
        &format!("/admin/orders/{second}/resolve"),
        r#"{"outcome":"not_placed"}"#,
    );
    assert_eq!(again.status, 400);
}

#[test]
fn customers_and_the_omni_account_through_the_admin_api() {
    let gateway = Gateway::start(&config("", ""));
    let put = |client_id: &str, body: &str| {
        gateway.admin("PUT", &format!("/admin/customers/{client_id}"), body)
    };
    assert_eq!(
        put(
            "CUST9",
            r#"{"customerId":"c-9","cash":"50.25","positions":{"AAPL":"0.5"}}"#
        )
        .status,
        200
    );
    // One clientID per customerId, and the same format rules as orders.
    assert_eq!(
        put("CUST10", r#"{"customerId":"c-9","cash":"1"}"#).status,
        409
    );
    assert_eq!(
        put("CUST9", r#"{"customerId":"c-10","cash":"1"}"#).status,
        409
    );
    assert_eq!(
        put("20260604", r#"{"customerId":"c-11","cash":"1"}"#).status,
        400
    );
    assert_eq!(
        put("CUST12", r#"{"customerId":"c-12","cash":"abc"}"#).status,
        400
    );
    let cash = |amount: &str| {
        gateway.admin(
            "POST",
            "/admin/customers/CUST9/cash",
            &format!(r#"{{"amount":"{amount}","reason":"test"}}"#),
        )
    };
    assert_eq!(
        cash("-50.26").status,
        422,
        "a withdrawal beyond available is refused"
    );
    let view = cash("-50.25").json();
    assert_eq!(view["available"], "0");
    let rekeyed = gateway.admin(
        "POST",
        "/admin/customers/CUST9/rekey",
        r#"{"newClientID":"CUST9B"}"#,
    );
    assert_eq!(rekeyed.status, 200, "{}", rekeyed.text());
    assert_eq!(rekeyed.json()["customerId"], "c-9");
    assert_eq!(
        gateway.admin("GET", "/admin/customers/CUST9", "").status,
        404
    );
    assert_eq!(
        gateway
            .admin("POST", "/admin/omni/cash", r#"{"amount":"12.5"}"#)
            .json()["available"],
        "12.5"
    );
    let prices = gateway.admin(
        "POST",
        "/admin/prices",
        r#"[{"symbol":"AAPL","price":"191.25"}]"#,
    );
    assert_eq!(prices.status, 200);
    assert_eq!(
        gateway.admin("GET", "/admin/instruments/AAPL", "").json()["price"],
        "191.25"
    );
    assert_eq!(
        gateway
            .admin(
                "POST",
                "/admin/prices",
                r#"[{"symbol":"NOPE","price":"1"}]"#
            )
            .status,
        404
    );
}

#[test]
fn buying_power_and_position_rejections_name_both_numbers() {
    let gateway = Gateway::start(&config("", "[fees]\nper_order = \"0.50\"\n"));
    // The order that fits is read back while open.
    gateway.pause_fills();
    gateway.fund_omni("1000000");
    // A new instrument without a reference price.
    let put = gateway.admin(
        "PUT",
        "/admin/instruments/NEWCO",
        r#"{"instrumentID":"n-1","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":true}"#,
    );
    assert_eq!(put.status, 200, "{}", put.text());
    let before = gateway.upstream_requests();
    let cases = [
        // CUST0A19F has 1000.00: 10 × 100 + 0.50 fee is 1000.50.
        (
            r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":10,"price":100,"clientID":"CUST0A19F"}"#,
            "INSUFFICIENT_BUYING_POWER",
            "buying power 1000.00 is less than the 1000.50 this order needs",
        ),
        // 123456789 holds 10 AAPL.
        (
            r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"SELL","symbol":"AAPL","quantity":10.5,"clientID":"123456789"}"#,
            "INSUFFICIENT_POSITION",
            "10",
        ),
        (
            r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"NEWCO","quantity":1,"clientID":"123456789"}"#,
            "NO_REFERENCE_PRICE",
            "NEWCO",
        ),
    ];
    for (body, code, needle) in cases {
        let (got, message) = gateway.post_order(body).error();
        assert_eq!(got, code, "{message}");
        assert!(message.contains(needle), "{code}: {message}");
    }
    assert_eq!(gateway.upstream_requests(), before);
    // Just enough is enough: 9 × 100 + 0.50.
    let fits = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":9,"price":100,"clientID":"CUST0A19F"}"#,
    );
    assert_eq!(fits.status, 200, "{}", fits.text());
    assert_eq!(gateway.customer("CUST0A19F")["reserved"], "900.5");
}
