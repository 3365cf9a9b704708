//! Reading a whole request body, within a byte limit (`server.max_body_bytes`; the admin API's bulk
//! loads, `server.max_bulk_bytes`) and `server.body_read_timeout_ms`; and reading the admin API's
//! JSON bodies (read whole before they are routed), of the shape they must have.

use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::respond;
use crate::json_shape::Shape;
use crate::reject::Reject;
use crate::upstream::ProxyBody;

/// Limits on a body read into memory.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The config key of `max_bytes`, named when a body is refused.
    pub max_bytes_key: &'static str,
    pub read_timeout: Duration,
}

/// Reads the body, refusing it (413 `INVALID_ORDER`) as soon as it is known to be too large —
/// from `content-length` before reading a byte, else while streaming.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Incoming,
    limits: BodyLimits,
) -> Result<Bytes, Reject> {
    let too_large = || {
        Reject::invalid(format!(
            "the request body is larger than the {} bytes allowed ({})",
            limits.max_bytes, limits.max_bytes_key
        ))
        .with_status(413)
    };
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        let length = length
            .to_str()
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| Reject::invalid("content-length is not a number"))?;
        if length > limits.max_bytes as u64 {
            return Err(too_large());
        }
    }
    match tokio::time::timeout(
        limits.read_timeout,
        Limited::new(body, limits.max_bytes).collect(),
    )
    .await
    {
        Err(_) => Err(Reject::invalid(format!(
            "the request body did not arrive within {} ms",
            limits.read_timeout.as_millis()
        ))
        .with_status(408)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(error)) => Err(Reject::invalid(format!(
            "the request body could not be read: {}",
            crate::reject::clip(error)
        ))),
    }
}

/// Reads a JSON object body into the struct `T`, answering 400 with the reason when it does not
/// fit (an array is refused: serde's derive would read it as the fields in order).
// The error is the answer itself, returned straight to the client: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub fn read_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response<ProxyBody>> {
    read_shaped(body, Shape::Object)
}

/// [`read_json`] for a body that is a list.
#[allow(clippy::result_large_err)]
pub fn read_json_list<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, Response<ProxyBody>> {
    read_shaped(body, Shape::Array)
}

#[allow(clippy::result_large_err)]
fn read_shaped<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    shape: Shape,
) -> Result<T, Response<ProxyBody>> {
    if !shape.opens(bytes) {
        return Err(respond::error_body(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("the request body must be {}", shape.name()),
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        respond::error_body(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!(
                "the request body does not fit: {}",
                crate::reject::clip(error)
            ),
        )
    })
}
