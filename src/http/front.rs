//! The order front: the DriveWealth paths routers call.
//!
//! Every request is routed by [`super::route`] on its raw method, path and headers (a known
//! router, one framing of the body, a canonical path), so a path that is not canonical, or a method an
//! order path does not take, is answered here and forwarded nowhere (SPEC §3.0).
//! `POST /back-office/orders` is read whole, parsed exactly and decided here; an accepted order's
//! original bytes go upstream with the router's end-to-end headers. `PATCH /back-office/orders/{id}`
//! is read far enough to recognise a cancel. Everything else streams through [`super::proxy`].

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::auth::RouterKeys;
use super::body::{self, BodyLimits};
use super::outcome::Outcome;
use super::proxy;
use super::respond::{self, GatewayError, DECISION_HEADER};
use super::route::{route_request, Refusal, Route};
use crate::audit::Request as AuditRequest;
use crate::engine::{AdmitError, Engine};
use crate::feeds::events::OrderPayload;
use crate::limits::{Begin, StoredAnswer};
use crate::order::{parse_cancel_within, parse_order_within, OrderPatch};
use crate::reject::{Reject, RejectCode};
use crate::upstream::{ProxyBody, Upstream, UpstreamBody, UpstreamError};
use AuditRequest::{Cancel, Order};

/// Header on an accepted order that DriveWealth will queue: the open it waits for (RFC 3339).
pub const QUEUED_UNTIL_HEADER: &str = "x-omnigate-queued-until";
/// DriveWealth's name for the header (SPEC §3).
const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// What a replayed answer carries besides its status and body.
const REPLAYED_HEADERS: [&str; 3] = ["content-type", DECISION_HEADER, QUEUED_UNTIL_HEADER];

/// Answers worth giving again to a repeat: decisions and upstream answers, and an order in doubt
/// (a retry must not send it twice). Not: overload, storage trouble, or an upstream that could
/// not be reached (nothing happened; a retry may go ahead).
fn replayable(status: http::StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS)
        || status == http::StatusCode::GATEWAY_TIMEOUT
}

/// A stored answer, again.
fn replay(answer: &StoredAnswer) -> Response<ProxyBody> {
    let mut response = Response::new(respond::full(answer.body.clone()));
    *response.status_mut() =
        http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::OK);
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response.headers_mut().insert(
        "x-omnigate-idempotent-replay",
        HeaderValue::from_static("true"),
    );
    response
}

/// Largest upstream answer to an order create or cancel that omnigate reads (it must read it to
/// bind the order); DriveWealth's are a few hundred bytes.
const MAX_UPSTREAM_ANSWER_BYTES: usize = 1024 * 1024;

/// What the order front needs to serve a request.
pub struct Front {
    pub engine: Arc<Engine>,
    pub upstream: Upstream,
    pub body_limits: BodyLimits,
    /// `server.router_app_keys` (fixed at start).
    pub router_keys: RouterKeys,
    /// `server.max_json_depth` (fixed at start).
    pub max_json_depth: usize,
    pub metrics: FrontMetrics,
}

/// The histograms every order records, registered once: a `histogram!` on the order path looked
/// its name up in the recorder's registry each time. Made after the recorder is installed (a
/// handle taken before would record nowhere).
pub struct FrontMetrics {
    decision: metrics::Histogram,
    upstream: metrics::Histogram,
}

impl FrontMetrics {
    pub fn new() -> Self {
        Self {
            decision: metrics::histogram!("omnigate_decision_seconds"),
            upstream: metrics::histogram!("omnigate_upstream_seconds"),
        }
    }
}

impl Default for FrontMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The upstream's whole answer to a request omnigate had to read.
pub(super) struct Answer {
    pub(super) parts: http::response::Parts,
    pub(super) body: Bytes,
}

impl Answer {
    fn into_response(self, decision: &'static str) -> Response<ProxyBody> {
        let mut response = Response::from_parts(self.parts, respond::full(self.body));
        response
            .headers_mut()
            .insert(DECISION_HEADER, HeaderValue::from_static(decision));
        response
    }
}

impl Front {
    /// Routes one request: a known router first, then its canonical route (SPEC §3.0).
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        let route = route_request(
            request.method(),
            request.uri().path(),
            request.headers(),
            &self.router_keys,
        );
        // Replicated mode: a follower decides nothing and forwards nothing (SPEC §12).
        if !matches!(route, Route::Refuse(_)) && !self.engine.leadership().serving() {
            return respond::not_leader(self.engine.leadership());
        }
        let order_id = match route {
            Route::PlaceOrder => return self.place_order(request).await,
            Route::ReadOrder => return self.get_order(request).await,
            Route::Proxy => return proxy::forward(&self.upstream, request, self.body_limits).await,
            Route::PatchOrder { order_id } => order_id.to_owned(),
            Route::Refuse(refusal) => {
                let reject = refusal_reject(&refusal, request.method());
                self.note_refusal(&reject, request.method(), request.uri().path());
                return refusal_answer(reject, refusal);
            }
        };
        self.patch_order(&order_id, request).await
    }

    async fn place_order(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let key = parts.headers.get(IDEMPOTENCY_KEY_HEADER).cloned();
        if let Err(reject) = require_json(&parts.headers) {
            return self.refused(Order, reject, &Bytes::new(), key.as_ref());
        }
        let bytes = match body::read_limited(&parts.headers, body, self.body_limits).await {
            Ok(bytes) => bytes,
            Err(reject) => return self.refused(Order, reject, &Bytes::new(), key.as_ref()),
        };
        let Some(key) = key else {
            return self.decide_and_forward(parts, bytes, None).await;
        };
        // SPEC §3: a repeat of a key is answered from memory, before anything else is checked.
        let guard = match self.engine.begin_idempotent(key.as_bytes(), &bytes) {
            Err(reject) => return self.refused(Order, reject, &bytes, Some(&key)),
            Ok(Begin::Replay(answer)) => return replay(&answer),
            Ok(Begin::Mismatch(reject)) => return self.refused(Order, reject, &bytes, Some(&key)),
            Ok(Begin::Wait(first)) => {
                // Someone is handling the first request with this key right now: its answer is
                // ours. It takes at most the upstream's timeout, plus a margin.
                let patience = self.upstream.timeout() * 2;
                return match tokio::time::timeout(patience, first.wait()).await {
                    Ok(Some(answer)) => replay(&answer),
                    _ => GatewayError::Overloaded(
                        "the first request with this Idempotency-Key has not finished; retry"
                            .to_owned(),
                    )
                    .into_response(),
                };
            }
            Ok(Begin::First(guard)) => guard,
        };
        let response = self.decide_and_forward(parts, bytes, Some(&key)).await;
        if !replayable(response.status()) {
            return response; // dropping the guard frees the key for a retry
        }
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return GatewayError::Internal(error.to_string()).into_response(),
        };
        let stored = StoredAnswer {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter(|(name, _)| REPLAYED_HEADERS.contains(&name.as_str()))
                .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        };
        if let Err(error) = self.engine.remember_idempotent(guard, stored).wait().await {
            // The answer stands (the order is already decided), but a retry after a restart
            // would not find the key: say so loudly.
            tracing::error!(%error, "idempotency key not made durable");
        }
        Response::from_parts(parts, respond::full(body))
    }

    /// Everything after the idempotency check: parse, decide, reserve, forward, bind.
    async fn decide_and_forward(
        &self,
        parts: http::request::Parts,
        bytes: Bytes,
        key: Option<&HeaderValue>,
    ) -> Response<ProxyBody> {
        let order = match parse_order_within(&bytes, self.max_json_depth) {
            Ok(order) => order,
            Err(reject) => return self.refused(Order, reject, &bytes, key),
        };
        let deciding = std::time::Instant::now();
        let decision = self.engine.admit(&order);
        self.metrics
            .decision
            .record(deciding.elapsed().as_secs_f64());
        let (admitted, durability) = match decision {
            Ok(admitted) => admitted,
            Err(AdmitError::Rejected(reject)) => {
                tracing::info!(code = %reject.code, message = %reject.message, "order rejected");
                return self.refused(Order, reject, &bytes, key);
            }
            Err(AdmitError::Storage(error)) => {
                // No decision could be made durable: refused, as a decision.
                let error = GatewayError::from(error);
                let code = error.status_and_code().1;
                super::outcome::count_decision(code);
                self.note_decision(Order, &bytes, key, code, Some(&error.to_string()), None);
                return error.into_response();
            }
        };
        drop(order);
        // The local id names the order in the trail until the upstream gives it its own.
        let local = self
            .engine
            .audit()
            .is_on()
            .then(|| admitted.local.to_string());
        self.note_decision(Order, &bytes, key, "ACCEPTED", None, local);
        // Log before act: the reservation is durable before the order leaves (SPEC §10).
        if let Err(error) = durability.wait().await {
            tracing::error!(%error, "order not forwarded: its decision could not be made durable");
            self.engine.abandon(&admitted);
            let error = GatewayError::from(error);
            self.note_outcome(
                Order,
                &bytes,
                key,
                Outcome::failed(&error).of(admitted.local),
                None,
            );
            return error.into_response();
        }
        // A leader whose lease ran out while the decision was made durable forwards nothing: the
        // next leader has the decision and holds the order in doubt (SPEC §12).
        if !self.engine.leadership().may_decide() {
            tracing::warn!("order not forwarded: this node lost the lease before sending it");
            return respond::not_leader(self.engine.leadership());
        }
        let engine = &self.engine;
        let body = bytes.clone();
        // Records after the forward are not awaited: a crash before they are durable leaves the
        // order in doubt, its money held, never lost.
        match self.send_whole(parts, bytes).await {
            Ok(answer) if answer.parts.status.is_success() => {
                let order_id = created_order_id(&answer.body);
                let code = match &order_id {
                    Some(order_id) => {
                        drop(engine.bound(&admitted, order_id));
                        "ACCEPTED"
                    }
                    None => {
                        // Taken upstream, but under an id omnigate cannot read: hold the money
                        // until an operator resolves it.
                        tracing::error!(local = %admitted.local, "accepted upstream without a readable orderId; held in doubt");
                        drop(engine.in_doubt(&admitted));
                        "UPSTREAM_ERROR"
                    }
                };
                self.note_outcome(
                    Order,
                    &body,
                    key,
                    Outcome::answered(code, &answer).of(admitted.local),
                    order_id,
                );
                let mut response = answer.into_response("accepted");
                if let Some(queued) = admitted.queued {
                    if let Some(value) = queued_until(queued.open) {
                        response.headers_mut().insert(QUEUED_UNTIL_HEADER, value);
                    }
                }
                response
            }
            Ok(answer) if answer.parts.status.is_client_error() => {
                // DriveWealth refused it: nothing is open, everything returns.
                drop(engine.refused_upstream(&admitted));
                self.note_outcome(
                    Order,
                    &body,
                    key,
                    Outcome::answered("UPSTREAM_REJECTED", &answer).of(admitted.local),
                    None,
                );
                answer.into_response("accepted")
            }
            Ok(answer) => {
                // A 5xx may or may not have placed the order.
                tracing::warn!(status = %answer.parts.status, local = %admitted.local, "upstream error on create; order held in doubt");
                drop(engine.in_doubt(&admitted));
                self.note_outcome(
                    Order,
                    &body,
                    key,
                    Outcome::answered("UPSTREAM_ERROR", &answer).of(admitted.local),
                    None,
                );
                answer.into_response("accepted")
            }
            Err(error) => {
                if matches!(error, GatewayError::Upstream(UpstreamError::Unavailable(_))) {
                    // Never sent: everything returns.
                    drop(engine.refused_upstream(&admitted));
                } else {
                    tracing::warn!(%error, local = %admitted.local, "order sent without an answer; held in doubt");
                    drop(engine.in_doubt(&admitted));
                }
                self.note_outcome(
                    Order,
                    &body,
                    key,
                    Outcome::failed(&error).of(admitted.local),
                    None,
                );
                error.into_response()
            }
        }
    }

    /// Proxies an order status and learns fills from it (SPEC §6).
    async fn get_order(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, _) = request.into_parts();
        match self.send_whole(parts, Bytes::new()).await {
            Ok(answer) => {
                if answer.parts.status.is_success() {
                    if let Ok(payload) = serde_json::from_slice::<OrderPayload>(&answer.body) {
                        drop(crate::feeds::events::learn(&self.engine, &payload));
                    }
                }
                let mut response = Response::from_parts(answer.parts, respond::full(answer.body));
                response.headers_mut().remove(DECISION_HEADER);
                response
            }
            Err(error) => error.into_response(),
        }
    }

    async fn patch_order(&self, id: &str, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let bytes = match body::read_limited(&parts.headers, body, self.body_limits).await {
            Ok(bytes) => bytes,
            Err(reject) => return self.refused_cancel(id, reject, &Bytes::new()),
        };
        let cancel = match parse_cancel_within(&bytes, self.max_json_depth) {
            Err(reject) => return self.refused_cancel(id, reject, &bytes),
            Ok(OrderPatch::Cancel) => {
                if let Err(reject) = self.engine.check_cancel(id) {
                    return self.refused_cancel(id, reject, &bytes);
                }
                self.note_decision(Cancel, &bytes, None, "ACCEPTED", None, Some(id.to_owned()));
                true
            }
            Ok(OrderPatch::Other) => false,
        };
        let body = bytes.clone();
        let answer = self.send_whole(parts, bytes).await;
        if cancel {
            let outcome = match &answer {
                Ok(answer) if answer.parts.status.is_success() => {
                    Outcome::answered("ACCEPTED", answer)
                }
                Ok(answer) if answer.parts.status.is_client_error() => {
                    Outcome::answered("UPSTREAM_REJECTED", answer)
                }
                Ok(answer) => Outcome::answered("UPSTREAM_ERROR", answer),
                Err(error) => Outcome::failed(error),
            };
            self.note_outcome(Cancel, &body, None, outcome, Some(id.to_owned()));
        }
        match answer {
            Ok(answer) => answer.into_response("accepted"),
            Err(error) => error.into_response(),
        }
    }

    /// Sends `bytes` as the body and reads the whole answer (bounded), so the caller can learn
    /// from it before relaying it.
    async fn send_whole(
        &self,
        parts: http::request::Parts,
        bytes: Bytes,
    ) -> Result<Answer, GatewayError> {
        let request = proxy::upstream_request(&self.upstream, parts, respond::full(bytes))?;
        let started = tokio::time::Instant::now();
        let mut head_seen = false;
        // One timer for the head and the body: the upstream timeout bounds the whole answer. The
        // exchange is pinned where it is made and the timer holds a reference: `timeout` taking
        // it by value would copy its whole state (over a kilobyte) for every order.
        let answer = {
            let exchange = std::pin::pin!(async {
                let answer = std::pin::pin!(self.upstream.send_untimed(request)).await;
                self.metrics
                    .upstream
                    .record(started.elapsed().as_secs_f64());
                head_seen = answer.is_ok();
                read_answer(answer?).await
            });
            tokio::time::timeout(self.upstream.timeout(), exchange).await
        };
        match answer {
            Ok(answer) => Ok(answer?),
            Err(_) if head_seen => {
                Err(UpstreamError::NoAnswer("the answer did not finish in time".to_owned()).into())
            }
            Err(_) => Err(self.upstream.no_answer_in_time().into()),
        }
    }
}

/// The [`QUEUED_UNTIL_HEADER`] value for `open`. Every order queued until the same open carries
/// the same text, so each order thread keeps the last one (a `HeaderValue` clone shares it).
fn queued_until(open: chrono::DateTime<chrono::Utc>) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(chrono::DateTime<chrono::Utc>, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((kept, value)) if *kept == open => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&open.to_rfc3339()).ok()?;
            *last = Some((open, value.clone()));
            Some(value)
        }
    })
}

/// The id in DriveWealth's create answer: `orderId` (or `id`). Read with the order parser's scan
/// (one pass, no allocation but the id) as serde would read `{orderId, id}` as optional strings:
/// nothing from a body that is not one JSON object, names either key twice, or holds something
/// other than a string or `null` under one.
fn created_order_id(body: &[u8]) -> Option<String> {
    fn text(raw: Option<&str>) -> Option<Option<std::borrow::Cow<'_, str>>> {
        match raw {
            None | Some("null") => Some(None),
            Some(raw) => crate::order::json_string(raw).map(Some),
        }
    }
    let [order_id, id] = crate::order::raw_fields(body, &["orderId", "id"])?;
    let (order_id, id) = (text(order_id)?, text(id)?);
    order_id
        .or(id)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(std::borrow::Cow::into_owned)
}

/// Why the router refused a request, as a rejection (SPEC §3.0, §3.1).
fn refusal_reject(refusal: &Refusal, method: &http::Method) -> Reject {
    match refusal {
        Refusal::UnknownRouter => Reject::new(
            RejectCode::Unauthorized,
            "this router is not known: send one of the dw-client-app-key values in server.router_app_keys",
        ),
        Refusal::Framing(reason) => Reject::new(RejectCode::InvalidRequest, *reason),
        Refusal::NotCanonical(reason) => Reject::new(
            RejectCode::InvalidRequest,
            format!("{reason}; omnigate forwards canonical paths only"),
        ),
        Refusal::MethodNotAllowed { allow } => {
            let allowed = if allow.is_empty() {
                String::new()
            } else {
                format!("; allowed: {allow}")
            };
            Reject::new(
                RejectCode::MethodNotAllowed,
                format!(
                    "{} is not allowed on this path{allowed}",
                    crate::reject::clip(method)
                ),
            )
        }
    }
}

/// The answer to a refused request: its rejection, and `Allow` for a method not allowed.
fn refusal_answer(reject: Reject, refusal: Refusal) -> Response<ProxyBody> {
    let mut response = respond::rejected(&reject);
    if let Refusal::MethodNotAllowed { allow } = refusal {
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// Orders are JSON: `content-type: application/json` (any parameters, any case).
fn require_json(headers: &http::HeaderMap) -> Result<(), Reject> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(Reject::invalid(
            "content-type is missing; orders are sent as application/json",
        ));
    };
    let media_type = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Reject::invalid(format!(
            "content-type {:?} is not application/json",
            value.to_str().unwrap_or("(not text)")
        )))
    }
}

/// Reads the upstream's whole answer (the caller bounds the time); a cut answer is no answer.
async fn read_answer(answer: Response<UpstreamBody>) -> Result<Answer, UpstreamError> {
    let (mut parts, body) = answer.into_parts();
    let collected = Limited::new(body, MAX_UPSTREAM_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|error| UpstreamError::NoAnswer(format!("the answer was cut: {error}")))?;
    proxy::strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Answer {
        parts,
        body: collected.to_bytes(),
    })
}

#[cfg(test)]
mod tests;
