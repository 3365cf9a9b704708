//! The parser: exact reading of each field, and a clear message for each problem.

use super::*;
use crate::order::InstrumentKey;
use crate::reject::RejectCode;

fn parse(body: &str) -> Result<Order<'_>, Reject> {
    parse_order(body.as_bytes())
}

fn message(body: &str) -> String {
    let reject = parse(body).unwrap_err();
    assert_eq!(reject.code, RejectCode::InvalidOrder, "{body}");
    reject.message
}

const LIMIT_ORDER: &str = r#"{"accountNo":"DWPH000003","orderType":"LIMIT","symbol":"AAPL",
    "side":"BUY","quantity":10,"price":160,"clientID":"123456789","extra":{"kept":true}}"#;

#[test]
fn an_order_is_a_json_object_never_an_array() {
    // serde's derive would read an array as the struct's fields in order: refused instead.
    for body in [
        r#"["DWOM000001","MARKET","BUY","AAPL",null,null,1]"#,
        r#"  ["DWOM000001"]"#,
        "[]",
        "\"text\"",
        "17",
    ] {
        let reject = parse(body).unwrap_err();
        assert_eq!(reject.code, RejectCode::InvalidOrder, "{body}");
        assert!(
            reject.message.contains("JSON object"),
            "{body}: {}",
            reject.message
        );
    }
    let reject = parse_cancel(br#"["CANCEL"]"#).unwrap_err();
    assert!(reject.message.contains("JSON object"), "{}", reject.message);
}

#[test]
fn every_field_is_found_at_its_place() {
    for (index, name) in FIELDS.iter().enumerate() {
        assert_eq!(field_index(name.as_bytes()), Some(index), "{name}");
    }
    assert_eq!(field_index(b"Side"), None);
    assert_eq!(field_index(b""), None);
}

#[test]
fn reads_the_seed_limit_order() {
    let order = parse(LIMIT_ORDER).unwrap();
    assert_eq!(order.account_no, "DWPH000003");
    assert_eq!(order.order_type, OrderType::Limit);
    assert_eq!(order.side, Side::Buy);
    assert_eq!(order.instrument, InstrumentRef::symbol("AAPL"));
    assert_eq!(order.size, Size::Quantity(Fixed::from_int(10).unwrap()));
    assert_eq!(order.price, Some(Fixed::from_int(160).unwrap()));
    assert_eq!(order.client_id, ClientIdField::Text("123456789".into()));
    assert!(!order.prevent_queuing);
    assert!(matches!(order.account_no, Cow::Borrowed(_)));
}

#[test]
fn numbers_are_exact_whether_numbers_or_strings() {
    for body in [
        r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":5.12580012}"#,
        r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":"5.12580012"}"#,
    ] {
        let order = parse(body).unwrap();
        assert_eq!(order.size, Size::Quantity(Fixed::from_units(512_580_012)));
        assert!(order.size.is_fractional());
    }
    let order = parse(
        r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","amountCash":0.1}"#,
    )
    .unwrap();
    assert_eq!(order.size, Size::AmountCash(Fixed::from_units(10_000_000)));
}

#[test]
fn each_problem_names_its_field() {
    let base = |extra: &str| {
        format!(r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY"{extra}}}"#)
    };
    assert!(message(&base(r#","quantity":5.125800121"#)).contains("more than 8 decimal"));
    assert!(message(&base(r#","quantity":0"#)).contains("above zero"));
    assert!(message(&base(r#","quantity":-1"#)).contains("above zero"));
    assert!(message(&base(r#","quantity":"ten""#)).contains("not a decimal"));
    assert!(message(&base(r#","quantity":true"#)).contains("quantity"));
    assert!(message(&base("")).contains("neither quantity nor amountCash"));
    assert!(message(&base(r#","quantity":1,"amountCash":5"#)).contains("both"));
    assert!(message(&base(r#","quantity":1,"quantity":2"#)).contains("duplicate"));
    assert!(message(&base(r#","quantity":1,"timeInForce":"IOC""#)).contains("timeInForce"));
    assert!(message(&base(r#","quantity":1,"preventQueuing":"yes""#)).contains("preventQueuing"));
    assert!(message(&base(r#","quantity":1e400"#)).contains("quantity"));
    assert!(
        message(r#"{"orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#)
            .contains("accountNo is missing")
    );
    assert!(
        message(r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1}"#)
            .contains("symbol")
    );
    assert!(message(
        r#"{"accountNo":"A","orderType":"LIMIT","symbol":"X","side":"BUY","quantity":1}"#
    )
    .contains("needs a price"));
    assert!(message(
        r#"{"accountNo":"A","orderType":"BUY_OPEN","symbol":"X","side":"BUY","quantity":1}"#
    )
    .contains("orderType"));
    assert!(message(
        r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"HOLD","quantity":1}"#
    )
    .contains("side"));
    assert!(message(
        r#"{"accountNo":5,"orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#
    )
    .contains("accountNo must be a string"));
    // Blank is white space by Unicode's measure, escaped or not; a padded value is not blank.
    let order = r#"{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#;
    for blank in [r#""""#, r#"" ""#, r#""\t""#, r#""\u3000""#, "\"\u{3000}\""] {
        for (field, given) in [("accountNo", r#""A""#), ("symbol", r#""X""#)] {
            let body = order.replace(
                &format!(r#""{field}":{given}"#),
                &format!(r#""{field}":{blank}"#),
            );
            let refusal = message(&body);
            assert!(
                refusal.contains(&format!("{field} is blank")),
                "{body}: {refusal}"
            );
        }
    }
    assert!(parse(
        r#"{"accountNo":" A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1}"#
    )
    .is_ok());
}

#[test]
fn malformed_bodies_are_invalid_orders() {
    for body in [
        "",
        "   ",
        "{",
        "[]",
        "null",
        "\"order\"",
        "{}x",
        "{\"accountNo\":}",
    ] {
        let reject = parse(body).unwrap_err();
        assert_eq!(reject.code, RejectCode::InvalidOrder, "{body:?}");
    }
    assert_eq!(
        parse_order(&[0xff, 0xfe]).unwrap_err().code,
        RejectCode::InvalidOrder
    );
}

#[test]
fn numbers_are_strict() {
    let with = |quantity: &str| {
        format!(
            r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":{quantity}}}"#
        )
    };
    for bad in [
        r#""1_0""#,
        r#"" 1""#,
        r#""1 ""#,
        r#""+1""#,
        r#""1e1""#,
        r#"".5""#,
        r#""5.""#,
        r#""\u0031""#,
        r#""""#,
    ] {
        assert!(message(&with(bad)).contains("not a decimal"), "{bad}");
    }
    assert!(parse(&with("01")).is_err(), "not JSON");
    let size = |quantity: &str| parse(&with(quantity)).unwrap().size;
    assert_eq!(size("1e1"), Size::Quantity(Fixed::from_int(10).unwrap()));
    assert_eq!(
        size(r#""007.50""#),
        Size::Quantity(Fixed::parse("7.5").unwrap())
    );
}

#[test]
fn an_order_may_name_its_instrument_three_ways() {
    let order = parse(
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,
            "symbol":"AAPL","instrumentID":"a674","ISIN":"US0378331005"}"#,
    )
    .unwrap();
    let given: Vec<_> = order.instrument.given().collect();
    assert_eq!(
        given,
        [
            (InstrumentKey::Symbol, "AAPL"),
            (InstrumentKey::InstrumentId, "a674"),
            (InstrumentKey::Isin, "US0378331005")
        ]
    );
    let order = parse(
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"ISIN":"US0378331005"}"#,
    )
    .unwrap();
    assert_eq!(order.instrument.given().count(), 1);
    for body in [
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":"","instrumentID":"a"}"#,
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"ISIN":7}"#,
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":null}"#,
        r#"{"accountNo":"A","orderType":"MARKET","side":"BUY","quantity":1,"symbol":"X","symbol":"Y"}"#,
    ] {
        assert_eq!(
            parse(body).unwrap_err().code,
            RejectCode::InvalidOrder,
            "{body}"
        );
    }
}

#[test]
fn the_whole_body_is_held_to_the_nesting_limit() {
    let with_extra = |depth: usize| {
        format!(
            r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1,"extra":{}{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert!(parse_order_within(with_extra(8).as_bytes(), 8).is_ok());
    assert!(message(&with_extra(33)).contains("server.max_json_depth"));
    assert!(parse_order_within(with_extra(9).as_bytes(), 8).is_err());
    let cancel = format!(
        r#"{{"method":"CANCEL","x":{}{}}}"#,
        "{\"a\":".repeat(40),
        "}".repeat(40)
    );
    assert!(parse_cancel(cancel.as_bytes()).is_err());
}

#[test]
fn client_id_problems_are_left_for_the_rules() {
    let with = |value: &str| {
        format!(
            r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":1,"clientID":{value}}}"#
        )
    };
    assert_eq!(
        parse(&with("null")).unwrap().client_id,
        ClientIdField::Absent
    );
    assert_eq!(
        parse(&with("123456789")).unwrap().client_id,
        ClientIdField::WrongType
    );
    assert_eq!(
        parse(&with(r#""CUST0A19F""#)).unwrap().client_id,
        ClientIdField::Text("CUST0A19F".into())
    );
    assert_eq!(
        parse(&with(r#""A\u0042C""#)).unwrap().client_id,
        ClientIdField::Text("ABC".into())
    );
}

#[test]
fn a_huge_string_body_is_not_quoted_back_whole() {
    let body = format!("\"{}\"", "x".repeat(60_000));
    assert!(parse_order(body.as_bytes()).unwrap_err().message.len() < 300);
    assert!(parse_cancel(body.as_bytes()).unwrap_err().message.len() < 300);
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "9".repeat(5000);
    let body = format!(
        r#"{{"accountNo":"A","orderType":"MARKET","symbol":"X","side":"BUY","quantity":{long}}}"#
    );
    assert!(message(&body).len() < 200);
}

#[test]
fn cancels_are_recognised() {
    assert_eq!(
        parse_cancel(br#"{"method":"CANCEL"}"#).unwrap(),
        OrderPatch::Cancel
    );
    assert_eq!(
        parse_cancel(br#"{"method":"REPLACE"}"#).unwrap(),
        OrderPatch::Other
    );
    assert!(parse_cancel(b"{").is_err());
    assert!(parse_cancel(b"{}").is_err());
}
