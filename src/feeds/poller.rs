//! The poller of open orders (SPEC §6): DriveWealth's events can be late or lost, so every
//! `upstream.poll_interval_ms` omnigate asks for the status of each open order it holds money
//! for, and applies the answer like any other update (idempotently, by `cumulativeQuantity`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION};
use http::{Method, Request};
use tokio::sync::watch;

use crate::config::UpstreamConfig;
use crate::engine::Engine;
use crate::feeds::events::OrderPayload;
use crate::ledger::OrderState;
use crate::upstream::Upstream;

/// Orders polled per round at most; the rest wait for the next round (oldest first).
const ORDERS_PER_ROUND_MAX: usize = 2_000;
/// Status requests in flight at once.
const POLLS_IN_FLIGHT_MAX: usize = 16;
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

/// Requests omnigate makes upstream on its own behalf: status polls and kill-switch cancels.
#[derive(Clone)]
pub struct UpstreamOps {
    pub upstream: Upstream,
    pub credentials: PollCredentials,
    /// `[upstream.auth]`: omnigate's own token, renewed as it expires (instead of the static
    /// `credentials`).
    pub auth: Option<Arc<crate::upstream::auth::Tokens>>,
    /// `upstream.cancel_retry_ms`.
    pub cancel_retry: Duration,
}

/// Retries of a failed `cancelOpen` cancel, after the first attempt.
const CANCEL_RETRIES_MAX: u32 = 10;

impl UpstreamOps {
    /// Cancels each order upstream (a kill switch's `cancelOpen`), every one on its own: a
    /// failed cancel is tried again every [`UpstreamOps::cancel_retry`], at most
    /// [`CANCEL_RETRIES_MAX`] times, and no more once omnigate holds the order no longer (it
    /// reached a final status some other way).
    pub fn cancel_all(&self, engine: Arc<Engine>, order_ids: Vec<String>) {
        for order_id in order_ids {
            let (ops, engine) = (self.clone(), engine.clone());
            tokio::spawn(async move {
                for attempt in 0..=CANCEL_RETRIES_MAX {
                    if attempt > 0 {
                        tokio::time::sleep(ops.cancel_retry).await;
                        if !engine.holds_order(&order_id) {
                            tracing::info!(%order_id, "kill switch: order final; no more cancels");
                            return;
                        }
                    }
                    match ops.cancel(&order_id).await {
                        Ok(()) => {
                            metrics::counter!("omnigate_upstream_cancels_total", "result" => "ok")
                                .increment(1);
                            tracing::info!(%order_id, "kill switch: cancel sent");
                            return;
                        }
                        Err(error) => {
                            metrics::counter!("omnigate_upstream_cancels_total", "result" => "failed")
                                .increment(1);
                            tracing::warn!(
                                path = %format!("/back-office/orders/{order_id}"),
                                %error,
                                attempt,
                                "kill switch: cancel failed"
                            );
                            // A 4xx is DriveWealth's answer (the order is final, or past its
                            // cut-off): asking again would get the same one. Not so a 408 or
                            // a 429 (too many requests), which ask to try again.
                            let retryable = ["status 408", "status 429"]
                                .iter()
                                .any(|status| error.starts_with(status));
                            if error.starts_with("status 4") && !retryable {
                                return;
                            }
                        }
                    }
                }
                tracing::error!(%order_id, "kill switch: cancel given up after {CANCEL_RETRIES_MAX} retries");
            });
        }
    }
}

impl UpstreamOps {
    /// `PATCH /back-office/orders/{id}` `{"method":"CANCEL"}`; Ok when the upstream took it.
    pub async fn cancel(&self, order_id: &str) -> Result<(), String> {
        let path = format!("/back-office/orders/{}", segment(order_id)?);
        let response = self
            .call(
                Method::PATCH,
                &path,
                Bytes::from_static(br#"{"method":"CANCEL"}"#),
            )
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("status {}", response.status()))
        }
    }

    /// A call of omnigate's own to `path` upstream, with its credentials. With `[upstream.auth]`,
    /// a 401 renews the token and the call is made once more.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<http::Response<crate::upstream::UpstreamBody>, String> {
        let mut renewed = false;
        loop {
            let token = match &self.auth {
                Some(tokens) => Some(tokens.authorization(&self.upstream).await?),
                None => None,
            };
            let request = self.request_to(method.clone(), path, body.clone(), token.as_ref())?;
            let response = self
                .upstream
                .send(request)
                .await
                .map_err(|error| error.to_string())?;
            if response.status() == http::StatusCode::UNAUTHORIZED && !renewed {
                if let (Some(tokens), Some(token)) = (&self.auth, &token) {
                    tracing::warn!(path, "DriveWealth answered 401; renewing the token once");
                    tokens.invalidate(token);
                    renewed = true;
                    continue;
                }
            }
            return Ok(response);
        }
    }

    fn request_to(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        token: Option<&HeaderValue>,
    ) -> Result<Request<crate::upstream::ProxyBody>, String> {
        let path = http::uri::PathAndQuery::try_from(path)
            .map_err(|error| format!("not a path: {error}"))?;
        let uri = self
            .upstream
            .base()
            .uri_for(Some(&path))
            .map_err(|error| error.to_string())?;
        let mut request = Request::builder().method(method).uri(uri).header(
            http::header::HOST,
            self.upstream.base().authority().as_str(),
        );
        if !body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        match (&self.auth, token) {
            (Some(tokens), Some(token)) => {
                request = request
                    .header(AUTHORIZATION, token.clone())
                    .header("dw-client-app-key", tokens.app_key());
            }
            _ => {
                if let Some(value) = &self.credentials.authorization {
                    request = request.header(AUTHORIZATION, value.clone());
                }
                if let Some(value) = &self.credentials.app_key {
                    request = request.header("dw-client-app-key", value.clone());
                }
            }
        }
        request
            .body(crate::upstream::full(body))
            .map_err(|error| error.to_string())
    }
}

/// An id as one path segment, or why it cannot be one: an id with `/`, `?`, `%` or the like
/// would name another resource upstream.
pub(crate) fn segment(id: &str) -> Result<&str, String> {
    let plain =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b':');
    if id.is_empty() || id == "." || id == ".." || id.len() > 128 || !id.bytes().all(plain) {
        return Err(format!(
            "{:?} is not an id ([A-Za-z0-9._:-], 1 to 128 characters)",
            crate::reject::clip(id)
        ));
    }
    Ok(id)
}

/// Runs until `shutdown` turns true.
pub async fn run(
    engine: Arc<Engine>,
    ops: UpstreamOps,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) {
    let mut beat = crate::beat::Beat::new(interval, shutdown);
    while beat.next().await {
        // Replicated mode: only the leader acts on DriveWealth and logs what it learns.
        if !engine.leadership().serving() {
            continue;
        }
        let open: Vec<String> = engine
            .orders(OrderState::Open)
            .into_iter()
            .filter_map(|order| order.upstream_order_id)
            .take(ORDERS_PER_ROUND_MAX)
            .collect();
        // A few polls in flight at once, so a round keeps up with a busy book without
        // flooding the upstream.
        let mut polls = tokio::task::JoinSet::new();
        for order_id in open {
            if beat.stopping() {
                return;
            }
            if polls.len() >= POLLS_IN_FLIGHT_MAX {
                polls.join_next().await;
            }
            let (engine, ops) = (engine.clone(), ops.clone());
            polls.spawn(async move {
                match poll_one(&ops, &order_id).await {
                    // A poll is not acknowledged to anyone: its record need not be awaited.
                    Ok(payload) => {
                        metrics::counter!("omnigate_upstream_polls_total", "result" => "ok")
                            .increment(1);
                        drop(crate::feeds::events::learn(&engine, &payload));
                    }
                    Err(error) => {
                        metrics::counter!("omnigate_upstream_polls_total", "result" => "failed")
                            .increment(1);
                        tracing::warn!(
                            path = %format!("/back-office/orders/{order_id}"),
                            %error,
                            "poll of an open order failed"
                        );
                    }
                }
            });
        }
        while polls.join_next().await.is_some() {}
    }
}

async fn poll_one(ops: &UpstreamOps, order_id: &str) -> Result<OrderPayload, String> {
    ops.fetch_order(order_id)
        .await
        .map_err(|error| match error {
            FetchError::NotFound => "status 404 Not Found".to_owned(),
            FetchError::Failed(reason) => reason,
        })
}

/// Why an order's status could not be read upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// DriveWealth answered 404: it has no such order.
    NotFound,
    /// No answer, another status, or an unreadable body.
    Failed(String),
}

impl UpstreamOps {
    /// `GET /back-office/orders/{id}`: the order as DriveWealth has it.
    pub async fn fetch_order(&self, order_id: &str) -> Result<OrderPayload, FetchError> {
        fetch(self, order_id).await
    }
}

async fn fetch(ops: &UpstreamOps, order_id: &str) -> Result<OrderPayload, FetchError> {
    let upstream = &ops.upstream;
    let path = format!(
        "/back-office/orders/{}",
        segment(order_id).map_err(FetchError::Failed)?
    );
    let response = ops
        .call(Method::GET, &path, Bytes::new())
        .await
        .map_err(FetchError::Failed)?;
    if response.status() == http::StatusCode::NOT_FOUND {
        return Err(FetchError::NotFound);
    }
    if !response.status().is_success() {
        return Err(FetchError::Failed(format!("status {}", response.status())));
    }
    let body = upstream
        .read_body(response, ANSWER_BYTES_MAX)
        .await
        .map_err(FetchError::Failed)?;
    serde_json::from_slice(&body)
        .map_err(|error| FetchError::Failed(format!("unreadable status: {error}")))
}
