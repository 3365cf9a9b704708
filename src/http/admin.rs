//! The admin API (SPEC §7): risk officers and the partner's back office.
//!
//! Every call needs `Authorization: Bearer <token>`; the token is compared in constant time. The
//! listener is loopback by default, and `app` refuses a non-loopback one without a token.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use super::body::{self, BodyLimits};
use super::respond;
use crate::clock::{Clock, ShiftedClock};
use crate::upstream::ProxyBody;

/// What the admin API needs.
pub struct Admin {
    pub token: String,
    pub clock: Arc<dyn Clock>,
    /// Present only with `clock.adjustable = true`.
    pub adjustable_clock: Option<Arc<ShiftedClock>>,
    pub upstream: String,
    pub started: Instant,
    pub body_limits: BodyLimits,
}

impl Admin {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        if !self.authorized(request.headers()) {
            let mut response = respond::error_body(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "the admin API needs Authorization: Bearer <server.admin_token>",
            );
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        match (&method, path.as_str()) {
            (&Method::GET, "/admin/health") => self.health(),
            (&Method::PUT, "/admin/clock") => self.set_clock(request).await,
            _ => not_found(&method, &path),
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        constant_time_eq(presented.trim().as_bytes(), self.token.as_bytes())
    }

    fn health(&self) -> Response<ProxyBody> {
        #[derive(Serialize)]
        struct Health<'a> {
            status: &'a str,
            now: DateTime<Utc>,
            uptime_s: u64,
            upstream: &'a str,
            version: &'a str,
        }
        respond::json_value(
            StatusCode::OK,
            &Health {
                status: "ok",
                now: self.clock.now(),
                uptime_s: self.started.elapsed().as_secs(),
                upstream: &self.upstream,
                version: env!("CARGO_PKG_VERSION"),
            },
        )
    }

    async fn set_clock(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let Some(clock) = &self.adjustable_clock else {
            return not_found(&Method::PUT, "/admin/clock");
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SetClock {
            now: DateTime<Utc>,
        }
        let set: SetClock = match read_json(request, self.body_limits).await {
            Ok(set) => set,
            Err(response) => return response,
        };
        clock.set(set.now);
        tracing::warn!(now = %set.now, "gateway clock moved by the admin API");
        respond::json_value(
            StatusCode::OK,
            &serde_json::json!({ "now": self.clock.now() }),
        )
    }
}

/// Reads a JSON body into `T`, answering 400 with the reason when it does not fit.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
    limits: BodyLimits,
) -> Result<T, Response<ProxyBody>> {
    let (parts, body) = request.into_parts();
    let bytes = body::read_limited(&parts.headers, body, limits)
        .await
        .map_err(|reject| {
            respond::error_body(
                StatusCode::from_u16(reject.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                "BAD_REQUEST",
                &reject.message,
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|error| {
        respond::error_body(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("the request body does not fit: {error}"),
        )
    })
}

fn not_found(method: &Method, path: &str) -> Response<ProxyBody> {
    respond::error_body(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("no admin call {method} {path}"),
    )
}

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
