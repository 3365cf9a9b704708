//! The ledger's side of durability (SPEC §10): snapshots and log replay.
//!
//! `replay_and_snapshots_rebuild_the_ledger` drives a ledger A with a random sequence of live
//! operations (registrations and replaces, re-keys, deposits and withdrawals, omni deposits and
//! credit lines, BUYs and SELLs including refused ones and BUYs sized at the available amount,
//! binds, releases, in-doubt orders and their resolution, partial and full fills, cancels,
//! duplicate, out-of-order and stray updates, settlement rolls; the generator in
//! `common::ledger_ops`, shared with `ledger_model.rs`) and records, for each operation that
//! changed something, the redo record the write-ahead log would hold. Then:
//! - (a) the records replayed in order into a fresh ledger give A's state, byte for byte;
//! - (b) the records replayed in a random order that keeps only what must be kept (each order's
//!   own records, a registration or re-key against the records using its clientID, rolls against
//!   fills, credit-line changes among themselves) give the same bytes too: replay applies
//!   effects, and effects are sums;
//! - (c) export → encode → decode → import → export gives the same bytes, the same customer,
//!   omni and order views, and the imported ledger keeps behaving exactly like A under the rest
//!   of the operations;
//! - (d) recovery: the snapshot taken part-way plus the records after it rebuild A's final state.
//!
//! `check_invariants` holds after every replayed record and on every ledger compared.
//!
//! `corrupt_snapshots_never_panic`: every truncation of an encoded snapshot is a decode error,
//! and a snapshot with bytes flipped either fails to decode, is refused by import, or imports into
//! a ledger whose audit passes. Table tests name what import refuses.

use std::collections::HashMap;

use common::ledger_ops::{
    fixed, op_strategy, setup_strategy, Op, Setup, CENT, CLIENTS, CUSTOMERS, SYMBOLS, UNIT,
};
use omnigate::codec::{Decoder, Encoder};
use omnigate::ledger::{
    AccountIndex, BuyCost, Charges, Funding, Ledger, LedgerConfig, LedgerError, LedgerState,
    LocalOrderId, OrderState, OrderStatus, OrderTerms, OrderUpdate, OrderView, Registered,
    SellProceeds, Side, UpdateOutcome,
};
use omnigate::money::Fixed;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

mod common;

// ---------------------------------------------------------------------------------------------
// Redo records: what the write-ahead log would hold for each successful operation
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Redo {
    RegisterNew {
        client: String,
        customer: String,
        cash: Fixed,
        positions: Vec<(String, Fixed)>,
    },
    Replace {
        client: String,
        cash_delta: Fixed,
        position_deltas: Vec<(String, Fixed)>,
    },
    Rekey {
        from: String,
        to: String,
    },
    AdjustCash {
        client: String,
        amount: Fixed,
    },
    OmniDeposit {
        amount: Fixed,
    },
    SetCreditLimit {
        limit: Fixed,
    },
    ReserveBuy {
        local: LocalOrderId,
        client: String,
        symbol: String,
        cost: BuyCost,
    },
    ReserveSell {
        local: LocalOrderId,
        client: String,
        symbol: String,
        quantity: Fixed,
    },
    Bind {
        local: LocalOrderId,
        upstream: String,
    },
    Release {
        local: LocalOrderId,
    },
    MarkInDoubt {
        local: LocalOrderId,
    },
    Resolve {
        local: LocalOrderId,
        upstream: Option<String>,
    },
    /// Every update the live ledger was given, with what it answered; `local` is the order it
    /// concerns (`None` for an id never bound).
    Update {
        local: Option<LocalOrderId>,
        upstream: String,
        update: OrderUpdate,
        outcome: UpdateOutcome,
    },
    Roll,
}

/// Applies one record; each must succeed exactly as it did live.
fn replay(ledger: &Ledger, redo: &Redo) {
    let result = match redo {
        Redo::RegisterNew {
            client,
            customer,
            cash,
            positions,
        } => ledger.redo_register_new(client, customer, *cash, positions.clone()),
        Redo::Replace {
            client,
            cash_delta,
            position_deltas,
        } => ledger.redo_replace(client, *cash_delta, position_deltas.clone()),
        Redo::Rekey { from, to } => ledger.rekey(from, to),
        Redo::AdjustCash { client, amount } => ledger.redo_adjust_cash(client, *amount),
        Redo::OmniDeposit { amount } => ledger.redo_omni_cash(AccountIndex(0), *amount),
        Redo::SetCreditLimit { limit } => {
            ledger.set_credit_limit(AccountIndex(0), *limit).map(|_| ())
        }
        Redo::ReserveBuy {
            local,
            client,
            symbol,
            cost,
        } => ledger.redo_reserve_buy(*local, client, symbol, *cost, AccountIndex(0)),
        Redo::ReserveSell {
            local,
            client,
            symbol,
            quantity,
        } => ledger.redo_reserve_sell(
            *local,
            client,
            symbol,
            *quantity,
            Charges::default(),
            AccountIndex(0),
        ),
        Redo::Bind { local, upstream } => ledger.bind(*local, upstream),
        Redo::Release { local } => ledger.release(*local),
        Redo::MarkInDoubt { local } => ledger.mark_in_doubt(*local),
        Redo::Resolve { local, upstream } => ledger.resolve_in_doubt(*local, upstream.as_deref()),
        Redo::Update {
            upstream,
            update,
            outcome,
            ..
        } => {
            let replayed = ledger.apply_update(upstream, *update);
            assert_eq!(&replayed, outcome, "replaying {redo:?}");
            Ok(())
        }
        Redo::Roll => ledger.roll_settlement_day().map(|_| ()),
    };
    if let Err(error) = result {
        panic!("replaying {redo:?}: {error}");
    }
}

/// What a record must stay ordered against. Two records conflict when they share a key and at
/// least one of them holds it exclusively; conflicting records keep their log order in the
/// shuffled replay, all others may move freely.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    /// A clientID: bound by a registration or a re-key (exclusive), used by the rest (shared).
    Client(String),
    Customer(String),
    /// Everything about one order, in its own order.
    Order(LocalOrderId),
    /// Fills (shared) against settlement rolls (exclusive).
    Settlement,
    CreditLine,
}

fn keys(redo: &Redo) -> Vec<(Key, bool)> {
    match redo {
        Redo::RegisterNew {
            client, customer, ..
        } => vec![
            (Key::Client(client.clone()), true),
            (Key::Customer(customer.clone()), true),
        ],
        Redo::Rekey { from, to } => vec![
            (Key::Client(from.clone()), true),
            (Key::Client(to.clone()), true),
        ],
        Redo::Replace { client, .. } | Redo::AdjustCash { client, .. } => {
            vec![(Key::Client(client.clone()), false)]
        }
        Redo::ReserveBuy { local, client, .. } | Redo::ReserveSell { local, client, .. } => vec![
            (Key::Client(client.clone()), false),
            (Key::Order(*local), true),
        ],
        Redo::Bind { local, .. }
        | Redo::Release { local }
        | Redo::MarkInDoubt { local }
        | Redo::Resolve { local, .. } => vec![(Key::Order(*local), true)],
        Redo::Update {
            local: Some(local), ..
        } => vec![(Key::Order(*local), true), (Key::Settlement, false)],
        Redo::Update { local: None, .. } | Redo::OmniDeposit { .. } => Vec::new(),
        Redo::Roll => vec![(Key::Settlement, true)],
        Redo::SetCreditLimit { .. } => vec![(Key::CreditLine, true)],
    }
}

fn conflict(a: &[(Key, bool)], b: &[(Key, bool)]) -> bool {
    a.iter().any(|(key_a, exclusive_a)| {
        b.iter()
            .any(|(key_b, exclusive_b)| key_a == key_b && (*exclusive_a || *exclusive_b))
    })
}

/// A random order of `log` that keeps every conflicting pair in log order (a random linear
/// extension of the "must come before" relation).
fn shuffled(log: &[Redo], seed: u64) -> Vec<usize> {
    let keys: Vec<_> = log.iter().map(keys).collect();
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); log.len()];
    let mut waiting_for = vec![0usize; log.len()];
    for later in 0..log.len() {
        for earlier in 0..later {
            if conflict(&keys[earlier], &keys[later]) {
                after[earlier].push(later);
                waiting_for[later] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..log.len()).filter(|&i| waiting_for[i] == 0).collect();
    let mut state = seed | 1;
    let mut order = Vec::with_capacity(log.len());
    while !ready.is_empty() {
        // xorshift64: a fixed, seedable sequence, so a failure replays from the proptest seed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let next = ready.swap_remove((state % ready.len() as u64) as usize);
        order.push(next);
        for &later in &after[next] {
            waiting_for[later] -= 1;
            if waiting_for[later] == 0 {
                ready.push(later);
            }
        }
    }
    assert_eq!(
        order.len(),
        log.len(),
        "the ordering constraints have a cycle"
    );
    order
}

// ---------------------------------------------------------------------------------------------
// Live operations
// ---------------------------------------------------------------------------------------------

/// A ledger driven by live calls, and the log of what they did.
struct Live {
    ledger: Ledger,
    log: Vec<Redo>,
    fee: Fixed,
    next_upstream: u64,
    /// Updates sent to each open order, for duplicates and out-of-order repeats.
    sent: HashMap<LocalOrderId, Vec<OrderUpdate>>,
    /// Orders closed by an update, with their upstream id and last update.
    closed: Vec<(LocalOrderId, String, OrderUpdate)>,
}

impl Live {
    fn new(setup: &Setup) -> Live {
        let mut live = Live {
            ledger: Ledger::new(setup.config()),
            log: Vec::new(),
            fee: fixed(setup.fee_cents * CENT),
            next_upstream: 1,
            sent: HashMap::new(),
            closed: Vec::new(),
        };
        if !setup.cashless && setup.omni_cents > 0 {
            live.step(&Op::OmniDeposit {
                cents: setup.omni_cents,
            });
        }
        for op in setup.registrations() {
            live.step(&op);
        }
        live
    }

    /// The same bookkeeping over another ledger (one imported from this one's snapshot).
    fn fork(&self, ledger: Ledger) -> Live {
        Live {
            ledger,
            log: self.log.clone(),
            fee: self.fee,
            next_upstream: self.next_upstream,
            sent: self.sent.clone(),
            closed: self.closed.clone(),
        }
    }

    /// Open and in-doubt orders matching `wanted`, by local id; `pick` chooses one.
    fn pick(&self, pick: usize, wanted: impl Fn(&OrderView) -> bool) -> Option<OrderView> {
        let mut orders = self.ledger.orders(OrderState::Open);
        orders.extend(self.ledger.orders(OrderState::InDoubt));
        orders.sort_by_key(|order| order.local_id);
        orders.retain(|order| wanted(order));
        (!orders.is_empty()).then(|| orders.swap_remove(pick % orders.len()))
    }

    fn new_upstream_id(&mut self) -> String {
        let id = format!("DW-{}", self.next_upstream);
        self.next_upstream += 1;
        id
    }

    fn send(&mut self, order: &OrderView, update: OrderUpdate) {
        let local = order.local_id;
        let upstream = order.upstream_order_id.clone().expect("a bound order");
        let outcome = self.ledger.apply_update(&upstream, update);
        assert!(
            matches!(outcome, UpdateOutcome::Applied | UpdateOutcome::Duplicate),
            "{update:?} to {upstream}: {outcome:?}"
        );
        self.log.push(Redo::Update {
            local: Some(local),
            upstream: upstream.clone(),
            update,
            outcome,
        });
        if self.ledger.order(local).is_some() {
            self.sent.entry(local).or_default().push(update);
        } else {
            self.sent.remove(&local);
            self.closed.push((local, upstream, update));
        }
    }

    fn buy(&mut self, client: usize, symbol: usize, cost: BuyCost) {
        let (client, symbol) = (CLIENTS[client], SYMBOLS[symbol]);
        if let Ok(local) = self.ledger.reserve_buy(client, symbol, cost) {
            self.log.push(Redo::ReserveBuy {
                local,
                client: client.to_string(),
                symbol: symbol.to_string(),
                cost,
            });
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
                let mut holdings: Vec<(String, Fixed)> = Vec::new();
                for (symbol, halves) in positions {
                    let symbol = SYMBOLS[symbol].to_string();
                    holdings.retain(|(held, _)| *held != symbol);
                    holdings.push((symbol, fixed(halves * UNIT / 2)));
                }
                let (client, customer) = (CLIENTS[client], CUSTOMERS[customer]);
                let cash = fixed(cash_cents * CENT);
                match self
                    .ledger
                    .register(client, customer, cash, holdings.clone())
                {
                    Ok(Registered::New) => self.log.push(Redo::RegisterNew {
                        client: client.to_string(),
                        customer: customer.to_string(),
                        cash,
                        positions: holdings,
                    }),
                    Ok(Registered::Replaced {
                        cash_delta,
                        position_deltas,
                    }) => self.log.push(Redo::Replace {
                        client: client.to_string(),
                        cash_delta,
                        position_deltas,
                    }),
                    Err(error) => assert!(matches!(error, LedgerError::Conflict(_)), "{error}"),
                }
            }
            Op::Rekey { from, to } => {
                let (from, to) = (CLIENTS[from], CLIENTS[to]);
                if self.ledger.rekey(from, to).is_ok() {
                    self.log.push(Redo::Rekey {
                        from: from.to_string(),
                        to: to.to_string(),
                    });
                }
            }
            Op::Deposit { client, cents } | Op::Withdraw { client, cents } => {
                let amount = if matches!(op, Op::Deposit { .. }) {
                    fixed(cents * CENT)
                } else {
                    fixed(-cents * CENT)
                };
                if self.ledger.adjust_cash(CLIENTS[client], amount).is_ok() {
                    self.log.push(Redo::AdjustCash {
                        client: CLIENTS[client].to_string(),
                        amount,
                    });
                }
            }
            Op::OmniDeposit { cents } => {
                let amount = fixed(cents * CENT);
                self.ledger.omni_deposit(amount).unwrap();
                self.log.push(Redo::OmniDeposit { amount });
            }
            // One account here: the second account's withdrawals are the model test's.
            Op::OmniWithdraw {
                second: false,
                cents,
            } => {
                let amount = fixed(-cents * CENT);
                if self.ledger.omni_cash(amount).is_ok() {
                    self.log.push(Redo::OmniDeposit { amount });
                }
            }
            Op::OmniWithdraw { second: true, .. } | Op::NextDay { .. } => {}
            Op::CreditLimit { cents } => {
                let limit = fixed(cents * CENT);
                if self.ledger.set_credit_limit(AccountIndex(0), limit).is_ok() {
                    self.log.push(Redo::SetCreditLimit { limit });
                }
            }
            Op::LimitBuy {
                client,
                symbol,
                quantity,
                price_cents,
            } => {
                let cost = BuyCost {
                    per_share: Some(fixed(price_cents * CENT)),
                    quantity: Some(fixed(quantity * UNIT)),
                    amount_cash: None,
                    fee: self.fee,
                    commission_rate: Fixed::ZERO,
                };
                self.buy(client, symbol, cost);
            }
            Op::CashBuy {
                client,
                symbol,
                amount_cents,
            } => {
                let cost = BuyCost {
                    per_share: None,
                    quantity: None,
                    amount_cash: Some(fixed(amount_cents * CENT)),
                    fee: self.fee,
                    commission_rate: Fixed::ZERO,
                };
                self.buy(client, symbol, cost);
            }
            Op::BoundaryBuy {
                client,
                of_omni,
                nudge_units,
            } => {
                let Some(customer) = self.ledger.customer(CLIENTS[client]) else {
                    return;
                };
                let available = if of_omni {
                    self.ledger.omni_available(AccountIndex(0))
                } else {
                    customer.available
                };
                let amount =
                    i128::from(available.units()) - i128::from(self.fee.units()) + nudge_units;
                if amount > 0 && amount < i64::MAX as i128 {
                    let cost = BuyCost {
                        per_share: None,
                        quantity: None,
                        amount_cash: Some(fixed(amount)),
                        fee: self.fee,
                        commission_rate: Fixed::ZERO,
                    };
                    self.buy(client, 0, cost);
                }
            }
            Op::Sell {
                client,
                symbol,
                quantity_units,
            } => {
                let (client, symbol) = (CLIENTS[client], SYMBOLS[symbol]);
                let quantity = fixed(quantity_units);
                if let Ok(local) = self.ledger.reserve_sell(client, symbol, quantity) {
                    self.log.push(Redo::ReserveSell {
                        local,
                        client: client.to_string(),
                        symbol: symbol.to_string(),
                        quantity,
                    });
                }
            }
            Op::Bind { pick } => {
                // Unbound orders, in doubt included: a late answer ends the doubt.
                if let Some(order) = self.pick(pick, |order| order.upstream_order_id.is_none()) {
                    let upstream = self.new_upstream_id();
                    self.ledger.bind(order.local_id, &upstream).unwrap();
                    self.log.push(Redo::Bind {
                        local: order.local_id,
                        upstream,
                    });
                }
            }
            Op::Release { pick } => {
                if let Some(order) = self.pick(pick, |order| order.upstream_order_id.is_none()) {
                    self.ledger.release(order.local_id).unwrap();
                    self.sent.remove(&order.local_id);
                    self.log.push(Redo::Release {
                        local: order.local_id,
                    });
                }
            }
            Op::MarkInDoubt { pick } => {
                let wanted = |order: &OrderView| {
                    order.upstream_order_id.is_none() && order.state == OrderState::Open
                };
                if let Some(order) = self.pick(pick, wanted) {
                    self.ledger.mark_in_doubt(order.local_id).unwrap();
                    self.log.push(Redo::MarkInDoubt {
                        local: order.local_id,
                    });
                }
            }
            Op::Resolve { pick, placed } => {
                if let Some(order) = self.pick(pick, |order| order.state == OrderState::InDoubt) {
                    let upstream = placed.then(|| self.new_upstream_id());
                    self.ledger
                        .resolve_in_doubt(order.local_id, upstream.as_deref())
                        .unwrap();
                    self.log.push(Redo::Resolve {
                        local: order.local_id,
                        upstream,
                    });
                }
            }
            Op::PartialFill {
                pick,
                quarters,
                price_cents,
            } => {
                if let Some(order) = self.pick(pick, |order| order.upstream_order_id.is_some()) {
                    let filled = i128::from(order.filled_quantity.units());
                    let step = match order.quantity {
                        Some(quantity) => {
                            ((i128::from(quantity.units()) - filled) * quarters / 4).max(1)
                        }
                        None => quarters * UNIT / 10,
                    };
                    let update = OrderUpdate {
                        status: OrderStatus::PartialFill,
                        cumulative_quantity: fixed(filled + step),
                        average_price: fixed(price_cents * CENT),
                        fees: None,
                    };
                    self.send(&order, update);
                }
            }
            Op::Fill {
                pick,
                tenths,
                price_cents,
                fees_cents,
            } => {
                if let Some(order) = self.pick(pick, |order| order.upstream_order_id.is_some()) {
                    let cumulative = match order.quantity {
                        Some(quantity) => i128::from(quantity.units()),
                        None => i128::from(order.filled_quantity.units()) + tenths * UNIT / 10,
                    };
                    let update = OrderUpdate {
                        status: OrderStatus::Filled,
                        cumulative_quantity: fixed(cumulative),
                        average_price: fixed(price_cents * CENT),
                        fees: fees_cents.map(|cents| fixed(cents * CENT)),
                    };
                    self.send(&order, update);
                }
            }
            Op::Cancel {
                pick,
                rejected,
                fees_cents,
            } => {
                if let Some(order) = self.pick(pick, |order| order.upstream_order_id.is_some()) {
                    let average = self
                        .sent
                        .get(&order.local_id)
                        .and_then(|sent| sent.last())
                        .map_or(Fixed::ZERO, |last| last.average_price);
                    let update = OrderUpdate {
                        status: if rejected {
                            OrderStatus::Rejected
                        } else {
                            OrderStatus::Canceled
                        },
                        cumulative_quantity: order.filled_quantity,
                        average_price: average,
                        fees: fees_cents.map(|cents| fixed(cents * CENT)),
                    };
                    self.send(&order, update);
                }
            }
            Op::Duplicate { pick } | Op::OutOfOrder { pick } => {
                let first = matches!(op, Op::OutOfOrder { .. });
                let sent = &self.sent;
                let has_sent = |order: &OrderView| {
                    sent.get(&order.local_id)
                        .is_some_and(|sent| sent.len() >= if first { 2 } else { 1 })
                };
                if let Some(order) = self.pick(pick, has_sent) {
                    let sent = &self.sent[&order.local_id];
                    let update = if first { sent[0] } else { sent[sent.len() - 1] };
                    self.send(&order, update);
                }
            }
            Op::ReplayClosed { pick } => {
                if !self.closed.is_empty() {
                    let (local, upstream, update) = self.closed[pick % self.closed.len()].clone();
                    let outcome = self.ledger.apply_update(&upstream, update);
                    assert_eq!(outcome, UpdateOutcome::UnknownOrder);
                    self.log.push(Redo::Update {
                        local: Some(local),
                        upstream,
                        update,
                        outcome,
                    });
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
                self.log.push(Redo::Update {
                    local: None,
                    upstream: "never-bound".to_string(),
                    update,
                    outcome,
                });
            }
            Op::Roll => {
                self.ledger.roll_settlement_day().unwrap();
                self.log.push(Redo::Roll);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing ledgers
// ---------------------------------------------------------------------------------------------

fn snapshot_bytes(ledger: &Ledger) -> Vec<u8> {
    let mut encoder = Encoder::new();
    ledger.export_state().encode(&mut encoder);
    encoder.finish()
}

fn decode(bytes: &[u8]) -> LedgerState {
    let mut decoder = Decoder::new(bytes);
    let state = LedgerState::decode(&mut decoder).unwrap();
    decoder.finish("ledger state").unwrap();
    state
}

fn audit(ledger: &Ledger, at: &str) {
    if let Err(problems) = ledger.check_invariants() {
        panic!("{at}: invariants broken:\n{problems}");
    }
}

/// Everything a client of the ledger can see is the same.
fn assert_same_views(a: &Ledger, b: &Ledger, at: &str) {
    for client in CLIENTS {
        assert_eq!(a.customer(client), b.customer(client), "{at}: {client}");
        assert_eq!(a.contains(client), b.contains(client), "{at}: {client}");
    }
    assert_eq!(a.omni(), b.omni(), "{at}: omni");
    assert_eq!(
        a.omni_available(AccountIndex(0)),
        b.omni_available(AccountIndex(0)),
        "{at}: omni available"
    );
    for state in [OrderState::Open, OrderState::InDoubt] {
        assert_eq!(a.orders(state), b.orders(state), "{at}: {state:?} orders");
    }
}

fn replayed(config: LedgerConfig, log: &[Redo], order: impl Iterator<Item = usize>) -> Ledger {
    let ledger = Ledger::new(config);
    for index in order {
        replay(&ledger, &log[index]);
        audit(&ledger, &format!("after replaying {:?}", log[index]));
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Integration tests have no lib.rs beside them for proptest's default location.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/ledger_persist.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn replay_and_snapshots_rebuild_the_ledger(
        setup in setup_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..150),
        snapshot_at in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let config = setup.config();
        let mut live = Live::new(&setup);
        let snapshot_at = snapshot_at.index(ops.len() + 1);
        for op in &ops[..snapshot_at] {
            live.step(op);
        }
        // (c) at the snapshot point: a round trip through the bytes, then the imported ledger
        // runs the rest of the operations beside the original.
        let snapshot = snapshot_bytes(&live.ledger);
        let state = decode(&snapshot);
        prop_assert_eq!(&state, &live.ledger.export_state());
        let imported = Ledger::import_state(config, state).unwrap();
        prop_assert_eq!(&snapshot_bytes(&imported), &snapshot);
        assert_same_views(&live.ledger, &imported, "after import");
        let logged_before_snapshot = live.log.len();
        let mut twin = live.fork(imported);
        for (step, op) in ops[snapshot_at..].iter().enumerate() {
            live.step(op);
            twin.step(op);
            let at = format!("step {} ({op:?})", snapshot_at + step);
            audit(&live.ledger, &at);
            assert_same_views(&live.ledger, &twin.ledger, &at);
        }
        let final_bytes = snapshot_bytes(&live.ledger);
        prop_assert_eq!(&snapshot_bytes(&twin.ledger), &final_bytes);
        prop_assert_eq!(&twin.log, &live.log);

        // (c) again at the end.
        let imported = Ledger::import_state(config, decode(&final_bytes)).unwrap();
        prop_assert_eq!(&snapshot_bytes(&imported), &final_bytes);
        assert_same_views(&live.ledger, &imported, "final import");

        // (a) the whole log, in order.
        let log = &live.log;
        let in_order = replayed(config, log, 0..log.len());
        prop_assert_eq!(&snapshot_bytes(&in_order), &final_bytes);
        assert_same_views(&live.ledger, &in_order, "replayed in order");

        // (b) the whole log, shuffled where that is legal.
        let shuffled_order = shuffled(log, seed);
        let reordered = replayed(config, log, shuffled_order.into_iter());
        let reordered_state = reordered.export_state();
        let live_state = live.ledger.export_state();
        prop_assert_eq!(reordered_state.customers.len(), live_state.customers.len());
        prop_assert_eq!(&reordered_state.accounts, &live_state.accounts);
        for (a, b) in reordered_state.customers.iter().zip(&live_state.customers) {
            prop_assert_eq!(
                (&a.client_id, a.cash, a.reserved, &a.unsettled, &a.positions),
                (&b.client_id, b.cash, b.reserved, &b.unsettled, &b.positions)
            );
        }
        // In fact everything matches: each order's own records kept their order.
        prop_assert_eq!(&snapshot_bytes(&reordered), &final_bytes);

        // (d) recovery: the snapshot plus the records logged after it.
        let recovered = Ledger::import_state(config, decode(&snapshot)).unwrap();
        for redo in &log[logged_before_snapshot..] {
            replay(&recovered, redo);
        }
        audit(&recovered, "recovered");
        prop_assert_eq!(&snapshot_bytes(&recovered), &final_bytes);
    }

    #[test]
    fn corrupt_snapshots_never_panic(
        setup in setup_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
        garbage in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let config = setup.config();
        let mut live = Live::new(&setup);
        for op in &ops {
            live.step(op);
        }
        let bytes = snapshot_bytes(&live.ledger);
        for cut in 0..bytes.len() {
            prop_assert!(LedgerState::decode(&mut Decoder::new(&bytes[..cut])).is_err());
        }
        let mut corrupt = bytes.clone();
        for (index, bit) in &flips {
            let at = index.index(corrupt.len());
            corrupt[at] ^= 1 << bit;
        }
        for input in [&corrupt, &garbage] {
            let Ok(state) = LedgerState::decode(&mut Decoder::new(input)) else {
                continue;
            };
            if let Ok(ledger) = Ledger::import_state(config, state) {
                // Whatever was accepted is consistent, and exports to what would import again.
                audit(&ledger, "imported from corrupt bytes");
                let again = snapshot_bytes(&ledger);
                let reimported = Ledger::import_state(config, decode(&again)).unwrap();
                prop_assert_eq!(snapshot_bytes(&reimported), again);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Table tests
// ---------------------------------------------------------------------------------------------

fn money(text: &str) -> Fixed {
    Fixed::parse(text).unwrap()
}

fn prefunded_on_fill() -> LedgerConfig {
    LedgerConfig {
        funding: Funding::Prefunded,
        sell_proceeds: SellProceeds::OnFill,
    }
}

/// A small ledger with one of everything: two customers, a bound partial BUY, an in-doubt SELL.
fn sample() -> Ledger {
    let ledger = Ledger::new(prefunded_on_fill());
    ledger.omni_deposit(money("10000")).unwrap();
    ledger
        .register(
            "C1",
            "cust-1",
            money("1000"),
            vec![("AAPL".into(), money("3"))],
        )
        .unwrap();
    ledger
        .register("C2", "cust-2", money("50"), Vec::new())
        .unwrap();
    let cost = BuyCost {
        per_share: Some(money("100")),
        quantity: Some(money("2")),
        amount_cash: None,
        fee: money("1"),
        commission_rate: Fixed::ZERO,
    };
    let buy = ledger.reserve_buy("C1", "AAPL", cost).unwrap();
    ledger.bind(buy, "DW-1").unwrap();
    let partial = OrderUpdate {
        status: OrderStatus::PartialFill,
        cumulative_quantity: money("1"),
        average_price: money("99"),
        fees: None,
    };
    assert_eq!(ledger.apply_update("DW-1", partial), UpdateOutcome::Applied);
    let sell = ledger.reserve_sell("C1", "AAPL", money("2")).unwrap();
    ledger.mark_in_doubt(sell).unwrap();
    ledger.check_invariants().unwrap();
    ledger
}

/// Import of `sample()`'s state after `corrupt` changed it: the error, which must mention `what`.
fn import_error(corrupt: impl FnOnce(&mut LedgerState), what: &str) {
    let mut state = sample().export_state();
    corrupt(&mut state);
    let error = match Ledger::import_state(prefunded_on_fill(), state) {
        Ok(_) => panic!("a state with {what:?} wrong was imported"),
        Err(error) => error,
    };
    assert!(error.contains(what), "{error:?} does not mention {what:?}");
}

#[test]
fn sample_round_trips() {
    let ledger = sample();
    let state = ledger.export_state();
    assert_eq!(state.next_local_id, 3);
    assert_eq!(state.customers.len(), 2);
    assert_eq!(state.orders.len(), 2);
    assert_eq!(state.orders[0].terms.side(), Side::Buy);
    assert_eq!(state.orders[0].upstream_order_id.as_deref(), Some("DW-1"));
    assert!(state.orders[1].in_doubt);
    let bytes = snapshot_bytes(&ledger);
    let imported = Ledger::import_state(prefunded_on_fill(), decode(&bytes)).unwrap();
    assert_same_views(&ledger, &imported, "sample");
    // The imported ledger finds the bound order by its upstream id and continues its ids.
    assert_eq!(imported.local_id_of("DW-1"), Some(LocalOrderId(1)));
    let sold = imported.reserve_sell("C1", "AAPL", money("1")).unwrap();
    assert_eq!(sold, LocalOrderId(3));

    // The same contents in another order encode to the same bytes.
    let mut reversed = state.clone();
    reversed.customers.reverse();
    reversed.orders.reverse();
    reversed.customers[1].positions.reverse();
    let mut encoder = Encoder::new();
    reversed.encode(&mut encoder);
    assert_eq!(encoder.finish(), bytes);
}

#[test]
fn import_names_what_is_wrong() {
    import_error(|state| state.customers[0].reserved = money("1"), "reserved");
    import_error(
        |state| {
            let twin = state.customers[0].clone();
            state.customers.push(twin);
        },
        "clientID C1 is listed twice",
    );
    import_error(
        |state| state.customers[1].customer_id = "cust-1".to_string(),
        "customerId cust-1",
    );
    import_error(
        |state| state.orders[0].client_id = "C9".to_string(),
        "clientID C9, which is not a customer",
    );
    import_error(
        |state| {
            let twin = state.orders[0].clone();
            state.orders.push(twin);
        },
        "listed twice",
    );
    import_error(
        |state| state.next_local_id = 2,
        "outside the ids handed out",
    );
    import_error(
        |state| state.orders[1].upstream_order_id = Some("DW-1".to_string()),
        "bound",
    );
    import_error(
        |state| state.orders[0].status = Some(OrderStatus::Filled),
        "final status",
    );
    import_error(
        |state| {
            state.orders[0].terms = OrderTerms::BuyCash {
                amount_cash: Fixed::ZERO,
            }
        },
        "not positive",
    );
    import_error(|state| state.orders[1].fee = money("-1"), "fee");
    import_error(
        |state| state.accounts[0].available = money("1"),
        "omni available",
    );
    import_error(
        |state| state.accounts[0].reserved = money("1"),
        "omni reserved",
    );
    import_error(
        |state| {
            state.customers[0].open_orders.pop();
        },
        "open orders",
    );
    import_error(
        |state| state.accounts[0].funding = omnigate::ledger::FundingKind::Cashless,
        "configuration",
    );
    import_error(
        |state| {
            state.accounts[0].unsettled_proceeds = money("5");
            state.customers[1].unsettled = vec![omnigate::ledger::Unsettled {
                account: AccountIndex(0),
                total: money("5"),
                latest: omnigate::ledger::LatestDay::default(),
            }];
        },
        "on fill",
    );
    import_error(
        |state| state.customers[0].positions[0].pending_sell = money("1"),
        "pending sells",
    );
}

#[test]
fn redo_applies_effects_without_checks() {
    // The reservation is replayed before the deposit that paid for it, at an empty omni.
    let ledger = Ledger::new(prefunded_on_fill());
    ledger
        .redo_register_new("C1", "cust-1", Fixed::ZERO, Vec::new())
        .unwrap();
    let cost = BuyCost {
        per_share: None,
        quantity: None,
        amount_cash: Some(money("100")),
        fee: Fixed::ZERO,
        commission_rate: Fixed::ZERO,
    };
    ledger
        .redo_reserve_buy(LocalOrderId(7), "C1", "AAPL", cost, AccountIndex(0))
        .unwrap();
    ledger
        .redo_reserve_sell(
            LocalOrderId(5),
            "C1",
            "MSFT",
            money("2"),
            Charges::default(),
            AccountIndex(0),
        )
        .unwrap();
    let customer = ledger.customer("C1").unwrap();
    assert_eq!(customer.available, money("-100"));
    assert_eq!(customer.pending_sells["MSFT"], money("2"));
    assert_eq!(ledger.omni().available, money("-100"));
    ledger.check_invariants().unwrap();
    ledger.redo_adjust_cash("C1", money("100")).unwrap();
    ledger.omni_deposit(money("100")).unwrap();
    ledger
        .redo_replace("C1", money("5"), vec![("MSFT".into(), money("2"))])
        .unwrap();
    let customer = ledger.customer("C1").unwrap();
    assert_eq!(
        (customer.cash, customer.available),
        (money("105"), money("5"))
    );
    assert_eq!(customer.positions["MSFT"], money("2"));
    // Ids continue above the highest replayed one.
    assert_eq!(ledger.export_state().next_local_id, 8);
    ledger.check_invariants().unwrap();

    // What replay refuses.
    assert!(matches!(
        ledger.redo_reserve_buy(LocalOrderId(7), "C1", "AAPL", cost, AccountIndex(0)),
        Err(LedgerError::Invalid(_))
    ));
    assert!(matches!(
        ledger.redo_reserve_buy(LocalOrderId(0), "C1", "AAPL", cost, AccountIndex(0)),
        Err(LedgerError::Invalid(_))
    ));
    assert!(matches!(
        ledger.redo_reserve_sell(
            LocalOrderId(9),
            "C9",
            "AAPL",
            money("1"),
            Charges::default(),
            AccountIndex(0)
        ),
        Err(LedgerError::NotFound(_))
    ));
    assert!(matches!(
        ledger.redo_adjust_cash("C9", money("1")),
        Err(LedgerError::NotFound(_))
    ));
    assert!(matches!(
        ledger.redo_register_new("C1", "cust-1", Fixed::ZERO, Vec::new()),
        Err(LedgerError::Conflict(_))
    ));
    assert!(matches!(
        ledger.redo_replace(
            "C1",
            Fixed::ZERO,
            vec![("A".into(), Fixed::ONE), ("A".into(), Fixed::ONE)]
        ),
        Err(LedgerError::Invalid(_))
    ));
    assert_eq!(ledger.export_state().next_local_id, 8);
    ledger.check_invariants().unwrap();
}
