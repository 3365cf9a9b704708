//! Prometheus metrics (SPEC §11), exposed at `GET /metrics` on the admin listener.
//!
//! The `metrics` facade records from anywhere without a handle; the exporter renders the text
//! format on demand (no listener of its own).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 1 µs to 10 s.
const LATENCY_BUCKETS_S: [f64; 15] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0, 10.0,
];

/// Records per group commit: 1 to the writer's batch cap.
const BATCH_BUCKETS: [f64; 13] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// Installs the process-wide recorder; `None` if one is already installed (a second gateway in
/// the same process, as in tests), in which case metrics go to the first.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS_S)
        .ok()?
        .set_buckets_for_metric(
            Matcher::Full("omnigate_wal_batch_records".to_owned()),
            &BATCH_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .ok()
}
