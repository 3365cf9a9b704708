//! The customer registry: one customer per clientID, one clientID per customerId (SPEC §4.1),
//! and each customer's cash, reservations and positions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::{add, sub, Ledger, LedgerError, Overflow};
use crate::cow::CowCell;
use crate::money::Fixed;

/// A customer's state; every field changes only under this cell's lock, taken with
/// [`Ledger::change`] (and so do the mutable parts of the customer's orders, see the module
/// docs). A snapshot reads the customer and its open orders together, as one cell.
pub(super) type CustomerCell = CowCell<CustomerState>;

pub(super) struct CustomerState {
    /// Changes only by `rekey`.
    pub(super) client_id: Box<str>,
    pub(super) customer_id: Box<str>,
    pub(super) cash: Fixed,
    /// Σ reservations of open BUYs, fees included (invariant 1).
    pub(super) reserved: Fixed,
    /// SELL proceeds awaiting settlement (`SellProceeds::OnSettlement`), one part per omnibus
    /// account sold through; not buying power yet. Empty parts are removed (usually there are
    /// none, so this costs no allocation).
    pub(super) unsettled: Vec<super::Unsettled>,
    /// Entries with zero quantity and nothing pending are removed, so this stays as small as the
    /// customer's real holdings.
    pub(super) positions: HashMap<Arc<str>, Position>,
    /// Local ids of open orders. A `Vec` keeps its capacity, so steady trading does not allocate.
    pub(super) open_orders: Vec<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) quantity: Fixed,
    /// Shares promised to open SELLs (invariant 2).
    pub(super) pending_sell: Fixed,
}

impl Position {
    pub(super) fn is_empty(&self) -> bool {
        self.quantity.is_zero() && self.pending_sell.is_zero()
    }
}

/// What [`Ledger::register`] did, so the caller can log its effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    /// A new customer (log it as itself: replayed by [`Ledger::redo_register_new`]).
    New,
    /// The cash and positions of an existing customer were replaced; replayed by
    /// [`Ledger::redo_replace`]. Deltas are new − old at the instant of the replace; only
    /// non-zero position changes are listed, sorted by symbol.
    Replaced {
        cash_delta: Fixed,
        position_deltas: Vec<(String, Fixed)>,
    },
}

impl CustomerState {
    /// `cash − reserved`; `None` only when that leaves the range (cash hugely negative), which
    /// callers treat as nothing available.
    pub(super) fn available(&self) -> Option<Fixed> {
        self.cash.checked_sub(self.reserved)
    }

    pub(super) fn forget_order(&mut self, local: u64) {
        if let Some(index) = self.open_orders.iter().position(|&id| id == local) {
            self.open_orders.swap_remove(index);
        }
    }

    pub(super) fn drop_empty_position(&mut self, symbol: &str) {
        if self.positions.get(symbol).is_some_and(Position::is_empty) {
            self.positions.remove(symbol);
        }
    }
}

/// `GET /admin/customers/{clientID}`. Money and quantities serialize as decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    #[serde(rename = "clientID")]
    pub client_id: String,
    pub customer_id: String,
    pub cash: Fixed,
    pub reserved: Fixed,
    /// `cash − reserved`; negative only after a fill above its reservation or an admin replace.
    pub available: Fixed,
    pub unsettled_proceeds: Fixed,
    /// Symbol → shares held (non-zero only).
    pub positions: BTreeMap<String, Fixed>,
    /// Symbol → shares promised to open SELLs (non-zero only).
    pub pending_sells: BTreeMap<String, Fixed>,
    /// Upstream orderIds of open orders; an order not bound yet (in flight or in doubt) shows its
    /// local id, `local-<n>`. Sorted by local id, i.e. by arrival.
    pub open_orders: Vec<String>,
}

impl Ledger {
    /// Registers a new customer, or replaces the cash and positions of the same
    /// clientID + customerId pair (open orders and their reservations stay). Binding a clientID
    /// to a second customerId, or a second clientID to a customerId, is a `Conflict` (409): the
    /// one way to change a clientID is [`Ledger::rekey`].
    ///
    /// A replace may leave cash below what open orders hold, or a position below its pending
    /// sells: the back office states the truth, and available simply goes negative until fills,
    /// cancels or deposits bring it back.
    ///
    /// Returns what it did, for the write-ahead log. A replace *sets* cash and positions, which
    /// does not commute with a fill racing it (the fill may be logged on either side of it), so
    /// it reports the change as deltas taken under the customer's lock (new − old); replaying
    /// those with [`Ledger::redo_replace`] gives the same result whatever the log order.
    pub fn register(
        &self,
        client_id: &str,
        customer_id: &str,
        cash: Fixed,
        positions: Vec<(String, Fixed)>,
    ) -> Result<Registered, LedgerError> {
        let holdings = self.holdings(client_id, customer_id, positions)?;
        let _registry = self.registry.lock();
        let existing = self
            .customers
            .get(client_id)
            .map(|entry| entry.value().clone());
        let Some(cell) = existing else {
            self.insert_customer(client_id, customer_id, cash, holdings)?;
            return Ok(Registered::New);
        };
        let mut customer = self.change(&cell);
        if *customer.customer_id != *customer_id {
            return Err(LedgerError::Conflict(format!(
                "clientID {client_id} is already registered to customerId {}; \
                 a clientID belongs to one customer",
                customer.customer_id
            )));
        }
        let (cash_delta, position_deltas) = replace_deltas(&customer, cash, &holdings)
            .map_err(|overflow| overflow.error("the change of cash or a position"))?;
        // Adding new − old gives exactly the new values, so the live call and its replay share
        // one code path.
        add_deltas(&mut customer, cash_delta, &position_deltas)
            .map_err(|overflow| overflow.error("the customer's cash or a position"))?;
        debug_assert_eq!(customer.cash, cash);
        Ok(Registered::Replaced {
            cash_delta,
            position_deltas: position_deltas
                .into_iter()
                .map(|(symbol, delta)| (symbol.to_string(), delta))
                .collect(),
        })
    }

    /// Checks a registration's ids and positions and interns the symbols.
    pub(super) fn holdings(
        &self,
        client_id: &str,
        customer_id: &str,
        positions: Vec<(String, Fixed)>,
    ) -> Result<Vec<(Arc<str>, Fixed)>, LedgerError> {
        if client_id.is_empty() || customer_id.is_empty() {
            return Err(LedgerError::Invalid(
                "clientID and customerId must not be empty".to_string(),
            ));
        }
        let mut holdings: Vec<(Arc<str>, Fixed)> = Vec::with_capacity(positions.len());
        for (symbol, quantity) in positions {
            if symbol.is_empty() {
                return Err(LedgerError::Invalid(
                    "a position has an empty symbol".to_string(),
                ));
            }
            if quantity.is_negative() {
                return Err(LedgerError::Invalid(format!(
                    "position {symbol} is negative ({quantity})"
                )));
            }
            if holdings.iter().any(|(held, _)| **held == *symbol) {
                return Err(LedgerError::Invalid(format!(
                    "position {symbol} is listed twice"
                )));
            }
            holdings.push((self.intern(&symbol), quantity));
        }
        Ok(holdings)
    }

    /// Adds a customer under a clientID and a customerId that are both unused. The caller holds
    /// the registry lock.
    pub(super) fn insert_customer(
        &self,
        client_id: &str,
        customer_id: &str,
        cash: Fixed,
        holdings: Vec<(Arc<str>, Fixed)>,
    ) -> Result<(), LedgerError> {
        // Cloned out first: no shard guard may be held while a customer lock is taken.
        let existing = self
            .customers
            .get(client_id)
            .map(|entry| entry.value().clone());
        if let Some(cell) = existing {
            // `register` turns this case into a replace before calling; a replayed registration
            // lands here only when the log and the ledger disagree.
            return Err(LedgerError::Conflict(format!(
                "clientID {client_id} is already registered to customerId {}",
                cell.read().customer_id
            )));
        }
        if let Some(other) = self.client_by_customer.get(customer_id) {
            return Err(LedgerError::Conflict(format!(
                "customerId {customer_id} is already registered with clientID {}; \
                 use the rekey call to change it",
                other.value()
            )));
        }
        let state = CustomerState {
            client_id: client_id.into(),
            customer_id: customer_id.into(),
            cash,
            reserved: Fixed::ZERO,
            unsettled: Vec::new(),
            positions: holdings
                .into_iter()
                .filter(|(_, quantity)| !quantity.is_zero())
                .map(|(symbol, quantity)| {
                    let position = Position {
                        quantity,
                        pending_sell: Fixed::ZERO,
                    };
                    (symbol, position)
                })
                .collect(),
            open_orders: Vec::new(),
        };
        self.customers
            .insert(client_id.into(), Arc::new(CowCell::new(state, &self.epoch)));
        self.client_by_customer
            .insert(customer_id.into(), client_id.into());
        Ok(())
    }

    /// Moves a customer — cash, positions, open orders — to a new clientID, which must be
    /// unused. The only way to change a clientID (SPEC §4.1); the caller logs it.
    pub fn rekey(&self, old_client_id: &str, new_client_id: &str) -> Result<(), LedgerError> {
        if new_client_id.is_empty() {
            return Err(LedgerError::Invalid(
                "the new clientID must not be empty".to_string(),
            ));
        }
        let _registry = self.registry.lock();
        if self.customers.contains_key(new_client_id) {
            return Err(LedgerError::Conflict(format!(
                "clientID {new_client_id} is already registered"
            )));
        }
        let cell = self
            .customers
            .get(old_client_id)
            .map(|entry| entry.value().clone())
            .ok_or_else(|| unknown_customer(old_client_id))?;
        let customer_id = {
            let mut customer = self.change(&cell);
            customer.client_id = new_client_id.into();
            customer.customer_id.clone()
        };
        // Orders hold the customer's `Arc`, not its clientID, so they follow without a walk.
        // New first, then old: an order racing the re-key finds the customer under either name.
        self.customers.insert(new_client_id.into(), cell);
        self.customers.remove(old_client_id);
        self.client_by_customer
            .insert(customer_id, new_client_id.into());
        Ok(())
    }

    /// Deposit (positive) or withdrawal (negative) of customer cash. A withdrawal beyond
    /// available (`cash − reserved`) is refused.
    pub fn adjust_cash(&self, client_id: &str, amount: Fixed) -> Result<CustomerView, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Invalid(
                "a cash adjustment must not be zero".to_string(),
            ));
        }
        let cell = self.customer_cell(client_id)?;
        let mut customer = self.change(&cell);
        if amount.is_negative() {
            let available = customer.available().unwrap_or(Fixed::ZERO);
            let withdrawal = amount.checked_neg().unwrap_or(Fixed::MAX);
            if withdrawal > available {
                return Err(LedgerError::BeyondAvailable {
                    code: crate::reject::RejectCode::InsufficientBuyingPower,
                    message: format!(
                        "withdrawal of {} is more than the {} available \
                         (cash {} minus {} reserved for open orders)",
                        withdrawal.money(),
                        available.money(),
                        customer.cash.money(),
                        customer.reserved.money()
                    ),
                });
            }
        }
        customer.cash =
            add(customer.cash, amount).map_err(|overflow| overflow.error("the customer's cash"))?;
        Ok(self.view_of(&customer))
    }

    /// Up to `limit` customers with a clientID after `after` (all when `None`), in clientID
    /// order: one page of `GET /admin/customers`. Reads every key once and keeps only the page
    /// (a bounded max-heap), so a page costs one pass, not a sort of the whole registry.
    ///
    /// Also answers the last clientID the page covered when it is full, the `after` of the next
    /// page: computed from the keys chosen, so a customer re-keyed between the two reads cannot
    /// end the paging early.
    pub fn customers_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<CustomerView>, Option<String>) {
        let mut page: std::collections::BinaryHeap<Box<str>> =
            std::collections::BinaryHeap::with_capacity(limit.saturating_add(1));
        for entry in self.customers.iter() {
            let key = entry.key();
            if after.is_some_and(|after| &**key <= after) {
                continue;
            }
            if page.len() < limit {
                page.push(key.clone());
            } else if page.peek().is_some_and(|largest| key < largest) {
                page.pop();
                page.push(key.clone());
            }
        }
        let keys = page.into_sorted_vec();
        let next = (keys.len() == limit)
            .then(|| keys.last().map(|key| key.to_string()))
            .flatten();
        let views = keys
            .iter()
            .filter_map(|client_id| self.customer(client_id))
            .collect();
        (views, next)
    }

    /// The `n` customers holding the most in reservations (ties by clientID), most first: one
    /// pass over the registry with a bounded heap. Customers holding nothing are left out.
    pub fn top_reserved(&self, n: usize) -> Vec<(String, Fixed)> {
        use std::cmp::Reverse;
        let mut top: std::collections::BinaryHeap<Reverse<(Fixed, Reverse<Box<str>>)>> =
            std::collections::BinaryHeap::with_capacity(n.saturating_add(1));
        for entry in self.customers.iter() {
            let reserved = entry.value().read().reserved;
            if reserved <= Fixed::ZERO {
                continue;
            }
            top.push(Reverse((reserved, Reverse(entry.key().clone()))));
            if top.len() > n {
                top.pop();
            }
        }
        top.into_sorted_vec()
            .into_iter()
            .map(|Reverse((reserved, Reverse(client_id)))| (client_id.to_string(), reserved))
            .collect()
    }

    /// The customer's balances, positions and open orders.
    pub fn customer(&self, client_id: &str) -> Option<CustomerView> {
        let cell = self.customers.get(client_id)?.value().clone();
        let customer = cell.read();
        Some(self.view_of(&customer))
    }

    /// Whether `client_id` is registered. On the order path: one map probe, no allocation.
    pub fn contains(&self, client_id: &str) -> bool {
        self.customers.contains_key(client_id)
    }

    pub(super) fn customer_cell(&self, client_id: &str) -> Result<Arc<CustomerCell>, LedgerError> {
        self.customers
            .get(client_id)
            .map(|entry| entry.value().clone())
            .ok_or_else(|| unknown_customer(client_id))
    }

    /// Builds a view; the caller holds the customer's lock, so it is one consistent instant.
    pub(super) fn view_of(&self, customer: &CustomerState) -> CustomerView {
        let mut positions = BTreeMap::new();
        let mut pending_sells = BTreeMap::new();
        for (symbol, position) in &customer.positions {
            if !position.quantity.is_zero() {
                positions.insert(symbol.to_string(), position.quantity);
            }
            if !position.pending_sell.is_zero() {
                pending_sells.insert(symbol.to_string(), position.pending_sell);
            }
        }
        let mut locals = customer.open_orders.clone();
        locals.sort_unstable();
        let open_orders = locals
            .into_iter()
            .map(|local| {
                let upstream = self
                    .orders
                    .get(&local)
                    .and_then(|order| order.upstream_order_id.as_deref().map(str::to_string));
                upstream.unwrap_or_else(|| super::LocalOrderId(local).to_string())
            })
            .collect();
        // Display only: a range overflow here (cash near −92 billion) shows the nearest value.
        let available = customer.available().unwrap_or_else(|| {
            Fixed::from_units(
                customer
                    .cash
                    .units()
                    .saturating_sub(customer.reserved.units()),
            )
        });
        CustomerView {
            client_id: customer.client_id.to_string(),
            customer_id: customer.customer_id.to_string(),
            cash: customer.cash,
            reserved: customer.reserved,
            available,
            unsettled_proceeds: super::settlement::total_of(&customer.unsettled),
            positions,
            pending_sells,
            open_orders,
        }
    }
}

fn unknown_customer(client_id: &str) -> LedgerError {
    LedgerError::NotFound(format!("clientID {client_id} is not a registered customer"))
}

/// Per symbol, the change of a position's quantity.
pub(super) type PositionDeltas = Vec<(Arc<str>, Fixed)>;

/// What a replace changes: cash `new − old`, and per symbol the position quantity `new − old`
/// (a held symbol missing from the new list goes to zero). Only non-zero changes, sorted by
/// symbol so the same replace always reports the same list.
fn replace_deltas(
    customer: &CustomerState,
    cash: Fixed,
    holdings: &[(Arc<str>, Fixed)],
) -> Result<(Fixed, PositionDeltas), Overflow> {
    let cash_delta = sub(cash, customer.cash)?;
    let mut deltas: BTreeMap<Arc<str>, Fixed> = BTreeMap::new();
    for (symbol, position) in &customer.positions {
        deltas.insert(
            symbol.clone(),
            position.quantity.checked_neg().ok_or(Overflow)?,
        );
    }
    for (symbol, quantity) in holdings {
        let held = customer
            .positions
            .get(symbol)
            .map_or(Fixed::ZERO, |position| position.quantity);
        deltas.insert(symbol.clone(), sub(*quantity, held)?);
    }
    let position_deltas = deltas
        .into_iter()
        .filter(|(_, delta)| !delta.is_zero())
        .collect();
    Ok((cash_delta, position_deltas))
}

/// Adds a replace's deltas to the customer, all or nothing. Positions left empty are dropped.
pub(super) fn add_deltas(
    customer: &mut CustomerState,
    cash_delta: Fixed,
    position_deltas: &[(Arc<str>, Fixed)],
) -> Result<(), Overflow> {
    let cash = add(customer.cash, cash_delta)?;
    let mut quantities = Vec::with_capacity(position_deltas.len());
    for (symbol, delta) in position_deltas {
        let held = customer
            .positions
            .get(symbol)
            .map_or(Fixed::ZERO, |position| position.quantity);
        quantities.push(add(held, *delta)?);
    }
    customer.cash = cash;
    for ((symbol, _), quantity) in position_deltas.iter().zip(quantities) {
        customer
            .positions
            .entry(symbol.clone())
            .or_default()
            .quantity = quantity;
        customer.drop_empty_position(symbol);
    }
    Ok(())
}

impl Ledger {
    /// DriveWealth renamed a ticker (`instruments.updated` with a new `symbol`): every position
    /// and open order in `old` moves to `new` (a position already in `new` is added to). The
    /// caller closes the mutation gate.
    pub fn rename_symbol(&self, old: &str, new: &str) -> Result<(), LedgerError> {
        let new_symbol = self.intern(new);
        let cells: Vec<_> = self
            .customers
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        for cell in cells {
            if !cell.read().positions.contains_key(old) {
                continue;
            }
            let mut customer = self.change(&cell);
            if let Some(moved) = customer.positions.remove(old) {
                let merged = customer.positions.entry(new_symbol.clone()).or_default();
                merged.quantity = add(merged.quantity, moved.quantity)
                    .map_err(|overflow| overflow.error("the renamed position"))?;
                merged.pending_sell = add(merged.pending_sell, moved.pending_sell)
                    .map_err(|overflow| overflow.error("the renamed pending sells"))?;
            }
        }
        let renamed: Vec<u64> = self
            .orders
            .iter()
            .filter(|entry| &*entry.symbol == old)
            .map(|entry| *entry.key())
            .collect();
        for local in renamed {
            let Some(cell) = self.order_customer(local) else {
                continue;
            };
            let _customer = self.change(&cell);
            if let Some(mut order) = self.change_order(local) {
                order.symbol = new_symbol.clone();
            }
        }
        Ok(())
    }
}
