//! Frozen customers (SPEC §7 `PUT /admin/customers/{clientID}/freeze`): a frozen customer's new
//! orders are `TRADING_DISABLED`; cancels, fills and deposits still apply. Each freeze keeps the
//! risk officer's reason. Durable like the kill switch (SPEC §10): logged when set, carried by
//! snapshots.
//!
//! The order path reads it with one map lookup, skipped entirely while nobody is frozen.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fast_map::FastMap;
use crate::reject::{Reject, RejectCode};

/// Longest freeze reason kept.
pub const REASON_MAX: usize = 500;

#[derive(Default)]
pub struct Freezes {
    by_client: FastMap<Box<str>, Box<str>>,
    /// `by_client.len()`, readable without touching the map's shards.
    count: AtomicUsize,
}

impl Freezes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Freezes (with `reason`) or unfreezes a customer; returns whether it was frozen before.
    pub fn set(&self, client_id: &str, frozen: bool, reason: &str) -> bool {
        let before = if frozen {
            self.by_client
                .insert(client_id.into(), reason.into())
                .is_some()
        } else {
            self.by_client.remove(client_id).is_some()
        };
        self.count.store(self.by_client.len(), Ordering::Release);
        before
    }

    /// The reason a customer is frozen, if it is.
    pub fn reason(&self, client_id: &str) -> Option<String> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.by_client
            .get(client_id)
            .map(|entry| entry.value().to_string())
    }

    /// `TRADING_DISABLED` for a frozen customer.
    pub fn check(&self, client_id: &str) -> Result<(), Reject> {
        match self.reason(client_id) {
            None => Ok(()),
            Some(reason) => Err(Reject::new(
                RejectCode::TradingDisabled,
                format!("customer {client_id:?} is frozen: {reason}"),
            )),
        }
    }

    /// Every frozen customer and its reason, sorted (snapshots, listings).
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .by_client
            .iter()
            .map(|entry| (entry.key().to_string(), entry.value().to_string()))
            .collect();
        all.sort();
        all
    }

    /// A re-keyed customer stays frozen.
    pub fn rekey(&self, old: &str, new: &str) {
        if let Some((_, reason)) = self.by_client.remove(old) {
            self.by_client.insert(new.into(), reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_customers_are_refused_with_the_reason() {
        let freezes = Freezes::new();
        assert!(freezes.check("c").is_ok());
        assert!(!freezes.set("c", true, "KYC review"));
        let reject = freezes.check("c").unwrap_err();
        assert_eq!(reject.code, RejectCode::TradingDisabled);
        assert_eq!(reject.message, "customer \"c\" is frozen: KYC review");
        assert!(freezes.check("d").is_ok());
        freezes.rekey("c", "d");
        assert!(freezes.check("c").is_ok());
        assert!(freezes.check("d").is_err());
        assert!(freezes.set("d", false, ""));
        assert!(freezes.check("d").is_ok());
        assert!(freezes.all().is_empty());
    }
}
