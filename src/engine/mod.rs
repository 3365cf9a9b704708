//! The gateway's shared state and the order path up to the wire: decide, then reserve.
//!
//! [`Engine::admit`] is what `POST /back-office/orders` calls between parsing and forwarding; the
//! HTTP layers (order front, admin API) and the poller all act on the ledger through here, so
//! there is one place where the pieces meet.

mod admit;
mod bootstrap;
pub use bootstrap::instrument_entries;
mod changes;
mod daily;
mod early;
mod error;
mod journal;
mod leadership;
mod lifecycle;
mod open;
pub mod record;
mod reload;
mod replay;
mod replication;
mod seen;
mod settings;
mod snapshot;
#[cfg(test)]
mod tests;
mod views;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;

use serde::Deserialize;

use crate::clock::Clock;
use crate::config::{Config, SellProceedsMode};
use crate::instruments::InstrumentMaster;
use crate::ledger::{Funding, Ledger, SellProceeds};
use crate::limits::{DuplicateGuard, Freezes, IdempotencyStore, KillSwitch, RateLimiter};
use crate::money::{self, Fixed};
use crate::queued::QueuedOrders;

pub use admit::{AdmitError, Admitted};
pub use bootstrap::BulkError;
pub use daily::DailyBuys;
pub use error::ChangeError;
pub use journal::{Durability, Journal, StorageError};
pub use leadership::{Leadership, Role};
pub use open::Opened;
pub use reload::Reloader;
pub use seen::SeenEvents;
pub use settings::Settings;
pub use snapshot::SnapshotReport;

use journal::Gate;

/// Orders remembered for the cancel cut-off; one trading day's queued orders fit many times.
const QUEUED_ORDERS_MAX: usize = 1_000_000;
/// Event ids remembered to drop redeliveries.
const SEEN_EVENTS_MAX: usize = 1_000_000;

/// Distinct clientOrderIDs remembered for duplicate detection.
const CLIENT_ORDER_IDS_MAX: usize = 1_000_000;
/// Idempotency keys remembered at once.
const IDEMPOTENCY_KEYS_MAX: usize = 1_000_000;

/// Everything the listeners share.
pub struct Engine {
    clock: Arc<dyn Clock>,
    /// Rules and limits of the current config; replaced whole on reload.
    settings: ArcSwap<Settings>,
    instruments: InstrumentMaster,
    ledger: Ledger,
    queued: QueuedOrders,
    /// Updates that came before their order's bind, waiting for it.
    early: early::EarlyUpdates,
    seen_events: SeenEvents,
    /// `paymentID`s already credited: a deposit raises omni cash once (SPEC §6).
    seen_payments: SeenEvents,
    kill_switch: KillSwitch,
    freezes: Freezes,
    rate: RateLimiter,
    duplicates: DuplicateGuard,
    idempotency: IdempotencyStore,
    daily_buys: DailyBuys,
    /// Whether omni buying power is below `omnibus.low_balance_warning` (to log each crossing
    /// once).
    /// Per omnibus account: below its `low_balance_warning` at the last look.
    omni_low: Box<[AtomicBool]>,
    /// While the log is replayed at start: each replayed order's clientOrderID and sending
    /// time, for the orders that turn out unanswered and are held in doubt (then cleared).
    replayed_notes: parking_lot::Mutex<std::collections::HashMap<u64, crate::ledger::InDoubtNote>>,
    /// The WAL; `None` only where nothing needs to survive (benchmarks, unit tests).
    journal: Option<Arc<Journal>>,
    /// Orders changes against the journal; see [`journal`].
    gate: Gate,
    /// Whether this node may decide: always standalone, while it holds the lease replicated.
    leadership: Arc<Leadership>,
    /// The audit trail (SPEC §11.1); off until [`Engine::attach_audit`].
    audit: crate::audit::Audit,
}

/// `PUT /admin/customers/{clientID}` (and one bootstrap line, which also carries `clientID`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSpec {
    #[serde(rename = "clientID", default)]
    pub client_id: Option<String>,
    #[serde(rename = "customerId")]
    pub customer_id: String,
    #[serde(deserialize_with = "money::exact::deserialize")]
    pub cash: Fixed,
    #[serde(default)]
    pub positions: std::collections::BTreeMap<String, ExactQuantity>,
}

/// A quantity read exactly from JSON.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub struct ExactQuantity(#[serde(deserialize_with = "money::exact::deserialize")] pub Fixed);

/// `[[omnibus.accounts]]` at most (the configuration refuses more).
const MAX_ACCOUNTS: usize = 256;

impl Engine {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Engine {
        let accounts = settings::account_settings(config)
            .into_iter()
            .map(|account| account.spec)
            .collect();
        let sell_proceeds = match config.buying_power.sell_proceeds {
            SellProceedsMode::OnFill => SellProceeds::OnFill,
            SellProceedsMode::OnSettlement => SellProceeds::OnSettlement,
        };
        let settings = Settings::new(config, None);
        let idempotency =
            IdempotencyStore::new(settings.idempotency_ttl_hours, IDEMPOTENCY_KEYS_MAX);
        let duplicates = DuplicateGuard::new(CLIENT_ORDER_IDS_MAX);
        duplicates.set_id_ttl_hours(config.server.client_order_id_ttl_hours);
        Engine {
            clock,
            settings: ArcSwap::from_pointee(settings),
            instruments: InstrumentMaster::new(),
            ledger: Ledger::with_accounts(sell_proceeds, accounts),
            queued: QueuedOrders::new(QUEUED_ORDERS_MAX),
            early: early::EarlyUpdates::default(),
            seen_events: SeenEvents::new(SEEN_EVENTS_MAX),
            seen_payments: SeenEvents::new(SEEN_EVENTS_MAX),
            kill_switch: KillSwitch::new(),
            freezes: Freezes::new(),
            rate: RateLimiter::new(),
            duplicates,
            idempotency,
            daily_buys: DailyBuys::default(),
            omni_low: (0..MAX_ACCOUNTS).map(|_| AtomicBool::new(false)).collect(),
            replayed_notes: parking_lot::Mutex::default(),
            journal: None,
            gate: Gate::default(),
            leadership: Arc::new(Leadership::new(config.ha.replicated())),
            audit: crate::audit::Audit::off(),
        }
    }

    /// Keeps the audit trail from here on.
    pub fn attach_audit(&mut self, audit: crate::audit::Audit) {
        self.audit = audit;
    }

    /// The audit trail, for the listeners' entries.
    pub fn audit(&self) -> &crate::audit::Audit {
        &self.audit
    }

    /// Why the WAL refuses changes, once it does (new orders then get 503).
    pub fn storage_failed(&self) -> Option<String> {
        self.journal.as_ref().and_then(|journal| journal.failed())
    }

    /// Queues `records` (the gate must be held) and returns what to await before acting.
    fn log(&self, records: &[crate::engine::record::Record]) -> Durability {
        let Some(journal) = &self.journal else {
            return Durability::None;
        };
        if let [record] = records {
            return journal.append(record);
        }
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            match journal.append(record) {
                Durability::Pending(mut appendings) => pending.append(&mut appendings),
                refused @ Durability::Refused(_) => return refused,
                Durability::None => {}
            }
        }
        Durability::Pending(pending)
    }

    /// [`Engine::log`] for one record encoded from borrowed fields (the order path's
    /// reservations and binds), encoded only when there is a log to take it.
    fn log_encoded(&self, encode: impl FnOnce() -> Vec<u8>) -> Durability {
        match &self.journal {
            None => Durability::None,
            Some(journal) => journal.append_encoded(encode()),
        }
    }

    /// Applies a reloaded config: the next order sees all of it. Listeners, upstream, WAL and
    /// funding mode are fixed at start; a change to them waits for a restart. A change to the
    /// omnibus accounts themselves is refused, and nothing of the file applies: orders name
    /// accounts, so they must stay what the ledger keeps.
    pub fn reload(&self, config: &Config) -> Result<(), String> {
        let accounts = settings::account_settings(config);
        let kept = self.ledger.account_specs();
        let numbers = |specs: &mut dyn Iterator<Item = Option<String>>| specs.collect::<Vec<_>>();
        if numbers(&mut accounts.iter().map(|account| account.spec.number.clone()))
            != numbers(&mut kept.iter().map(|spec| spec.number.clone()))
        {
            return Err(
                "omnibus.accounts: the omnibus accounts change only with a restart \
                 (orders and balances are kept per account)"
                    .to_owned(),
            );
        }
        let previous = self.settings.load();
        let next = Settings::new(config, Some(&previous));
        self.idempotency.set_ttl_hours(next.idempotency_ttl_hours);
        self.duplicates
            .set_id_ttl_hours(config.server.client_order_id_ttl_hours);
        self.apply_credit_limits(&accounts);
        self.settings.store(Arc::new(next));
        Ok(())
    }

    /// The credit lines of the configured cashless accounts: config, not history, so the file
    /// in force wins over what a snapshot kept.
    fn apply_credit_limits(&self, accounts: &[settings::AccountSettings]) -> Vec<String> {
        let mut problems = Vec::new();
        for (index, account) in accounts.iter().enumerate() {
            let (Funding::Cashless { credit_limit }, Ok(index)) =
                (account.spec.funding, u8::try_from(index))
            else {
                continue;
            };
            if let Err(error) = self
                .ledger
                .set_credit_limit(crate::ledger::AccountIndex(index), credit_limit)
            {
                tracing::error!(%error, "omnibus credit_limit not applied");
                problems.push(error.to_string());
            }
        }
        problems
    }

    /// Sets the gauges that are read from state rather than counted as they happen.
    pub fn publish_gauges(&self) {
        let accounts = self.ledger.omni_accounts();
        if let [omni] = accounts.as_slice() {
            metrics::gauge!("omnigate_omni_available_usd").set(fixed_as_f64(omni.available));
            metrics::gauge!("omnigate_omni_reserved_usd").set(fixed_as_f64(omni.reserved));
        } else {
            for omni in &accounts {
                let account = omni.number.clone().unwrap_or_default();
                metrics::gauge!("omnigate_omni_available_usd", "account" => account.clone())
                    .set(fixed_as_f64(omni.available));
                metrics::gauge!("omnigate_omni_reserved_usd", "account" => account)
                    .set(fixed_as_f64(omni.reserved));
            }
        }
        let (_, in_doubt) = self.ledger.order_counts();
        metrics::gauge!("omnigate_orders_in_doubt").set(in_doubt as f64);
        let today = crate::rules::market_hours::new_york_date(self.now());
        if let Some((_, days_left)) = self.calendar_end(today) {
            // A day count is exact in an f64.
            metrics::gauge!("omnigate_calendar_days_left").set(days_left as f64);
        }
    }
}

/// Metrics only: Prometheus samples are floats. Money never goes through this on its way
/// anywhere else.
fn fixed_as_f64(value: Fixed) -> f64 {
    value.units() as f64 / money::SCALE as f64
}
