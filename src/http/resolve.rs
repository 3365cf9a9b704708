//! `POST /admin/orders/{id}/resolve` (SPEC §6): an operator settles an order held in doubt —
//! placed under DriveWealth's orderId (checked with DriveWealth first), or never placed.

use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Deserialize;

use super::admin::{bad_request, change_error, committed, unknown, Admin, Answer};
use super::body::read_json;
use super::respond::{self, GatewayError};
use crate::feeds::poller::FetchError;
use crate::ledger::LocalOrderId;

impl Admin {
    pub(super) async fn resolve(&self, id: &str, request: Request<Bytes>) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "snake_case")]
        enum Outcome {
            /// It reached DriveWealth under `orderId`: bind it.
            Placed,
            /// It never did: release its reservation.
            NotPlaced,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Resolve {
            outcome: Outcome,
            #[serde(rename = "orderId", default)]
            order_id: Option<String>,
        }
        let Some(local) = LocalOrderId::parse(id) else {
            return unknown("in-doubt order", id);
        };
        let resolve: Resolve = match read_json(request.body()) {
            Ok(resolve) => resolve,
            Err(response) => return response,
        };
        let upstream_id = match (resolve.outcome, resolve.order_id.as_deref()) {
            (Outcome::Placed, Some(order_id)) if !order_id.is_empty() => Some(order_id),
            (Outcome::Placed, _) => {
                return bad_request("outcome \"placed\" needs the upstream orderId")
            }
            (Outcome::NotPlaced, None) => None,
            (Outcome::NotPlaced, Some(_)) => {
                return bad_request("outcome \"not_placed\" takes no orderId")
            }
        };
        // `placed` is checked with DriveWealth first: an id it does not know is refused (404),
        // and its answer, once bound, is applied like any other.
        let upstream_answer = match upstream_id {
            None => None,
            Some(order_id) if crate::feeds::poller::segment(order_id).is_err() => {
                return bad_request("orderId must be DriveWealth's id ([A-Za-z0-9._:-])");
            }
            Some(order_id) => match self.ops.fetch_order(order_id).await {
                Ok(payload) => Some(payload),
                Err(FetchError::NotFound) => {
                    return respond::error_body(
                        StatusCode::NOT_FOUND,
                        "NOT_FOUND",
                        &format!(
                            "DriveWealth has no order {:?}; nothing was resolved",
                            crate::reject::clip(order_id)
                        ),
                    )
                }
                Err(FetchError::Failed(reason)) => {
                    tracing::warn!(order_id, %reason, "could not verify an order with DriveWealth");
                    return respond::error_body(
                        StatusCode::BAD_GATEWAY,
                        "UPSTREAM_UNAVAILABLE",
                        &format!(
                            "could not verify order {:?} with DriveWealth ({}); nothing was resolved",
                            crate::reject::clip(order_id),
                            crate::reject::clip(reason)
                        ),
                    );
                }
            },
        };
        let resolved = self.engine.resolve_in_doubt(local, upstream_id);
        if let (Ok(_), Some(payload)) = (&resolved, &upstream_answer) {
            let (_, durability) = crate::feeds::events::learn(&self.engine, payload);
            if let Err(error) = durability.wait().await {
                return GatewayError::from(error).into_response();
            }
        }
        match resolved {
            Ok(durability) => {
                tracing::warn!(%local, order_id = upstream_id.unwrap_or(""), "in-doubt order resolved by the admin API");
                committed(
                    durability,
                    &serde_json::json!({ "resolved": local, "orderId": upstream_id }),
                )
                .await
            }
            Err(error) => change_error(error),
        }
    }
}
