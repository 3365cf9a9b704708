//! The risk dashboard (SPEC §11.2): a page for risk officers, its data and its charts.
//!
//! The page itself (`page.html`) holds no data: it reads the admin token from the URL fragment
//! (never sent to a server) or asks for it, and polls `GET /admin/dashboard/data` with it. The
//! data is read from the engine at each call; what is drawn over time comes from [`history`],
//! sampled once a second off the order path; the charts are SVG drawn here ([`charts`]).

pub mod charts;
pub mod history;

use serde_json::json;

use crate::engine::Engine;
use history::{Buckets, History, Sample};

/// The page, served as is.
pub const PAGE: &str = include_str!("page.html");

/// Customers listed by what they hold in reservations.
const TOP_CUSTOMERS: usize = 10;

/// Samples the "now" figures are read over: the last ten seconds.
const RECENT_SAMPLES: usize = 10;

/// Everything the page shows, at this moment.
pub fn data(engine: &Engine, history: &History) -> serde_json::Value {
    let samples = history.samples();
    let (open, in_doubt) = engine.order_counts();
    let omni: Vec<serde_json::Value> = engine
        .omni_accounts()
        .into_iter()
        .map(|view| {
            json!({
                "account": view.number.unwrap_or_else(|| "omni".to_owned()),
                "cash": view.cash,
                "reserved": view.reserved,
                "available": view.available,
            })
        })
        .collect();
    let top: Vec<serde_json::Value> = engine
        .top_reserved(TOP_CUSTOMERS)
        .into_iter()
        .map(|(client_id, reserved)| json!({ "clientID": client_id, "reserved": reserved }))
        .collect();
    let recent = &samples[samples.len().saturating_sub(RECENT_SAMPLES + 1)..];
    json!({
        "now": engine.now(),
        "omni": omni,
        "killSwitch": engine.kill_switch_setting(),
        "inDoubt": in_doubt,
        "open": open,
        "topReserved": top,
        "decisionsTotal": samples.last().map(|sample| sample.decisions.clone()).unwrap_or_default(),
        "decisionsPerSecond": rates(recent),
        "latency": latency(recent),
        "charts": {
            "omni": charts::line_chart("Omni available buying power", "USD", &charts::omni_available(&samples)),
            "decisions": charts::line_chart("Decisions per second by code", "per second", &charts::decision_rates(&samples)),
            "latency": charts::line_chart("Latency percentiles", "µs", &charts::latency_percentiles(&samples)),
        },
    })
}

/// Decisions per second by code over `recent`.
fn rates(recent: &[Sample]) -> serde_json::Map<String, serde_json::Value> {
    let mut rates = serde_json::Map::new();
    let (Some(first), Some(last)) = (recent.first(), recent.last()) else {
        return rates;
    };
    let seconds = (last.at - first.at).num_milliseconds() as f64 / 1000.0;
    if seconds <= 0.0 {
        return rates;
    }
    for (code, &now) in &last.decisions {
        let then = first.decisions.get(code).copied().unwrap_or(0.0);
        let rate = ((now - then).max(0.0) / seconds * 10.0).round() / 10.0;
        rates.insert(code.clone(), json!(rate));
    }
    rates
}

/// Decision and upstream p50 / p99 over `recent`, in microseconds (`null` without calls).
fn latency(recent: &[Sample]) -> serde_json::Value {
    let window = |pick: fn(&Sample) -> &Buckets| match (recent.first(), recent.last()) {
        (Some(first), Some(last)) => pick(last).since(pick(first)),
        _ => Buckets::default(),
    };
    let micros = |buckets: &Buckets, q: f64| buckets.quantile(q).map(|seconds| seconds * 1e6);
    let decision = window(|sample| &sample.decision_latency);
    let upstream = window(|sample| &sample.upstream_latency);
    json!({
        "decisionP50Us": micros(&decision, 0.5),
        "decisionP99Us": micros(&decision, 0.99),
        "upstreamP50Us": micros(&upstream, 0.5),
        "upstreamP99Us": micros(&upstream, 0.99),
    })
}
