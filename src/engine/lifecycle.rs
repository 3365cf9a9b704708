//! An accepted order's life after the decision: bound to its upstream id, released, held in
//! doubt, filled — each change logged (SPEC §6, §10).

use super::{Admitted, Durability, Engine, EventOutcome};
use crate::events::{parse_event, Event, OrderPayload};
use crate::ledger::{OrderStatus, OrderUpdate, UpdateOutcome};
use crate::money::Fixed;
use crate::wal::record::Record;

impl Engine {
    /// The upstream took the order under `order_id`. The bind is queued before it is applied:
    /// from the moment it is applied, updates can find the order, and their records must come
    /// after it in the log.
    pub fn bound(&self, admitted: &Admitted, order_id: &str) -> Durability {
        let _gate = self.gate.shared();
        let mut records = vec![Record::Bind {
            local: admitted.local.0,
            order_id: order_id.to_owned(),
        }];
        if let Some(queued) = admitted.queued {
            records.push(Record::Queued {
                order_id: order_id.to_owned(),
                exchange: queued.exchange,
                open_unix_s: queued.open.timestamp(),
            });
        }
        let durability = self.log(&records);
        if let Err(error) = self.ledger.bind(admitted.local, order_id) {
            tracing::error!(%error, order_id, "could not bind an accepted order");
        }
        if let Some(queued) = admitted.queued {
            self.queued.insert(order_id, queued, self.clock.now());
        }
        durability
    }

    /// The upstream refused (or could not be reached with) an admitted order: everything it
    /// held returns, and its clientOrderID may be used again. The give-back is queued before it
    /// is applied, so an order that reuses the clientOrderID logs after it (see `journal`).
    pub fn refused_upstream(&self, admitted: &Admitted) -> Durability {
        let durability = {
            let _gate = self.gate.shared();
            if let Err(error) = self.ledger.release(admitted.local) {
                tracing::error!(%error, local = %admitted.local, "release failed");
            }
            let release = Record::Release {
                local: admitted.local.0,
            };
            match &admitted.controls {
                None => self.log(&[release]),
                Some((client_id, controls)) => self.log(&[
                    release,
                    Record::ControlsReturned {
                        client_id: client_id.to_string(),
                        controls: controls.clone(),
                    },
                ]),
            }
        };
        self.give_back_controls(admitted);
        durability
    }

    /// The order's record could not be made durable, so it was never sent: undo it in memory.
    /// (The WAL is closed by now; if the record did reach the disk, recovery holds the order in
    /// doubt, which errs on the side of the money.)
    pub fn abandon(&self, admitted: &Admitted) {
        {
            let _gate = self.gate.shared();
            if let Err(error) = self.ledger.release(admitted.local) {
                tracing::error!(%error, local = %admitted.local, "release failed");
            }
        }
        self.give_back_controls(admitted);
    }

    fn give_back_controls(&self, admitted: &Admitted) {
        self.duplicates.forget(admitted.ticket);
        if let Some((client_id, controls)) = &admitted.controls {
            self.daily_buys
                .give_back(client_id, controls.trading_day, controls.buy_notional);
        }
    }

    /// Sent, but no answer came: the reservation stays until the order is resolved.
    pub fn in_doubt(&self, admitted: &Admitted) -> Durability {
        let _gate = self.gate.shared();
        if let Err(error) = self.ledger.mark_in_doubt(admitted.local) {
            tracing::error!(%error, local = %admitted.local, "could not hold an order in doubt");
        }
        self.log(&[Record::InDoubt {
            local: admitted.local.0,
        }])
    }

    /// Applies what an order status (a proxied GET answer, an event, a poll) says, and logs it
    /// if it changed anything.
    pub fn learn(&self, payload: &OrderPayload) -> (UpdateOutcome, Durability) {
        let Some(status) = OrderStatus::parse(&payload.status) else {
            tracing::warn!(order_id = %payload.id, status = %payload.status, "unknown order status");
            return (UpdateOutcome::Duplicate, Durability::None);
        };
        let update = OrderUpdate {
            status,
            cumulative_quantity: payload.cumulative_quantity.unwrap_or(Fixed::ZERO),
            average_price: payload.average_price.unwrap_or(Fixed::ZERO),
            fees: payload.fees,
        };
        let (outcome, durability) = {
            let _updates = self.gate.updates();
            let _gate = self.gate.shared();
            let outcome = self.ledger.apply_update(&payload.id, update);
            let durability = if outcome == UpdateOutcome::Applied {
                self.log(&[Record::Update {
                    order_id: payload.id.clone(),
                    status,
                    cumulative_quantity: update.cumulative_quantity,
                    average_price: update.average_price,
                    fees: update.fees,
                }])
            } else {
                Durability::None
            };
            (outcome, durability)
        };
        if outcome == UpdateOutcome::Applied {
            self.watch_omni_balance(&self.settings.load());
        }
        (outcome, durability)
    }

    /// Applies one posted DriveWealth event; the caller acknowledges it once durable.
    pub fn apply_event(&self, body: &[u8]) -> Result<(EventOutcome, Durability), String> {
        let (id, event) = parse_event(body)?;
        if !self.seen_events.first_time(&id) {
            return Ok((EventOutcome::Duplicate, Durability::None));
        }
        match event {
            Event::InstrumentUpdated {
                instrument_id,
                status,
            } => {
                let Some(instrument) = self.instruments.by_instrument_id(&instrument_id) else {
                    return Ok((
                        EventOutcome::Ignored(format!(
                            "instrumentID {instrument_id} is not in the instrument master"
                        )),
                        Durability::None,
                    ));
                };
                let Some(status) = status else {
                    return Ok((EventOutcome::Applied, Durability::None));
                };
                tracing::info!(symbol = %instrument.symbol, status = status.as_str(), "instrument status changed by event");
                let _gate = self.gate.exclusive();
                instrument.set_status(status);
                let durability = self.log(&[Record::InstrumentStatus {
                    symbol: instrument.symbol.clone(),
                    status,
                }]);
                Ok((EventOutcome::Applied, durability))
            }
            Event::Order(payload) => {
                let (outcome, durability) = self.learn(&payload);
                let outcome = match outcome {
                    UpdateOutcome::Applied => EventOutcome::Applied,
                    UpdateOutcome::Duplicate => EventOutcome::Duplicate,
                    other => EventOutcome::Ignored(format!("{other:?}")),
                };
                Ok((outcome, durability))
            }
            Event::Deposit(deposit) => {
                if let Some(account) = &deposit.account_no {
                    if !self.settings.load().rules.is_omnibus_account(account) {
                        return Err(format!(
                            "deposits.updated for account {account:?}, which is not an omnibus account"
                        ));
                    }
                }
                if !deposit.is_successful() {
                    return Ok((
                        EventOutcome::Ignored(format!(
                            "deposit {} has status {}, not 2 (successful)",
                            deposit.payment_id, deposit.status
                        )),
                        Durability::None,
                    ));
                }
                let durability = {
                    let _gate = self.gate.exclusive();
                    if !self.seen_payments.first_time(&deposit.payment_id) {
                        return Ok((EventOutcome::Duplicate, Durability::None));
                    }
                    self.ledger
                        .omni_deposit(deposit.amount)
                        .map_err(|error| error.to_string())?;
                    self.log(&[Record::OmniDeposit {
                        amount: deposit.amount,
                        payment_id: Some(deposit.payment_id.clone()),
                    }])
                };
                self.watch_omni_balance(&self.settings.load());
                Ok((EventOutcome::Applied, durability))
            }
            Event::Other(kind) => Ok((
                EventOutcome::Ignored(format!("event type {kind}")),
                Durability::None,
            )),
        }
    }

    /// Keeps the first answer to an `Idempotency-Key`; durable before the answer goes out, so a
    /// retry after a crash still finds it.
    pub fn remember_idempotent(
        &self,
        guard: crate::limits::IdempotencyGuard,
        answer: crate::limits::StoredAnswer,
    ) -> Durability {
        let _gate = self.gate.shared();
        let durability = self.log(&[Record::Idempotent(guard.record(&answer))]);
        guard.complete(answer);
        durability
    }
}
