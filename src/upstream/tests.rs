//! The pool against a raw TCP upstream that counts its connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// How the test upstream treats a connection once it has answered.
#[derive(Clone, Copy)]
enum AfterAnswer {
    KeepOpen,
    /// Closes it, as an upstream does with an idle keep-alive connection, without saying so in
    /// the answer.
    Close,
}

/// An upstream answering every request `200 ok`; the count is of the connections it accepted.
async fn counting_upstream(after: AfterAnswer) -> (UpstreamBase, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = UpstreamBase::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 1024];
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..read]);
                    // The test's requests are GETs without a body: a head is a request.
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                        seen.drain(..end + 4);
                        // As an HTTP/1.1 server must (RFC 9112 §3.2).
                        let answer: &[u8] = if head.contains("\r\nhost: ") {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                        } else {
                            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
                        };
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                        if let AfterAnswer::Close = after {
                            return;
                        }
                    }
                }
            });
        }
    });
    (base, accepted)
}

fn upstream(base: UpstreamBase, config: UpstreamConfig) -> Upstream {
    Upstream::new(base, &config).unwrap()
}

/// One GET (without a `host` header, which the client adds), its answer read to the end; the
/// answer's body.
async fn get(upstream: &Upstream) -> Result<Bytes, UpstreamError> {
    let path = http::uri::PathAndQuery::from_static("/back-office/orders/x");
    let request = Request::get(upstream.base().uri_for(Some(&path)).unwrap())
        .body(empty())
        .unwrap();
    let answer = upstream.send(request).await?;
    assert_eq!(answer.status(), 200);
    Ok(answer.into_body().collect().await.unwrap().to_bytes())
}

async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn answers_read_to_their_end_reuse_one_connection() {
    let (base, accepted) = counting_upstream(AfterAnswer::KeepOpen).await;
    let upstream = upstream(base, UpstreamConfig::default());
    for _ in 0..5 {
        assert_eq!(get(&upstream).await.unwrap(), "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(upstream.pool.idle_count(), 1);
}

#[tokio::test]
async fn an_answer_not_read_to_its_end_keeps_its_connection_out_of_the_pool() {
    let (base, accepted) = counting_upstream(AfterAnswer::KeepOpen).await;
    let upstream = upstream(base, UpstreamConfig::default());
    let path = http::uri::PathAndQuery::from_static("/x");
    let request = Request::get(upstream.base().uri_for(Some(&path)).unwrap())
        .header(http::header::HOST, upstream.host().clone())
        .body(empty())
        .unwrap();
    let answer = upstream.send(request).await.unwrap();
    drop(answer);
    assert_eq!(upstream.pool.idle_count(), 0);
    assert_eq!(get(&upstream).await.unwrap(), "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_passed_over() {
    let (base, accepted) = counting_upstream(AfterAnswer::Close).await;
    let upstream = upstream(base, UpstreamConfig::default());
    for round in 1..=3 {
        assert_eq!(get(&upstream).await.unwrap(), "ok", "round {round}");
        // The pool keeps it until it sees the close.
        wait_until("the close is seen", || upstream.pool.idle_count() == 0).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let (base, accepted) = counting_upstream(AfterAnswer::KeepOpen).await;
    let config = UpstreamConfig {
        pool_idle_timeout_ms: 50,
        ..UpstreamConfig::default()
    };
    let upstream = upstream(base, config);
    get(&upstream).await.unwrap();
    assert_eq!(upstream.pool.idle_count(), 1);
    // With no request coming, the reaper closes it.
    wait_until("the idle connection expires", || {
        upstream.pool.idle_count() == 0
    })
    .await;
    get(&upstream).await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_pool_keeps_at_most_pool_max_idle_connections() {
    let (base, accepted) = counting_upstream(AfterAnswer::KeepOpen).await;
    let config = UpstreamConfig {
        pool_max_idle: 2,
        ..UpstreamConfig::default()
    };
    let upstream = upstream(base, config);
    // Four at once need four connections; two of them are kept.
    let answers = four_at_once(&upstream).await;
    assert!(answers
        .iter()
        .all(|answer| answer.as_deref() == Ok(&b"ok"[..])));
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
    assert_eq!(upstream.pool.idle_count(), 2);
}

async fn four_at_once(upstream: &Upstream) -> [Result<Bytes, UpstreamError>; 4] {
    let (a, b, c, d) = tokio::join!(get(upstream), get(upstream), get(upstream), get(upstream));
    [a, b, c, d]
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_not_in_doubt() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = UpstreamBase::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let upstream = upstream(base, UpstreamConfig::default());
    let error = get(&upstream).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable(_)), "{error:?}");
}

#[test]
fn requests_go_out_in_origin_form() {
    let base = UpstreamBase::parse("http://127.0.0.1:9/prefix").unwrap();
    let path = http::uri::PathAndQuery::from_static("/orders?x=1");
    let request = Request::get(base.uri_for(Some(&path)).unwrap())
        .body(empty())
        .unwrap();
    assert_eq!(origin_form(request).uri(), "/prefix/orders?x=1");
}
