//! Load generator: many concurrent routers placing orders over real HTTP, with latency
//! percentiles from an HDR histogram.
//!
//! ```text
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8080 \
//!     --concurrency 64 --seconds 10 --customers 123456789,CUST0A19F
//! ```
//!
//! Point it at omnigate (the order API) or straight at `omnigate sim` for a baseline in the
//! same run: the ratio is what omnigate's checks and durable decisions cost. Each request is a
//! small fractional MARKET BUY with a unique quantity, so every order is distinct (no duplicate
//! rejections) and cheap (balances last). Requests are bounded by count and time; it only talks
//! to the address it is given.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

struct Options {
    target: String,
    concurrency: usize,
    seconds: u64,
    max_requests: u64,
    customers: Vec<String>,
    account: String,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        target: "http://127.0.0.1:8080".to_owned(),
        concurrency: 64,
        seconds: 10,
        max_requests: 10_000_000,
        customers: vec!["123456789".to_owned()],
        account: "DWOM000001".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => options.target = value()?,
            "--concurrency" => {
                options.concurrency = value()?.parse().map_err(|e| format!("{e}"))?
            }
            "--seconds" => options.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--max-requests" => {
                options.max_requests = value()?.parse().map_err(|e| format!("{e}"))?
            }
            "--customers" => options.customers = value()?.split(',').map(str::to_owned).collect(),
            "--account" => options.account = value()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !(options.target.starts_with("http://127.")
        || options.target.starts_with("http://localhost"))
    {
        return Err("--target must be a loopback address (http://127.x.x.x:port)".to_owned());
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => Arc::new(options),
        Err(error) => {
            eprintln!("loadgen: {error}");
            std::process::exit(2);
        }
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.concurrency)
        .build_http();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let (client, options, next, stop) =
            (client.clone(), options.clone(), next.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= options.max_requests {
                    break;
                }
                let customer = &options.customers[n as usize % options.customers.len()];
                let body = format!(
                    r#"{{"accountNo":"{}","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":0.{n:07}1,"clientID":"{customer}"}}"#,
                    options.account
                );
                let request = hyper::Request::post(format!("{}/back-office/orders", options.target))
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer loadgen")
                    .body(Full::new(Bytes::from(body)))
                    .expect("request");
                let sent = Instant::now();
                let status = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.into_body().collect().await;
                        status
                    }
                    Err(_) => 0,
                };
                let _ = latency.record(sent.elapsed().as_micros().max(1) as u64);
                *by_status.entry(status).or_default() += 1;
            }
            (latency, by_status)
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
    for worker in workers {
        let (worker_latency, worker_status) = worker.await.expect("worker");
        latency.add(&worker_latency).expect("same bounds");
        for (status, count) in worker_status {
            *by_status.entry(status).or_default() += count;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let total = latency.len();
    println!("target       {}", options.target);
    println!("concurrency  {}", options.concurrency);
    println!(
        "requests     {total} in {elapsed:.2} s = {:.0} req/s",
        total as f64 / elapsed
    );
    println!("statuses     {by_status:?}  (0 = no answer)");
    for quantile in [0.5, 0.9, 0.99, 0.999] {
        println!(
            "latency p{:<5} {} µs",
            quantile * 100.0,
            latency.value_at_quantile(quantile)
        );
    }
    println!("latency max  {} µs", latency.max());
}
