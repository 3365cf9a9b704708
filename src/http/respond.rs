//! Building responses: the spec's error body, and the one place where an infrastructure error
//! becomes an HTTP status.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use serde::Serialize;

use crate::reject::Reject;
use crate::upstream::{ProxyBody, UpstreamError};

pub const DECISION_HEADER: &str = "x-omnigate-decision";

/// The error body of SPEC §3.1 (DriveWealth's shape).
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    message: &'a str,
}

pub use crate::upstream::{empty, full};

/// A JSON answer with `status`.
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serialises `value` as a JSON answer.
pub fn json_value(status: StatusCode, value: &impl Serialize) -> Response<ProxyBody> {
    match serde_json::to_vec(value) {
        Ok(body) => json(status, body),
        Err(error) => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("could not encode the answer: {error}"),
        ),
    }
}

/// `{"errorCode", "message"}` with `status`.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::to_vec(&ErrorBody {
        error_code: code,
        message,
    })
    .unwrap_or_default();
    json(status, body)
}

/// A rejected order or cancel: never forwarded.
pub fn rejected(reject: &Reject) -> Response<ProxyBody> {
    let status =
        StatusCode::from_u16(reject.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let mut response = error_body(status, reject.code.as_str(), &reject.message);
    response
        .headers_mut()
        .insert(DECISION_HEADER, HeaderValue::from_static("rejected"));
    response
}

/// The header that names the leader on a follower's `503 NOT_LEADER` (SPEC §12).
pub const LEADER_HEADER: &str = "x-omnigate-leader";

/// A follower's answer to anything that would decide or change state (SPEC §12): `503
/// NOT_LEADER`, naming the leader's `ha.advertise_url` when the lease names one.
pub fn not_leader(leadership: &crate::engine::Leadership) -> Response<ProxyBody> {
    let leader = leadership.leader();
    let message = match &leader {
        Some((node, url)) => format!(
            "this node is a follower; the leader is {node} at {url} (send orders and changes there)"
        ),
        None => "this node is a follower and no leader holds the lease right now; retry shortly"
            .to_owned(),
    };
    let mut response = error_body(StatusCode::SERVICE_UNAVAILABLE, "NOT_LEADER", &message);
    if let Some(value) = leader.and_then(|(_, url)| HeaderValue::from_str(&url).ok()) {
        response.headers_mut().insert(LEADER_HEADER, value);
    }
    response
}

/// Infrastructure failures, by where they came from. Rejections are not errors: see
/// [`crate::reject`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The write-ahead log cannot make a decision durable: nothing is acted on (fail closed).
    #[error("{0}")]
    Storage(#[from] crate::engine::StorageError),
    /// A limit of omnigate's own is full (try again later).
    #[error("{0}")]
    Overloaded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    /// The status and code of each failure: this is the only place they are decided.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            GatewayError::Upstream(UpstreamError::Unavailable(_)) => {
                (StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE")
            }
            GatewayError::Upstream(UpstreamError::NoAnswer(_)) => {
                (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT")
            }
            GatewayError::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE"),
            GatewayError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED"),
            GatewayError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }

    pub fn into_response(self) -> Response<ProxyBody> {
        let (status, code) = self.status_and_code();
        error_body(status, code, &self.to_string())
    }
}
