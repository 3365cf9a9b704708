//! The order front through the real binary: what reaches the upstream, and what never does.

mod common;

use std::time::Duration;

use common::{cancel_at, config, dead_port, send, send_raw, wait_for, Gateway, SilentUpstream};

const ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;

fn gateway() -> Gateway {
    let gateway = Gateway::start(&config("", ""));
    gateway.fund_omni("1000000");
    gateway
}

#[test]
fn an_order_is_forwarded_byte_for_byte_with_its_headers() {
    let gateway = gateway();
    // Odd spacing, key order, an exact decimal, and fields omnigate does not read: all must
    // arrive exactly as sent.
    let body = "{ \"side\":\"BUY\" ,\"accountNo\":\"DWOM000001\",\"orderType\":\"MARKET\",\n\
                \"symbol\":\"AAPL\",\"quantity\":5.12580012,\"clientID\":\"123456789\",\
                \"metadata\":{\"k\":[1,2.50,\"\\u00e9\"]},\"commission\":1.0}";
    let response = send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer router-token"),
            ("dw-client-app-key", "app-key-1"),
            ("x-request-tag", "abc"),
            ("connection", "close, x-hop-only"),
            ("x-hop-only", "must not pass"),
            ("keep-alive", "timeout=5"),
        ],
        body.as_bytes(),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("x-omnigate-decision"), Some("accepted"));
    let answer = response.json();
    let order_id = answer["orderId"].as_str().expect("orderId").to_owned();
    assert!(answer["orderNo"].is_string());

    let orders = gateway.upstream_orders();
    assert_eq!(orders.len(), 1);
    let received = &orders[0];
    assert_eq!(received["requestBody"].as_str(), Some(body));
    let headers = &received["requestHeaders"];
    assert_eq!(headers["authorization"], "Bearer router-token");
    assert_eq!(headers["dw-client-app-key"], "app-key-1");
    assert_eq!(headers["x-request-tag"], "abc");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("x-hop-only").is_none(), "{headers}");
    assert!(headers.get("keep-alive").is_none(), "{headers}");
    assert_eq!(headers["host"], gateway.simulator.unwrap().to_string());

    // The status of that order comes back through the transparent proxy.
    let status = send(
        gateway.order,
        "GET",
        &format!("/back-office/orders/{order_id}"),
        &[("authorization", "Bearer router-token")],
        b"",
    );
    assert_eq!(status.status, 200, "{}", status.text());
    assert_eq!(status.json()["id"].as_str(), Some(order_id.as_str()));
    assert_eq!(status.json()["quantity"].to_string(), "5.12580012");
}

#[test]
fn bad_bodies_get_a_clear_4xx_and_never_reach_the_upstream() {
    let gateway = Gateway::start(&config("max_body_bytes = 1024", ""));
    gateway.fund_omni("1000000");
    let before = gateway.upstream_requests();
    let json = [("content-type", "application/json")];
    // (what, headers, body, status, a phrase the message must contain)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json.to_vec(),
            b"{\"accountNo\":".to_vec(),
            400,
            "not valid JSON",
        ),
        ("empty body", json.to_vec(), Vec::new(), 400, "empty"),
        (
            "oversized body",
            json.to_vec(),
            vec![b' '; 4096],
            413,
            "1024 bytes",
        ),
        (
            "wrong content type",
            vec![("content-type", "text/plain")],
            ORDER.as_bytes().to_vec(),
            400,
            "not application/json",
        ),
        (
            "no content type",
            Vec::new(),
            ORDER.as_bytes().to_vec(),
            400,
            "content-type",
        ),
        (
            "more than 8 decimals",
            json.to_vec(),
            ORDER
                .replace("\"quantity\":1", "\"quantity\":0.123456789")
                .into_bytes(),
            400,
            "more than 8 decimal places",
        ),
        (
            "both sizes",
            json.to_vec(),
            ORDER
                .replace("\"quantity\":1", "\"quantity\":1,\"amountCash\":5")
                .into_bytes(),
            400,
            "both quantity and amountCash",
        ),
        (
            "unknown order type",
            json.to_vec(),
            ORDER.replace("MARKET", "TRAILING").into_bytes(),
            400,
            "orderType",
        ),
    ];
    for (what, headers, body, status, needle) in cases {
        let response = send(
            gateway.order,
            "POST",
            "/back-office/orders",
            &headers,
            &body,
        );
        assert_eq!(response.status, status, "{what}: {}", response.text());
        let (code, message) = response.error();
        assert_eq!(code, "INVALID_ORDER", "{what}");
        assert!(message.contains(needle), "{what}: {message}");
        assert_eq!(
            response.header("x-omnigate-decision"),
            Some("rejected"),
            "{what}"
        );
    }
    // A body larger than its content-length promised, streamed without a length at all.
    let chunked = format!(
        "POST /back-office/orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n800\r\n{}\r\n0\r\n\r\n",
        " ".repeat(0x800)
    );
    let response = send_raw(gateway.order, chunked.as_bytes());
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(
        gateway.upstream_requests(),
        before,
        "a rejected order reached the upstream"
    );
}

#[test]
fn oversized_heads_are_refused() {
    let gateway = gateway();
    let mut headers = Vec::new();
    for index in 0..100 {
        headers.push((format!("x-h{index}"), "v".to_owned()));
    }
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = send(
        gateway.order,
        "GET",
        "/back-office/orders/x",
        &borrowed,
        b"",
    );
    assert_eq!(response.status, 431);
    let huge = "v".repeat(20_000);
    let response = send(
        gateway.order,
        "GET",
        "/back-office/orders/x",
        &[("x-big", &huge)],
        b"",
    );
    assert_eq!(response.status, 431);
}

#[test]
fn a_dead_upstream_is_502_and_a_silent_one_504() {
    let dead = dead_port();
    let gateway = Gateway::start(&config(
        "",
        &format!("[upstream]\nurl = \"http://{dead}\"\n"),
    ));
    gateway.fund_omni("1000000");
    let response = gateway.post_order(ORDER);
    assert_eq!(response.status, 502, "{}", response.text());
    assert_eq!(response.error().0, "UPSTREAM_UNAVAILABLE");
    // Nothing was sent, so nothing stays reserved.
    assert_eq!(gateway.customer("123456789")["reserved"], "0");
    assert_eq!(gateway.omni()["reserved"], "0");
    let response = send(
        gateway.order,
        "GET",
        "/back-office/accounts/x/summary",
        &[],
        b"",
    );
    assert_eq!(response.status, 502);

    let silent = SilentUpstream::start();
    let gateway = Gateway::start(&config(
        "",
        &format!(
            "[upstream]\nurl = \"http://{}\"\ntimeout_ms = 300\n",
            silent.addr
        ),
    ));
    gateway.fund_omni("1000000");
    let response = gateway.post_order(ORDER);
    assert_eq!(response.status, 504, "{}", response.text());
    let (code, message) = response.error();
    assert_eq!(code, "UPSTREAM_TIMEOUT");
    assert!(message.contains("300 ms"), "{message}");
    // Sent without an answer: the reservation stays, in doubt.
    let in_doubt = gateway
        .admin("GET", "/admin/orders?state=in_doubt", "")
        .json();
    assert_eq!(in_doubt.as_array().map(Vec::len), Some(1), "{in_doubt}");
    assert_ne!(gateway.customer("123456789")["reserved"], "0");
    assert!(silent.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[test]
fn simulator_faults_reach_the_router_as_gateway_errors() {
    let gateway = Gateway::start(&config(
        "",
        "[upstream]\ntimeout_ms = 400\n[simulator]\nreset_pct = 100\n",
    ));
    gateway.fund_omni("1000000");
    let response = gateway.post_order(ORDER);
    assert_eq!(
        response.status,
        504,
        "a reset after sending is in doubt: {}",
        response.text()
    );
    assert_eq!(response.error().0, "UPSTREAM_TIMEOUT");

    let gateway = Gateway::start(&config("", "[simulator]\nerror_pct = 100\n"));
    gateway.fund_omni("1000000");
    let response = gateway.post_order(ORDER);
    assert_eq!(response.status, 503, "the upstream's own answer is relayed");
}

#[test]
fn other_paths_are_proxied_unchanged() {
    let gateway = gateway();
    let response = send(
        gateway.order,
        "GET",
        "/back-office/instruments/AAPL?x=1",
        &[],
        b"",
    );
    // The simulator does not serve instruments: its own 404 comes back, untouched.
    assert_eq!(response.status, 404);
    assert!(response.header("x-omnigate-decision").is_none());
    let cancel = cancel_at(gateway.order, "nope");
    assert_eq!(cancel.status, 404, "{}", cancel.text());
    let count = wait_for("requests to be counted", Duration::from_secs(5), || {
        let count = gateway.upstream_requests();
        (count >= 2).then_some(count)
    });
    assert_eq!(count, 2);
}

/// Every answer carries a request id: DriveWealth's `dw-request-id` when it is relayed, and
/// omnigate's own `x-omnigate-request-id` on the answers omnigate makes itself.
#[test]
fn answers_carry_a_request_id_of_their_own_or_drivewealths() {
    let gateway = gateway();
    gateway.fund_omni("100000");
    let accepted = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#,
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert!(accepted.header("dw-request-id").is_some());
    assert_eq!(accepted.header("x-omnigate-request-id"), None);

    let ids: Vec<String> = (0..2)
        .map(|_| {
            let rejected = gateway.post_order(
                r#"{"accountNo":"ELSEWHERE","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#,
            );
            assert_eq!(rejected.error().0, "ACCOUNT_NOT_ALLOWED");
            assert_eq!(rejected.header("dw-request-id"), None);
            rejected.header("x-omnigate-request-id").unwrap().to_owned()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    let admin = gateway.admin("GET", "/admin/health", "");
    assert!(admin.header("x-omnigate-request-id").is_some());
}
