use bytes::Bytes;

use super::*;
use crate::audit::recent::{BODY_BYTES_MAX, REMEMBERED_MAX};

/// A line rendered on its own, as the first line of its body.
fn render_alone(entry: &Entry) -> String {
    render(entry, String::new(), &mut Memo::default())
}

fn ts() -> chrono::DateTime<chrono::Utc> {
    "2026-12-01T15:04:05.123456Z".parse().unwrap()
}

#[test]
fn a_decision_keeps_the_fields_as_sent() {
    let body = Bytes::from_static(
        br#"{"clientID":"123456789","accountNo":"DWOM000001","symbol":"AAPL","side":"BUY","orderType":"LIMIT","quantity":5.12580012,"price":"100","extra":{"secret":"x"}}"#,
    );
    let line = render_alone(&Entry::Decision {
        ts: ts(),
        request: Request::Order,
        body,
        code: "INSUFFICIENT_BUYING_POWER",
        message: Some("buying power 1.00 is less than 513.00".to_owned()),
        idempotency_key: Some(Bytes::from_static(b"k-1")),
        order_id: None,
        target: None,
        customer: None,
    });
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["ts"], "2026-12-01T15:04:05.123456Z");
    assert_eq!(value["kind"], "decision");
    assert_eq!(value["quantity"], "5.12580012");
    assert_eq!(value["price"], "100");
    assert_eq!(value["Idempotency-Key"], "k-1");
    assert_eq!(value["code"], "INSUFFICIENT_BUYING_POWER");
    assert!(!line.contains("secret"), "{line}");
}

fn decision(body: &Bytes) -> Entry {
    Entry::Decision {
        ts: ts(),
        request: Request::Order,
        body: body.clone(),
        code: "ACCEPTED",
        message: None,
        idempotency_key: None,
        order_id: Some("7".to_owned()),
        target: None,
        customer: None,
    }
}

/// An order refused with `code`, before or by its decision.
fn refused(body: Bytes, code: &'static str, message: Option<&str>) -> Entry {
    Entry::Decision {
        ts: ts(),
        request: Request::Order,
        body,
        code,
        message: message.map(str::to_owned),
        idempotency_key: None,
        order_id: None,
        target: None,
        customer: None,
    }
}

fn answered(body: &Bytes) -> Entry {
    Entry::Upstream {
        ts: ts(),
        request: Request::Order,
        body: body.clone(),
        code: "ACCEPTED",
        status: Some(200),
        answer: None,
        message: None,
        local_id: Some(7),
        customer: None,
        order_id: Some("SM.1".to_owned()),
        idempotency_key: None,
    }
}

/// An order's second line copies the fields its first wrote, and is the line it would be
/// alone; so is a line of another body with the same bytes.
#[test]
fn the_second_line_of_a_body_is_the_line_it_would_be_alone() {
    let bodies = [
        r#"{"clientID":"1234\"5","accountNo":"DW1","symbol":"AAPL","quantity":2}"#,
        r#"{"side":"BUY","side":"SELL","clientID":"x"}"#,
        r#"not json"#,
        r#"{}"#,
    ];
    let mut memo = Memo::default();
    let mut out = String::new();
    for text in bodies {
        let body = Bytes::from(text);
        let first = render(&decision(&body), std::mem::take(&mut out), &mut memo);
        assert_eq!(first, render_alone(&decision(&body)), "{text}");
        assert_eq!(memo.recent.len(), 1, "{text}");
        let second = render(&answered(&body), first, &mut memo);
        assert_eq!(second, render_alone(&answered(&body)), "{text}");
        assert_eq!(
            memo.recent.len(),
            0,
            "the body is forgotten once asked for: {text}"
        );
        // Kept again; another body's line is its own, a copy's is the first body's.
        let again = render(&decision(&body), second, &mut memo);
        let other = Bytes::from(text.replace('1', "2"));
        let read = render(&answered(&other), again, &mut memo);
        assert_eq!(read, render_alone(&answered(&other)), "{text}");
        let copy = Bytes::copy_from_slice(&body);
        let copied = render(&answered(&copy), read, &mut memo);
        assert_eq!(copied, render_alone(&answered(&body)), "{text}");
        memo = Memo::default();
        out = copied;
    }
    let fields = render_alone(&decision(&Bytes::from(bodies[0])));
    assert!(
        fields.contains(r#""clientID":"1234\"5","accountNo":"DW1""#),
        "{fields}"
    );
}

#[test]
fn recent_bodies_are_bounded() {
    let mut memo = Memo::default();
    let bodies: Vec<Bytes> = (0..REMEMBERED_MAX + 10)
        .map(|n| Bytes::from(format!(r#"{{"clientID":"c{n}"}}"#)))
        .collect();
    for body in &bodies {
        render(&decision(body), String::new(), &mut memo);
        assert!(memo.recent.len() <= REMEMBERED_MAX);
    }
    assert_eq!(memo.recent.len(), REMEMBERED_MAX);
    // The oldest were forgotten (read again, still right); the newest are copied.
    let oldest = render(&answered(&bodies[0]), String::new(), &mut memo);
    assert_eq!(oldest, render_alone(&answered(&bodies[0])));
    assert_eq!(
        memo.recent.len(),
        REMEMBERED_MAX,
        "read again and kept, not taken"
    );
    let newest = bodies.last().unwrap();
    let copied = render(&answered(newest), String::new(), &mut memo);
    assert_eq!(copied, render_alone(&answered(newest)));
    assert_eq!(memo.recent.len(), REMEMBERED_MAX - 1, "taken");
    assert!(copied.contains(&format!(r#""clientID":"c{}""#, REMEMBERED_MAX + 9)));
}

#[test]
fn a_large_body_is_not_remembered() {
    let mut memo = Memo::default();
    let padding = " ".repeat(BODY_BYTES_MAX);
    let body = Bytes::from(format!(r#"{{"clientID":"c1"{padding}}}"#));
    let line = render(&decision(&body), String::new(), &mut memo);
    assert!(line.contains(r#""clientID":"c1""#), "{line}");
    assert_eq!(memo.recent.len(), 0);
}

#[test]
fn a_hostile_body_is_clipped_and_a_broken_one_keeps_only_the_code() {
    let long = "A".repeat(10_000);
    let body = Bytes::from(format!(r#"{{"clientID":"{long}","symbol":["x"]}}"#));
    let line = render_alone(&refused(body, "CLIENT_ID_INVALID", None));
    assert!(line.len() < 600, "{}", line.len());
    assert!(!line.contains("symbol"));
    let broken = render_alone(&refused(
        Bytes::from_static(b"{\"clientID\":"),
        "INVALID_ORDER",
        Some("malformed"),
    ));
    let value: serde_json::Value = serde_json::from_str(&broken).unwrap();
    assert_eq!(value["code"], "INVALID_ORDER");
    assert!(value.get("clientID").is_none());
}

#[test]
fn a_key_given_twice_still_names_the_customer() {
    let line = render_alone(&refused(
        Bytes::from_static(br#"{"clientID":"A1","symbol":"AAPL","symbol":"MSFT"}"#),
        "INVALID_ORDER",
        None,
    ));
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["clientID"], "A1");
    assert_eq!(
        value["symbol"], "MSFT",
        "the last value, as serde_json reads a map"
    );
}

#[test]
fn an_admin_change_keeps_its_reason_and_small_bodies() {
    let line = render_alone(&Entry::Admin {
        ts: ts(),
        credential: super::super::Credential::Admin,
        method: http::Method::POST,
        path: "/admin/omni/cash".to_owned(),
        status: 200,
        body: Bytes::from_static(br#"{"amount":"-10.5","reason":"wire out"}"#),
    });
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["reason"], "wire out");
    assert_eq!(value["credential"], "admin");
    assert_eq!(value["change"]["amount"], "-10.5");
    let pretty = render_alone(&Entry::Admin {
        ts: ts(),
        credential: super::super::Credential::Admin,
        method: http::Method::PUT,
        path: "/admin/customers/A1".to_owned(),
        status: 200,
        body: Bytes::from_static(b"{\n  \"customerId\": \"c 1\\\" x\",\n  \"cash\": 10.50\n}\n"),
    });
    assert!(!pretty.contains('\n'), "{pretty}");
    assert!(
        pretty.contains(r#""change":{"customerId":"c 1\" x","cash":10.50}"#),
        "{pretty}"
    );
    let big = render_alone(&Entry::Admin {
        ts: ts(),
        credential: super::super::Credential::Admin,
        method: http::Method::POST,
        path: "/admin/customers".to_owned(),
        status: 200,
        body: Bytes::from(vec![b' '; 10_000]),
    });
    assert!(big.contains("\"changeBytes\":10000"), "{big}");
}

/// The fields as serde_json reads them (the last value of each key), the way the trail read
/// every body before it used the order parser's scan.
fn fields_by_serde(body: &[u8]) -> String {
    let mut line = JsonObject::new();
    if let Some(fields) = RawObject::read(body) {
        for name in ORDER_FIELDS {
            if let Some(text) = fields.scalar(name) {
                line.string(name, &text);
            }
        }
    }
    line.finish()
}

fn fields_now(body: &[u8]) -> String {
    let mut line = JsonObject::new();
    order_fields(&mut line, body);
    line.finish()
}

proptest::proptest! {
    /// Whatever the body (valid, repeated keys, escaped keys, nested values, cut short), the
    /// trail keeps what serde_json reads from it.
    #[test]
    fn the_fields_are_serde_jsons_reading(
        pairs in proptest::collection::vec((
            proptest::sample::select(vec![
                "clientID", "symbol", "side", "quantity", "price", "clientOrderID", "extra",
                "\\u0073ide", "ISIN",
            ]),
            proptest::sample::select(vec![
                "\"AAPL\"", "\"a\\\"b\\u00e9\"", "1.50", "-2e3", "true", "null",
                "{\"a\":[1,{\"b\":null}]}", "[]", "\"\"",
            ]),
            proptest::sample::select(vec!["", " ", "\n\t"]),
        ), 0..8),
        cut in proptest::option::of(0usize..200),
    ) {
        let mut body = String::from("{");
        for (i, (key, value, space)) in pairs.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!("{space}\"{key}\"{space}:{space}{value}{space}"));
        }
        body.push('}');
        if let Some(cut) = cut {
            body.truncate(cut.min(body.len()));
        }
        proptest::prop_assert_eq!(fields_now(body.as_bytes()), fields_by_serde(body.as_bytes()), "{}", body);
    }

    /// Borrowed or decoded, a field reads as serde_json's decoding of it, clipped.
    #[test]
    fn a_string_field_reads_as_its_decoding_clipped(text in ".{0,300}|[\\\\\"a-z\u{0}-\u{1f}é😀]{0,300}") {
        let raw = RawValue::from_string(serde_json::to_string(&text).unwrap()).unwrap();
        let expected: String = text.chars().take(FIELD_CHARS_MAX).collect();
        let read = scalar_text(raw.get());
        proptest::prop_assert_eq!(read.as_deref(), Some(expected.as_str()));
    }
}

#[test]
fn numbers_and_booleans_keep_their_text_and_null_objects_and_arrays_give_nothing() {
    for (json, expected) in [
        ("1.50", Some("1.50")),
        ("true", Some("true")),
        ("null", None),
        ("{\"a\":1}", None),
        ("[1]", None),
    ] {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        assert_eq!(scalar_text(raw.get()).as_deref(), expected, "{json}");
    }
}
