//! Load generator: many concurrent routers placing orders over real HTTP, with latency
//! percentiles from an HDR histogram.
//!
//! ```text
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8080 \
//!     --concurrency 64 --seconds 10 --customers 123456789,CUST0A19F
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8080 \
//!     --concurrency 64 --seconds 10 --rate 5000 --body demo
//! ```
//!
//! Point it at omnigate (the order API) or straight at `omnigate sim` for a baseline in the
//! same run: the ratio is what omnigate's checks and durable decisions cost. By default each
//! request is a small fractional MARKET BUY with a unique quantity, so every order is distinct
//! (no duplicate rejections) and cheap (balances last); `--body demo` sends the README's demo
//! order instead, with the headers of the curl `omnigate run` prints, the same bytes every time
//! (what `perf/compare.sh` sends to every server it compares).
//!
//! Two ways to load:
//! - closed loop (the default): each connection sends its next request as soon as the last is
//!   answered. It measures throughput, but a slow answer also delays the requests behind it,
//!   which are then never measured as slow (coordinated omission): the tail looks better than
//!   what a router sending at its own pace would see.
//! - open loop (`--rate N`): N requests per second in all, on a fixed schedule whatever the
//!   answers (as wrk2 does), the turns dealt to the connections in rotation. A request whose
//!   turn comes while its connection still waits for an answer is sent when that answer
//!   arrives, and its latency runs from its turn, so the queueing counts. Requests sent more
//!   than a millisecond after their turn are reported as late.
//!
//! Requests are bounded by count and time; it only talks to the address it is given.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The order of the README and of the curl `omnigate run` prints.
const DEMO_ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;

/// How late after its turn an open-loop request may be sent before it counts as late.
const LATE: Duration = Duration::from_millis(1);

/// What each request carries.
#[derive(Clone, Copy)]
enum Body {
    /// A fractional MARKET BUY with a unique quantity, the customers taken in turn.
    Fractional,
    /// [`DEMO_ORDER`] with the demo curl's headers.
    Demo,
}

struct Options {
    target: String,
    concurrency: usize,
    seconds: u64,
    max_requests: u64,
    customers: Vec<String>,
    account: String,
    /// Open loop at this many requests per second in all; closed loop when unset.
    rate: Option<f64>,
    body: Body,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        target: "http://127.0.0.1:8080".to_owned(),
        concurrency: 64,
        seconds: 10,
        max_requests: 10_000_000,
        customers: vec!["123456789".to_owned()],
        account: "DWOM000001".to_owned(),
        rate: None,
        body: Body::Fractional,
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
            "--rate" => {
                let rate: f64 = value()?.parse().map_err(|e| format!("--rate: {e}"))?;
                if !(rate.is_finite() && rate > 0.0) {
                    return Err("--rate must be a positive number of requests per second".into());
                }
                options.rate = Some(rate);
            }
            "--body" => {
                options.body = match value()?.as_str() {
                    "fractional" => Body::Fractional,
                    "demo" => Body::Demo,
                    other => return Err(format!("--body {other}: fractional or demo")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !(options.target.starts_with("http://127.")
        || options.target.starts_with("http://localhost"))
    {
        return Err("--target must be a loopback address (http://127.x.x.x:port)".to_owned());
    }
    if options.concurrency == 0 {
        return Err("--concurrency must be at least 1".to_owned());
    }
    Ok(options)
}

/// The `n`th request of the run.
fn order_request(options: &Options, n: u64) -> hyper::Request<Full<Bytes>> {
    let request = hyper::Request::post(format!("{}/back-office/orders", options.target))
        .header("content-type", "application/json");
    let request = match options.body {
        Body::Fractional => {
            let customer = &options.customers[n as usize % options.customers.len()];
            let body = format!(
                r#"{{"accountNo":"{}","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":0.{n:07}1,"clientID":"{customer}"}}"#,
                options.account
            );
            request
                .header("authorization", "Bearer loadgen")
                .body(Full::new(Bytes::from(body)))
        }
        Body::Demo => request
            .header("authorization", "Bearer demo-token")
            .header("dw-client-app-key", "demo-app-key")
            .body(Full::new(Bytes::from_static(DEMO_ORDER.as_bytes()))),
    };
    request.expect("a well-formed request")
}

/// Sends a request and reads its whole answer; the status, or 0 when there was no answer.
async fn send(client: &HttpClient, request: hyper::Request<Full<Bytes>>) -> u16 {
    match client.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            status
        }
        Err(_) => 0,
    }
}

/// One worker's measurements, merged into the run's at the end.
struct Tally {
    /// Microseconds.
    latency: Histogram<u64>,
    by_status: BTreeMap<u16, u64>,
    /// Open loop: requests sent more than [`LATE`] after their turn…
    late: u64,
    /// …and how many of those waited for the previous answer on their connection.
    late_behind_answer: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
            by_status: BTreeMap::new(),
            late: 0,
            late_behind_answer: 0,
        }
    }

    /// An answer with `status`, its latency counted from `since`.
    fn record(&mut self, status: u16, since: Instant) {
        // Past the histogram's minute a latency counts as a minute rather than vanishing.
        self.latency
            .saturating_record(since.elapsed().as_micros().max(1) as u64);
        *self.by_status.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.latency.add(&other.latency).expect("same bounds");
        for (status, count) in other.by_status {
            *self.by_status.entry(status).or_default() += count;
        }
        self.late += other.late;
        self.late_behind_answer += other.late_behind_answer;
    }
}

/// Closed loop: the next request as soon as the last is answered, until the deadline.
async fn closed_loop(
    client: HttpClient,
    options: Arc<Options>,
    next: Arc<AtomicU64>,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::new();
    while Instant::now() < deadline {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= options.max_requests {
            break;
        }
        let request = order_request(&options, n);
        let sent = Instant::now();
        let status = send(&client, request).await;
        tally.record(status, sent);
    }
    tally
}

/// Open loop's clock: deals turn `n` (its number and time) to connection `n % connections`
/// when it is due, every turn before the deadline. A thread of its own rather than a tokio
/// timer, which works in whole milliseconds: a thread's sleep ends within tens of
/// microseconds, and every turn's lag is charged to its request's latency.
fn deal_turns(
    rate: f64,
    started: Instant,
    deadline: Instant,
    max_requests: u64,
    connections: Vec<mpsc::UnboundedSender<(u64, Instant)>>,
) {
    for n in 0..max_requests {
        // From the start each time, so rounding does not accumulate over a long run.
        let turn = started + Duration::from_secs_f64(n as f64 / rate);
        if turn >= deadline {
            break;
        }
        std::thread::sleep(turn.saturating_duration_since(Instant::now()));
        if connections[n as usize % connections.len()]
            .send((n, turn))
            .is_err()
        {
            break;
        }
    }
    // Dropping the senders ends each connection once it has sent its turns.
}

/// Open loop, one connection: each turn dealt to it, as soon as it is due and the previous
/// answer has come (an overloaded target makes the run longer rather than dropping the
/// requests it delayed).
async fn open_loop(
    client: HttpClient,
    options: Arc<Options>,
    mut turns: mpsc::UnboundedReceiver<(u64, Instant)>,
) -> Tally {
    let mut tally = Tally::new();
    let mut answered = Instant::now();
    while let Some((n, turn)) = turns.recv().await {
        let request = order_request(&options, n);
        let sent = Instant::now();
        let status = send(&client, request).await;
        tally.record(status, turn);
        if sent.duration_since(turn) > LATE {
            tally.late += 1;
            // Late because the target was still answering the previous request, rather than
            // because the generator could not keep up.
            tally.late_behind_answer += u64::from(answered > turn);
        }
        answered = Instant::now();
    }
    tally
}

// One thread, like `wrk -t 1`: the generator shares the machine with the servers it measures.
// On the 2-core dev box one thread keeps up with 100k requests per second in the closed loop,
// as many as a thread per core did, and in the open loop a thread per core spent several times
// the CPU per request waking each other (CPU the servers then lacked).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match options() {
        Ok(options) => Arc::new(options),
        Err(error) => {
            eprintln!("loadgen: {error}");
            std::process::exit(2);
        }
    };
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.concurrency)
        .build_http();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    let mut turns = Vec::new();
    for _ in 0..options.concurrency {
        let (client, options) = (client.clone(), options.clone());
        workers.push(if options.rate.is_some() {
            let (sender, receiver) = mpsc::unbounded_channel();
            turns.push(sender);
            tokio::spawn(open_loop(client, options, receiver))
        } else {
            tokio::spawn(closed_loop(client, options, next.clone(), deadline))
        });
    }
    let dealer = options.rate.map(|rate| {
        let max_requests = options.max_requests;
        std::thread::spawn(move || deal_turns(rate, started, deadline, max_requests, turns))
    });
    let mut tally = Tally::new();
    for worker in workers {
        tally.merge(worker.await.expect("worker"));
    }
    if let Some(dealer) = dealer {
        dealer.join().expect("the dealer of turns");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = tally.latency.len();
    let errors: u64 = tally
        .by_status
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, count)| count)
        .sum();
    println!("target       {}", options.target);
    println!("concurrency  {}", options.concurrency);
    match options.rate {
        Some(rate) => {
            println!("mode         open loop, {rate} req/s offered; latency from each turn");
            println!(
                "sent         {total} in {elapsed:.2} s = {:.0} req/s",
                total as f64 / elapsed
            );
        }
        None => {
            println!("mode         closed loop");
            println!(
                "requests     {total} in {elapsed:.2} s = {:.0} req/s",
                total as f64 / elapsed
            );
        }
    }
    println!("statuses     {:?}  (0 = no answer)", tally.by_status);
    println!("errors       {errors}  (not 2xx, or no answer)");
    if options.rate.is_some() {
        println!(
            "late         {} sent more than {} ms after their turn ({} of them waiting for \
             their connection's previous answer)",
            tally.late,
            LATE.as_millis(),
            tally.late_behind_answer
        );
    }
    for quantile in [0.5, 0.9, 0.99, 0.999] {
        println!(
            "latency p{:<5} {} µs",
            quantile * 100.0,
            tally.latency.value_at_quantile(quantile)
        );
    }
    println!("latency max  {} µs", tally.latency.max());
}
