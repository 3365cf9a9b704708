//! Reserving orders (SPEC §5.1, §5.2) and following them until upstream answers (§6).
//!
//! An order's life here: reserved (`reserve_buy` / `reserve_sell`) → sent → bound to the
//! upstream orderId (`bind`), or released (`release`, upstream refused it), or in doubt (no
//! answer; its reservation stays until `resolve_in_doubt` or a late `bind`) → fills and a final
//! status (`apply_update`, in `fills.rs`) → closed and forgotten.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;

use super::customer::{CustomerCell, CustomerState};
use super::{add, sub, AccountIndex, Ledger, LedgerError, OrderStatus};
use crate::money::Fixed;
use crate::reject::{Reject, RejectCode};

/// omnigate's own id for an order, valid from reservation on (upstream ids come later, or never
/// for an order in doubt). Shown as `local-<n>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalOrderId(pub u64);

impl LocalOrderId {
    const PREFIX: &'static str = "local-";

    /// Reads the `local-<n>` form back (admin paths take it).
    pub fn parse(text: &str) -> Option<LocalOrderId> {
        let digits = text.strip_prefix(Self::PREFIX)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(LocalOrderId)
    }
}

impl fmt::Display for LocalOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

impl Serialize for LocalOrderId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// What a BUY costs (SPEC §5.1), as the decision computed it. Exactly one of `quantity` and
/// `amount_cash`; a `quantity` needs `per_share` (the limit price, or reference × buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuyCost {
    pub per_share: Option<Fixed>,
    pub quantity: Option<Fixed>,
    pub amount_cash: Option<Fixed>,
    /// `fees.per_order` plus the order's fixed `commission`, reserved with the order and charged
    /// once at its end.
    pub fee: Fixed,
    /// The order's `commissionRate`: that fraction of the amount filled is charged at its end
    /// too, and of the unfilled remainder reserved until then. Zero without one.
    pub commission_rate: Fixed,
}

/// What an order pays at its end unless DriveWealth reports its fees (SPEC §5.1): a fixed fee
/// and a rate of the amount filled. Charged only when something filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Charges {
    pub fee: Fixed,
    pub commission_rate: Fixed,
}

impl Charges {
    /// `fee + commission_rate × filled_amount`, the rate's part rounded up (against the
    /// customer, like every cost).
    pub(super) fn at_end(self, filled_amount: Fixed) -> Result<Fixed, super::Overflow> {
        let commission = filled_amount
            .checked_mul_ceil(self.commission_rate)
            .ok_or(super::Overflow)?;
        add(self.fee, commission)
    }

    pub(super) fn check(self) -> Result<(), Reject> {
        if self.fee.is_negative() || self.commission_rate.is_negative() {
            return Err(Reject::invalid(format!(
                "fee {} or commission rate {} is negative",
                self.fee, self.commission_rate
            )));
        }
        Ok(())
    }
}

impl BuyCost {
    pub fn charges(&self) -> Charges {
        Charges {
            fee: self.fee,
            commission_rate: self.commission_rate,
        }
    }

    /// quantity × per_share (rounded up) + fee, or amount_cash + fee.
    pub fn cost(&self) -> Result<Fixed, Reject> {
        self.terms().map(|(_, cost)| cost)
    }

    pub(super) fn terms(&self) -> Result<(OrderTerms, Fixed), Reject> {
        self.charges().check()?;
        let terms = match (self.quantity, self.amount_cash, self.per_share) {
            (Some(quantity), None, Some(per_share))
                if quantity.is_positive() && per_share.is_positive() =>
            {
                OrderTerms::BuyQuantity {
                    quantity,
                    per_share,
                }
            }
            (None, Some(amount_cash), _) if amount_cash.is_positive() => {
                OrderTerms::BuyCash { amount_cash }
            }
            _ => {
                return Err(Reject::invalid(
                    "a BUY needs a positive quantity with a positive price per share, \
                     or a positive amountCash",
                ))
            }
        };
        let cost = terms
            .remainder_cost(Fixed::ZERO, Fixed::ZERO, self.charges())
            .map_err(|_| Reject::invalid("the order's cost is out of range"))?;
        Ok((terms, cost))
    }
}

/// What was ordered, as needed to price the unfilled remainder. Public for snapshots
/// ([`LedgerState`](super::LedgerState)); the order path builds it from a [`BuyCost`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderTerms {
    /// A BUY of `quantity` shares reserved at `per_share` each (limit price, or reference ×
    /// buffer).
    BuyQuantity {
        quantity: Fixed,
        per_share: Fixed,
    },
    /// A BUY for an amount of cash (fractional, `amountCash`).
    BuyCash {
        amount_cash: Fixed,
    },
    Sell {
        quantity: Fixed,
    },
}

impl OrderTerms {
    pub fn side(self) -> Side {
        match self {
            OrderTerms::BuyQuantity { .. } | OrderTerms::BuyCash { .. } => Side::Buy,
            OrderTerms::Sell { .. } => Side::Sell,
        }
    }

    /// A BUY's reservation once `filled_quantity` has filled for `filled_amount`: the remainder
    /// priced as at reservation with its commission, plus what the end will charge for what
    /// filled (the fee and the commission on the filled amount). SPEC §5.2: "after a partial
    /// fill the reservation is the cost of the unfilled remainder, priced as in §5.1".
    pub(super) fn remainder_cost(
        self,
        filled_quantity: Fixed,
        filled_amount: Fixed,
        charges: Charges,
    ) -> Result<Fixed, super::Overflow> {
        let remainder = match self {
            OrderTerms::BuyQuantity {
                quantity,
                per_share,
            } => {
                let unfilled = sub(quantity, filled_quantity)?.max(Fixed::ZERO);
                unfilled
                    .checked_mul_ceil(per_share)
                    .ok_or(super::Overflow)?
            }
            OrderTerms::BuyCash { amount_cash } => {
                sub(amount_cash, filled_amount)?.max(Fixed::ZERO)
            }
            OrderTerms::Sell { .. } => Fixed::ZERO,
        };
        let remainder_commission = remainder
            .checked_mul_ceil(charges.commission_rate)
            .ok_or(super::Overflow)?;
        add(
            add(remainder, remainder_commission)?,
            charges.at_end(filled_amount)?,
        )
    }
}

/// What an in-doubt order is known by until DriveWealth's orderId binds it (SPEC §6): the
/// partner's `clientOrderID` (which DriveWealth's events and GET answers carry back) and when
/// it was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InDoubtNote {
    pub client_order_id: Option<String>,
    /// Unix milliseconds.
    pub created_at_ms: i64,
}

/// An open order. Its mutable fields change only under its customer's lock.
pub(super) struct Order {
    /// The owner itself, not its clientID: a re-key moves orders for free.
    pub(super) customer: Arc<CustomerCell>,
    /// The omnibus account it reserves at (a BUY) and whose proceeds it brings (a SELL).
    pub(super) account: AccountIndex,
    pub(super) symbol: Arc<str>,
    pub(super) terms: OrderTerms,
    /// What it pays at its end unless DriveWealth reports its fees.
    pub(super) charges: Charges,
    pub(super) in_doubt: bool,
    /// While in doubt: what identifies it at DriveWealth without an orderId (boxed: most
    /// orders are never in doubt, and an empty `Option<Box>` costs one word).
    pub(super) note: Option<Box<InDoubtNote>>,
    pub(super) upstream_order_id: Option<Box<str>>,
    /// Cumulative quantity applied so far; updates at or below it change nothing.
    pub(super) filled_quantity: Fixed,
    /// Money debited (BUY) or credited (SELL) for `filled_quantity`.
    pub(super) filled_amount: Fixed,
    /// BUY: cash held (remainder + fee). SELL: shares held in pending sells.
    pub(super) reserved: Fixed,
    /// The last status upstream reported.
    pub(super) status: Option<OrderStatus>,
    /// The snapshot that has this order already (kept before a change, or read), or that was
    /// running when it was opened; see [`Ledger::change_order`].
    pub(super) seen_by: u64,
}

impl Order {
    /// A new open order: nothing filled, no upstream id yet, `reserved` held. Boxed: see
    /// [`OpenOrders`].
    pub(super) fn opened(
        customer: Arc<CustomerCell>,
        account: AccountIndex,
        symbol: Arc<str>,
        terms: OrderTerms,
        charges: Charges,
        reserved: Fixed,
        seen_by: u64,
    ) -> Box<Order> {
        Box::new(Order {
            customer,
            account,
            symbol,
            terms,
            charges,
            in_doubt: false,
            note: None,
            upstream_order_id: None,
            filled_quantity: Fixed::ZERO,
            filled_amount: Fixed::ZERO,
            reserved,
            status: None,
            seen_by,
        })
    }
}

/// Open orders by local id, each order boxed. A shard's table doubles when it is 7/8 full, so
/// its slots are between 44 % and 88 % used; an order inline in its slot (about 170 bytes) would
/// leave up to 56 % of the table's bytes empty, a box leaves 16 bytes a slot (a million open
/// orders just past a doubling: 1,039 MiB with orders inline). One allocation per order opened.
pub(super) type OpenOrders = super::FastMap<u64, Box<Order>>;

impl Ledger {
    /// Reserves a BUY's cost at the customer and the omni account together, or not at all.
    ///
    /// Hot path: one map probe for the customer, one for the symbol, the customer's lock, one CAS
    /// at the omni account, one insert. Allocates nothing on success except the order record
    /// (and, rarely, growth of the maps or the customer's open-order list).
    pub fn reserve_buy(
        &self,
        client_id: &str,
        symbol: &str,
        cost: BuyCost,
    ) -> Result<LocalOrderId, Reject> {
        let customer = self.order_path_customer(client_id)?;
        self.reserve_buy_checked(&customer, symbol, cost, AccountIndex(0), &|_| Ok(()))
    }

    /// [`Ledger::reserve_buy`] for a customer already found ([`Ledger::customer_handle`]), at
    /// omnibus account `account`, with `open_orders_check` given the customer's open-order count
    /// under the customer's lock, so a cap on open orders holds under concurrency too.
    pub fn reserve_buy_checked(
        &self,
        customer: &CustomerHandle,
        symbol: &str,
        cost: BuyCost,
        account: AccountIndex,
        open_orders_check: &dyn Fn(u32) -> Result<(), Reject>,
    ) -> Result<LocalOrderId, Reject> {
        let (terms, total) = cost.terms()?;
        let cell = &customer.0;
        let symbol = self.intern(symbol);

        let mut customer = self.change(cell);
        open_orders_check(open_order_count(&customer))?;
        let available = customer.available();
        if available.is_none_or(|available| available < total) {
            let available = shown_available(&customer);
            drop(customer);
            return Err(Reject::new(
                RejectCode::InsufficientBuyingPower,
                falls_short("buying power ", available, total),
            ));
        }
        // Cannot overflow (reserved + total ≤ cash), but checked before the omni step so that
        // nothing after the CAS can fail.
        let reserved_after = add(customer.reserved, total)
            .map_err(|_| Reject::invalid("the order's cost is out of range"))?;
        if let Err(omni_available) = self.account(account).try_reserve(total) {
            drop(customer);
            return Err(Reject::new(
                RejectCode::InsufficientOmniBuyingPower,
                falls_short("omni account buying power ", omni_available, total),
            ));
        }
        customer.reserved = reserved_after;
        debug_assert!(customer.reserved <= customer.cash);

        let local = self.next_local_id.fetch_add(1, Ordering::Relaxed);
        self.orders.insert(
            local,
            Order::opened(
                cell.clone(),
                account,
                symbol,
                terms,
                cost.charges(),
                total,
                self.epoch.running(),
            ),
        );
        customer.open_orders.push(local);
        Ok(LocalOrderId(local))
    }

    /// Holds `quantity` shares of the customer's position for a SELL. Needs no cash, so it passes
    /// when the omni account is depleted (seed `003`: "only SELLS will be permitted").
    pub fn reserve_sell(
        &self,
        client_id: &str,
        symbol: &str,
        quantity: Fixed,
    ) -> Result<LocalOrderId, Reject> {
        let customer = self.order_path_customer(client_id)?;
        self.reserve_sell_checked(
            &customer,
            symbol,
            quantity,
            Charges::default(),
            AccountIndex(0),
            &|_| Ok(()),
        )
    }

    /// [`Ledger::reserve_sell`] for a customer already found, through omnibus account `account`,
    /// paying `charges` from its proceeds at its end, with an open-order check under the
    /// customer's lock (see [`Ledger::reserve_buy_checked`]).
    pub fn reserve_sell_checked(
        &self,
        customer: &CustomerHandle,
        symbol: &str,
        quantity: Fixed,
        charges: Charges,
        account: AccountIndex,
        open_orders_check: &dyn Fn(u32) -> Result<(), Reject>,
    ) -> Result<LocalOrderId, Reject> {
        if !quantity.is_positive() {
            return Err(Reject::invalid(format!(
                "a SELL needs a positive quantity; got {quantity}"
            )));
        }
        charges.check()?;
        let cell = &customer.0;
        let mut customer = self.change(cell);
        open_orders_check(open_order_count(&customer))?;
        let held = customer
            .positions
            .get_key_value(symbol)
            .map(|(symbol, position)| (symbol.clone(), *position));
        let (position_quantity, pending) = held
            .as_ref()
            .map_or((Fixed::ZERO, Fixed::ZERO), |(_, position)| {
                (position.quantity, position.pending_sell)
            });
        let free = position_quantity
            .checked_sub(pending)
            .unwrap_or(Fixed::ZERO);
        let symbol = match held {
            Some((symbol, _)) if quantity <= free => symbol,
            _ => {
                return Err(Reject::new(
                    RejectCode::InsufficientPosition,
                    format!(
                        "position {position_quantity} minus {pending} pending in open sells \
                         leaves {free}; this order sells {quantity}"
                    ),
                ))
            }
        };
        if let Some(position) = customer.positions.get_mut(&symbol) {
            // Cannot overflow: pending + quantity ≤ position quantity.
            position.pending_sell = add(position.pending_sell, quantity)
                .map_err(|_| Reject::invalid("the quantity is out of range"))?;
        }

        let local = self.next_local_id.fetch_add(1, Ordering::Relaxed);
        self.orders.insert(
            local,
            Order::opened(
                cell.clone(),
                account,
                symbol,
                OrderTerms::Sell { quantity },
                charges,
                quantity,
                self.epoch.running(),
            ),
        );
        customer.open_orders.push(local);
        Ok(LocalOrderId(local))
    }

    /// Upstream definitely did not take the order (4xx, or an admin resolving it as never
    /// placed): everything it still holds returns. Fills already applied stay applied.
    pub fn release(&self, local: LocalOrderId) -> Result<(), LedgerError> {
        let cell = self
            .order_customer(local.0)
            .ok_or_else(|| unknown_order(local))?;
        let mut customer = self.change(&cell);
        // The order's terms under its customer's lock (fills change them there). Only a SELL
        // needs its symbol, to find the position.
        let (sold, reserved, account) = {
            let order = self
                .orders
                .get(&local.0)
                .ok_or_else(|| unknown_order(local))?;
            let sold = (order.terms.side() == Side::Sell).then(|| order.symbol.clone());
            (sold, order.reserved, order.account)
        };
        match sold {
            None => {
                let reserved_after = sub(customer.reserved, reserved)
                    .map_err(|overflow| overflow.error("the customer's reservation"))?;
                self.account(account)
                    .move_money(reserved, Fixed::ZERO, Fixed::ZERO)
                    .map_err(|overflow| overflow.error("the omni account"))?;
                customer.reserved = reserved_after;
                debug_assert!(!customer.reserved.is_negative());
            }
            Some(symbol) => {
                if let Some(position) = customer.positions.get_mut(&symbol) {
                    position.pending_sell = sub(position.pending_sell, reserved)
                        .map_err(|overflow| overflow.error("the pending sells"))?;
                    debug_assert!(!position.pending_sell.is_negative());
                }
                customer.drop_empty_position(&symbol);
            }
        }
        self.close_order(&mut customer, local.0);
        Ok(())
    }

    /// Forgets a closed order. The caller holds its customer's lock and has already returned or
    /// settled what the order held.
    pub(super) fn close_order(&self, customer: &mut CustomerState, local: u64) {
        // Kept as it leaves the map, under its customer's lock (which a snapshot takes to read
        // it), so a running snapshot finds it in one or the other.
        let removed = self.orders.remove_if(&local, |&local, order| {
            self.keep_leaving(local, order);
            true
        });
        if let Some((_, order)) = removed {
            if let Some(upstream) = order.upstream_order_id {
                self.local_by_upstream
                    .remove_if(&upstream, |_, mapped| *mapped == local);
            }
            if let Some(note) = &order.note {
                self.forget_note(note, local);
            }
        }
        customer.forget_order(local);
    }

    /// The registered customer `client_id`, to reserve for (one map probe, which the decision
    /// makes once for both its registry check and the reservation).
    pub fn customer_handle(&self, client_id: &str) -> Option<CustomerHandle> {
        self.customers
            .get(client_id)
            .map(|entry| CustomerHandle(entry.value().clone()))
    }

    fn order_path_customer(&self, client_id: &str) -> Result<CustomerHandle, Reject> {
        match self.customer_handle(client_id) {
            Some(customer) => Ok(customer),
            None => Err(Reject::new(
                RejectCode::ClientIdUnknown,
                format!("clientID {client_id} is not a registered customer"),
            )),
        }
    }
}

/// A registered customer, found once and reserved for: it stays the same customer if it is
/// re-keyed meanwhile, as its open orders do.
#[derive(Clone)]
pub struct CustomerHandle(Arc<CustomerCell>);

impl std::fmt::Debug for CustomerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerHandle")
    }
}

fn open_order_count(customer: &CustomerState) -> u32 {
    u32::try_from(customer.open_orders.len()).unwrap_or(u32::MAX)
}

/// "`what` {available} is less than the {needed} this order needs", built without `format!`:
/// a buying-power denial is the most common refusal, and must cost no more than an acceptance.
fn falls_short(what: &str, available: Fixed, needed: Fixed) -> String {
    const LESS: &str = " is less than the ";
    const NEEDS: &str = " this order needs";
    let mut message =
        String::with_capacity(what.len() + LESS.len() + NEEDS.len() + 2 * crate::money::TEXT_MAX);
    message.push_str(what);
    available.push_money(&mut message);
    message.push_str(LESS);
    needed.push_money(&mut message);
    message.push_str(NEEDS);
    message
}

/// `cash − reserved` for a message, even when it is out of range.
fn shown_available(customer: &CustomerState) -> Fixed {
    customer.available().unwrap_or_else(|| {
        Fixed::from_units(
            customer
                .cash
                .units()
                .saturating_sub(customer.reserved.units()),
        )
    })
}

pub(super) fn unknown_order(local: LocalOrderId) -> LedgerError {
    LedgerError::NotFound(format!("order {local} is not open"))
}
