//! The gateway's shared state and the order path up to the wire: decide, then reserve.
//!
//! [`Engine::admit`] is what `POST /back-office/orders` calls between parsing and forwarding; the
//! HTTP layers (order front, admin API) and the poller all act on the ledger through here, so
//! there is one place where the pieces meet.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::clock::Clock;
use crate::config::{Config, FundingMode, SellProceedsMode};
use crate::decide::{self, hold_for, CustomerDirectory, Hold, QueuedOrder, Rules};
use crate::events::{parse_event, Event, OrderPayload, SeenEvents};
use crate::instruments::InstrumentMaster;
use crate::ledger::{
    Funding, Ledger, LedgerConfig, LedgerError, LocalOrderId, OrderStatus, OrderUpdate,
    SellProceeds, UpdateOutcome,
};
use crate::money::{self, Fixed};
use crate::order::Order;
use crate::queued::QueuedOrders;
use crate::reject::Reject;

/// Orders remembered for the cancel cut-off; one trading day's queued orders fit many times.
const QUEUED_ORDERS_MAX: usize = 1_000_000;
/// Event ids remembered to drop redeliveries.
const SEEN_EVENTS_MAX: usize = 1_000_000;
/// The demo book of the embedded default (SPEC §2).
const DEMO_INSTRUMENTS: &str = include_str!("config/demo_instruments.jsonl");
const DEMO_CUSTOMERS: &str = include_str!("config/demo_customers.jsonl");
/// The demo omni account's opening balance.
const DEMO_OMNI_CASH: Fixed = Fixed::from_units(1_000_000 * money::SCALE);

impl CustomerDirectory for Ledger {
    fn is_registered(&self, client_id: &str) -> bool {
        self.contains(client_id)
    }
}

/// Everything the listeners share.
pub struct Engine {
    pub clock: Arc<dyn Clock>,
    pub rules: Rules,
    pub market_buffer_pct: Fixed,
    pub fee_per_order: Fixed,
    pub instruments: InstrumentMaster,
    pub ledger: Ledger,
    pub queued: QueuedOrders,
    pub seen_events: SeenEvents,
    /// `paymentID`s already credited: a deposit raises omni cash once (SPEC §6).
    pub seen_payments: SeenEvents,
}

/// An order that passed the rules and holds its reservation.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    pub local: LocalOrderId,
    pub queued: Option<QueuedOrder>,
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
        Engine {
            clock,
            rules: Rules::from_config(config),
            market_buffer_pct: config.limits.default.market_buffer_pct.0,
            fee_per_order: config.fees.per_order.0,
            instruments: InstrumentMaster::new(),
            ledger: Ledger::new(LedgerConfig {
                funding,
                sell_proceeds,
            }),
            queued: QueuedOrders::new(QUEUED_ORDERS_MAX),
            seen_events: SeenEvents::new(SEEN_EVENTS_MAX),
            seen_payments: SeenEvents::new(SEEN_EVENTS_MAX),
        }
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
        self.rules
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
    }

    /// Decides an order and reserves what it holds: the order path up to the wire.
    pub fn admit(&self, order: &Order<'_>) -> Result<Admitted, Reject> {
        let now = self.clock.now();
        let accepted = decide::decide(order, &self.rules, &self.instruments, &self.ledger, now)?;
        let instrument = &accepted.instrument;
        let hold = hold_for(
            order,
            instrument,
            self.market_buffer_pct,
            self.fee_per_order,
        )?;
        let local = match hold {
            Hold::Buy(cost) => {
                self.ledger
                    .reserve_buy(accepted.client_id, &instrument.symbol, cost)?
            }
            Hold::Sell { quantity } => {
                self.ledger
                    .reserve_sell(accepted.client_id, &instrument.symbol, quantity)?
            }
        };
        Ok(Admitted {
            local,
            queued: accepted.queued_until.map(|open| QueuedOrder {
                exchange: instrument.exchange,
                open,
            }),
        })
    }

    /// The upstream took the order under `order_id`.
    pub fn bound(&self, admitted: Admitted, order_id: &str) {
        if let Err(error) = self.ledger.bind(admitted.local, order_id) {
            tracing::error!(%error, order_id, "could not bind an accepted order");
        }
        if let Some(queued) = admitted.queued {
            self.queued.insert(order_id, queued, self.clock.now());
        }
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
        self.ledger.apply_update(&payload.id, update)
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
                    if !self.rules.is_omnibus_account(account) {
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
