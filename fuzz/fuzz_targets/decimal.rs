//! The strict decimal reader (SPEC §3.0 "Strict numbers"), against `rust_decimal` as the
//! reference: for every input, in both grammars, the reader never panics; what it accepts has
//! the grammar's shape and the exact value `rust_decimal` reads from the same text; and it
//! refuses as too precise or out of range exactly what is so.

#![no_main]

use libfuzzer_sys::fuzz_target;
use omnigate::money::read::{read, Grammar};
use omnigate::money::{Fixed, FixedError};
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    for grammar in [Grammar::DecimalString, Grammar::JsonNumber] {
        let ours = read(data, grammar);
        let shaped = has_shape(data, grammar);
        match (&ours, shaped) {
            (Err(FixedError::NotANumber), false) => continue,
            (Err(FixedError::NotANumber), true) => {
                panic!("{grammar:?} refused {:?}, which has its shape", text(data))
            }
            (_, false) => panic!("{grammar:?} read {:?}, which lacks its shape", text(data)),
            (_, true) => {}
        }
        if let Ok(value) = ours {
            assert_eq!(Fixed::from_decimal(value.to_decimal()), Ok(value));
        }
        // rust_decimal holds 28 digits and a scale up to 28, and rounds or refuses beyond them:
        // it is the reference only where it is exact.
        if mantissa_digits(data) > 28 {
            continue;
        }
        let Some(reference) = reference(data) else {
            // from_str_exact reads every plain decimal of up to 28 digits; from_scientific has
            // exponent limits of its own (it refuses `0e77`), so there it says nothing.
            assert!(
                ours.is_err() || data.iter().any(|b| matches!(b, b'e' | b'E')),
                "{grammar:?} read {:?} as {ours:?}; rust_decimal cannot read it",
                text(data)
            );
            continue;
        };
        match (ours, Fixed::from_decimal(reference)) {
            (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{grammar:?} {:?}", text(data)),
            // Both refuse; which reason comes first (too precise or too large) may differ.
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!(
                "{grammar:?} {:?}: ours {ours:?}, rust_decimal {reference} → {theirs:?}",
                text(data)
            ),
        }
    }
});

/// Digits in the mantissa (before any exponent), leading zeros of the whole part aside.
fn mantissa_digits(data: &[u8]) -> usize {
    let mantissa: Vec<u8> = data
        .iter()
        .take_while(|&&b| b != b'e' && b != b'E')
        .copied()
        .filter(|&b| b != b'-')
        .collect();
    let whole_zeros = mantissa.iter().take_while(|&&b| b == b'0').count();
    mantissa[whole_zeros..]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .count()
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The grammar, written out independently of the reader.
fn has_shape(data: &[u8], grammar: Grammar) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let body = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match grammar {
        Grammar::DecimalString => (body, None),
        Grammar::JsonNumber => match body.find(['e', 'E']) {
            Some(at) => (&body[..at], Some(&body[at + 1..])),
            None => (body, None),
        },
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|frac| !digits(frac)) {
        return false;
    }
    if grammar == Grammar::JsonNumber && int.len() > 1 && int.starts_with('0') {
        return false;
    }
    match exponent {
        None => true,
        Some(exponent) => digits(exponent.strip_prefix(['+', '-']).unwrap_or(exponent)),
    }
}

/// rust_decimal's reading, when the value fits it (up to 28 significant digits and a scale it
/// can carry); `None` when it cannot say.
fn reference(data: &[u8]) -> Option<Decimal> {
    let text = std::str::from_utf8(data).ok()?;
    if text.contains(['e', 'E']) {
        // Keep exponents where rust_decimal is exact.
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str_exact(text).ok()
    }
}
