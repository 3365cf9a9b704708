//! The admin API's bulk loads (`POST /admin/customers`, `POST /admin/instruments`): JSON Lines in
//! the bootstrap files' shapes, applied in order, durable before the answer (they survive a
//! SIGKILL), and a bad line stops the load naming itself and how many came before it.

mod common;

use common::{config, Gateway};

fn customers(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!(r#"{{"clientID":"BULK{n:05}X","customerId":"bulk-{n}","cash":"{n}.5"}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn customers_and_instruments_load_in_bulk_and_survive_a_crash() {
    let settings = config(
        "max_bulk_bytes = 1000000",
        "[upstream]\npoll_interval_ms = 0\n[wal]\nsnapshot_every = 100000000",
    );
    let gateway = Gateway::start(&settings);

    // 5,000 customers (several group-commit batches) and one instrument, with a blank line.
    let body = format!("{}\n\n", customers(0, 5_000));
    let answer = gateway.admin("POST", "/admin/customers", &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["loaded"], 5_000);
    let instrument = r#"{"symbol":"BULKX","instrumentID":"i-bulkx","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":false,"price":"12.5"}"#;
    let answer = gateway.admin("POST", "/admin/instruments", instrument);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["loaded"], 1);

    // A bad third line: the two before it stay, nothing after it is loaded.
    let body = format!(
        "{}\n{{\"clientID\":\"BULKBAD1X\",\"cash\":\"1\"}}\n{}",
        customers(10_000, 2),
        customers(20_000, 1)
    );
    let answer = gateway.admin("POST", "/admin/customers", &body);
    assert_eq!(answer.status, 400, "{}", answer.text());
    let (code, message) = answer.error();
    assert_eq!(code, "BAD_REQUEST");
    assert!(message.starts_with("line 3: "), "{message}");
    assert!(
        message.contains("the 2 entries before it were loaded"),
        "{message}"
    );

    // Over server.max_bulk_bytes: refused before anything is read.
    let answer = gateway.admin("POST", "/admin/customers", &customers(30_000, 20_000));
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert!(
        answer.text().contains("server.max_bulk_bytes"),
        "{}",
        answer.text()
    );

    // Every loaded entry was durable before its answer: a SIGKILL loses none of them.
    let dir = gateway.dir.clone();
    gateway.kill();
    let gateway = Gateway::start_in(dir, &settings);
    assert_eq!(gateway.customer("BULK04999X")["cash"], "4999.5");
    assert_eq!(gateway.customer("BULK10001X")["customerId"], "bulk-10001");
    let missing = gateway.admin("GET", "/admin/customers/BULK20000X", "");
    assert_eq!(
        missing.status, 404,
        "the line after the bad one was not loaded"
    );
    let instrument = gateway.admin("GET", "/admin/instruments/BULKX", "");
    assert_eq!(instrument.json()["price"], "12.5");
    gateway.stop();
}
