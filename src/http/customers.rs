//! The admin API's customer calls beyond registration and cash: a customer's view with its
//! freeze, the paged list, freeze and re-key (SPEC §7).

use bytes::Bytes;
use http::{Request, StatusCode};
use serde::Deserialize;

use super::admin::{bad_request, change_error, unknown, Admin, Answer};
use super::body::read_json;
use super::respond::{self, GatewayError};

impl Admin {
    /// The ledger's view of a customer, with its freeze.
    pub(super) fn customer(&self, client_id: &str) -> Answer {
        let Some(view) = self.engine.customer(client_id) else {
            return unknown("customer", client_id);
        };
        respond::json_value(StatusCode::OK, &self.with_freeze(view))
    }

    /// A customer's view as JSON, with whether (and why) it is frozen.
    pub(super) fn with_freeze(&self, view: crate::ledger::CustomerView) -> serde_json::Value {
        let reason = self.engine.freeze_reason(&view.client_id);
        let mut json = serde_json::json!(view);
        json["frozen"] = serde_json::Value::Bool(reason.is_some());
        json["frozenReason"] = reason.map_or(serde_json::Value::Null, serde_json::Value::String);
        json
    }

    pub(super) async fn freeze(&self, client_id: &str, request: Request<Bytes>) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Freeze {
            frozen: bool,
            #[serde(default)]
            reason: String,
        }
        let freeze: Freeze = match read_json(request.body()) {
            Ok(freeze) => freeze,
            Err(response) => return response,
        };
        match self.engine.freeze(client_id, freeze.frozen, &freeze.reason) {
            Ok(durability) => {
                tracing::warn!(%client_id, frozen = freeze.frozen, reason = %freeze.reason, "customer freeze set");
                match durability.wait().await {
                    Ok(()) => self.customer(client_id),
                    Err(error) => GatewayError::from(error).into_response(),
                }
            }
            Err(error) => change_error(error),
        }
    }

    pub(super) async fn rekey(&self, client_id: &str, request: Request<Bytes>) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Rekey {
            #[serde(rename = "newClientID")]
            new_client_id: String,
        }
        let rekey: Rekey = match read_json(request.body()) {
            Ok(rekey) => rekey,
            Err(response) => return response,
        };
        match self.engine.rekey(client_id, &rekey.new_client_id) {
            Ok(durability) => {
                tracing::warn!(old = %client_id, new = %rekey.new_client_id, "customer re-keyed");
                match durability.wait().await {
                    Ok(()) => self.customer(&rekey.new_client_id),
                    Err(error) => GatewayError::from(error).into_response(),
                }
            }
            Err(error) => change_error(error),
        }
    }

    /// `GET /admin/customers?after=&limit=`: a page in clientID order and the `after` of the
    /// next one (`null` at the end). Each parameter at most once; nothing else is taken.
    pub(super) fn list_customers(&self, query: Option<&str>) -> Answer {
        const LIMIT_DEFAULT: usize = 100;
        const LIMIT_MAX: usize = 1000;
        let (mut after, mut limit) = (None, None);
        for pair in query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "after" => &mut after,
                "limit" => &mut limit,
                _ => {
                    return bad_request(&format!(
                        "unknown parameter {:?}",
                        crate::reject::clip(name)
                    ))
                }
            };
            if slot.replace(value).is_some() {
                return bad_request(&format!("parameter {name} given twice"));
            }
        }
        let after = after.filter(|after| !after.is_empty());
        if after.is_some_and(|after| {
            after.len() > 64
                || !after
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
        }) {
            return bad_request("after must be a clientID ([A-Za-z0-9_-], 1 to 64 characters)");
        }
        let limit = match limit.map(str::parse::<usize>) {
            None => LIMIT_DEFAULT,
            Some(Ok(limit)) if (1..=LIMIT_MAX).contains(&limit) => limit,
            Some(_) => return bad_request(&format!("limit must be 1 to {LIMIT_MAX}")),
        };
        let (customers, next) = self.engine.customers_page(after, limit);
        let customers: Vec<serde_json::Value> = customers
            .into_iter()
            .map(|view| self.with_freeze(view))
            .collect();
        respond::json_value(
            StatusCode::OK,
            &serde_json::json!({ "customers": customers, "next": next }),
        )
    }
}
