//! Load generator: many concurrent routers placing orders over real HTTP, with latency
//! percentiles from an HDR histogram.
//!
//! ```text
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8080 \
//!     --concurrency 64 --seconds 10 --customers 123456789,CUST0A19F
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8080 \
//!     --concurrency 64 --seconds 10 --rate 5000 --body demo --out /tmp/loadgen-run
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
//! While it runs it prints a line a second to stderr (`t=3s  12345 req  4115 req/s  p99 1.2 ms
//! errors 0`: the second's own rate, the run's p99 and errors so far); the final report goes to
//! stdout alone (`perf/compare.sh` reads its `sent`, `errors`, `late` and `latency` lines).
//!
//! `--out DIR` also writes, once the run is over (DIR is created if missing):
//! - `latency.csv`: the HDR percentile distribution (`percentile,latency_us,count`, one row per
//!   step of five ticks per halving of the distance to 100%, as HdrHistogram's classic export;
//!   `percentile` in percent, `count` the requests at or below `latency_us`),
//! - `latency.svg`: latency by percentile on the usual `1/(1-p)` scale (0%, 90%, 99%, 99.9%…),
//! - `summary.json`: requests, errors by status, req/s, p50/p90/p99/p99.9/max in µs.
//!
//! Requests are bounded by count and time; it only talks to the address it is given.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use plotters::prelude::*;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The order of the README and of the curl `omnigate run` prints.
const DEMO_ORDER: &str = r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#;

/// How late after its turn an open-loop request may be sent before it counts as late.
const LATE: Duration = Duration::from_millis(1);

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Steps of `latency.csv` (and points of the plot) per halving of the distance to 100%, as in
/// HdrHistogram's classic percentile distribution.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The plot's size in pixels.
const PLOT_SIZE: (u32, u32) = (900, 600);

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
    /// Where to write `latency.csv`, `latency.svg` and `summary.json`; nothing when unset.
    out: Option<PathBuf>,
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
        out: None,
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
            "--out" => options.out = Some(PathBuf::from(value()?)),
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

/// The run's measurements, one for all the connections: the progress line reads them as the
/// run goes. Behind a std `Mutex`: every task runs on the one runtime thread, so the lock is
/// never contended, tens of nanoseconds a request.
type SharedTally = Arc<Mutex<Tally>>;

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

    /// Answers that were not 2xx, and requests that got no answer (status 0), by status.
    fn errors_by_status(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.by_status
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(status, count)| (*status, *count))
    }

    fn errors(&self) -> u64 {
        self.errors_by_status().map(|(_, count)| count).sum()
    }
}

/// The tally's lock; a poisoned one is still read (a worker that panicked stops the run anyway).
fn lock(tally: &SharedTally) -> std::sync::MutexGuard<'_, Tally> {
    tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Closed loop: the next request as soon as the last is answered, until the deadline.
async fn closed_loop(
    client: HttpClient,
    options: Arc<Options>,
    next: Arc<AtomicU64>,
    deadline: Instant,
    tally: SharedTally,
) {
    while Instant::now() < deadline {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= options.max_requests {
            break;
        }
        let request = order_request(&options, n);
        let sent = Instant::now();
        let status = send(&client, request).await;
        lock(&tally).record(status, sent);
    }
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
    tally: SharedTally,
) {
    let mut answered = Instant::now();
    while let Some((n, turn)) = turns.recv().await {
        let request = order_request(&options, n);
        let sent = Instant::now();
        let status = send(&client, request).await;
        let mut tally = lock(&tally);
        tally.record(status, turn);
        if sent.duration_since(turn) > LATE {
            tally.late += 1;
            // Late because the target was still answering the previous request, rather than
            // because the generator could not keep up.
            tally.late_behind_answer += u64::from(answered > turn);
        }
        drop(tally);
        answered = Instant::now();
    }
}

/// Once a second until the run ends: the second's own rate, and the run's p99 and errors so
/// far, on stderr (stdout keeps the final report alone, for the scripts that read it).
async fn report_progress(tally: SharedTally, started: Instant) {
    let mut ticks = tokio::time::interval_at((started + PROGRESS_EVERY).into(), PROGRESS_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut count_before, mut before) = (0, started);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let (count, p99_us, errors) = {
            let tally = lock(&tally);
            let latency = &tally.latency;
            (
                latency.len(),
                latency.value_at_quantile(0.99),
                tally.errors(),
            )
        };
        let rate = (count - count_before) as f64 / now.duration_since(before).as_secs_f64();
        eprintln!(
            "t={}s  {count} req  {rate:.0} req/s  p99 {}  errors {errors}",
            now.duration_since(started).as_secs_f64().round() as u64,
            latency_text(p99_us)
        );
        (count_before, before) = (count, now);
    }
}

/// A latency for a reader: microseconds below a millisecond, milliseconds below a second,
/// seconds above.
fn latency_text(latency_us: u64) -> String {
    match latency_us {
        0..1_000 => format!("{latency_us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", latency_us as f64 / 1_000.0),
        _ => format!("{:.2} s", latency_us as f64 / 1_000_000.0),
    }
}

/// Writes `latency.csv`, `latency.svg` and `summary.json` into `dir`, which it creates if
/// missing; an error names the file it could not write.
fn write_outputs(
    dir: &Path,
    options: &Options,
    elapsed_s: f64,
    tally: &Tally,
) -> Result<(), String> {
    let named = |path: &Path, error: &dyn std::fmt::Display| format!("{}: {error}", path.display());
    std::fs::create_dir_all(dir).map_err(|error| named(dir, &error))?;
    let csv = dir.join("latency.csv");
    std::fs::write(&csv, percentile_csv(&tally.latency)).map_err(|error| named(&csv, &error))?;
    let svg = dir.join("latency.svg");
    plot(&svg, &plot_title(options, elapsed_s, tally), tally)
        .map_err(|error| named(&svg, &error))?;
    let json = dir.join("summary.json");
    let summary = serde_json::to_string_pretty(&summary(options, elapsed_s, tally))
        .expect("a summary serializes");
    std::fs::write(&json, summary + "\n").map_err(|error| named(&json, &error))?;
    Ok(())
}

/// HdrHistogram's classic percentile distribution as CSV: a row per step, `percentile` in
/// percent, `count` the requests at or below `latency_us` (the highest value of its bucket).
fn percentile_csv(latency: &Histogram<u64>) -> String {
    let mut csv = String::from("percentile,latency_us,count\n");
    let mut count = 0;
    for step in latency.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        count += step.count_since_last_iteration();
        writeln!(
            csv,
            "{:.6},{},{count}",
            step.quantile_iterated_to() * 100.0,
            step.value_iterated_to()
        )
        .expect("writing to a String");
    }
    csv
}

/// What the run was, for the plot: target, load, length and throughput.
fn plot_title(options: &Options, elapsed_s: f64, tally: &Tally) -> String {
    let mode = match options.rate {
        Some(rate) => format!("open loop, {rate} req/s offered"),
        None => "closed loop".to_owned(),
    };
    format!(
        "{}: {mode}, {} connections, {elapsed_s:.1} s: {:.0} req/s",
        options.target,
        options.concurrency,
        tally.latency.len() as f64 / elapsed_s
    )
}

/// `latency.svg`: latency by percentile, the percentile on the `1/(1-p)` scale so that each
/// further nine (90%, 99%, 99.9%…) takes the same width.
fn plot(path: &Path, title: &str, tally: &Tally) -> Result<(), Box<dyn Error>> {
    let latency = &tally.latency;
    // The unit of the slowest answer.
    let (unit, us_per_unit) = match latency.max() {
        0..1_000 => ("µs", 1.0),
        1_000..1_000_000 => ("ms", 1_000.0),
        _ => ("s", 1_000_000.0),
    };
    let in_unit = |latency_us: u64| latency_us as f64 / us_per_unit;
    // The last step, at 100%, is at infinity on this scale: the max is drawn as a line instead.
    let points: Vec<(f64, f64)> = latency
        .iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .filter(|step| step.quantile_iterated_to() < 1.0)
        .map(|step| {
            let x = 1.0 / (1.0 - step.quantile_iterated_to());
            (x, in_unit(step.value_iterated_to()))
        })
        .collect();
    // Whole nines, up to the first past the last step, and 99% at least.
    let nines = points
        .last()
        .map_or(0, |&(x, _)| x.log10().ceil() as i32)
        .max(2);
    let x_end = 10f64.powi(nines);
    let max = in_unit(latency.max());
    // Headroom above the max for the legend, which would hide a curve that is flat at the top.
    let y_end = if max > 0.0 { max * 1.3 } else { 1.0 };

    let root = SVGBackend::new(path, PLOT_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(20)
        // Room for the last percentile label, centred on the plot's right edge.
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (1.0..x_end)
                .log_scale()
                .with_key_points((0..=nines).map(|nine| 10f64.powi(nine)).collect()),
            0.0..y_end,
        )?;
    chart
        .configure_mesh()
        .x_labels(nines as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_max_light_lines(1)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 14))
        .x_desc("percentile")
        .y_desc(format!("latency ({unit})"))
        .draw()?;
    let curve = RGBColor(31, 119, 180);
    let at = |quantile| latency_text(latency.value_at_quantile(quantile));
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            curve.stroke_width(2),
        ))?
        .label(format!(
            "p50 {}, p90 {}, p99 {}, p99.9 {}",
            at(0.5),
            at(0.9),
            at(0.99),
            at(0.999)
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], curve.stroke_width(2)));
    chart.draw_series(
        points
            .iter()
            .map(|&point| Circle::new(point, 2, curve.filled())),
    )?;
    chart
        .draw_series(DashedLineSeries::new(
            [(1.0, max), (x_end, max)],
            6,
            4,
            RED.stroke_width(1),
        ))?
        .label(format!("max {}", latency_text(latency.max())))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// The percentile at `x` on the `1/(1-p)` scale, with as many decimals as it has nines past
/// 99: 1 → 0%, 10 → 90%, 100 → 99%, 1000 → 99.9%.
fn percentile_label(x: f64) -> String {
    let decimals = (x.log10().round() as usize).saturating_sub(2);
    format!("{:.decimals$}%", 100.0 * (1.0 - 1.0 / x))
}

/// `summary.json`: the run and its numbers, latencies in microseconds.
#[derive(serde::Serialize)]
struct Summary<'a> {
    target: &'a str,
    mode: &'static str,
    /// Open loop only.
    rate_offered_per_s: Option<f64>,
    concurrency: usize,
    elapsed_s: f64,
    requests: u64,
    requests_per_s: f64,
    errors: u64,
    /// Status 0: no answer.
    errors_by_status: BTreeMap<u16, u64>,
    /// Open loop only: sent more than [`LATE`] after their turn.
    late: Option<u64>,
    latency_us: LatencySummary,
}

#[derive(serde::Serialize)]
struct LatencySummary {
    p50: u64,
    p90: u64,
    p99: u64,
    #[serde(rename = "p99.9")]
    p99_9: u64,
    max: u64,
}

fn summary<'a>(options: &'a Options, elapsed_s: f64, tally: &Tally) -> Summary<'a> {
    let latency = &tally.latency;
    Summary {
        target: &options.target,
        mode: if options.rate.is_some() {
            "open loop"
        } else {
            "closed loop"
        },
        rate_offered_per_s: options.rate,
        concurrency: options.concurrency,
        elapsed_s,
        requests: latency.len(),
        requests_per_s: latency.len() as f64 / elapsed_s,
        errors: tally.errors(),
        errors_by_status: tally.errors_by_status().collect(),
        late: options.rate.map(|_| tally.late),
        latency_us: LatencySummary {
            p50: latency.value_at_quantile(0.5),
            p90: latency.value_at_quantile(0.9),
            p99: latency.value_at_quantile(0.99),
            p99_9: latency.value_at_quantile(0.999),
            max: latency.max(),
        },
    }
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
    let tally: SharedTally = Arc::new(Mutex::new(Tally::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    let mut turns = Vec::new();
    for _ in 0..options.concurrency {
        let (client, options, tally) = (client.clone(), options.clone(), tally.clone());
        workers.push(if options.rate.is_some() {
            let (sender, receiver) = mpsc::unbounded_channel();
            turns.push(sender);
            tokio::spawn(open_loop(client, options, receiver, tally))
        } else {
            tokio::spawn(closed_loop(client, options, next.clone(), deadline, tally))
        });
    }
    let dealer = options.rate.map(|rate| {
        let max_requests = options.max_requests;
        std::thread::spawn(move || deal_turns(rate, started, deadline, max_requests, turns))
    });
    let progress = tokio::spawn(report_progress(tally.clone(), started));
    for worker in workers {
        worker.await.expect("worker");
    }
    progress.abort();
    if let Some(dealer) = dealer {
        dealer.join().expect("the dealer of turns");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let tally = lock(&tally);
    let total = tally.latency.len();
    let errors = tally.errors();
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
    if let Some(dir) = &options.out {
        if let Err(error) = write_outputs(dir, &options, elapsed, &tally) {
            eprintln!("loadgen: writing {error}");
            std::process::exit(1);
        }
    }
}
