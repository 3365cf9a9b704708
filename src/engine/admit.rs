//! The order path up to the wire, in SPEC §3.1's order: account and clientID, kill switch, rate
//! limit, instrument and its rules, market hours, duplicates, price band and risk limits, then
//! the reservation at customer and omni. The first failure decides, and whatever an earlier step
//! recorded (a duplicate ticket) is given back.

use super::{Durability, Engine, StorageError};
use crate::decide::{self, hold_for, Hold, QueuedOrder};
use crate::engine::record::{OrderControls, Record};
use crate::ledger::{BuyCost, LocalOrderId};
use crate::limits::{
    check_open_orders, check_order_limits, check_restricted_symbol, DuplicateTicket, OrderIdentity,
    OrderRisk, PriceKind,
};
use crate::money::Fixed;
use crate::order::{Order, OrderType, Side, Size};
use crate::reject::Reject;
use crate::rules::market_hours::new_york_date;

/// Why an order was not admitted.
#[derive(Debug)]
pub enum AdmitError {
    Rejected(Reject),
    /// The WAL cannot take records: fail closed (503).
    Storage(StorageError),
}

/// An order that passed every check and holds its reservation.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub local: LocalOrderId,
    pub queued: Option<QueuedOrder>,
    /// Its place in the duplicate guard (given back if the upstream refuses it).
    pub ticket: DuplicateTicket,
    /// What the order added to the controls' memory, and whose (logged again, as given back,
    /// if the upstream refuses it). `None` when it added nothing.
    pub controls: Option<(Box<str>, OrderControls)>,
}

impl Engine {
    /// Decides an order and reserves what it holds. The reservation's record is queued to the
    /// WAL; the order may be forwarded once the returned [`Durability`] resolves.
    pub fn admit(&self, order: &Order<'_>) -> Result<(Admitted, Durability), AdmitError> {
        if let Some(reason) = self.storage_failed() {
            return Err(AdmitError::Storage(StorageError(reason)));
        }
        self.admit_in_memory(order).map_err(AdmitError::Rejected)
    }

    fn admit_in_memory(&self, order: &Order<'_>) -> Result<(Admitted, Durability), Reject> {
        let now = self.clock.now();
        let settings = self.settings.load();
        let client_id = decide::identify(order, &settings.rules, &self.ledger)?;
        self.kill_switch.check_customer(client_id)?;
        self.freezes.check(client_id)?;
        let limits = settings.limits.limits_for(client_id, now);
        self.rate.try_take(client_id, &limits, now)?;
        let tradable = decide::check_trade(order, &settings.rules, &self.instruments, now)?;
        let instrument = &tradable.instrument;
        self.kill_switch.check_symbol(&instrument.symbol)?;
        check_restricted_symbol(&instrument.symbol, &limits)?;
        let ticket = self.duplicates.check_and_record(
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

        let admitted = (|| {
            let hold = hold_for(
                order,
                instrument,
                limits.market_buffer_pct,
                settings.fee_per_order,
            )?;
            let reference = instrument.reference_price();
            let notional = notional(&hold, reference);
            check_order_limits(
                &OrderRisk {
                    side: order.side,
                    notional,
                    quantity: estimated_quantity(order.size, reference),
                    price: order
                        .price
                        .map(|price| (price_kind(order.order_type), price)),
                    reference,
                    // Checked with the reservation, under the customer's lock (below).
                    open_orders: 0,
                    bought_today: Fixed::ZERO,
                },
                &limits,
            )?;
            let trading_day = new_york_date(now);
            let daily_notional = if order.side == Side::Buy {
                notional
            } else {
                Fixed::ZERO
            };
            self.daily_buys
                .try_add(client_id, trading_day, daily_notional, &limits)?;
            // Kept with the reservation so a restart remembers them (SPEC §10).
            let controls =
                (!daily_notional.is_zero() || order.client_order_id.is_some()).then(|| {
                    OrderControls {
                        trading_day,
                        buy_notional: daily_notional,
                        client_order_id: order.client_order_id.as_deref().map(str::to_owned),
                        at_unix_ns: now.timestamp_nanos_opt().unwrap_or(i64::MAX),
                    }
                });
            let open_orders_check = |open: u32| check_open_orders(open, &limits);
            // The reservation and its record go together under the gate (see `journal`).
            let gate = self.gate.shared();
            let reserved = match hold {
                Hold::Buy(cost) => self
                    .ledger
                    .reserve_buy_checked(client_id, &instrument.symbol, cost, &open_orders_check)
                    .map(|local| {
                        let record = Record::ReserveBuy {
                            local: local.0,
                            client_id: client_id.to_owned(),
                            symbol: instrument.symbol.clone(),
                            per_share: cost.per_share,
                            quantity: cost.quantity,
                            amount_cash: cost.amount_cash,
                            fee: cost.fee,
                            controls: controls.clone(),
                        };
                        (local, self.log(&[record]))
                    }),
                Hold::Sell { quantity } => self
                    .ledger
                    .reserve_sell_checked(
                        client_id,
                        &instrument.symbol,
                        quantity,
                        &open_orders_check,
                    )
                    .map(|local| {
                        let record = Record::ReserveSell {
                            local: local.0,
                            client_id: client_id.to_owned(),
                            symbol: instrument.symbol.clone(),
                            quantity,
                            controls: controls.clone(),
                        };
                        (local, self.log(&[record]))
                    }),
            };
            drop(gate);
            match reserved {
                Ok((local, durability)) => Ok((
                    Admitted {
                        local,
                        ticket,
                        controls: controls.map(|controls| (client_id.into(), controls)),
                        queued: tradable.queued_until.map(|open| QueuedOrder {
                            exchange: instrument.exchange,
                            open,
                        }),
                    },
                    durability,
                )),
                Err(reject) => {
                    self.daily_buys
                        .give_back(client_id, trading_day, daily_notional);
                    Err(reject)
                }
            }
        })();
        if admitted.is_err() {
            self.duplicates.forget(ticket);
        } else {
            self.watch_omni_balance(&settings);
        }
        admitted
    }

    /// Logs and flags the omni account crossing `omnibus.low_balance_warning`.
    pub fn watch_omni_balance(&self, settings: &super::Settings) {
        let Some(threshold) = settings.low_balance_warning else {
            return;
        };
        let available = self.ledger.omni_available();
        let below = available < threshold;
        if self
            .omni_low
            .swap(below, std::sync::atomic::Ordering::Relaxed)
            != below
        {
            if below {
                tracing::warn!(available = %available.money(), threshold = %threshold.money(), "omni account buying power fell below omnibus.low_balance_warning");
            } else {
                tracing::info!(available = %available.money(), "omni account buying power is back above omnibus.low_balance_warning");
            }
            metrics::gauge!("omnigate_omni_low_balance").set(if below { 1.0 } else { 0.0 });
        }
    }
}

/// USD the order puts at risk: a BUY's cost, a SELL's quantity at the reference price.
fn notional(hold: &Hold, reference: Option<Fixed>) -> Fixed {
    match hold {
        Hold::Buy(cost) => buy_cost(cost),
        Hold::Sell { quantity } => reference
            .and_then(|price| quantity.checked_mul_ceil(price))
            .unwrap_or(Fixed::ZERO),
    }
}

fn buy_cost(cost: &BuyCost) -> Fixed {
    cost.cost().unwrap_or(Fixed::MAX)
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
