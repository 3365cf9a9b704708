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
//!
//! The fee is `fees.per_order` plus the order's `commission`; with `commissionRate` instead, the
//! rate of the amount is added too (of the unfilled amount while it waits, of the filled amount
//! at its end). A SELL needs no cash: its commission comes out of its proceeds.

use crate::instruments::Instrument;
use crate::ledger::{BuyCost, Charges};
use crate::money::Fixed;
use crate::order::{Commission, Order, OrderType, Side, Size};
use crate::reject::{Reject, RejectCode};

/// What to reserve for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Buy(BuyCost),
    /// Shares, and the order's commission, taken from its proceeds at its end.
    Sell {
        quantity: Fixed,
        charges: Charges,
    },
}

/// The hold for `order`, given the instrument's reference price, the customer's
/// `market_buffer_pct` and `fees.per_order` (a BUY's; a SELL's proceeds pay only the order's own
/// commission).
pub fn hold_for(
    order: &Order<'_>,
    instrument: &Instrument,
    market_buffer_pct: Fixed,
    fee_per_order: Fixed,
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
    let (commission, commission_rate) = match order.commission {
        None => (Fixed::ZERO, Fixed::ZERO),
        Some(Commission::Amount(amount)) => (amount, Fixed::ZERO),
        Some(Commission::Rate(rate)) => (Fixed::ZERO, rate),
    };
    let fee = fee_per_order.checked_add(commission).ok_or_else(overflow)?;
    let sell_charges = Charges {
        fee: commission,
        commission_rate,
    };
    match (order.side, order.size) {
        (Side::Buy, Size::AmountCash(amount)) => Ok(Hold::Buy(BuyCost {
            per_share: None,
            quantity: None,
            amount_cash: Some(amount),
            fee,
            commission_rate,
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
                commission_rate,
            }))
        }
        (Side::Sell, Size::Quantity(quantity)) => Ok(Hold::Sell {
            quantity,
            charges: sell_charges,
        }),
        (Side::Sell, Size::AmountCash(amount)) => {
            let shares = amount
                .checked_div_floor(reference()?)
                .ok_or_else(overflow)?;
            Ok(Hold::Sell {
                quantity: buffered(shares)?,
                charges: sell_charges,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::{InstrumentMaster, InstrumentSpec};
    use crate::order::parse_order;

    fn instrument(price: Option<&str>) -> std::sync::Arc<Instrument> {
        let price = price.map_or(String::new(), |p| format!(r#","price":"{p}""#));
        let spec: InstrumentSpec = serde_json::from_str(&format!(
            r#"{{"instrumentID":"i","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true{price}}}"#
        ))
        .unwrap();
        InstrumentMaster::new().upsert("AAPL", spec).unwrap()
    }

    fn hold(fields: &str, price: Option<&str>) -> Result<Hold, Reject> {
        let body = format!(r#"{{"accountNo":"A","symbol":"AAPL",{fields}}}"#);
        let order = parse_order(body.as_bytes()).unwrap();
        let fixed = |text: &str| Fixed::parse(text).unwrap();
        hold_for(&order, &instrument(price), fixed("5"), fixed("0.25"))
    }

    fn buy_total(hold: Hold) -> String {
        match hold {
            Hold::Buy(cost) => cost.cost().unwrap().to_string(),
            Hold::Sell { .. } => panic!("not a buy"),
        }
    }

    #[test]
    fn costs_follow_spec_5_1() {
        // LIMIT: quantity × price + fee; no reference price needed.
        let limit = hold(
            r#""orderType":"LIMIT","side":"BUY","quantity":2,"price":"100""#,
            None,
        );
        assert_eq!(buy_total(limit.unwrap()), "200.25");
        // amountCash: the amount + fee.
        let cash = hold(
            r#""orderType":"MARKET","side":"BUY","amountCash":"30""#,
            None,
        );
        assert_eq!(buy_total(cash.unwrap()), "30.25");
        // MARKET with quantity: reference × (1 + 5%) per share.
        let market = hold(
            r#""orderType":"MARKET","side":"BUY","quantity":2"#,
            Some("100"),
        );
        assert_eq!(buy_total(market.unwrap()), "210.25");
        // STOP: the higher of reference and trigger, buffered.
        let stop = hold(
            r#""orderType":"STOP","side":"BUY","quantity":1,"price":"120""#,
            Some("100"),
        );
        assert_eq!(buy_total(stop.unwrap()), "126.25");
        let mit = hold(
            r#""orderType":"MARKET_IF_TOUCHED","side":"BUY","quantity":1,"price":"90""#,
            Some("100"),
        );
        assert_eq!(buy_total(mit.unwrap()), "105.25");
        // SELLs hold shares: amountCash / reference, buffered.
        assert_eq!(
            hold(
                r#""orderType":"MARKET","side":"SELL","quantity":"5.12580012""#,
                None
            )
            .unwrap(),
            Hold::Sell {
                quantity: Fixed::parse("5.12580012").unwrap(),
                charges: Charges::default(),
            }
        );
        assert_eq!(
            hold(
                r#""orderType":"MARKET","side":"SELL","amountCash":"100""#,
                Some("200")
            )
            .unwrap(),
            Hold::Sell {
                quantity: Fixed::parse("0.525").unwrap(),
                charges: Charges::default(),
            }
        );
    }

    #[test]
    fn a_commission_joins_the_fee_and_a_rate_the_amount() {
        // A fixed commission is reserved with fees.per_order.
        let fixed = hold(
            r#""orderType":"LIMIT","side":"BUY","quantity":2,"price":"100","commission":3.5"#,
            None,
        );
        assert_eq!(buy_total(fixed.unwrap()), "203.75");
        // A rate of 0.01 adds 1% of the amount: 200 + 2 + 0.25.
        let rate = hold(
            r#""orderType":"LIMIT","side":"BUY","quantity":2,"price":"100","commissionRate":0.01"#,
            None,
        );
        assert_eq!(buy_total(rate.unwrap()), "202.25");
        // A SELL's commission waits for its proceeds; fees.per_order is a BUY's.
        let sell = hold(
            r#""orderType":"MARKET","side":"SELL","quantity":1,"commission":"1.5""#,
            None,
        );
        assert_eq!(
            sell.unwrap(),
            Hold::Sell {
                quantity: Fixed::ONE,
                charges: Charges {
                    fee: Fixed::parse("1.5").unwrap(),
                    commission_rate: Fixed::ZERO,
                },
            }
        );
    }

    #[test]
    fn no_reference_price_means_no_estimate() {
        for fields in [
            r#""orderType":"MARKET","side":"BUY","quantity":1"#,
            r#""orderType":"STOP","side":"BUY","quantity":1,"price":"120""#,
            r#""orderType":"MARKET","side":"SELL","amountCash":"100""#,
        ] {
            let reject = hold(fields, None).unwrap_err();
            assert_eq!(reject.code, RejectCode::NoReferencePrice, "{fields}");
            assert!(reject.message.contains("AAPL"), "{}", reject.message);
        }
    }

    #[test]
    fn an_unrepresentable_cost_is_an_invalid_order() {
        let reject = hold(
            r#""orderType":"LIMIT","side":"BUY","quantity":"90000000000","price":"90000000000""#,
            None,
        )
        .unwrap_err();
        assert_eq!(reject.code, RejectCode::InvalidOrder);
    }
}
