//! Reading decimal text into a [`Fixed`], exactly and strictly (SPEC §3.0 "Strict numbers").
//!
//! Two grammars, nothing else:
//!
//! | grammar | form | used for |
//! | --- | --- | --- |
//! | [`Grammar::DecimalString`] | `-?[0-9]+(\.[0-9]+)?` | the text inside a JSON string (`"5.12580012"`) |
//! | [`Grammar::JsonNumber`] | `-?(0\|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` | a bare JSON number (`5.12580012`, `1e2`) |
//!
//! No `_`, no spaces, no `+` sign, no exponent inside a string, no `.5` or `5.`: a proxy that
//! reads `"1_0"` as 10 while the upstream reads it as 1 (or refuses it) decides an order the
//! upstream never sees. The value is computed with integers only — the digits become an integer
//! mantissa and a power of ten — so the result is exact or refused: more than eight places is
//! [`FixedError::TooPrecise`], beyond an `i64` of 10⁻⁸ is [`FixedError::Overflow`].
//!
//! No allocation, one pass over the bytes: this runs for every number of every order.

use super::{Fixed, FixedError, SCALE_DIGITS};

/// Which text form a number is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grammar {
    /// The contents of a JSON string: `-?[0-9]+(\.[0-9]+)?`.
    DecimalString,
    /// A JSON number token (RFC 8259 §6).
    JsonNumber,
}

/// Exponents beyond this are treated as this (any such number is out of range or too precise,
/// and saturating keeps the arithmetic below from overflowing).
const EXPONENT_CLAMP: i64 = 1_000_000;

/// Reads `text` in `grammar`. See the module doc.
pub fn read(text: &[u8], grammar: Grammar) -> Result<Fixed, FixedError> {
    let mut at = 0;
    let negative = text.first() == Some(&b'-');
    if negative {
        at += 1;
    }

    let int_start = at;
    while at < text.len() && text[at].is_ascii_digit() {
        at += 1;
    }
    let int_digits = &text[int_start..at];
    if int_digits.is_empty() {
        return Err(FixedError::NotANumber);
    }
    if grammar == Grammar::JsonNumber && int_digits.len() > 1 && int_digits[0] == b'0' {
        return Err(FixedError::NotANumber);
    }

    let mut frac_digits: &[u8] = &[];
    if at < text.len() && text[at] == b'.' {
        at += 1;
        let frac_start = at;
        while at < text.len() && text[at].is_ascii_digit() {
            at += 1;
        }
        frac_digits = &text[frac_start..at];
        if frac_digits.is_empty() {
            return Err(FixedError::NotANumber);
        }
    }

    let mut exponent: i64 = 0;
    if grammar == Grammar::JsonNumber && at < text.len() && matches!(text[at], b'e' | b'E') {
        at += 1;
        let exponent_negative = match text.get(at) {
            Some(b'-') => {
                at += 1;
                true
            }
            Some(b'+') => {
                at += 1;
                false
            }
            _ => false,
        };
        let exp_start = at;
        while at < text.len() && text[at].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(text[at] - b'0')).min(EXPONENT_CLAMP);
            at += 1;
        }
        if at == exp_start {
            return Err(FixedError::NotANumber);
        }
        if exponent_negative {
            exponent = -exponent;
        }
    }
    if at != text.len() {
        return Err(FixedError::NotANumber);
    }

    value(negative, int_digits, frac_digits, exponent)
}

/// `±(int_digits.frac_digits) × 10^exponent` as a [`Fixed`], exactly.
fn value(
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
    exponent: i64,
) -> Result<Fixed, FixedError> {
    // The significant digits, as one run over both parts: leading zeros dropped, trailing zeros
    // folded into the power of ten. units = mantissa × 10^power.
    let digits = || int_digits.iter().chain(frac_digits).copied();
    let total = int_digits.len() + frac_digits.len();
    let leading = digits().take_while(|&d| d == b'0').count();
    if leading == total {
        return Ok(Fixed::ZERO);
    }
    let trailing = digits().rev().take_while(|&d| d == b'0').count();
    let significant = total - leading - trailing;
    // Digit counts are bounded by the body size, far below i64's range.
    let power = i64::from(SCALE_DIGITS) - frac_digits.len() as i64 + trailing as i64 + exponent;
    if power < 0 {
        return Err(FixedError::TooPrecise);
    }
    // i64::MAX has 19 digits: anything longer is out of range before it is computed.
    if significant as i64 + power > 19 {
        return Err(FixedError::Overflow);
    }
    let mut mantissa: u64 = 0;
    for digit in digits().skip(leading).take(significant) {
        mantissa = mantissa * 10 + u64::from(digit - b'0'); // ≤ 19 digits: no overflow
    }
    let scaled = u128::from(mantissa) * 10u128.pow(power as u32);
    let signed = if negative {
        -(scaled as i128)
    } else {
        scaled as i128
    };
    i64::try_from(signed)
        .map(Fixed::from_units)
        .map_err(|_| FixedError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Result<i64, FixedError> {
        read(text.as_bytes(), Grammar::DecimalString).map(Fixed::units)
    }

    fn number(text: &str) -> Result<i64, FixedError> {
        read(text.as_bytes(), Grammar::JsonNumber).map(Fixed::units)
    }

    #[test]
    fn decimal_strings_are_read_exactly() {
        assert_eq!(string("5.12580012"), Ok(512_580_012));
        assert_eq!(string("160"), Ok(16_000_000_000));
        assert_eq!(string("007"), Ok(700_000_000));
        assert_eq!(string("0.10000000000"), Ok(10_000_000));
        assert_eq!(string("-0.5"), Ok(-50_000_000));
        assert_eq!(string("-0"), Ok(0));
        assert_eq!(string("0.00000001"), Ok(1));
        assert_eq!(string("92233720368.54775807"), Ok(i64::MAX));
        assert_eq!(string("-92233720368.54775808"), Ok(i64::MIN));
    }

    #[test]
    fn anything_outside_the_string_grammar_is_not_a_number() {
        for text in [
            "",
            "-",
            "1_0",
            "1 0",
            " 1",
            "1 ",
            "+1",
            "1e2",
            "1E2",
            ".5",
            "5.",
            "1.2.3",
            "0x10",
            "1,5",
            "١",
            "NaN",
            "Infinity",
            "--1",
            "1-",
            "5.1258001 ",
            "\u{0}1",
        ] {
            assert_eq!(string(text), Err(FixedError::NotANumber), "{text:?}");
        }
    }

    #[test]
    fn json_numbers_follow_json_grammar() {
        assert_eq!(number("5.12580012"), Ok(512_580_012));
        assert_eq!(number("1e2"), Ok(10_000_000_000));
        assert_eq!(number("1E+2"), Ok(10_000_000_000));
        assert_eq!(number("15e-1"), Ok(150_000_000));
        assert_eq!(number("0.000000000000000000001e21"), Ok(100_000_000));
        assert_eq!(number("0"), Ok(0));
        assert_eq!(number("-0.0"), Ok(0));
        for text in ["007", "01", "+1", "1.", ".1", "1e", "1e+", "1_0", "1 "] {
            assert_eq!(number(text), Err(FixedError::NotANumber), "{text:?}");
        }
    }

    #[test]
    fn too_precise_and_too_large_are_told_apart() {
        assert_eq!(string("5.125800121"), Err(FixedError::TooPrecise));
        assert_eq!(string("5.1258001200"), Ok(512_580_012));
        assert_eq!(number("1e-9"), Err(FixedError::TooPrecise));
        assert_eq!(
            number("1e-99999999999999999999"),
            Err(FixedError::TooPrecise)
        );
        assert_eq!(string("92233720368.54775808"), Err(FixedError::Overflow));
        assert_eq!(string("92233720369"), Err(FixedError::Overflow));
        assert_eq!(
            string("99999999999999999999999999999999999"),
            Err(FixedError::Overflow)
        );
        assert_eq!(number("1e400"), Err(FixedError::Overflow));
        assert_eq!(number("1e99999999999999999999"), Err(FixedError::Overflow));
        assert_eq!(
            string(&format!("0.{}1", "0".repeat(5000))),
            Err(FixedError::TooPrecise)
        );
        assert_eq!(string(&format!("{}1", "0".repeat(5000))), Ok(100_000_000));
    }
}
