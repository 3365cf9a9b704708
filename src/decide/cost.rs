//! What an accepted order must hold (SPEC §5.1): cash for a BUY, shares for a SELL.
//!
//! | order | holds |
//! | --- | --- |
//! | BUY LIMIT | `quantity × price` + fee |
//! | BUY with `amountCash` | `amountCash` + fee |
//! | BUY MARKET / STOP / MARKET_IF_TOUCHED with `quantity` | `quantity × max(reference, trigger) × (1 + market_buffer_pct/100)` + fee |
//! | SELL with `quantity` | `quantity` shares |
//! | SELL with `amountCash` | `amountCash / reference × (1 + market_buffer_pct/100)` shares |
//!
//! A quantity-based order that needs a reference price and has none is `NO_REFERENCE_PRICE`.

use crate::instruments::Instrument;
use crate::ledger::BuyCost;
use crate::money::Fixed;
use crate::order::{Order, OrderType, Side, Size};
use crate::reject::{Reject, RejectCode};

/// What to reserve for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Buy(BuyCost),
    Sell { quantity: Fixed },
}

/// The hold for `order`, given the instrument's reference price, the customer's
/// `market_buffer_pct` and `fees.per_order`.
pub fn hold_for(
    order: &Order<'_>,
    instrument: &Instrument,
    market_buffer_pct: Fixed,
    fee: Fixed,
) -> Result<Hold, Reject> {
    let overflow = || Reject::invalid("the order's cost is too large to represent");
    let buffered = |price: Fixed| -> Result<Fixed, Reject> {
        let factor = Fixed::from_int(100)
            .and_then(|hundred| market_buffer_pct.checked_div_floor(hundred))
            .and_then(|fraction| Fixed::ONE.checked_add(fraction))
            .ok_or_else(overflow)?;
        price.checked_mul_ceil(factor).ok_or_else(overflow)
    };
    let reference = || {
        instrument.reference_price().ok_or_else(|| {
            Reject::new(
                RejectCode::NoReferencePrice,
                format!(
                    "no reference price for {}: the cost of a {} order for a quantity cannot be \
                     estimated (POST /admin/prices)",
                    instrument.symbol,
                    order.order_type.as_str()
                ),
            )
        })
    };
    match (order.side, order.size) {
        (Side::Buy, Size::AmountCash(amount)) => Ok(Hold::Buy(BuyCost {
            per_share: None,
            quantity: None,
            amount_cash: Some(amount),
            fee,
        })),
        (Side::Buy, Size::Quantity(quantity)) => {
            let per_share = match (order.order_type, order.price) {
                (OrderType::Limit, Some(limit)) => limit,
                (_, trigger) => {
                    let reference = reference()?;
                    buffered(trigger.map_or(reference, |trigger| trigger.max(reference)))?
                }
            };
            // The product is checked here so that an absurd order is INVALID_ORDER, not a
            // buying-power message with a number nobody can read.
            quantity.checked_mul_ceil(per_share).ok_or_else(overflow)?;
            Ok(Hold::Buy(BuyCost {
                per_share: Some(per_share),
                quantity: Some(quantity),
                amount_cash: None,
                fee,
            }))
        }
        (Side::Sell, Size::Quantity(quantity)) => Ok(Hold::Sell { quantity }),
        (Side::Sell, Size::AmountCash(amount)) => {
            let shares = amount
                .checked_div_floor(reference()?)
                .ok_or_else(overflow)?;
            Ok(Hold::Sell {
                quantity: buffered(shares)?,
            })
        }
    }
}
