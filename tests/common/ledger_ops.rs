//! The random ledger operations shared by `ledger_model.rs` (checked against a sequential model)
//! and `ledger_persist.rs` (checked through replay and snapshots). One generator, so the two
//! properties explore the same operations and cannot drift apart again.
//!
//! Amounts are `i128` so the model's arithmetic on them cannot overflow; `fixed` turns a model
//! value into the ledger's `i64` fixed point.

use omnigate::ledger::{Funding, LedgerConfig, SellProceeds};
use omnigate::money::Fixed;
use proptest::prelude::*;

/// 10⁻⁸ units in one dollar or share.
pub const UNIT: i128 = 100_000_000;
pub const CENT: i128 = UNIT / 100;
pub const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "BTC"];
pub const CLIENTS: [&str; 6] = ["C0", "C1", "C2", "C3", "C4", "C5"];
/// One more than the four registered at the start, so a registration under a fresh clientID can
/// create a customer rather than only conflict.
pub const CUSTOMERS: [&str; 5] = ["cust-0", "cust-1", "cust-2", "cust-3", "cust-4"];

pub fn fixed(units: i128) -> Fixed {
    Fixed::from_units(i64::try_from(units).expect("model value in range"))
}

/// Indices point into `CLIENTS`, `CUSTOMERS` and `SYMBOLS`; `pick` chooses among the orders an
/// operation applies to (modulo their number), and does nothing when there are none.
#[derive(Clone, Debug)]
pub enum Op {
    Register {
        client: usize,
        customer: usize,
        cash_cents: i128,
        /// Symbol and half shares.
        positions: Vec<(usize, i128)>,
    },
    Rekey {
        from: usize,
        to: usize,
    },
    Deposit {
        client: usize,
        cents: i128,
    },
    Withdraw {
        client: usize,
        cents: i128,
    },
    OmniDeposit {
        cents: i128,
    },
    /// A withdrawal from the first omni account, or the second when there are two.
    OmniWithdraw {
        second: bool,
        cents: i128,
    },
    /// The clock moves to a later day: fills from then on are dated by it.
    NextDay {
        days: i64,
    },
    /// Refused unless the funding is cashless.
    CreditLimit {
        cents: i128,
    },
    LimitBuy {
        client: usize,
        symbol: usize,
        quantity: i128,
        price_cents: i128,
    },
    CashBuy {
        client: usize,
        symbol: usize,
        amount_cents: i128,
    },
    /// An amountCash BUY sized at the customer's (or the omni account's) available amount, one
    /// 10⁻⁸ under it, or one over: the boundary must be exact.
    BoundaryBuy {
        client: usize,
        of_omni: bool,
        nudge_units: i128,
    },
    Sell {
        client: usize,
        symbol: usize,
        quantity_units: i128,
    },
    Bind {
        pick: usize,
    },
    Release {
        pick: usize,
    },
    MarkInDoubt {
        pick: usize,
    },
    Resolve {
        pick: usize,
        placed: bool,
    },
    PartialFill {
        pick: usize,
        quarters: i128,
        price_cents: i128,
    },
    Fill {
        pick: usize,
        tenths: i128,
        price_cents: i128,
        fees_cents: Option<i128>,
    },
    Cancel {
        pick: usize,
        rejected: bool,
        fees_cents: Option<i128>,
    },
    Duplicate {
        pick: usize,
    },
    OutOfOrder {
        pick: usize,
    },
    /// An update for an order that has already closed (a late duplicate of its final status).
    ReplayClosed {
        pick: usize,
    },
    /// An update for an upstream id never bound.
    Stray,
    Roll,
}

pub fn op_strategy() -> impl Strategy<Value = Op> {
    // Mostly the customers registered at the start; C4 and C5 only exist after a re-key or a
    // registration, so orders for them also test CLIENT_ID_UNKNOWN.
    let client = prop_oneof![5 => 0..4usize, 1 => 4..CLIENTS.len()];
    let symbol = 0..SYMBOLS.len();
    let pick = any::<usize>();
    let fees = proptest::option::of(0i128..300);
    prop_oneof![
        3 => (
            client.clone(),
            0..CUSTOMERS.len(),
            0i128..200_000,
            proptest::collection::vec((symbol.clone(), 0i128..=12), 0..3)
        )
            .prop_map(|(client, customer, cash_cents, positions)| Op::Register {
                client,
                customer,
                cash_cents,
                positions,
            }),
        2 => (client.clone(), client.clone()).prop_map(|(from, to)| Op::Rekey { from, to }),
        2 => (client.clone(), 1i128..100_000).prop_map(|(client, cents)| Op::Deposit {
            client,
            cents
        }),
        2 => (client.clone(), 1i128..100_000)
            .prop_map(|(client, cents)| Op::Withdraw { client, cents }),
        2 => (1i128..200_000).prop_map(|cents| Op::OmniDeposit { cents }),
        2 => (any::<bool>(), 1i128..200_000)
            .prop_map(|(second, cents)| Op::OmniWithdraw { second, cents }),
        2 => (1i64..=3).prop_map(|days| Op::NextDay { days }),
        1 => (0i128..400_000).prop_map(|cents| Op::CreditLimit { cents }),
        6 => (client.clone(), symbol.clone(), 1i128..=5, 100i128..30_000).prop_map(
            |(client, symbol, quantity, price_cents)| Op::LimitBuy {
                client,
                symbol,
                quantity,
                price_cents,
            }
        ),
        4 => (client.clone(), symbol.clone(), 100i128..50_000).prop_map(
            |(client, symbol, amount_cents)| Op::CashBuy {
                client,
                symbol,
                amount_cents,
            }
        ),
        2 => (client.clone(), any::<bool>(), -1i128..=1).prop_map(
            |(client, of_omni, nudge_units)| Op::BoundaryBuy {
                client,
                of_omni,
                nudge_units,
            }
        ),
        // Eighths of a share, and a third that no number of eighths adds up to.
        4 => (
            client,
            symbol,
            prop_oneof![(1i128..=24).prop_map(|k| k * UNIT / 8), Just(33_333_333i128)]
        )
            .prop_map(|(client, symbol, quantity_units)| Op::Sell {
                client,
                symbol,
                quantity_units,
            }),
        6 => pick.prop_map(|pick| Op::Bind { pick }),
        2 => pick.prop_map(|pick| Op::Release { pick }),
        2 => pick.prop_map(|pick| Op::MarkInDoubt { pick }),
        2 => (pick, any::<bool>()).prop_map(|(pick, placed)| Op::Resolve { pick, placed }),
        5 => (pick, 1i128..=3, 50i128..35_000).prop_map(|(pick, quarters, price_cents)| {
            Op::PartialFill {
                pick,
                quarters,
                price_cents,
            }
        }),
        3 => (pick, 1i128..=20, 50i128..35_000, fees.clone()).prop_map(
            |(pick, tenths, price_cents, fees_cents)| Op::Fill {
                pick,
                tenths,
                price_cents,
                fees_cents,
            }
        ),
        2 => (pick, any::<bool>(), fees).prop_map(|(pick, rejected, fees_cents)| Op::Cancel {
            pick,
            rejected,
            fees_cents,
        }),
        2 => pick.prop_map(|pick| Op::Duplicate { pick }),
        2 => pick.prop_map(|pick| Op::OutOfOrder { pick }),
        1 => pick.prop_map(|pick| Op::ReplayClosed { pick }),
        1 => Just(Op::Stray),
        2 => Just(Op::Roll),
    ]
}

/// How a ledger starts.
#[derive(Clone, Debug)]
pub struct Setup {
    /// A second omnibus account (prefunded, its own balance): orders for odd symbols go through
    /// it. Only the model test uses it.
    pub two_accounts: bool,
    pub cashless: bool,
    pub on_settlement: bool,
    /// Prefunded: the first deposit; cashless: the credit line.
    pub omni_cents: i128,
    pub fee_cents: i128,
    /// C0..C3 ↔ cust-0..cust-3 at the start: cash in cents, positions in half shares.
    pub customers: Vec<(i128, Vec<(usize, i128)>)>,
}

pub fn setup_strategy() -> impl Strategy<Value = Setup> {
    let customer = (
        0i128..300_000,
        proptest::collection::vec((0..SYMBOLS.len(), 0i128..=12), 0..4),
    );
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0i128..400_000,
        prop_oneof![Just(0i128), Just(125)],
        proptest::collection::vec(customer, 4),
    )
        .prop_map(
            |(two_accounts, cashless, on_settlement, omni_cents, fee_cents, customers)| Setup {
                two_accounts,
                cashless,
                on_settlement,
                omni_cents,
                fee_cents,
                customers,
            },
        )
}

impl Setup {
    pub fn config(&self) -> LedgerConfig {
        LedgerConfig {
            funding: if self.cashless {
                Funding::Cashless {
                    credit_limit: fixed(self.omni_cents * CENT),
                }
            } else {
                Funding::Prefunded
            },
            sell_proceeds: if self.on_settlement {
                SellProceeds::OnSettlement
            } else {
                SellProceeds::OnFill
            },
        }
    }

    /// The registrations of C0..C3 as cust-0..cust-3 that open every run.
    pub fn registrations(&self) -> impl Iterator<Item = Op> + '_ {
        self.customers
            .iter()
            .enumerate()
            .map(|(customer, (cash_cents, positions))| Op::Register {
                client: customer,
                customer,
                cash_cents: *cash_cents,
                positions: positions.clone(),
            })
    }
}
