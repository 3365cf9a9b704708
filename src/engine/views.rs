//! What the engine lets its callers read: views for the admin API, the facts the HTTP front and
//! the feeds need, and the counts tests check. Nothing here moves money or writes the log (every
//! such change goes through the methods that log it); the two intake checks at the end remember
//! what they were shown (an `Idempotency-Key` in flight, an event id) so a repeat is seen as one.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::{Engine, Settings};
use crate::decide::decide_cancel;
use crate::instruments::{Instrument, InstrumentMaster};
use crate::ledger::{AccountIndex, CustomerView, OmniView, OrderState, OrderView};
use crate::limits::{Begin, ClientOverride, KillSwitchSetting, LimitOverride};
use crate::money::Fixed;
use crate::reject::Reject;

impl Engine {
    /// The engine's clock (the one every decision reads).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The settings in force (rules, limits, fees), swapped whole on reload.
    pub fn settings(&self) -> arc_swap::Guard<Arc<Settings>> {
        self.settings.load()
    }

    /// The instrument master, to read (changes go through [`Engine::upsert_instrument`],
    /// [`Engine::set_prices`], [`Engine::set_instrument_status`]).
    pub fn instruments(&self) -> &InstrumentMaster {
        &self.instruments
    }

    pub fn instrument(&self, symbol: &str) -> Option<Arc<Instrument>> {
        self.instruments.by_symbol(symbol)
    }

    pub fn instrument_by_id(&self, instrument_id: &str) -> Option<Arc<Instrument>> {
        self.instruments.by_instrument_id(instrument_id)
    }

    pub fn customer(&self, client_id: &str) -> Option<CustomerView> {
        self.ledger.customer(client_id)
    }

    /// Why a customer is frozen, when it is.
    pub fn freeze_reason(&self, client_id: &str) -> Option<String> {
        self.freezes.reason(client_id)
    }

    pub fn omni(&self) -> OmniView {
        self.ledger.omni()
    }

    pub fn orders(&self, state: OrderState) -> Vec<OrderView> {
        self.ledger.orders(state)
    }

    pub fn kill_switch_setting(&self) -> KillSwitchSetting {
        self.kill_switch.current().setting()
    }

    /// Every temporary limit override in force at `now`.
    pub fn limit_overrides(&self, now: DateTime<Utc>) -> Vec<ClientOverride> {
        self.settings.load().limits.overrides(now)
    }

    pub fn limit_override(&self, client_id: &str, now: DateTime<Utc>) -> Option<LimitOverride> {
        self.settings.load().limits.override_for(client_id, now)
    }

    pub fn is_omnibus_account(&self, account_no: &str) -> bool {
        self.settings.load().rules.is_omnibus_account(account_no)
    }

    /// The ledger's account an `accountNo` names (every number of `account_numbers` is the one
    /// shared balance).
    pub fn account_named(&self, account_no: &str) -> Option<AccountIndex> {
        self.settings
            .load()
            .rules
            .account(account_no)
            .map(|account| account.index)
    }

    /// Whether an upstream orderId is bound to an order omnigate still holds open.
    pub fn holds_order(&self, upstream_order_id: &str) -> bool {
        self.ledger.local_id_of(upstream_order_id).is_some()
    }

    /// One page of customers in clientID order (`GET /admin/customers`).
    pub fn customers_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<CustomerView>, Option<String>) {
        self.ledger.customers_page(after, limit)
    }

    /// The account whose DriveWealth accountID is `account_id` (`[[omnibus.accounts]]` only).
    pub fn account_with_id(&self, account_id: &str) -> Option<AccountIndex> {
        self.settings
            .load()
            .rules
            .account_with_id(account_id)
            .map(|account| account.index)
    }

    /// The in-doubt order sent with `client_order_id` through `account`.
    pub fn in_doubt_by_client_order_id(
        &self,
        client_order_id: &str,
        account: AccountIndex,
    ) -> Option<crate::ledger::LocalOrderId> {
        self.ledger
            .in_doubt_by_client_order_id(client_order_id, account)
    }

    /// Every omnibus account that has a DriveWealth accountID: (index, number, accountID).
    pub fn accounts_with_ids(&self) -> Vec<(AccountIndex, String, String)> {
        self.settings.load().rules.accounts_with_ids()
    }

    /// True with `omnibus.account_numbers` (one shared balance, no account ids).
    pub fn has_shared_balance(&self) -> bool {
        self.ledger.has_shared_balance()
    }

    pub fn omni_at(&self, account: AccountIndex) -> OmniView {
        self.ledger.omni_at(account)
    }

    /// Open and in-doubt order counts (the dashboard).
    pub fn order_counts(&self) -> (usize, usize) {
        self.ledger.order_counts()
    }

    /// The customers holding the most in reservations, most first (the dashboard).
    pub fn top_reserved(&self, n: usize) -> Vec<(String, Fixed)> {
        self.ledger.top_reserved(n)
    }

    /// Whose open order has this upstream id (the audit trail of a cancel).
    pub fn client_of_order(&self, upstream_order_id: &str) -> Option<String> {
        self.ledger
            .order_by_upstream(upstream_order_id)
            .map(|view| view.client_id)
    }

    /// Every omnibus account, in configuration order.
    pub fn omni_accounts(&self) -> Vec<OmniView> {
        self.ledger.omni_accounts()
    }

    pub fn is_trading_day(&self, day: NaiveDate) -> bool {
        self.settings.load().rules.calendar.is_trading_day(day)
    }

    /// The market calendar's last day and the days left until it from `today`; `None` for an
    /// empty calendar.
    pub fn calendar_end(&self, today: NaiveDate) -> Option<(NaiveDate, i64)> {
        let settings = self.settings.load();
        let calendar = &settings.rules.calendar;
        Some((calendar.ends()?, calendar.days_left(today)?))
    }

    /// The first sight of an `Idempotency-Key` (or its answer, or a wait for it).
    pub fn begin_idempotent(&self, key: &[u8], body: &[u8]) -> Result<Begin, Reject> {
        self.idempotency.begin(key, body, self.clock.now())
    }

    /// True the first time an event id is seen (redeliveries are dropped).
    pub fn first_sight_of_event(&self, event_id: &str) -> bool {
        self.seen_events.first_time(event_id)
    }

    /// `CANCEL_NOT_ALLOWED` for a cancel of an order queued for the open, inside its exchange's
    /// cut-off (SPEC §4.4).
    pub fn check_cancel(&self, order_id: &str) -> Result<(), Reject> {
        let now = self.clock.now();
        let queued = self.queued.get(order_id, now);
        decide_cancel(order_id, queued, &self.settings.load().rules, now)
    }

    /// A customer's BUY total for a trading day (for checks and tests).
    pub fn daily_buy_total(&self, client_id: &str, day: NaiveDate) -> Fixed {
        self.daily_buys.total(client_id, day)
    }

    /// `clientOrderID`s remembered for duplicate detection.
    pub fn client_order_ids_remembered(&self) -> usize {
        self.duplicates.remembered_ids()
    }

    /// The ledger's invariants (`Σ customer reserved = omni reserved`, …), for tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.ledger.check_invariants()
    }
}
