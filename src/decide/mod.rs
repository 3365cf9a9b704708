//! The decision: may this order leave?
//!
//! [`decide`] is a pure function of the order, the rules (built once from the config), the
//! instrument master, the customer registry and an injected `now`. It does no I/O, reads no clock
//! and allocates only to explain a rejection. Reserving buying power is the next step (the
//! ledger), so that the check and the reservation are one atomic act there.
//!
//! Checks run cheapest first, in SPEC §3.1's order; the first failing one decides:
//!
//! | # | check | code |
//! | --- | --- | --- |
//! | 1 | `accountNo` is an omnibus account | `ACCOUNT_NOT_ALLOWED` |
//! | 2 | `clientID` present, well-formed, registered | `CLIENT_ID_MISSING` / `_INVALID` / `_UNKNOWN` |
//! | 3 | instrument known and tradable | `INSTRUMENT_UNKNOWN` / `INSTRUMENT_NOT_TRADABLE` |
//! | 4 | halts | `INSTRUMENT_HALTED` |
//! | 5 | order type, fractional and size rules | `ORDER_TYPE_NOT_ALLOWED` / `FRACTIONAL_NOT_ALLOWED` / `ORDER_SIZE_INVALID` |
//! | 6 | market hours and `preventQueuing` | `MARKET_CLOSED` |
//!
//! (Parsing, before this, owns `INVALID_ORDER`; the ledger, after it, owns buying power.)

mod cancel;
mod cost;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::America::New_York;

use crate::config::{Config, WholeShareOnHalt};
use crate::instruments::{Instrument, InstrumentMaster, InstrumentStatus, Unresolved};
use crate::order::{ClientIdField, Order, OrderType, Side, Size};
use crate::reject::{Reject, RejectCode};
use crate::rules::client_id::ClientIdRules;
use crate::rules::market_hours::MarketCalendar;

pub use cancel::{decide_cancel, QueuedOrder};
pub use cost::{hold_for, Hold};

/// Whether a `clientID` is a registered customer (the ledger's registry answers).
pub trait CustomerDirectory {
    fn is_registered(&self, client_id: &str) -> bool;
}

/// The order rules of a config, built once per (re)load.
#[derive(Debug, Clone)]
pub struct Rules {
    accounts: Box<[Box<str>]>,
    client_ids: ClientIdRules,
    pub calendar: MarketCalendar,
    whole_share_on_halt: WholeShareOnHalt,
}

impl Rules {
    pub fn from_config(config: &Config) -> Rules {
        Rules {
            accounts: config
                .omnibus
                .account_numbers
                .iter()
                .map(|account| account.as_str().into())
                .collect(),
            client_ids: ClientIdRules::new(&config.client_id),
            calendar: MarketCalendar::new(&config.market),
            whole_share_on_halt: config.halts.whole_share,
        }
    }

    pub fn is_omnibus_account(&self, account_no: &str) -> bool {
        self.accounts.iter().any(|account| &**account == account_no)
    }

    pub fn client_ids(&self) -> &ClientIdRules {
        &self.client_ids
    }
}

/// An order that passed every rule.
#[derive(Debug, Clone)]
pub struct Accepted<'o> {
    pub client_id: &'o str,
    pub instrument: Arc<Instrument>,
    /// The regular open DriveWealth will queue the order for, when it does not execute now.
    pub queued_until: Option<DateTime<Utc>>,
}

/// Decides one order against the rules alone. See the module doc for the order of checks; the
/// order path runs the same two stages with the risk controls between them.
pub fn decide<'o>(
    order: &'o Order<'o>,
    rules: &Rules,
    instruments: &InstrumentMaster,
    customers: &dyn CustomerDirectory,
    now: DateTime<Utc>,
) -> Result<Accepted<'o>, Reject> {
    let client_id = identify(order, rules, customers)?;
    let tradable = check_trade(order, rules, instruments, now)?;
    Ok(Accepted {
        client_id,
        instrument: tradable.instrument,
        queued_until: tradable.queued_until,
    })
}

/// What [`check_trade`] found.
#[derive(Debug, Clone)]
pub struct Tradable {
    pub instrument: Arc<Instrument>,
    /// The regular open DriveWealth will queue the order for, when it does not execute now.
    pub queued_until: Option<DateTime<Utc>>,
}

/// Checks 1–2: the account and the customer. Returns the customer's `clientID`.
pub fn identify<'o>(
    order: &'o Order<'o>,
    rules: &Rules,
    customers: &dyn CustomerDirectory,
) -> Result<&'o str, Reject> {
    if !rules.is_omnibus_account(&order.account_no) {
        return Err(Reject::new(
            RejectCode::AccountNotAllowed,
            format!(
                "accountNo {:?} is not one of this gateway's omnibus accounts (omnibus.account_numbers)",
                short(&order.account_no)
            ),
        ));
    }

    let client_id = match &order.client_id {
        ClientIdField::Absent => {
            return Err(Reject::new(
                RejectCode::ClientIdMissing,
                "clientID is missing; every order must carry the end customer's clientID",
            ))
        }
        ClientIdField::WrongType => {
            return Err(Reject::new(
                RejectCode::ClientIdInvalid,
                "clientID must be a string, such as \"123456789\"",
            ))
        }
        ClientIdField::Text(text) => text.as_ref(),
    };
    rules.client_ids.check(client_id)?;
    if !customers.is_registered(client_id) {
        return Err(Reject::new(
            RejectCode::ClientIdUnknown,
            format!("clientID {client_id:?} is not a registered customer"),
        ));
    }

    Ok(client_id)
}

/// SPEC §3.0 "One instrument": an identifier not in the master is `INSTRUMENT_UNKNOWN`; known
/// identifiers that name different instruments make the order ambiguous, `INVALID_ORDER`.
fn unresolved(problem: Unresolved<'_>) -> Reject {
    match problem {
        Unresolved::Unknown(key, value) => Reject::new(
            RejectCode::InstrumentUnknown,
            format!(
                "{} {:?} is not in the instrument master",
                key.field(),
                short(value)
            ),
        ),
        Unresolved::Disagree { first, second } => Reject::invalid(format!(
            "the order names two instruments: {} {:?} is {}, but {} {:?} is {}",
            first.0.field(),
            short(first.1),
            first.2,
            second.0.field(),
            short(second.1),
            second.2
        )),
    }
}

/// Checks 3–6: the instrument, its status and halts, order type and size, market hours.
pub fn check_trade(
    order: &Order<'_>,
    rules: &Rules,
    instruments: &InstrumentMaster,
    now: DateTime<Utc>,
) -> Result<Tradable, Reject> {
    let instrument = instruments.resolve(&order.instrument).map_err(unresolved)?;
    let status = instrument.status();
    match status {
        InstrumentStatus::Inactive => {
            return Err(Reject::new(
                RejectCode::InstrumentNotTradable,
                format!("{} is INACTIVE and cannot be traded", instrument.symbol),
            ))
        }
        InstrumentStatus::CloseOnly if order.side == Side::Buy => {
            return Err(Reject::new(
                RejectCode::InstrumentNotTradable,
                format!(
                    "{} is CLOSE_ONLY: positions may be sold, not bought",
                    instrument.symbol
                ),
            ))
        }
        _ => {}
    }

    if status == InstrumentStatus::Halted {
        if order.size.is_fractional() {
            return Err(Reject::new(
                RejectCode::InstrumentHalted,
                format!(
                    "{} is halted; fractional orders ({}) are rejected during a halt",
                    instrument.symbol,
                    describe_size(order.size)
                ),
            ));
        }
        if rules.whole_share_on_halt == WholeShareOnHalt::Reject {
            return Err(Reject::new(
                RejectCode::InstrumentHalted,
                format!(
                    "{} is halted; whole-share orders are refused during a halt (halts.whole_share = \"reject\")",
                    instrument.symbol
                ),
            ));
        }
    }

    check_type_and_size(order, &instrument)?;

    // Crypto trades around the clock and is never queued.
    let executes_now =
        instrument.is_crypto() || rules.calendar.executes_now(now, order.extended_hours());
    let queued_until = if executes_now {
        None
    } else {
        let open = rules.calendar.next_regular_open(now);
        if order.prevent_queuing {
            return Err(Reject::new(
                RejectCode::MarketClosed,
                format!(
                    "the market is {} ({}), and preventQueuing is set; it next opens at {} ET",
                    rules.calendar.session(now).as_str(),
                    now.with_timezone(&New_York).format("%a %H:%M:%S ET"),
                    open.with_timezone(&New_York).format("%a %Y-%m-%d %H:%M")
                ),
            ));
        }
        Some(open)
    };

    Ok(Tradable {
        instrument,
        queued_until,
    })
}

/// Order type, time in force, fractional and size rules (SPEC §4.2).
fn check_type_and_size(order: &Order<'_>, instrument: &Instrument) -> Result<(), Reject> {
    if instrument.is_crypto() {
        if order.order_type != OrderType::Market {
            return Err(Reject::new(
                RejectCode::OrderTypeNotAllowed,
                format!(
                    "{} is crypto: orders must be MARKET, not {}",
                    instrument.symbol,
                    order.order_type.as_str()
                ),
            ));
        }
    } else if order.extended_hours() && order.order_type != OrderType::Limit {
        return Err(Reject::new(
            RejectCode::OrderTypeNotAllowed,
            format!(
                "extended-hours orders (timeInForce GTX) must be LIMIT, not {}",
                order.order_type.as_str()
            ),
        ));
    }

    if order.size.is_fractional() {
        if order.order_type == OrderType::Limit {
            return Err(Reject::new(
                RejectCode::FractionalNotAllowed,
                format!(
                    "LIMIT orders take whole shares only; this one is for {}",
                    describe_size(order.size)
                ),
            ));
        }
        if !instrument.fractionable {
            return Err(Reject::new(
                RejectCode::FractionalNotAllowed,
                format!(
                    "{} is not fractionable: whole shares only; this order is for {}",
                    instrument.symbol,
                    describe_size(order.size)
                ),
            ));
        }
    }

    // DriveWealth's size fields are in shares; an amountCash order has no share count yet.
    if let Size::Quantity(quantity) = order.size {
        if let Some(min) = instrument.order_size_min {
            if quantity < min {
                return Err(Reject::new(
                    RejectCode::OrderSizeInvalid,
                    format!(
                        "quantity {quantity} is below {}'s minimum order size {min}",
                        instrument.symbol
                    ),
                ));
            }
        }
        if let Some(max) = instrument.order_size_max {
            if quantity > max {
                return Err(Reject::new(
                    RejectCode::OrderSizeInvalid,
                    format!(
                        "quantity {quantity} is above {}'s maximum order size {max}",
                        instrument.symbol
                    ),
                ));
            }
        }
        if let Some(step) = instrument.order_size_step {
            if quantity.units() % step.units() != 0 {
                return Err(Reject::new(
                    RejectCode::OrderSizeInvalid,
                    format!(
                        "quantity {quantity} is not a multiple of {}'s order size step {step}",
                        instrument.symbol
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn describe_size(size: Size) -> String {
    match size {
        Size::Quantity(quantity) => format!("{quantity} shares"),
        Size::AmountCash(amount) => format!("amountCash {}", amount.money()),
    }
}

/// At most 40 characters of a client's value, for messages.
fn short(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[cfg(test)]
mod tests;
