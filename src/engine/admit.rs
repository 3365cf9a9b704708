//! The order path up to the wire: `decide` (every check of SPEC §3.1, in its order), then the
//! reservation at customer and omni, then its record. A reservation refused (buying power,
//! position, open orders) gives back what the decision recorded. The engine is the decision's
//! [`Controls`]: kill switch, freezes, rate, duplicates and daily totals are its state.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Durability, Engine, StorageError};
use crate::decide::{decide, Controls, Hold, QueuedOrder};
use crate::engine::record::{OrderControls, ReservationRecord};
use crate::ledger::{AccountIndex, CustomerHandle, LocalOrderId};
use crate::limits::{check_open_orders, DuplicateTicket, EffectiveLimits, OrderIdentity};
use crate::money::Fixed;
use crate::order::Order;
use crate::reject::Reject;

/// Why an order was not admitted.
#[derive(Debug)]
pub enum AdmitError {
    Rejected(Reject),
    /// The WAL cannot take records: fail closed (503).
    Storage(StorageError),
}

/// An order that passed every check and holds its reservation.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub local: LocalOrderId,
    pub queued: Option<QueuedOrder>,
    /// Its place in the duplicate guard (given back if the upstream refuses it).
    pub ticket: DuplicateTicket,
    /// What the order added to the controls' memory, and whose (logged again, as given back,
    /// if the upstream refuses it). `None` when it added nothing.
    pub controls: Option<(Box<str>, OrderControls)>,
    /// When it was decided (Unix milliseconds), for an in-doubt listing.
    pub sent_at_ms: i64,
}

impl Engine {
    /// Decides an order and reserves what it holds. The reservation's record is queued to the
    /// WAL; the order may be forwarded once the returned [`Durability`] resolves.
    pub fn admit(&self, order: &Order<'_>) -> Result<(Admitted, Durability), AdmitError> {
        if let Some(reason) = self.storage_failed() {
            return Err(AdmitError::Storage(StorageError(reason)));
        }
        self.admit_in_memory(order).map_err(AdmitError::Rejected)
    }

    /// decide → reserve → log: the decision (every check of SPEC §3.1, `decide`), then the
    /// reservation at customer and omni with its record, all under the gate (see `journal`):
    /// what the decision adds to the controls (daily totals, clientOrderIDs) and the record that
    /// carries it are on the same side of a snapshot's beginning.
    fn admit_in_memory(&self, order: &Order<'_>) -> Result<(Admitted, Durability), Reject> {
        let gate = self.gate.shared();
        let now = self.clock.now();
        let settings = self.settings.load();
        let decision = decide(
            order,
            &settings.decision_context(&self.instruments),
            self,
            now,
        )?;
        let client_id = decision.client_id;
        let symbol = &decision.instrument.symbol;
        // Kept with the reservation so a restart remembers them (SPEC §10).
        let controls =
            (!decision.buy_notional.is_zero() || order.client_order_id.is_some()).then(|| {
                OrderControls {
                    trading_day: decision.trading_day,
                    buy_notional: decision.buy_notional,
                    client_order_id: order.client_order_id.as_deref().map(str::to_owned),
                    at_unix_ns: now.timestamp_nanos_opt().unwrap_or(i64::MAX),
                }
            });
        let open_orders_check = |open: u32| check_open_orders(open, &decision.limits);
        let reserved = match decision.hold {
            Hold::Buy(cost) => self
                .ledger
                .reserve_buy_checked(
                    &decision.customer,
                    symbol,
                    cost,
                    decision.account,
                    &open_orders_check,
                )
                .map(|local| {
                    let record = ReservationRecord::Buy {
                        local: local.0,
                        client_id,
                        symbol,
                        per_share: cost.per_share,
                        quantity: cost.quantity,
                        amount_cash: cost.amount_cash,
                        fee: cost.fee,
                        controls: controls.as_ref(),
                        account: self.ledger.account_number_ref(decision.account),
                        commission_rate: cost.commission_rate,
                    };
                    (local, self.log_encoded(|| record.encode()))
                }),
            Hold::Sell { quantity, charges } => self
                .ledger
                .reserve_sell_checked(
                    &decision.customer,
                    symbol,
                    quantity,
                    charges,
                    decision.account,
                    &open_orders_check,
                )
                .map(|local| {
                    let record = ReservationRecord::Sell {
                        local: local.0,
                        client_id,
                        symbol,
                        quantity,
                        controls: controls.as_ref(),
                        account: self.ledger.account_number_ref(decision.account),
                        fee: charges.fee,
                        commission_rate: charges.commission_rate,
                    };
                    (local, self.log_encoded(|| record.encode()))
                }),
        };
        let (local, durability) = match reserved {
            Ok(reserved) => reserved,
            Err(reject) => {
                decision.give_back(self);
                return Err(reject);
            }
        };
        drop(gate);
        self.watch_omni_balance(&settings, decision.account);
        Ok((
            Admitted {
                local,
                sent_at_ms: now.timestamp_millis(),
                ticket: decision.ticket,
                controls: controls.map(|controls| (client_id.into(), controls)),
                queued: decision.queued_until.map(|open| QueuedOrder {
                    exchange: decision.instrument.exchange,
                    open,
                }),
            },
            durability,
        ))
    }

    /// Logs and flags an omni account crossing its `low_balance_warning`.
    pub fn watch_omni_balance(&self, settings: &super::Settings, account: AccountIndex) {
        let index = usize::from(account.0);
        let Some(Some(threshold)) = settings.low_balance_warnings.get(index).copied() else {
            return;
        };
        let Some(low) = self.omni_low.get(index) else {
            return;
        };
        let available = self.ledger.omni_available(account);
        let below = available < threshold;
        if low.swap(below, std::sync::atomic::Ordering::Relaxed) != below {
            let number = self.ledger.omni_at(account).number.unwrap_or_default();
            if below {
                tracing::warn!(account = %number, available = %available.money(), threshold = %threshold.money(), "omni account buying power fell below its low_balance_warning");
            } else {
                tracing::info!(account = %number, available = %available.money(), "omni account buying power is back above its low_balance_warning");
            }
            let flag = if below { 1.0 } else { 0.0 };
            if settings.low_balance_warnings.len() == 1 {
                metrics::gauge!("omnigate_omni_low_balance").set(flag);
            } else {
                metrics::gauge!("omnigate_omni_low_balance", "account" => number).set(flag);
            }
        }
    }

    /// [`Engine::watch_omni_balance`] for every account (after a fill, whose account the caller
    /// does not know, or a roll).
    pub fn watch_every_omni_balance(&self, settings: &super::Settings) {
        for index in 0..settings.low_balance_warnings.len() {
            if let Ok(index) = u8::try_from(index) {
                self.watch_omni_balance(settings, AccountIndex(index));
            }
        }
    }
}

impl Controls for Engine {
    type Customer = CustomerHandle;

    fn customer(&self, client_id: &str) -> Option<CustomerHandle> {
        self.ledger.customer_handle(client_id)
    }

    fn check_trading_enabled(&self, client_id: &str) -> Result<(), Reject> {
        self.kill_switch.check_customer(client_id)?;
        self.freezes.check(client_id)
    }

    fn take_rate_token(
        &self,
        client_id: &str,
        limits: &EffectiveLimits<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), Reject> {
        self.rate.try_take(client_id, limits, now)
    }

    fn check_symbol_enabled(&self, symbol: &str) -> Result<(), Reject> {
        self.kill_switch.check_symbol(symbol)
    }

    fn record_unique(
        &self,
        order: &OrderIdentity<'_>,
        window_ms: u64,
        now: DateTime<Utc>,
    ) -> Result<DuplicateTicket, Reject> {
        self.duplicates.check_and_record(order, window_ms, now)
    }

    fn add_to_day(
        &self,
        client_id: &str,
        day: NaiveDate,
        notional: Fixed,
        limits: &EffectiveLimits<'_>,
    ) -> Result<(), Reject> {
        self.daily_buys.try_add(client_id, day, notional, limits)
    }

    fn give_back(&self, ticket: DuplicateTicket, client_id: &str, day: NaiveDate, notional: Fixed) {
        self.duplicates.forget(ticket);
        self.daily_buys.give_back(client_id, day, notional);
    }
}
