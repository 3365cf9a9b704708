//! Reconciliation with DriveWealth (SPEC §6): every `upstream.reconcile_interval_ms`, each
//! omnibus account that has an `account_id` is read back (`GET /back-office/accounts/
//! {account_id}/summary/orders`, its resting orders) and compared with the orders omnigate holds
//! open there: orders only omnigate holds (DriveWealth ended them, and omnigate did not hear),
//! orders only DriveWealth has (placed around omnigate, or lost in doubt), and orders whose
//! filled quantity differs. `GET /admin/reconciliation` shows the last result;
//! `omnigate_reconciliation_mismatches` is its count. Nothing is changed in the books: a
//! mismatch is for an operator (or the poller and events) to settle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::Engine;
use crate::feeds::poller::{segment, UpstreamOps};
use crate::ledger::OrderState;
use crate::money::{self, Fixed};

/// Largest summary answer read.
const ANSWER_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The last reconciliation, shared with the admin API.
#[derive(Default)]
pub struct Board {
    last: RwLock<Option<Reconciliation>>,
}

impl Board {
    pub fn last(&self) -> Option<Reconciliation> {
        self.last.read().clone()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciliation {
    /// RFC 3339, by the gateway's clock.
    pub ran_at: String,
    pub mismatches: usize,
    pub accounts: Vec<AccountResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountResult {
    #[serde(rename = "accountNo")]
    pub account_no: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    /// Open in omnigate, not resting at DriveWealth (upstream orderIds).
    pub only_in_omnigate: Vec<String>,
    /// Resting at DriveWealth, not open in omnigate.
    pub only_at_drivewealth: Vec<String>,
    pub quantities_differ: Vec<QuantityDiffers>,
    /// Why the account could not be read (then nothing is compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuantityDiffers {
    pub order_id: String,
    pub omnigate_filled: Fixed,
    pub drivewealth_filled: Fixed,
}

#[derive(Deserialize)]
struct PendingOrders {
    #[serde(default)]
    orders: Vec<PendingOrder>,
}

#[derive(Deserialize)]
struct PendingOrder {
    #[serde(rename = "orderID")]
    order_id: String,
    #[serde(rename = "cumQty", default, deserialize_with = "money::exact::option")]
    cumulative_quantity: Option<Fixed>,
}

pub async fn run(
    engine: Arc<Engine>,
    ops: UpstreamOps,
    board: Arc<Board>,
    interval: Duration,
    shutdown: watch::Receiver<bool>,
) {
    let mut beat = crate::beat::Beat::new(interval, shutdown);
    while beat.next().await {
        // Replicated mode: only the leader acts on DriveWealth and logs what it learns.
        if !engine.leadership().serving() {
            continue;
        }
        let result = reconcile(&engine, &ops).await;
        metrics::counter!("omnigate_reconciliations_total").increment(1);
        // A count, exact in an f64.
        metrics::gauge!("omnigate_reconciliation_mismatches").set(result.mismatches as f64);
        if result.mismatches > 0 {
            tracing::warn!(
                mismatches = result.mismatches,
                "reconciliation with DriveWealth found mismatches"
            );
        }
        *board.last.write() = Some(result);
    }
}

/// One pass over every account with an `account_id`.
pub async fn reconcile(engine: &Engine, ops: &UpstreamOps) -> Reconciliation {
    let open = engine.orders(OrderState::Open);
    let mut accounts = Vec::new();
    for (index, account_no, account_id) in engine.accounts_with_ids() {
        let ours: BTreeMap<String, Fixed> = open
            .iter()
            .filter(|order| order.account == index)
            .filter_map(|order| {
                let id = order.upstream_order_id.clone()?;
                Some((id, order.filled_quantity))
            })
            .collect();
        let mut result = AccountResult {
            account_no,
            account_id: account_id.clone(),
            only_in_omnigate: Vec::new(),
            only_at_drivewealth: Vec::new(),
            quantities_differ: Vec::new(),
            error: None,
        };
        match resting_orders(ops, &account_id).await {
            Err(error) => {
                tracing::warn!(
                    path = %format!("/back-office/accounts/{account_id}/summary/orders"),
                    %error,
                    "reconciliation could not read an account"
                );
                result.error = Some(error);
            }
            Ok(theirs) => {
                for (order_id, filled) in &ours {
                    match theirs.get(order_id) {
                        None => result.only_in_omnigate.push(order_id.clone()),
                        Some(their_filled) if their_filled != filled => {
                            result.quantities_differ.push(QuantityDiffers {
                                order_id: order_id.clone(),
                                omnigate_filled: *filled,
                                drivewealth_filled: *their_filled,
                            })
                        }
                        Some(_) => {}
                    }
                }
                result.only_at_drivewealth = theirs
                    .keys()
                    .filter(|order_id| !ours.contains_key(*order_id))
                    .cloned()
                    .collect();
            }
        }
        accounts.push(result);
    }
    let mismatches = accounts
        .iter()
        .map(|account| {
            account.only_in_omnigate.len()
                + account.only_at_drivewealth.len()
                + account.quantities_differ.len()
        })
        .sum();
    Reconciliation {
        ran_at: engine
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        mismatches,
        accounts,
    }
}

/// DriveWealth's resting orders of one account: orderID → filled quantity.
async fn resting_orders(
    ops: &UpstreamOps,
    account_id: &str,
) -> Result<BTreeMap<String, Fixed>, String> {
    let path = format!(
        "/back-office/accounts/{}/summary/orders",
        segment(account_id)?
    );
    let response = ops.call(Method::GET, &path, Bytes::new()).await?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body = ops.upstream.read_body(response, ANSWER_BYTES_MAX).await?;
    let pending: PendingOrders = serde_json::from_slice(&body)
        .map_err(|error| format!("unreadable summary: {}", crate::reject::clip(error)))?;
    Ok(pending
        .orders
        .into_iter()
        .map(|order| {
            (
                order.order_id,
                order.cumulative_quantity.unwrap_or(Fixed::ZERO),
            )
        })
        .collect())
}
