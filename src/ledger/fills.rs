//! Applying upstream progress to reservations, cash and positions (SPEC §5.2, §6).
//!
//! Updates come from three sources (proxied GETs, events, the poller) in any order and any number
//! of times, so each is applied by its `cumulativeQuantity`: only the part beyond what is already
//! applied counts. An update at or below it changes nothing — except a final status, which still
//! closes the order.

use chrono::NaiveDate;
use serde::Serialize;

use super::customer::{CustomerState, Position};
use super::orders::{Order, OrderTerms, Side};
use super::settlement::part_for;
use super::{add, sub, Ledger, Overflow, SellProceeds};
use crate::money::Fixed;

/// DriveWealth's order status (SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    New,
    /// Crypto orders before they fill or are rejected.
    Pending,
    PartialFill,
    Filled,
    Canceled,
    Rejected,
    PendingCancel,
}

// On-disk codes (WAL records; ledger snapshots store code + 1, 0 being "no status yet").
crate::wire_codes!(OrderStatus {
    OrderStatus::New = 0,
    OrderStatus::Pending = 1,
    OrderStatus::PartialFill = 2,
    OrderStatus::Filled = 3,
    OrderStatus::Canceled = 4,
    OrderStatus::Rejected = 5,
    OrderStatus::PendingCancel = 6,
});

impl OrderStatus {
    /// DriveWealth's spellings (SPEC §6): names (`CANCELLED` and `Pending Cancel` too, in any
    /// case) and the numeric codes of list answers (0, 1, 2, 4, 6, 8), which events and GET
    /// answers may also send as JSON numbers (the caller passes their text).
    pub fn parse(text: &str) -> Option<OrderStatus> {
        let known = [
            ("NEW", OrderStatus::New),
            ("0", OrderStatus::New),
            ("PENDING", OrderStatus::Pending),
            ("PARTIAL_FILL", OrderStatus::PartialFill),
            ("PARTIALLY_FILLED", OrderStatus::PartialFill),
            ("PARTIAL FILL", OrderStatus::PartialFill),
            ("1", OrderStatus::PartialFill),
            ("FILLED", OrderStatus::Filled),
            ("2", OrderStatus::Filled),
            ("CANCELED", OrderStatus::Canceled),
            ("CANCELLED", OrderStatus::Canceled),
            ("4", OrderStatus::Canceled),
            ("PENDING_CANCEL", OrderStatus::PendingCancel),
            ("PENDING CANCEL", OrderStatus::PendingCancel),
            ("6", OrderStatus::PendingCancel),
            ("REJECTED", OrderStatus::Rejected),
            ("8", OrderStatus::Rejected),
        ];
        let text = text.trim();
        known
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, status)| *status)
    }

    /// The name omnigate writes (as serialised).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::Pending => "PENDING",
            OrderStatus::PartialFill => "PARTIAL_FILL",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::PendingCancel => "PENDING_CANCEL",
        }
    }

    /// FILLED, CANCELED and REJECTED end an order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Rejected
        )
    }
}

/// What upstream says about an order now (cumulative, not incremental).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    pub status: OrderStatus,
    pub cumulative_quantity: Fixed,
    /// Average price of everything filled so far.
    pub average_price: Fixed,
    /// Total fees upstream charged, when it says; applied once, at the final status.
    pub fees: Option<Fixed>,
}

/// What `apply_update` did, so callers can count and log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Something changed (a fill, a close, or both).
    Applied,
    /// Nothing new: a repeat, or an older update arriving late.
    Duplicate,
    /// No open order has this upstream id (never seen, not bound yet, or already closed).
    UnknownOrder,
    /// Nonsense (a negative number) or a result out of range; nothing was changed.
    Invalid(String),
}

/// Everything one update changes, computed before anything is written so an overflow anywhere
/// leaves the ledger untouched.
struct Effect {
    filled_quantity: Fixed,
    filled_amount: Fixed,
    /// The order's reservation after the update (cash for a BUY, shares for a SELL).
    reserved: Fixed,
    closes: bool,
    cash: Fixed,
    customer_reserved: Fixed,
    /// SELL proceeds this update holds for settlement, and the customer's part for the order's
    /// account after it.
    newly_unsettled: Fixed,
    unsettled_after: Fixed,
    position: Position,
    /// Omni: reservation returned, money spent (negative: received), proceeds held.
    omni_released: Fixed,
    omni_spent: Fixed,
    omni_unsettled: Fixed,
}

impl Ledger {
    /// Applies upstream's view of an order, idempotently by cumulative quantity, with what it
    /// newly fills undated (it settles at the next roll; see [`Ledger::apply_update_on`]).
    pub fn apply_update(&self, upstream_order_id: &str, update: OrderUpdate) -> UpdateOutcome {
        self.apply_update_on(upstream_order_id, update, None)
    }

    /// [`Ledger::apply_update`], with what it newly fills traded on `trade_day` (T+1: it settles
    /// at the roll of the next business day; `None` at the next roll).
    pub fn apply_update_on(
        &self,
        upstream_order_id: &str,
        update: OrderUpdate,
        trade_day: Option<NaiveDate>,
    ) -> UpdateOutcome {
        let negative = update.cumulative_quantity.is_negative()
            || update.average_price.is_negative()
            || update.fees.is_some_and(Fixed::is_negative);
        if negative {
            return UpdateOutcome::Invalid(format!(
                "order {upstream_order_id}: negative quantity, price or fees in the update"
            ));
        }
        let Some(local) = self.local_id_of(upstream_order_id) else {
            return UpdateOutcome::UnknownOrder;
        };
        let Some(cell) = self.order_customer(local.0) else {
            return UpdateOutcome::UnknownOrder;
        };
        let mut customer = self.change(&cell);
        let closes = {
            let Some(mut order) = self.change_order(local.0) else {
                return UpdateOutcome::UnknownOrder;
            };
            if order.upstream_order_id.as_deref() != Some(upstream_order_id) {
                return UpdateOutcome::UnknownOrder;
            }
            let effect = match self.effect_of(&order, &customer, &update, upstream_order_id) {
                Ok(Some(effect)) => effect,
                Ok(None) => return UpdateOutcome::Duplicate,
                Err(Overflow) => {
                    return UpdateOutcome::Invalid(format!(
                        "order {upstream_order_id}: applying the update would overflow"
                    ))
                }
            };
            let omni = self.account(order.account);
            if omni
                .move_money(
                    effect.omni_released,
                    effect.omni_spent,
                    effect.omni_unsettled,
                )
                .is_err()
            {
                return UpdateOutcome::Invalid(format!(
                    "order {upstream_order_id}: the omni account would overflow"
                ));
            }
            omni.dated(effect.omni_spent, trade_day);
            order.filled_quantity = effect.filled_quantity;
            order.filled_amount = effect.filled_amount;
            order.reserved = effect.reserved;
            order.status = Some(update.status);
            customer.cash = effect.cash;
            customer.reserved = effect.customer_reserved;
            if !effect.newly_unsettled.is_zero() {
                let part = part_for(&mut customer.unsettled, order.account);
                part.total = effect.unsettled_after;
                part.latest = part.latest.with(effect.newly_unsettled, trade_day);
                customer.unsettled.retain(|part| !part.total.is_zero());
            }
            customer
                .positions
                .insert(order.symbol.clone(), effect.position);
            customer.drop_empty_position(&order.symbol);
            debug_assert!(!customer.reserved.is_negative());
            debug_assert!(!order.reserved.is_negative());
            effect.closes
        };
        if closes {
            self.close_order(&mut customer, local.0);
        }
        UpdateOutcome::Applied
    }

    /// `Ok(None)`: nothing to do.
    fn effect_of(
        &self,
        order: &Order,
        customer: &CustomerState,
        update: &OrderUpdate,
        upstream_order_id: &str,
    ) -> Result<Option<Effect>, Overflow> {
        let grows = update.cumulative_quantity > order.filled_quantity;
        let closes = update.status.is_final();
        if !grows && !closes {
            return Ok(None);
        }
        if !grows && update.cumulative_quantity < order.filled_quantity {
            // A final status below what was applied: the fills stay (they were reported), and the
            // order still ends rather than holding its reservation forever.
            tracing::warn!(
                order = upstream_order_id,
                applied = %order.filled_quantity,
                reported = %update.cumulative_quantity,
                "final status reports less filled than already applied; keeping the fills"
            );
        }
        let side = order.terms.side();
        let (filled_quantity, filled_amount) = if grows {
            let product = match side {
                // Rounded against the customer both ways: a BUY pays the 10⁻⁸ up, a SELL is
                // credited it down.
                Side::Buy => update
                    .cumulative_quantity
                    .checked_mul_ceil(update.average_price),
                Side::Sell => update
                    .cumulative_quantity
                    .checked_mul_floor(update.average_price),
            };
            (update.cumulative_quantity, product.ok_or(Overflow)?)
        } else {
            (order.filled_quantity, order.filled_amount)
        };
        // May be negative when upstream corrects its average price down; the total stays exact.
        let newly_filled_amount = sub(filled_amount, order.filled_amount)?;
        let newly_filled_quantity = sub(filled_quantity, order.filled_quantity)?;
        let ordered = match order.terms {
            OrderTerms::BuyQuantity { quantity, .. } | OrderTerms::Sell { quantity } => {
                Some(quantity)
            }
            OrderTerms::BuyCash { .. } => None,
        };
        if ordered.is_some_and(|ordered| filled_quantity > ordered) {
            tracing::warn!(
                order = upstream_order_id,
                filled = %filled_quantity,
                "upstream reports more filled than was ordered"
            );
        }
        let mut position = customer
            .positions
            .get(&order.symbol)
            .copied()
            .unwrap_or_default();

        let effect = match side {
            Side::Buy => {
                let fee_charged = match (closes, update.fees) {
                    (false, _) => Fixed::ZERO,
                    (true, Some(reported)) => reported,
                    // The configured fee is for an execution: none when nothing filled.
                    (true, None) if filled_quantity.is_positive() => {
                        order.charges.at_end(filled_amount)?
                    }
                    (true, None) => Fixed::ZERO,
                };
                let reserved = if closes {
                    Fixed::ZERO
                } else {
                    // Never grows: a reservation is only made by the check in `reserve_buy`.
                    order
                        .terms
                        .remainder_cost(filled_quantity, filled_amount, order.charges)?
                        .min(order.reserved)
                };
                let released = sub(order.reserved, reserved)?;
                let spent = add(newly_filled_amount, fee_charged)?;
                if spent > released {
                    // e.g. a market BUY filling above its buffered reference: the money is spent
                    // anyway, and the customer's available falls by the excess.
                    tracing::warn!(
                        order = upstream_order_id,
                        spent = %spent.money(),
                        released = %released.money(),
                        "fill costs more than its reservation"
                    );
                }
                position.quantity = add(position.quantity, newly_filled_quantity)?;
                Effect {
                    filled_quantity,
                    filled_amount,
                    reserved,
                    closes,
                    cash: sub(customer.cash, spent)?,
                    customer_reserved: sub(customer.reserved, released)?,
                    newly_unsettled: Fixed::ZERO,
                    unsettled_after: Fixed::ZERO,
                    position,
                    omni_released: released,
                    omni_spent: spent,
                    omni_unsettled: Fixed::ZERO,
                }
            }
            Side::Sell => {
                let quantity = ordered.unwrap_or(Fixed::ZERO);
                // Fees DriveWealth reports are charged as reported. Without them, the commission
                // the order named is taken from its proceeds at its end, and never more than
                // they are: nothing reserved it, so it must not spend what the customer or the
                // omni account holds for other orders.
                let (fee_charged, commission) = match (closes, update.fees) {
                    (true, Some(reported)) => (reported, Fixed::ZERO),
                    (true, None) if filled_quantity.is_positive() => (
                        Fixed::ZERO,
                        order.charges.at_end(filled_amount)?.min(filled_amount),
                    ),
                    _ => (Fixed::ZERO, Fixed::ZERO),
                };
                let pending = if closes {
                    Fixed::ZERO
                } else {
                    sub(quantity, filled_quantity)?
                        .max(Fixed::ZERO)
                        .min(order.reserved)
                };
                let pending_released = sub(order.reserved, pending)?;
                position.quantity = sub(position.quantity, newly_filled_quantity)?;
                position.pending_sell = sub(position.pending_sell, pending_released)?;
                if position.quantity.is_negative() {
                    tracing::warn!(
                        order = upstream_order_id,
                        position = %position.quantity,
                        "a SELL fill leaves the position negative"
                    );
                }
                let proceeds = newly_filled_amount;
                let held = customer
                    .unsettled
                    .iter()
                    .find(|part| part.account == order.account)
                    .map_or(Fixed::ZERO, |part| part.total);
                let (cash, unsettled_after, omni_spent, omni_unsettled) =
                    match self.config.sell_proceeds {
                        SellProceeds::OnFill => {
                            let credited = sub(sub(proceeds, fee_charged)?, commission)?;
                            let spent = credited.checked_neg().ok_or(Overflow)?;
                            (add(customer.cash, credited)?, held, spent, Fixed::ZERO)
                        }
                        // The commission waits with the proceeds it comes out of.
                        SellProceeds::OnSettlement => {
                            let held_now = sub(proceeds, commission)?;
                            (
                                sub(customer.cash, fee_charged)?,
                                add(held, held_now)?,
                                fee_charged,
                                held_now,
                            )
                        }
                    };
                Effect {
                    filled_quantity,
                    filled_amount,
                    reserved: pending,
                    closes,
                    cash,
                    customer_reserved: customer.reserved,
                    newly_unsettled: omni_unsettled,
                    unsettled_after,
                    position,
                    omni_released: Fixed::ZERO,
                    omni_spent,
                    omni_unsettled,
                }
            }
        };
        Ok(Some(effect))
    }
}
