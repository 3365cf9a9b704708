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
#[inline]
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

/// The raw text (as [`parse_order`] reads it: strings with their quotes) of the top-level
/// fields `names` of a body that is one JSON object, within serde_json's own nesting limit;
/// `None` if the body is not one, or gives one of `names` twice. For readers that keep what a
/// client sent without deciding on it (the audit trail), with the parser's verdicts.
pub fn raw_fields<'a, const N: usize>(
    body: &'a [u8],
    names: &[&'static str; N],
) -> Option<[Option<&'a str>; N]> {
    let text = std::str::from_utf8(body).ok()?;
    let mut fields = [None; N];
    let index_of = |key: &[u8]| names.iter().position(|name| name.as_bytes() == key);
    // No limit of its own: the scan stops at serde_json's.
    scan_object(text, index_of, names, usize::MAX, &mut fields).ok()?;
    Some(fields)
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
        Some(value) if is_blank(&value) => Err(Reject::invalid(format!("{field} is blank"))),
        other => Ok(other),
    }
}

/// A field's value is empty or only white space (Unicode's), as `trim` measures it. A value
/// starting with a visible ASCII byte, as every real one does, is answered without decoding a
/// character. The `clientID` rules judge blankness by it too.
pub fn is_blank(value: &str) -> bool {
    match value.as_bytes().first() {
        Some(&first) if first.is_ascii_graphic() => false,
        _ => value.trim().is_empty(),
    }
}

/// The text of a JSON string, borrowed when it has no escapes; `None` if `text` is not a string.
/// `text` is one valid JSON value, as [`raw_fields`] gives it.
pub fn json_string(text: &str) -> Option<Cow<'_, str>> {
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
        Some(value) if !is_blank(&value) => Ok(value),
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
mod tests;
