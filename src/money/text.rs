//! A [`Fixed`] as decimal text, rendered on the stack: no allocation and no pass through
//! `core::fmt`'s integer formatting, since money is rendered on every reject message, audit line
//! and admin answer.

use super::{Fixed, SCALE, SCALE_DIGITS};

/// The longest rendering: a sign, 11 whole digits, the point and 8 decimals.
pub const LONGEST: usize = 21;

/// `value` in decimal, its trailing zero decimals dropped down to `min_decimals` (at most 8).
pub(super) struct Rendered {
    bytes: [u8; LONGEST],
    start: usize,
}

impl Rendered {
    pub(super) fn new(value: Fixed, min_decimals: u32) -> Rendered {
        let mut bytes = [0u8; LONGEST];
        let mut at = LONGEST;
        let mut put = |digit: u8| {
            at -= 1;
            bytes[at] = digit;
        };
        let magnitude = value.0.unsigned_abs();
        let mut whole = magnitude / SCALE as u64;
        let mut fraction = magnitude % SCALE as u64;
        let mut decimals = SCALE_DIGITS;
        while decimals > min_decimals && fraction % 10 == 0 {
            fraction /= 10;
            decimals -= 1;
        }
        if decimals > 0 {
            for _ in 0..decimals {
                put(b'0' + (fraction % 10) as u8);
                fraction /= 10;
            }
            put(b'.');
        }
        loop {
            put(b'0' + (whole % 10) as u8);
            whole /= 10;
            if whole == 0 {
                break;
            }
        }
        if value.0 < 0 {
            put(b'-');
        }
        Rendered { bytes, start: at }
    }

    pub(super) fn as_str(&self) -> &str {
        // Only ASCII digits, '.' and '-' were written.
        std::str::from_utf8(&self.bytes[self.start..]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    proptest::proptest! {
        /// The shortest exact form is `rust_decimal`'s normalised form; the money form pads it to
        /// two decimals.
        #[test]
        fn renders_as_rust_decimal_does(units in proptest::prelude::any::<i64>()) {
            let exact = Decimal::new(units, SCALE_DIGITS).normalize();
            let shortest = Rendered::new(Fixed(units), 0);
            proptest::prop_assert_eq!(shortest.as_str(), exact.to_string());
            let mut padded = exact;
            if padded.scale() < 2 {
                padded.rescale(2);
            }
            let money = Rendered::new(Fixed(units), 2);
            proptest::prop_assert_eq!(money.as_str(), padded.to_string());
        }
    }
}
