//! Reading a whole request body, within a byte limit (`server.max_body_bytes`; the admin API's bulk
//! loads, `server.max_bulk_bytes`) and `server.body_read_timeout_ms`.

use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::HeaderMap;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::reject::Reject;

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
