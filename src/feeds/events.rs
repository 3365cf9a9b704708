//! DriveWealth events posted to `POST /admin/events` (SPEC §6).
//!
//! Envelope `{id, type, timestamp, payload}`. Events can arrive more than once and out of order;
//! duplicates are dropped by envelope `id` here, and order updates are applied idempotently by
//! `cumulativeQuantity` in the ledger, so a late update changes nothing.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::engine::{ChangeError, Durability, Engine};
use crate::instruments::InstrumentStatus;
use crate::json_shape::Shape;
use crate::ledger::{AccountIndex, OrderStatus, OrderUpdate, UpdateOutcome};
use crate::money::{self, Fixed};
use crate::reject::clip;

/// One event, as far as omnigate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `instruments.updated` (a status change, a ticker change) or `instruments.created`, by
    /// `instrumentID`.
    InstrumentUpdated {
        instrument_id: String,
        status: Option<InstrumentStatus>,
        symbol: Option<String>,
    },
    /// `orders.created` / `orders.updated` / `orders.completed`.
    Order(OrderPayload),
    /// `deposits.updated`.
    Deposit(DepositPayload),
    /// A type omnigate does not act on; acknowledged and ignored.
    Other(String),
}

/// The order fields of an order event or a proxied `GET /back-office/orders/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderPayload {
    pub id: String,
    /// A name or a numeric code, sent as a JSON string or number (kept as its text).
    #[serde(deserialize_with = "text_or_integer")]
    pub status: String,
    #[serde(
        rename = "cumulativeQuantity",
        default,
        deserialize_with = "money::exact::option"
    )]
    pub cumulative_quantity: Option<Fixed>,
    #[serde(
        rename = "averagePrice",
        default,
        deserialize_with = "money::exact::option"
    )]
    pub average_price: Option<Fixed>,
    #[serde(default, deserialize_with = "money::exact::option")]
    pub fees: Option<Fixed>,
    /// The partner's id for the order, carried back by DriveWealth: binds an in-doubt order.
    #[serde(rename = "clientOrderID", default)]
    pub client_order_id: Option<String>,
    #[serde(rename = "accountNo", default)]
    pub account_no: Option<String>,
    #[serde(rename = "accountID", default)]
    pub account_id: Option<String>,
}

impl OrderPayload {
    /// The ledger's reading of it; `None` for a status omnigate does not know.
    pub fn update(&self) -> Option<OrderUpdate> {
        Some(OrderUpdate {
            status: OrderStatus::parse(&self.status)?,
            cumulative_quantity: self.cumulative_quantity.unwrap_or(Fixed::ZERO),
            average_price: self.average_price.unwrap_or(Fixed::ZERO),
            fees: self.fees,
        })
    }
}

/// Applies an order status from any source (a proxied GET, an event, a poll).
///
/// An update for an orderId omnigate has not bound, carrying the `clientOrderID` and account of
/// an order held in doubt, is that order's answer (SPEC §6): the order is bound to the id first,
/// then the update applies. Any other update for an id not bound is parked until the id is bound
/// (an event can overtake the create's answer), and ages out if it never is.
pub fn learn(engine: &Engine, payload: &OrderPayload) -> (UpdateOutcome, Durability) {
    let Some(update) = payload.update() else {
        tracing::warn!(order_id = %payload.id, status = %payload.status, "unknown order status");
        return (UpdateOutcome::Duplicate, Durability::None);
    };
    let (outcome, durability) = engine.learn(&payload.id, update);
    if outcome != UpdateOutcome::UnknownOrder {
        return (outcome, durability);
    }
    if let Some(answered) = answer_in_doubt(engine, payload, update) {
        return answered;
    }
    // Perhaps the create's answer is still on its way: parked until the id is bound.
    let hint = payload
        .client_order_id
        .clone()
        .zip(account_of(engine, payload));
    let (outcome, durability) = engine.learn_or_park(&payload.id, update, hint);
    if outcome != UpdateOutcome::UnknownOrder {
        return (outcome, durability);
    }
    // Or the order went in doubt meanwhile (its timeout looked for parked updates before this
    // one was parked): it is bound here instead.
    answer_in_doubt(engine, payload, update).unwrap_or((outcome, durability))
}

/// The in-doubt order `payload` names by clientOrderID and account, bound to `payload.id`,
/// and `update` applied to it; `None` when there is none.
fn answer_in_doubt(
    engine: &Engine,
    payload: &OrderPayload,
    update: OrderUpdate,
) -> Option<(UpdateOutcome, Durability)> {
    let bound = bind_in_doubt(engine, payload)?;
    let (outcome, applied) = engine.learn(&payload.id, update);
    let outcome = match outcome {
        // Binding it was news even if the status was not.
        UpdateOutcome::Duplicate => UpdateOutcome::Applied,
        other => other,
    };
    Some((outcome, bound.and(applied)))
}

/// The omnibus account an order payload names (its accountNo, else its accountID where
/// accounts have ids, else the one shared balance).
fn account_of(engine: &Engine, payload: &OrderPayload) -> Option<AccountIndex> {
    match (&payload.account_no, &payload.account_id) {
        (Some(number), _) => engine.account_named(number),
        (None, Some(id)) if !engine.has_shared_balance() => engine.account_with_id(id),
        _ => Some(AccountIndex(0)),
    }
}

/// Binds the in-doubt order `payload` names by clientOrderID and account to `payload.id`.
fn bind_in_doubt(engine: &Engine, payload: &OrderPayload) -> Option<Durability> {
    let client_order_id = payload.client_order_id.as_deref()?;
    let account = account_of(engine, payload)?;
    let local = engine.in_doubt_by_client_order_id(client_order_id, account)?;
    match engine.resolve_in_doubt(local, Some(&payload.id)) {
        Ok(durability) => {
            tracing::warn!(%local, order_id = %payload.id, client_order_id, "in-doubt order bound by DriveWealth's answer");
            Some(durability)
        }
        Err(error) => {
            tracing::warn!(%error, %local, order_id = %payload.id, "in-doubt order not bound");
            None
        }
    }
}

/// What happened to a posted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    Duplicate,
    Ignored(String),
}

/// Applies one posted DriveWealth event; the caller acknowledges it once durable.
pub fn apply(engine: &Engine, body: &[u8]) -> Result<(EventOutcome, Durability), ChangeError> {
    let (id, event) = parse_event(body).map_err(ChangeError::Invalid)?;
    if !engine.first_sight_of_event(&id) {
        return Ok((EventOutcome::Duplicate, Durability::None));
    }
    match event {
        Event::InstrumentUpdated {
            instrument_id,
            status,
            symbol,
        } => {
            let Some(mut instrument) = engine.instrument_by_id(&instrument_id) else {
                // Asset class, exchange and fractionability are the partner's to give
                // (PUT /admin/instruments/{symbol}): an instrument is not guessed into the
                // master from an event.
                return Ok((
                    EventOutcome::Ignored(format!(
                        "instrumentID {} is not in the instrument master",
                        clip(&instrument_id)
                    )),
                    Durability::None,
                ));
            };
            let mut durability = Durability::None;
            if let Some(symbol) = symbol.filter(|symbol| *symbol != instrument.symbol) {
                durability = engine.rename_instrument(&instrument, &symbol)?;
                instrument = engine
                    .instrument_by_id(&instrument_id)
                    .unwrap_or(instrument);
            }
            if let Some(status) = status.filter(|status| *status != instrument.status()) {
                tracing::info!(symbol = %instrument.symbol, status = status.as_str(), "instrument status changed by event");
                durability = durability.and(engine.set_instrument_status(&instrument, status));
            }
            Ok((EventOutcome::Applied, durability))
        }
        Event::Order(payload) => {
            let (outcome, durability) = learn(engine, &payload);
            let outcome = match outcome {
                UpdateOutcome::Applied => EventOutcome::Applied,
                UpdateOutcome::Duplicate => EventOutcome::Duplicate,
                other => EventOutcome::Ignored(format!("{other:?}")),
            };
            Ok((outcome, durability))
        }
        Event::Deposit(deposit) => {
            let account = deposit_account(engine, &deposit)?;
            match deposit.deposit_status() {
                DepositStatus::Successful => {
                    match engine.credit_omni_payment(
                        account,
                        &deposit.payment_id,
                        deposit.amount,
                    )? {
                        Some(durability) => Ok((EventOutcome::Applied, durability)),
                        None => Ok((EventOutcome::Duplicate, Durability::None)),
                    }
                }
                DepositStatus::Returned => {
                    match engine.return_omni_payment(
                        account,
                        &deposit.payment_id,
                        deposit.amount,
                    )? {
                        Some(durability) => Ok((EventOutcome::Applied, durability)),
                        None => Ok((
                            EventOutcome::Ignored(format!(
                                "deposit {} was not credited here, or was returned already",
                                clip(&deposit.payment_id)
                            )),
                            Durability::None,
                        )),
                    }
                }
                DepositStatus::Other => Ok((
                    EventOutcome::Ignored(format!(
                        "deposit {} has status {}, neither 2 (successful) nor 5 (returned)",
                        clip(&deposit.payment_id),
                        clip(&deposit.status)
                    )),
                    Durability::None,
                )),
            }
        }
        Event::Other(kind) => Ok((
            EventOutcome::Ignored(format!("event type {kind}")),
            Durability::None,
        )),
    }
}

/// A JSON string, or an integer given as a number, as its text: DriveWealth sends order and
/// deposit statuses both ways.
fn text_or_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Integer(i64),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::Text(text) => text,
        Either::Integer(number) => number.to_string(),
    })
}

/// The omnibus account a deposit names: by `accountNo`, or by DriveWealth's `accountID` (the
/// `account_id` of an `[[omnibus.accounts]]` table; the shared balance of `account_numbers` has
/// no id to compare, so any accountID is taken as it), both agreeing if both are given. Neither:
/// the first account.
fn deposit_account(engine: &Engine, deposit: &DepositPayload) -> Result<AccountIndex, ChangeError> {
    let by_number = match &deposit.account_no {
        Some(number) => Some(engine.account_named(number).ok_or_else(|| {
            ChangeError::Invalid(format!(
                "deposits.updated for account {:?}, which is not an omnibus account",
                clip(number)
            ))
        })?),
        None => None,
    };
    let by_id = match &deposit.account_id {
        Some(id) => match engine.account_with_id(id) {
            Some(found) => Some(found),
            None if engine.has_shared_balance() => None,
            None => {
                return Err(ChangeError::Invalid(format!(
                    "deposits.updated for accountID {:?}, which is no omnibus account's account_id",
                    clip(id)
                )))
            }
        },
        None => None,
    };
    match (by_number, by_id) {
        (Some(number), Some(id)) if number != id => Err(ChangeError::Invalid(
            "deposits.updated names two different omnibus accounts (accountNo and accountID)"
                .to_owned(),
        )),
        (Some(account), _) | (None, Some(account)) => Ok(account),
        (None, None) => Ok(AccountIndex(0)),
    }
}

/// The fields of a `deposits.updated` payload that move omni cash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DepositPayload {
    #[serde(rename = "paymentID")]
    pub payment_id: String,
    #[serde(deserialize_with = "money::exact::deserialize")]
    pub amount: Fixed,
    /// DriveWealth sends a number (2 successful, 5 returned, …); a name is read too.
    #[serde(deserialize_with = "text_or_integer")]
    pub status: String,
    #[serde(rename = "accountNo", default)]
    pub account_no: Option<String>,
    /// DriveWealth's accountID (its events name the account this way).
    #[serde(rename = "accountID", default)]
    pub account_id: Option<String>,
}

/// What a deposit's status means for the omni account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositStatus {
    /// 2, "Successful": the money arrived.
    Successful,
    /// 5, "Returned": money credited before went back.
    Returned,
    /// Started, pending, failed, on hold, …: nothing moves.
    Other,
}

impl DepositPayload {
    pub fn deposit_status(&self) -> DepositStatus {
        let status = self.status.trim();
        if status == "2" || status.eq_ignore_ascii_case("successful") {
            DepositStatus::Successful
        } else if status == "5" || status.eq_ignore_ascii_case("returned") {
            DepositStatus::Returned
        } else {
            DepositStatus::Other
        }
    }

    pub fn is_successful(&self) -> bool {
        self.deposit_status() == DepositStatus::Successful
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct InstrumentPayload {
    #[serde(rename = "instrumentID")]
    instrument_id: String,
    /// `instruments.updated`: what changed.
    #[serde(default)]
    current: Option<InstrumentChange>,
    /// `instruments.created`: the instrument itself.
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct InstrumentChange {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    symbol: Option<String>,
}

/// Parses an envelope: `(event id, event)`, or why it cannot be read.
pub fn parse_event(body: &[u8]) -> Result<(String, Event), String> {
    if !Shape::Object.opens(body) {
        return Err(format!(
            "an event envelope must be {}",
            Shape::Object.name()
        ));
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|error| format!("not an event envelope: {}", clip(error)))?;
    if envelope.id.trim().is_empty() || envelope.id.len() > 128 {
        return Err("the event id must be 1 to 128 characters".to_owned());
    }
    let payload = envelope.payload.get();
    let known = matches!(
        envelope.kind.as_str(),
        "instruments.updated"
            | "instruments.created"
            | "orders.created"
            | "orders.updated"
            | "orders.completed"
            | "deposits.updated"
    );
    if known && !Shape::Object.opens(payload.as_bytes()) {
        return Err(format!(
            "a {} payload must be {}",
            clip(&envelope.kind),
            Shape::Object.name()
        ));
    }
    let event = match envelope.kind.as_str() {
        "instruments.updated" | "instruments.created" => {
            let kind = envelope.kind.as_str();
            let payload: InstrumentPayload = serde_json::from_str(payload)
                .map_err(|error| format!("{kind} payload: {}", clip(error)))?;
            let (status, symbol) = match payload.current {
                Some(current) => (current.status, current.symbol),
                None => (payload.status, payload.symbol),
            };
            let status = match status {
                None => None,
                Some(text) => Some(InstrumentStatus::parse(&text).ok_or_else(|| {
                    // Clipped after quoting: quoting can make a character ten bytes long.
                    format!(
                        "instruments.updated: status {} is not ACTIVE, INACTIVE, CLOSE_ONLY or HALTED",
                        clip(format!("{text:?}"))
                    )
                })?),
            };
            Event::InstrumentUpdated {
                instrument_id: payload.instrument_id,
                status,
                symbol,
            }
        }
        "orders.created" | "orders.updated" | "orders.completed" => Event::Order(
            serde_json::from_str(payload)
                .map_err(|error| format!("{} payload: {}", clip(&envelope.kind), clip(error)))?,
        ),
        "deposits.updated" => Event::Deposit(
            serde_json::from_str(payload)
                .map_err(|error| format!("deposits.updated payload: {}", clip(error)))?,
        ),
        other => Event::Other(other.to_owned()),
    };
    Ok((envelope.id, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_halt_event_parses() {
        let body = br#"{
            "id": "event_17913550-6db0-4086-9137-3fd728bd6821",
            "type": "instruments.updated",
            "timestamp": "2019-08-21T16:41:53.938331938Z",
            "payload": {
                "instrumentID": "26fa9515-d1c6-44ce-93b2-b94430451508",
                "previous": { "status": "ACTIVE" },
                "current": { "status": "HALTED" }
            }
        }"#;
        let (id, event) = parse_event(body).unwrap();
        assert_eq!(id, "event_17913550-6db0-4086-9137-3fd728bd6821");
        assert_eq!(
            event,
            Event::InstrumentUpdated {
                instrument_id: "26fa9515-d1c6-44ce-93b2-b94430451508".to_owned(),
                status: Some(InstrumentStatus::Halted),
                symbol: None,
            }
        );
    }

    #[test]
    fn order_and_deposit_payloads_read_numbers_exactly() {
        let (_, event) = parse_event(
            br#"{"id":"e1","type":"orders.updated","timestamp":"t","payload":{"id":"GC.1",
            "status":"PARTIAL_FILL","cumulativeQuantity":5,"averagePrice":155.12345678,"fees":0.1}}"#,
        )
        .unwrap();
        let Event::Order(order) = event else { panic!() };
        assert_eq!(order.average_price.unwrap().to_string(), "155.12345678");
        assert_eq!(order.fees.unwrap().to_string(), "0.1");
        let (_, event) = parse_event(
            br#"{"id":"e2","type":"deposits.updated","timestamp":"t","payload":{"paymentID":"p1",
            "amount":100.10,"status":2,"statusMessage":"Successful","currency":"USD"}}"#,
        )
        .unwrap();
        let Event::Deposit(deposit) = event else {
            panic!()
        };
        assert!(deposit.is_successful());
        assert_eq!(deposit.amount.to_string(), "100.1");
    }

    #[test]
    fn bad_envelopes_say_why() {
        assert!(parse_event(b"{}").unwrap_err().contains("envelope"));
        let bad_status = br#"{"id":"e","type":"instruments.updated","payload":{"instrumentID":"x","current":{"status":"PAUSED"}}}"#;
        assert!(parse_event(bad_status).unwrap_err().contains("PAUSED"));
        let other = br#"{"id":"e","type":"accounts.updated","payload":{}}"#;
        assert_eq!(
            parse_event(other).unwrap().1,
            Event::Other("accounts.updated".into())
        );
        // serde's derive would read arrays as the fields in order: one body, one reading.
        let envelope = br#"["e","deposits.updated",{"id":"p","paymentID":"p","amount":5}]"#;
        assert!(parse_event(envelope).unwrap_err().contains("JSON object"));
        let payload = br#"{"id":"e","type":"deposits.updated","payload":["p","DWOM000001",5]}"#;
        let reason = parse_event(payload).unwrap_err();
        assert!(
            reason.contains("deposits.updated payload must be a JSON object"),
            "{reason}"
        );
    }

    #[test]
    fn quoting_does_not_lengthen_a_reason_past_its_bound() {
        // Found by the fuzz campaign: 200 control characters, each quoted as `\u{7}`.
        let body = format!(
            r#"{{"id":"e","type":"instruments.updated","payload":{{"instrumentID":"x","current":{{"status":"{}"}}}}}}"#,
            "\\u0007".repeat(200)
        );
        assert!(parse_event(body.as_bytes()).unwrap_err().len() <= 300);
    }

    #[test]
    fn huge_inputs_are_not_quoted_back_whole() {
        let body = format!("\"{}\"", "x".repeat(60_000));
        assert!(parse_event(body.as_bytes()).unwrap_err().len() < 300);
        let status = format!(
            r#"{{"id":"e","type":"instruments.updated","payload":{{"instrumentID":"x","current":{{"status":"{}"}}}}}}"#,
            "x".repeat(60_000)
        );
        assert!(parse_event(status.as_bytes()).unwrap_err().len() < 300);
    }
}
