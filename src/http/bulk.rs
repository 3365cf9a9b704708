//! The admin API's bulk loads: `POST /admin/customers` and `POST /admin/instruments`.

use bytes::Bytes;
use http::{Request, StatusCode};

use super::admin::Admin;
use super::respond::{self, GatewayError};
use crate::engine::BulkError;
use crate::upstream::ProxyBody;

/// What a bulk load loads.
#[derive(Clone, Copy)]
pub(super) enum Bulk {
    Customers,
    Instruments,
}

impl Admin {
    /// `POST /admin/customers` and `POST /admin/instruments`: JSON Lines in the bootstrap files'
    /// shapes, applied in order, durable in batches (group commit), answered once every loaded
    /// entry is durable: `{"loaded": n}`, or 400 naming the first bad line and how many before
    /// it were loaded (those stay).
    pub(super) async fn bulk_load(
        &self,
        request: Request<Bytes>,
        what: Bulk,
    ) -> http::Response<ProxyBody> {
        let bytes = request.into_body();
        let engine = self.engine.clone();
        // Blocking: each entry takes the gate and the batches wait for their group commits.
        // `None`: the body is not UTF-8.
        let loaded = tokio::task::spawn_blocking(move || {
            let text = std::str::from_utf8(&bytes).ok()?;
            Some(match what {
                Bulk::Customers => engine.load_customers(text),
                Bulk::Instruments => engine.load_instruments(text),
            })
        })
        .await;
        match loaded {
            Ok(None) => respond::error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the request body is not valid UTF-8",
            ),
            Ok(Some(Ok(loaded))) => {
                tracing::info!(loaded, "bulk load by the admin API");
                respond::json_value(StatusCode::OK, &serde_json::json!({ "loaded": loaded }))
            }
            Ok(Some(Err(BulkError {
                storage: Some(error),
                ..
            }))) => GatewayError::from(error).into_response(),
            Ok(Some(Err(error))) => respond::error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!(
                    "line {}: {}; the {} entries before it were loaded",
                    error.line, error.message, error.loaded
                ),
            ),
            Err(error) => GatewayError::Internal(error.to_string()).into_response(),
        }
    }
}
