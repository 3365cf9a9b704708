//! Per-order risk checks against a customer's [`EffectiveLimits`] (SPEC §5.3).
//!
//! Pure functions of the order's numbers and the limits: they allocate only to explain a
//! rejection. Each message names the limit key and both numbers, so support can read it out.
//! A limit that is off (`None`) always passes. Thresholds are inclusive: an order exactly at a
//! limit passes; one unit (10⁻⁸) above it is refused.
//!
//! [`check_order_limits`] runs the step "price band and risk limits" of SPEC §3.1 in one call:
//! price band, then notional, quantity, open orders and the daily buy total. The restricted-symbol
//! check is `TRADING_DISABLED`, like the kill switch, and belongs beside it, early in the order.

use crate::money::Fixed;
use crate::order::Side;
use crate::reject::{Reject, RejectCode};

use super::EffectiveLimits;

/// Which price of the order the band applies to (for the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceKind {
    /// A LIMIT order's limit price.
    Limit,
    /// A STOP or MARKET_IF_TOUCHED order's trigger price.
    Trigger,
}

impl PriceKind {
    const fn as_str(self) -> &'static str {
        match self {
            PriceKind::Limit => "limit price",
            PriceKind::Trigger => "trigger price",
        }
    }
}

/// The numbers of one order that the risk limits look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRisk {
    pub side: Side,
    /// USD: `BuyCost::cost()` for a BUY (fees included); quantity × reference price for a SELL.
    pub notional: Fixed,
    /// Shares: the order's quantity, or for an `amountCash` order the estimate
    /// `amountCash / reference` (`None` when there is no reference: the quantity limit is skipped
    /// and the notional limit still applies).
    pub quantity: Option<Fixed>,
    /// The limit or trigger price, if the order has one.
    pub price: Option<(PriceKind, Fixed)>,
    /// The instrument's reference price, if known.
    pub reference: Option<Fixed>,
    /// The customer's open orders before this one.
    pub open_orders: u32,
    /// USD: what the customer's BUYs accepted today already add up to (before this order).
    pub bought_today: Fixed,
}

/// Price band, then max_order_notional, max_order_quantity, max_open_orders and
/// daily_buy_notional (BUYs only); the first failure decides.
pub fn check_order_limits(order: &OrderRisk, limits: &EffectiveLimits<'_>) -> Result<(), Reject> {
    check_order_size_limits(order, limits)?;
    check_open_orders(order.open_orders, limits)?;
    if order.side == Side::Buy {
        check_daily_buy_notional(order.bought_today, order.notional, limits)?;
    }
    Ok(())
}

/// The limits of the order alone: price band, max_order_notional, max_order_quantity. (Open
/// orders and the day's BUYs depend on the customer's other orders and are checked where those
/// are counted, atomically.)
pub fn check_order_size_limits(
    order: &OrderRisk,
    limits: &EffectiveLimits<'_>,
) -> Result<(), Reject> {
    check_price_band(order.price, order.reference, limits)?;
    check_order_notional(order.notional, limits)?;
    if let Some(quantity) = order.quantity {
        check_order_quantity(quantity, limits)?;
    }
    Ok(())
}

/// `restricted_symbols` → `TRADING_DISABLED`.
pub fn check_restricted_symbol(symbol: &str, limits: &EffectiveLimits<'_>) -> Result<(), Reject> {
    if limits.restricted_symbols.contains(symbol) {
        return Err(Reject::new(
            RejectCode::TradingDisabled,
            format!("trading in {symbol} is disabled for this customer (restricted_symbols)"),
        ));
    }
    Ok(())
}

/// `max_order_notional` → `LIMIT_EXCEEDED`.
pub fn check_order_notional(notional: Fixed, limits: &EffectiveLimits<'_>) -> Result<(), Reject> {
    match limits.max_order_notional {
        Some(max) if notional > max => Err(Reject::new(
            RejectCode::LimitExceeded,
            format!(
                "order notional {} is above max_order_notional {}",
                notional.money(),
                max.money()
            ),
        )),
        _ => Ok(()),
    }
}

/// `max_order_quantity` → `LIMIT_EXCEEDED`.
pub fn check_order_quantity(quantity: Fixed, limits: &EffectiveLimits<'_>) -> Result<(), Reject> {
    match limits.max_order_quantity {
        Some(max) if quantity > max => Err(Reject::new(
            RejectCode::LimitExceeded,
            format!("order quantity {quantity} shares is above max_order_quantity {max}"),
        )),
        _ => Ok(()),
    }
}

/// `max_open_orders` → `LIMIT_EXCEEDED` when this order would be one open order too many.
pub fn check_open_orders(open_orders: u32, limits: &EffectiveLimits<'_>) -> Result<(), Reject> {
    match limits.max_open_orders {
        Some(max) if open_orders >= max => Err(Reject::new(
            RejectCode::LimitExceeded,
            format!("the customer already has {open_orders} open orders; max_open_orders is {max}"),
        )),
        _ => Ok(()),
    }
}

/// `daily_buy_notional` → `LIMIT_EXCEEDED` when today's BUYs plus this one would exceed it.
/// Call it for BUYs only.
pub fn check_daily_buy_notional(
    bought_today: Fixed,
    notional: Fixed,
    limits: &EffectiveLimits<'_>,
) -> Result<(), Reject> {
    let Some(max) = limits.daily_buy_notional else {
        return Ok(());
    };
    match bought_today.checked_add(notional) {
        Some(total) if total <= max => Ok(()),
        Some(total) => Err(Reject::new(
            RejectCode::LimitExceeded,
            format!(
                "today's buys {} plus this order's {} make {}, above daily_buy_notional {}",
                bought_today.money(),
                notional.money(),
                total.money(),
                max.money()
            ),
        )),
        // Beyond the range of money: above any limit.
        None => Err(Reject::new(
            RejectCode::LimitExceeded,
            format!(
                "today's buys {} plus this order's {} are out of range, above daily_buy_notional {}",
                bought_today.money(),
                notional.money(),
                max.money()
            ),
        )),
    }
}

/// `price_band_pct` → `PRICE_OUT_OF_BAND` when `|price − reference| / reference × 100` is above
/// the band. Skipped for orders without a price (MARKET) and when there is no (positive)
/// reference price: the cost rule answers those (`NO_REFERENCE_PRICE` where it must).
pub fn check_price_band(
    price: Option<(PriceKind, Fixed)>,
    reference: Option<Fixed>,
    limits: &EffectiveLimits<'_>,
) -> Result<(), Reject> {
    let (Some(band_pct), Some((kind, price)), Some(reference)) =
        (limits.price_band_pct, price, reference)
    else {
        return Ok(());
    };
    if !reference.is_positive() {
        return Ok(());
    }
    // Exact, without division: |price − ref| × 100 > band × ref, all in 10⁻⁸ units
    // (the left side scaled once more by 10⁸ to match the product on the right).
    let distance = (i128::from(price.units()) - i128::from(reference.units())).unsigned_abs();
    let left = distance
        .checked_mul(100)
        .and_then(|value| value.checked_mul(crate::money::SCALE as u128));
    let right = i128::from(band_pct.units())
        .checked_mul(i128::from(reference.units()))
        .map(|value| value.max(0).unsigned_abs());
    let outside = match (left, right) {
        (Some(left), Some(right)) => left > right,
        // Cannot happen with i64 inputs (both fit in 128 bits); if it did, the price is far out.
        _ => true,
    };
    if !outside {
        return Ok(());
    }
    Err(Reject::new(
        RejectCode::PriceOutOfBand,
        format!(
            "{} {} is {}% from the reference price {}, outside price_band_pct {}",
            kind.as_str(),
            price.money(),
            distance_pct(distance, reference),
            reference.money(),
            band_pct
        ),
    ))
}

/// `distance / reference × 100` for the message, rounded up at the 8th decimal so that a price
/// just outside the band never reads as exactly on it.
fn distance_pct(distance_units: u128, reference: Fixed) -> String {
    let reference_units = reference.units().unsigned_abs() as u128;
    let scaled = distance_units
        .checked_mul(100 * crate::money::SCALE as u128)
        .map(|numerator| numerator.div_ceil(reference_units.max(1)));
    match scaled.and_then(|units| i64::try_from(units).ok()) {
        Some(units) => Fixed::from_units(units).to_string(),
        None => "far more than 1000".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{LimitBook, SymbolSet};

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    fn limits(symbols: &SymbolSet) -> EffectiveLimits<'_> {
        EffectiveLimits {
            max_order_notional: Some(fixed("25000")),
            max_order_quantity: Some(fixed("1000")),
            max_open_orders: Some(10),
            daily_buy_notional: Some(fixed("100000")),
            rate: None,
            price_band_pct: Some(fixed("10")),
            market_buffer_pct: fixed("5"),
            duplicate_window_ms: 0,
            restricted_symbols: symbols,
            override_expires_at: None,
        }
    }

    fn off(symbols: &SymbolSet) -> EffectiveLimits<'_> {
        let book = LimitBook::from_config(&Default::default());
        let now = "2026-06-04T14:00:00Z".parse().unwrap();
        EffectiveLimits {
            restricted_symbols: symbols,
            ..book.limits_for("ANY", now)
        }
    }

    /// `Ok` → None, a rejection → (code, message).
    fn outcome(result: Result<(), Reject>) -> Option<(RejectCode, String)> {
        result.err().map(|reject| (reject.code, reject.message))
    }

    #[test]
    fn max_order_notional_at_below_and_above() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        for (notional, expected) in [
            ("24999.99999999", None),
            ("25000", None),
            (
                "25000.00000001",
                Some("order notional 25000.00000001 is above max_order_notional 25000.00"),
            ),
            (
                "25100",
                Some("order notional 25100.00 is above max_order_notional 25000.00"),
            ),
        ] {
            assert_eq!(
                outcome(check_order_notional(fixed(notional), &limits)),
                expected.map(|m| (RejectCode::LimitExceeded, m.to_owned())),
                "{notional}"
            );
        }
    }

    #[test]
    fn max_order_quantity_at_below_and_above() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        for (quantity, expected) in [
            ("999.99999999", None),
            ("1000", None),
            (
                "1000.00000001",
                Some("order quantity 1000.00000001 shares is above max_order_quantity 1000"),
            ),
        ] {
            assert_eq!(
                outcome(check_order_quantity(fixed(quantity), &limits)),
                expected.map(|m| (RejectCode::LimitExceeded, m.to_owned())),
                "{quantity}"
            );
        }
    }

    #[test]
    fn max_open_orders_at_below_and_above() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        for (open, expected) in [
            (9, None),
            (
                10,
                Some("the customer already has 10 open orders; max_open_orders is 10"),
            ),
            (
                11,
                Some("the customer already has 11 open orders; max_open_orders is 10"),
            ),
        ] {
            assert_eq!(
                outcome(check_open_orders(open, &limits)),
                expected.map(|m| (RejectCode::LimitExceeded, m.to_owned())),
                "{open}"
            );
        }
    }

    #[test]
    fn daily_buy_notional_at_below_and_above() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        for (today, order, expected) in [
            ("99000", "999.99999999", None),
            ("99000", "1000", None),
            (
                "99000",
                "1000.00000001",
                Some("today's buys 99000.00 plus this order's 1000.00000001 make 100000.00000001, above daily_buy_notional 100000.00"),
            ),
            (
                "92233720368",
                "1",
                Some("today's buys 92233720368.00 plus this order's 1.00 are out of range, above daily_buy_notional 100000.00"),
            ),
        ] {
            assert_eq!(
                outcome(check_daily_buy_notional(fixed(today), fixed(order), &limits)),
                expected.map(|m| (RejectCode::LimitExceeded, m.to_owned())),
                "{today} + {order}"
            );
        }
    }

    #[test]
    fn price_band_at_below_and_above_on_both_sides() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        let reference = Some(fixed("100"));
        for (kind, price, expected) in [
            (PriceKind::Limit, "110", None),
            (PriceKind::Limit, "90", None),
            (PriceKind::Limit, "109.99999999", None),
            (
                PriceKind::Limit,
                "110.00000001",
                Some("limit price 110.00000001 is 10.00000001% from the reference price 100.00, outside price_band_pct 10"),
            ),
            (
                PriceKind::Trigger,
                "89.99999999",
                Some("trigger price 89.99999999 is 10.00000001% from the reference price 100.00, outside price_band_pct 10"),
            ),
            (
                PriceKind::Limit,
                "125",
                Some("limit price 125.00 is 25% from the reference price 100.00, outside price_band_pct 10"),
            ),
        ] {
            assert_eq!(
                outcome(check_price_band(Some((kind, fixed(price))), reference, &limits)),
                expected.map(|m| (RejectCode::PriceOutOfBand, m.to_owned())),
                "{price}"
            );
        }
    }

    #[test]
    fn price_band_never_rounds_a_breach_down_to_the_band() {
        // 1/3 above a reference of 3: 11.111…% against a band of 11.11111111%.
        let symbols = SymbolSet::default();
        let limits = EffectiveLimits {
            price_band_pct: Some(fixed("11.11111111")),
            ..limits(&symbols)
        };
        let reject = check_price_band(
            Some((PriceKind::Limit, fixed("3.33333334"))),
            Some(fixed("3")),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            reject.message,
            "limit price 3.33333334 is 11.11111134% from the reference price 3.00, outside price_band_pct 11.11111111"
        );
        assert!(check_price_band(
            Some((PriceKind::Limit, fixed("3.33333333"))),
            Some(fixed("3")),
            &limits
        )
        .is_ok());
    }

    #[test]
    fn price_band_is_skipped_without_a_price_a_reference_or_a_band() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        let far = Some((PriceKind::Limit, fixed("1000")));
        assert!(check_price_band(None, Some(fixed("100")), &limits).is_ok());
        assert!(check_price_band(far, None, &limits).is_ok());
        assert!(check_price_band(far, Some(Fixed::ZERO), &limits).is_ok());
        assert!(check_price_band(far, Some(fixed("100")), &off(&symbols)).is_ok());
        // A band of 0 allows only the reference price itself.
        let zero = EffectiveLimits {
            price_band_pct: Some(Fixed::ZERO),
            ..limits
        };
        assert!(check_price_band(
            Some((PriceKind::Limit, fixed("100"))),
            Some(fixed("100")),
            &zero
        )
        .is_ok());
        assert!(check_price_band(
            Some((PriceKind::Limit, fixed("100.00000001"))),
            Some(fixed("100")),
            &zero
        )
        .is_err());
    }

    #[test]
    fn extreme_prices_do_not_overflow() {
        let symbols = SymbolSet::default();
        let limits = EffectiveLimits {
            price_band_pct: Some(fixed("1000")),
            ..limits(&symbols)
        };
        let reject = check_price_band(
            Some((PriceKind::Limit, Fixed::MAX)),
            Some(Fixed::from_units(1)),
            &limits,
        )
        .unwrap_err();
        assert_eq!(reject.code, RejectCode::PriceOutOfBand);
        assert!(
            reject.message.contains("far more than 1000%"),
            "{}",
            reject.message
        );
        assert!(check_price_band(
            Some((PriceKind::Limit, Fixed::MAX)),
            Some(Fixed::MAX),
            &limits
        )
        .is_ok());
    }

    #[test]
    fn restricted_symbols_are_trading_disabled() {
        let symbols = SymbolSet::new(["GME"]);
        let limits = limits(&symbols);
        assert_eq!(
            outcome(check_restricted_symbol("gme", &limits)),
            Some((
                RejectCode::TradingDisabled,
                "trading in gme is disabled for this customer (restricted_symbols)".to_owned()
            ))
        );
        assert!(check_restricted_symbol("AAPL", &limits).is_ok());
    }

    #[test]
    fn every_limit_off_passes_anything() {
        let symbols = SymbolSet::default();
        let order = OrderRisk {
            side: Side::Buy,
            notional: Fixed::MAX,
            quantity: Some(Fixed::MAX),
            price: Some((PriceKind::Limit, Fixed::MAX)),
            reference: Some(Fixed::ONE),
            open_orders: u32::MAX,
            bought_today: Fixed::MAX,
        };
        assert!(check_order_limits(&order, &off(&symbols)).is_ok());
    }

    #[test]
    fn the_combined_check_runs_band_first_and_daily_only_for_buys() {
        let symbols = SymbolSet::default();
        let limits = limits(&symbols);
        let fine = OrderRisk {
            side: Side::Buy,
            notional: fixed("20000"),
            quantity: Some(fixed("200")),
            price: Some((PriceKind::Limit, fixed("100"))),
            reference: Some(fixed("100")),
            open_orders: 0,
            bought_today: Fixed::ZERO,
        };
        assert!(check_order_limits(&fine, &limits).is_ok());
        let everything_wrong = OrderRisk {
            notional: fixed("30000"),
            price: Some((PriceKind::Limit, fixed("150"))),
            open_orders: 10,
            ..fine
        };
        assert_eq!(
            check_order_limits(&everything_wrong, &limits)
                .unwrap_err()
                .code,
            RejectCode::PriceOutOfBand
        );
        let big_day = OrderRisk {
            bought_today: fixed("90000"),
            ..fine
        };
        assert_eq!(
            check_order_limits(&big_day, &limits).unwrap_err().code,
            RejectCode::LimitExceeded
        );
        let sell = OrderRisk {
            side: Side::Sell,
            ..big_day
        };
        assert!(check_order_limits(&sell, &limits).is_ok());
        let unknown_quantity = OrderRisk {
            quantity: None,
            ..fine
        };
        assert!(check_order_limits(&unknown_quantity, &limits).is_ok());
    }
}
