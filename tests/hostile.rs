//! Hostile input through the real binary (SPEC §3.0, §3.1): every way around the gate a client
//! might try — path variants of the order and cancel endpoints, other methods, two instrument
//! identifiers, malformed decimals, deep nesting, unknown routers, request smuggling, header
//! floods and slow clients. Each case asserts the status and `errorCode`, that nothing reached
//! the upstream, and that no customer or omni balance moved.

mod common;

use std::time::Duration;

use common::{config, try_send_raw, Gateway};
use serde_json::Value;

/// CUST0A19F has 1,000.00; ten AAPL at 190 is beyond it. Decided, this order is refused for
/// buying power; forwarded undecided, the simulator would fill it.
const OVER_BUDGET: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":10,"clientID":"CUST0A19F"}"#;
/// An order the gateway accepts and forwards.
const GOOD: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;
const CANCEL: &str = r#"{"method":"CANCEL"}"#;
const SPY_ID: &str = "c9a5f4f2-8a3d-4f57-8e1f-2e5b0c6d7a22";
const AAPL_ID: &str = "a67422af-8504-43df-9e63-7361eb0bd99e";

/// How a case is sent.
enum Send {
    Raw(Vec<u8>),
    /// The first `split` bytes, a pause, then the rest.
    Slow(Vec<u8>, usize, Duration),
}

struct Case {
    name: String,
    send: Send,
    /// 0: the server closes the connection without an answer.
    status: u16,
    /// `None`: refused by the HTTP layer itself, before omnigate reads the request (no body).
    code: Option<&'static str>,
    forwarded: bool,
}

fn request(method: &str, path: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn case(name: impl Into<String>, raw: Vec<u8>, status: u16, code: Option<&'static str>) -> Case {
    Case {
        name: name.into(),
        send: Send::Raw(raw),
        status,
        code,
        forwarded: false,
    }
}

/// An order body with `field` set to the raw JSON `value` (replacing any such field).
fn order_with(field: &str, value: &str) -> String {
    let mut order: serde_json::Map<String, Value> = serde_json::from_str(OVER_BUDGET).unwrap();
    order.remove(field);
    let body = serde_json::to_string(&order).unwrap();
    format!("{},\"{field}\":{value}}}", &body[..body.len() - 1])
}

fn nested(depth: usize) -> String {
    // The order object is depth 1; `extra` adds `depth - 1` arrays.
    let extra = format!("{}{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
    order_with("extra", &extra)
}

fn balances(gateway: &Gateway) -> (Value, Value, Value) {
    let strip = |mut customer: Value| {
        customer
            .as_object_mut()
            .map(|object| object.remove("openOrders"));
        customer
    };
    (
        strip(gateway.customer("CUST0A19F")),
        strip(gateway.customer("123456789")),
        gateway.omni(),
    )
}

fn run(gateway: &Gateway, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let before = (gateway.upstream_requests(), balances(gateway));
        let answer = match &case.send {
            Send::Raw(raw) => try_send_raw(gateway.order, raw, None),
            Send::Slow(raw, split, pause) => {
                try_send_raw(gateway.order, raw, Some((*split, *pause)))
            }
        };
        let after_requests = gateway.upstream_requests();
        let mut problems = Vec::new();
        match &answer {
            None if case.status == 0 => {}
            None => problems.push("no HTTP answer".to_owned()),
            Some(answer) => {
                if answer.status != case.status {
                    problems.push(format!("status {} (wanted {})", answer.status, case.status));
                }
                let code = serde_json::from_slice::<Value>(&answer.body)
                    .ok()
                    .and_then(|body| body["errorCode"].as_str().map(str::to_owned));
                if code.as_deref() != case.code {
                    problems.push(format!("errorCode {code:?} (wanted {:?})", case.code));
                }
            }
        }
        let forwarded = after_requests - before.0;
        if forwarded != u64::from(case.forwarded) {
            problems.push(format!("{forwarded} request(s) reached the upstream"));
        }
        if !case.forwarded && balances(gateway) != before.1 {
            problems.push("a balance changed".to_owned());
        }
        if !problems.is_empty() {
            let body = answer.map(|answer| answer.text()).unwrap_or_default();
            failures.push(format!("{}: {} — {body}", case.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn path_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // The order endpoint, as many stacks would read it.
    for path in [
        "//back-office/orders",
        "/back-office//orders",
        "/back-office/orders/",
        "/back-office/./orders",
        "/./back-office/orders",
        "/back-office/orders/.",
        "/back-office/x/../orders",
        "/back-office/%6Frders",
        "/back-office/%6frders",
        "/%62ack-office/orders",
        "/back-office%2Forders",
        "/back-office%2forders",
        "/back-office%5Corders",
        "/back-office%252Forders",
        "/back-office\\orders",
        "/back-office/orders;x=1",
        "/back-office;v=1/orders",
        "/back-office/orders%3Bx=1",
        "/back-office/orders%3F",
        "/back-office/orders%23",
        "/back-office/orders%2E",
        "/back-office/orders%00",
        "/back-office/orders%",
        "/BACK-OFFICE/ORDERS",
        "/Back-Office/Orders",
        "/back-office/Orders",
        "*",
    ] {
        cases.push(case(
            format!("POST {path}"),
            request("POST", path, "", OVER_BUDGET),
            400,
            Some("INVALID_REQUEST"),
        ));
    }
    // Other methods on the order endpoint, and methods no path takes.
    for method in [
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "post", "Post", "TRACE", "CONNECT",
    ] {
        cases.push(case(
            format!("{method} /back-office/orders"),
            request(method, "/back-office/orders", "", OVER_BUDGET),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ));
    }
    for (method, path) in [
        ("TRACE", "/"),
        ("TRACE", "/back-office/accounts/a1"),
        ("CONNECT", "/back-office/accounts/a1"),
    ] {
        cases.push(case(
            format!("{method} {path}"),
            request(method, path, "", ""),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ));
    }
    // A cancel must not skip its cut-off by a path variant.
    for path in [
        "/back-office/orders/GB.1/",
        "//back-office/orders/GB.1",
        "/back-office/orders//GB.1",
        "/back-office/orders/./GB.1",
        "/back-office/orders/x/../GB.1",
        "/back-office/orders/GB.1;x=1",
        "/BACK-OFFICE/ORDERS/GB.1",
        "/back-office/ORDERS/GB.1",
        "/back-office/orders/%47B.1",
        "/back-office/orders%2FGB.1",
        "/back-office/orders/GB.1/cancel",
    ] {
        cases.push(case(
            format!("PATCH {path}"),
            request("PATCH", path, "", CANCEL),
            400,
            Some("INVALID_REQUEST"),
        ));
    }
    for method in ["POST", "PUT", "DELETE", "patch", "get"] {
        cases.push(case(
            format!("{method} /back-office/orders/GB.1"),
            request(method, "/back-office/orders/GB.1", "", CANCEL),
            405,
            Some("METHOD_NOT_ALLOWED"),
        ));
    }
    for (method, path, status, code) in [
        (
            "PATCH",
            "/back-office/orders/byOrderNo/GBXX1",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "POST",
            "/back-office/orders/byOrderNo/GBXX1",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "GET",
            "/back-office/orders/BYORDERNO/GBXX1",
            400,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "/back-office/orders/byOrderNo",
            400,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "/back-office/orders/byOrderNo/GBXX1/",
            400,
            "INVALID_REQUEST",
        ),
    ] {
        cases.push(case(
            format!("{method} {path}"),
            request(method, path, "", CANCEL),
            status,
            Some(code),
        ));
    }
    cases
}

fn body_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let post = |name: String, body: String, status: u16, code: &'static str| {
        case(
            name,
            request("POST", "/back-office/orders", "", &body),
            status,
            Some(code),
        )
    };
    // One instrument.
    for (name, body, status, code) in [
        (
            "symbol AAPL with SPY's instrumentID",
            order_with("instrumentID", &format!("\"{SPY_ID}\"")),
            400,
            "INVALID_ORDER",
        ),
        (
            "symbol AAPL with SPY's ISIN",
            order_with("ISIN", "\"US78462F1030\""),
            400,
            "INVALID_ORDER",
        ),
        (
            "AAPL's instrumentID with SPY's ISIN",
            order_with("ISIN", "\"US78462F1030\"").replace(
                "\"symbol\":\"AAPL\"",
                &format!("\"instrumentID\":\"{AAPL_ID}\""),
            ),
            400,
            "INVALID_ORDER",
        ),
        (
            "symbol AAPL with an unknown instrumentID",
            order_with("instrumentID", "\"0000\""),
            422,
            "INSTRUMENT_UNKNOWN",
        ),
        (
            "symbol AAPL with an unknown ISIN",
            order_with("ISIN", "\"US0000000000\""),
            422,
            "INSTRUMENT_UNKNOWN",
        ),
        (
            "symbol twice",
            order_with("quantity", "10,\"symbol\":\"SPY\""),
            400,
            "INVALID_ORDER",
        ),
        (
            "blank symbol beside an instrumentID",
            order_with("symbol", &format!("\"\",\"instrumentID\":\"{AAPL_ID}\"")),
            400,
            "INVALID_ORDER",
        ),
        (
            "symbol a number",
            order_with("symbol", "5"),
            400,
            "INVALID_ORDER",
        ),
        (
            // serde would read the 14 fields in order: one body, two readings.
            "the order as an array",
            r#"["DWOM000001","MARKET","BUY","AAPL",null,null,1,null,null,null,null,"123456789",null,null]"#
                .to_owned(),
            400,
            "INVALID_ORDER",
        ),
    ] {
        cases.push(post(name.to_owned(), body, status, code));
    }
    // Strict numbers: only -?[0-9]+(\.[0-9]+)? in a string, JSON's grammar bare.
    for value in [
        r#""1_0""#,
        r#"" 10""#,
        r#""10 ""#,
        r#""+10""#,
        r#""1e1""#,
        r#"".5""#,
        r#""5.""#,
        r#""0x10""#,
        r#""1,5""#,
        r#""NaN""#,
        r#""Infinity""#,
        r#""1.2.3""#,
        r#""--1""#,
        r#""\u0031\u0030""#,
        r#""""#,
        r#""1.000000001""#,
        r#""-1""#,
        r#""0""#,
        "1e400",
        "01",
        "1.0000000001",
        "-10",
        "true",
        "[10]",
        r#"{"v":10}"#,
    ] {
        cases.push(post(
            format!("quantity {value}"),
            order_with("quantity", value),
            400,
            "INVALID_ORDER",
        ));
    }
    let limit = OVER_BUDGET.replace("MARKET", "LIMIT");
    cases.push(post(
        "price \"1_90\"".to_owned(),
        format!("{},\"price\":\"1_90\"}}", &limit[..limit.len() - 1]),
        400,
        "INVALID_ORDER",
    ));
    cases.push(post(
        "amountCash \"1 0\"".to_owned(),
        order_with("quantity", "null,\"amountCash\":\"1 0\"").replace("\"quantity\":10,", ""),
        400,
        "INVALID_ORDER",
    ));
    // Nesting over the whole body: at the limit the order is decided (and refused for buying
    // power), past it the body is refused.
    cases.push(post(
        "nested 32 deep".to_owned(),
        nested(32),
        422,
        "INSUFFICIENT_BUYING_POWER",
    ));
    cases.push(post(
        "nested 33 deep".to_owned(),
        nested(33),
        400,
        "INVALID_ORDER",
    ));
    cases.push(post(
        "nested 30,000 deep".to_owned(),
        order_with("extra", &"[".repeat(30_000)),
        400,
        "INVALID_ORDER",
    ));
    let deep_cancel = format!(
        r#"{{"method":"CANCEL","x":{}{}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    cases.push(case(
        "a cancel nested 41 deep",
        request("PATCH", "/back-office/orders/GB.1", "", &deep_cancel),
        400,
        Some("INVALID_ORDER"),
    ));
    cases.push(case(
        "no content-type",
        format!("POST /back-office/orders HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{OVER_BUDGET}", OVER_BUDGET.len()).into_bytes(),
        400,
        Some("INVALID_ORDER"),
    ));
    cases.push(case(
        "a body over max_body_bytes",
        request(
            "POST",
            "/back-office/orders",
            "",
            &order_with("extra", &format!("\"{}\"", "x".repeat(70_000))),
        ),
        413,
        Some("INVALID_ORDER"),
    ));
    cases
}

fn transport_cases() -> Vec<Case> {
    let chunked_order = format!("{:x}\r\n{OVER_BUDGET}\r\n0\r\n\r\n", OVER_BUDGET.len());
    let mut cases = vec![
        // hyper frames a body by transfer-encoding when both are sent and drops the
        // content-length (RFC 9112 §6.3), and omnigate re-frames what it forwards: what is
        // decided is exactly what would be sent. (`a_smuggled_request_is_decided_too` below.)
        case(
            "content-length and transfer-encoding: the chunked body is decided",
            format!("POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{chunked_order}").into_bytes(),
            422,
            Some("INSUFFICIENT_BUYING_POWER"),
        ),
        case(
            "two equal content-lengths: one body, decided",
            request("POST", "/back-office/orders", &format!("content-length: {}\r\n", OVER_BUDGET.len()), OVER_BUDGET),
            422,
            Some("INSUFFICIENT_BUYING_POWER"),
        ),
        case(
            "two different content-lengths",
            request("POST", "/back-office/orders", "content-length: 3\r\n", OVER_BUDGET),
            400,
            None,
        ),
        case(
            "transfer-encoding gzip, chunked",
            format!("POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n{chunked_order}").into_bytes(),
            400,
            Some("INVALID_REQUEST"),
        ),
        case(
            "transfer-encoding xchunked",
            format!("POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ntransfer-encoding: xchunked\r\nconnection: close\r\n\r\n{chunked_order}").into_bytes(),
            400,
            None,
        ),
        case(
            "a chunked order (allowed framing) is decided",
            format!("POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{chunked_order}").into_bytes(),
            422,
            Some("INSUFFICIENT_BUYING_POWER"),
        ),
        case(
            "100 headers",
            request("POST", "/back-office/orders", &(0..100).map(|n| format!("x-flood-{n}: 1\r\n")).collect::<String>(), OVER_BUDGET),
            431,
            None,
        ),
        case(
            "a 20 kB header",
            request("POST", "/back-office/orders", &format!("x-big: {}\r\n", "a".repeat(20_000)), OVER_BUDGET),
            431,
            None,
        ),
    ];
    // A body that stops half way: refused once server.body_read_timeout_ms has passed.
    let raw = request("POST", "/back-office/orders", "", OVER_BUDGET);
    let half_body = raw.len() - OVER_BUDGET.len() / 2;
    cases.push(Case {
        name: "a body that stalls".to_owned(),
        send: Send::Slow(raw, half_body, Duration::from_millis(1500)),
        status: 408,
        code: Some("INVALID_ORDER"),
        forwarded: false,
    });
    // A head that stalls: hyper closes the connection at header_read_timeout_ms.
    let raw = request("POST", "/back-office/orders", "", OVER_BUDGET);
    cases.push(Case {
        name: "a head that stalls".to_owned(),
        send: Send::Slow(raw, 20, Duration::from_millis(1500)),
        status: 0,
        code: None,
        forwarded: false,
    });
    cases
}

const LIMITS: &str = "header_read_timeout_ms = 500\nbody_read_timeout_ms = 500";
/// No poller: its status requests would count as upstream traffic, and the fills they learn
/// would move balances between a case's before and after.
const NO_POLLER: &str = "[upstream]\npoll_interval_ms = 0";

#[test]
fn no_hostile_request_reaches_the_upstream_or_moves_money() {
    let gateway = Gateway::start(&config(LIMITS, NO_POLLER));
    gateway.fund_omni("1000000");
    // The control: a good order is forwarded, and the harness sees it.
    let mut cases = vec![Case {
        name: "a good order".to_owned(),
        send: Send::Raw(request("POST", "/back-office/orders", "", GOOD)),
        status: 200,
        code: None,
        forwarded: true,
    }];
    cases.extend(path_cases());
    cases.extend(body_cases());
    cases.extend(transport_cases());
    assert!(cases.len() >= 80, "{} cases", cases.len());
    run(&gateway, cases);
}

#[test]
fn only_known_routers_get_through() {
    // router-b is configured by its SHA-256 only.
    let hashed = "sha256:43c92f8a5c5d2a9f0bbd0e44d1f03ae8ba6a3ccb7bd8c9d88e2b1e8cf1f4b8d7";
    let keys = format!(
        "router_app_keys = [\"router-a-0123456789\", \"{}\"]",
        sha256_entry("router-b-0123456789")
    );
    let gateway = Gateway::start(&config(&keys, NO_POLLER));
    gateway.fund_omni("1000000");
    let with_key = |key: &str| format!("dw-client-app-key: {key}\r\n");
    let cases = vec![
        case(
            "no app key",
            request("POST", "/back-office/orders", "", OVER_BUDGET),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "a wrong app key",
            request(
                "POST",
                "/back-office/orders",
                &with_key("router-c"),
                OVER_BUDGET,
            ),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "the literal key is decided",
            request(
                "POST",
                "/back-office/orders",
                &with_key("router-a-0123456789"),
                OVER_BUDGET,
            ),
            422,
            Some("INSUFFICIENT_BUYING_POWER"),
        ),
        case(
            "the hashed key is decided",
            request(
                "POST",
                "/back-office/orders",
                &with_key("router-b-0123456789"),
                OVER_BUDGET,
            ),
            422,
            Some("INSUFFICIENT_BUYING_POWER"),
        ),
        case(
            "the hash's text is not a key",
            request(
                "POST",
                "/back-office/orders",
                &with_key(hashed),
                OVER_BUDGET,
            ),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "two app keys",
            request(
                "POST",
                "/back-office/orders",
                &format!(
                    "{}{}",
                    with_key("router-a-0123456789"),
                    with_key("router-c")
                ),
                OVER_BUDGET,
            ),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "a proxied path without a key",
            request("GET", "/back-office/accounts/a1", "", ""),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "a cancel without a key",
            request("PATCH", "/back-office/orders/GB.1", "", CANCEL),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "a non-canonical path without a key",
            request("POST", "//back-office/orders", "", OVER_BUDGET),
            401,
            Some("UNAUTHORIZED"),
        ),
        case(
            "a non-canonical path with a key",
            request(
                "POST",
                "//back-office/orders",
                &with_key("router-a-0123456789"),
                OVER_BUDGET,
            ),
            400,
            Some("INVALID_REQUEST"),
        ),
    ];
    run(&gateway, cases);
}

fn sha256_entry(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    )
}

/// A request hidden in a body framed two ways goes nowhere: the body is read by its
/// transfer-encoding, and the connection is closed after the answer, so the bytes a reader that
/// trusted content-length would have taken for a second request are never read at all.
#[test]
fn a_smuggled_request_goes_nowhere() {
    let gateway = Gateway::start(&config("", NO_POLLER));
    let smuggled = format!(
        "POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{GOOD}",
        GOOD.len()
    );
    let first_body = format!("{:x}\r\n{OVER_BUDGET}\r\n0\r\n\r\n", OVER_BUDGET.len());
    let raw = format!(
        "POST /back-office/orders HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\ntransfer-encoding: chunked\r\n\r\n{first_body}{smuggled}",
        first_body.len() + smuggled.len()
    );
    let before = (gateway.upstream_requests(), balances(&gateway));
    let answer = try_send_raw(gateway.order, raw.as_bytes(), None).expect("an answer");
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert_eq!(answer.error().0, "INSUFFICIENT_BUYING_POWER");
    assert_eq!(answer.header("connection"), Some("close"));
    assert_eq!((gateway.upstream_requests(), balances(&gateway)), before);
}

/// SPEC §7: the scheme name `Bearer` in any case; the events token opens `POST /admin/events`
/// and nothing else.
#[test]
fn the_events_token_opens_the_events_call_only() {
    const EVENTS_TOKEN: &str = "webhook-only-token-0123456789";
    let gateway = Gateway::start(&config(
        &format!("events_token = \"{EVENTS_TOKEN}\""),
        NO_POLLER,
    ));
    let call = |method: &str, path: &str, authorization: &str, body: &str| {
        common::send(
            gateway.admin,
            method,
            path,
            &[
                ("authorization", authorization),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
    };
    let event = r#"{"id":"evt-1","type":"accounts.updated","payload":{}}"#;
    let admin = common::ADMIN_TOKEN;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer = call("GET", "/admin/omni", &format!("{scheme} {admin}"), "");
        assert_eq!(answer.status, 200, "{scheme}: {}", answer.text());
    }
    let events = format!("Bearer {EVENTS_TOKEN}");
    assert_eq!(call("POST", "/admin/events", &events, event).status, 200);
    // Admin bodies have one reading too: a struct is an object, a list an array.
    let bearer = format!("Bearer {admin}");
    for (method, path, body) in [
        ("POST", "/admin/omni/cash", r#"["1"]"#),
        ("PUT", "/admin/customers/ARRAYC1X9", r#"["c-array","100"]"#),
        ("POST", "/admin/prices", r#"{"symbol":"AAPL","price":"1"}"#),
        (
            "POST",
            "/admin/events",
            r#"["evt-2","accounts.updated",{}]"#,
        ),
    ] {
        let answer = call(method, path, &bearer, body);
        assert_eq!(
            answer.status,
            400,
            "{method} {path} {body}: {}",
            answer.text()
        );
        assert!(
            answer.text().contains("must be a JSON"),
            "{}",
            answer.text()
        );
    }
    assert_eq!(
        call("GET", "/admin/customers/ARRAYC1X9", &bearer, "").status,
        404,
        "the array registered nobody"
    );
    for (method, path, body) in [
        ("GET", "/admin/omni", ""),
        ("POST", "/admin/omni/cash", r#"{"amount":"1"}"#),
        (
            "PUT",
            "/admin/kill-switch",
            r#"{"global":true,"clientIDs":[],"symbols":[],"cancelOpen":false}"#,
        ),
        ("GET", "/metrics", ""),
    ] {
        let answer = call(method, path, &events, body);
        assert_eq!(
            answer.status,
            401,
            "{method} {path} with the events token: {}",
            answer.text()
        );
        assert_eq!(answer.error().0, "UNAUTHORIZED");
    }
    assert_eq!(call("POST", "/admin/events", "Basic x", event).status, 401);
    assert_eq!(
        call(
            "POST",
            "/admin/events",
            "Bearer wrong-token-0123456789",
            event
        )
        .status,
        401
    );
    // The kill switch was not set by the refused call.
    assert_eq!(
        gateway.admin("GET", "/admin/kill-switch", "").json()["global"],
        false
    );
}
