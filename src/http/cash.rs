//! Cash in and out of the customers and the omni accounts (SPEC §5.4, §7): deposits,
//! withdrawals refused beyond what is available, each with the reason kept in the WAL.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Deserialize;

use super::admin::{change_error, committed, Admin, Answer};
use super::body::read_json;
use super::respond;
use crate::ledger::AccountIndex;
use crate::money::{self, Fixed};
use crate::upstream::ProxyBody;

/// The body of every cash call: `{amount, reason?}`, the amount exact (negative: out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cash {
    #[serde(deserialize_with = "money::exact::deserialize")]
    amount: Fixed,
    #[serde(default)]
    reason: Option<String>,
}

impl Admin {
    pub(super) async fn customer_cash(&self, client_id: &str, request: Request<Bytes>) -> Answer {
        let cash: Cash = match read_json(request.body()) {
            Ok(cash) => cash,
            Err(response) => return response,
        };
        match self
            .engine
            .adjust_cash(client_id, cash.amount, cash.reason.as_deref())
        {
            Ok((view, durability)) => {
                tracing::info!(%client_id, amount = %cash.amount, reason = cash.reason.as_deref().unwrap_or(""), "customer cash adjusted");
                committed(durability, &view).await
            }
            Err(error) => change_error(error),
        }
    }

    pub(super) async fn omni_cash(&self, account: AccountIndex, request: Request<Bytes>) -> Answer {
        let cash: Cash = match read_json(request.body()) {
            Ok(cash) => cash,
            Err(response) => return response,
        };
        match self
            .engine
            .omni_cash(account, cash.amount, cash.reason.as_deref())
        {
            Ok((view, durability)) => {
                tracing::info!(amount = %cash.amount, reason = cash.reason.as_deref().unwrap_or(""), "omni cash changed by the admin API");
                committed(durability, &view).await
            }
            Err(error) => change_error(error),
        }
    }
}

pub(super) fn unknown_account(account_no: &str) -> Response<ProxyBody> {
    respond::error_body(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!(
            "{:?} is not one of this gateway's omnibus accounts",
            crate::reject::clip(account_no)
        ),
    )
}
