//! The scan against serde_json, the reader it replaced: the same verdict on every body and the
//! same raw text for every field.

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::*;

const NAMES: [&str; 4] = ["side", "quantity", "symbol", "clientID"];

fn index_of(key: &[u8]) -> Option<usize> {
    NAMES.iter().position(|name| name.as_bytes() == key)
}

fn scan(text: &str, max_depth: usize) -> Result<[Option<&str>; 4], ScanError> {
    let mut fields = [None; 4];
    scan_object(text, index_of, &NAMES, max_depth, &mut fields).map(|()| fields)
}

/// What serde_json reads: the same four fields, borrowed raw.
#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow)]
    side: Option<&'a RawValue>,
    #[serde(borrow)]
    quantity: Option<&'a RawValue>,
    #[serde(borrow)]
    symbol: Option<&'a RawValue>,
    #[serde(rename = "clientID", borrow)]
    client_id: Option<&'a RawValue>,
}

/// serde_json's verdict: the fields (a `null` as absent), or whether it refused a duplicate.
fn reference(text: &str) -> Result<[Option<&str>; 4], bool> {
    if !crate::json_shape::Shape::Object.opens(text.as_bytes()) {
        return Err(false);
    }
    let read: Reference<'_> = serde_json::from_str(text)
        .map_err(|error| error.to_string().starts_with("duplicate field"))?;
    Ok([read.side, read.quantity, read.symbol, read.client_id].map(|raw| raw.map(RawValue::get)))
}

/// The scan's verdict in the same terms.
fn scanned(text: &str) -> Result<[Option<&str>; 4], bool> {
    match scan(text, 32) {
        Ok(fields) => Ok(fields.map(|field| field.filter(|&text| text != "null"))),
        Err(ScanError::Duplicate(_)) => Err(true),
        Err(ScanError::Syntax { .. }) => Err(false),
        Err(ScanError::TooDeep) => panic!("{text:?} is shallow"),
    }
}

fn string_text() -> impl Strategy<Value = String> {
    // Plain characters, every escape, a lone surrogate, a raw control character.
    r#""([a-z ]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}|\\ud800|\\udc00|é|)*""#
}

fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""side""#.to_owned()),
        Just(r#""quantity""#.to_owned()),
        Just(r#""symbol""#.to_owned()),
        Just(r#""clientID""#.to_owned()),
        Just(r#""\u0073ide""#.to_owned()),
        Just(r#""quantit\u0079""#.to_owned()),
        Just(r#""other""#.to_owned()),
        string_text(),
    ]
}

fn value_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        string_text(),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key_text(), inner), 0..4).prop_map(|pairs| {
                let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", pairs.join(","))
            }),
        ]
    })
}

fn body_text() -> impl Strategy<Value = String> {
    let space = prop_oneof![Just(""), Just(" "), Just("\n\t"), Just("\r ")];
    prop::collection::vec((key_text(), space.clone(), value_text(), space), 0..6).prop_map(
        |pairs| {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, before, v, after)| format!("{before}{k}{after}:{before}{v}{after}"))
                .collect();
            format!("{{{}}}", pairs.join(","))
        },
    )
}

/// A body with one byte replaced, inserted or removed, from the characters JSON cares about.
fn mutated() -> impl Strategy<Value = String> {
    let alphabet = prop::sample::select(
        b"{}[]:,\"\\ 0123456789eE.+-tfnlrsu\x01\x1f"
            .iter()
            .map(|&b| char::from(b))
            .collect::<Vec<_>>(),
    );
    (body_text(), any::<prop::sample::Index>(), alphabet, 0..3u8).prop_map(
        |(body, index, new, how)| {
            let mut chars: Vec<char> = body.chars().collect();
            let at = index.index(chars.len() + 1);
            match how {
                0 if at < chars.len() => chars[at] = new,
                1 => chars.insert(at, new),
                _ if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.push(new),
            }
            chars.into_iter().collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn valid_bodies_read_as_serde_json_reads_them(body in body_text()) {
        prop_assert_eq!(scanned(&body), reference(&body), "{}", body);
    }

    #[test]
    fn broken_bodies_get_serde_json_verdict(body in mutated()) {
        prop_assert_eq!(scanned(&body), reference(&body), "{}", body);
    }

    #[test]
    fn any_text_gets_serde_json_verdict(body in "\\{[ -~]{0,40}") {
        prop_assert_eq!(scanned(&body), reference(&body), "{}", body);
    }
}

#[test]
fn fields_are_their_raw_text() {
    let body = r#" { "side" : "BUY", "x": {"side": 1}, "quantity":1.50, "symbol":"A\u0041" } "#;
    assert_eq!(
        scan(body, 32),
        Ok([Some(r#""BUY""#), Some("1.50"), Some(r#""A\u0041""#), None])
    );
}

#[test]
fn a_field_is_its_decoded_key_and_may_appear_once() {
    for body in [
        r#"{"side":"BUY","side":"SELL"}"#,
        r#"{"side":"BUY","\u0073ide":"SELL"}"#,
        r#"{"side":null,"side":"SELL"}"#,
    ] {
        assert_eq!(scan(body, 32), Err(ScanError::Duplicate("side")), "{body}");
    }
    // Unread fields may repeat (serde_json lets them), and keys in nested objects are not fields.
    assert!(scan(r#"{"x":1,"x":2,"y":{"side":1,"side":2},"side":"BUY"}"#, 32).is_ok());
}

#[test]
fn nesting_is_bounded_and_costs_no_stack() {
    let nested = |depth: usize| {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert!(scan(&nested(32), 32).is_ok());
    assert_eq!(scan(&nested(33), 32), Err(ScanError::TooDeep));
    assert!(scan(&nested(128), 128).is_ok());
    assert_eq!(scan(&nested(129), 200), Err(ScanError::TooDeep));
    assert_eq!(scan("{}", 0), Err(ScanError::TooDeep));
    assert!(scan("{}", 1).is_ok());
    // Far deeper than any stack would take, broken or not.
    let deep = format!("{{\"a\":{}", "[{\"b\":".repeat(200_000));
    assert_eq!(scan(&deep, 128), Err(ScanError::TooDeep));
}

#[test]
fn errors_say_where() {
    assert_eq!(
        scan(r#"{"side" "BUY"}"#, 32),
        Err(ScanError::Syntax {
            at: 8,
            expected: "':'"
        })
    );
    assert_eq!(
        scan(r#"{"side":"BUY"} x"#, 32),
        Err(ScanError::Syntax {
            at: 15,
            expected: "nothing after the object"
        })
    );
    assert!(matches!(
        scan(r#"{"quantity":01}"#, 32),
        Err(ScanError::Syntax { .. })
    ));
    assert!(matches!(
        scan(r#"{"side":"BUY",}"#, 32),
        Err(ScanError::Syntax { .. })
    ));
    assert!(matches!(
        scan("[1]", 32),
        Err(ScanError::Syntax { at: 0, .. })
    ));
    assert!(matches!(
        scan("{\"a\":\"\x01\"}", 32),
        Err(ScanError::Syntax { .. })
    ));
}
