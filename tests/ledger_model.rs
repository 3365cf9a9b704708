//! The ledger against a plain sequential model, and under races.
//!
//! 1. `ledger_matches_the_model`: random sequences of registrations, re-keys, reservations, binds,
//!    releases, in-doubt resolutions, partial fills, fills, cancels, duplicate and out-of-order
//!    updates, deposits, withdrawals, omni deposits and withdrawals, credit-line changes, days
//!    passing and T+1 settlement rolls, on one omnibus account or two with separate balances
//!    (the generator in `common::ledger_ops`, shared with `ledger_persist.rs`). After every step
//!    each customer's cash / reserved / available / unsettled / positions / pending sells / open
//!    orders and every omni account's view equal a model written with plain `i128` arithmetic,
//!    which settles each trade by its trade day, and `check_invariants` holds.
//! 2. Races: many threads reserving at once never reserve more than was available and never
//!    refuse an order that fit (the number accepted is exact), and a full lifecycle race leaves
//!    the books consistent.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;

use common::ledger_ops::{
    fixed, op_strategy, setup_strategy, Op, Setup, CENT, CLIENTS, CUSTOMERS, SYMBOLS, UNIT,
};
use omnigate::ledger::{
    AccountIndex, AccountSpec, BuyCost, Charges, CustomerHandle, Funding, Ledger, LedgerConfig,
    LedgerError, LocalOrderId, OrderState, OrderStatus, OrderUpdate, SellProceeds, UpdateOutcome,
};
use omnigate::money::Fixed;
use omnigate::reject::{Reject, RejectCode};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

mod common;

fn ceil_mul(a: i128, b: i128) -> i128 {
    let product = a * b;
    (product + UNIT - 1).div_euclid(UNIT)
}

fn floor_mul(a: i128, b: i128) -> i128 {
    (a * b).div_euclid(UNIT)
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ModelCustomer {
    client_id: String,
    cash: i128,
    reserved: i128,
    /// SELL proceeds held, by (account, trade day).
    unsettled: BTreeMap<(usize, i64), i128>,
    /// symbol → (quantity, pending sells); empty entries removed, as in the ledger.
    positions: BTreeMap<String, (i128, i128)>,
}

#[derive(Clone, Copy, Debug)]
enum ModelTerms {
    Quantity { quantity: i128, per_share: i128 },
    Cash { amount: i128 },
    Sell { quantity: i128 },
}

#[derive(Clone, Debug)]
struct ModelOrder {
    local: LocalOrderId,
    account: usize,
    customer_id: String,
    symbol: String,
    terms: ModelTerms,
    fee: i128,
    upstream: Option<String>,
    in_doubt: bool,
    filled_quantity: i128,
    filled_amount: i128,
    reserved: i128,
    /// Updates sent so far, for duplicates and out-of-order replays.
    sent: Vec<OrderUpdate>,
}

impl ModelOrder {
    fn is_buy(&self) -> bool {
        !matches!(self.terms, ModelTerms::Sell { .. })
    }

    fn id(&self) -> String {
        self.upstream
            .clone()
            .unwrap_or_else(|| self.local.to_string())
    }
}

#[derive(Debug, Default)]
struct ModelAccount {
    cashless: bool,
    credit_limit: i128,
    cash: i128,
    reserved: i128,
    /// Cashless: net buys not settled yet, by trade day.
    pending: BTreeMap<i64, i128>,
    unsettled: i128,
}

impl ModelAccount {
    fn pending(&self) -> i128 {
        self.pending.values().sum()
    }

    fn available(&self) -> i128 {
        if self.cashless {
            self.credit_limit - self.pending() - self.reserved
        } else {
            self.cash - self.reserved
        }
    }
}

#[derive(Debug)]
struct Model {
    on_settlement: bool,
    accounts: Vec<ModelAccount>,
    /// The trade day of fills, as days from the common era.
    today: i64,
    /// customerId → customer.
    customers: BTreeMap<String, ModelCustomer>,
    /// clientID → customerId.
    clients: BTreeMap<String, String>,
    /// Open orders by local id.
    orders: BTreeMap<LocalOrderId, ModelOrder>,
}

impl Model {
    fn omni_available(&self, account: usize) -> i128 {
        self.accounts[account].available()
    }

    fn customer_by_client(&mut self, client: &str) -> Option<&mut ModelCustomer> {
        let customer_id = self.clients.get(client)?.clone();
        self.customers.get_mut(&customer_id)
    }

    /// Money leaving an omni account (negative: arriving), traded today.
    fn omni_spend(&mut self, account: usize, spent: i128) {
        let today = self.today;
        let account = &mut self.accounts[account];
        if account.cashless {
            if spent != 0 {
                *account.pending.entry(today).or_default() += spent;
            }
        } else {
            account.cash -= spent;
        }
    }

    fn register(
        &mut self,
        client: &str,
        customer_id: &str,
        cash: i128,
        positions: &[(String, i128)],
    ) -> Result<(), &'static str> {
        if let Some(bound) = self.clients.get(client) {
            if bound != customer_id {
                return Err("conflict");
            }
            let customer = self.customers.get_mut(customer_id).unwrap();
            customer.cash = cash;
            for entry in customer.positions.values_mut() {
                entry.0 = 0;
            }
            for (symbol, quantity) in positions {
                customer.positions.entry(symbol.clone()).or_default().0 = *quantity;
            }
            customer.positions.retain(|_, entry| *entry != (0, 0));
            return Ok(());
        }
        if self.customers.contains_key(customer_id) {
            return Err("conflict");
        }
        let positions = positions
            .iter()
            .filter(|(_, quantity)| *quantity != 0)
            .map(|(symbol, quantity)| (symbol.clone(), (*quantity, 0)))
            .collect();
        self.customers.insert(
            customer_id.to_string(),
            ModelCustomer {
                client_id: client.to_string(),
                cash,
                reserved: 0,
                unsettled: BTreeMap::new(),
                positions,
            },
        );
        self.clients
            .insert(client.to_string(), customer_id.to_string());
        Ok(())
    }

    fn rekey(&mut self, from: &str, to: &str) -> Result<(), &'static str> {
        if self.clients.contains_key(to) {
            return Err("conflict");
        }
        let Some(customer_id) = self.clients.remove(from) else {
            return Err("not found");
        };
        self.customers.get_mut(&customer_id).unwrap().client_id = to.to_string();
        self.clients.insert(to.to_string(), customer_id);
        Ok(())
    }

    fn reserve_buy(
        &mut self,
        client: &str,
        terms: ModelTerms,
        fee: i128,
        account: usize,
    ) -> Result<(), RejectCode> {
        let cost = match terms {
            ModelTerms::Quantity {
                quantity,
                per_share,
            } => ceil_mul(quantity, per_share),
            ModelTerms::Cash { amount } => amount,
            ModelTerms::Sell { .. } => unreachable!(),
        } + fee;
        let omni_available = self.omni_available(account);
        let Some(customer) = self.customer_by_client(client) else {
            return Err(RejectCode::ClientIdUnknown);
        };
        if customer.cash - customer.reserved < cost {
            return Err(RejectCode::InsufficientBuyingPower);
        }
        if omni_available < cost {
            return Err(RejectCode::InsufficientOmniBuyingPower);
        }
        customer.reserved += cost;
        self.accounts[account].reserved += cost;
        Ok(())
    }

    fn reserve_sell(
        &mut self,
        client: &str,
        symbol: &str,
        quantity: i128,
    ) -> Result<(), RejectCode> {
        let Some(customer) = self.customer_by_client(client) else {
            return Err(RejectCode::ClientIdUnknown);
        };
        match customer.positions.get_mut(symbol) {
            Some(entry) if quantity <= entry.0 - entry.1 => {
                entry.1 += quantity;
                Ok(())
            }
            _ => Err(RejectCode::InsufficientPosition),
        }
    }

    fn release(&mut self, local: LocalOrderId) {
        let order = self.orders.remove(&local).unwrap();
        let customer = self.customers.get_mut(&order.customer_id).unwrap();
        if order.is_buy() {
            customer.reserved -= order.reserved;
            self.accounts[order.account].reserved -= order.reserved;
        } else {
            let entry = customer.positions.get_mut(&order.symbol).unwrap();
            entry.1 -= order.reserved;
            if *entry == (0, 0) {
                customer.positions.remove(&order.symbol);
            }
        }
    }

    fn apply(&mut self, local: LocalOrderId, update: &OrderUpdate) -> UpdateOutcome {
        let order = self.orders.get(&local).unwrap().clone();
        let cumulative = update.cumulative_quantity.units() as i128;
        let average = update.average_price.units() as i128;
        let fees = update.fees.map(|fees| fees.units() as i128);
        let grows = cumulative > order.filled_quantity;
        let closes = update.status.is_final();
        if !grows && !closes {
            return UpdateOutcome::Duplicate;
        }
        let buy = order.is_buy();
        let (filled_quantity, filled_amount) = if grows {
            let amount = if buy {
                ceil_mul(cumulative, average)
            } else {
                floor_mul(cumulative, average)
            };
            (cumulative, amount)
        } else {
            (order.filled_quantity, order.filled_amount)
        };
        let newly_filled_amount = filled_amount - order.filled_amount;
        let newly_filled_quantity = filled_quantity - order.filled_quantity;
        let on_settlement = self.on_settlement;
        let today = self.today;
        let customer = self.customers.get_mut(&order.customer_id).unwrap();
        let entry = customer.positions.entry(order.symbol.clone()).or_default();
        let reserved;
        let (spent, unsettled);
        if buy {
            let fee_charged = match (closes, fees) {
                (false, _) => 0,
                (true, Some(fees)) => fees,
                (true, None) if filled_quantity > 0 => order.fee,
                (true, None) => 0,
            };
            reserved = if closes {
                0
            } else {
                let remainder = match order.terms {
                    ModelTerms::Quantity {
                        quantity,
                        per_share,
                    } => ceil_mul((quantity - filled_quantity).max(0), per_share),
                    ModelTerms::Cash { amount } => (amount - filled_amount).max(0),
                    ModelTerms::Sell { .. } => unreachable!(),
                };
                (remainder + order.fee).min(order.reserved)
            };
            let released = order.reserved - reserved;
            spent = newly_filled_amount + fee_charged;
            unsettled = 0;
            customer.cash -= spent;
            customer.reserved -= released;
            entry.0 += newly_filled_quantity;
            self.accounts[order.account].reserved -= released;
        } else {
            let ModelTerms::Sell { quantity } = order.terms else {
                unreachable!()
            };
            let fee_charged = if closes { fees.unwrap_or(0) } else { 0 };
            reserved = if closes {
                0
            } else {
                (quantity - filled_quantity).max(0).min(order.reserved)
            };
            entry.0 -= newly_filled_quantity;
            entry.1 -= order.reserved - reserved;
            if on_settlement {
                if newly_filled_amount != 0 {
                    *customer
                        .unsettled
                        .entry((order.account, today))
                        .or_default() += newly_filled_amount;
                }
                customer.cash -= fee_charged;
                spent = fee_charged;
                unsettled = newly_filled_amount;
            } else {
                customer.cash += newly_filled_amount - fee_charged;
                spent = fee_charged - newly_filled_amount;
                unsettled = 0;
            }
        }
        if *entry == (0, 0) {
            customer.positions.remove(&order.symbol);
        }
        self.omni_spend(order.account, spent);
        self.accounts[order.account].unsettled += unsettled;
        if closes {
            self.orders.remove(&local);
        } else {
            let order = self.orders.get_mut(&local).unwrap();
            order.filled_quantity = filled_quantity;
            order.filled_amount = filled_amount;
            order.reserved = reserved;
        }
        UpdateOutcome::Applied
    }

    /// The roll of `today`: everything traded before it settles (T+1), nothing of today's.
    fn roll(&mut self) {
        let today = self.today;
        if self.on_settlement {
            for customer in self.customers.values_mut() {
                let due: Vec<((usize, i64), i128)> = customer
                    .unsettled
                    .iter()
                    .filter(|((_, day), _)| *day < today)
                    .map(|(key, amount)| (*key, *amount))
                    .collect();
                for ((account, day), amount) in due {
                    customer.unsettled.remove(&(account, day));
                    customer.cash += amount;
                    let account = &mut self.accounts[account];
                    account.unsettled -= amount;
                    if !account.cashless {
                        account.cash += amount;
                    }
                }
            }
        }
        for account in &mut self.accounts {
            account.pending.retain(|day, _| *day >= today);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

struct Harness {
    ledger: Ledger,
    model: Model,
    fee: i128,
    next_upstream: u64,
    /// Upstream id and last update of every order that has closed.
    closed: Vec<(String, OrderUpdate)>,
    two_accounts: bool,
}

/// A Thursday: 2026-11-19, as days from the common era.
const FIRST_DAY: i64 = 739_939;

fn date(day: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_num_days_from_ce_opt(day as i32).unwrap()
}

impl Harness {
    fn new(setup: &Setup) -> Harness {
        let omni = setup.omni_cents * CENT;
        let config = setup.config();
        let mut specs = vec![AccountSpec {
            number: setup.two_accounts.then(|| "DWOM000001".to_owned()),
            funding: config.funding,
        }];
        let mut accounts = vec![ModelAccount {
            cashless: setup.cashless,
            credit_limit: if setup.cashless { omni } else { 0 },
            ..ModelAccount::default()
        }];
        if setup.two_accounts {
            specs.push(AccountSpec {
                number: Some("DWCR000001".to_owned()),
                funding: Funding::Prefunded,
            });
            accounts.push(ModelAccount::default());
        }
        let ledger = Ledger::with_accounts(config.sell_proceeds, specs);
        let mut model = Model {
            on_settlement: setup.on_settlement,
            accounts,
            today: FIRST_DAY,
            customers: BTreeMap::new(),
            clients: BTreeMap::new(),
            orders: BTreeMap::new(),
        };
        for (index, account) in model.accounts.iter_mut().enumerate() {
            if !account.cashless && omni > 0 {
                ledger
                    .omni_deposit_at(AccountIndex(index as u8), fixed(omni))
                    .unwrap();
                account.cash = omni;
            }
        }
        let mut harness = Harness {
            ledger,
            model,
            fee: setup.fee_cents * CENT,
            next_upstream: 1,
            closed: Vec::new(),
            two_accounts: setup.two_accounts,
        };
        for op in setup.registrations() {
            harness.step(&op);
        }
        harness
    }

    /// Orders matching `wanted`, by local id; `pick` chooses one.
    fn pick(&self, pick: usize, wanted: impl Fn(&ModelOrder) -> bool) -> Option<LocalOrderId> {
        let matching: Vec<LocalOrderId> = self
            .model
            .orders
            .values()
            .filter(|order| wanted(order))
            .map(|order| order.local)
            .collect();
        (!matching.is_empty()).then(|| matching[pick % matching.len()])
    }

    fn send(&mut self, local: LocalOrderId, update: OrderUpdate) {
        let upstream = self.model.orders[&local].upstream.clone().unwrap();
        let expected = self.model.apply(local, &update);
        let outcome = self
            .ledger
            .apply_update_on(&upstream, update, Some(date(self.model.today)));
        assert_eq!(outcome, expected, "update {update:?} to {upstream}");
        match self.model.orders.get_mut(&local) {
            Some(order) => order.sent.push(update),
            None => self.closed.push((upstream, update)),
        }
    }

    fn step(&mut self, op: &Op) {
        match op.clone() {
            Op::Register {
                client,
                customer,
                cash_cents,
                positions,
            } => {
                let mut holdings: BTreeMap<String, i128> = BTreeMap::new();
                for (symbol, halves) in positions {
                    holdings.insert(SYMBOLS[symbol].to_string(), halves * UNIT / 2);
                }
                let holdings: Vec<(String, i128)> = holdings.into_iter().collect();
                let expected = self.model.register(
                    CLIENTS[client],
                    CUSTOMERS[customer],
                    cash_cents * CENT,
                    &holdings,
                );
                let result = self.ledger.register(
                    CLIENTS[client],
                    CUSTOMERS[customer],
                    fixed(cash_cents * CENT),
                    holdings
                        .iter()
                        .map(|(symbol, quantity)| (symbol.clone(), fixed(*quantity)))
                        .collect(),
                );
                match expected {
                    Ok(()) => {
                        result.unwrap();
                    }
                    Err(_) => assert!(matches!(result, Err(LedgerError::Conflict(_)))),
                }
            }
            Op::Rekey { from, to } => {
                let expected = self.model.rekey(CLIENTS[from], CLIENTS[to]);
                let result = self.ledger.rekey(CLIENTS[from], CLIENTS[to]);
                match expected {
                    Ok(()) => result.unwrap(),
                    Err("conflict") => assert!(matches!(result, Err(LedgerError::Conflict(_)))),
                    Err(_) => assert!(matches!(result, Err(LedgerError::NotFound(_)))),
                }
            }
            Op::LimitBuy {
                client,
                symbol,
                quantity,
                price_cents,
            } => {
                let terms = ModelTerms::Quantity {
                    quantity: quantity * UNIT,
                    per_share: price_cents * CENT,
                };
                let cost = BuyCost {
                    per_share: Some(fixed(price_cents * CENT)),
                    quantity: Some(fixed(quantity * UNIT)),
                    amount_cash: None,
                    fee: fixed(self.fee),
                    commission_rate: Fixed::ZERO,
                };
                self.buy(client, symbol, terms, cost);
            }
            Op::CashBuy {
                client,
                symbol,
                amount_cents,
            } => {
                let terms = ModelTerms::Cash {
                    amount: amount_cents * CENT,
                };
                let cost = BuyCost {
                    per_share: None,
                    quantity: None,
                    amount_cash: Some(fixed(amount_cents * CENT)),
                    fee: fixed(self.fee),
                    commission_rate: Fixed::ZERO,
                };
                self.buy(client, symbol, terms, cost);
            }
            Op::BoundaryBuy {
                client,
                of_omni,
                nudge_units,
            } => {
                let omni_available = self.model.omni_available(0);
                let Some(customer) = self.model.customer_by_client(CLIENTS[client]) else {
                    return;
                };
                let available = if of_omni {
                    omni_available
                } else {
                    customer.cash - customer.reserved
                };
                let amount = available - self.fee + nudge_units;
                if amount > 0 && amount < i64::MAX as i128 {
                    let terms = ModelTerms::Cash { amount };
                    let cost = BuyCost {
                        per_share: None,
                        quantity: None,
                        amount_cash: Some(fixed(amount)),
                        fee: fixed(self.fee),
                        commission_rate: Fixed::ZERO,
                    };
                    self.buy(client, 0, terms, cost);
                }
            }
            Op::Sell {
                client,
                symbol,
                quantity_units,
            } => {
                let account = self.account_of(symbol);
                let (client, symbol) = (CLIENTS[client], SYMBOLS[symbol]);
                let expected = self.model.reserve_sell(client, symbol, quantity_units);
                let result = self.customer(client).and_then(|customer| {
                    self.ledger.reserve_sell_checked(
                        &customer,
                        symbol,
                        fixed(quantity_units),
                        Charges::default(),
                        AccountIndex(account as u8),
                        &|_| Ok(()),
                    )
                });
                match (expected, result) {
                    (Ok(()), Ok(local)) => self.opened(
                        local,
                        client,
                        symbol,
                        ModelTerms::Sell {
                            quantity: quantity_units,
                        },
                        0,
                        account,
                    ),
                    (Err(code), Err(reject)) => assert_eq!(reject.code, code, "{reject}"),
                    (expected, result) => panic!("model {expected:?}, ledger {result:?}"),
                }
            }
            Op::Bind { pick } => {
                if let Some(local) = self.pick(pick, |order| order.upstream.is_none()) {
                    let upstream = format!("DW-{}", self.next_upstream);
                    self.next_upstream += 1;
                    self.ledger.bind(local, &upstream).unwrap();
                    let order = self.model.orders.get_mut(&local).unwrap();
                    order.upstream = Some(upstream);
                    order.in_doubt = false;
                }
            }
            Op::Release { pick } => {
                if let Some(local) = self.pick(pick, |order| order.upstream.is_none()) {
                    self.ledger.release(local).unwrap();
                    self.model.release(local);
                }
            }
            Op::MarkInDoubt { pick } => {
                let target = self.pick(pick, |order| order.upstream.is_none() && !order.in_doubt);
                if let Some(local) = target {
                    self.ledger.mark_in_doubt(local).unwrap();
                    self.model.orders.get_mut(&local).unwrap().in_doubt = true;
                }
            }
            Op::Resolve { pick, placed } => {
                if let Some(local) = self.pick(pick, |order| order.in_doubt) {
                    if placed {
                        let upstream = format!("DW-{}", self.next_upstream);
                        self.next_upstream += 1;
                        self.ledger
                            .resolve_in_doubt(local, Some(&upstream))
                            .unwrap();
                        let order = self.model.orders.get_mut(&local).unwrap();
                        order.upstream = Some(upstream);
                        order.in_doubt = false;
                    } else {
                        self.ledger.resolve_in_doubt(local, None).unwrap();
                        self.model.release(local);
                    }
                }
            }
            Op::PartialFill {
                pick,
                quarters,
                price_cents,
            } => {
                if let Some(local) = self.pick(pick, |order| order.upstream.is_some()) {
                    let order = &self.model.orders[&local];
                    let step = match order.terms {
                        ModelTerms::Quantity { quantity, .. } | ModelTerms::Sell { quantity } => {
                            ((quantity - order.filled_quantity) * quarters / 4).max(1)
                        }
                        ModelTerms::Cash { .. } => quarters * UNIT / 10,
                    };
                    let update = OrderUpdate {
                        status: OrderStatus::PartialFill,
                        cumulative_quantity: fixed(order.filled_quantity + step),
                        average_price: fixed(price_cents * CENT),
                        fees: None,
                    };
                    self.send(local, update);
                }
            }
            Op::Fill {
                pick,
                tenths,
                price_cents,
                fees_cents,
            } => {
                if let Some(local) = self.pick(pick, |order| order.upstream.is_some()) {
                    let order = &self.model.orders[&local];
                    let cumulative = match order.terms {
                        ModelTerms::Quantity { quantity, .. } | ModelTerms::Sell { quantity } => {
                            quantity
                        }
                        ModelTerms::Cash { .. } => order.filled_quantity + tenths * UNIT / 10,
                    };
                    let update = OrderUpdate {
                        status: OrderStatus::Filled,
                        cumulative_quantity: fixed(cumulative),
                        average_price: fixed(price_cents * CENT),
                        fees: fees_cents.map(|cents| fixed(cents * CENT)),
                    };
                    self.send(local, update);
                }
            }
            Op::Cancel {
                pick,
                rejected,
                fees_cents,
            } => {
                if let Some(local) = self.pick(pick, |order| order.upstream.is_some()) {
                    let order = &self.model.orders[&local];
                    let average = order
                        .sent
                        .last()
                        .map_or(Fixed::ZERO, |last| last.average_price);
                    let update = OrderUpdate {
                        status: if rejected {
                            OrderStatus::Rejected
                        } else {
                            OrderStatus::Canceled
                        },
                        cumulative_quantity: fixed(order.filled_quantity),
                        average_price: average,
                        fees: fees_cents.map(|cents| fixed(cents * CENT)),
                    };
                    self.send(local, update);
                }
            }
            Op::Duplicate { pick } => {
                if let Some(local) = self.pick(pick, |order| !order.sent.is_empty()) {
                    let last = *self.model.orders[&local].sent.last().unwrap();
                    self.send(local, last);
                }
            }
            Op::OutOfOrder { pick } => {
                if let Some(local) = self.pick(pick, |order| order.sent.len() >= 2) {
                    let first = self.model.orders[&local].sent[0];
                    self.send(local, first);
                }
            }
            Op::Stray => {
                let update = OrderUpdate {
                    status: OrderStatus::Filled,
                    cumulative_quantity: fixed(UNIT),
                    average_price: fixed(UNIT),
                    fees: None,
                };
                let outcome = self.ledger.apply_update("never-bound", update);
                assert_eq!(outcome, UpdateOutcome::UnknownOrder);
            }
            Op::ReplayClosed { pick } => {
                if !self.closed.is_empty() {
                    let (upstream, update) = self.closed[pick % self.closed.len()].clone();
                    let outcome = self.ledger.apply_update(&upstream, update);
                    assert_eq!(outcome, UpdateOutcome::UnknownOrder);
                }
            }
            Op::Deposit { client, cents } => {
                let client = CLIENTS[client];
                let result = self.ledger.adjust_cash(client, fixed(cents * CENT));
                match self.model.customer_by_client(client) {
                    Some(customer) => {
                        customer.cash += cents * CENT;
                        result.unwrap();
                    }
                    None => assert!(matches!(result, Err(LedgerError::NotFound(_)))),
                }
            }
            Op::Withdraw { client, cents } => {
                let client = CLIENTS[client];
                let result = self.ledger.adjust_cash(client, fixed(-cents * CENT));
                match self.model.customer_by_client(client) {
                    Some(customer) if customer.cash - customer.reserved >= cents * CENT => {
                        customer.cash -= cents * CENT;
                        result.unwrap();
                    }
                    Some(_) => assert!(matches!(result, Err(LedgerError::BeyondAvailable { .. }))),
                    None => assert!(matches!(result, Err(LedgerError::NotFound(_)))),
                }
            }
            Op::OmniDeposit { cents } => {
                self.ledger.omni_deposit(fixed(cents * CENT)).unwrap();
                self.model.accounts[0].cash += cents * CENT;
            }
            Op::OmniWithdraw { second, cents } => {
                let index = usize::from(second && self.two_accounts);
                let amount = cents * CENT;
                let result = self
                    .ledger
                    .omni_cash_at(AccountIndex(index as u8), fixed(-amount));
                let account = &mut self.model.accounts[index];
                // Prefunded: up to available. Cashless: up to what was deposited.
                let room = if account.cashless {
                    account.cash
                } else {
                    account.available()
                };
                if amount <= room {
                    result.unwrap();
                    account.cash -= amount;
                } else {
                    assert!(
                        matches!(
                            result,
                            Err(LedgerError::BeyondAvailable {
                                code: RejectCode::InsufficientOmniBuyingPower,
                                ..
                            })
                        ),
                        "{result:?}"
                    );
                }
            }
            Op::NextDay { days } => self.model.today += days,
            Op::CreditLimit { cents } => {
                let result = self
                    .ledger
                    .set_credit_limit(AccountIndex(0), fixed(cents * CENT));
                if self.model.accounts[0].cashless {
                    result.unwrap();
                    self.model.accounts[0].credit_limit = cents * CENT;
                } else {
                    assert!(matches!(result, Err(LedgerError::Invalid(_))), "{result:?}");
                }
            }
            Op::Roll => {
                self.ledger.roll_settlement(date(self.model.today)).unwrap();
                self.model.roll();
            }
        }
    }

    /// The account orders for `symbol` go through: odd symbols through the second, if any.
    fn account_of(&self, symbol: usize) -> usize {
        if self.two_accounts {
            symbol % 2
        } else {
            0
        }
    }

    /// The customer to reserve for, found as the decision finds it (`CLIENT_ID_UNKNOWN` if not).
    fn customer(&self, client: &str) -> Result<CustomerHandle, Reject> {
        self.ledger
            .customer_handle(client)
            .ok_or_else(|| Reject::new(RejectCode::ClientIdUnknown, "not registered"))
    }

    fn buy(&mut self, client: usize, symbol: usize, terms: ModelTerms, cost: BuyCost) {
        let account = self.account_of(symbol);
        let (client, symbol) = (CLIENTS[client], SYMBOLS[symbol]);
        let expected = self.model.reserve_buy(client, terms, self.fee, account);
        let result = self.customer(client).and_then(|customer| {
            self.ledger.reserve_buy_checked(
                &customer,
                symbol,
                cost,
                AccountIndex(account as u8),
                &|_| Ok(()),
            )
        });
        match (expected, result) {
            (Ok(()), Ok(local)) => self.opened(local, client, symbol, terms, self.fee, account),
            (Err(code), Err(reject)) => assert_eq!(reject.code, code, "{reject}"),
            (expected, result) => panic!("model {expected:?}, ledger {result:?}"),
        }
    }

    fn opened(
        &mut self,
        local: LocalOrderId,
        client: &str,
        symbol: &str,
        terms: ModelTerms,
        fee: i128,
        account: usize,
    ) {
        let reserved = match terms {
            ModelTerms::Quantity {
                quantity,
                per_share,
            } => ceil_mul(quantity, per_share) + fee,
            ModelTerms::Cash { amount } => amount + fee,
            ModelTerms::Sell { quantity } => quantity,
        };
        let order = ModelOrder {
            local,
            account,
            customer_id: self.model.clients[client].clone(),
            symbol: symbol.to_string(),
            terms,
            fee,
            upstream: None,
            in_doubt: false,
            filled_quantity: 0,
            filled_amount: 0,
            reserved,
            sent: Vec::new(),
        };
        assert!(self.model.orders.insert(local, order).is_none());
    }

    /// Every number the ledger shows equals the model's, and the ledger's own audit passes.
    fn compare(&self, step: usize, op: &Op) {
        let at = format!("after step {step} ({op:?})");
        for client in CLIENTS {
            let Some(customer_id) = self.model.clients.get(client) else {
                assert!(
                    !self.ledger.contains(client),
                    "{at}: {client} should be unknown"
                );
                assert!(self.ledger.customer(client).is_none(), "{at}");
                continue;
            };
            assert!(
                self.ledger.contains(client),
                "{at}: {client} should be known"
            );
            let model = &self.model.customers[customer_id];
            let view = self.ledger.customer(client).unwrap();
            assert_eq!(view.client_id, client, "{at}");
            assert_eq!(model.client_id, client, "{at}");
            assert_eq!(&view.customer_id, customer_id, "{at}");
            assert_eq!(view.cash, fixed(model.cash), "{at}: {client} cash");
            assert_eq!(
                view.reserved,
                fixed(model.reserved),
                "{at}: {client} reserved"
            );
            assert_eq!(
                view.available,
                fixed(model.cash - model.reserved),
                "{at}: {client} available"
            );
            assert_eq!(
                view.unsettled_proceeds,
                fixed(model.unsettled.values().sum()),
                "{at}: {client} unsettled"
            );
            let positions: BTreeMap<String, Fixed> = model
                .positions
                .iter()
                .filter(|(_, entry)| entry.0 != 0)
                .map(|(symbol, entry)| (symbol.clone(), fixed(entry.0)))
                .collect();
            assert_eq!(view.positions, positions, "{at}: {client} positions");
            let pending: BTreeMap<String, Fixed> = model
                .positions
                .iter()
                .filter(|(_, entry)| entry.1 != 0)
                .map(|(symbol, entry)| (symbol.clone(), fixed(entry.1)))
                .collect();
            assert_eq!(view.pending_sells, pending, "{at}: {client} pending sells");
            let open: Vec<String> = self
                .model
                .orders
                .values()
                .filter(|order| &order.customer_id == customer_id)
                .map(ModelOrder::id)
                .collect();
            assert_eq!(view.open_orders, open, "{at}: {client} open orders");
        }

        let views = self.ledger.omni_accounts();
        assert_eq!(views.len(), self.model.accounts.len(), "{at}");
        for (index, (omni, model)) in views.iter().zip(&self.model.accounts).enumerate() {
            let at = format!("{at}: account {index}");
            assert_eq!(omni.cash, fixed(model.cash), "{at}: omni cash");
            assert_eq!(omni.reserved, fixed(model.reserved), "{at}: omni reserved");
            assert_eq!(
                omni.available,
                fixed(model.available()),
                "{at}: omni available"
            );
            assert_eq!(
                self.ledger.omni_available(AccountIndex(index as u8)),
                omni.available,
                "{at}"
            );
            assert_eq!(
                omni.unsettled_proceeds,
                fixed(model.unsettled),
                "{at}: omni unsettled"
            );
            if model.cashless {
                assert_eq!(omni.credit_limit, Some(fixed(model.credit_limit)), "{at}");
                assert_eq!(
                    omni.pending_settlement,
                    Some(fixed(model.pending())),
                    "{at}: pending settlement"
                );
            } else {
                assert_eq!(
                    (omni.credit_limit, omni.pending_settlement),
                    (None, None),
                    "{at}"
                );
            }
        }

        let in_doubt: Vec<LocalOrderId> = self
            .model
            .orders
            .values()
            .filter(|order| order.in_doubt)
            .map(|order| order.local)
            .collect();
        let listed: Vec<LocalOrderId> = self
            .ledger
            .orders(OrderState::InDoubt)
            .iter()
            .map(|view| view.local_id)
            .collect();
        assert_eq!(listed, in_doubt, "{at}: in doubt");
        let open = self.ledger.orders(OrderState::Open);
        assert_eq!(open.len() + in_doubt.len(), self.model.orders.len(), "{at}");
        for view in &open {
            let model = &self.model.orders[&view.local_id];
            assert_eq!(view.upstream_order_id, model.upstream, "{at}");
            assert_eq!(view.filled_quantity, fixed(model.filled_quantity), "{at}");
            assert_eq!(view.filled_amount, fixed(model.filled_amount), "{at}");
            let reserved = view.reserved_cash.units() + view.pending_sell_quantity.units();
            assert_eq!(reserved as i128, model.reserved, "{at}");
            let owner = &self.model.customers[&model.customer_id];
            assert_eq!(view.client_id, owner.client_id, "{at}");
        }

        if let Err(problems) = self.ledger.check_invariants() {
            panic!("{at}: invariants broken:\n{problems}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        // Integration tests have no lib.rs beside them for proptest's default location.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/ledger_model.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn ledger_matches_the_model(
        setup in setup_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut harness = Harness::new(&setup);
        for (step, op) in ops.iter().enumerate() {
            harness.step(op);
            harness.compare(step, op);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

const THREADS: usize = 8;
const ROUNDS: usize = 5;

fn money(text: &str) -> Fixed {
    Fixed::parse(text).unwrap()
}

fn limit_buy(quantity: &str, price: &str) -> BuyCost {
    BuyCost {
        per_share: Some(money(price)),
        quantity: Some(money(quantity)),
        amount_cash: None,
        fee: money("0.01"),
        commission_rate: Fixed::ZERO,
    }
}

fn prefunded(omni: Fixed) -> Arc<Ledger> {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Prefunded,
        sell_proceeds: SellProceeds::OnFill,
    });
    ledger.omni_deposit(omni).unwrap();
    Arc::new(ledger)
}

/// Runs `attempt(thread, i)` `per_thread` times on each of `THREADS` threads released together,
/// and counts the successes.
fn race(per_thread: usize, attempt: impl Fn(usize, usize) -> bool + Sync) -> usize {
    let start = Barrier::new(THREADS);
    let (start, attempt) = (&start, &attempt);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                scope.spawn(move || {
                    start.wait();
                    (0..per_thread).filter(|&i| attempt(thread, i)).count()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .sum()
    })
}

#[test]
fn one_customer_race_accepts_exactly_what_its_cash_allows() {
    // Each order: 3 × 4.11 + 0.01 fee = 12.34. Cash for exactly 300 of 800 attempts.
    let cost = limit_buy("3", "4.11");
    let per_order = cost.cost().unwrap();
    assert_eq!(per_order, money("12.34"));
    for round in 0..ROUNDS {
        let allowed = 300 + round as i64;
        let ledger = prefunded(money("1000000"));
        let cash = Fixed::from_units(per_order.units() * allowed);
        ledger
            .register("RICH", "cust-rich", cash, Vec::new())
            .unwrap();
        let accepted = race(100, |_, _| match ledger.reserve_buy("RICH", "AAPL", cost) {
            Ok(_) => true,
            Err(reject) => {
                assert_eq!(reject.code, RejectCode::InsufficientBuyingPower, "{reject}");
                false
            }
        });
        assert_eq!(accepted as i64, allowed, "round {round}");
        let customer = ledger.customer("RICH").unwrap();
        assert_eq!(customer.available, Fixed::ZERO);
        assert_eq!(customer.reserved, cash);
        assert_eq!(customer.open_orders.len() as i64, allowed);
        assert_eq!(ledger.omni().reserved, cash);
        ledger.check_invariants().unwrap();
    }
}

#[test]
fn many_customers_race_accepts_exactly_what_the_omni_allows() {
    let cost = limit_buy("2", "5.5"); // 11.01
    let per_order = cost.cost().unwrap();
    for round in 0..ROUNDS {
        let allowed = 250 + 7 * round as i64;
        let omni = Fixed::from_units(per_order.units() * allowed);
        let ledger = prefunded(omni);
        // 64 customers: even ones rich, odd ones with cash for exactly two orders. Refusals at a
        // customer never touch the omni account, so the rich ones still fill it exactly.
        let customers: Vec<String> = (0..64).map(|i| format!("K{i}")).collect();
        for (i, client) in customers.iter().enumerate() {
            let cash = if i % 2 == 0 {
                money("100000")
            } else {
                Fixed::from_units(per_order.units() * 2)
            };
            ledger
                .register(client, &format!("cust-{i}"), cash, Vec::new())
                .unwrap();
        }
        let accepted = race(200, |thread, i| {
            let client = &customers[(thread * 31 + i * 7) % customers.len()];
            match ledger.reserve_buy(client, "MSFT", cost) {
                Ok(_) => true,
                Err(reject) => {
                    assert!(
                        matches!(
                            reject.code,
                            RejectCode::InsufficientOmniBuyingPower
                                | RejectCode::InsufficientBuyingPower
                        ),
                        "{reject}"
                    );
                    false
                }
            }
        });
        assert_eq!(accepted as i64, allowed, "round {round}");
        let view = ledger.omni();
        assert_eq!(view.available, Fixed::ZERO);
        assert_eq!(view.reserved, omni);
        for client in &customers {
            let customer = ledger.customer(client).unwrap();
            assert!(customer.reserved <= customer.cash, "{client} overspent");
            assert!(!customer.available.is_negative(), "{client} overspent");
        }
        ledger.check_invariants().unwrap();
        // Depleted: only SELLs pass.
        ledger
            .register(
                "SELLER",
                "cust-seller",
                Fixed::ZERO,
                vec![("MSFT".into(), money("1"))],
            )
            .unwrap();
        ledger.reserve_sell("SELLER", "MSFT", money("1")).unwrap();
    }
}

#[test]
fn lifecycle_race_keeps_the_books() {
    // Threads reserve, bind, partially fill, fill, cancel, release and sell across a few shared
    // customers, while an admin thread deposits and re-registers. Nothing deadlocks, and at the
    // end the books balance: every customer's spend equals the omni account's.
    for round in 0..ROUNDS {
        let start_omni = money("50000");
        let ledger = prefunded(start_omni);
        let customers: Vec<String> = (0..6).map(|i| format!("L{i}")).collect();
        for (i, client) in customers.iter().enumerate() {
            ledger
                .register(
                    client,
                    &format!("cust-{i}"),
                    money("2000"),
                    vec![("AAPL".into(), money("1000"))],
                )
                .unwrap();
        }
        let deposited = race(150, |thread, i| {
            let client = &customers[(thread + i) % customers.len()];
            let upstream = format!("R{round}-T{thread}-{i}");
            if thread == THREADS - 1 {
                // The admin thread.
                ledger.adjust_cash(client, money("1")).unwrap();
                return true;
            }
            let local = if i % 3 == 0 {
                ledger.reserve_sell(client, "AAPL", money("0.5"))
            } else {
                ledger.reserve_buy(client, "AAPL", limit_buy("2", "10"))
            };
            let Ok(local) = local else { return false };
            match i % 4 {
                0 => {
                    ledger.release(local).unwrap();
                    return false;
                }
                1 => {
                    ledger.mark_in_doubt(local).unwrap();
                    ledger.resolve_in_doubt(local, Some(&upstream)).unwrap();
                }
                _ => ledger.bind(local, &upstream).unwrap(),
            }
            let partial = OrderUpdate {
                status: OrderStatus::PartialFill,
                cumulative_quantity: money("0.25"),
                average_price: money("9.5"),
                fees: None,
            };
            assert_eq!(
                ledger.apply_update(&upstream, partial),
                UpdateOutcome::Applied
            );
            let last = OrderUpdate {
                status: if i % 2 == 0 {
                    OrderStatus::Filled
                } else {
                    OrderStatus::Canceled
                },
                cumulative_quantity: money(if i % 2 == 0 { "0.5" } else { "0.25" }),
                average_price: money("9.5"),
                fees: None,
            };
            assert_eq!(ledger.apply_update(&upstream, last), UpdateOutcome::Applied);
            assert_eq!(
                ledger.apply_update(&upstream, partial),
                UpdateOutcome::UnknownOrder
            );
            false
        });
        ledger.check_invariants().unwrap();
        assert!(ledger.orders(OrderState::Open).is_empty());
        assert!(ledger.orders(OrderState::InDoubt).is_empty());
        let omni = ledger.omni();
        assert_eq!(omni.reserved, Fixed::ZERO);
        // Money conservation: what customers spent (net of deposits) left the omni account.
        let mut customer_total = Fixed::ZERO;
        for client in &customers {
            let customer = ledger.customer(client).unwrap();
            assert_eq!(customer.reserved, Fixed::ZERO);
            customer_total = customer_total.checked_add(customer.cash).unwrap();
        }
        let customer_start = Fixed::from_units(money("2000").units() * customers.len() as i64);
        let customer_change = customer_total
            .checked_sub(customer_start)
            .unwrap()
            .checked_sub(Fixed::from_units(Fixed::ONE.units() * deposited as i64))
            .unwrap();
        assert_eq!(omni.cash.checked_sub(start_omni).unwrap(), customer_change);
    }
}
