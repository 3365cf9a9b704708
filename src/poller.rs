//! The poller of open orders (SPEC §6): DriveWealth's events can be late or lost, so every
//! `upstream.poll_interval_ms` omnigate asks for the status of each open order it holds money
//! for, and applies the answer like any other update (idempotently, by `cumulativeQuantity`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Method, Request};
use http_body_util::{BodyExt, Limited};
use tokio::sync::watch;

use crate::config::UpstreamConfig;
use crate::engine::Engine;
use crate::events::OrderPayload;
use crate::http::respond;
use crate::ledger::OrderState;
use crate::upstream::Upstream;

/// Orders polled per round at most; the rest wait for the next round (oldest first).
const ORDERS_PER_ROUND_MAX: usize = 2_000;
/// Largest status answer read.
const ANSWER_BYTES_MAX: usize = 256 * 1024;

/// Headers the poller sends (DriveWealth needs credentials; the simulator does not).
#[derive(Clone, Default)]
pub struct PollCredentials {
    authorization: Option<HeaderValue>,
    app_key: Option<HeaderValue>,
}

impl PollCredentials {
    pub fn from_config(config: &UpstreamConfig) -> Result<Self, String> {
        let header = |key: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|text| {
                    let mut value = HeaderValue::from_str(text)
                        .map_err(|_| format!("{key}: not a valid header value"))?;
                    value.set_sensitive(true);
                    Ok::<_, String>(value)
                })
                .transpose()
        };
        Ok(Self {
            authorization: header("upstream.poll_authorization", &config.poll_authorization)?,
            app_key: header("upstream.poll_app_key", &config.poll_app_key)?,
        })
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(
    engine: Arc<Engine>,
    upstream: Upstream,
    credentials: PollCredentials,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let open = engine.ledger.orders(OrderState::Open);
        for order_id in open
            .iter()
            .filter_map(|order| order.upstream_order_id.as_deref())
            .take(ORDERS_PER_ROUND_MAX)
        {
            if *shutdown.borrow() {
                return;
            }
            match poll_one(&upstream, &credentials, order_id).await {
                Ok(payload) => {
                    engine.learn(&payload);
                }
                Err(error) => tracing::debug!(order_id, %error, "poll failed"),
            }
        }
    }
}

async fn poll_one(
    upstream: &Upstream,
    credentials: &PollCredentials,
    order_id: &str,
) -> Result<OrderPayload, String> {
    let path = format!("/back-office/orders/{order_id}");
    let path = http::uri::PathAndQuery::try_from(path.as_str())
        .map_err(|error| format!("order id is not a path segment: {error}"))?;
    let uri = upstream
        .base()
        .uri_for(Some(&path))
        .map_err(|error| error.to_string())?;
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(http::header::HOST, upstream.base().authority().as_str());
    if let Some(value) = &credentials.authorization {
        request = request.header(AUTHORIZATION, value.clone());
    }
    if let Some(value) = &credentials.app_key {
        request = request.header("dw-client-app-key", value.clone());
    }
    let request = request
        .body(respond::full(Bytes::new()))
        .map_err(|error| error.to_string())?;
    let response = upstream
        .send(request)
        .await
        .map_err(|error| error.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body = tokio::time::timeout(
        upstream.timeout(),
        Limited::new(response.into_body(), ANSWER_BYTES_MAX).collect(),
    )
    .await
    .map_err(|_| "the answer did not finish in time".to_owned())?
    .map_err(|error| error.to_string())?
    .to_bytes();
    serde_json::from_slice(&body).map_err(|error| format!("unreadable status: {error}"))
}
