//! Checks 3–6 of the decision: the instrument, its status and halts, order type, fractional and
//! size rules, market hours and `preventQueuing` (SPEC §4.2–§4.4).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::America::New_York;

use super::Rules;
use crate::config::WholeShareOnHalt;
use crate::instruments::{Instrument, InstrumentMaster, InstrumentStatus, Unresolved};
use crate::order::{Order, OrderType, Side, Size};
use crate::reject::{Reject, RejectCode};

/// What the instrument and session checks found.
#[derive(Debug, Clone)]
pub struct Tradable {
    pub instrument: Arc<Instrument>,
    /// The regular open DriveWealth will queue the order for, when it does not execute now.
    pub queued_until: Option<DateTime<Utc>>,
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
pub(super) fn check_trade(
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

pub(super) fn describe_size(size: Size) -> String {
    match size {
        Size::Quantity(quantity) => format!("{quantity} shares"),
        Size::AmountCash(amount) => format!("amountCash {}", amount.money()),
    }
}

/// At most 40 characters of a client's value, for messages.
pub(super) fn short(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
