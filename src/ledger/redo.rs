//! Replaying the write-ahead log into the ledger (SPEC §10).
//!
//! The live order path reserves first — the reservation *is* the check (STYLE habit 6) — and
//! logs the effect afterwards, so two operations racing each other may reach the log in the
//! other order than they reached the ledger. Replay therefore applies each recorded *effect*
//! unconditionally: the `redo_*` calls below never re-run a balance check (a reservation replayed
//! before the deposit that paid for it must still land). What they add are sums, which commute,
//! so the final state is the same whatever order concurrent records were logged in.
//!
//! What to log for each live call, and how to replay it:
//! - `reserve_buy` → local id: log the local id, clientID, symbol and the [`BuyCost`] passed in;
//!   replay with [`Ledger::redo_reserve_buy`].
//! - `reserve_sell` → local id: log the local id, clientID, symbol and quantity; replay with
//!   [`Ledger::redo_reserve_sell`].
//! - `adjust_cash`: log the clientID and amount; replay with [`Ledger::redo_adjust_cash`].
//! - `register` → [`Registered::New`]: log the arguments; replay with
//!   [`Ledger::redo_register_new`].
//! - `register` → [`Registered::Replaced`]: log the clientID and the returned deltas; replay with
//!   [`Ledger::redo_replace`].
//! - `bind`, `release`, `mark_in_doubt`, `resolve_in_doubt`, `apply_update`, `omni_deposit`,
//!   `set_credit_limit`, `roll_settlement_day`, `rekey`: log the arguments; replay with the same
//!   call.
//!
//! The calls of the last item are deterministic given the same prior state, and tolerant of
//! repeats where the live path is (`apply_update` by cumulative quantity, `bind` of the same id).
//! They are *not* all commutative, so the log must keep these orders (see "Persistence and log
//! order" in the [module docs](super)):
//! - all records of one order, in the order they were applied;
//! - a registration or re-key before any record that uses the clientID it binds;
//! - `roll_settlement_day` in its place relative to fills (`apply_update`);
//! - `set_credit_limit` relative to other `set_credit_limit` calls.
//!
//! Replay is single-threaded: the duplicate-id check and the insert of a replayed order are not
//! one atomic step.
//!
//! [`Registered::New`]: super::Registered::New
//! [`Registered::Replaced`]: super::Registered::Replaced

use std::sync::atomic::Ordering;

use super::customer::{add_deltas, CustomerState, PositionDeltas};
use super::orders::{Charges, Order};
use super::{add, AccountIndex, BuyCost, Ledger, LedgerError, LocalOrderId, OrderTerms};
use crate::money::Fixed;

impl Ledger {
    /// Replays a BUY's reservation: the order is created under exactly `local`, and its total
    /// (cost + fee, as [`BuyCost::cost`] computes it) is reserved at the customer and at the omni
    /// account with no availability check. `next_local_id` rises to at least `local + 1`.
    ///
    /// `NotFound` for an unknown customer, `Invalid` for a local id already open or terms the
    /// live path would not have accepted, `Overflow` when a sum leaves the range (nothing
    /// changed).
    pub fn redo_reserve_buy(
        &self,
        local: LocalOrderId,
        client_id: &str,
        symbol: &str,
        cost: BuyCost,
        account: AccountIndex,
    ) -> Result<(), LedgerError> {
        let (terms, total) = cost.terms().map_err(|reject| {
            LedgerError::Invalid(format!("replayed order {local}: {}", reject.message))
        })?;
        let next = id_after(local)?;
        let cell = self.customer_cell(client_id)?;
        let symbol = self.intern(symbol);

        let mut customer = self.change(&cell);
        self.check_vacant(local)?;
        let reserved_after = add(customer.reserved, total)
            .map_err(|overflow| overflow.error("the customer's reservation"))?;
        self.account(account)
            .reserve_unchecked(total)
            .map_err(|overflow| overflow.error("the omni account"))?;
        customer.reserved = reserved_after;
        let order = Order::opened(
            cell.clone(),
            account,
            symbol,
            terms,
            cost.charges(),
            total,
            self.epoch.running(),
        );
        self.open_replayed(&mut customer, local, order, next);
        Ok(())
    }

    /// Replays a SELL's reservation: the order is created under exactly `local` and `quantity`
    /// joins the position's pending sells without looking at the position (which may not even
    /// exist yet, if the fill that bought it is logged later). `next_local_id` rises to at least
    /// `local + 1`. Errors as [`Ledger::redo_reserve_buy`].
    pub fn redo_reserve_sell(
        &self,
        local: LocalOrderId,
        client_id: &str,
        symbol: &str,
        quantity: Fixed,
        charges: Charges,
        account: AccountIndex,
    ) -> Result<(), LedgerError> {
        if !quantity.is_positive() {
            return Err(LedgerError::Invalid(format!(
                "replayed order {local}: a SELL needs a positive quantity; got {quantity}"
            )));
        }
        let next = id_after(local)?;
        let cell = self.customer_cell(client_id)?;
        let symbol = self.intern(symbol);

        let mut customer = self.change(&cell);
        self.check_vacant(local)?;
        let held = customer.positions.get(&symbol).copied().unwrap_or_default();
        let pending_after = add(held.pending_sell, quantity)
            .map_err(|overflow| overflow.error("the pending sells"))?;
        customer
            .positions
            .entry(symbol.clone())
            .or_default()
            .pending_sell = pending_after;
        let order = Order::opened(
            cell.clone(),
            account,
            symbol,
            OrderTerms::Sell { quantity },
            charges,
            quantity,
            self.epoch.running(),
        );
        self.open_replayed(&mut customer, local, order, next);
        Ok(())
    }

    /// Replays a deposit (positive) or withdrawal (negative) without the available check the
    /// live [`Ledger::adjust_cash`] made.
    pub fn redo_adjust_cash(&self, client_id: &str, amount: Fixed) -> Result<(), LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Invalid(
                "a replayed cash adjustment is zero; the live call never logs one".to_string(),
            ));
        }
        let cell = self.customer_cell(client_id)?;
        let mut customer = self.change(&cell);
        customer.cash =
            add(customer.cash, amount).map_err(|overflow| overflow.error("the customer's cash"))?;
        Ok(())
    }

    /// Replays a registration that created a customer ([`Registered::New`](super::Registered)).
    /// `Conflict` if either id is taken (the log and the ledger disagree).
    pub fn redo_register_new(
        &self,
        client_id: &str,
        customer_id: &str,
        cash: Fixed,
        positions: Vec<(String, Fixed)>,
    ) -> Result<(), LedgerError> {
        let holdings = self.holdings(client_id, customer_id, positions)?;
        let _registry = self.registry.lock();
        self.insert_customer(client_id, customer_id, cash, holdings)
    }

    /// Replays a replace ([`Registered::Replaced`](super::Registered)): adds the deltas to cash
    /// and to each position's quantity. Open orders, reservations and pending sells are not
    /// touched, as in the live replace.
    pub fn redo_replace(
        &self,
        client_id: &str,
        cash_delta: Fixed,
        position_deltas: Vec<(String, Fixed)>,
    ) -> Result<(), LedgerError> {
        let mut deltas: PositionDeltas = Vec::with_capacity(position_deltas.len());
        for (symbol, delta) in position_deltas {
            if symbol.is_empty() {
                return Err(LedgerError::Invalid(
                    "a replayed replace has an empty symbol".to_string(),
                ));
            }
            if deltas.iter().any(|(seen, _)| **seen == *symbol) {
                return Err(LedgerError::Invalid(format!(
                    "a replayed replace lists {symbol} twice"
                )));
            }
            deltas.push((self.intern(&symbol), delta));
        }
        let cell = self.customer_cell(client_id)?;
        let mut customer = self.change(&cell);
        add_deltas(&mut customer, cash_delta, &deltas)
            .map_err(|overflow| overflow.error("the customer's cash or a position"))
    }

    /// `Invalid` if `local` is already open. The caller holds the owner's lock; replay is
    /// single-threaded, so nothing inserts the same id between this and the insert.
    fn check_vacant(&self, local: LocalOrderId) -> Result<(), LedgerError> {
        if self.orders.contains_key(&local.0) {
            return Err(LedgerError::Invalid(format!(
                "replayed order {local} is already open"
            )));
        }
        Ok(())
    }

    /// Records a replayed order; the caller holds its customer's lock and has reserved for it.
    fn open_replayed(
        &self,
        customer: &mut CustomerState,
        local: LocalOrderId,
        order: Box<Order>,
        next: u64,
    ) {
        self.orders.insert(local.0, order);
        customer.open_orders.push(local.0);
        self.next_local_id.fetch_max(next, Ordering::AcqRel);
    }
}

/// `local + 1`, the least `next_local_id` after replaying `local`. Local ids start at 1.
fn id_after(local: LocalOrderId) -> Result<u64, LedgerError> {
    local
        .0
        .checked_add(1)
        .filter(|_| local.0 != 0)
        .ok_or_else(|| LedgerError::Invalid(format!("replayed order {local}: id out of range")))
}
