//! The simulator's wire shapes: request bodies in, DriveWealth JSON out. Pure functions.
//!
//! One piece, though long: every shape the simulator reads or writes, side by side, so the
//! simulator's whole DriveWealth contract can be checked against `drivewealth/` in one file.
//!
//! Numbers are never read through `f64`: each numeric field is taken as raw JSON text
//! ([`RawValue`]) and parsed exactly by [`Fixed::parse`], whether it was sent as a JSON number
//! (`5.12580012`) or a decimal string (`"5.12580012"`). Numbers are written back as JSON
//! numbers from `Fixed`'s shortest exact form, as DriveWealth answers them.

use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::order::{Order, OrderRequest, OrderType, Side, Size, Status};
use crate::instruments::InstrumentStatus;
pub use crate::json_out::JsonObject;
use crate::money::{Fixed, FixedError};
use crate::order::TimeInForce;

/// DriveWealth's message for `E032` (from its OpenAPI examples); the specifics go in
/// `errorDetails.detail`.
const E032_MESSAGE: &str =
    "Invalid or missing parameters in the request body. Refer to the API documentation for details.";

/// Longest text field read (a symbol, an id, a `clientOrderID`).
pub const TEXT_BYTES_MAX: usize = 256;

/// Most entries one `POST /sim/prices` may carry.
pub const PRICE_ENTRIES_MAX: usize = 10_000;

/// A DriveWealth error answer: `{"errorCode", "message", "errorDetails"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub details: Option<ErrorDetails>,
}

/// `errorDetails`: which field, its expected type (DriveWealth's STRING, DECIMAL, …), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetails {
    pub field: &'static str,
    pub kind: &'static str,
    pub detail: String,
    pub allowed_values: Option<&'static str>,
}

impl ApiError {
    /// 400 `E032`: a missing, malformed or wrong-typed field.
    pub fn invalid(field: &'static str, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "E032",
            message: E032_MESSAGE.to_owned(),
            details: Some(ErrorDetails {
                field,
                kind,
                detail: detail.into(),
                allowed_values: None,
            }),
        }
    }

    /// 400 `E032` for an enum field with a value outside `allowed`.
    pub fn not_allowed(field: &'static str, allowed: &'static str, detail: String) -> Self {
        let mut error = Self::invalid(field, "STRING", detail);
        if let Some(details) = error.details.as_mut() {
            details.allowed_values = Some(allowed);
        }
        error
    }

    pub fn plain(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// 422 `A051`, DriveWealth's restricted-account answer (it documents 403; the simulator
    /// answers 422 so tests get a 4xx that is not an auth error).
    pub fn account_restricted() -> Self {
        Self::plain(422, "A051", "Account is restricted")
    }

    pub fn order_not_found(id: &str) -> Self {
        Self::plain(404, "O001", format!("Order not found. orderID={id}"))
    }

    pub fn not_cancelable(id: &str, status: Status) -> Self {
        let why = if status.is_final() {
            format!("it is already {}", status.as_str())
        } else {
            "crypto orders cannot be canceled".to_owned()
        };
        Self::plain(
            422,
            "O002",
            format!("Order cannot be canceled: {why}. orderID={id}"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::plain(503, "E503", message)
    }

    pub fn no_route(method: &str, path: &str) -> Self {
        Self::plain(404, "E404", format!("No such endpoint: {method} {path}"))
    }

    pub fn body_too_large(limit_bytes: usize) -> Self {
        Self::plain(
            413,
            "E032",
            format!("Request body is larger than {limit_bytes} bytes"),
        )
    }

    pub fn body(&self) -> String {
        let mut object = JsonObject::new();
        object
            .string("errorCode", self.code)
            .string("message", &self.message);
        if let Some(details) = &self.details {
            let mut inner = JsonObject::new();
            inner
                .string("field", details.field)
                .string("type", details.kind)
                .string("detail", &details.detail);
            if let Some(allowed) = details.allowed_values {
                inner.string("allowedValues", allowed);
            }
            object.raw("errorDetails", &inner.finish());
        }
        object.finish()
    }
}

/// The create-order fields the simulator reads; everything else DriveWealth accepts is ignored.
/// `null` reads as absent.
#[derive(Deserialize)]
struct CreateFields<'a> {
    #[serde(borrow, rename = "accountNo")]
    account_no: Option<&'a RawValue>,
    #[serde(borrow, rename = "orderType")]
    order_type: Option<&'a RawValue>,
    #[serde(borrow)]
    side: Option<&'a RawValue>,
    #[serde(borrow)]
    symbol: Option<&'a RawValue>,
    #[serde(borrow, rename = "instrumentID")]
    instrument_id: Option<&'a RawValue>,
    #[serde(borrow)]
    quantity: Option<&'a RawValue>,
    #[serde(borrow, rename = "amountCash")]
    amount_cash: Option<&'a RawValue>,
    #[serde(borrow)]
    price: Option<&'a RawValue>,
    #[serde(borrow, rename = "clientOrderID")]
    client_order_id: Option<&'a RawValue>,
    #[serde(borrow, rename = "timeInForce")]
    time_in_force: Option<&'a RawValue>,
    #[serde(borrow, rename = "preventQueuing")]
    prevent_queuing: Option<&'a RawValue>,
}

/// Reads a `POST /back-office/orders` body.
pub fn parse_create(body: &[u8]) -> Result<OrderRequest, ApiError> {
    let fields: CreateFields = serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid("body", "OBJECT", format!("not an order: {error}")))?;

    let account_no = required_text(fields.account_no, "accountNo")?;
    let order_type = required_text(fields.order_type, "orderType")?;
    let order_type = OrderType::parse(&order_type).ok_or_else(|| {
        ApiError::not_allowed(
            "orderType",
            OrderType::ALLOWED,
            format!(
                "orderType {order_type:?} is not one of {}",
                OrderType::ALLOWED
            ),
        )
    })?;
    let side = required_text(fields.side, "side")?;
    let side = Side::parse(&side).ok_or_else(|| {
        ApiError::not_allowed(
            "side",
            Side::ALLOWED,
            format!("side {side:?} is not one of {}", Side::ALLOWED),
        )
    })?;

    let symbol = optional_text(fields.symbol, "symbol")?;
    let instrument_id = optional_text(fields.instrument_id, "instrumentID")?;
    if symbol.is_none() && instrument_id.is_none() {
        return Err(ApiError::invalid(
            "symbol",
            "STRING",
            "one of symbol or instrumentID is required",
        ));
    }

    let quantity = optional_decimal(fields.quantity, "quantity")?;
    let amount_cash = optional_decimal(fields.amount_cash, "amountCash")?;
    let size = match (quantity, amount_cash) {
        (Some(quantity), None) => Size::Quantity(quantity),
        (None, Some(cash)) => Size::AmountCash(cash),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "quantity/amountCash",
                "DECIMAL",
                "cannot specify both quantity and amountCash",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "quantity/amountCash",
                "DECIMAL",
                "one of quantity or amountCash is required",
            ))
        }
    };

    let price = optional_decimal(fields.price, "price")?;
    if order_type.needs_price() && price.is_none() {
        return Err(ApiError::invalid(
            "price",
            "DECIMAL",
            format!("price is required for {} orders", order_type.as_str()),
        ));
    }
    let client_order_id = optional_text(fields.client_order_id, "clientOrderID")?;
    let time_in_force = match optional_text(fields.time_in_force, "timeInForce")? {
        None => None,
        Some(text) => Some(TimeInForce::parse(&text).ok_or_else(|| {
            ApiError::not_allowed(
                "timeInForce",
                TimeInForce::ALLOWED,
                format!(
                    "timeInForce {text:?} is not one of {}",
                    TimeInForce::ALLOWED
                ),
            )
        })?),
    };
    // DriveWealth's default: DAY for MARKET and LIMIT, GTC for STOP and MARKET_IF_TOUCHED.
    let good_till_canceled = match time_in_force {
        None => matches!(order_type, OrderType::Stop | OrderType::MarketIfTouched),
        Some(time_in_force) => time_in_force == TimeInForce::Gtc,
    };
    let extended_hours = time_in_force == Some(TimeInForce::Gtx);
    let prevent_queuing = match fields.prevent_queuing.map(RawValue::get) {
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "preventQueuing",
                "BOOL",
                "preventQueuing must be true or false",
            ))
        }
    };

    Ok(OrderRequest {
        account_no,
        order_type,
        side,
        symbol,
        instrument_id,
        size,
        price,
        client_order_id,
        extended_hours,
        prevent_queuing,
        good_till_canceled,
    })
}

/// Reads a `PATCH /back-office/orders/{id}` body: `{"method": "CANCEL", …}`.
pub fn parse_cancel(body: &[u8]) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct CancelFields<'a> {
        #[serde(borrow)]
        method: Option<&'a RawValue>,
    }
    let fields: CancelFields = serde_json::from_slice(body).map_err(|error| {
        ApiError::invalid("body", "OBJECT", format!("not an order update: {error}"))
    })?;
    let method = required_text(fields.method, "method")?;
    if method != "CANCEL" {
        return Err(ApiError::not_allowed(
            "method",
            "CANCEL",
            format!("method {method:?} is not supported"),
        ));
    }
    Ok(())
}

/// Reads a `POST /sim/prices` body: `[{"symbol": "AAPL", "price": "190.00"}, …]`.
pub fn parse_prices(body: &[u8]) -> Result<Vec<(String, Fixed)>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PriceEntry<'a> {
        #[serde(borrow)]
        symbol: Option<&'a RawValue>,
        #[serde(borrow)]
        price: Option<&'a RawValue>,
    }
    let entries: Vec<PriceEntry> = serde_json::from_slice(body).map_err(|error| {
        ApiError::invalid(
            "body",
            "ARRAY",
            format!("expected [{{\"symbol\", \"price\"}}]: {error}"),
        )
    })?;
    if entries.len() > PRICE_ENTRIES_MAX {
        return Err(ApiError::invalid(
            "body",
            "ARRAY",
            format!(
                "{} entries, at most {PRICE_ENTRIES_MAX} per call",
                entries.len()
            ),
        ));
    }
    entries
        .into_iter()
        .map(|entry| {
            let symbol = required_text(entry.symbol, "symbol")?;
            let price = optional_decimal(entry.price, "price")?
                .ok_or_else(|| ApiError::invalid("price", "DECIMAL", "price is required"))?;
            Ok((symbol, price))
        })
        .collect()
}

/// Reads a `POST /sim/instruments/{symbol}` body: `{"status": "HALTED"}`.
pub fn parse_instrument_status(body: &[u8]) -> Result<InstrumentStatus, ApiError> {
    const ALLOWED: &str = "ACTIVE, INACTIVE, CLOSE_ONLY, HALTED";
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StatusFields {
        status: String,
    }
    let fields: StatusFields = serde_json::from_slice(body).map_err(|error| {
        ApiError::invalid(
            "body",
            "OBJECT",
            format!("expected {{\"status\"}}: {error}"),
        )
    })?;
    InstrumentStatus::parse(&fields.status).ok_or_else(|| {
        ApiError::not_allowed(
            "status",
            ALLOWED,
            format!("status {:?} is not one of {ALLOWED}", fields.status),
        )
    })
}

/// `PUT /sim/fills`: every field optional; only the given ones change.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FillsUpdate {
    pub paused: Option<bool>,
    pub fill_delay_ms: Option<u64>,
}

/// `PUT /sim/faults`: every field optional; only the given ones change.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    pub latency_ms: Option<u64>,
    pub timeout_pct: Option<u8>,
    pub error_pct: Option<u8>,
    pub reset_pct: Option<u8>,
}

pub fn parse_fills(body: &[u8]) -> Result<FillsUpdate, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid("body", "OBJECT", format!("{error}")))
}

pub fn parse_faults(body: &[u8]) -> Result<FaultsUpdate, ApiError> {
    let update: FaultsUpdate = serde_json::from_slice(body)
        .map_err(|error| ApiError::invalid("body", "OBJECT", format!("{error}")))?;
    for (field, pct) in [
        ("timeout_pct", update.timeout_pct),
        ("error_pct", update.error_pct),
        ("reset_pct", update.reset_pct),
    ] {
        if let Some(pct) = pct.filter(|pct| *pct > 100) {
            return Err(ApiError::invalid(
                field,
                "INT",
                format!("{field} {pct} is above 100"),
            ));
        }
    }
    Ok(update)
}

fn required_text(raw: Option<&RawValue>, field: &'static str) -> Result<String, ApiError> {
    optional_text(raw, field)?
        .ok_or_else(|| ApiError::invalid(field, "STRING", format!("{field} is required")))
}

/// A non-empty JSON string, or absent.
fn optional_text(raw: Option<&RawValue>, field: &'static str) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text: String = serde_json::from_str(raw.get())
        .map_err(|_| ApiError::invalid(field, "STRING", format!("{field} must be a string")))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid(
            field,
            "STRING",
            format!("{field} must not be empty"),
        ));
    }
    // Kept with the order and repeated in its events: bounded, whatever the body's size.
    if text.len() > TEXT_BYTES_MAX {
        return Err(ApiError::invalid(
            field,
            "STRING",
            format!("{field} is longer than {TEXT_BYTES_MAX} bytes"),
        ));
    }
    Ok(Some(text))
}

/// A positive decimal with at most 8 places, as a JSON number or a decimal string; or absent.
fn optional_decimal(
    raw: Option<&RawValue>,
    field: &'static str,
) -> Result<Option<Fixed>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw.get();
    let wrong_type = || {
        ApiError::invalid(
            field,
            "DECIMAL",
            format!("{field} must be a number or a decimal string, not {text}"),
        )
    };
    let parsed = if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).map_err(|_| wrong_type())?;
        Fixed::parse(&inner)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        // JSON's number grammar is a subset of what `Fixed::parse` reads.
        Fixed::parse(text)
    } else {
        return Err(wrong_type());
    };
    let value = parsed.map_err(|error| {
        let why = match error {
            FixedError::TooPrecise => "has more than 8 decimal places",
            FixedError::Overflow => "is out of range",
            FixedError::NotANumber => "is not a decimal number",
        };
        ApiError::invalid(field, "DECIMAL", format!("{field} {text} {why}"))
    })?;
    if !value.is_positive() {
        return Err(ApiError::invalid(
            field,
            "DECIMAL",
            format!("{field} must be positive, not {text}"),
        ));
    }
    Ok(Some(value))
}

/// `{"orderId", "orderNo"}`: the answer to a create and to a cancel.
pub fn order_ids(order: &Order) -> String {
    let mut object = JsonObject::new();
    object
        .string("orderId", &order.id)
        .string("orderNo", &order.order_no);
    object.finish()
}

/// One entry of `summary/orders`: DriveWealth's names there (`orderID`, `cumQty`, `orderQty`)
/// and FIX codes (`orderStatus` '0' new, '1' partially filled, 'A' pending new; `side` B/S).
pub fn resting_order(order: &Order) -> JsonObject {
    let request = &order.request;
    let mut object = JsonObject::new();
    object
        .string("orderID", &order.id)
        .string("orderNo", &order.order_no)
        .string("symbol", request.instrument())
        .string(
            "orderStatus",
            match order.status() {
                Status::Pending => "A",
                _ if order.cumulative_quantity().is_zero() => "0",
                _ => "1",
            },
        )
        .string("side", if request.side == Side::Buy { "B" } else { "S" })
        .number("cumQty", order.cumulative_quantity())
        .number("orderQty", order.quantity())
        .string(
            "createdWhen",
            &order.created.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
    object
}

/// How `orderExpires` is spelled: `OrderExpires` in `OrderStatusResponse`, `orderExpires` in
/// event payloads (both as in DriveWealth's OpenAPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    StatusResponse,
    EventPayload,
}

/// The order in DriveWealth's `OrderStatusResponse` (or event payload) shape, left open so
/// that callers can add fields before [`JsonObject::finish`].
pub fn order_status(order: &Order, shape: Shape) -> JsonObject {
    let request = &order.request;
    let mut object = JsonObject::new();
    object
        .string("id", &order.id)
        .string("orderNo", &order.order_no)
        .string("type", request.order_type.as_str())
        .string("side", request.side.as_str())
        .string("status", order.status().as_str())
        .string("symbol", request.instrument());
    if let Some(instrument_id) = &request.instrument_id {
        object.string("instrumentID", instrument_id);
    }
    object
        .number("averagePrice", order.average_price())
        .number("cumulativeQuantity", order.cumulative_quantity())
        .number("quantity", order.quantity());
    if let Some(cash) = order.amount_cash() {
        object.number("amountCash", cash);
    }
    if let Some(price) = request.price {
        let key = match request.order_type {
            OrderType::Limit => "limitPrice",
            _ => "triggerPrice",
        };
        object.number(key, price);
    }
    object
        .number("totalOrderAmount", order.total_order_amount())
        .number("fees", Fixed::ZERO)
        .string("accountNo", &request.account_no);
    if let Some(client_order_id) = &request.client_order_id {
        object.string("clientOrderID", client_order_id);
    }
    object.string(
        "created",
        &order.created.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    if let Some(expires) = order.placement.expires {
        let key = match shape {
            Shape::StatusResponse => "OrderExpires",
            Shape::EventPayload => "orderExpires",
        };
        object.string(key, &expires.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    if let Some(reason) = order.status_message() {
        let mut message = JsonObject::new();
        message.string("message", reason);
        object.raw("statusMessage", &message.finish());
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    fn field_of(error: ApiError) -> &'static str {
        assert_eq!(error.status, 400);
        assert_eq!(error.code, "E032");
        error.details.unwrap().field
    }

    #[test]
    fn reads_numbers_and_decimal_strings_exactly() {
        let body = br#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY",
            "symbol":"AAPL","quantity":5.12580012,"clientOrderID":"c-1","extra":{"x":[1.5]}}"#;
        let request = parse_create(body).unwrap();
        assert_eq!(request.size, Size::Quantity(fixed("5.12580012")));
        assert_eq!(request.client_order_id.as_deref(), Some("c-1"));
        assert_eq!(request.instrument(), "AAPL");

        let body = br#"{"accountNo":"A","orderType":"LIMIT","side":"SELL",
            "instrumentID":"a1b2","amountCash":"0.10000001","price":"1e2"}"#;
        let request = parse_create(body).unwrap();
        assert_eq!(request.size, Size::AmountCash(fixed("0.10000001")));
        assert_eq!(request.price, Some(fixed("100")));
        assert_eq!(request.instrument(), "a1b2");
        assert_eq!(request.side, Side::Sell);
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases: [(&[u8], &str); 14] = [
            (b"not json", "body"),
            (b"[1]", "body"),
            (br#"{"orderType":"MARKET","side":"BUY","symbol":"A","quantity":1}"#, "accountNo"),
            (br#"{"accountNo":"","orderType":"MARKET","side":"BUY","symbol":"A","quantity":1}"#, "accountNo"),
            (br#"{"accountNo":7,"orderType":"MARKET","side":"BUY","symbol":"A","quantity":1}"#, "accountNo"),
            (br#"{"accountNo":"A","orderType":"market","side":"BUY","symbol":"A","quantity":1}"#, "orderType"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"HOLD","symbol":"A","quantity":1}"#, "side"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1}"#, "symbol"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A"}"#, "quantity/amountCash"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A","quantity":1,"amountCash":5}"#, "quantity/amountCash"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A","quantity":1.123456789}"#, "quantity"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A","quantity":-1}"#, "quantity"),
            (br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A","quantity":true}"#, "quantity"),
            (br#"{"accountNo":"A","orderType":"STOP","side":"BUY","symbol":"A","quantity":1}"#, "price"),
        ];
        for (body, field) in cases {
            let error = parse_create(body).unwrap_err();
            let text = error.body();
            assert_eq!(field_of(error), field, "{}", String::from_utf8_lossy(body));
            assert!(
                text.starts_with(r#"{"errorCode":"E032","message":"#),
                "{text}"
            );
        }
        let long = "x".repeat(TEXT_BYTES_MAX + 1);
        let body = format!(
            r#"{{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A","quantity":1,"clientOrderID":"{long}"}}"#
        );
        assert_eq!(
            field_of(parse_create(body.as_bytes()).unwrap_err()),
            "clientOrderID"
        );
        let at_most = body.replace(&long, &long[1..]);
        assert!(parse_create(at_most.as_bytes()).is_ok());
    }

    #[test]
    fn null_reads_as_absent() {
        let body = br#"{"accountNo":"A","orderType":"MARKET","side":"BUY","symbol":"A",
            "quantity":null,"amountCash":25,"price":null,"clientOrderID":null}"#;
        let request = parse_create(body).unwrap();
        assert_eq!(request.size, Size::AmountCash(fixed("25")));
        assert_eq!(request.price, None);
    }

    #[test]
    fn cancel_body_needs_method_cancel() {
        assert!(parse_cancel(br#"{"method":"CANCEL","cancelDetails":{}}"#).is_ok());
        assert_eq!(
            field_of(parse_cancel(br#"{"method":"AMEND"}"#).unwrap_err()),
            "method"
        );
        assert_eq!(field_of(parse_cancel(b"{}").unwrap_err()), "method");
        assert_eq!(field_of(parse_cancel(b"").unwrap_err()), "body");
    }

    #[test]
    fn prices_and_switches() {
        let prices =
            parse_prices(br#"[{"symbol":"AAPL","price":"190.00"},{"symbol":"X","price":0.5}]"#)
                .unwrap();
        assert_eq!(
            prices,
            vec![
                ("AAPL".to_owned(), fixed("190")),
                ("X".to_owned(), fixed("0.5"))
            ]
        );
        assert!(parse_prices(br#"[{"symbol":"AAPL","price":"0"}]"#).is_err());
        assert!(parse_prices(br#"[{"symbol":"AAPL","prize":"1"}]"#).is_err());
        assert_eq!(
            parse_fills(br#"{"paused":true}"#).unwrap(),
            FillsUpdate {
                paused: Some(true),
                fill_delay_ms: None
            }
        );
        assert!(parse_fills(br#"{"pause":true}"#).is_err());
        assert_eq!(
            parse_faults(br#"{"error_pct":100}"#).unwrap().error_pct,
            Some(100)
        );
        assert_eq!(
            field_of(parse_faults(br#"{"reset_pct":101}"#).unwrap_err()),
            "reset_pct"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut object = JsonObject::new();
        object
            .string("a\"b", "line\nbreak \\ \u{1}")
            .number("n", fixed("5.12580012"))
            .boolean("b", false);
        let text = object.finish();
        assert_eq!(
            text,
            r#"{"a\"b":"line\nbreak \\ \u0001","n":5.12580012,"b":false}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["a\"b"], "line\nbreak \\ \u{1}");
    }

    #[test]
    fn error_bodies_have_drivewealth_shape() {
        let body = ApiError::account_restricted().body();
        assert_eq!(
            body,
            r#"{"errorCode":"A051","message":"Account is restricted"}"#
        );
        let body = ApiError::not_allowed("side", Side::ALLOWED, "x".to_owned()).body();
        assert!(body.ends_with(
            r#""errorDetails":{"field":"side","type":"STRING","detail":"x","allowedValues":"BUY, SELL"}}"#
        ));
    }
}
