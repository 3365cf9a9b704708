//! omnigate's own DriveWealth credentials through the real binary (SPEC §6, §8): its calls carry
//! a bearer token from `POST /back-office/auth/tokens`, renewed before `expires_in` (a string),
//! a 401 renews and retries once, and the secret never reaches a log or a dump.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{binary, config, wait_for, Gateway, TempDir};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const SECRET: &str = "dw-secret-5f1c9a7e";

/// What the DriveWealth stand-in saw.
#[derive(Default)]
struct Seen {
    tokens_issued: AtomicUsize,
    /// Answer the next status GET 401, whatever its token (a token revoked early).
    revoke_next: AtomicBool,
    /// Status GETs answered 200, by the token they carried.
    served: Mutex<HashMap<String, usize>>,
    bad_logins: AtomicUsize,
}

fn drivewealth() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let seen = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<_>| {
                        let seen = seen.clone();
                        async move {
                            let (status, body) = answer(&seen, request).await;
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (addr, seen)
}

async fn answer(seen: &Seen, request: hyper::Request<hyper::body::Incoming>) -> (u16, String) {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let path = parts.uri.path().to_owned();
    let bearer = parts
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    match (parts.method.as_str(), path.as_str()) {
        ("POST", "/back-office/auth/tokens") => {
            let login: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let app_key = parts.headers.get("dw-client-app-key");
            if login["clientID"] != "omnigate-client"
                || login["clientSecret"] != SECRET
                || app_key.is_none_or(|key| key != "og-app-key")
            {
                seen.bad_logins.fetch_add(1, Ordering::SeqCst);
                return (
                    401,
                    r#"{"errorCode":"L075","message":"bad credentials"}"#.into(),
                );
            }
            let n = seen.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
            // Two seconds, as a string, as DriveWealth writes it.
            let token = format!(
                r#"{{"token_type":"Bearer","expires_in":"2","access_token":"tok-{n}","scope":"all_trading"}}"#
            );
            (200, token)
        }
        ("POST", "/back-office/orders") => (200, r#"{"orderId":"AU.1","orderNo":"AUXX1"}"#.into()),
        ("GET", "/back-office/orders/AU.1") => {
            let current = format!("tok-{}", seen.tokens_issued.load(Ordering::SeqCst));
            if seen.revoke_next.swap(false, Ordering::SeqCst) || bearer.as_ref() != Some(&current) {
                return (
                    401,
                    r#"{"errorCode":"L001","message":"unauthorized"}"#.into(),
                );
            }
            *seen.served.lock().unwrap().entry(current).or_default() += 1;
            (
                200,
                r#"{"id":"AU.1","status":"NEW","cumulativeQuantity":0,"averagePrice":0}"#.into(),
            )
        }
        _ => (404, r#"{"errorCode":"O001","message":"no"}"#.into()),
    }
}

#[test]
fn own_calls_carry_a_renewed_token_and_a_401_is_retried_once() {
    let (addr, seen) = drivewealth();
    let dir = Arc::new(TempDir::new("auth"));
    let log = dir.path().join("omnigate.log");
    let text = config(
        "",
        &format!(
            "[upstream]\nurl = \"http://{addr}\"\npoll_interval_ms = 100\n\
             [upstream.auth]\nclient_id = \"omnigate-client\"\nclient_secret = \"{SECRET}\"\n\
             app_key = \"og-app-key\"\n"
        ),
    );
    let gateway = Gateway::start_logged(dir.clone(), &text, &log);
    gateway.fund_omni("100000");
    let placed = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#,
    );
    assert_eq!(placed.status, 200, "{}", placed.text());

    // The poller's GETs carry the token; it is renewed before its two seconds run out, so polls
    // keep being answered with each new one.
    let served_with = |token: &str| seen.served.lock().unwrap().get(token).copied();
    wait_for(
        "polls with a renewed token",
        Duration::from_secs(15),
        || served_with("tok-2").filter(|served| *served > 0),
    );
    assert!(
        served_with("tok-1").is_some(),
        "the first token served polls too"
    );
    assert_eq!(seen.bad_logins.load(Ordering::SeqCst), 0);

    // A 401 (the token revoked early): renewed at once and the call made again.
    let before = seen.tokens_issued.load(Ordering::SeqCst);
    seen.revoke_next.store(true, Ordering::SeqCst);
    wait_for("a poll after the 401", Duration::from_secs(15), || {
        let issued = seen.tokens_issued.load(Ordering::SeqCst);
        (issued > before && !seen.revoke_next.load(Ordering::SeqCst))
            .then(|| served_with(&format!("tok-{issued}")))
            .flatten()
            .filter(|served| *served > 0)
    });
    let metrics = gateway.admin("GET", "/metrics", "").text();
    assert!(
        metrics.contains(r#"omnigate_upstream_auth_renewals_total{result="ok"}"#),
        "{metrics}"
    );
    gateway.stop();

    // The secret and the tokens are in no log line and no WAL record.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("401"),
        "the debug log was captured: {logged}"
    );
    assert!(!logged.contains(SECRET), "the client secret was logged");
    assert!(!logged.contains("tok-1"), "a token was logged");
    let dump = Command::new(binary())
        .args(["wal", "dump"])
        .arg(dir.path().join("omnigate-data"))
        .output()
        .unwrap();
    assert!(dump.status.success());
    let dumped = String::from_utf8_lossy(&dump.stdout);
    assert!(!dumped.contains(SECRET) && !dumped.contains("tok-"));
}

#[test]
fn a_missing_client_secret_stops_the_start_in_one_line() {
    let dir = TempDir::new("auth-missing");
    let text = config(
        "",
        "[upstream]\nurl = \"http://127.0.0.1:9\"\n[upstream.auth]\nclient_id = \"c\"\napp_key = \"k\"\n",
    );
    let path = dir.file("omnigate.toml", &text);
    dir.file("instruments.jsonl", common::INSTRUMENTS);
    dir.file("customers.jsonl", common::CUSTOMERS);
    let output = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("OMNIGATE_DW_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("upstream.auth.client_secret")
            && stderr.contains("OMNIGATE_DW_CLIENT_SECRET"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
