//! TLS both ways through the real binary (SPEC §8), with certificates made here (a CA of the
//! test's own): an `https://` upstream is reached when `upstream.ca_file` holds its CA and
//! refused (502, nothing sent) with another CA or the built-in roots; `[server.tls]` serves both
//! listeners over HTTPS and nothing in plain HTTP.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{config, Gateway, TempDir, ADMIN_TOKEN};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A CA and a certificate it signs for 127.0.0.1, as PEM files in `dir`.
struct Certificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certificates(dir: &TempDir, name: &str) -> Certificates {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Certificates {
        ca: dir.file(&format!("{name}-ca.pem"), &ca.pem()),
        cert: dir.file(&format!("{name}.crt"), &leaf.pem()),
        key: dir.file(&format!("{name}.key"), &leaf_key.serialize_pem()),
    }
}

/// A DriveWealth stand-in over TLS: every `POST /back-office/orders` is taken, and counted.
fn tls_upstream(certificates: &Certificates) -> (SocketAddr, Arc<AtomicUsize>) {
    let server = omnigate::tls::server_config(&omnigate::config::ServerTls {
        cert: certificates.cert.clone(),
        key: certificates.key.clone(),
    })
    .unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = taken.clone();
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
            let acceptor = tokio_rustls::TlsAcceptor::from(server);
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends here.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request: hyper::Request<_>| {
                        let counter = counter.clone();
                        async move {
                            let created = request.method() == hyper::Method::POST
                                && request.uri().path() == "/back-office/orders";
                            let (status, body) = if created {
                                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                                (
                                    200,
                                    format!(r#"{{"orderId":"TLS.{n}","orderNo":"TLSX{n}"}}"#),
                                )
                            } else {
                                (404, r#"{"errorCode":"O001","message":"no"}"#.to_owned())
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .header("dw-request-id", "tls-1")
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
    (addr, taken)
}

const ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;

fn gateway_to(upstream: SocketAddr, ca_file: Option<&PathBuf>) -> Gateway {
    let ca = ca_file.map_or(String::new(), |path| {
        format!("ca_file = {:?}\n", path.display().to_string())
    });
    let gateway = Gateway::start(&config(
        "",
        &format!("[upstream]\nurl = \"https://{upstream}\"\npoll_interval_ms = 0\n{ca}"),
    ));
    gateway.fund_omni("100000");
    gateway
}

#[test]
fn an_https_upstream_is_reached_only_with_its_own_ca() {
    let dir = TempDir::new("tls-upstream");
    let drivewealth = certificates(&dir, "drivewealth");
    let stranger = certificates(&dir, "stranger");
    let (addr, taken) = tls_upstream(&drivewealth);

    let trusting = gateway_to(addr, Some(&drivewealth.ca));
    // Accepted at any hour (queued for the open when the market is closed), so forwarded.
    let placed = trusting.post_order(ORDER);
    assert_eq!(placed.status, 200, "{}", placed.text());
    assert_eq!(placed.json()["orderId"], "TLS.1");
    assert_eq!(placed.header("dw-request-id"), Some("tls-1"));
    assert_eq!(taken.load(Ordering::SeqCst), 1);

    for (ca, what) in [
        (Some(&stranger.ca), "another CA"),
        (None, "the built-in roots"),
    ] {
        let doubting = gateway_to(addr, ca);
        let refused = doubting.post_order(ORDER);
        assert_eq!(refused.status, 502, "{what}: {}", refused.text());
        assert_eq!(refused.error().0, "UPSTREAM_UNAVAILABLE", "{what}");
        // Nothing was sent, so nothing stays reserved.
        assert_eq!(doubting.customer("123456789")["reserved"], "0", "{what}");
    }
    assert_eq!(
        taken.load(Ordering::SeqCst),
        1,
        "no order crossed an untrusted handshake"
    );
}

/// A request over HTTPS to omnigate's listener, trusting `ca`.
fn https_get(addr: SocketAddr, ca: &Path, path: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = omnigate::tls::client_config(Some(ca)).unwrap();
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        let request = hyper::Request::get(format!("https://{addr}{path}"))
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

#[test]
fn server_tls_serves_both_listeners_over_https_only() {
    let dir = TempDir::new("tls-server");
    let own = certificates(&dir, "omnigate");
    let tls = format!(
        "[server.tls]\ncert = {:?}\nkey = {:?}\n",
        own.cert.display().to_string(),
        own.key.display().to_string()
    );
    let gateway = Gateway::start(&config("", &tls));
    let (status, body) = https_get(gateway.admin, &own.ca, "/admin/health");
    assert_eq!(status, 200, "{body}");
    let (status, body) = https_get(gateway.order, &own.ca, "/back-office/orders/SM.none");
    assert!(
        status >= 400 && body.contains("errorCode"),
        "{status} {body}"
    );
    // Plain HTTP on a TLS listener gets no HTTP answer.
    let plain = common::try_send_raw(
        gateway.admin,
        b"GET /admin/health HTTP/1.1\r\nhost: x\r\n\r\n",
        None,
    );
    assert!(
        plain.as_ref().is_none_or(|response| response.status == 0),
        "a plain request was answered: {:?}",
        plain.map(|response| response.status)
    );
}

#[test]
fn an_unreadable_certificate_stops_the_start_in_one_line() {
    let dir = TempDir::new("tls-bad");
    let missing = dir.path().join("missing.pem");
    let text = config(
        "",
        &format!(
            "[upstream]\nca_file = {:?}\n",
            missing.display().to_string()
        ),
    );
    let path = dir.file("omnigate.toml", &text);
    dir.file("instruments.jsonl", common::INSTRUMENTS);
    dir.file("customers.jsonl", common::CUSTOMERS);
    let output = std::process::Command::new(common::binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("upstream.ca_file") && stderr.contains("missing.pem"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
