//! Black-box tests: a simulator on 127.0.0.1:0, spoken to over real HTTP/1.1.
//!
//! Waits poll a condition every few milliseconds up to a deadline; nothing sleeps and hopes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::value::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Setup, Simulator};
use crate::clock::FixedClock;
use crate::config::{Decimal, SimulatorConfig};

const DEADLINE: Duration = Duration::from_secs(5);

struct Running {
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    served: JoinHandle<()>,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    /// A top-level field as raw JSON text, so numbers are compared exactly as written.
    fn raw(&self, key: &str) -> String {
        let fields: HashMap<String, Box<RawValue>> = serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {}", self.body));
        fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {}", self.body))
            .get()
            .to_owned()
    }

    fn text(&self, key: &str) -> String {
        serde_json::from_str(&self.raw(key)).unwrap()
    }
}

fn config() -> SimulatorConfig {
    let mut config = SimulatorConfig {
        fill_delay_ms: 0,
        seed: 7,
        ..SimulatorConfig::default()
    };
    config
        .prices
        .insert("AAPL".to_owned(), Decimal::from_text("190.00"));
    config
}

async fn start(config: SimulatorConfig) -> Running {
    let created = chrono::DateTime::parse_from_rfc3339("2026-03-09T14:30:00.250Z")
        .unwrap()
        .to_utc();
    let sim = Simulator::new(Setup::bare(&config, Arc::new(FixedClock::new(created)))).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (shutdown, receiver) = watch::channel(false);
    let served = tokio::spawn(sim.serve(listener, receiver));
    let client = Client::builder(TokioExecutor::new()).build_http();
    Running {
        address,
        shutdown,
        served,
        client,
    }
}

impl Running {
    async fn call(&self, method: Method, path: &str, body: &str) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address))
            .header("content-type", "application/json")
            .header("dw-client-app-key", "app-key-1")
            .header("authorization", "Bearer token-1")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = tokio::time::timeout(DEADLINE, self.client.request(request))
            .await
            .expect("answer within the deadline")
            .expect("an HTTP answer");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn create(&self, body: &str) -> Reply {
        self.call(Method::POST, "/back-office/orders", body).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, "").await
    }

    /// Polls `GET /back-office/orders/{id}` until its status is `status`.
    async fn wait_for_status(&self, id: &str, status: &str) -> Reply {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let reply = self.get(&format!("/back-office/orders/{id}")).await;
            if reply.text("status") == status {
                return reply;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {id} never reached {status}: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.send_replace(true);
        tokio::time::timeout(DEADLINE, self.served)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

const FRACTIONAL_ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":5.12580012,"clientOrderID":"c-1"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_cancel_round_trip() {
    let mut config = config();
    config.fill_delay_ms = 150;
    let sim = start(config).await;

    let created = sim.create(FRACTIONAL_ORDER).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.text("orderId");
    assert!(id.starts_with("SM.") && id.len() == 35, "{id}");
    assert!(id[3..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let order_no = created.text("orderNo");
    assert!(
        order_no.len() == 10 && order_no.starts_with("SM") && order_no.ends_with("000001"),
        "{order_no}"
    );
    assert!(
        order_no[2..4].chars().all(|c| c.is_ascii_uppercase()),
        "{order_no}"
    );

    // Seed 001: PARTIAL_FILL for the whole shares, then FILLED with the fraction.
    let partial = sim.wait_for_status(&id, "PARTIAL_FILL").await;
    assert_eq!(partial.raw("cumulativeQuantity"), "5");
    assert_eq!(partial.raw("quantity"), "5.12580012");
    assert_eq!(partial.raw("averagePrice"), "190");
    assert_eq!(partial.raw("totalOrderAmount"), "950");
    let filled = sim.wait_for_status(&id, "FILLED").await;
    assert_eq!(filled.text("id"), id);
    assert_eq!(filled.text("type"), "MARKET");
    assert_eq!(filled.text("side"), "BUY");
    assert_eq!(filled.text("symbol"), "AAPL");
    assert_eq!(filled.text("accountNo"), "DWOM000001");
    assert_eq!(filled.text("clientOrderID"), "c-1");
    assert_eq!(filled.text("created"), "2026-03-09T14:30:00.250Z");
    assert_eq!(filled.raw("cumulativeQuantity"), "5.12580012");
    assert_eq!(filled.raw("totalOrderAmount"), "973.9020228");
    assert_eq!(filled.raw("fees"), "0");

    // A final order cannot be canceled.
    let path = format!("/back-office/orders/{id}");
    let refused = sim
        .call(Method::PATCH, &path, r#"{"method":"CANCEL"}"#)
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.text("errorCode"), "O002");

    // An open one can; what filled stays.
    let paused = sim
        .call(Method::PUT, "/sim/fills", r#"{"paused":true}"#)
        .await;
    assert_eq!(paused.body, r#"{"paused":true,"fill_delay_ms":150}"#);
    let open = sim.create(FRACTIONAL_ORDER).await;
    let open_id = open.text("orderId");
    assert_ne!(open_id, id);
    let open_path = format!("/back-office/orders/{open_id}");
    let bad = sim
        .call(Method::PATCH, &open_path, r#"{"method":"X"}"#)
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.text("errorCode"), "E032");
    let canceled = sim
        .call(Method::PATCH, &open_path, r#"{"method":"CANCEL"}"#)
        .await;
    assert_eq!(canceled.status, 200, "{}", canceled.body);
    assert_eq!(canceled.text("orderId"), open_id);
    assert!(canceled.text("orderNo").ends_with("000002"));
    let after = sim.get(&open_path).await;
    assert_eq!(after.text("status"), "CANCELED");
    assert_eq!(after.raw("cumulativeQuantity"), "0");

    // What reached the simulator, byte for byte.
    let orders = sim.get("/sim/orders").await;
    let list: Vec<HashMap<String, Box<RawValue>>> = serde_json::from_str(&orders.body).unwrap();
    assert_eq!(list.len(), 2);
    let body: String = serde_json::from_str(list[0]["requestBody"].get()).unwrap();
    assert_eq!(body, FRACTIONAL_ORDER);
    let headers: HashMap<String, String> =
        serde_json::from_str(list[0]["requestHeaders"].get()).unwrap();
    assert_eq!(headers["dw-client-app-key"], "app-key-1");
    assert_eq!(headers["authorization"], "Bearer token-1");
    assert_eq!(list[1]["status"].get(), r#""CANCELED""#);

    let count = sim.get("/sim/requests/count").await;
    assert!(
        count.raw("count").parse::<u64>().unwrap() >= 9,
        "{}",
        count.body
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_follow_prices_limits_and_pauses() {
    let sim = start(config()).await;

    // No fill delay: filled before the create is answered.
    let whole = sim.create(r#"{"accountNo":"A1","orderType":"MARKET","side":"SELL","symbol":"MSFT","quantity":"2"}"#).await;
    let whole = sim
        .get(&format!("/back-office/orders/{}", whole.text("orderId")))
        .await;
    assert_eq!(whole.text("status"), "FILLED");
    assert_eq!(whole.raw("averagePrice"), "100", "the default price");

    let prices = sim
        .call(
            Method::POST,
            "/sim/prices",
            r#"[{"symbol":"MSFT","price":"410.5"}]"#,
        )
        .await;
    assert_eq!(prices.body, r#"{"updated":1}"#);
    let cash = sim.create(r#"{"accountNo":"A1","orderType":"MARKET","side":"BUY","symbol":"MSFT","amountCash":1000}"#).await;
    let cash = sim
        .get(&format!("/back-office/orders/{}", cash.text("orderId")))
        .await;
    assert_eq!(cash.text("status"), "FILLED");
    assert_eq!(cash.raw("quantity"), "2.43605359");
    assert_eq!(cash.raw("amountCash"), "1000");
    assert_eq!(cash.raw("averagePrice"), "410.5");

    let limit = sim.create(r#"{"accountNo":"A1","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":10,"price":160}"#).await;
    let limit_id = limit.text("orderId");
    let resting = sim.get(&format!("/back-office/orders/{limit_id}")).await;
    assert_eq!(
        resting.text("status"),
        "NEW",
        "AAPL is at 190, above the limit"
    );
    assert_eq!(resting.raw("averagePrice"), "0");
    assert_eq!(resting.raw("limitPrice"), "160");
    let at = |price: &'static str| format!(r#"[{{"symbol":"AAPL","price":"{price}"}}]"#);
    sim.call(Method::POST, "/sim/prices", &at("155")).await;
    let limit = sim.wait_for_status(&limit_id, "FILLED").await;
    assert_eq!(
        limit.raw("averagePrice"),
        "155",
        "the better of price and limit"
    );
    assert_eq!(limit.raw("totalOrderAmount"), "1550");
    sim.call(Method::POST, "/sim/prices", &at("190")).await;

    // Paused: orders stay NEW until resumed.
    sim.call(Method::PUT, "/sim/fills", r#"{"paused":true}"#)
        .await;
    let held = sim.create(FRACTIONAL_ORDER).await;
    let held_id = held.text("orderId");
    let held_no = held.text("orderNo");
    assert!(held_no.ends_with("000004"), "{held_no}");
    let still = sim.get(&format!("/back-office/orders/{held_id}")).await;
    assert_eq!(still.text("status"), "NEW");
    assert_eq!(still.raw("averagePrice"), "0");
    let resumed = sim
        .call(Method::PUT, "/sim/fills", r#"{"paused":false}"#)
        .await;
    assert_eq!(resumed.status, 200);
    let filled = sim.wait_for_status(&held_id, "FILLED").await;
    assert_eq!(filled.raw("averagePrice"), "190");

    let by_no = sim
        .get(&format!("/back-office/orders/byOrderNo/{held_no}"))
        .await;
    assert_eq!(by_no.text("id"), held_id);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_drivewealth_bodies() {
    let sim = start(config()).await;

    let bad = sim
        .create(
            r#"{"accountNo":"A1","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.text("errorCode"), "E032");
    assert!(
        bad.raw("errorDetails").contains(r#""field":"price""#),
        "{}",
        bad.body
    );

    let restricted = sim.create(r#"{"accountNo":"REJECT01","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1}"#).await;
    assert_eq!(restricted.status, 422);
    assert_eq!(
        restricted.body,
        r#"{"errorCode":"A051","message":"Account is restricted"}"#
    );

    let missing = sim.get("/back-office/orders/SM.nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text("errorCode"), "O001");
    let cancel_missing = sim
        .call(
            Method::PATCH,
            "/back-office/orders/SM.nope",
            r#"{"method":"CANCEL"}"#,
        )
        .await;
    assert_eq!(cancel_missing.status, 404);

    let elsewhere = sim.get("/back-office/accounts/x/summary").await;
    assert_eq!(elsewhere.status, 404);
    assert!(elsewhere.body.starts_with(r#"{"errorCode":"#));
    // The resting orders of an account are DriveWealth's PendingOrders.
    let resting = sim.get("/back-office/accounts/x/summary/orders").await;
    assert_eq!(resting.status, 200);
    assert!(resting.body.contains(r#""orders":["#), "{}", resting.body);

    let huge = format!(
        r#"{{"pad":"{}"}}"#,
        "x".repeat(super::server::BODY_BYTES_MAX)
    );
    let too_big = sim.create(&huge).await;
    assert_eq!(too_big.status, 413);

    let faults = sim
        .call(Method::PUT, "/sim/faults", r#"{"error_pct":101}"#)
        .await;
    assert_eq!(faults.status, 400);

    let orders = sim.get("/sim/orders").await;
    assert_eq!(orders.body, "[]", "refused orders are not kept");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pct_100_answers_503_on_back_office_only() {
    let mut config = config();
    config.error_pct = 100;
    let sim = start(config).await;

    for _ in 0..3 {
        let failed = sim.create(FRACTIONAL_ORDER).await;
        assert_eq!(failed.status, 503, "{}", failed.body);
        assert_eq!(failed.text("errorCode"), "E503");
    }
    let get = sim.get("/back-office/orders/anything").await;
    assert_eq!(get.status, 503);

    // /sim/* is never faulted, and faulted requests have no effect but are counted.
    let orders = sim.get("/sim/orders").await;
    assert_eq!((orders.status, orders.body.as_str()), (200, "[]"));
    let count = sim.get("/sim/requests/count").await;
    assert_eq!(
        count.body, r#"{"count":4}"#,
        "3 creates and 1 GET; /sim/* is not counted"
    );

    let faults = sim
        .call(Method::PUT, "/sim/faults", r#"{"error_pct":0}"#)
        .await;
    assert_eq!(
        faults.body,
        r#"{"latency_ms":0,"timeout_pct":0,"error_pct":0,"reset_pct":0}"#
    );
    assert_eq!(sim.create(FRACTIONAL_ORDER).await.status, 200);
    sim.stop().await;
}

/// Sends one request on a fresh connection and reads until the server closes or `wait` ends.
async fn raw_exchange(address: SocketAddr, wait: Duration) -> (Vec<u8>, Option<std::io::Error>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let body = FRACTIONAL_ORDER;
    let request = format!(
        "POST /back-office/orders HTTP/1.1\r\nhost: sim\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_elapsed) => return (received, None),
            Ok(Ok(0)) => return (received, None),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
            Ok(Err(error)) => return (received, Some(error)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_pct_100_resets_the_connection() {
    let mut config = config();
    config.reset_pct = 100;
    let sim = start(config).await;
    let (received, error) = raw_exchange(sim.address, DEADLINE).await;
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    let error = error.expect("the read fails instead of reaching end of stream");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(sim.get("/sim/orders").await.body, "[]");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_pct_100_holds_the_request_until_shutdown() {
    let mut config = config();
    config.timeout_pct = 100;
    let sim = start(config).await;
    let address = sim.address;
    let held = tokio::spawn(raw_exchange(address, DEADLINE));

    // Wait until the request has arrived, then check that no answer came.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let count: u64 = sim
            .get("/sim/requests/count")
            .await
            .raw("count")
            .parse()
            .unwrap();
        if count >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !held.is_finished(),
        "the held request was answered or closed"
    );

    sim.stop().await;
    let (received, _) = tokio::time::timeout(DEADLINE, held)
        .await
        .expect("shutdown closes the held connection")
        .unwrap();
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
}

/// A restarted simulator (the same config, the same seed) issues none of the ids of an earlier
/// run: omnigate's WAL still holds those, bound to orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_never_reissues_an_order_id() {
    let first = start(config()).await;
    let first_ids: Vec<String> = [
        first.create(FRACTIONAL_ORDER).await.text("orderId"),
        first.create(FRACTIONAL_ORDER).await.text("orderId"),
    ]
    .into();
    first.stop().await;
    let again = start(config()).await;
    for _ in 0..2 {
        let id = again.create(FRACTIONAL_ORDER).await.text("orderId");
        assert!(!first_ids.contains(&id), "{id} issued twice");
    }
    again.stop().await;
}
