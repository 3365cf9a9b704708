//! The gateway's shared state and the order path up to the wire: decide, then reserve.
//!
//! [`Engine::admit`] is what `POST /back-office/orders` calls between parsing and forwarding; the
//! HTTP layers (order front, admin API) and the poller all act on the ledger through here, so
//! there is one place where the pieces meet.

mod admit;
mod daily;
mod settings;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;

use serde::Deserialize;

use crate::clock::Clock;
use crate::config::{Config, FundingMode, SellProceedsMode};
use crate::decide::CustomerDirectory;
use crate::events::{parse_event, Event, OrderPayload, SeenEvents};
use crate::instruments::InstrumentMaster;
use crate::ledger::{
    Funding, Ledger, LedgerConfig, LedgerError, OrderStatus, OrderUpdate, SellProceeds,
    UpdateOutcome,
};
use crate::limits::{DuplicateGuard, IdempotencyStore, KillSwitch, RateLimiter};
use crate::money::{self, Fixed};
use crate::queued::QueuedOrders;

pub use admit::Admitted;
pub use daily::DailyBuys;
pub use settings::Settings;

/// Orders remembered for the cancel cut-off; one trading day's queued orders fit many times.
const QUEUED_ORDERS_MAX: usize = 1_000_000;
/// Event ids remembered to drop redeliveries.
const SEEN_EVENTS_MAX: usize = 1_000_000;
/// The demo book of the embedded default (SPEC §2).
const DEMO_INSTRUMENTS: &str = include_str!("../config/demo_instruments.jsonl");
const DEMO_CUSTOMERS: &str = include_str!("../config/demo_customers.jsonl");
/// The demo omni account's opening balance.
const DEMO_OMNI_CASH: Fixed = Fixed::from_units(1_000_000 * money::SCALE);

impl CustomerDirectory for Ledger {
    fn is_registered(&self, client_id: &str) -> bool {
        self.contains(client_id)
    }
}

/// Distinct clientOrderIDs remembered for duplicate detection.
const CLIENT_ORDER_IDS_MAX: usize = 1_000_000;
/// Idempotency keys remembered at once.
const IDEMPOTENCY_KEYS_MAX: usize = 1_000_000;

/// Everything the listeners share.
pub struct Engine {
    pub clock: Arc<dyn Clock>,
    /// Rules and limits of the current config; replaced whole on reload.
    pub settings: ArcSwap<Settings>,
    pub instruments: InstrumentMaster,
    pub ledger: Ledger,
    pub queued: QueuedOrders,
    pub seen_events: SeenEvents,
    /// `paymentID`s already credited: a deposit raises omni cash once (SPEC §6).
    pub seen_payments: SeenEvents,
    pub kill_switch: KillSwitch,
    pub rate: RateLimiter,
    pub duplicates: DuplicateGuard,
    pub idempotency: IdempotencyStore,
    pub daily_buys: DailyBuys,
    /// Whether omni buying power is below `omnibus.low_balance_warning` (to log each crossing
    /// once).
    omni_low: AtomicBool,
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

/// What happened to a posted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    Duplicate,
    Ignored(String),
}

impl Engine {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Engine {
        let funding = match config.omnibus.funding {
            FundingMode::Prefunded => Funding::Prefunded,
            FundingMode::Cashless => Funding::Cashless {
                credit_limit: config.omnibus.credit_limit.0,
            },
        };
        let sell_proceeds = match config.buying_power.sell_proceeds {
            SellProceedsMode::OnFill => SellProceeds::OnFill,
            SellProceedsMode::OnSettlement => SellProceeds::OnSettlement,
        };
        let settings = Settings::new(config, None);
        let idempotency =
            IdempotencyStore::new(settings.idempotency_ttl_hours, IDEMPOTENCY_KEYS_MAX);
        Engine {
            clock,
            settings: ArcSwap::from_pointee(settings),
            instruments: InstrumentMaster::new(),
            ledger: Ledger::new(LedgerConfig {
                funding,
                sell_proceeds,
            }),
            queued: QueuedOrders::new(QUEUED_ORDERS_MAX),
            seen_events: SeenEvents::new(SEEN_EVENTS_MAX),
            seen_payments: SeenEvents::new(SEEN_EVENTS_MAX),
            kill_switch: KillSwitch::new(),
            rate: RateLimiter::new(),
            duplicates: DuplicateGuard::new(CLIENT_ORDER_IDS_MAX),
            idempotency,
            daily_buys: DailyBuys::default(),
            omni_low: AtomicBool::new(false),
        }
    }

    /// Applies a reloaded config: the next order sees all of it. Listeners, upstream, WAL and
    /// funding mode are fixed at start; a change to them waits for a restart.
    pub fn reload(&self, config: &Config) {
        let previous = self.settings.load();
        let next = Settings::new(config, Some(&previous));
        self.idempotency.set_ttl_hours(next.idempotency_ttl_hours);
        if let crate::config::FundingMode::Cashless = config.omnibus.funding {
            if let Err(error) = self.ledger.set_credit_limit(config.omnibus.credit_limit.0) {
                tracing::error!(%error, "omnibus.credit_limit not applied");
            }
        }
        self.settings.store(Arc::new(next));
    }

    /// Loads the bootstrap files (and the demo book of the embedded default). Errors name the
    /// file and line.
    pub fn bootstrap(&self, config: &Config) -> Result<(), String> {
        if config.demo_book {
            for (line_no, line) in DEMO_INSTRUMENTS.lines().enumerate() {
                self.load_instrument_line(line)
                    .map_err(|error| format!("demo instruments:{}: {error}", line_no + 1))?;
            }
            for (line_no, line) in DEMO_CUSTOMERS.lines().enumerate() {
                self.load_customer_line(line)
                    .map_err(|error| format!("demo customers:{}: {error}", line_no + 1))?;
            }
            self.ledger
                .omni_deposit(DEMO_OMNI_CASH)
                .map_err(|error| format!("demo omni cash: {error}"))?;
        }
        if let Some(path) = &config.bootstrap.instruments {
            load_json_lines(path, "bootstrap.instruments", |line| {
                self.load_instrument_line(line)
            })?;
        }
        if let Some(path) = &config.bootstrap.customers {
            load_json_lines(path, "bootstrap.customers", |line| {
                self.load_customer_line(line)
            })?;
        }
        Ok(())
    }

    fn load_instrument_line(&self, line: &str) -> Result<(), String> {
        let spec: crate::instruments::InstrumentSpec =
            serde_json::from_str(line).map_err(|error| error.to_string())?;
        let symbol = spec.symbol.clone().ok_or("the entry has no symbol")?;
        self.instruments
            .upsert(&symbol, spec)
            .map(|_| ())
            .map_err(|error| error.0)
    }

    fn load_customer_line(&self, line: &str) -> Result<(), String> {
        let spec: CustomerSpec = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let client_id = spec.client_id.clone().ok_or("the entry has no clientID")?;
        self.register_customer(&client_id, spec)
            .map_err(|error| error.to_string())
    }

    /// Registers (or replaces) a customer; the clientID format rules apply here too.
    pub fn register_customer(
        &self,
        client_id: &str,
        spec: CustomerSpec,
    ) -> Result<(), LedgerError> {
        if let Some(inner) = &spec.client_id {
            if inner != client_id {
                return Err(LedgerError::Invalid(format!(
                    "clientID {inner:?} in the body differs from {client_id:?} in the path"
                )));
            }
        }
        self.settings
            .load()
            .rules
            .client_ids()
            .check(client_id)
            .map_err(|reject| LedgerError::Invalid(reject.message))?;
        let positions = spec
            .positions
            .into_iter()
            .map(|(symbol, quantity)| (symbol, quantity.0))
            .collect();
        self.ledger
            .register(client_id, &spec.customer_id, spec.cash, positions)
            .map(|_| ())
    }

    /// The upstream took the order under `order_id`.
    pub fn bound(&self, admitted: &Admitted, order_id: &str) {
        if let Err(error) = self.ledger.bind(admitted.local, order_id) {
            tracing::error!(%error, order_id, "could not bind an accepted order");
        }
        if let Some(queued) = admitted.queued {
            self.queued.insert(order_id, queued, self.clock.now());
        }
    }

    /// The upstream refused (or could not be reached with) an admitted order: everything it held
    /// returns, and its clientOrderID may be used again.
    pub fn refused_upstream(&self, admitted: &Admitted) {
        if let Err(error) = self.ledger.release(admitted.local) {
            tracing::error!(%error, local = %admitted.local, "release failed");
        }
        self.duplicates.forget(admitted.ticket);
        if let Some(client_id) = admitted.client_id.as_deref() {
            self.daily_buys
                .give_back(client_id, admitted.trading_day, admitted.daily_notional);
        }
    }

    /// Sets the gauges that are read from state rather than counted as they happen.
    pub fn publish_gauges(&self) {
        let omni = self.ledger.omni();
        metrics::gauge!("omnigate_omni_available_usd").set(fixed_as_f64(omni.available));
        metrics::gauge!("omnigate_omni_reserved_usd").set(fixed_as_f64(omni.reserved));
        let in_doubt = self.ledger.orders(crate::ledger::OrderState::InDoubt).len();
        metrics::gauge!("omnigate_orders_in_doubt").set(in_doubt as f64);
    }

    /// Keeps the first answer to an `Idempotency-Key`.
    pub fn remember_idempotent(
        &self,
        guard: crate::limits::IdempotencyGuard,
        answer: crate::limits::StoredAnswer,
    ) {
        guard.complete(answer);
    }

    /// Applies what an order status (a proxied GET answer, an event, a poll) says.
    pub fn learn(&self, payload: &OrderPayload) -> UpdateOutcome {
        let Some(status) = OrderStatus::parse(&payload.status) else {
            tracing::warn!(order_id = %payload.id, status = %payload.status, "unknown order status");
            return UpdateOutcome::Duplicate;
        };
        let update = OrderUpdate {
            status,
            cumulative_quantity: payload.cumulative_quantity.unwrap_or(Fixed::ZERO),
            average_price: payload.average_price.unwrap_or(Fixed::ZERO),
            fees: payload.fees,
        };
        let outcome = self.ledger.apply_update(&payload.id, update);
        if outcome == UpdateOutcome::Applied {
            self.watch_omni_balance(&self.settings.load());
        }
        outcome
    }

    /// Applies one posted DriveWealth event.
    pub fn apply_event(&self, body: &[u8]) -> Result<EventOutcome, String> {
        let (id, event) = parse_event(body)?;
        if !self.seen_events.first_time(&id) {
            return Ok(EventOutcome::Duplicate);
        }
        match event {
            Event::InstrumentUpdated {
                instrument_id,
                status,
            } => {
                let Some(instrument) = self.instruments.by_instrument_id(&instrument_id) else {
                    return Ok(EventOutcome::Ignored(format!(
                        "instrumentID {instrument_id} is not in the instrument master"
                    )));
                };
                if let Some(status) = status {
                    tracing::info!(symbol = %instrument.symbol, status = status.as_str(), "instrument status changed by event");
                    instrument.set_status(status);
                }
                Ok(EventOutcome::Applied)
            }
            Event::Order(payload) => Ok(match self.learn(&payload) {
                UpdateOutcome::Applied => EventOutcome::Applied,
                UpdateOutcome::Duplicate => EventOutcome::Duplicate,
                other => EventOutcome::Ignored(format!("{other:?}")),
            }),
            Event::Deposit(deposit) => {
                if let Some(account) = &deposit.account_no {
                    if !self.settings.load().rules.is_omnibus_account(account) {
                        return Err(format!(
                            "deposits.updated for account {account:?}, which is not an omnibus account"
                        ));
                    }
                }
                if !deposit.is_successful() {
                    return Ok(EventOutcome::Ignored(format!(
                        "deposit {} has status {}, not 2 (successful)",
                        deposit.payment_id, deposit.status
                    )));
                }
                if !self.seen_payments.first_time(&deposit.payment_id) {
                    return Ok(EventOutcome::Duplicate);
                }
                self.ledger
                    .omni_deposit(deposit.amount)
                    .map_err(|error| error.to_string())?;
                self.watch_omni_balance(&self.settings.load());
                Ok(EventOutcome::Applied)
            }
            Event::Other(kind) => Ok(EventOutcome::Ignored(format!("event type {kind}"))),
        }
    }
}

fn load_json_lines(
    path: &Path,
    key: &str,
    mut load: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{key}: {}: cannot read: {error}", path.display()))?;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        load(line).map_err(|error| format!("{key}: {}:{}: {error}", path.display(), index + 1))?;
    }
    Ok(())
}

/// Metrics only: Prometheus samples are floats. Money never goes through this on its way
/// anywhere else.
fn fixed_as_f64(value: Fixed) -> f64 {
    value.units() as f64 / money::SCALE as f64
}
