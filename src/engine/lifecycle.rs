//! An accepted order's life after the decision: bound to its upstream id, released, held in
//! doubt, filled — each change logged (SPEC §6, §10).

use super::{Admitted, ChangeError, Durability, Engine};
use crate::decide::Controls;
use crate::engine::record::{self, Record};
use crate::instruments::{Instrument, InstrumentStatus};
use crate::ledger::{AccountIndex, InDoubtNote, OrderUpdate, UpdateOutcome};
use crate::money::Fixed;
use crate::rules::market_hours::new_york_date;

impl Engine {
    /// The upstream took the order under `order_id`: the order is bound, and the bind logged
    /// before any update it makes findable (updates wait meanwhile).
    ///
    /// An id already bound to another open order is not bound (the ledger keeps one open order
    /// per upstream id): the order is held in doubt instead, its reservation kept, for an
    /// operator to resolve.
    pub fn bound(&self, admitted: &Admitted, order_id: &str) -> Durability {
        let (mut durability, early) = self.bind_and_log(admitted, order_id);
        // Updates that arrived before the bind, applied (and logged) after it; the answer
        // waits for them too.
        for update in early {
            durability = durability.and(self.learn(order_id, update).1);
        }
        durability
    }

    fn bind_and_log(&self, admitted: &Admitted, order_id: &str) -> (Durability, Vec<OrderUpdate>) {
        // Updates wait (the same lock order as `learn`: updates, then the gate): the id is
        // claimed in memory before its record is queued, and no update for it can be logged
        // between the two, so the log holds the bind that won, before anything it made findable.
        // Parking happens under the same lock, so an early update is parked before this looks,
        // or finds the order bound.
        let _updates = self.gate.updates();
        let _gate = self.gate.shared();
        if let Err(error) = self.ledger.bind(admitted.local, order_id) {
            tracing::error!(
                %error,
                order_id,
                local = %admitted.local,
                "the upstream answered an orderId omnigate cannot bind; held in doubt"
            );
            return (self.hold_in_doubt(admitted), Vec::new());
        }
        let durability = match admitted.queued {
            None => self.log_encoded(|| record::bind_record(admitted.local.0, order_id)),
            // Outside the session only: both records, through the general path.
            Some(queued) => {
                self.queued.insert(order_id, queued, self.clock.now());
                self.log(&[
                    Record::Bind {
                        local: admitted.local.0,
                        order_id: order_id.to_owned(),
                    },
                    Record::Queued {
                        order_id: order_id.to_owned(),
                        exchange: queued.exchange,
                        open_unix_s: queued.open.timestamp(),
                    },
                ])
            }
        };
        (durability, self.early.take(order_id))
    }

    /// The upstream refused (or could not be reached with) an admitted order: everything it
    /// held returns, and its clientOrderID may be used again. The give-back is queued before it
    /// is applied, so an order that reuses the clientOrderID logs after it (see `journal`).
    pub fn refused_upstream(&self, admitted: &Admitted) -> Durability {
        let _gate = self.gate.shared();
        if let Err(error) = self.ledger.release(admitted.local) {
            tracing::error!(%error, local = %admitted.local, "release failed");
        }
        let release = Record::Release {
            local: admitted.local.0,
        };
        let durability = match &admitted.controls {
            // With no WAL, nothing is built only to be dropped.
            _ if self.journal.is_none() => Durability::None,
            None => self.log(&[release]),
            Some((client_id, controls)) => self.log(&[
                release,
                Record::ControlsReturned {
                    client_id: client_id.to_string(),
                    controls: controls.clone(),
                },
            ]),
        };
        // Under the gate with its record, so a snapshot has both or neither.
        self.give_back_controls(admitted);
        durability
    }

    /// The order's record could not be made durable, so it was never sent: undo it in memory.
    /// (The WAL is closed by now; if the record did reach the disk, recovery holds the order in
    /// doubt, which errs on the side of the money.)
    pub fn abandon(&self, admitted: &Admitted) {
        let _gate = self.gate.shared();
        if let Err(error) = self.ledger.release(admitted.local) {
            tracing::error!(%error, local = %admitted.local, "release failed");
        }
        self.give_back_controls(admitted);
    }

    /// The same give-back a refused decision makes ([`Controls::give_back`]).
    fn give_back_controls(&self, admitted: &Admitted) {
        match &admitted.controls {
            Some((client_id, controls)) => Controls::give_back(
                self,
                admitted.ticket,
                client_id,
                controls.trading_day,
                controls.buy_notional,
            ),
            None => self.duplicates.forget(admitted.ticket),
        }
    }

    /// Sent, but no answer came: the reservation stays until the order is resolved. An update
    /// that came before (parked, with this order's clientOrderID and account) is its answer:
    /// the order is bound to that id and the update applied.
    pub fn in_doubt(&self, admitted: &Admitted) -> Durability {
        let durability = {
            let _gate = self.gate.shared();
            self.hold_in_doubt(admitted)
        };
        let Some(client_order_id) = admitted
            .controls
            .as_ref()
            .and_then(|(_, controls)| controls.client_order_id.as_deref())
        else {
            return durability;
        };
        let Some((order_id, updates)) =
            self.early
                .take_for_client_order_id(client_order_id, |account| {
                    self.ledger
                        .in_doubt_by_client_order_id(client_order_id, account)
                        == Some(admitted.local)
                })
        else {
            return durability;
        };
        let mut durability = match self.resolve_in_doubt(admitted.local, Some(&order_id)) {
            Ok(resolved) => durability.and(resolved),
            Err(error) => {
                tracing::warn!(%error, local = %admitted.local, order_id, "in-doubt order not bound to an update that came before it");
                return durability;
            }
        };
        tracing::warn!(local = %admitted.local, order_id, client_order_id, "in-doubt order bound by an update that came before its timeout");
        for update in updates {
            durability = durability.and(self.learn(&order_id, update).1);
        }
        durability
    }

    /// Marks an order in doubt with its clientOrderID and sending time, and logs it; the caller
    /// holds the gate.
    fn hold_in_doubt(&self, admitted: &Admitted) -> Durability {
        let local = admitted.local;
        let note = InDoubtNote {
            client_order_id: admitted
                .controls
                .as_ref()
                .and_then(|(_, controls)| controls.client_order_id.clone()),
            created_at_ms: admitted.sent_at_ms,
        };
        if let Err(error) = self.ledger.mark_in_doubt_noted(local, Some(note.clone())) {
            tracing::error!(%error, %local, "could not hold an order in doubt");
        }
        self.log(&[Record::InDoubt {
            local: local.0,
            note: Some(note),
        }])
    }

    /// Applies what an order status (a proxied GET answer, an event, a poll) says, and logs it
    /// if it changed anything.
    pub fn learn(&self, order_id: &str, update: OrderUpdate) -> (UpdateOutcome, Durability) {
        self.learn_parking(order_id, update, IfUnbound::Drop)
    }

    /// [`Engine::learn`], and an update for an id not bound (yet) is parked until its bind
    /// ([`super::early`]): for events, which can overtake the create's answer.
    /// `hint` is the clientOrderID and account the update names, to find its order should
    /// that go in doubt instead.
    pub fn learn_or_park(
        &self,
        order_id: &str,
        update: OrderUpdate,
        hint: Option<(String, AccountIndex)>,
    ) -> (UpdateOutcome, Durability) {
        self.learn_parking(order_id, update, IfUnbound::Park(hint))
    }

    fn learn_parking(
        &self,
        order_id: &str,
        update: OrderUpdate,
        unbound: IfUnbound,
    ) -> (UpdateOutcome, Durability) {
        // Whose order it is, read before a final update closes it (for the audit trail).
        let audited = self
            .audit
            .is_on()
            .then(|| self.ledger.order_by_upstream(order_id))
            .flatten();
        let (outcome, durability) = {
            let _updates = self.gate.updates();
            let _gate = self.gate.shared();
            // The trade day of what this newly fills: today in New York, by the engine's clock.
            let trade_day = Some(new_york_date(self.clock.now()));
            let outcome = self.ledger.apply_update_on(order_id, update, trade_day);
            if let (IfUnbound::Park(hint), UpdateOutcome::UnknownOrder) = (unbound, &outcome) {
                // Under the updates lock, as the bind's look at parked updates is.
                self.early.park(order_id, update, hint);
            }
            let durability = if outcome == UpdateOutcome::Applied {
                self.log(&[Record::Update {
                    order_id: order_id.to_owned(),
                    status: update.status,
                    cumulative_quantity: update.cumulative_quantity,
                    average_price: update.average_price,
                    fees: update.fees,
                    trade_day,
                }])
            } else {
                Durability::None
            };
            (outcome, durability)
        };
        if outcome == UpdateOutcome::Applied {
            self.watch_every_omni_balance(&self.settings.load());
            if self.audit.is_on() {
                self.audit.record(crate::audit::Entry::Fill {
                    ts: self.clock.now(),
                    order_id: order_id.to_owned(),
                    client_id: audited.as_ref().map(|view| view.client_id.clone()),
                    symbol: audited.as_ref().map(|view| view.symbol.clone()),
                    side: audited.as_ref().map(|view| view.side.as_str()),
                    status: update.status.as_str(),
                    cumulative_quantity: update.cumulative_quantity,
                    average_price: update.average_price,
                    fees: update.fees,
                });
            }
        }
        (outcome, durability)
    }

    /// An instrument's status as DriveWealth reports it (`instruments.updated`).
    pub fn set_instrument_status(
        &self,
        instrument: &Instrument,
        status: InstrumentStatus,
    ) -> Durability {
        let _gate = self.gate.exclusive();
        instrument.set_status(status);
        self.log(&[Record::InstrumentStatus {
            symbol: instrument.symbol.clone(),
            status,
        }])
    }

    /// DriveWealth renamed an instrument's ticker (`instruments.updated` with a new `symbol`):
    /// the instrument master entry, every position and every open order move to `new`, as one
    /// logged change. Limits and kill-switch entries naming the old ticker stay as written.
    pub fn rename_instrument(
        &self,
        instrument: &Instrument,
        new: &str,
    ) -> Result<Durability, ChangeError> {
        let _gate = self.gate.exclusive();
        let old = instrument.symbol.clone();
        self.instruments.rename(&old, new)?;
        if let Err(error) = self.ledger.rename_symbol(&old, new) {
            tracing::error!(%error, %old, %new, "positions not all renamed");
        }
        tracing::warn!(%old, %new, "instrument renamed by DriveWealth");
        Ok(self.log(&[Record::SymbolChanged {
            old,
            new: new.to_owned(),
        }]))
    }

    /// A DriveWealth deposit into an omni account, credited once per `paymentID`; `None` when
    /// that payment was credited already.
    pub fn credit_omni_payment(
        &self,
        account: AccountIndex,
        payment_id: &str,
        amount: Fixed,
    ) -> Result<Option<Durability>, ChangeError> {
        let durability = {
            let _gate = self.gate.exclusive();
            if !self.seen_payments.first_time(payment_id) {
                return Ok(None);
            }
            self.ledger.omni_deposit_at(account, amount)?;
            self.log(&[Record::OmniCash {
                amount,
                payment_id: Some(payment_id.to_owned()),
                reason: None,
                account: self.ledger.account_number(account),
            }])
        };
        self.watch_omni_balance(&self.settings.load(), account);
        Ok(Some(durability))
    }

    /// A credited DriveWealth deposit that came back (`deposits.updated` status 5, "Returned"):
    /// its amount leaves the account again, once per `paymentID`. The money is gone whatever is
    /// reserved, so available may fall below zero (then no BUY passes until it is funded).
    /// `Ok(None)`: that payment was never credited, or was returned already.
    pub fn return_omni_payment(
        &self,
        account: AccountIndex,
        payment_id: &str,
        amount: Fixed,
    ) -> Result<Option<Durability>, ChangeError> {
        if !amount.is_positive() {
            return Err(ChangeError::Invalid(format!(
                "a returned deposit's amount must be positive; got {}",
                amount.money()
            )));
        }
        let durability = {
            let _gate = self.gate.exclusive();
            let returned = returned_payment_key(payment_id);
            if !self.seen_payments.contains(payment_id) || !self.seen_payments.first_time(&returned)
            {
                return Ok(None);
            }
            // Cannot fail: the amount is positive.
            let debit = Fixed::from_units(-amount.units());
            self.ledger.redo_omni_cash(account, debit)?;
            self.log(&[Record::OmniCash {
                amount: debit,
                payment_id: Some(returned),
                reason: Some("deposit returned by DriveWealth".to_owned()),
                account: self.ledger.account_number(account),
            }])
        };
        self.watch_omni_balance(&self.settings.load(), account);
        Ok(Some(durability))
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

/// The key under which a payment's return is remembered beside its credit (and logged, so
/// replay remembers it too).
fn returned_payment_key(payment_id: &str) -> String {
    format!("returned:{payment_id}")
}

/// What `learn` does with an update for an id not bound.
enum IfUnbound {
    /// Nothing: reported `UnknownOrder`.
    Drop,
    /// Parks it until the id is bound, with the clientOrderID and account it names.
    Park(Option<(String, AccountIndex)>),
}
