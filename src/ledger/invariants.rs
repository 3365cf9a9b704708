//! The whole-ledger audit: recomputes every derived number from the orders and compares.
//!
//! Meant for moments when nothing is in flight (tests after each step, an admin health check on
//! a quiet system): while orders race, the omni atomics and the customers legitimately disagree
//! for an instant.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::orders::Side;
use super::{add, FundingKind, Ledger};
use crate::money::Fixed;

/// Per customer, what its open orders add up to.
#[derive(Default)]
struct Expected {
    reserved: Fixed,
    pending_sells: HashMap<Arc<str>, Fixed>,
    open_orders: Vec<u64>,
}

impl Ledger {
    /// Checks invariants 1–5 of the module docs, the registry's two maps and the upstream-id
    /// index. `Err` lists every problem found, one per line.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut problems = String::new();
        let mut note = |problem: String| {
            let _ = writeln!(problems, "{problem}");
        };

        // Orders first (no customer lock may be taken while a shard guard is held).
        let mut expected: HashMap<usize, Expected> = HashMap::new();
        // Per omnibus account: Σ reservations of its open BUYs, Σ its customers' held proceeds.
        let mut accounts_reserved = vec![Fixed::ZERO; self.accounts.len()];
        let mut accounts_unsettled = vec![Fixed::ZERO; self.accounts.len()];
        let mut bound: Vec<(Box<str>, u64)> = Vec::new();
        for entry in self.orders.iter() {
            let local = *entry.key();
            let order = entry.value();
            let owner = expected
                .entry(Arc::as_ptr(&order.customer) as usize)
                .or_default();
            owner.open_orders.push(local);
            if order.reserved.is_negative() {
                note(format!(
                    "order local-{local} holds a negative {}",
                    order.reserved
                ));
            }
            let account = usize::from(order.account.0);
            if account >= self.accounts.len() {
                note(format!(
                    "order local-{local} names account {account}, which is not kept"
                ));
            }
            match order.terms.side() {
                Side::Buy => {
                    match add(owner.reserved, order.reserved) {
                        Ok(sum) => owner.reserved = sum,
                        Err(_) => note("Σ order reservations overflows".to_string()),
                    }
                    if let Some(sum) = accounts_reserved.get_mut(account) {
                        *sum = add(*sum, order.reserved).unwrap_or(Fixed::MAX);
                    }
                }
                Side::Sell => {
                    let pending = owner.pending_sells.entry(order.symbol.clone()).or_default();
                    match add(*pending, order.reserved) {
                        Ok(sum) => *pending = sum,
                        Err(_) => note("Σ pending sells overflows".to_string()),
                    }
                }
            }
            if let Some(upstream) = &order.upstream_order_id {
                bound.push((upstream.clone(), local));
                if order.in_doubt {
                    note(format!("order local-{local} is bound yet in doubt"));
                }
            }
        }
        for (upstream, local) in &bound {
            match self.local_by_upstream.get(upstream) {
                Some(mapped) if *mapped.value() == *local => {}
                _ => note(format!(
                    "upstream id {upstream} does not lead to local-{local}"
                )),
            }
        }
        if self.local_by_upstream.len() != bound.len() {
            note(format!(
                "{} upstream ids are indexed but {} open orders are bound",
                self.local_by_upstream.len(),
                bound.len()
            ));
        }

        // Customers.
        let cells: Vec<(Box<str>, Arc<super::CustomerCell>)> = self
            .customers
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().clone()))
            .collect();
        if self.client_by_customer.len() != cells.len() {
            note(format!(
                "{} customerIds are indexed for {} customers",
                self.client_by_customer.len(),
                cells.len()
            ));
        }
        let mut orders_seen = 0;
        for (key, cell) in &cells {
            let want = expected
                .remove(&(Arc::as_ptr(cell) as usize))
                .unwrap_or_default();
            let customer = cell.read();
            let who = &customer.client_id;
            if **who != **key {
                note(format!("customer {who} is stored under clientID {key}"));
            }
            match self.client_by_customer.get(&customer.customer_id) {
                Some(client) if **client.value() == **who => {}
                _ => note(format!(
                    "customerId {} does not lead to clientID {who}",
                    customer.customer_id
                )),
            }
            if customer.reserved.is_negative() {
                note(format!("{who}: reserved {} is negative", customer.reserved));
            }
            if customer.reserved != want.reserved {
                note(format!(
                    "{who}: reserved {} but its open BUYs hold {}",
                    customer.reserved, want.reserved
                ));
            }
            for (symbol, position) in &customer.positions {
                let pending = want.pending_sells.get(symbol).copied().unwrap_or_default();
                if position.pending_sell != pending {
                    note(format!(
                        "{who}: {symbol} pending sells {} but its open SELLs hold {pending}",
                        position.pending_sell
                    ));
                }
                if position.is_empty() {
                    note(format!("{who}: empty position {symbol} kept"));
                }
            }
            for (symbol, pending) in &want.pending_sells {
                if !customer.positions.contains_key(symbol) && !pending.is_zero() {
                    note(format!(
                        "{who}: open SELLs hold {pending} {symbol} with no position"
                    ));
                }
            }
            let mut listed = customer.open_orders.clone();
            listed.sort_unstable();
            let mut owned = want.open_orders;
            owned.sort_unstable();
            if listed != owned {
                note(format!(
                    "{who}: lists open orders {listed:?} but owns {owned:?}"
                ));
            }
            orders_seen += owned.len();
            for (index, part) in customer.unsettled.iter().enumerate() {
                if part.total.is_zero() {
                    note(format!("{who}: an empty part of held proceeds kept"));
                }
                if customer.unsettled[..index]
                    .iter()
                    .any(|earlier| earlier.account == part.account)
                {
                    note(format!("{who}: two parts of held proceeds for one account"));
                }
                match accounts_unsettled.get_mut(usize::from(part.account.0)) {
                    Some(sum) => *sum = add(*sum, part.total).unwrap_or(Fixed::MAX),
                    None => note(format!("{who}: holds proceeds for an account not kept")),
                }
            }
        }
        if orders_seen != self.orders.len() {
            note(format!(
                "{} open orders belong to no registered customer",
                self.orders.len() - orders_seen
            ));
        }

        // The omni accounts.
        let load = |cell: &std::sync::atomic::AtomicI64| cell.load(Ordering::Acquire) as i128;
        for (index, omni) in self.accounts.iter().enumerate() {
            let name = omni.number.as_deref().map_or_else(
                || "omni".to_owned(),
                |number| format!("omni account {number}"),
            );
            let (available, reserved) = (load(&omni.available), load(&omni.reserved));
            let shown = |units: i128| Fixed::from_units(units as i64);
            if reserved < 0 {
                note(format!("{name} reserved {} is negative", shown(reserved)));
            }
            let orders_reserved = accounts_reserved[index];
            if reserved != orders_reserved.units() as i128 {
                note(format!(
                    "{name} reserved {} but its open BUYs hold {orders_reserved}",
                    shown(reserved)
                ));
            }
            let unsettled = load(&omni.unsettled_proceeds);
            let held = accounts_unsettled[index];
            if unsettled != held.units() as i128 {
                note(format!(
                    "{name} unsettled proceeds {} but its customers hold {held}",
                    shown(unsettled)
                ));
            }
            let headroom = match omni.kind {
                FundingKind::Prefunded => load(&omni.cash),
                FundingKind::Cashless => load(&omni.credit_limit) - load(&omni.pending_settlement),
            };
            if available != headroom - reserved {
                note(format!(
                    "{name} available {} but its balance minus reserved is {}",
                    shown(available),
                    headroom - reserved
                ));
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}
