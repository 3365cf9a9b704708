//! Reading orders for the admin API: [`OrderState`], [`OrderView`], [`Ledger::orders`] and
//! [`Ledger::order`].

use std::sync::Arc;

use serde::Serialize;

use super::customer::CustomerCell;
use super::orders::{LocalOrderId, Order, OrderTerms, Side};
use super::{Ledger, OrderStatus};
use crate::money::Fixed;

/// Which orders [`Ledger::orders`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Not in doubt: bound to an upstream id, or on its way and not answered yet.
    Open,
    /// Sent without an answer; its reservation is held until resolved.
    InDoubt,
}

/// One row of `GET /admin/orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub local_id: LocalOrderId,
    /// The omnibus account it goes through (for reconciliation; not shown).
    #[serde(skip)]
    pub account: super::AccountIndex,
    #[serde(rename = "orderId")]
    pub upstream_order_id: Option<String>,
    #[serde(rename = "clientID")]
    pub client_id: String,
    pub symbol: String,
    pub side: Side,
    pub state: OrderState,
    pub status: Option<OrderStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Fixed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_cash: Option<Fixed>,
    pub filled_quantity: Fixed,
    pub filled_amount: Fixed,
    /// BUY: cash still held for the remainder and the fee.
    pub reserved_cash: Fixed,
    /// SELL: shares still held in pending sells.
    pub pending_sell_quantity: Fixed,
    /// In doubt: the partner's clientOrderID, by which DriveWealth's events can bind it.
    #[serde(rename = "clientOrderID", skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// In doubt: when it was sent (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl Ledger {
    /// Open (including not yet answered) or in-doubt orders, oldest first.
    pub fn orders(&self, filter: OrderState) -> Vec<OrderView> {
        let wanted_in_doubt = filter == OrderState::InDoubt;
        // Copy rows out first: no shard guard may be held while a customer lock is taken.
        let mut rows: Vec<(Arc<CustomerCell>, OrderView)> = self
            .orders
            .iter()
            .filter(|entry| entry.in_doubt == wanted_in_doubt)
            .map(|entry| (entry.customer.clone(), order_view(*entry.key(), &entry)))
            .collect();
        for (cell, view) in &mut rows {
            view.client_id = cell.read().client_id.to_string();
        }
        let mut views: Vec<OrderView> = rows.into_iter().map(|(_, view)| view).collect();
        views.sort_unstable_by_key(|view| view.local_id);
        views
    }

    /// How many orders are open and how many in doubt, without copying any.
    pub fn order_counts(&self) -> (usize, usize) {
        let in_doubt = self.orders.iter().filter(|entry| entry.in_doubt).count();
        (self.orders.len() - in_doubt, in_doubt)
    }

    /// The open order bound to an upstream id.
    pub fn order_by_upstream(&self, upstream_order_id: &str) -> Option<OrderView> {
        let local = *self.local_by_upstream.get(upstream_order_id)?;
        self.order(LocalOrderId(local))
    }

    /// One order by local id.
    pub fn order(&self, local: LocalOrderId) -> Option<OrderView> {
        let (cell, mut view) = {
            let order = self.orders.get(&local.0)?;
            (order.customer.clone(), order_view(local.0, &order))
        };
        view.client_id = cell.read().client_id.to_string();
        Some(view)
    }
}

fn order_view(local: u64, order: &Order) -> OrderView {
    let (quantity, amount_cash) = match order.terms {
        OrderTerms::BuyQuantity { quantity, .. } | OrderTerms::Sell { quantity } => {
            (Some(quantity), None)
        }
        OrderTerms::BuyCash { amount_cash } => (None, Some(amount_cash)),
    };
    let side = order.terms.side();
    OrderView {
        local_id: LocalOrderId(local),
        account: order.account,
        upstream_order_id: order.upstream_order_id.as_deref().map(str::to_string),
        client_id: String::new(),
        symbol: order.symbol.to_string(),
        side,
        state: if order.in_doubt {
            OrderState::InDoubt
        } else {
            OrderState::Open
        },
        status: order.status,
        quantity,
        amount_cash,
        filled_quantity: order.filled_quantity,
        filled_amount: order.filled_amount,
        reserved_cash: if side == Side::Buy {
            order.reserved
        } else {
            Fixed::ZERO
        },
        pending_sell_quantity: if side == Side::Sell {
            order.reserved
        } else {
            Fixed::ZERO
        },
        client_order_id: order
            .note
            .as_ref()
            .and_then(|note| note.client_order_id.clone()),
        created_at: order.note.as_ref().and_then(|note| {
            chrono::DateTime::from_timestamp_millis(note.created_at_ms)
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }),
    }
}
