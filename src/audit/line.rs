//! An [`Entry`] as one JSON line of the audit trail.
//!
//! The order's fields are picked by name from the body as sent and written as strings holding
//! exactly the text sent (a JSON number's digits, not a float), so the trail says what the
//! client asked for, including for a body too broken to decide. Each picked value is clipped, so
//! a hostile body cannot make a line huge.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::recent::RecentFields;
use super::stamp::Stamps;
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

/// What a writer keeps from one line to the next, so that the next costs less.
#[derive(Default)]
pub struct Memo {
    /// The order fields of recent bodies, for an order's second line.
    pub(super) recent: RecentFields,
    /// The second written last.
    stamps: Stamps,
}

/// The line for `entry`, without its newline, written into `out`'s buffer (its text is
/// dropped); an order's fields come from `memo` when its other line rendered them.
pub fn render(entry: &Entry, out: String, memo: &mut Memo) -> String {
    let mut line = JsonObject::reusing(out);
    line.raw("ts", memo.stamps.json(entry.ts()));
    let recent = &mut memo.recent;
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
        let Some(fields) = RawObject::read(body) else {
            return;
        };
        for name in ORDER_FIELDS {
            if let Some(text) = fields.scalar(name) {
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
/// about twenty of these an order). `text` is one valid JSON value (the scan's or a RawValue).
fn scalar_text(text: &str) -> Option<Cow<'_, str>> {
    match text.as_bytes().first()? {
        b'"' => Some(match order::json_string(text)? {
            Cow::Borrowed(value) => clip(value),
            Cow::Owned(value) => Cow::Owned(clip(&value).into_owned()),
        }),
        b'{' | b'[' | b'n' => None,
        _ => Some(clip(text)),
    }
}

/// A body as serde_json reads a JSON object: each key's last value, as its JSON text. For what
/// the order parser's scan does not read (an upstream's or an admin's body, a refused order).
struct RawObject(BTreeMap<String, Box<RawValue>>);

impl RawObject {
    fn read(body: &[u8]) -> Option<RawObject> {
        serde_json::from_slice(body).ok().map(RawObject)
    }

    /// The [`scalar_text`] of the field `name`, if the object has one.
    fn scalar(&self, name: &str) -> Option<Cow<'_, str>> {
        self.0.get(name).and_then(|raw| scalar_text(raw.get()))
    }
}

/// The `errorCode` and `message` of an upstream's error answer.
fn upstream_error(line: &mut JsonObject, answer: &[u8]) {
    let Some(fields) = RawObject::read(answer) else {
        return;
    };
    for (name, key) in [
        ("errorCode", "upstreamCode"),
        ("message", "upstreamMessage"),
    ] {
        if let Some(text) = fields.scalar(name) {
            line.string(key, &text);
        }
    }
}

/// An admin change's `reason`, and the change itself when it is small JSON.
fn admin_body(line: &mut JsonObject, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    if let Some(fields) = RawObject::read(body) {
        if let Some(reason) = fields.scalar("reason") {
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
mod tests;
