//! Snapshots of the whole ledger (SPEC §10): [`LedgerState`] is the ledger as plain data,
//! [`Ledger::export_state`] takes it, [`Ledger::import_state`] rebuilds a ledger from it, and
//! [`LedgerState::encode`] / [`LedgerState::decode`] ([`codec`]) carry it through the binary codec.
//!
//! # What is stored
//! Everything the ledger keeps except what it derives: every customer (ids, cash, reserved,
//! unsettled proceeds and their latest trade day's part, positions with their pending sells, open
//! order ids), every omni field with the last settlement roll, and
//! every open order (in doubt included) with its owner's clientID. Not stored: the interned
//! symbols (rebuilt on import), the two indexes (customerId → clientID and upstream id → local
//! id, rebuilt from the records), and the configuration (`sell_proceeds` and the funding kind
//! come from the [`LedgerConfig`] given to import, which checks that the state fits it).
//!
//! # Assertions on both sides (STYLE habit 8)
//! Export reads a ledger whose invariants hold. Import trusts nothing: it checks every record on
//! its own (ids present and unique, terms positive, charges not negative, no final status on an
//! open order, local ids below `next_local_id`, …), then builds the ledger and runs
//! [`Ledger::check_invariants`] over the whole of it. Any problem is an `Err` naming it; a
//! corrupt snapshot never panics and never yields a ledger whose books do not balance.
//!
//! # Encoding
//! Deterministic: customers sorted by clientID, positions by symbol, open-order ids ascending,
//! orders by local id, so one state always encodes to the same bytes whatever the order of its
//! vectors. It starts with [`LEDGER_STATE_FORMAT`]; any change of layout bumps it.

use std::collections::HashMap;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::customer::{CustomerCell, CustomerState, Position};
use super::orders::{Charges, Order};
use chrono::NaiveDate;

use super::{
    AccountIndex, AccountSpec, FundingKind, InDoubtNote, LatestDay, Ledger, LedgerConfig,
    LocalOrderId, OrderStatus, OrderTerms, SellProceeds, Unsettled,
};
use crate::cow::{CowCell, Freeze};
use crate::money::Fixed;

mod checks;
mod codec;

use checks::{check_config, check_order};

/// The first byte of an encoded [`LedgerState`]: the version of the layout below.
///
/// 2 added T+1 settlement: the latest trade day's part of each pending amount and the last roll.
/// Format 1 is still read (its pending amounts settle at the next roll, as they did then).
pub const LEDGER_STATE_FORMAT: u8 = 2;

/// The whole ledger as plain data: enough to rebuild it exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerState {
    /// The local id the next reservation gets (one above every id handed out so far).
    pub next_local_id: u64,
    /// The omnibus accounts in the ledger's order; orders and held proceeds name them by index
    /// into this list.
    pub accounts: Vec<OmniState>,
    /// The business day of the last dated settlement roll.
    pub last_roll: Option<NaiveDate>,
    /// Sorted by clientID when exported.
    pub customers: Vec<CustomerRecord>,
    /// Open orders, in doubt included; sorted by local id when exported.
    pub orders: Vec<OrderRecord>,
}

/// Every field of one omni account, as stored in its atomics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OmniState {
    /// `None` for the shared balance of `omnibus.account_numbers`.
    pub number: Option<String>,
    pub funding: FundingKind,
    pub cash: Fixed,
    pub reserved: Fixed,
    pub available: Fixed,
    /// Cashless: the day's net settled-pending buys. Always zero when prefunded.
    pub pending_settlement: Fixed,
    pub unsettled_proceeds: Fixed,
    /// Cashless: the credit line in force (it may differ from the configured one after a
    /// reload). Always zero when prefunded.
    pub credit_limit: Fixed,
    /// Cashless: the part of `pending_settlement` traded on the latest trade day.
    pub pending_latest: LatestDay,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRecord {
    pub client_id: String,
    pub customer_id: String,
    pub cash: Fixed,
    pub reserved: Fixed,
    /// SELL proceeds held for settlement, one part per account (by index into
    /// [`LedgerState::accounts`]); empty parts are left out.
    pub unsettled: Vec<Unsettled>,
    /// Non-empty positions only, sorted by symbol when exported.
    pub positions: Vec<PositionRecord>,
    /// Ascending when exported.
    pub open_orders: Vec<LocalOrderId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionRecord {
    pub symbol: String,
    pub quantity: Fixed,
    pub pending_sell: Fixed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    pub local_id: LocalOrderId,
    /// By index into [`LedgerState::accounts`].
    pub account: AccountIndex,
    /// The owner's clientID at the time of the snapshot.
    pub client_id: String,
    pub symbol: String,
    pub terms: OrderTerms,
    /// What the order pays at its end unless DriveWealth reports its fees: a fixed fee and a
    /// rate of the amount filled.
    pub fee: Fixed,
    pub commission_rate: Fixed,
    pub in_doubt: bool,
    /// An in-doubt order's clientOrderID and sending time.
    pub note: Option<InDoubtNote>,
    pub upstream_order_id: Option<String>,
    pub filled_quantity: Fixed,
    pub filled_amount: Fixed,
    /// BUY: cash held. SELL: shares held in pending sells.
    pub reserved: Fixed,
    pub status: Option<OrderStatus>,
}

/// What a snapshot reads of the ledger at its beginning, with every change paused: the omni
/// account and the next local id. The customers follow in [`Ledger::read_snapshot`].
#[derive(Debug)]
pub struct LedgerHead {
    running: u64,
    next_local_id: u64,
    accounts: Vec<OmniState>,
    last_roll: Option<NaiveDate>,
}

impl Freeze for CustomerState {
    /// The customer without its open orders: those are kept one by one ([`KeptOrder`]) and
    /// listed under their owner when the snapshot is assembled.
    type Frozen = Box<CustomerRecord>;
    fn freeze(&self) -> Self::Frozen {
        Box::new(customer_record(self))
    }
}

/// An open order as a snapshot keeps it: its record, and its owner as the customer cell's
/// address (the clientID is the owner's as of the snapshot's beginning, filled in when the
/// snapshot is assembled, so a re-key meanwhile cannot split a customer from its orders).
pub(super) struct KeptOrder {
    owner: usize,
    record: OrderRecord,
}

impl KeptOrder {
    pub(super) fn of(local: u64, order: &Order) -> KeptOrder {
        KeptOrder {
            owner: Arc::as_ptr(&order.customer) as usize,
            record: order_record(local, "", order),
        }
    }
}

impl Ledger {
    /// Takes the whole ledger as plain data, with no change in flight (tests and tools; the
    /// server reads snapshots with [`Ledger::begin_snapshot`] and [`Ledger::read_snapshot`]).
    pub fn export_state(&self) -> LedgerState {
        let head = self.begin_snapshot();
        self.read_snapshot(head)
    }

    /// Begins a snapshot of the ledger. The caller guarantees that no change is in flight (the
    /// server holds its gate exclusively): the omni atomics and the customers agree only when
    /// nothing is moving. Cheap: two atomics and the omni fields; no customer is visited.
    pub(crate) fn begin_snapshot(&self) -> LedgerHead {
        // Empty already (every kept order was taken by the snapshot it was kept for); cleared
        // so that nothing could outlive its snapshot.
        self.kept_orders.lock().clear();
        let running = self.epoch.begin();
        let load = |cell: &AtomicI64| Fixed::from_units(cell.load(Ordering::Acquire));
        LedgerHead {
            running,
            next_local_id: self.next_local_id.load(Ordering::Acquire),
            accounts: self
                .accounts
                .iter()
                .map(|omni| OmniState {
                    number: omni.number.as_deref().map(str::to_owned),
                    funding: omni.kind,
                    cash: load(&omni.cash),
                    reserved: load(&omni.reserved),
                    available: load(&omni.available),
                    pending_settlement: load(&omni.pending_settlement),
                    unsettled_proceeds: load(&omni.unsettled_proceeds),
                    credit_limit: load(&omni.credit_limit),
                    pending_latest: *omni.pending_latest.lock(),
                })
                .collect(),
            last_roll: *self.last_roll.lock(),
        }
    }

    /// Reads the snapshot `head` began, while orders go on: every customer, with its orders, as
    /// it was at the beginning (a customer changed since kept a copy; one registered since is
    /// left out). Then the snapshot ends.
    pub(crate) fn read_snapshot(&self, head: LedgerHead) -> LedgerState {
        let running = head.running;
        // Cloned out first: no shard guard may be held while a customer lock is taken. A
        // customer re-keyed meanwhile is found under one of its keys, or was copied by the
        // re-key itself before it moved; either way it is read once.
        let cells: Vec<Arc<CustomerCell>> = self
            .customers
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        let mut customers: Vec<CustomerRecord> = Vec::with_capacity(cells.len());
        let mut by_owner: HashMap<usize, usize> = HashMap::with_capacity(cells.len());
        for cell in &cells {
            if let Some(frozen) = cell.snapshot(running) {
                by_owner.insert(Arc::as_ptr(cell) as usize, customers.len());
                customers.push(*frozen);
            }
        }
        // Every order nobody changed since the beginning, read now under its customer's lock
        // (an order changed or closed meanwhile was kept before that, under the same lock).
        let open: Vec<(u64, Arc<CustomerCell>)> = self
            .orders
            .iter()
            .map(|entry| (*entry.key(), entry.customer.clone()))
            .collect();
        let mut kept: Vec<KeptOrder> = Vec::with_capacity(open.len());
        for (local, cell) in open {
            let _customer = cell.read();
            if let Some(mut order) = self.orders.get_mut(&local) {
                if order.seen_by != running {
                    order.seen_by = running;
                    kept.push(KeptOrder::of(local, &order));
                }
            }
        }
        self.epoch.end();
        kept.append(&mut self.kept_orders.lock());

        // Collected in place (a kept order becomes its record in the same buffer), so a million
        // open orders are not held twice while the snapshot turns one into the other.
        let mut orders: Vec<OrderRecord> = kept
            .into_iter()
            .filter_map(|KeptOrder { owner, mut record }| {
                // Every order open at the beginning has an owner registered by then.
                let Some(&index) = by_owner.get(&owner) else {
                    debug_assert!(
                        false,
                        "order {} has no customer in the snapshot",
                        record.local_id
                    );
                    return None;
                };
                record.client_id.clone_from(&customers[index].client_id);
                customers[index].open_orders.push(record.local_id);
                Some(record)
            })
            .collect();
        for customer in &mut customers {
            customer.open_orders.sort_unstable();
        }
        customers.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
        orders.sort_unstable_by_key(|order| order.local_id);
        LedgerState {
            next_local_id: head.next_local_id,
            accounts: head.accounts,
            last_roll: head.last_roll,
            customers,
            orders,
        }
    }

    /// Rebuilds a one-account ledger from a snapshot; see [`Ledger::import_state_with`].
    pub fn import_state(config: LedgerConfig, state: LedgerState) -> Result<Ledger, String> {
        Ledger::import_state_with(
            config.sell_proceeds,
            vec![AccountSpec {
                number: None,
                funding: config.funding,
            }],
            state,
        )
    }

    /// Rebuilds a ledger with the configured `accounts` from a snapshot: the customers and both
    /// halves of the clientID ↔ customerId mapping, the orders and the upstream-id index, the
    /// omni accounts; then audits the result with [`Ledger::check_invariants`].
    ///
    /// The configuration must fit the state: every account of the snapshot configured (by
    /// number; an account configured since starts empty), with the same funding kind, and
    /// `sell_proceeds = on_settlement` while any proceeds are still unsettled (otherwise no roll
    /// would ever credit them). The stored credit lines are restored as they were; a different
    /// configured line is applied by the caller afterwards with [`Ledger::set_credit_limit`], as
    /// a config reload would.
    ///
    /// Any inconsistency is an `Err` naming it, never a panic.
    pub fn import_state_with(
        sell_proceeds: SellProceeds,
        accounts: Vec<AccountSpec>,
        state: LedgerState,
    ) -> Result<Ledger, String> {
        if state.next_local_id == 0 {
            return Err("snapshot: next local id is 0; local ids start at 1".to_string());
        }
        let ledger = Ledger::with_accounts(sell_proceeds, accounts);
        // The snapshot's account i is the ledger's account remap[i].
        let mut remap = Vec::with_capacity(state.accounts.len());
        for stored in &state.accounts {
            let index = ledger.configured_account(stored)?;
            if remap.contains(&index) {
                return Err(format!(
                    "snapshot: account {} is listed twice",
                    stored.number.as_deref().unwrap_or("(shared)")
                ));
            }
            check_config(ledger.config, ledger.account(index).kind, stored)?;
            remap.push(index);
        }
        let remapped = |index: AccountIndex, what: &str| {
            remap
                .get(usize::from(index.0))
                .copied()
                .ok_or_else(|| format!("snapshot: {what} names account {}, not listed", index.0))
        };

        for mut record in state.customers {
            for part in &mut record.unsettled {
                part.account = remapped(part.account, &record.client_id)?;
            }
            ledger.import_customer(record)?;
        }
        for mut record in state.orders {
            record.account = remapped(record.account, &format!("order {}", record.local_id))?;
            ledger.import_order(record, state.next_local_id)?;
        }
        ledger
            .next_local_id
            .store(state.next_local_id, Ordering::Release);

        for (stored, &index) in state.accounts.iter().zip(&remap) {
            let omni = ledger.account(index);
            for (cell, value) in [
                (&omni.cash, stored.cash),
                (&omni.reserved, stored.reserved),
                (&omni.available, stored.available),
                (&omni.pending_settlement, stored.pending_settlement),
                (&omni.unsettled_proceeds, stored.unsettled_proceeds),
                (&omni.credit_limit, stored.credit_limit),
            ] {
                cell.store(value.units(), Ordering::Release);
            }
            *omni.pending_latest.lock() = stored.pending_latest;
        }
        *ledger.last_roll.lock() = state.last_roll;

        ledger
            .check_invariants()
            .map_err(|problems| format!("snapshot is inconsistent:\n{problems}"))?;
        Ok(ledger)
    }

    /// The configured account a snapshot's account is: the same number, or both the shared
    /// balance.
    fn configured_account(&self, stored: &OmniState) -> Result<AccountIndex, String> {
        let found = self
            .accounts
            .iter()
            .position(|omni| omni.number.as_deref() == stored.number.as_deref());
        match (found, &stored.number) {
            (Some(index), _) => Ok(AccountIndex(index as u8)),
            (None, Some(number)) => Err(format!(
                "snapshot: omnibus account {number} holds state but is not configured \
                 ([[omnibus.accounts]])"
            )),
            (None, None) => Err("snapshot: it keeps one shared omni balance \
                 (omnibus.account_numbers), but the configuration lists [[omnibus.accounts]]"
                .to_string()),
        }
    }

    fn import_customer(&self, record: CustomerRecord) -> Result<(), String> {
        let CustomerRecord {
            client_id,
            customer_id,
            cash,
            reserved,
            unsettled,
            positions: position_records,
            open_orders,
        } = record;
        if client_id.is_empty() || customer_id.is_empty() {
            return Err(format!(
                "snapshot: a customer has an empty clientID ({client_id:?}) or customerId \
                 ({customer_id:?})"
            ));
        }
        if self.customers.contains_key(client_id.as_str()) {
            return Err(format!("snapshot: clientID {client_id} is listed twice"));
        }
        if let Some(other) = self.client_by_customer.get(customer_id.as_str()) {
            return Err(format!(
                "snapshot: customerId {customer_id} belongs to both clientID {} and {client_id}",
                other.value()
            ));
        }
        let mut positions = HashMap::with_capacity(position_records.len());
        for position in position_records {
            if position.symbol.is_empty() {
                return Err(format!(
                    "snapshot: {client_id} has a position with an empty symbol"
                ));
            }
            let value = Position {
                quantity: position.quantity,
                pending_sell: position.pending_sell,
            };
            if positions
                .insert(self.intern(&position.symbol), value)
                .is_some()
            {
                return Err(format!(
                    "snapshot: {client_id} lists position {} twice",
                    position.symbol
                ));
            }
        }
        let state = CustomerState {
            client_id: client_id.as_str().into(),
            customer_id: customer_id.as_str().into(),
            cash,
            reserved,
            unsettled,
            positions,
            open_orders: open_orders.iter().map(|local| local.0).collect(),
        };
        self.customers.insert(
            client_id.as_str().into(),
            Arc::new(CowCell::new(state, &self.epoch)),
        );
        self.client_by_customer
            .insert(customer_id.into(), client_id.into());
        Ok(())
    }

    fn import_order(&self, record: OrderRecord, next_local_id: u64) -> Result<(), String> {
        let local = record.local_id;
        if local.0 == 0 || local.0 >= next_local_id {
            return Err(format!(
                "snapshot: order {local} is outside the ids handed out (1 to {})",
                next_local_id - 1
            ));
        }
        if self.orders.contains_key(&local.0) {
            return Err(format!("snapshot: order {local} is listed twice"));
        }
        check_order(&record)?;
        let customer = self
            .customers
            .get(record.client_id.as_str())
            .map(|entry| entry.value().clone())
            .ok_or_else(|| {
                format!(
                    "snapshot: order {local} belongs to clientID {}, which is not a customer",
                    record.client_id
                )
            })?;
        if let Some(upstream) = &record.upstream_order_id {
            if let Some(other) = self.local_by_upstream.get(upstream.as_str()) {
                return Err(format!(
                    "snapshot: upstream order id {upstream} is bound to both local-{} and {local}",
                    other.value()
                ));
            }
            self.local_by_upstream
                .insert(upstream.as_str().into(), local.0);
        }
        if let Some(client_order_id) = record
            .note
            .as_ref()
            .and_then(|n| n.client_order_id.as_ref())
        {
            self.index_note(client_order_id, local.0);
        }
        self.orders.insert(
            local.0,
            Box::new(Order {
                customer,
                account: record.account,
                symbol: self.intern(&record.symbol),
                terms: record.terms,
                charges: Charges {
                    fee: record.fee,
                    commission_rate: record.commission_rate,
                },
                in_doubt: record.in_doubt,
                note: record.note.clone().map(Box::new),
                upstream_order_id: record.upstream_order_id.map(String::into_boxed_str),
                filled_quantity: record.filled_quantity,
                filled_amount: record.filled_amount,
                reserved: record.reserved,
                status: record.status,
                seen_by: self.epoch.running(),
            }),
        );
        Ok(())
    }
}

fn customer_record(customer: &CustomerState) -> CustomerRecord {
    let mut positions: Vec<PositionRecord> = customer
        .positions
        .iter()
        .map(|(symbol, position)| PositionRecord {
            symbol: symbol.to_string(),
            quantity: position.quantity,
            pending_sell: position.pending_sell,
        })
        .collect();
    positions.sort_unstable_by(|a, b| a.symbol.cmp(&b.symbol));
    CustomerRecord {
        client_id: customer.client_id.to_string(),
        customer_id: customer.customer_id.to_string(),
        cash: customer.cash,
        reserved: customer.reserved,
        unsettled: customer.unsettled.clone(),
        positions,
        // Listed from the orders themselves when a snapshot is assembled.
        open_orders: Vec::new(),
    }
}

fn order_record(local: u64, client_id: &str, order: &Order) -> OrderRecord {
    OrderRecord {
        local_id: LocalOrderId(local),
        account: order.account,
        client_id: client_id.to_string(),
        symbol: order.symbol.to_string(),
        terms: order.terms,
        fee: order.charges.fee,
        commission_rate: order.charges.commission_rate,
        in_doubt: order.in_doubt,
        note: order.note.as_deref().cloned(),
        upstream_order_id: order.upstream_order_id.as_deref().map(str::to_string),
        filled_quantity: order.filled_quantity,
        filled_amount: order.filled_amount,
        reserved: order.reserved,
        status: order.status,
    }
}
