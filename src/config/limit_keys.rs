//! The numeric risk-limit keys (SPEC §5.3), named once.
//!
//! [`with_limit_keys!`](crate::with_limit_keys) is the one list of them, in a fixed order. What
//! treats every key alike is generated from it: [`LimitPatch`] (one layer of limits) and its
//! overlay, its reading from `[limits.default]` and `[[limits.customer]]`, the admin API's wire
//! shape of an override and its WAL record. What differs per key — how it resolves, its value
//! rules, its documentation in [`super::CustomerLimits`] — is written out where it belongs.

use super::{CustomerLimits, CustomerLimitsEntry, Decimal};
use crate::money::Fixed;

/// Calls `$callback! { key: Type = "camelCase", … }` with every numeric limit key. The order is
/// part of the WAL's `limit_override` record: a new key goes at the end, under a new record tag.
#[macro_export]
macro_rules! with_limit_keys {
    ($callback:ident) => {
        $callback! {
            max_order_notional: Fixed = "maxOrderNotional",
            max_order_quantity: Fixed = "maxOrderQuantity",
            max_open_orders: u32 = "maxOpenOrders",
            daily_buy_notional: Fixed = "dailyBuyNotional",
            orders_per_second: Fixed = "ordersPerSecond",
            burst: u32 = "burst",
            price_band_pct: Fixed = "priceBandPct",
            market_buffer_pct: Fixed = "marketBufferPct",
            duplicate_window_ms: u64 = "duplicateWindowMs",
        }
    };
}

/// `market_buffer_pct` at most doubles a market order's estimated price.
pub const MARKET_BUFFER_PCT_MAX: i64 = 100;
/// `price_band_pct` beyond 1000 % would let a price eleven times the reference through: no band.
pub const PRICE_BAND_PCT_MAX: i64 = 1000;
/// `orders_per_second` at most a million: far above any one customer's real rate, and keeps the
/// token bucket's integer arithmetic comfortably inside a `u128`.
pub const ORDERS_PER_SECOND_MAX: i64 = 1_000_000;
/// `duplicate_window_ms` at most one day.
pub const DUPLICATE_WINDOW_MS_MAX: u64 = 86_400_000;
/// `market_buffer_pct` when no layer sets it (the config's default).
pub const MARKET_BUFFER_PCT_DEFAULT: i64 = 5;
/// A config key's value as a layer carries it: `Some` when the key is set (a key that always
/// has a value, such as `[limits.default]`'s `market_buffer_pct`, is always set).
trait LayerValue<T> {
    fn layer(self) -> Option<T>;
}

impl LayerValue<Fixed> for Option<Decimal> {
    fn layer(self) -> Option<Fixed> {
        self.map(|value| value.0)
    }
}

impl LayerValue<Fixed> for Decimal {
    fn layer(self) -> Option<Fixed> {
        Some(self.0)
    }
}

impl<T> LayerValue<T> for Option<T> {
    fn layer(self) -> Option<T> {
        self
    }
}

impl LayerValue<u64> for u64 {
    fn layer(self) -> Option<u64> {
        Some(self)
    }
}

macro_rules! define_limit_patch {
    ($($key:ident: $type:ty = $camel:literal,)+) => {
        /// Some or all of the numeric limit keys: one layer of the resolution (a
        /// `[[limits.customer]]` entry, an admin override, or `[limits.default]` with every
        /// defaulted key filled in).
        ///
        /// Money in USD, quantities in shares, percentages in percent (10 = 10 %).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct LimitPatch {
            $(pub $key: Option<$type>,)+
        }

        impl LimitPatch {
            /// Every key, in order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($key)),+];

            /// True when the patch sets no key at all.
            pub fn is_empty(&self) -> bool {
                *self == LimitPatch::default()
            }

            /// `self`'s keys where set, `base`'s elsewhere.
            pub fn over(&self, base: &LimitPatch) -> LimitPatch {
                LimitPatch {
                    $($key: self.$key.or(base.$key),)+
                }
            }
        }

        impl From<&CustomerLimits> for LimitPatch {
            fn from(limits: &CustomerLimits) -> Self {
                LimitPatch {
                    $($key: limits.$key.layer(),)+
                }
            }
        }

        impl From<&CustomerLimitsEntry> for LimitPatch {
            fn from(entry: &CustomerLimitsEntry) -> Self {
                LimitPatch {
                    $($key: entry.$key.layer(),)+
                }
            }
        }
    };
}

crate::with_limit_keys!(define_limit_patch);

impl LimitPatch {
    /// Every value rule the set keys break, as `(key, message)`: money and percentages not
    /// negative, `market_buffer_pct` ≤ 100, `price_band_pct` ≤ 1000, `orders_per_second` in
    /// (0, 1,000,000], `burst` ≥ 1, `duplicate_window_ms` ≤ one day. (Whether a `burst` has a rate
    /// to go with depends on the layers below; the config's validation checks that.)
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("max_order_notional", self.max_order_notional),
            ("max_order_quantity", self.max_order_quantity),
            ("daily_buy_notional", self.daily_buy_notional),
        ] {
            if let Some(value) = value.filter(|value| value.is_negative()) {
                problems.push((key, format!("{value} is negative")));
            }
        }
        for (key, value, max) in [
            (
                "market_buffer_pct",
                self.market_buffer_pct,
                MARKET_BUFFER_PCT_MAX,
            ),
            ("price_band_pct", self.price_band_pct, PRICE_BAND_PCT_MAX),
        ] {
            let max = Fixed::from_int(max).unwrap_or(Fixed::MAX);
            if let Some(value) = value.filter(|value| value.is_negative() || *value > max) {
                problems.push((key, format!("{value} is outside 0..={max} percent")));
            }
        }
        if let Some(rate) = self.orders_per_second {
            let max = Fixed::from_int(ORDERS_PER_SECOND_MAX).unwrap_or(Fixed::MAX);
            // Zero would refuse every order for ever: that is the kill switch's job.
            if !rate.is_positive() || rate > max {
                problems.push((
                    "orders_per_second",
                    format!("{rate} is outside 0.00000001..={max}"),
                ));
            }
        }
        if self.burst == Some(0) {
            problems.push((
                "burst",
                "0 would refuse every order; it must be at least 1".to_owned(),
            ));
        }
        if let Some(window_ms) = self
            .duplicate_window_ms
            .filter(|window_ms| *window_ms > DUPLICATE_WINDOW_MS_MAX)
        {
            problems.push((
                "duplicate_window_ms",
                format!("{window_ms} is above {DUPLICATE_WINDOW_MS_MAX} ms (one day)"),
            ));
        }
        problems
    }
}
