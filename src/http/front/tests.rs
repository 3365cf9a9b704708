//! The order front's pure pieces: reading the created order's id, the JSON content type and the
//! queued-until header.

use super::*;

/// The kept value is the one for the open asked, whichever was asked before.
#[test]
fn queued_until_names_the_open_asked() {
    let opens = ["2026-12-04T14:30:00Z", "2026-12-07T14:30:00Z"]
        .map(|text| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    for open in [opens[0], opens[0], opens[1], opens[0], opens[1], opens[1]] {
        assert_eq!(
            queued_until(open).unwrap(),
            HeaderValue::from_str(&open.to_rfc3339()).unwrap()
        );
    }
    assert_eq!(queued_until(opens[1]).unwrap(), "2026-12-07T14:30:00+00:00");
}

/// The id is read as serde reads `{orderId, id}` from an object: each optional string,
/// other keys ignored, escapes decoded; a wrong type or a key twice reads as no id.
#[test]
fn the_created_order_id_is_read_as_serde_reads_it() {
    #[derive(serde::Deserialize)]
    struct Created {
        #[serde(rename = "orderId")]
        order_id: Option<String>,
        id: Option<String>,
    }
    let by_serde = |body: &str| {
        serde_json::from_str::<Created>(body)
            .ok()
            .and_then(|created| created.order_id.or(created.id))
            .filter(|id| !id.is_empty() && id.len() <= 128)
    };
    let long = format!(r#"{{"orderId":"{}"}}"#, "x".repeat(129));
    for body in [
        r#"{"orderId":"KC.1","orderNo":"KCAB000001","status":"NEW"}"#,
        r#"{"id":"KC.2"}"#,
        r#"{"id":"KC.3","orderId":"KC.4"}"#,
        r#"{"orderId":null,"id":"KC.5"}"#,
        r#"{"orderId":"KC\u002e6","nested":{"orderId":"no"},"list":[1,{"id":2}]}"#,
        r#"{"orderId":""}"#,
        r#"{"orderId":7}"#,
        r#"{"orderId":"KC.8","orderId":"KC.9"}"#,
        r#"{"orderId":"KC.10"} trailing"#,
        r#"{"orderId":"KC.11""#,
        r#""KC.12""#,
        "",
        long.as_str(),
    ] {
        assert_eq!(created_order_id(body.as_bytes()), by_serde(body), "{body}");
    }
    assert_eq!(
        created_order_id(br#"{"orderId":"KC.6"}"#).as_deref(),
        Some("KC.6")
    );
}

#[test]
fn only_json_is_an_order() {
    let mut headers = http::HeaderMap::new();
    assert!(require_json(&headers).is_err());
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("Application/JSON; charset=utf-8"),
    );
    assert!(require_json(&headers).is_ok());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    assert!(require_json(&headers).is_err());
}
