//! The simulator's own omni account balance (`simulator.omni_cash`, off by default) and the
//! deposits `POST /sim/deposits` makes (SPEC §9, "Its own omni balance", "Events").
//!
//! Like DriveWealth under pre-funding (seed `000`: "if the balance is insufficient, underlying
//! customer trades will be REJECTED"), a BUY whose whole cost is beyond the balance is rejected
//! at its first fill step. A BUY takes its whole cost at that step (a partial fill holds the
//! rest for its remainder), gives back what a cancel leaves unfilled, and SELL fills add their
//! proceeds.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use serde::Deserialize;

use super::wire::{ApiError, JsonObject};
use crate::money::{self, Fixed};

pub struct Funds {
    /// Whether a balance is kept; fixed at start, so without one no step takes the lock.
    kept: bool,
    /// `None`: no balance is kept and no BUY is refused for cash.
    cash: Mutex<Option<Fixed>>,
    deposits: AtomicU64,
    /// Mixed into payment ids, like order ids, so a restart does not repeat them.
    epoch: u64,
}

/// `POST /sim/deposits`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositRequest {
    #[serde(rename = "accountNo")]
    account_no: String,
    #[serde(deserialize_with = "money::exact::deserialize")]
    amount: Fixed,
}

/// A deposit made: its answer and its `deposits.updated` payload.
pub struct Deposit {
    pub payload: String,
}

impl Funds {
    pub fn new(cash: Option<Fixed>, epoch: u64) -> Funds {
        Funds {
            kept: cash.is_some(),
            cash: Mutex::new(cash),
            deposits: AtomicU64::new(0),
            epoch,
        }
    }

    /// Runs one change of an order with the cash a BUY may spend, then settles what it spent:
    /// `change` gets the balance and returns its result with the cash it took (negative: gave
    /// back, or a SELL's proceeds). The lock is held across both, so two orders never spend
    /// the same cash.
    pub fn settle<T>(&self, change: impl FnOnce(Option<Fixed>) -> (T, Fixed)) -> T {
        if !self.kept {
            return change(None).0;
        }
        let mut cash = self.cash.lock();
        let (result, spent) = change(*cash);
        if let Some(balance) = cash.as_mut() {
            // A spend was checked against the balance; MAX keeps a sum total.
            *balance = balance.checked_sub(spent).unwrap_or(Fixed::MAX);
        }
        result
    }

    /// `GET /sim/omni`: `{"cash": …}`, `null` when no balance is kept.
    pub fn to_json(&self) -> String {
        let mut object = JsonObject::new();
        match *self.cash.lock() {
            Some(cash) => object.number("cash", cash),
            None => object.raw("cash", "null"),
        };
        object.finish()
    }

    /// `POST /sim/deposits` `{accountNo, amount}`: a successful deposit, added to the balance
    /// when one is kept, and its `deposits.updated` payload (status `2`, "Successful").
    pub fn deposit(&self, body: &[u8], now: DateTime<Utc>) -> Result<Deposit, ApiError> {
        let request: DepositRequest = serde_json::from_slice(body).map_err(|error| {
            ApiError::invalid(
                "body",
                "OBJECT",
                format!("expected {{accountNo, amount}}: {error}"),
            )
        })?;
        if request.account_no.trim().is_empty() {
            return Err(ApiError::invalid(
                "accountNo",
                "STRING",
                "accountNo must not be empty",
            ));
        }
        if !request.amount.is_positive() {
            return Err(ApiError::invalid(
                "amount",
                "DECIMAL",
                format!("amount must be positive, not {}", request.amount),
            ));
        }
        {
            let mut cash = self.cash.lock();
            if let Some(balance) = cash.as_mut() {
                *balance = balance.checked_add(request.amount).ok_or_else(|| {
                    ApiError::invalid("amount", "DECIMAL", "the balance would overflow")
                })?;
            }
        }
        let number = self.deposits.fetch_add(1, Ordering::Relaxed) + 1;
        let mut payload = JsonObject::new();
        payload
            .string(
                "paymentID",
                &format!("SM{:08X}-{number:06}", self.epoch as u32),
            )
            .string("category", "DEPOSIT")
            .string("type", "ACH")
            .number("amount", request.amount)
            .string("currency", "USD")
            .integer("status", 2)
            .string("statusMessage", "Successful")
            .string("accountNo", &request.account_no)
            .string("created", &now.to_rfc3339_opts(SecondsFormat::Millis, true));
        Ok(Deposit {
            payload: payload.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    #[test]
    fn fills_spend_and_sells_add_and_deposits_grow_the_balance() {
        let funds = Funds::new(Some(fixed("1000")), 7);
        funds.settle(|cash| {
            assert_eq!(cash, Some(fixed("1000")));
            ((), fixed("600"))
        });
        funds.settle(|cash| {
            assert_eq!(cash, Some(fixed("400")));
            ((), fixed("-50.5"))
        });
        funds.settle(|_| ((), Fixed::ZERO));
        assert_eq!(funds.to_json(), r#"{"cash":450.5}"#);
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let deposit = funds
            .deposit(br#"{"accountNo":"DWOM000001","amount":"100.25"}"#, now)
            .unwrap();
        assert!(
            deposit.payload.contains(r#""status":2"#),
            "{}",
            deposit.payload
        );
        assert!(deposit.payload.contains(r#""amount":100.25"#));
        assert_eq!(funds.to_json(), r#"{"cash":550.75}"#);
    }

    #[test]
    fn without_a_balance_nothing_is_refused_and_bad_deposits_are() {
        let funds = Funds::new(None, 7);
        funds.settle(|cash| {
            assert_eq!(cash, None);
            ((), fixed("1000000"))
        });
        assert_eq!(funds.to_json(), r#"{"cash":null}"#);
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for bad in [
            &br#"{"accountNo":"DWOM000001","amount":0}"#[..],
            br#"{"accountNo":"","amount":5}"#,
            br#"{"accountNo":"DWOM000001"}"#,
            br#"{"accountNo":"DWOM000001","amount":5,"extra":1}"#,
        ] {
            let error = funds.deposit(bad, now).err().expect("refused");
            assert_eq!(error.status, 400);
        }
    }
}
