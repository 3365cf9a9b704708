//! What the engine logs: one [`Record`] per state change, in compact binary (see
//! [`crate::codec`]). The WAL stores and returns these as opaque bytes; what they mean, and how
//! they are encoded (`codec`) and dumped as JSON (`dump`), lives here with the engine that
//! writes and replays them.
//!
//! Records describe *effects*, not requests: a reservation is logged as the reservation it made,
//! and replay applies it without re-running the balance checks (the live path checked it, and
//! concurrent effects may reach the log in another order than they reached memory; all of them
//! commute). Each record's first byte is its tag; the tags are part of the on-disk format and
//! never change meaning.

use chrono::NaiveDate;

use crate::instruments::{AssetClass, Exchange, InstrumentStatus};
use crate::ledger::OrderStatus;
use crate::limits::{IdempotencyRecord, KillSwitchSetting, LimitPatch, ShardIds};
use crate::money::Fixed;

mod codec;
pub use codec::{bind_record, ReservationRecord};
mod dump;

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A BUY passed every rule and reserved its cost at the customer and the omni account.
    ReserveBuy {
        local: u64,
        client_id: String,
        symbol: String,
        per_share: Option<Fixed>,
        quantity: Option<Fixed>,
        amount_cash: Option<Fixed>,
        fee: Fixed,
        /// What the order added to the controls' memory (`None` in logs written before it was
        /// kept).
        controls: Option<OrderControls>,
        /// The `[[omnibus.accounts]]` number it reserved at; `None` for the only (shared) one.
        account: Option<String>,
        /// The order's `commissionRate` (zero without one, and in earlier logs).
        commission_rate: Fixed,
    },
    /// A SELL passed every rule and holds `quantity` of the position.
    ReserveSell {
        local: u64,
        client_id: String,
        symbol: String,
        quantity: Fixed,
        controls: Option<OrderControls>,
        /// The `[[omnibus.accounts]]` number it sells through; `None` for the only (shared) one.
        account: Option<String>,
        /// The order's commission, taken from its proceeds at its end (zero in earlier logs).
        fee: Fixed,
        commission_rate: Fixed,
    },
    /// An order that never traded gave back what it added to the controls' memory.
    ControlsReturned {
        client_id: String,
        controls: OrderControls,
    },
    /// The upstream took the order under `order_id`.
    Bind {
        local: u64,
        order_id: String,
    },
    /// The order never reached (or was refused by) the upstream: everything returns.
    Release {
        local: u64,
    },
    /// Sent without an answer, with what identifies it at DriveWealth until then (`None` in
    /// logs written before it was kept).
    InDoubt {
        local: u64,
        note: Option<crate::ledger::InDoubtNote>,
    },
    /// An operator settled an in-doubt order: placed under `order_id`, or not placed.
    Resolve {
        local: u64,
        order_id: Option<String>,
    },
    /// Upstream progress of an order (from a GET answer, an event or the poller).
    Update {
        order_id: String,
        status: OrderStatus,
        cumulative_quantity: Fixed,
        average_price: Fixed,
        fees: Option<Fixed>,
        /// The New York date the engine applied it on: what it newly filled settles T+1 from
        /// there. `None` in logs written before trades were dated (settles at the next roll).
        trade_day: Option<NaiveDate>,
    },
    /// An accepted order DriveWealth will hold for the open (for the cancel cut-off).
    Queued {
        order_id: String,
        exchange: Exchange,
        open_unix_s: i64,
    },
    CustomerNew {
        client_id: String,
        customer_id: String,
        cash: Fixed,
        positions: Vec<(String, Fixed)>,
    },
    /// A registration that replaced an existing customer's cash and positions, as deltas.
    CustomerReplace {
        client_id: String,
        cash_delta: Fixed,
        position_deltas: Vec<(String, Fixed)>,
    },
    /// A deposit (positive) or withdrawal (negative) of customer cash, with the risk officer's
    /// reason (`None` in logs written before reasons were kept).
    CustomerCash {
        client_id: String,
        amount: Fixed,
        reason: Option<String>,
    },
    Rekey {
        old: String,
        new: String,
    },
    /// A customer frozen (with the risk officer's reason) or unfrozen.
    Freeze {
        client_id: String,
        frozen: bool,
        reason: String,
    },
    /// Omni cash: a deposit (positive) or a withdrawal or adjustment (negative); `payment_id` for
    /// a `deposits.updated` event (credited once per id), `reason` for an admin change, `account`
    /// the omnibus account's number when there are several (`None`: the only or first one).
    OmniCash {
        amount: Fixed,
        payment_id: Option<String>,
        reason: Option<String>,
        account: Option<String>,
    },
    /// The settlement roll of business day `day` (T+1: trades dated before it settle). `None` in
    /// logs written before rolls were dated: everything pending settled.
    SettlementRolled {
        day: Option<NaiveDate>,
    },
    InstrumentUpsert(InstrumentEntry),
    InstrumentStatus {
        symbol: String,
        status: InstrumentStatus,
    },
    /// DriveWealth renamed a ticker: the instrument, positions and open orders moved.
    SymbolChanged {
        old: String,
        new: String,
    },
    Price {
        symbol: String,
        price: Fixed,
    },
    /// The kill switch as set (replaces the previous setting whole).
    KillSwitch(KillSwitchSetting),
    /// A temporary limit override for one customer.
    LimitOverride {
        client_id: String,
        limits: LimitPatch,
        expires_at_unix_ns: i64,
    },
    /// The first answer to an `Idempotency-Key`, kept for repeats.
    Idempotent(IdempotencyRecord),
    /// Snapshots only: a customer's BUY notional for one trading day.
    DailyBuyTotal {
        client_id: String,
        trading_day: NaiveDate,
        total: Fixed,
    },
    /// Snapshots only: one shard of the remembered `clientOrderID`s.
    ClientOrderIds(ShardIds),
    /// Replicated mode (SPEC §12): `node` took the lease and decides from the next record on.
    /// Changes nothing; it is the new leader's first record, so a deposed leader's next
    /// publish (which expects the stream to end at its own last record) is refused.
    Leader {
        node: String,
    },
}

/// What an accepted order adds to the controls that must survive a restart (SPEC §10): the
/// customer's BUY total for the trading day and its used `clientOrderID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderControls {
    /// New York trading date the notional counts toward.
    pub trading_day: NaiveDate,
    /// Zero for a SELL.
    pub buy_notional: Fixed,
    pub client_order_id: Option<String>,
    /// When the order was decided (the `clientOrderID`'s age).
    pub at_unix_ns: i64,
}

/// An instrument master entry as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentEntry {
    pub symbol: String,
    pub instrument_id: String,
    pub isin: Option<String>,
    pub asset_class: AssetClass,
    pub exchange: Exchange,
    pub status: InstrumentStatus,
    pub fractionable: bool,
    pub price: Option<Fixed>,
    pub order_size_min: Option<Fixed>,
    pub order_size_max: Option<Fixed>,
    pub order_size_step: Option<Fixed>,
}

mod tag {
    /// Before the controls' memory was logged: read without it, never written.
    pub const RESERVE_BUY_V1: u8 = 1;
    pub const RESERVE_SELL_V1: u8 = 2;
    pub const BIND: u8 = 3;
    pub const RELEASE: u8 = 4;
    /// Before the in-doubt note: read without one, never written.
    pub const IN_DOUBT_V1: u8 = 5;
    pub const IN_DOUBT: u8 = 10;
    pub const RESOLVE: u8 = 6;
    /// Before trades were dated: read as undated, never written.
    pub const UPDATE_V1: u8 = 7;
    pub const UPDATE: u8 = 9;
    pub const QUEUED: u8 = 8;
    /// Before accounts: read as the first account's, never written.
    pub const RESERVE_BUY_V2: u8 = 11;
    pub const RESERVE_SELL_V2: u8 = 12;
    pub const RESERVE_BUY: u8 = 14;
    pub const RESERVE_SELL: u8 = 15;
    pub const CONTROLS_RETURNED: u8 = 13;
    pub const CUSTOMER_NEW: u8 = 20;
    pub const CUSTOMER_REPLACE: u8 = 21;
    /// Before reasons were kept: read without one, never written.
    pub const CUSTOMER_CASH_V1: u8 = 22;
    pub const CUSTOMER_CASH: u8 = 25;
    pub const REKEY: u8 = 23;
    pub const FREEZE: u8 = 24;
    /// Before withdrawals, reasons and accounts: read as a deposit of the first account, never
    /// written.
    pub const OMNI_DEPOSIT_V1: u8 = 30;
    /// Before rolls were dated: read as undated, never written.
    pub const SETTLEMENT_ROLLED_V1: u8 = 31;
    pub const SETTLEMENT_ROLLED: u8 = 32;
    pub const OMNI_CASH: u8 = 33;
    /// Before ISINs: read as an entry without one, never written.
    pub const INSTRUMENT_UPSERT_V1: u8 = 40;
    pub const INSTRUMENT_STATUS: u8 = 41;
    pub const PRICE: u8 = 42;
    pub const INSTRUMENT_UPSERT: u8 = 43;
    pub const SYMBOL_CHANGED: u8 = 44;
    pub const KILL_SWITCH: u8 = 50;
    pub const LIMIT_OVERRIDE: u8 = 51;
    pub const IDEMPOTENT: u8 = 52;
    pub const DAILY_BUY_TOTAL: u8 = 53;
    pub const CLIENT_ORDER_IDS: u8 = 54;
    pub const LEADER: u8 = 60;
}

impl Record {
    /// The record's kind, for `omnigate wal dump` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::ReserveBuy { .. } => "reserve_buy",
            Record::ReserveSell { .. } => "reserve_sell",
            Record::Bind { .. } => "bind",
            Record::Release { .. } => "release",
            Record::InDoubt { .. } => "in_doubt",
            Record::Resolve { .. } => "resolve",
            Record::Update { .. } => "update",
            Record::Queued { .. } => "queued",
            Record::CustomerNew { .. } => "customer_new",
            Record::CustomerReplace { .. } => "customer_replace",
            Record::CustomerCash { .. } => "customer_cash",
            Record::Rekey { .. } => "rekey",
            Record::Freeze { .. } => "freeze",
            Record::ControlsReturned { .. } => "controls_returned",
            Record::DailyBuyTotal { .. } => "daily_buy_total",
            Record::ClientOrderIds(_) => "client_order_ids",
            Record::Leader { .. } => "leader",
            Record::OmniCash { .. } => "omni_cash",
            Record::SettlementRolled { .. } => "settlement_rolled",
            Record::InstrumentUpsert(_) => "instrument_upsert",
            Record::InstrumentStatus { .. } => "instrument_status",
            Record::SymbolChanged { .. } => "symbol_changed",
            Record::Price { .. } => "price",
            Record::KillSwitch(_) => "kill_switch",
            Record::LimitOverride { .. } => "limit_override",
            Record::Idempotent(_) => "idempotent",
        }
    }
}

#[cfg(test)]
mod tests;
