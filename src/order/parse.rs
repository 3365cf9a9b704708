//! Order body → [`Order`], exactly.
//!
//! The body is read in one pass (`scan`) into borrowed raw slices, one per field the rules need;
//! each field is then interpreted by hand so that (a) numbers are parsed from their own text,
//! never through a binary float, and (b) every complaint names its field. A duplicate field is
//! refused: omnigate and the upstream must not read different values out of one body.

use std::borrow::Cow;

use super::scan::{scan_object, ScanError};
use super::{ClientIdField, InstrumentRef, Order, OrderPatch, OrderType, Side, Size, TimeInForce};
use crate::json_shape::Shape;
use crate::money::{Fixed, FixedError};
use crate::reject::Reject;

/// The fields of SPEC §3 the rules read, by their keys; each is read as its raw JSON text.
const FIELDS: [&str; 16] = [
    "accountNo",
    "orderType",
    "side",
    "symbol",
    "instrumentID",
    "ISIN",
    "quantity",
    "amountCash",
    "price",
    "timeInForce",
    "preventQueuing",
    "clientID",
    "clientOrderID",
    "ipAddress",
    "commission",
    "commissionRate",
];

/// A field's place in [`FIELDS`].
fn field_index(key: &[u8]) -> Option<usize> {
    // A `match` on the bytes compiles to a switch on the length and one comparison, where a
    // search of FIELDS would compare against each key.
    Some(match key {
        b"accountNo" => 0,
        b"orderType" => 1,
        b"side" => 2,
        b"symbol" => 3,
        b"instrumentID" => 4,
        b"ISIN" => 5,
        b"quantity" => 6,
        b"amountCash" => 7,
        b"price" => 8,
        b"timeInForce" => 9,
        b"preventQueuing" => 10,
        b"clientID" => 11,
        b"clientOrderID" => 12,
        b"ipAddress" => 13,
        b"commission" => 14,
        b"commissionRate" => 15,
        _ => return None,
    })
}

/// The raw text of each field of [`FIELDS`] given in `text`.
struct RawOrder<'a> {
    account_no: Option<&'a str>,
    order_type: Option<&'a str>,
    side: Option<&'a str>,
    symbol: Option<&'a str>,
    instrument_id: Option<&'a str>,
    isin: Option<&'a str>,
    quantity: Option<&'a str>,
    amount_cash: Option<&'a str>,
    price: Option<&'a str>,
    time_in_force: Option<&'a str>,
    prevent_queuing: Option<&'a str>,
    client_id: Option<&'a str>,
    client_order_id: Option<&'a str>,
    ip_address: Option<&'a str>,
    commission: Option<&'a str>,
    commission_rate: Option<&'a str>,
}

impl<'a> RawOrder<'a> {
    fn scan(text: &'a str, max_json_depth: usize) -> Result<Self, Reject> {
        let mut fields = [None; FIELDS.len()];
        scan_object(text, field_index, &FIELDS, max_json_depth, &mut fields)
            .map_err(|error| scan_refusal("order", error, max_json_depth))?;
        let [account_no, order_type, side, symbol, instrument_id, isin, quantity, amount_cash, price, time_in_force, prevent_queuing, client_id, client_order_id, ip_address, commission, commission_rate] =
            fields;
        Ok(RawOrder {
            account_no,
            order_type,
            side,
            symbol,
            instrument_id,
            isin,
            quantity,
            amount_cash,
            price,
            time_in_force,
            prevent_queuing,
            client_id,
            client_order_id,
            ip_address,
            commission,
            commission_rate,
        })
    }
}

/// `server.max_json_depth`'s default (SPEC §3.0).
pub const DEFAULT_MAX_JSON_DEPTH: usize = 32;

/// [`parse_order_within`] at the default nesting limit.
pub fn parse_order(body: &[u8]) -> Result<Order<'_>, Reject> {
    parse_order_within(body, DEFAULT_MAX_JSON_DEPTH)
}

/// Parses an order body that nests at most `max_json_depth` deep. Any problem is
/// `INVALID_ORDER` with a message naming the field, except `clientID`, whose problems are left
/// for the rules (they have their own codes).
pub fn parse_order_within(body: &[u8], max_json_depth: usize) -> Result<Order<'_>, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reject::invalid(
            "the request body is empty; expected a JSON order",
        ));
    }
    let raw = RawOrder::scan(json_text(body)?, max_json_depth)?;

    let account_no = required_string("accountNo", raw.account_no)?;
    let order_type = required_string("orderType", raw.order_type)?;
    let order_type = OrderType::parse(&order_type)
        .ok_or_else(|| unknown_value("orderType", &order_type, OrderType::ALLOWED))?;
    let side = required_string("side", raw.side)?;
    let side = Side::parse(&side).ok_or_else(|| unknown_value("side", &side, Side::ALLOWED))?;
    // SPEC §3.0 "One instrument": each identifier given must be a real one; whether they name
    // the same instrument is for the instrument master to say.
    let instrument = InstrumentRef {
        symbol: optional_identifier("symbol", raw.symbol)?,
        instrument_id: optional_identifier("instrumentID", raw.instrument_id)?,
        isin: optional_identifier("ISIN", raw.isin)?,
    };
    if instrument.is_empty() {
        return Err(Reject::invalid(
            "the order names no instrument: send symbol, instrumentID or ISIN",
        ));
    }
    let size = match (
        optional_positive("quantity", raw.quantity)?,
        optional_positive("amountCash", raw.amount_cash)?,
    ) {
        (Some(quantity), None) => Size::Quantity(quantity),
        (None, Some(amount)) => Size::AmountCash(amount),
        (Some(_), Some(_)) => {
            return Err(Reject::invalid(
                "the order has both quantity and amountCash; send exactly one",
            ))
        }
        (None, None) => {
            return Err(Reject::invalid(
                "the order has neither quantity nor amountCash; send exactly one",
            ))
        }
    };
    let price = optional_positive("price", raw.price)?;
    if order_type.needs_price() && price.is_none() {
        return Err(Reject::invalid(format!(
            "a {} order needs a price",
            order_type.as_str()
        )));
    }
    let time_in_force =
        match optional_string("timeInForce", raw.time_in_force)? {
            None => None,
            Some(value) => Some(TimeInForce::parse(value.as_ref()).ok_or_else(|| {
                unknown_value("timeInForce", value.as_ref(), TimeInForce::ALLOWED)
            })?),
        };
    let prevent_queuing = match raw.prevent_queuing {
        None | Some("null") => false,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(Reject::invalid("preventQueuing must be true or false")),
    };
    let client_id = match raw.client_id {
        None => ClientIdField::Absent,
        Some("null") => ClientIdField::Absent,
        Some(raw) => match json_string(raw) {
            Some(text) => ClientIdField::Text(text),
            None => ClientIdField::WrongType,
        },
    };
    let commission = super::commission::read(
        optional_number("commission", raw.commission)?,
        optional_number("commissionRate", raw.commission_rate)?,
    )?;
    Ok(Order {
        commission,
        account_no,
        order_type,
        side,
        instrument,
        size,
        price,
        time_in_force,
        prevent_queuing,
        client_id,
        client_order_id: optional_string("clientOrderID", raw.client_order_id)?,
        ip_address: optional_string("ipAddress", raw.ip_address)?,
    })
}

/// [`parse_cancel_within`] at the default nesting limit.
pub fn parse_cancel(body: &[u8]) -> Result<OrderPatch, Reject> {
    parse_cancel_within(body, DEFAULT_MAX_JSON_DEPTH)
}

/// Parses a `PATCH /back-office/orders/{id}` body far enough to know whether it is a cancel; the
/// whole body is held to the same nesting limit as an order (it is forwarded too).
pub fn parse_cancel_within(body: &[u8], max_json_depth: usize) -> Result<OrderPatch, Reject> {
    let index_of = |key: &[u8]| (key == b"method").then_some(0);
    let mut method = [None];
    scan_object(
        json_text(body)?,
        index_of,
        &["method"],
        max_json_depth,
        &mut method,
    )
    .map_err(|error| scan_refusal("request", error, max_json_depth))?;
    match required_string("method", method[0])?.as_ref() {
        "CANCEL" => Ok(OrderPatch::Cancel),
        _ => Ok(OrderPatch::Other),
    }
}

/// The body as text, once it is known to open a JSON object (so that what is not one gets a
/// message saying what is wanted) and to be UTF-8. The scan checks the rest.
fn json_text(body: &[u8]) -> Result<&str, Reject> {
    if !Shape::Object.opens(body) {
        return Err(Reject::invalid(format!(
            "the request body must be {}",
            Shape::Object.name()
        )));
    }
    std::str::from_utf8(body).map_err(|_| Reject::invalid("the request body is not valid UTF-8"))
}

/// The refusal of a body the scan did not take; `what` names it ("order", "request").
fn scan_refusal(what: &str, error: ScanError, max_json_depth: usize) -> Reject {
    match error {
        ScanError::Syntax { at, expected } => Reject::invalid(format!(
            "the {what} is not valid JSON: expected {expected} at byte {at}"
        )),
        ScanError::TooDeep => Reject::invalid(format!(
            "the request body nests deeper than {max_json_depth} arrays and objects (server.max_json_depth)"
        )),
        ScanError::Duplicate(field) => Reject::invalid(format!(
            "the {what} has a duplicate field {field}: omnigate and the upstream could read different values"
        )),
    }
}

/// An instrument identifier: absent (or `null`), else a non-blank string.
fn optional_identifier<'a>(
    field: &str,
    raw: Option<&'a str>,
) -> Result<Option<Cow<'a, str>>, Reject> {
    match optional_string(field, raw)? {
        Some(value) if value.trim().is_empty() => Err(Reject::invalid(format!("{field} is blank"))),
        other => Ok(other),
    }
}

/// The text of a JSON string, borrowed when it has no escapes; `None` if `raw` is not a string.
fn json_string(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

fn optional_string<'a>(field: &str, raw: Option<&'a str>) -> Result<Option<Cow<'a, str>>, Reject> {
    match raw {
        None => Ok(None),
        Some("null") => Ok(None),
        Some(raw) => json_string(raw)
            .map(Some)
            .ok_or_else(|| Reject::invalid(format!("{field} must be a string"))),
    }
}

fn required_string<'a>(field: &str, raw: Option<&'a str>) -> Result<Cow<'a, str>, Reject> {
    match optional_string(field, raw)? {
        Some(value) if !value.trim().is_empty() => Ok(value),
        Some(_) => Err(Reject::invalid(format!("{field} is blank"))),
        None => Err(Reject::invalid(format!("{field} is missing"))),
    }
}

/// A number given as a JSON number or a strict decimal string (SPEC §3.0), read exactly; must be
/// above zero.
fn optional_positive(field: &str, raw: Option<&str>) -> Result<Option<Fixed>, Reject> {
    let value = optional_number(field, raw)?;
    if let Some(value) = value {
        if !value.is_positive() {
            return Err(Reject::invalid(format!(
                "{field} must be above zero, got {value}"
            )));
        }
    }
    Ok(value)
}

/// An exact decimal (a JSON number or a numeric string), absent or `null` as `None`.
pub(super) fn optional_number(field: &str, raw: Option<&str>) -> Result<Option<Fixed>, Reject> {
    let Some(text) = raw else { return Ok(None) };
    if text == "null" {
        return Ok(None);
    }
    let value = Fixed::from_json(text).map_err(|error| {
        let shown = shorten(text);
        match error {
            FixedError::NotANumber => {
                Reject::invalid(format!("{field} {shown} is not a decimal number"))
            }
            FixedError::TooPrecise => {
                Reject::invalid(format!("{field} {shown} has more than 8 decimal places"))
            }
            FixedError::Overflow => Reject::invalid(format!("{field} {shown} is too large")),
        }
    })?;
    Ok(Some(value))
}

fn unknown_value(field: &str, value: &str, allowed: &str) -> Reject {
    Reject::invalid(format!(
        "{field} {:?} is not one of {allowed}",
        shorten(value)
    ))
}

/// Caps what a message quotes back, so a hostile 60 kB value does not become a 60 kB answer.
fn shorten(text: &str) -> Cow<'_, str> {
    const LIMIT: usize = 40;
    if text.len() <= LIMIT {
        return Cow::Borrowed(text);
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::InstrumentKey;
    use crate::reject::RejectCode;

    fn parse(body: &str) -> Result<Order<'_>, Reject> {
        parse_order(body.as_bytes())
    }

    fn message(body: &str) -> String {
        let reject = parse(body).unwrap_err();
        assert_eq!(reject.code, RejectCode::InvalidOrder, "{body}");
        reject.message
    }

    const LIMIT_ORDER: &str = r#"{"accountNo":"DWPH000003","orderType":"LIMIT","symbol":"AAPL",
        "side":"BUY","quantity":10,"price":160,"clientID":"123456789","extra":{"kept":true}}"#;

    #[test]
    fn an_order_is_a_json_object_never_an_array() {
        // serde's derive would read an array as the struct's fields in order: refused instead.
        for body in [
            r#"["DWOM000001","MARKET","BUY","AAPL",null,null,1]"#,
            r#"  ["DWOM000001"]"#,
            "[]",
            "\"text\"",
            "17",
        ] {
            let reject = parse(body).unwrap_err();
            assert_eq!(reject.code, RejectCode::InvalidOrder, "{body}");
            assert!(
                reject.message.contains("JSON object"),
                "{body}: {}",
                reject.message
            );
        }
        let reject = parse_cancel(br#"["CANCEL"]"#).unwrap_err();
        assert!(reject.message.contains("JSON object"), "{}", reject.message);
    }

    #[test]
    fn every_field_is_found_at_its_place() {
        for (index, name) in FIELDS.iter().enumerate() {
            assert_eq!(field_index(name.as_bytes()), Some(index), "{name}");
        }
        assert_eq!(field_index(b"Side"), None);
        assert_eq!(field_index(b""), None);
    }

    #[test]
    fn reads_the_seed_limit_order() {
        let order = parse(LIMIT_ORDER).unwrap();
        assert_eq!(order.account_no, "DWPH000003");
        assert_eq!(order.order_type, OrderType::Limit);
        assert_eq!(order.side, Side::Buy);
        assert_eq!(order.instrument, InstrumentRef::symbol("AAPL"));
        assert_eq!(order.size, Size::Quantity(Fixed::from_int(10).unwrap()));
        assert_eq!(order.price, Some(Fixed::from_int(160).unwrap()));
        assert_eq!(order.client_id, ClientIdField::Text("123456789".into()));
        assert!(!order.prevent_queuing);
        assert!(matches!(order.account_no, Cow::Borrowed(_)));
    }

    #[test]
    fn numbers_are_exact_whether_numbers_or_strings() {
        for body in [
            r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":5.12580012}"#,
            r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":"5.12580012"}"#,
        ] {
            let order = parse(body).unwrap();
            assert_eq!(order.size, Size::Quantity(Fixed::from_units(512_580_012)));
            assert!(order.size.is_fractional());
        }
        let order = parse(
            r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","amountCash":0.1}"#,
        )
        .unwrap();
        assert_eq!(order.size, Size::AmountCash(Fixed::from_units(10_000_000)));
    }

    #[test]
    fn each_problem_names_its_field() {
        let base = |extra: &str| {
            format!(r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY"{extra}}}"#)
        };
        assert!(message(&base(r#","quantity":5.125800121"#)).contains("more than 8 decimal"));
        assert!(message(&base(r#","quantity":0"#)).contains("above zero"));
        assert!(message(&base(r#","quantity":-1"#)).contains("above zero"));
        assert!(message(&base(r#","quantity":"ten""#)).contains("not a decimal"));
        assert!(message(&base(r#","quantity":true"#)).contains("quantity"));
        assert!(message(&base("")).contains("neither quantity nor amountCash"));
        assert!(message(&base(r#","quantity":1,"amountCash":5"#)).contains("both"));
        assert!(message(&base(r#","quantity":1,"quantity":2"#)).contains("duplicate"));
        assert!(message(&base(r#","quantity":1,"timeInForce":"IOC""#)).contains("timeInForce"));
        assert!(
            message(&base(r#","quantity":1,"preventQueuing":"yes""#)).contains("preventQueuing")
        );
        assert!(message(&base(r#","quantity":1e400"#)).contains("quantity"));
        assert!(
            message(r#"{"orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#)
                .contains("accountNo is missing")
        );
        assert!(
            message(r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1}"#)
                .contains("symbol")
        );
        assert!(message(
            r#"{"accountNo":"A","orderType":"LIMIT","symbol":"X","side":"BUY","quantity":1}"#
        )
        .contains("needs a price"));
        assert!(message(
            r#"{"accountNo":"A","orderType":"BUY_OPEN","symbol":"X","side":"BUY","quantity":1}"#
        )
        .contains("orderType"));
        assert!(message(
            r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"HOLD","quantity":1}"#
        )
        .contains("side"));
        assert!(message(
            r#"{"accountNo":5,"orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#
        )
        .contains("accountNo must be a string"));
    }

    #[test]
    fn malformed_bodies_are_invalid_orders() {
        for body in [
            "",
            "   ",
            "{",
            "[]",
            "null",
            "\"order\"",
            "{}x",
            "{\"accountNo\":}",
        ] {
            let reject = parse(body).unwrap_err();
            assert_eq!(reject.code, RejectCode::InvalidOrder, "{body:?}");
        }
        assert_eq!(
            parse_order(&[0xff, 0xfe]).unwrap_err().code,
            RejectCode::InvalidOrder
        );
    }

    #[test]
    fn numbers_are_strict() {
        let with = |quantity: &str| {
            format!(
                r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":{quantity}}}"#
            )
        };
        for bad in [
            r#""1_0""#,
            r#"" 1""#,
            r#""1 ""#,
            r#""+1""#,
            r#""1e1""#,
            r#"".5""#,
            r#""5.""#,
            r#""\u0031""#,
            r#""""#,
        ] {
            assert!(message(&with(bad)).contains("not a decimal"), "{bad}");
        }
        assert!(parse(&with("01")).is_err(), "not JSON");
        let size = |quantity: &str| parse(&with(quantity)).unwrap().size;
        assert_eq!(size("1e1"), Size::Quantity(Fixed::from_int(10).unwrap()));
        assert_eq!(
            size(r#""007.50""#),
            Size::Quantity(Fixed::parse("7.5").unwrap())
        );
    }

    #[test]
    fn an_order_may_name_its_instrument_three_ways() {
        let order = parse(
            r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,
                "symbol":"AAPL","instrumentID":"a674","ISIN":"US0378331005"}"#,
        )
        .unwrap();
        let given: Vec<_> = order.instrument.given().collect();
        assert_eq!(
            given,
            [
                (InstrumentKey::Symbol, "AAPL"),
                (InstrumentKey::InstrumentId, "a674"),
                (InstrumentKey::Isin, "US0378331005")
            ]
        );
        let order =
            parse(r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"ISIN":"US0378331005"}"#)
                .unwrap();
        assert_eq!(order.instrument.given().count(), 1);
        for body in [
            r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":"","instrumentID":"a"}"#,
            r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"ISIN":7}"#,
            r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":null}"#,
            r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":"X","symbol":"Y"}"#,
        ] {
            assert_eq!(
                parse(body).unwrap_err().code,
                RejectCode::InvalidOrder,
                "{body}"
            );
        }
    }

    #[test]
    fn the_whole_body_is_held_to_the_nesting_limit() {
        let with_extra = |depth: usize| {
            format!(
                r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1,"extra":{}{}}}"#,
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        assert!(parse_order_within(with_extra(8).as_bytes(), 8).is_ok());
        assert!(message(&with_extra(33)).contains("server.max_json_depth"));
        assert!(parse_order_within(with_extra(9).as_bytes(), 8).is_err());
        let cancel = format!(
            r#"{{"method":"CANCEL","x":{}{}}}"#,
            "{\"a\":".repeat(40),
            "}".repeat(40)
        );
        assert!(parse_cancel(cancel.as_bytes()).is_err());
    }

    #[test]
    fn client_id_problems_are_left_for_the_rules() {
        let with = |value: &str| {
            format!(
                r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1,"clientID":{value}}}"#
            )
        };
        assert_eq!(
            parse(&with("null")).unwrap().client_id,
            ClientIdField::Absent
        );
        assert_eq!(
            parse(&with("123456789")).unwrap().client_id,
            ClientIdField::WrongType
        );
        assert_eq!(
            parse(&with(r#""CUST0A19F""#)).unwrap().client_id,
            ClientIdField::Text("CUST0A19F".into())
        );
        assert_eq!(
            parse(&with(r#""A\u0042C""#)).unwrap().client_id,
            ClientIdField::Text("ABC".into())
        );
    }

    #[test]
    fn a_huge_string_body_is_not_quoted_back_whole() {
        let body = format!("\"{}\"", "x".repeat(60_000));
        assert!(parse_order(body.as_bytes()).unwrap_err().message.len() < 300);
        assert!(parse_cancel(body.as_bytes()).unwrap_err().message.len() < 300);
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "9".repeat(5000);
        let body = format!(
            r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":{long}}}"#
        );
        assert!(message(&body).len() < 200);
    }

    #[test]
    fn cancels_are_recognised() {
        assert_eq!(
            parse_cancel(br#"{"method":"CANCEL"}"#).unwrap(),
            OrderPatch::Cancel
        );
        assert_eq!(
            parse_cancel(br#"{"method":"REPLACE"}"#).unwrap(),
            OrderPatch::Other
        );
        assert!(parse_cancel(b"{").is_err());
        assert!(parse_cancel(b"{}").is_err());
    }
}
