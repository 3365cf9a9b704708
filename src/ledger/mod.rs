//! Buying power: customers' cash, reservations and positions, the omni account, and the orders
//! that move money between them (SPEC §5.1, §5.2, §6).
//!
//! Pure and in memory: no I/O, no clock, no HTTP. The write-ahead log, the admin API and the order
//! path call into it; it answers with data ([`Reject`](crate::reject::Reject), [`LedgerError`],
//! views).
//!
//! # Layout
//! - `customer`: the registry (`register`, `rekey`, `adjust_cash`, views).
//! - `omni`: the omnibus account, kept in atomics so the order path takes no global lock.
//! - `orders`: reserving BUYs and SELLs, releasing; `binding`: binding them to upstream ids
//!   (one open order per id), in doubt, resolution;
//!   `order_views`: listing them for the admin API.
//! - `fills`: applying upstream progress (`apply_update`).
//! - `settlement`: T+1 settlement rolls (`roll_settlement`).
//! - `invariants`: [`Ledger::check_invariants`], the whole-ledger audit the tests run.
//! - `persist`: snapshots — [`LedgerState`], [`Ledger::export_state`], [`Ledger::import_state`]
//!   and their binary encoding.
//! - `redo`: replaying the write-ahead log (`redo_reserve_buy`, `redo_replace`, …).
//!
//! # Money
//! Every amount is a [`Fixed`] (10⁻⁸ units in an `i64`); every operation is checked and an
//! overflow is an error that changes nothing. Reserve moves money from *available* to
//! *reserved*; a fill moves it from *reserved* to *spent* (cash debited) at the fill price.
//!
//! # Invariants (audited by [`Ledger::check_invariants`] when nothing is in flight)
//! 1. A customer's `reserved` = Σ `reserved` of its open BUY orders, and is never negative.
//! 2. A customer's pending sells in a symbol = Σ unfilled quantity of its open SELL orders there.
//! 3. Each omni account's `reserved` = Σ `reserved` of its open BUY orders, so Σ accounts'
//!    `reserved` = Σ customer `reserved` (every BUY reserves at both or at neither).
//! 4. omni `available` = `cash − reserved` (prefunded) or
//!    `credit_limit − pending_settlement − reserved` (cashless).
//! 5. Each omni account's `unsettled_proceeds` = Σ of its customers' held parts for it
//!    (`SellProceeds::OnSettlement`).
//! 6. A reservation is only ever made against what was available at that instant, so
//!    `reserved ≤ cash` right after every reserve. Only outside facts make `available` negative
//!    afterwards — a fill above the reserved price (money spent is spent), fees, or an admin
//!    replace that lowers cash — and then no BUY passes until it is positive again.
//!
//! # Locking (why it cannot deadlock, and why nothing is rejected spuriously)
//! Per customer, one `parking_lot::Mutex` guards its cash, reservations, positions and the
//! mutable part of its orders. Lock order is always: registry lock (admin calls only) → one
//! customer's mutex → omni atomics → `DashMap` shard guards (innermost, held for one map
//! operation and never while taking a customer lock). No path holds two customers at once.
//!
//! A BUY locks its customer, checks the customer's available amount, then reserves at the omni
//! account by compare-and-swap — the CAS *is* the check (STYLE habit 6) — and only then commits
//! the customer's side. If the omni CAS fails, nothing was changed at either side. A CAS fails
//! only when the omni available amount really is short (every successful CAS is final), so no
//! order is refused because of another order's half-done reservation.
//!
//! # Persistence and log order
//! Recovery is a snapshot ([`LedgerState`]) plus the write-ahead log replayed on top of it. Each
//! live call is logged *after* it changed the ledger, so records of concurrent calls may be
//! logged in another order than they were applied. Replay applies effects, not decisions: the
//! `redo_*` calls (module `redo`) add what the live call added without re-checking balances, and
//! a replace is logged as the deltas it made ([`Registered`]). Everything else replays through the
//! live call itself, which is deterministic given the same prior state.
//!
//! Sums commute, so records of *different* orders and customers may be logged in any
//! interleaving and replay still reaches the same state. What does not commute, and so must be
//! logged in the order it was applied (the writer's job, e.g. by logging under the same lock or
//! ticket that orders the change, or by closing the mutation gate around it):
//! - **One order's records.** `apply_update` is idempotent by cumulative quantity, which makes it
//!   order-dependent: of two updates with the same cumulative quantity and different average
//!   prices the first wins, and an amountCash BUY's reservation only ever shrinks
//!   (`min` with what it holds), so a corrected average applied in another order can leave a
//!   different reservation. An update logged before the `bind` that made it findable replays as
//!   `UnknownOrder` and its fill is lost: log the bind before the order's id can be answered.
//! - **Registrations and re-keys against the records that use their clientID.** The customer is
//!   visible to the order path the moment `register` or `rekey` returns; a reservation logged
//!   before the registration replays as `NotFound`. Log these admin changes before making them
//!   visible (or under the gate).
//! - **`roll_settlement_day` against fills.** A roll credits the unsettled proceeds and resets the
//!   cashless day's net *as they are at that instant*; a fill logged on the other side of the
//!   roll than it was applied lands on the other day. Roll with the mutation gate closed.
//! - **`set_credit_limit` against another `set_credit_limit`** (a SET of the line): only config
//!   reloads call it; serialise them.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::fast_map::{self, FastMap};
use parking_lot::{MappedMutexGuard, Mutex};

use crate::cow::SnapshotEpoch;
use crate::money::Fixed;

mod binding;
mod customer;
mod fills;
mod invariants;
mod omni;
mod order_views;
mod orders;
mod persist;
mod redo;
mod settlement;
#[cfg(test)]
mod tests;

pub use customer::{CustomerView, Registered};
pub use fills::{OrderStatus, OrderUpdate, UpdateOutcome};
pub use omni::{AccountIndex, AccountSpec, FundingKind, OmniView};
pub use order_views::{OrderState, OrderView};
pub use orders::{BuyCost, Charges, CustomerHandle, InDoubtNote, LocalOrderId, OrderTerms, Side};
use persist::KeptOrder;
pub use persist::{
    CustomerRecord, LedgerHead, LedgerState, OmniState, OrderRecord, PositionRecord,
    LEDGER_STATE_FORMAT,
};
pub use settlement::{LatestDay, Unsettled};

use customer::{CustomerCell, CustomerState};
use omni::Omni;
use orders::Order;

/// How the omni account is funded (`omnibus.funding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Funding {
    /// The partner deposits cash first; BUYs spend it. Depleted → only SELLs pass.
    Prefunded,
    /// Trades settle T+1 against a credit line: available = `credit_limit` − today's net
    /// settled-pending buys − reserved.
    Cashless { credit_limit: Fixed },
}

/// When SELL proceeds become buying power (`buying_power.sell_proceeds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SellProceeds {
    OnFill,
    /// Held as unsettled until [`Ledger::roll_settlement_day`].
    OnSettlement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    /// The first (with `account_numbers`, the only) omnibus account's funding.
    pub funding: Funding,
    pub sell_proceeds: SellProceeds,
}

/// Why an admin-side ledger call was refused. Order-path refusals are
/// [`Reject`](crate::reject::Reject)s instead.
///
/// The HTTP layer maps these once: `Conflict` → 409, `NotFound` → 404, `Invalid` → 400,
/// `Refused`, `BeyondAvailable` (with its code) and `Overflow` → 422.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A clientID/customerId binding clash (SPEC §4.1), or a re-key onto a used clientID.
    #[error("{0}")]
    Conflict(String),
    /// No such customer or order.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed (zero amount, negative quantity, …).
    #[error("{0}")]
    Invalid(String),
    /// Well-formed but not allowed (reserved for refusals that are not about a balance).
    #[error("{0}")]
    Refused(String),
    /// A withdrawal beyond what is available: `INSUFFICIENT_BUYING_POWER` at a customer,
    /// `INSUFFICIENT_OMNI_BUYING_POWER` at the omni account.
    #[error("{message}")]
    BeyondAvailable {
        code: crate::reject::RejectCode,
        message: String,
    },
    /// The result would leave the range of [`Fixed`]; nothing was changed.
    #[error("{0}")]
    Overflow(String),
}

/// The pure in-memory ledger. `Send + Sync`; share it as `Arc<Ledger>`.
pub struct Ledger {
    config: LedgerConfig,
    /// clientID → customer. The `Arc` is cloned out so no shard guard is held while working.
    customers: FastMap<Box<str>, Arc<CustomerCell>>,
    /// customerId → clientID: the other half of the one-to-one mapping (SPEC §4.1).
    client_by_customer: FastMap<Box<str>, Box<str>>,
    /// Serialises `register` and `rekey` so the two maps above change together. Admin calls
    /// only; the order path never takes it.
    registry: Mutex<()>,
    /// The omnibus accounts, in configuration order (never empty; at most 256).
    accounts: Box<[Omni]>,
    /// Open orders (including in doubt) by local id. Closed orders are removed: memory is
    /// bounded by what is open.
    orders: orders::OpenOrders,
    /// Upstream orderId → local id, for bound orders.
    local_by_upstream: FastMap<Box<str>, u64>,
    /// clientOrderID → local ids of the in-doubt orders sent with it (so an event naming it can
    /// bind the order without scanning the book). Several: a clientOrderID is unique per
    /// customer only, so two customers' orders may share one.
    in_doubt_by_client_order_id: FastMap<Box<str>, Vec<u64>>,
    /// Interned symbols, so an order record shares its symbol instead of allocating a copy.
    /// Bounded by the instrument master (only accepted orders and registered positions add).
    symbols: FastMap<Arc<str>, ()>,
    next_local_id: AtomicU64,
    /// The snapshot being read, if any (see [`crate::cow`]): customers and orders changed while
    /// it runs keep a copy of what they were when it began.
    epoch: SnapshotEpoch,
    /// Orders as they were when the running snapshot began, kept by the change (or close) that
    /// came first; the snapshot takes them. Orders are kept one by one, not with their customer,
    /// so a customer with many open orders costs a change no more than one with few.
    kept_orders: Mutex<Vec<KeptOrder>>,
    /// The business day of the last dated settlement roll (see `settlement`).
    last_roll: Mutex<Option<chrono::NaiveDate>>,
}

impl Ledger {
    /// A ledger with one omnibus account, funded as `config` says (`omnibus.account_numbers`).
    pub fn new(config: LedgerConfig) -> Ledger {
        Ledger::with_accounts(
            config.sell_proceeds,
            vec![AccountSpec {
                number: None,
                funding: config.funding,
            }],
        )
    }

    /// A ledger with these omnibus accounts (`[[omnibus.accounts]]`), each with its own balance.
    /// An empty list is one prefunded account; more than 256 are cut at 256 (the configuration
    /// refuses them before).
    pub fn with_accounts(sell_proceeds: SellProceeds, mut accounts: Vec<AccountSpec>) -> Ledger {
        if accounts.is_empty() {
            accounts.push(AccountSpec {
                number: None,
                funding: Funding::Prefunded,
            });
        }
        accounts.truncate(usize::from(u8::MAX) + 1);
        let config = LedgerConfig {
            funding: accounts[0].funding,
            sell_proceeds,
        };
        Ledger {
            config,
            customers: fast_map::large(),
            client_by_customer: fast_map::large(),
            registry: Mutex::new(()),
            accounts: accounts
                .iter()
                .map(|account| Omni::new(account.number.as_deref(), account.funding))
                .collect(),
            orders: fast_map::large(),
            local_by_upstream: fast_map::large(),
            in_doubt_by_client_order_id: FastMap::default(),
            symbols: FastMap::default(),
            next_local_id: AtomicU64::new(1),
            epoch: SnapshotEpoch::default(),
            kept_orders: Mutex::new(Vec::new()),
            last_roll: Mutex::new(None),
        }
    }

    /// Locks a customer to change it (or its orders): the one way to a `&mut CustomerState`,
    /// so a running snapshot first keeps the customer as it was (see [`crate::cow`]).
    fn change<'c>(&self, cell: &'c CustomerCell) -> MappedMutexGuard<'c, CustomerState> {
        cell.change(&self.epoch)
    }

    /// An open order to change; the caller holds its customer's lock (from [`Ledger::change`]).
    /// The one way to a `&mut Order` besides closing it ([`Ledger::keep_order`] first there).
    fn change_order(
        &self,
        local: u64,
    ) -> Option<dashmap::mapref::one::RefMut<'_, u64, Box<Order>>> {
        let mut order = self.orders.get_mut(&local)?;
        self.keep_order(local, &mut order);
        Some(order)
    }

    /// Keeps `order` as it is for a running snapshot that has not got it yet.
    fn keep_order(&self, local: u64, order: &mut Order) {
        let running = self.epoch.running();
        if running != 0 && order.seen_by != running {
            order.seen_by = running;
            self.kept_orders.lock().push(KeptOrder::of(local, order));
        }
    }

    /// [`Ledger::keep_order`] for an order leaving the map (nothing to mark: it is gone).
    fn keep_leaving(&self, local: u64, order: &Order) {
        let running = self.epoch.running();
        if running != 0 && order.seen_by != running {
            self.kept_orders.lock().push(KeptOrder::of(local, order));
        }
    }

    pub fn config(&self) -> LedgerConfig {
        self.config
    }

    /// The shared copy of `symbol`; allocates only the first time a symbol is seen.
    fn intern(&self, symbol: &str) -> Arc<str> {
        if let Some(entry) = self.symbols.get(symbol) {
            return entry.key().clone();
        }
        self.symbols
            .entry(Arc::from(symbol))
            .or_insert(())
            .key()
            .clone()
    }

    /// The customer that owns a local order (cloned out, no guard kept).
    fn order_customer(&self, local: u64) -> Option<Arc<CustomerCell>> {
        self.orders.get(&local).map(|order| order.customer.clone())
    }
}

/// Checked `a + b` for the many places where an overflow must become an error.
fn add(a: Fixed, b: Fixed) -> Result<Fixed, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// Checked `a − b`.
fn sub(a: Fixed, b: Fixed) -> Result<Fixed, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

/// An arithmetic result left the range of [`Fixed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Overflow;

impl Overflow {
    fn error(self, what: &str) -> LedgerError {
        LedgerError::Overflow(format!(
            "{what} would leave the representable range (±92,233,720,368.54775807)"
        ))
    }
}
