//! The admin API (SPEC §7): risk officers and the partner's back office.
//!
//! Every call needs `Authorization: Bearer <token>` (the scheme name in any case); the token is
//! compared in constant time. `server.events_token`, when set, opens `POST /admin/events` and
//! nothing else. The listener is loopback by default, and `app` refuses a non-loopback one
//! without a token.

use crate::rules::market_hours::new_york_date;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use super::auth::{bearer_token, Secret};
use super::body::{self, read_json, read_json_list, BodyLimits};
use super::bulk::Bulk;
use super::respond::{self, GatewayError};
use crate::audit::Credential;
use crate::clock::{Clock, ShiftedClock};
use crate::engine::Reloader;
use crate::engine::{ChangeError, CustomerSpec, Durability, Engine};
use crate::feeds::events::EventOutcome;
use crate::feeds::poller::UpstreamOps;
use crate::instruments::InstrumentSpec;
use crate::ledger::OrderState;
use crate::limits::{KillSwitchSetting, LimitOverride};
use crate::money::{self, Fixed};
use crate::upstream::ProxyBody;
use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

pub(super) type Answer = Response<ProxyBody>;

/// What the admin API needs.
pub struct Admin {
    pub token: Secret,
    /// `server.events_token`: valid on `POST /admin/events` only.
    pub events_token: Option<Secret>,
    pub engine: Arc<Engine>,
    /// Re-reads the config file (`POST /admin/reload`, and SIGHUP in `main`).
    pub reloader: Arc<Reloader>,
    /// For `cancelOpen` of the kill switch.
    pub ops: UpstreamOps,
    pub metrics: Option<PrometheusHandle>,
    pub clock: Arc<dyn Clock>,
    /// Present only with `clock.adjustable = true`.
    pub adjustable_clock: Option<Arc<ShiftedClock>>,
    pub upstream: String,
    pub started: Instant,
    pub body_limits: BodyLimits,
    /// For the bulk loads (`server.max_bulk_bytes`).
    pub bulk_limits: BodyLimits,
    /// The last reconciliation with DriveWealth (`GET /admin/reconciliation`).
    pub reconciliation: Arc<crate::feeds::reconcile::Board>,
    /// The audit trail's folder (`GET /admin/audit`).
    pub audit_dir: std::path::PathBuf,
    /// What the dashboard draws over time.
    pub history: Arc<crate::dashboard::history::History>,
}

impl Admin {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        // The pages that hold no data need no token (SPEC §7).
        if request.method() == Method::GET {
            match request.uri().path() {
                "/admin/dashboard" => return super::dashboard::page(),
                "/admin/openapi.json" => return super::openapi::document(),
                _ => {}
            }
        }
        let events_call =
            request.method() == Method::POST && request.uri().path() == "/admin/events";
        let Some(credential) = self.credential(request.headers(), events_call) else {
            // Refused access is part of the record of the controls (its body is not read).
            self.engine
                .audit()
                .record_refusal(crate::audit::Entry::Admin {
                    ts: self.engine.now(),
                    credential: Credential::Refused,
                    method: request.method().clone(),
                    path: request.uri().path().to_owned(),
                    status: StatusCode::UNAUTHORIZED.as_u16(),
                    body: Bytes::new(),
                });
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
        };
        // Replicated mode: a follower serves reads; a change is the leader's (SPEC §12).
        let reading = request.method() == Method::GET || request.method() == Method::HEAD;
        if !reading && !self.engine.leadership().serving() {
            return respond::not_leader(self.engine.leadership());
        }
        // Read whole before routing, so a change's body is at hand for the audit trail.
        let bulk = request.method() == Method::POST
            && matches!(
                request.uri().path(),
                "/admin/customers" | "/admin/instruments"
            );
        let limits = if bulk {
            self.bulk_limits
        } else {
            self.body_limits
        };
        let (parts, incoming) = request.into_parts();
        let body = match body::read_limited(&parts.headers, incoming, limits).await {
            Ok(body) => body,
            Err(reject) => {
                return respond::error_body(
                    StatusCode::from_u16(reject.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                    "BAD_REQUEST",
                    &reject.message,
                )
            }
        };
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let change = (method != Method::GET && method != Method::HEAD).then(|| body.clone());
        let answer = self.route(Request::from_parts(parts, body)).await;
        if let Some(body) = change {
            // Every change, refused ones too, with the credential that asked for it.
            self.engine.audit().record(crate::audit::Entry::Admin {
                ts: self.engine.now(),
                credential,
                method,
                path,
                status: answer.status().as_u16(),
                body,
            });
        }
        answer
    }

    async fn route(&self, request: Request<Bytes>) -> Answer {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path
            .strip_prefix("/admin/")
            .unwrap_or("")
            .split('/')
            .collect();
        let engine = &self.engine;
        if method == Method::GET && path == "/metrics" {
            return self.render_metrics();
        }
        match (&method, segments.as_slice()) {
            (&Method::GET, ["health"]) => self.health(),
            (&Method::GET, ["audit"]) => self.audit_lines(request.uri().query()).await,
            (&Method::GET, ["dashboard", "data"]) => self.dashboard_data().await,
            (&Method::GET, ["reconciliation"]) => match self.reconciliation.last() {
                Some(last) => respond::json_value(StatusCode::OK, &last),
                None => respond::json_value(
                    StatusCode::OK,
                    &serde_json::json!({ "ranAt": null, "mismatches": 0, "accounts": [] }),
                ),
            },
            (&Method::PUT, ["clock"]) => self.set_clock(request).await,
            (&Method::PUT, ["instruments", symbol]) => {
                let symbol = (*symbol).to_owned();
                match read_json::<InstrumentSpec>(request.body()) {
                    Ok(spec) => match engine.upsert_instrument(&symbol, spec) {
                        Ok((instrument, durability)) => {
                            tracing::info!(%symbol, "instrument entry set by the admin API");
                            committed(durability, &instrument.to_json()).await
                        }
                        Err(error) => change_error(error),
                    },
                    Err(response) => response,
                }
            }
            (&Method::POST, ["instruments"]) => self.bulk_load(request, Bulk::Instruments).await,
            (&Method::POST, ["customers"]) => self.bulk_load(request, Bulk::Customers).await,
            (&Method::GET, ["instruments", symbol]) => match engine.instrument(symbol) {
                Some(instrument) => respond::json_value(StatusCode::OK, &instrument.to_json()),
                None => unknown("instrument", symbol),
            },
            (&Method::POST, ["prices"]) => self.set_prices(request).await,
            (&Method::PUT, ["customers", client_id]) => {
                let client_id = (*client_id).to_owned();
                match read_json::<CustomerSpec>(request.body()) {
                    Ok(spec) => match engine.register_customer(&client_id, spec) {
                        Ok(durability) => {
                            tracing::info!(%client_id, "customer registered by the admin API");
                            match durability.wait().await {
                                Ok(()) => self.customer(&client_id),
                                Err(error) => GatewayError::from(error).into_response(),
                            }
                        }
                        Err(error) => change_error(error),
                    },
                    Err(response) => response,
                }
            }
            (&Method::GET, ["customers"]) => self.list_customers(request.uri().query()),
            (&Method::GET, ["customers", client_id]) => self.customer(client_id),
            (&Method::POST, ["customers", client_id, "cash"]) => {
                let client_id = (*client_id).to_owned();
                self.customer_cash(&client_id, request).await
            }
            (&Method::PUT, ["customers", client_id, "freeze"]) => {
                let client_id = (*client_id).to_owned();
                self.freeze(&client_id, request).await
            }
            (&Method::POST, ["customers", client_id, "rekey"]) => {
                let client_id = (*client_id).to_owned();
                self.rekey(&client_id, request).await
            }
            (&Method::GET, ["omni"]) => {
                let accounts = engine.omni_accounts();
                let mut view = serde_json::json!(engine.omni());
                if accounts.len() > 1 {
                    view["accounts"] = serde_json::json!(accounts);
                }
                respond::json_value(StatusCode::OK, &view)
            }
            (&Method::POST, ["omni", "cash"]) => {
                self.omni_cash(crate::ledger::AccountIndex(0), request)
                    .await
            }
            (&Method::POST, ["omni", "settle"]) => {
                match engine.roll_settlement(new_york_date(engine.now())) {
                    Ok((view, durability)) => {
                        tracing::info!("settlement day rolled by the admin API");
                        committed(durability, &view).await
                    }
                    Err(error) => change_error(error),
                }
            }
            (&Method::GET, ["omni", account_no]) => match engine.account_named(account_no) {
                Some(account) => respond::json_value(StatusCode::OK, &engine.omni_at(account)),
                None => super::cash::unknown_account(account_no),
            },
            (&Method::POST, ["omni", account_no, "cash"]) => {
                match engine.account_named(account_no) {
                    Some(account) => self.omni_cash(account, request).await,
                    None => super::cash::unknown_account(account_no),
                }
            }
            (&Method::GET, ["orders"]) => self.list_orders(request.uri().query()),
            (&Method::POST, ["orders", id, "resolve"]) => {
                let id = (*id).to_owned();
                self.resolve(&id, request).await
            }
            (&Method::POST, ["events"]) => self.event(request).await,
            (&Method::GET, ["kill-switch"]) => {
                respond::json_value(StatusCode::OK, &engine.kill_switch_setting())
            }
            (&Method::PUT, ["kill-switch"]) => self.set_kill_switch(request).await,
            (&Method::PUT, ["limits", client_id]) => {
                let client_id = (*client_id).to_owned();
                self.set_limits(&client_id, request).await
            }
            (&Method::GET, ["limits"]) => {
                let now = self.clock.now();
                respond::json_value(StatusCode::OK, &engine.limit_overrides(now))
            }
            (&Method::POST, ["reload"]) => match self.reloader.reload() {
                Ok(()) => {
                    respond::json_value(StatusCode::OK, &serde_json::json!({"reloaded": true}))
                }
                Err(error) => change_error(error),
            },
            _ => not_found(&method, &path),
        }
    }

    fn render_metrics(&self) -> Answer {
        let Some(handle) = &self.metrics else {
            return not_found(&Method::GET, "/metrics");
        };
        self.engine.publish_gauges();
        let mut response = Response::new(respond::full(handle.render()));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    }

    async fn set_kill_switch(&self, request: Request<Bytes>) -> Answer {
        let setting: KillSwitchSetting = match read_json(request.body()) {
            Ok(setting) => setting,
            Err(response) => return response,
        };
        let (durability, canceling) = match self.engine.set_kill_switch(&setting) {
            Ok(set) => set,
            Err(error) => return change_error(error),
        };
        if let Err(error) = durability.wait().await {
            return GatewayError::from(error).into_response();
        }
        tracing::warn!(global = setting.global, clients = ?setting.client_ids, symbols = ?setting.symbols, cancel_open = setting.cancel_open, "kill switch set");
        if !canceling.is_empty() {
            self.ops.cancel_all(self.engine.clone(), canceling.clone());
        }
        respond::json_value(
            StatusCode::OK,
            &serde_json::json!({
                "killSwitch": self.engine.kill_switch_setting(),
                "canceling": canceling,
            }),
        )
    }

    async fn set_limits(&self, client_id: &str, request: Request<Bytes>) -> Answer {
        let limit_override: LimitOverride = match read_json(request.body()) {
            Ok(limit_override) => limit_override,
            Err(response) => return response,
        };
        let now = self.clock.now();
        match self
            .engine
            .set_limit_override(client_id, limit_override, now)
        {
            Ok(durability) => {
                tracing::warn!(%client_id, "temporary limit override set");
                let current = self.engine.limit_override(client_id, now);
                committed(durability, &current).await
            }
            Err(error) => respond::error_body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "REFUSED",
                &error.to_string(),
            ),
        }
    }

    async fn set_prices(&self, request: Request<Bytes>) -> Answer {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Price {
            symbol: String,
            #[serde(deserialize_with = "money::exact::deserialize")]
            price: Fixed,
        }
        let prices: Vec<Price> = match read_json_list(request.body()) {
            Ok(prices) => prices,
            Err(response) => return response,
        };
        let entries: Vec<(String, Fixed)> = prices
            .into_iter()
            .map(|price| (price.symbol, price.price))
            .collect();
        match self.engine.set_prices(&entries) {
            Ok(durability) => {
                committed(durability, &serde_json::json!({ "updated": entries.len() })).await
            }
            Err(error) => change_error(error),
        }
    }

    fn list_orders(&self, query: Option<&str>) -> Answer {
        let state = query
            .unwrap_or("")
            .split('&')
            .find_map(|pair| pair.strip_prefix("state="))
            .unwrap_or("open");
        let filter = match state {
            "open" => OrderState::Open,
            "in_doubt" => OrderState::InDoubt,
            other => {
                return bad_request(&format!("state {other:?} is not open or in_doubt"));
            }
        };
        respond::json_value(StatusCode::OK, &self.engine.orders(filter))
    }

    async fn event(&self, request: Request<Bytes>) -> Answer {
        let bytes = request.into_body();
        match crate::feeds::events::apply(&self.engine, &bytes) {
            Ok((outcome, durability)) => {
                if let Err(error) = durability.wait().await {
                    return GatewayError::from(error).into_response();
                }
                let (result, detail) = match outcome {
                    EventOutcome::Applied => ("applied", String::new()),
                    EventOutcome::Duplicate => ("duplicate", String::new()),
                    EventOutcome::Ignored(why) => ("ignored", why),
                };
                metrics::counter!("omnigate_events_total", "result" => result).increment(1);
                respond::json_value(
                    StatusCode::OK,
                    &serde_json::json!({ "result": result, "detail": detail }),
                )
            }
            Err(error) => {
                metrics::counter!("omnigate_events_total", "result" => "refused").increment(1);
                change_error(error)
            }
        }
    }

    /// The admin token opens every call; the events token only `POST /admin/events`.
    fn credential(&self, headers: &HeaderMap, events_call: bool) -> Option<Credential> {
        let presented = bearer_token(headers)?;
        // Both comparisons always run, so timing does not tell which token was guessed at.
        let admin = self.token.matches(presented);
        let events = self
            .events_token
            .as_ref()
            .is_some_and(|token| token.matches(presented));
        if admin {
            Some(Credential::Admin)
        } else if events & events_call {
            Some(Credential::Events)
        } else {
            None
        }
    }

    fn health(&self) -> Response<ProxyBody> {
        #[derive(Serialize)]
        struct Health<'a> {
            status: &'a str,
            now: DateTime<Utc>,
            uptime_s: u64,
            upstream: &'a str,
            version: &'a str,
            /// SPEC §12: "leader", "follower" or "standalone".
            role: &'a str,
            /// The leader's `ha.node_id`, as the lease names it (replicated mode).
            leader: Option<String>,
            /// The last record of the decision log applied here.
            applied_seq: u64,
        }
        let leadership = self.engine.leadership();
        respond::json_value(
            StatusCode::OK,
            &Health {
                status: "ok",
                now: self.clock.now(),
                uptime_s: self.started.elapsed().as_secs(),
                upstream: &self.upstream,
                version: env!("CARGO_PKG_VERSION"),
                role: leadership.role().as_str(),
                leader: leadership.leader().map(|(node, _)| node),
                applied_seq: self.engine.applied_seq(),
            },
        )
    }

    async fn set_clock(&self, request: Request<Bytes>) -> Response<ProxyBody> {
        let Some(clock) = &self.adjustable_clock else {
            return not_found(&Method::PUT, "/admin/clock");
        };
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SetClock {
            now: DateTime<Utc>,
        }
        let set: SetClock = match read_json(request.body()) {
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

/// Answers `value` once the change's record is durable; 503 if it cannot be.
pub(super) async fn committed(durability: Durability, value: &impl serde::Serialize) -> Answer {
    match durability.wait().await {
        Ok(()) => respond::json_value(StatusCode::OK, value),
        Err(error) => GatewayError::from(error).into_response(),
    }
}

pub(super) fn bad_request(message: &str) -> Answer {
    respond::error_body(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

pub(super) fn unknown(what: &str, name: &str) -> Answer {
    let shown: String = name.chars().take(64).collect();
    respond::error_body(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("no {what} {shown:?}"),
    )
}

/// The one place a refused change becomes a status and a code.
pub(super) fn change_error(error: ChangeError) -> Answer {
    let (status, code) = match &error {
        ChangeError::Invalid(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ChangeError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        ChangeError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
        ChangeError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "REFUSED"),
        ChangeError::BeyondAvailable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
        ChangeError::Storage(storage) => {
            return GatewayError::from(storage.clone()).into_response()
        }
    };
    respond::error_body(status, code, &error.to_string())
}

fn not_found(method: &Method, path: &str) -> Response<ProxyBody> {
    respond::error_body(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("no admin call {method} {path}"),
    )
}
