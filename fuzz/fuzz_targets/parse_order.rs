//! Order bodies come straight off the network (`POST /back-office/orders`, `PATCH` cancels):
//! whatever the bytes, parsing answers `Ok` or `INVALID_ORDER`, never a panic; an order that
//! parses carries only exact, positive numbers, nests no deeper than the limit, and names at
//! least one instrument identifier, none of them blank. The one-pass scan agrees with serde_json
//! on what is JSON: a body serde_json refuses as an object is never an order, and one it reads
//! is never refused as "not valid JSON".

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use omnigate::money::Fixed;
use omnigate::order::{nesting_within, parse_cancel, parse_order, Size, DEFAULT_MAX_JSON_DEPTH};
use omnigate::reject::RejectCode;

fuzz_target!(|data: &[u8]| {
    // Top-level keys decoded (a key that is no text, such as a lone surrogate, is refused:
    // which field it names cannot be said), everything below them only checked.
    let is_json = serde_json::from_slice::<BTreeMap<String, serde::de::IgnoredAny>>(data).is_ok();
    match parse_order(data) {
        Ok(order) => {
            assert!(is_json, "an order parsed from a body serde_json refuses");
            assert!(
                std::str::from_utf8(data).is_ok(),
                "an order parsed from bytes that are not UTF-8"
            );
            let (size_field, size) = match order.size {
                Size::Quantity(quantity) => ("quantity", quantity),
                Size::AmountCash(amount) => ("amountCash", amount),
            };
            assert_positive_and_exact(size_field, size);
            if let Some(price) = order.price {
                assert_positive_and_exact("price", price);
            }
            assert!(
                !order.order_type.needs_price() || order.price.is_some(),
                "a {} order parsed without a price",
                order.order_type.as_str()
            );
            assert!(
                !order.account_no.trim().is_empty(),
                "an order parsed with a blank accountNo"
            );
            assert!(
                nesting_within(data, DEFAULT_MAX_JSON_DEPTH).is_some(),
                "an order parsed that nests deeper than {DEFAULT_MAX_JSON_DEPTH}"
            );
            let identifiers: Vec<_> = order.instrument.given().collect();
            assert!(
                !identifiers.is_empty(),
                "an order parsed naming no instrument"
            );
            assert!(
                identifiers
                    .iter()
                    .all(|(_, value)| !value.trim().is_empty()),
                "an order parsed with a blank instrument identifier"
            );
        }
        Err(reject) => {
            assert_eq!(
                reject.code,
                RejectCode::InvalidOrder,
                "parse_order refused with {:?}, not INVALID_ORDER: {}",
                reject.code,
                reject.message
            );
            assert!(
                reject.message.len() <= MESSAGE_BYTES_MAX,
                "a {}-byte message quotes the input back",
                reject.message.len()
            );
            assert!(
                !(is_json && reject.message.contains("not valid JSON")),
                "serde_json reads the body, the scan refused it: {}",
                reject.message
            );
        }
    }
    // A cancel is any other PATCH body; only "no panic", the code and a short message are
    // promised.
    if let Err(reject) = parse_cancel(data) {
        assert_eq!(reject.code, RejectCode::InvalidOrder, "{}", reject.message);
        assert!(reject.message.len() <= MESSAGE_BYTES_MAX);
    }
});

/// A rejection's message stays small whatever the body: it goes into answers and log lines.
const MESSAGE_BYTES_MAX: usize = 512;

/// Positive, and its text reads back to the same number (nothing was rounded on the way in).
fn assert_positive_and_exact(field: &str, value: Fixed) {
    assert!(
        value.is_positive(),
        "{field} parsed as {value}, not above zero"
    );
    assert_eq!(
        Fixed::parse(&value.to_string()),
        Ok(value),
        "{field} {value} does not read back from its own text"
    );
}
