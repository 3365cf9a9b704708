//! An [`Entry`] as one JSON line of the audit trail.
//!
//! The order's fields are picked by name from the body as sent and written as strings holding
//! exactly the text sent (a JSON number's digits, not a float), so the trail says what the
//! client asked for, including for a body too broken to decide. Each picked value is clipped, so
//! a hostile body cannot make a line huge.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde_json::value::RawValue;

use super::recent::RecentFields;
use super::{Entry, Request};
use crate::json_out::JsonObject;
use crate::order;

/// The order body's fields the trail keeps, under the names DriveWealth gives them.
pub(super) const ORDER_FIELDS: [&str; 11] = [
    "clientID",
    "accountNo",
    "symbol",
    "instrumentID",
    "ISIN",
    "side",
    "orderType",
    "quantity",
    "amountCash",
    "price",
    "clientOrderID",
];

/// Longest value kept of any field taken from what a client sent.
const FIELD_CHARS_MAX: usize = 256;

/// Largest admin body kept whole as `change`; a larger one (a bulk load) is kept as its size.
const CHANGE_BYTES_MAX: usize = 4096;

/// The line for `entry`, without its newline, written into `out`'s buffer (its text is
/// dropped); an order's fields come from `recent` when its other line rendered them.
pub fn render(entry: &Entry, out: String, recent: &mut RecentFields) -> String {
    let mut line = JsonObject::reusing(out);
    line.string(
        "ts",
        &entry.ts().to_rfc3339_opts(SecondsFormat::Micros, true),
    );
    match entry {
        Entry::Decision {
            request,
            body,
            code,
            message,
            idempotency_key,
            order_id,
            target,
            customer,
            ..
        } => {
            line.string(
                "kind",
                match request {
                    Request::Order => "decision",
                    Request::Cancel => "cancel",
                    Request::Other => "refusal",
                },
            );
            if let Some((method, path)) = target {
                line.string("method", &clip(method.as_str()))
                    .string("path", &clip(path));
            }
            request_fields(&mut line, *request, body, customer.as_deref(), recent);
            optional_bytes(&mut line, "Idempotency-Key", idempotency_key.as_deref());
            line.string("code", code);
            if let Some(message) = message {
                line.string("message", message);
            }
            if let Some(order_id) = order_id {
                // A cancel names DriveWealth's id; an accepted order has only omnigate's yet.
                let key = match request {
                    Request::Cancel => "orderId",
                    Request::Order | Request::Other => "localId",
                };
                line.string(key, &clip(order_id));
            }
        }
        Entry::Upstream {
            request,
            body,
            code,
            status,
            answer,
            message,
            local_id,
            order_id,
            idempotency_key,
            customer,
            ..
        } => {
            line.string("kind", "upstream");
            line.string(
                "request",
                match request {
                    Request::Order | Request::Other => "order",
                    Request::Cancel => "cancel",
                },
            );
            request_fields(&mut line, *request, body, customer.as_deref(), recent);
            optional_bytes(&mut line, "Idempotency-Key", idempotency_key.as_deref());
            line.string("code", code);
            if let Some(status) = status {
                line.integer("status", u64::from(*status));
            }
            if let Some(message) = message {
                line.string("message", message);
            }
            if let Some(answer) = answer {
                upstream_error(&mut line, answer);
            }
            if let Some(local_id) = local_id {
                line.string("localId", &local_id.to_string());
            }
            if let Some(order_id) = order_id {
                line.string("orderId", &clip(order_id));
            }
        }
        Entry::Fill {
            order_id,
            client_id,
            symbol,
            side,
            status,
            cumulative_quantity,
            average_price,
            fees,
            ..
        } => {
            line.string("kind", "fill").string("orderId", order_id);
            if let Some(client_id) = client_id {
                line.string("clientID", client_id);
            }
            if let Some(symbol) = symbol {
                line.string("symbol", symbol);
            }
            if let Some(side) = side {
                line.string("side", side);
            }
            line.string("status", status)
                .string("filledQuantity", &cumulative_quantity.to_string())
                .string("averagePrice", &average_price.to_string());
            if let Some(fees) = fees {
                line.string("fees", &fees.to_string());
            }
        }
        Entry::Admin {
            credential,
            method,
            path,
            status,
            body,
            ..
        } => {
            line.string("kind", "admin")
                .string("credential", credential.as_str())
                .string("method", method.as_str())
                .string("path", &clip(path))
                .integer("status", u64::from(*status));
            admin_body(&mut line, body);
        }
    }
    line.finish()
}

/// An order's fields from its body; a cancel's customer from the ledger (its body, a
/// `{"method":"CANCEL"}`, names nobody, and what else it holds is not the trail's).
fn request_fields(
    line: &mut JsonObject,
    request: Request,
    body: &[u8],
    customer: Option<&str>,
    recent: &mut RecentFields,
) {
    match request {
        Request::Order | Request::Other => match recent.take(body) {
            Some(fields) => {
                line.fields(&fields);
            }
            None => {
                let mark = line.mark();
                order_fields(line, body);
                recent.keep(body, line.written_since(mark));
            }
        },
        Request::Cancel => {
            if let Some(customer) = customer {
                line.string("clientID", &clip(customer));
            }
        }
    }
}

/// The named fields of an order body, when it is a JSON object: read as the order parser reads
/// it (one pass, no allocation), so the trail keeps the fields the decision saw.
fn order_fields(line: &mut JsonObject, body: &[u8]) {
    let Some(values) = order::raw_fields(body, &ORDER_FIELDS) else {
        // Not one object, or a key given twice (the decision refuses both): read what can be
        // read, the last value of each key.
        let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(body) else {
            return;
        };
        for name in ORDER_FIELDS {
            if let Some(text) = fields.get(name).and_then(|raw| scalar_text(raw.get())) {
                line.string(name, &text);
            }
        }
        return;
    };
    for (name, value) in ORDER_FIELDS.iter().zip(values) {
        if let Some(text) = value.and_then(scalar_text) {
            line.string(name, &text);
        }
    }
}

/// A string's contents, or a number's or boolean's JSON text; `None` for null, objects, arrays.
/// Borrowed from the body unless the string has escapes or must be clipped (the writer reads
/// about twenty of these an order).
fn scalar_text(text: &str) -> Option<Cow<'_, str>> {
    match text.as_bytes().first()? {
        // One valid JSON value (the scan's or a RawValue): without a backslash, the contents
        // are the bytes between the quotes, as they are.
        b'"' if !text.contains('\\') => Some(clip(&text[1..text.len() - 1])),
        b'"' => {
            let value = serde_json::from_str::<String>(text).ok()?;
            Some(Cow::Owned(clip(&value).into_owned()))
        }
        b'{' | b'[' | b'n' => None,
        _ => Some(clip(text)),
    }
}

/// The `errorCode` and `message` of an upstream's error answer.
fn upstream_error(line: &mut JsonObject, answer: &[u8]) {
    let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(answer) else {
        return;
    };
    for (name, key) in [
        ("errorCode", "upstreamCode"),
        ("message", "upstreamMessage"),
    ] {
        if let Some(text) = fields.get(name).and_then(|raw| scalar_text(raw.get())) {
            line.string(key, &text);
        }
    }
}

/// An admin change's `reason`, and the change itself when it is small JSON.
fn admin_body(line: &mut JsonObject, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    if let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(body) {
        if let Some(reason) = fields.get("reason").and_then(|raw| scalar_text(raw.get())) {
            line.string("reason", &reason);
        }
    }
    let json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    match std::str::from_utf8(body) {
        Ok(text) if json && body.len() <= CHANGE_BYTES_MAX => {
            // Valid JSON text: kept as sent, numbers exact, on one line.
            line.raw("change", &compact(text));
        }
        _ => {
            line.integer("changeBytes", body.len() as u64);
        }
    }
}

/// Valid JSON text without the whitespace between its tokens (a pretty-printed body would
/// otherwise break the one-line-per-entry file). Inside strings nothing changes: JSON strings
/// cannot hold a raw newline, and escapes are copied as they are.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
            in_string = c == '"';
        }
    }
    out
}

fn optional_bytes(line: &mut JsonObject, key: &str, value: Option<&[u8]>) {
    if let Some(value) = value {
        line.string(key, &clip(&String::from_utf8_lossy(value)));
    }
}

/// `text`, cut to [`FIELD_CHARS_MAX`] characters; borrowed when it is no longer (as almost
/// every field is: no more bytes than that cannot be more characters).
fn clip(text: &str) -> Cow<'_, str> {
    if text.len() <= FIELD_CHARS_MAX {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().take(FIELD_CHARS_MAX).collect())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::audit::recent::{BODY_BYTES_MAX, REMEMBERED_MAX};

    /// A line rendered on its own, as the first line of its body.
    fn render_alone(entry: &Entry) -> String {
        render(entry, String::new(), &mut RecentFields::default())
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
        let mut recent = RecentFields::default();
        let mut out = String::new();
        for text in bodies {
            let body = Bytes::from(text);
            let first = render(&decision(&body), std::mem::take(&mut out), &mut recent);
            assert_eq!(first, render_alone(&decision(&body)), "{text}");
            assert_eq!(recent.len(), 1, "{text}");
            let second = render(&answered(&body), first, &mut recent);
            assert_eq!(second, render_alone(&answered(&body)), "{text}");
            assert_eq!(
                recent.len(),
                0,
                "the body is forgotten once asked for: {text}"
            );
            // Kept again; another body's line is its own, a copy's is the first body's.
            let again = render(&decision(&body), second, &mut recent);
            let other = Bytes::from(text.replace('1', "2"));
            let read = render(&answered(&other), again, &mut recent);
            assert_eq!(read, render_alone(&answered(&other)), "{text}");
            let copy = Bytes::copy_from_slice(&body);
            let copied = render(&answered(&copy), read, &mut recent);
            assert_eq!(copied, render_alone(&answered(&body)), "{text}");
            recent = RecentFields::default();
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
        let mut recent = RecentFields::default();
        let bodies: Vec<Bytes> = (0..REMEMBERED_MAX + 10)
            .map(|n| Bytes::from(format!(r#"{{"clientID":"c{n}"}}"#)))
            .collect();
        for body in &bodies {
            render(&decision(body), String::new(), &mut recent);
            assert!(recent.len() <= REMEMBERED_MAX);
        }
        assert_eq!(recent.len(), REMEMBERED_MAX);
        // The oldest were forgotten (read again, still right); the newest are copied.
        let oldest = render(&answered(&bodies[0]), String::new(), &mut recent);
        assert_eq!(oldest, render_alone(&answered(&bodies[0])));
        assert_eq!(
            recent.len(),
            REMEMBERED_MAX,
            "read again and kept, not taken"
        );
        let newest = bodies.last().unwrap();
        let copied = render(&answered(newest), String::new(), &mut recent);
        assert_eq!(copied, render_alone(&answered(newest)));
        assert_eq!(recent.len(), REMEMBERED_MAX - 1, "taken");
        assert!(copied.contains(&format!(r#""clientID":"c{}""#, REMEMBERED_MAX + 9)));
    }

    #[test]
    fn a_large_body_is_not_remembered() {
        let mut recent = RecentFields::default();
        let padding = " ".repeat(BODY_BYTES_MAX);
        let body = Bytes::from(format!(r#"{{"clientID":"c1"{padding}}}"#));
        let line = render(&decision(&body), String::new(), &mut recent);
        assert!(line.contains(r#""clientID":"c1""#), "{line}");
        assert_eq!(recent.len(), 0);
    }

    #[test]
    fn a_hostile_body_is_clipped_and_a_broken_one_keeps_only_the_code() {
        let long = "A".repeat(10_000);
        let body = Bytes::from(format!(r#"{{"clientID":"{long}","symbol":["x"]}}"#));
        let line = render_alone(&Entry::Decision {
            ts: ts(),
            request: Request::Order,
            body,
            code: "CLIENT_ID_INVALID",
            message: None,
            idempotency_key: None,
            order_id: None,
            target: None,
            customer: None,
        });
        assert!(line.len() < 600, "{}", line.len());
        assert!(!line.contains("symbol"));
        let broken = render_alone(&Entry::Decision {
            ts: ts(),
            request: Request::Order,
            body: Bytes::from_static(b"{\"clientID\":"),
            code: "INVALID_ORDER",
            message: Some("malformed".to_owned()),
            idempotency_key: None,
            order_id: None,
            target: None,
            customer: None,
        });
        let value: serde_json::Value = serde_json::from_str(&broken).unwrap();
        assert_eq!(value["code"], "INVALID_ORDER");
        assert!(value.get("clientID").is_none());
    }

    #[test]
    fn a_key_given_twice_still_names_the_customer() {
        let line = render_alone(&Entry::Decision {
            ts: ts(),
            request: Request::Order,
            body: Bytes::from_static(br#"{"clientID":"A1","symbol":"AAPL","symbol":"MSFT"}"#),
            code: "INVALID_ORDER",
            message: None,
            idempotency_key: None,
            order_id: None,
            target: None,
            customer: None,
        });
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
            body: Bytes::from_static(
                b"{\n  \"customerId\": \"c 1\\\" x\",\n  \"cash\": 10.50\n}\n",
            ),
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
        if let Ok(fields) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(body) {
            for name in ORDER_FIELDS {
                if let Some(text) = fields.get(name).and_then(|raw| scalar_text(raw.get())) {
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
}
