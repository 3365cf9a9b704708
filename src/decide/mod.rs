//! The decision: may this order leave? One function, [`decide`], runs every check of SPEC §3.1
//! in its order; the order path, the benchmarks and the property tests all call it.
//!
//! The checks are pure functions of the order, the rules and limits of the config in force, the
//! instrument master and an injected `now`; the stateful controls (kill switch and freezes, the
//! rate limit, duplicates, daily totals) are reached through the narrow [`Controls`] trait, whose
//! check-and-record steps are each atomic. No I/O, no clock, no allocation on the happy path.
//! The first failing check decides, and whatever an earlier check recorded (a rate token aside:
//! the rate counts attempts) is given back before the rejection is returned.
//!
//! | # | check | code |
//! | --- | --- | --- |
//! | 1 | `accountNo` is an omnibus account | `ACCOUNT_NOT_ALLOWED` |
//! | 2 | `clientID` present, well-formed, registered | `CLIENT_ID_MISSING` / `_INVALID` / `_UNKNOWN` |
//! | 3 | kill switch (global, customer), frozen customer | `TRADING_DISABLED` |
//! | 4 | rate limit | `RATE_LIMITED` |
//! | 5 | instrument known (one instrument), tradable, not kill-switched or restricted | `INSTRUMENT_UNKNOWN` / `INVALID_ORDER` / `INSTRUMENT_NOT_TRADABLE` / `TRADING_DISABLED` |
//! | 6 | halts | `INSTRUMENT_HALTED` |
//! | 7 | order type, fractional and size rules | `ORDER_TYPE_NOT_ALLOWED` / `FRACTIONAL_NOT_ALLOWED` / `ORDER_SIZE_INVALID` |
//! | 8 | market hours and `preventQueuing` | `MARKET_CLOSED` |
//! | 9 | duplicates (`clientOrderID`, content window) | `DUPLICATE_ORDER` |
//! | 10 | cost estimate, price band, notional and quantity limits, daily BUY total | `NO_REFERENCE_PRICE` / `PRICE_OUT_OF_BAND` / `LIMIT_EXCEEDED` |
//!
//! Before it: the `Idempotency-Key` replay and the body's shape (the HTTP front and the parser).
//! After it, the one check that must be made together with the reservation: buying power or
//! position, and open orders, under the customer's lock (`engine::admit`, the ledger).

mod cancel;
mod cost;
mod trade;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{Config, WholeShareOnHalt};
use crate::instruments::{AssetClass, Instrument, InstrumentMaster};
use crate::ledger::AccountIndex;
use crate::limits::{
    check_order_size_limits, check_restricted_symbol, DuplicateTicket, EffectiveLimits, LimitBook,
    OrderIdentity, OrderRisk, PriceKind,
};
use crate::money::Fixed;
use crate::order::{ClientIdField, Order, OrderType, Side, Size};
use crate::reject::{Reject, RejectCode};
use crate::rules::client_id::ClientIdRules;
use crate::rules::market_hours::{new_york_date, MarketCalendar};

pub use cancel::{decide_cancel, QueuedOrder};
pub use cost::{hold_for, Hold};
pub use trade::Tradable;

use trade::{check_trade, short};

/// The stateful controls a decision consults (SPEC §5.3, §7). Each method that records does so
/// atomically with its check, so two racing orders cannot both pass; [`decide`] gives back what
/// it recorded when a later check refuses the order.
pub trait Controls {
    /// A registered customer as the controls hold it, handed on in the [`Decision`] so that the
    /// reservation does not look the customer up again.
    type Customer;
    /// The registered customer `client_id`, or `None`.
    fn customer(&self, client_id: &str) -> Option<Self::Customer>;
    /// The kill switch (global or this customer) and freezes → `TRADING_DISABLED`.
    fn check_trading_enabled(&self, client_id: &str) -> Result<(), Reject>;
    /// One token of the customer's bucket → `RATE_LIMITED`. Not given back: the rate limits
    /// attempts.
    fn take_rate_token(
        &self,
        client_id: &str,
        limits: &EffectiveLimits<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), Reject>;
    /// The kill switch for this symbol → `TRADING_DISABLED`.
    fn check_symbol_enabled(&self, symbol: &str) -> Result<(), Reject>;
    /// `DUPLICATE_ORDER`, or the order recorded.
    fn record_unique(
        &self,
        order: &OrderIdentity<'_>,
        window_ms: u64,
        now: DateTime<Utc>,
    ) -> Result<DuplicateTicket, Reject>;
    /// Adds a BUY's notional to the customer's day if `daily_buy_notional` allows it.
    fn add_to_day(
        &self,
        client_id: &str,
        day: NaiveDate,
        notional: Fixed,
        limits: &EffectiveLimits<'_>,
    ) -> Result<(), Reject>;
    /// Undoes [`record_unique`](Self::record_unique) (and [`add_to_day`](Self::add_to_day) when
    /// `notional` is not zero) for an order that was not accepted after all.
    fn give_back(&self, ticket: DuplicateTicket, client_id: &str, day: NaiveDate, notional: Fixed);
}

/// The order rules of a config, built once per (re)load.
#[derive(Debug, Clone)]
pub struct Rules {
    accounts: Box<[AccountRule]>,
    client_ids: ClientIdRules,
    pub calendar: MarketCalendar,
    whole_share_on_halt: WholeShareOnHalt,
}

/// An omnibus account an order may name (SPEC §4.5, §5.4).
#[derive(Debug, Clone)]
pub struct AccountRule {
    pub number: Box<str>,
    /// DriveWealth's accountID (`[[omnibus.accounts]]` `account_id`).
    pub account_id: Option<Box<str>>,
    /// The ledger's account it reserves at (every number of `account_numbers` shares index 0).
    pub index: AccountIndex,
    /// Empty: every asset class.
    asset_classes: Box<[AssetClass]>,
}

impl AccountRule {
    fn takes(&self, asset_class: AssetClass) -> bool {
        self.asset_classes.is_empty() || self.asset_classes.contains(&asset_class)
    }
}

impl Rules {
    pub fn from_config(config: &Config) -> Rules {
        let omnibus = &config.omnibus;
        let accounts = if omnibus.accounts.is_empty() {
            omnibus
                .account_numbers
                .iter()
                .map(|number| AccountRule {
                    number: number.as_str().into(),
                    account_id: None,
                    index: AccountIndex(0),
                    asset_classes: Box::default(),
                })
                .collect()
        } else {
            omnibus
                .accounts
                .iter()
                .zip(0..=u8::MAX)
                .map(|(account, index)| AccountRule {
                    number: account.number.as_str().into(),
                    account_id: account.account_id.as_deref().map(Box::from),
                    index: AccountIndex(index),
                    asset_classes: account.asset_classes.as_slice().into(),
                })
                .collect()
        };
        Rules {
            accounts,
            client_ids: ClientIdRules::new(&config.client_id),
            calendar: MarketCalendar::new(&config.market),
            whole_share_on_halt: config.halts.whole_share,
        }
    }

    pub fn is_omnibus_account(&self, account_no: &str) -> bool {
        self.account(account_no).is_some()
    }

    /// Every account that has a DriveWealth accountID: (index, number, accountID).
    pub fn accounts_with_ids(&self) -> Vec<(AccountIndex, String, String)> {
        self.accounts
            .iter()
            .filter_map(|account| {
                let id = account.account_id.as_deref()?;
                Some((account.index, account.number.to_string(), id.to_owned()))
            })
            .collect()
    }

    /// The account whose DriveWealth accountID is `account_id`.
    pub fn account_with_id(&self, account_id: &str) -> Option<&AccountRule> {
        self.accounts
            .iter()
            .find(|account| account.account_id.as_deref() == Some(account_id))
    }

    /// The account an `accountNo` names, if it is one of this gateway's.
    pub fn account(&self, account_no: &str) -> Option<&AccountRule> {
        self.accounts
            .iter()
            .find(|account| &*account.number == account_no)
    }

    pub fn client_ids(&self) -> &ClientIdRules {
        &self.client_ids
    }
}
/// What a decision reads besides the order: the config in force and the instrument master.
#[derive(Clone, Copy)]
pub struct DecisionContext<'s> {
    pub rules: &'s Rules,
    pub limits: &'s LimitBook,
    pub instruments: &'s InstrumentMaster,
    /// `fees.per_order`, in every BUY's cost.
    pub fee_per_order: Fixed,
}

/// An order that passed every check: what to reserve, and what it recorded on the way.
#[derive(Debug, Clone)]
pub struct Decision<'o, 's, C> {
    pub client_id: &'o str,
    /// The customer `client_id` names, as [`Controls::customer`] found it.
    pub customer: C,
    /// The omnibus account the order names, where it reserves.
    pub account: AccountIndex,
    pub instrument: Arc<Instrument>,
    /// The regular open DriveWealth will queue the order for, when it does not execute now.
    pub queued_until: Option<DateTime<Utc>>,
    pub hold: Hold,
    /// The customer's limits in force (the reservation checks `max_open_orders` with them).
    pub limits: EffectiveLimits<'s>,
    /// Its place in the duplicate guard.
    pub ticket: DuplicateTicket,
    /// The New York trading day, and what the order added to the customer's BUYs of that day.
    pub trading_day: NaiveDate,
    pub buy_notional: Fixed,
}

impl<C> Decision<'_, '_, C> {
    /// Gives back what the decision recorded (the reservation that followed failed).
    pub fn give_back(&self, controls: &impl Controls) {
        controls.give_back(
            self.ticket,
            self.client_id,
            self.trading_day,
            self.buy_notional,
        );
    }
}

/// Decides one order: every check of SPEC §3.1, in order (see the module doc).
pub fn decide<'o, 's, C: Controls>(
    order: &'o Order<'o>,
    context: &DecisionContext<'s>,
    controls: &C,
    now: DateTime<Utc>,
) -> Result<Decision<'o, 's, C::Customer>, Reject> {
    let rules = context.rules;
    let (client_id, customer, account) = identify(order, rules, controls)?;
    controls.check_trading_enabled(client_id)?;
    let limits = context.limits.limits_for(client_id, now);
    controls.take_rate_token(client_id, &limits, now)?;
    let tradable = check_trade(order, rules, context.instruments, now)?;
    let instrument = tradable.instrument;
    if !account.takes(instrument.asset_class) {
        return Err(Reject::new(
            RejectCode::AccountNotAllowed,
            format!(
                "omnibus account {} does not take {:?} orders ({})",
                account.number, instrument.asset_class, instrument.symbol
            ),
        ));
    }
    controls.check_symbol_enabled(&instrument.symbol)?;
    check_restricted_symbol(&instrument.symbol, &limits)?;
    let ticket = controls.record_unique(
        &OrderIdentity {
            client_id,
            client_order_id: order.client_order_id.as_deref(),
            symbol: &instrument.symbol,
            side: order.side,
            size: order.size,
        },
        limits.duplicate_window_ms,
        now,
    )?;
    let trading_day = new_york_date(now);
    let priced = (|| {
        let hold = hold_for(
            order,
            &instrument,
            limits.market_buffer_pct,
            context.fee_per_order,
        )?;
        let reference = instrument.reference_price();
        let notional = notional(&hold, reference);
        check_order_size_limits(
            &OrderRisk {
                side: order.side,
                notional,
                quantity: estimated_quantity(order.size, reference),
                price: order
                    .price
                    .map(|price| (price_kind(order.order_type), price)),
                reference,
                // Checked with the reservation, under the customer's lock.
                open_orders: 0,
                // Checked and added by `add_to_day`, atomically.
                bought_today: Fixed::ZERO,
            },
            &limits,
        )?;
        let buy_notional = if order.side == Side::Buy {
            notional
        } else {
            Fixed::ZERO
        };
        controls.add_to_day(client_id, trading_day, buy_notional, &limits)?;
        Ok((hold, buy_notional))
    })();
    let (hold, buy_notional) = match priced {
        Ok(priced) => priced,
        Err(reject) => {
            controls.give_back(ticket, client_id, trading_day, Fixed::ZERO);
            return Err(reject);
        }
    };
    Ok(Decision {
        client_id,
        customer,
        account: account.index,
        instrument,
        queued_until: tradable.queued_until,
        hold,
        limits,
        ticket,
        trading_day,
        buy_notional,
    })
}

/// Checks 1–2: the account and the customer. Returns the customer's `clientID`, the customer
/// and the account.
fn identify<'o, 'r, C: Controls>(
    order: &'o Order<'o>,
    rules: &'r Rules,
    customers: &C,
) -> Result<(&'o str, C::Customer, &'r AccountRule), Reject> {
    let Some(account) = rules.account(&order.account_no) else {
        return Err(Reject::new(
            RejectCode::AccountNotAllowed,
            format!(
                "accountNo {:?} is not one of this gateway's omnibus accounts (omnibus.account_numbers)",
                short(&order.account_no)
            ),
        ));
    };

    let client_id = match &order.client_id {
        ClientIdField::Absent => {
            return Err(Reject::new(
                RejectCode::ClientIdMissing,
                "clientID is missing; every order must carry the end customer's clientID",
            ))
        }
        ClientIdField::WrongType => {
            return Err(Reject::new(
                RejectCode::ClientIdInvalid,
                "clientID must be a string, such as \"123456789\"",
            ))
        }
        ClientIdField::Text(text) => text.as_ref(),
    };
    rules.client_ids.check(client_id)?;
    let Some(customer) = customers.customer(client_id) else {
        return Err(Reject::new(
            RejectCode::ClientIdUnknown,
            format!("clientID {client_id:?} is not a registered customer"),
        ));
    };

    Ok((client_id, customer, account))
}

/// USD the order puts at risk: a BUY's cost, a SELL's quantity at the reference price.
fn notional(hold: &Hold, reference: Option<Fixed>) -> Fixed {
    match hold {
        Hold::Buy(cost) => cost.cost().unwrap_or(Fixed::MAX),
        Hold::Sell { quantity, .. } => reference
            .and_then(|price| quantity.checked_mul_ceil(price))
            .unwrap_or(Fixed::ZERO),
    }
}

/// Shares: the quantity, or `amountCash / reference` when there is a reference.
fn estimated_quantity(size: Size, reference: Option<Fixed>) -> Option<Fixed> {
    match size {
        Size::Quantity(quantity) => Some(quantity),
        Size::AmountCash(amount) => reference.and_then(|price| amount.checked_div_floor(price)),
    }
}

fn price_kind(order_type: OrderType) -> PriceKind {
    match order_type {
        OrderType::Limit => PriceKind::Limit,
        _ => PriceKind::Trigger,
    }
}

#[cfg(test)]
mod tests;
