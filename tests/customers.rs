//! The customer registry through the admin API (SPEC §7): a paged listing in clientID order,
//! with each customer's freeze.

mod common;

use common::{config, Gateway};

fn page(gateway: &Gateway, query: &str) -> (Vec<String>, serde_json::Value) {
    let answer = gateway.admin("GET", &format!("/admin/customers{query}"), "");
    assert_eq!(answer.status, 200, "{query}: {}", answer.text());
    let json = answer.json();
    let ids = json["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["clientID"].as_str().unwrap().to_owned())
        .collect();
    (ids, json["next"].clone())
}

#[test]
fn customers_are_listed_a_page_at_a_time_in_client_id_order() {
    let gateway = Gateway::start(&config("", ""));
    for (client_id, customer_id) in [("ZED01", "c-9"), ("ALPHA7", "c-7"), ("M-42", "c-8")] {
        let registered = gateway.admin(
            "PUT",
            &format!("/admin/customers/{client_id}"),
            &format!(r#"{{"customerId":"{customer_id}","cash":"10"}}"#),
        );
        assert_eq!(registered.status, 200, "{}", registered.text());
    }
    let frozen = gateway.admin(
        "PUT",
        "/admin/customers/M-42/freeze",
        r#"{"frozen":true,"reason":"KYC review"}"#,
    );
    assert_eq!(frozen.status, 200, "{}", frozen.text());

    // The book's two customers and the three above, in byte order of clientID.
    let all = ["123456789", "ALPHA7", "CUST0A19F", "M-42", "ZED01"];
    let (ids, next) = page(&gateway, "");
    assert_eq!(ids, all);
    assert!(next.is_null());

    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let (ids, next) = page(&gateway, &query);
        seen.extend(ids);
        match next.as_str() {
            Some(after) => query = format!("?after={after}&limit=2"),
            None => break,
        }
    }
    assert_eq!(seen, all);

    let answer = gateway.admin("GET", "/admin/customers?after=CUST0A19F&limit=1", "");
    let listed = &answer.json()["customers"][0];
    assert_eq!(listed["clientID"], "M-42");
    assert_eq!(listed["frozen"], true);
    assert_eq!(listed["frozenReason"], "KYC review");
    assert_eq!(listed["cash"], "10");

    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?limit=1&limit=2",
        "?after=a%20b",
        "?sort=desc",
    ] {
        let answer = gateway.admin("GET", &format!("/admin/customers{bad}"), "");
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text());
        assert_eq!(answer.error().0, "BAD_REQUEST", "{bad}");
    }
}
