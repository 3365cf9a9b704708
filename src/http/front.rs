//! The order front: the DriveWealth paths routers call.
//!
//! `POST /back-office/orders` is read whole, parsed exactly and decided here; an accepted order's
//! original bytes go upstream with the router's end-to-end headers. `PATCH /back-office/orders/{id}`
//! is read far enough to recognise a cancel. Everything else streams through [`super::proxy`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::body::{self, BodyLimits};
use super::proxy;
use super::respond::{self, GatewayError, DECISION_HEADER};
use crate::order::{parse_cancel, parse_order};
use crate::reject::Reject;
use crate::upstream::{ProxyBody, Upstream, UpstreamError};

const ORDERS_PATH: &str = "/back-office/orders";
/// Largest upstream answer to an order create or cancel that omnigate reads (it must read it to
/// bind the order); DriveWealth's are a few hundred bytes.
const MAX_UPSTREAM_ANSWER_BYTES: usize = 1024 * 1024;

/// What the order front needs to serve a request.
pub struct Front {
    pub upstream: Upstream,
    pub body_limits: BodyLimits,
}

impl Front {
    /// Routes one request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        let path = request.uri().path();
        if path == ORDERS_PATH && request.method() == Method::POST {
            self.place_order(request).await
        } else if request.method() == Method::PATCH && order_id(path).is_some() {
            self.patch_order(request).await
        } else {
            proxy::forward(&self.upstream, request, self.body_limits).await
        }
    }

    async fn place_order(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        if let Err(reject) = require_json(&parts.headers) {
            return respond::rejected(&reject);
        }
        let bytes = match body::read_limited(&parts.headers, body, self.body_limits).await {
            Ok(bytes) => bytes,
            Err(reject) => return respond::rejected(&reject),
        };
        if let Err(reject) = parse_order(&bytes) {
            return respond::rejected(&reject);
        }
        self.forward_whole(parts, bytes).await
    }

    async fn patch_order(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let (parts, body) = request.into_parts();
        let bytes = match body::read_limited(&parts.headers, body, self.body_limits).await {
            Ok(bytes) => bytes,
            Err(reject) => return respond::rejected(&reject),
        };
        if let Err(reject) = parse_cancel(&bytes) {
            return respond::rejected(&reject);
        }
        self.forward_whole(parts, bytes).await
    }

    /// Sends the original bytes and reads the whole answer (bounded), so the caller can learn
    /// from it before relaying it.
    async fn forward_whole(
        &self,
        parts: http::request::Parts,
        bytes: Bytes,
    ) -> Response<ProxyBody> {
        let request = match proxy::upstream_request(&self.upstream, parts, respond::full(bytes)) {
            Ok(request) => request,
            Err(error) => return error.into_response(),
        };
        let started = tokio::time::Instant::now();
        let answer = match self.upstream.send(request).await {
            Ok(answer) => answer,
            Err(error) => return GatewayError::from(error).into_response(),
        };
        let remaining = self.upstream.timeout().saturating_sub(started.elapsed());
        match read_answer(answer, remaining).await {
            Ok(mut response) => {
                response
                    .headers_mut()
                    .insert(DECISION_HEADER, HeaderValue::from_static("accepted"));
                response
            }
            Err(error) => GatewayError::from(error).into_response(),
        }
    }
}

/// The `{id}` of `/back-office/orders/{id}`.
fn order_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix(ORDERS_PATH)?.strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
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

/// Reads the upstream's whole answer within `remaining`; a cut or late answer is no answer.
async fn read_answer(
    answer: Response<Incoming>,
    remaining: Duration,
) -> Result<Response<ProxyBody>, UpstreamError> {
    let (mut parts, body) = answer.into_parts();
    let collected = tokio::time::timeout(
        remaining,
        Limited::new(body, MAX_UPSTREAM_ANSWER_BYTES).collect(),
    )
    .await
    .map_err(|_| UpstreamError::NoAnswer("the answer did not finish in time".to_owned()))?
    .map_err(|error| UpstreamError::NoAnswer(format!("the answer was cut: {error}")))?;
    proxy::strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(
        parts,
        respond::full(collected.to_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_come_from_the_path() {
        assert_eq!(order_id("/back-office/orders/EF.1"), Some("EF.1"));
        assert_eq!(order_id("/back-office/orders/"), None);
        assert_eq!(order_id("/back-office/orders"), None);
        assert_eq!(order_id("/back-office/orders/a/b"), None);
        assert_eq!(order_id("/back-office/ordersX"), None);
    }

    #[test]
    fn only_json_is_an_order() {
        let mut headers = http::HeaderMap::new();
        assert!(require_json(&headers).is_err());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(require_json(&headers).is_ok());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(require_json(&headers).is_err());
    }
}
