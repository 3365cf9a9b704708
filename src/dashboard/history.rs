//! What the dashboard draws over time: a sample a second of each omnibus account's available
//! buying power, the decision counters and the latency histograms, kept for ten minutes.
//!
//! The counters and histograms are read back from omnigate's own Prometheus exposition, so the
//! order path records each decision once, in one place (`metrics`), and the dashboard costs it
//! nothing. Latency percentiles are read off the histogram's buckets: each is the upper bound
//! of the bucket where the percentile falls (the exposition's resolution, SPEC §11's buckets).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::money::Fixed;

/// Samples kept: ten minutes at one a second.
pub const SAMPLES_MAX: usize = 600;

/// A histogram as exposed: `(upper bound in seconds, cumulative count)`, ascending, `+Inf` last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets(pub Vec<(f64, f64)>);

impl Buckets {
    /// The observations after `earlier` (same buckets; a reset counter reads as all new).
    pub fn since(&self, earlier: &Buckets) -> Buckets {
        if earlier.0.len() != self.0.len() {
            return self.clone();
        }
        Buckets(
            self.0
                .iter()
                .zip(&earlier.0)
                .map(|(&(le, now), &(_, then))| (le, if now >= then { now - then } else { now }))
                .collect(),
        )
    }

    pub fn count(&self) -> f64 {
        self.0.last().map_or(0.0, |&(_, count)| count)
    }

    /// The upper bound of the bucket holding quantile `q` (0 < q ≤ 1); `None` without
    /// observations or past the last finite bucket.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        self.0
            .iter()
            .find(|&&(_, count)| count >= rank)
            .map(|&(le, _)| le)
            .filter(|le| le.is_finite())
    }
}

/// One look at the gateway.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Each omnibus account (`"omni"` for the shared balance) and what it can still buy.
    pub omni: Vec<(String, Fixed)>,
    /// `omnigate_decisions_total` by code, cumulative.
    pub decisions: BTreeMap<String, f64>,
    pub decision_latency: Buckets,
    pub upstream_latency: Buckets,
}

/// The last [`SAMPLES_MAX`] samples, oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: parking_lot::Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock();
        if samples.len() == SAMPLES_MAX {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// A copy of the samples, oldest first (the lock is held only to clone).
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().iter().cloned().collect()
    }
}

/// Takes a sample now.
pub fn sample(engine: &Engine, metrics: Option<&PrometheusHandle>) -> Sample {
    let omni = engine
        .omni_accounts()
        .into_iter()
        .map(|view| {
            (
                view.number.unwrap_or_else(|| "omni".to_owned()),
                view.available,
            )
        })
        .collect();
    let (decisions, decision_latency, upstream_latency) = match metrics {
        Some(handle) => read_exposition(&handle.render()),
        None => Default::default(),
    };
    Sample {
        at: engine.now(),
        omni,
        decisions,
        decision_latency,
        upstream_latency,
    }
}

/// Samples once a second until shutdown.
pub async fn run(
    engine: Arc<Engine>,
    metrics: Option<PrometheusHandle>,
    history: Arc<History>,
    shutdown: watch::Receiver<bool>,
) {
    let mut beat = crate::beat::Beat::new(Duration::from_secs(1), shutdown);
    while beat.next().await {
        let (engine, metrics, history) = (engine.clone(), metrics.clone(), history.clone());
        // Rendering the exposition and reading every account is not for an async worker.
        let _ = tokio::task::spawn_blocking(move || {
            history.push(sample(&engine, metrics.as_ref()));
        })
        .await;
    }
}

/// The decision counters and the two latency histograms in Prometheus text.
fn read_exposition(text: &str) -> (BTreeMap<String, f64>, Buckets, Buckets) {
    let mut decisions = BTreeMap::new();
    let (mut decision, mut upstream) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        match name {
            "omnigate_decisions_total" => {
                if let Some(code) = label(labels, "code") {
                    decisions.insert(code.to_owned(), value);
                }
            }
            "omnigate_decision_seconds_bucket" | "omnigate_upstream_seconds_bucket" => {
                let le = match label(labels, "le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => match le.parse() {
                        Ok(le) => le,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                if name == "omnigate_decision_seconds_bucket" {
                    decision.push((le, value));
                } else {
                    upstream.push((le, value));
                }
            }
            _ => {}
        }
    }
    for buckets in [&mut decision, &mut upstream] {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    (decisions, Buckets(decision), Buckets(upstream))
}

/// A label's value in `name="value",…}`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.trim_end_matches('}').split(',').find_map(|pair| {
        pair.strip_prefix(name)?
            .strip_prefix("=\"")?
            .strip_suffix('"')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE omnigate_decisions_total counter
omnigate_decisions_total{code="ACCEPTED"} 90
omnigate_decisions_total{code="MARKET_CLOSED"} 10
# TYPE omnigate_decision_seconds histogram
omnigate_decision_seconds_bucket{le="0.000001"} 0
omnigate_decision_seconds_bucket{le="0.00001"} 50
omnigate_decision_seconds_bucket{le="0.0001"} 99
omnigate_decision_seconds_bucket{le="+Inf"} 100
omnigate_decision_seconds_sum 0.01
omnigate_decision_seconds_count 100
omnigate_upstream_seconds_bucket{le="0.001"} 3
omnigate_upstream_seconds_bucket{le="+Inf"} 3
"#;

    #[test]
    fn reads_counters_and_buckets_from_the_exposition() {
        let (decisions, decision, upstream) = read_exposition(TEXT);
        assert_eq!(decisions["ACCEPTED"], 90.0);
        assert_eq!(decisions["MARKET_CLOSED"], 10.0);
        assert_eq!(decision.count(), 100.0);
        assert_eq!(decision.quantile(0.5), Some(0.00001));
        assert_eq!(decision.quantile(0.99), Some(0.0001));
        assert_eq!(decision.quantile(1.0), None, "in the +Inf bucket");
        assert_eq!(upstream.quantile(0.99), Some(0.001));
        let later = Buckets(vec![
            (0.000001, 0.0),
            (0.00001, 50.0),
            (0.0001, 100.0),
            (f64::INFINITY, 101.0),
        ]);
        let window = later.since(&decision);
        assert_eq!(window.count(), 1.0);
        assert_eq!(window.quantile(0.5), Some(0.0001));
        assert_eq!(Buckets::default().quantile(0.5), None);
    }

    #[test]
    fn keeps_ten_minutes() {
        let history = History::default();
        for n in 0..(SAMPLES_MAX + 5) {
            history.push(Sample {
                at: DateTime::from_timestamp(n as i64, 0).unwrap(),
                omni: Vec::new(),
                decisions: BTreeMap::new(),
                decision_latency: Buckets::default(),
                upstream_latency: Buckets::default(),
            });
        }
        let samples = history.samples();
        assert_eq!(samples.len(), SAMPLES_MAX);
        assert_eq!(samples[0].at.timestamp(), 5);
    }
}
