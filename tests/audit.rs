//! The audit trail (SPEC §11.1): what it holds, how it is read back, what it never holds, and
//! that it never holds up an order.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{binary, cancel_at, config, send, wait_for, Gateway, ADMIN_TOKEN};

const ROUTER_AUTHORIZATION: &str = "Bearer router-secret-7f3a9c";
const ROUTER_APP_KEY: &str = "app-key-secret-5d21e8";

fn order(body: &str, gateway: &Gateway) -> common::Response {
    send(
        gateway.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("authorization", ROUTER_AUTHORIZATION),
            ("dw-client-app-key", ROUTER_APP_KEY),
            ("idempotency-key", "audit-key-1"),
        ],
        body.as_bytes(),
    )
}

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn audit(gateway: &Gateway, query: &str) -> Vec<serde_json::Value> {
    let response = gateway.admin("GET", &format!("/admin/audit{query}"), "");
    assert_eq!(response.status, 200, "{}", response.text());
    lines(&response.text())
}

fn export(gateway: &Gateway, args: &[&str]) -> String {
    let output = Command::new(binary())
        .args(["audit", "export", "--config"])
        .arg(gateway.config_path())
        .args(args)
        .output()
        .expect("run omnigate audit export");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn decisions_upstream_answers_fills_and_admin_changes_are_audited() {
    let gateway = Gateway::start(&config("", ""));
    gateway.fund_omni("1000000");
    let accepted = order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1.5,"clientID":"123456789","clientOrderID":"aud-1"}"#,
        &gateway,
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let order_id = accepted.json()["orderId"].as_str().unwrap().to_owned();
    let unknown = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"NOSUCH42"}"#,
    );
    assert_eq!(unknown.error().0, "CLIENT_ID_UNKNOWN");
    let short = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":100,"clientID":"CUST0A19F"}"#,
    );
    assert_eq!(short.error().0, "INSUFFICIENT_BUYING_POWER");
    let malformed = gateway.post_order(r#"{"clientID":"CUST0A19F","quantity":"#);
    assert_eq!(malformed.error().0, "INVALID_ORDER");
    let cash = gateway.admin(
        "POST",
        "/admin/customers/CUST0A19F/cash",
        r#"{"amount":"-12.50","reason":"ACH return R01"}"#,
    );
    assert_eq!(cash.status, 200, "{}", cash.text());

    let all = wait_for(
        "the fill in the audit trail",
        Duration::from_secs(10),
        || {
            let all = audit(&gateway, "");
            all.iter()
                .any(|line| line["kind"] == "fill" && line["status"] == "FILLED")
                .then_some(all)
        },
    );
    let find = |kind: &str, code: &str| {
        all.iter()
            .find(|line| line["kind"] == kind && (code.is_empty() || line["code"] == code))
            .unwrap_or_else(|| panic!("no {kind} {code} in {all:#?}"))
            .clone()
    };
    let decision = find("decision", "ACCEPTED");
    assert_eq!(decision["clientID"], "123456789");
    assert_eq!(decision["quantity"], "1.5", "exactly as sent");
    assert_eq!(decision["clientOrderID"], "aud-1");
    assert_eq!(decision["Idempotency-Key"], "audit-key-1");
    let upstream = find("upstream", "ACCEPTED");
    assert_eq!(upstream["orderId"], order_id.as_str());
    assert_eq!(upstream["status"], 200);
    let refused = find("decision", "CLIENT_ID_UNKNOWN");
    assert!(refused["message"].as_str().unwrap().contains("NOSUCH42"));
    assert_eq!(refused["clientID"], "NOSUCH42");
    let broken = find("decision", "INVALID_ORDER");
    assert!(broken.get("clientID").is_none(), "{broken}");
    let fill = find("fill", "");
    assert_eq!(fill["orderId"], order_id.as_str());
    assert_eq!(fill["clientID"], "123456789");
    let change = all
        .iter()
        .find(|line| line["kind"] == "admin" && line["path"] == "/admin/customers/CUST0A19F/cash")
        .unwrap_or_else(|| panic!("no cash change in {all:#?}"))
        .clone();
    assert_eq!(change["credential"], "admin");
    assert_eq!(change["reason"], "ACH return R01");
    assert_eq!(change["path"], "/admin/customers/CUST0A19F/cash");
    assert_eq!(change["status"], 200);
    for line in &all {
        let ts = line["ts"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() == 27,
            "RFC 3339 with microseconds: {ts}"
        );
    }

    // A cancel names nobody in its body; its lines carry the customer the ledger knows.
    gateway.pause_fills();
    let resting = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":"150","clientID":"123456789"}"#,
    );
    assert_eq!(resting.status, 200, "{}", resting.text());
    let resting_id = resting.json()["orderId"].as_str().unwrap().to_owned();
    let cancel = cancel_at(gateway.order, &resting_id);
    assert_eq!(cancel.status, 200, "{}", cancel.text());
    let cancels = wait_for("the cancel's lines", Duration::from_secs(10), || {
        let cancels: Vec<serde_json::Value> = audit(&gateway, "?clientID=123456789")
            .into_iter()
            .filter(|line| line["orderId"] == resting_id.as_str())
            .filter(|line| line["kind"] == "cancel" || line["request"] == "cancel")
            .collect();
        (cancels.len() == 2).then_some(cancels)
    });
    assert_eq!(cancels[0]["code"], "ACCEPTED");
    assert_eq!(cancels[1]["status"], 200);

    // By customer: CUST0A19F's rejected order and the change made to it, nothing else (the
    // malformed body names nobody).
    let theirs = audit(&gateway, "?clientID=CUST0A19F");
    assert_eq!(theirs.len(), 2, "{theirs:#?}");
    let csv = export(&gateway, &["--client-id", "CUST0A19F", "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("ts,kind,request,clientID,"), "{csv}");
    assert!(
        rows[1].contains(",decision,,CUST0A19F,DWOM000001,AAPL,"),
        "{csv}"
    );
    assert!(rows[1].contains("INSUFFICIENT_BUYING_POWER"), "{csv}");
    assert!(
        rows[2].contains(",admin,") && rows[2].contains("ACH return R01"),
        "{csv}"
    );

    // By time: from the admin change on, only it (and whatever was learned after it).
    let from = change["ts"].as_str().unwrap();
    let since = lines(&export(&gateway, &["--from", from]));
    assert!(since.iter().any(|line| line["reason"] == "ACH return R01"));
    assert!(since
        .iter()
        .all(|line| line["ts"].as_str().unwrap() >= from));
    assert!(!since.iter().any(|line| line["code"] == "CLIENT_ID_UNKNOWN"));
    let before = lines(&export(&gateway, &["--to", from, "--format", "jsonl"]));
    assert!(before
        .iter()
        .any(|line| line["code"] == "CLIENT_ID_UNKNOWN"));
    assert!(!before.iter().any(|line| line["reason"] == "ACH return R01"));
    assert_eq!(
        before.len() + since.len(),
        lines(&export(&gateway, &[])).len()
    );
    let since_csv = export(&gateway, &["--from", from, "--format", "csv"]);
    assert_eq!(since_csv.lines().count(), since.len() + 1, "{since_csv}");
    assert!(since_csv.contains("ACH return R01"), "{since_csv}");
    assert!(!since_csv.contains("CLIENT_ID_UNKNOWN"), "{since_csv}");
    let theirs_jsonl = lines(&export(&gateway, &["--client-id", "CUST0A19F"]));
    assert_eq!(theirs_jsonl, theirs);

    // No secret anywhere in the files.
    let dir = gateway.dir.path().join("omnigate-data/audit");
    let mut files = 0;
    for item in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(item.unwrap().path()).unwrap();
        files += 1;
        for secret in [ADMIN_TOKEN, "router-secret-7f3a9c", ROUTER_APP_KEY] {
            assert!(!text.contains(secret), "{secret} in the audit trail");
        }
    }
    assert!(files >= 1);
}

#[test]
fn the_events_credential_is_named_and_bad_queries_are_refused() {
    let gateway = Gateway::start(&config("events_token = \"events-token-0123456789\"", ""));
    let event = send(
        gateway.admin,
        "POST",
        "/admin/events",
        &[
            ("authorization", "Bearer events-token-0123456789"),
            ("content-type", "application/json"),
        ],
        br#"{"id":"ev-1","type":"orders.updated","timestamp":"2026-11-19T16:41:53.938331938Z","payload":{"id":"GB.unknown","status":"NEW"}}"#,
    );
    assert_eq!(event.status, 200, "{}", event.text());
    let all = wait_for("the event call audited", Duration::from_secs(10), || {
        let all = audit(&gateway, "");
        (!all.is_empty()).then_some(all)
    });
    assert_eq!(all[0]["credential"], "events");
    assert_eq!(all[0]["path"], "/admin/events");
    // A call without a token is refused and recorded, with no token in the record.
    let refused = send(
        gateway.admin,
        "PUT",
        "/admin/kill-switch",
        &[("authorization", "Bearer guessed-token-123")],
        br#"{"global":true}"#,
    );
    assert_eq!(refused.status, 401);
    let refusal = wait_for("the refused call audited", Duration::from_secs(10), || {
        audit(&gateway, "")
            .into_iter()
            .find(|line| line["credential"] == "none")
    });
    assert_eq!(refusal["path"], "/admin/kill-switch");
    assert_eq!(refusal["status"], 401);
    assert!(refusal.get("change").is_none(), "{refusal}");
    assert!(!refusal.to_string().contains("guessed-token-123"));
    for query in [
        "?from=yesterday",
        "?limit=0",
        "?limit=1&limit=2",
        "?colour=red",
    ] {
        let response = gateway.admin("GET", &format!("/admin/audit{query}"), "");
        assert_eq!(response.status, 400, "{query}: {}", response.text());
    }
}

#[cfg(unix)]
#[test]
fn a_full_audit_queue_drops_entries_and_never_holds_up_an_order() {
    // The writer is stuck: today's file is a FIFO nobody reads, so opening it never returns.
    let dir = std::sync::Arc::new(common::TempDir::new("audit-full"));
    let audit_dir = dir.path().join("omnigate-data/audit");
    std::fs::create_dir_all(&audit_dir).unwrap();
    let fifo = audit_dir.join("audit-2026-06-01.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let gateway = Gateway::start_in(
        dir,
        &config(
            "",
            "[clock]\nadjustable = true\n[audit]\nqueue_capacity = 2\n[limits.default]\nduplicate_window_ms = 0\n",
        ),
    );
    gateway.set_clock("2026-06-01T15:00:00Z");
    gateway.fund_omni("1000000");
    for n in 0..20 {
        let response = gateway.post_order(&format!(
            r#"{{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789","clientOrderID":"full-{n}"}}"#
        ));
        assert_eq!(response.status, 200, "order {n}: {}", response.text());
    }
    let metrics = gateway.admin("GET", "/metrics", "").text();
    let dropped: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("omnigate_audit_dropped_total "))
        .unwrap_or_else(|| panic!("no omnigate_audit_dropped_total in {metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(dropped >= 20.0, "{dropped}");
}
