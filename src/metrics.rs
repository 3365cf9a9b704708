//! Prometheus metrics (SPEC §11), exposed at `GET /metrics` on the admin listener.
//!
//! The `metrics` facade records from anywhere without a handle; the exporter renders the text
//! format on demand (no listener of its own).

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 1 µs to 10 s.
const LATENCY_BUCKETS_S: [f64; 15] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0, 10.0,
];

/// Installs the process-wide recorder; `None` if one is already installed (a second gateway in
/// the same process, as in tests), in which case metrics go to the first.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS_S)
        .ok()?
        .install_recorder()
        .ok()
}
