//! The floor under omnigate's HTTP path: the same hyper server and pooled hyper client that
//! omnigate uses, with nothing between them (no parse, no decision, no log, no audit). Each
//! request's body is read whole, sent upstream, and the upstream's answer read whole and given
//! back, as omnigate does with an order. What perf/compare.sh measures for omnigate above this
//! is omnigate's own cost; what this costs above nginx is the HTTP stack's.
//!
//! Usage: bare_proxy LISTEN UPSTREAM [multi|per-core]
//!   multi     one tokio multi-thread runtime (omnigate's default)
//!   per-core  one current-thread runtime per core, each with its own SO_REUSEPORT listener and
//!             its own upstream pool (nginx's shape)

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Full<Bytes>>;

async fn serve(listener: tokio::net::TcpListener, upstream: Upstream, base: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let upstream = upstream.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let upstream = upstream.clone();
                let uri = format!("{base}{}", request.uri().path());
                async move {
                    let (parts, body) = request.into_parts();
                    let Some(body) = whole(body).await else {
                        return bad_gateway();
                    };
                    let mut out = Request::builder().method(parts.method).uri(uri);
                    for (name, value) in &parts.headers {
                        if name != http::header::HOST {
                            out = out.header(name, value);
                        }
                    }
                    let answer = match upstream.request(out.body(Full::new(body)).unwrap()).await {
                        Ok(answer) => answer,
                        Err(_) => return bad_gateway(),
                    };
                    let (parts, body) = answer.into_parts();
                    match whole(body).await {
                        Some(body) => Ok(Response::from_parts(parts, Full::new(body))),
                        None => bad_gateway(),
                    }
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A body read whole; `None` if it broke off.
async fn whole(body: Incoming) -> Option<Bytes> {
    body.collect()
        .await
        .ok()
        .map(|collected| collected.to_bytes())
}

/// A 502, which compare.sh counts as an error, not as a request served.
fn bad_gateway() -> Result<Response<Full<Bytes>>, Infallible> {
    let mut failed = Response::new(Full::new(Bytes::new()));
    *failed.status_mut() = http::StatusCode::BAD_GATEWAY;
    Ok(failed)
}

fn listener(addr: SocketAddr) -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(4096).unwrap()
}

fn client() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = args[1].parse().expect("LISTEN");
    let base = format!("http://{}", args[2]);
    match args.get(3).map(String::as_str).unwrap_or("multi") {
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { serve(listener(addr), client(), base).await }),
        _ => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let threads: Vec<_> = (0..cores)
                .map(|_| {
                    let base = base.clone();
                    std::thread::spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap()
                            .block_on(async { serve(listener(addr), client(), base).await })
                    })
                })
                .collect();
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}
