//! Exact fixed-point numbers for money, prices and share quantities.
//!
//! Decimals arrive as text, read strictly and exactly by [`read`] (integer arithmetic only; the
//! fuzz target `decimal` checks it against `rust_decimal`) and converted once into [`Fixed`]:
//! an `i64` count of 10⁻⁸ units. Eight places is DriveWealth's own precision for fractional
//! shares (`5.12580012`), and the spec makes more than eight places an invalid order, so the
//! conversion is exact or it is refused. An `i64` of 10⁻⁸ holds ±92,233,720,368.54775807: far
//! above any single customer's or omnibus balance; every operation is checked and an overflow is
//! an error, never a wrap.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

pub mod read;
mod text;

/// The longest text a [`Fixed`] renders to (a sign, 11 whole digits, the point, 8 decimals).
pub use text::LONGEST as TEXT_MAX;

pub use read::Grammar;

/// Decimal places carried by a [`Fixed`].
pub const SCALE_DIGITS: u32 = 8;
/// Units of a [`Fixed`] in one whole (one dollar, one share).
pub const SCALE: i64 = 100_000_000;

/// An exact decimal with eight places, stored as an integer count of 10⁻⁸.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fixed(i64);

/// Why a decimal could not become a [`Fixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    #[error("has more than 8 decimal places")]
    TooPrecise,
    #[error("is out of range")]
    Overflow,
    #[error("is not a decimal number")]
    NotANumber,
}

/// `product ÷ SCALE` truncated toward zero, and its remainder. An order's price × quantity
/// mostly fits in 64 bits, where dividing by the constant compiles to a multiplication; a
/// 128-bit division is a library call several times slower.
fn div_rem_scale(product: i128) -> (i128, i128) {
    match i64::try_from(product) {
        Ok(small) => (i128::from(small / SCALE), i128::from(small % SCALE)),
        Err(_) => (product / i128::from(SCALE), product % i128::from(SCALE)),
    }
}

impl Fixed {
    pub const ZERO: Fixed = Fixed(0);
    pub const ONE: Fixed = Fixed(SCALE);
    pub const MAX: Fixed = Fixed(i64::MAX);

    /// Wraps a raw count of 10⁻⁸ units.
    pub const fn from_units(units: i64) -> Self {
        Fixed(units)
    }

    /// A whole number of dollars or shares.
    pub const fn from_int(whole: i64) -> Option<Self> {
        match whole.checked_mul(SCALE) {
            Some(units) => Some(Fixed(units)),
            None => None,
        }
    }

    pub const fn units(self) -> i64 {
        self.0
    }

    /// Exact conversion: refuses anything with more than eight places or out of range.
    pub fn from_decimal(value: Decimal) -> Result<Self, FixedError> {
        let value = value.normalize();
        if value.scale() > SCALE_DIGITS {
            return Err(FixedError::TooPrecise);
        }
        let mantissa = value.mantissa();
        let units = mantissa
            .checked_mul(10i128.pow(SCALE_DIGITS - value.scale()))
            .ok_or(FixedError::Overflow)?;
        i64::try_from(units)
            .map(Fixed)
            .map_err(|_| FixedError::Overflow)
    }

    /// Parses decimal text exactly: a decimal string (`"5.12580012"`, `"160"`, `"-0.5"`) or a
    /// JSON number (`1e2`); see [`read`] for the two grammars.
    pub fn parse(text: &str) -> Result<Self, FixedError> {
        match read::read(text.as_bytes(), Grammar::DecimalString) {
            Err(FixedError::NotANumber) => read::read(text.as_bytes(), Grammar::JsonNumber),
            other => other,
        }
    }

    /// Reads a number out of raw JSON text (SPEC §3.0): a JSON number token, or a JSON string
    /// whose contents are a strict decimal string. A string with escapes is refused (a number
    /// has no reason to be escaped, and the upstream may unescape differently).
    pub fn from_json(raw: &str) -> Result<Self, FixedError> {
        match raw.strip_prefix('"') {
            Some(quoted) => {
                let inner = quoted.strip_suffix('"').ok_or(FixedError::NotANumber)?;
                read::read(inner.as_bytes(), Grammar::DecimalString)
            }
            None => read::read(raw.as_bytes(), Grammar::JsonNumber),
        }
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(self.0 as i128, SCALE_DIGITS).normalize()
    }

    pub fn checked_add(self, other: Fixed) -> Option<Fixed> {
        self.0.checked_add(other.0).map(Fixed)
    }

    pub fn checked_sub(self, other: Fixed) -> Option<Fixed> {
        self.0.checked_sub(other.0).map(Fixed)
    }

    pub fn checked_neg(self) -> Option<Fixed> {
        self.0.checked_neg().map(Fixed)
    }

    /// `self × other`, rounded up to the next 10⁻⁸ (away from zero): the conservative choice for a
    /// cost that is about to be reserved.
    pub fn checked_mul_ceil(self, other: Fixed) -> Option<Fixed> {
        let product = (self.0 as i128).checked_mul(other.0 as i128)?;
        let (quotient, remainder) = div_rem_scale(product);
        let rounded = if remainder == 0 {
            quotient
        } else if product > 0 {
            quotient + 1
        } else {
            quotient - 1
        };
        i64::try_from(rounded).ok().map(Fixed)
    }

    /// `self × other`, truncated toward zero.
    pub fn checked_mul_floor(self, other: Fixed) -> Option<Fixed> {
        let product = (self.0 as i128).checked_mul(other.0 as i128)?;
        i64::try_from(div_rem_scale(product).0).ok().map(Fixed)
    }

    /// `self ÷ other`, truncated toward zero; `None` on division by zero or overflow.
    pub fn checked_div_floor(self, other: Fixed) -> Option<Fixed> {
        if other.0 == 0 {
            return None;
        }
        let numerator = (self.0 as i128).checked_mul(SCALE as i128)?;
        i64::try_from(numerator / other.0 as i128).ok().map(Fixed)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True when there is nothing after the decimal point.
    pub fn is_whole(self) -> bool {
        self.0 % SCALE == 0
    }

    /// The part before the decimal point (toward zero).
    pub fn whole_part(self) -> Fixed {
        Fixed(self.0 - self.0 % SCALE)
    }

    /// A money display with at least two decimals: `155.00`, `0.5555`, `-3.10`.
    pub fn money(self) -> MoneyDisplay {
        MoneyDisplay(self)
    }

    /// Appends [`Fixed::money`]'s text to `out` without going through `core::fmt` (reject
    /// messages on the order path).
    pub fn push_money(self, out: &mut String) {
        out.push_str(text::Rendered::new(self, 2).as_str());
    }
}

impl fmt::Display for Fixed {
    /// The shortest exact decimal: `5.12580012`, `160`, `0.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(text::Rendered::new(*self, 0).as_str())
    }
}

impl fmt::Debug for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fixed {
    type Err = FixedError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Fixed::parse(text)
    }
}

/// See [`Fixed::money`].
pub struct MoneyDisplay(Fixed);

impl fmt::Display for MoneyDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(text::Rendered::new(self.0, 2).as_str())
    }
}

impl serde::Serialize for Fixed {
    /// Money and quantities leave omnigate as decimal strings (the admin API's convention).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_or_refuses() {
        assert_eq!(Fixed::parse("5.12580012").unwrap().units(), 512_580_012);
        assert_eq!(Fixed::parse("160").unwrap(), Fixed::from_int(160).unwrap());
        assert_eq!(Fixed::parse("1e2").unwrap(), Fixed::from_int(100).unwrap());
        assert_eq!(Fixed::parse("0.10000000000").unwrap().units(), 10_000_000);
        assert_eq!(Fixed::parse("5.125800121"), Err(FixedError::TooPrecise));
        assert_eq!(
            Fixed::parse("5.1258001234567890123456789012345"),
            Err(FixedError::TooPrecise)
        );
        assert_eq!(Fixed::parse("92233720369"), Err(FixedError::Overflow));
        assert_eq!(
            Fixed::parse("99999999999999999999999999999999999"),
            Err(FixedError::Overflow)
        );
        assert_eq!(Fixed::parse("abc"), Err(FixedError::NotANumber));
        assert_eq!(Fixed::parse(""), Err(FixedError::NotANumber));
        assert_eq!(Fixed::parse("1.2.3"), Err(FixedError::NotANumber));
    }

    #[test]
    fn displays_shortest_exact_form() {
        assert_eq!(
            Fixed::parse("5.12580012").unwrap().to_string(),
            "5.12580012"
        );
        assert_eq!(Fixed::parse("-0.5").unwrap().to_string(), "-0.5");
        assert_eq!(Fixed::parse("155").unwrap().money().to_string(), "155.00");
        assert_eq!(Fixed::parse("3.1").unwrap().money().to_string(), "3.10");
        assert_eq!(Fixed::parse("0.555").unwrap().money().to_string(), "0.555");
        assert_eq!(Fixed::MAX.to_string(), "92233720368.54775807");
        assert_eq!(
            Fixed::from_units(i64::MIN).to_string(),
            "-92233720368.54775808"
        );
    }

    #[test]
    fn multiplication_rounds_the_way_it_says() {
        let qty = Fixed::parse("0.33333333").unwrap();
        let price = Fixed::parse("3").unwrap();
        assert_eq!(
            qty.checked_mul_ceil(price).unwrap().to_string(),
            "0.99999999"
        );
        let price = Fixed::parse("0.5").unwrap();
        let qty = Fixed::parse("0.00000001").unwrap();
        assert_eq!(qty.checked_mul_ceil(price).unwrap().units(), 1);
        assert_eq!(qty.checked_mul_floor(price).unwrap().units(), 0);
        assert_eq!(
            Fixed::MAX.checked_mul_ceil(Fixed::from_int(2).unwrap()),
            None
        );
    }

    proptest::proptest! {
        /// The 64-bit shortcut and the 128-bit division agree, on either side of the boundary
        /// and for either sign.
        #[test]
        fn dividing_by_the_scale_is_exact(a in proptest::prelude::any::<i64>(), b in -1_000_000_000i64..1_000_000_000) {
            for product in [i128::from(a), i128::from(a) * i128::from(b)] {
                let scale = i128::from(SCALE);
                proptest::prop_assert_eq!(div_rem_scale(product), (product / scale, product % scale));
            }
        }
    }

    #[test]
    fn decimal_round_trip() {
        for text in ["0", "1", "0.00000001", "-12.5", "92233720368.54775807"] {
            let fixed = Fixed::parse(text).unwrap();
            assert_eq!(Fixed::from_decimal(fixed.to_decimal()).unwrap(), fixed);
            assert_eq!(fixed.to_decimal().to_string(), text);
        }
    }
}

/// Reading a [`Fixed`] out of JSON exactly: from a JSON number's own text or a decimal string,
/// never through an `f64`. For `#[serde(deserialize_with = "…")]` on JSON-only types.
pub mod exact {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::value::RawValue;

    use super::Fixed;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Fixed, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        from_raw(&raw).map_err(D::Error::custom)
    }

    pub fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Fixed>, D::Error> {
        let raw = Option::<Box<RawValue>>::deserialize(deserializer)?;
        match raw {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => from_raw(&raw).map(Some).map_err(D::Error::custom),
        }
    }

    fn from_raw(raw: &RawValue) -> Result<Fixed, String> {
        let text = raw.get();
        Fixed::from_json(text).map_err(|error| {
            let shown: String = text.chars().take(40).collect();
            format!("{shown} {error}")
        })
    }
}
