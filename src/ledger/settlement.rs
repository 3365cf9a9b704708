//! T+1 settlement (SPEC §5.4): a trade of trade date T settles at the first settlement roll on
//! the business day after T. A roll on business day D therefore settles every trade dated
//! before D, and nothing dated D.
//!
//! Each settlement-pending amount (a customer's SELL proceeds held for settlement, a cashless
//! omni account's net buys) is a total plus the part of it traded on the latest trade day seen
//! ([`LatestDay`]). Two parts are enough because trades are dated by the engine's clock as they
//! are applied: at a roll on D, everything pending was traded on the latest day or before it, and
//! only the latest day can be D. A trade dated before the latest day (a clock set back) joins the
//! earlier part, which settles no later than it should.
//!
//! A roll is idempotent: rolling D twice settles nothing the second time, so a roll missed while
//! omnigate was down can be made at start, and a hand-made roll (`POST /admin/omni/settle`)
//! cannot settle a trade early.

use chrono::NaiveDate;

use super::{add, sub, AccountIndex, FundingKind, Ledger, LedgerError, Overflow, SellProceeds};
use crate::money::Fixed;

/// The part of a pending total traded on `day`, the latest trade day seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatestDay {
    /// `None`: nothing dated yet; the whole total settles at the next roll.
    pub day: Option<NaiveDate>,
    pub amount: Fixed,
}

impl LatestDay {
    /// After `amount` more was traded on `day`. `None` is an undated trade, read from a log
    /// written before trades were dated: it settles at the next roll, as it did then.
    pub(super) fn with(self, amount: Fixed, day: Option<NaiveDate>) -> LatestDay {
        let Some(day) = day else { return self };
        match self.day {
            Some(latest) if day < latest => self,
            Some(latest) if day == latest => match self.amount.checked_add(amount) {
                Some(sum) => LatestDay {
                    day: Some(day),
                    amount: sum,
                },
                // Only near ±92 billion: the whole total settles at the next roll instead.
                None => LatestDay::default(),
            },
            _ => LatestDay {
                day: Some(day),
                amount,
            },
        }
    }

    /// What of `total` a roll on `roll_day` settles, and what is left traded on the latest day.
    pub(super) fn due(self, total: Fixed, roll_day: NaiveDate) -> (Fixed, LatestDay) {
        match self.day {
            Some(day) if day >= roll_day => match total.checked_sub(self.amount) {
                Some(due) => (due, self),
                None => (total, LatestDay::default()),
            },
            _ => (total, LatestDay::default()),
        }
    }
}

/// SELL proceeds one customer holds for settlement from its sales through one omnibus account
/// (an account's held proceeds are the sum of these over its customers, invariant 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsettled {
    pub account: AccountIndex,
    pub total: Fixed,
    /// The part of `total` traded on the latest trade day.
    pub latest: LatestDay,
}

/// Σ totals, saturating (for views; the ledger's own sums are checked).
pub(super) fn total_of(parts: &[Unsettled]) -> Fixed {
    let units = parts
        .iter()
        .fold(0i64, |sum, part| sum.saturating_add(part.total.units()));
    Fixed::from_units(units)
}

/// The part held for `account`, created empty if there is none.
pub(super) fn part_for(parts: &mut Vec<Unsettled>, account: AccountIndex) -> &mut Unsettled {
    let index = match parts.iter().position(|part| part.account == account) {
        Some(index) => index,
        None => {
            parts.push(Unsettled {
                account,
                total: Fixed::ZERO,
                latest: LatestDay::default(),
            });
            parts.len() - 1
        }
    };
    &mut parts[index]
}

impl Ledger {
    /// The settlement roll on business day `day`: SELL proceeds traded before `day` become cash
    /// (for the customers, and for a prefunded omni account), and a cashless account's net buys
    /// traded before `day` leave its day's net (the credit line comes back). Trades of `day`
    /// itself wait for the next business day's roll.
    ///
    /// Customers are credited one at a time; the caller closes the mutation gate so no fill
    /// lands on the other side of the roll from its record. An overflow (balances near 92
    /// billion) skips that customer, which keeps its proceeds for the next roll, and is reported
    /// after the rest is done.
    pub fn roll_settlement(&self, day: NaiveDate) -> Result<super::OmniView, LedgerError> {
        let result = self.settle_through(Some(day));
        // The last roll made, even when earlier than the one before: only an adjustable clock
        // moves back, and rolls are due again from where it was set.
        *self.last_roll.lock() = Some(day);
        result
    }

    /// A roll from a log written before rolls were dated: settles everything pending, as rolls
    /// did then, and leaves the last roll's date alone.
    pub fn roll_settlement_day(&self) -> Result<super::OmniView, LedgerError> {
        self.settle_through(None)
    }

    /// The business day of the last dated roll, if any (durable: snapshots keep it and replay
    /// restores it), from which missed rolls are caught up at start.
    pub fn last_settlement_roll(&self) -> Option<NaiveDate> {
        *self.last_roll.lock()
    }

    /// Settles what was traded before `day` (`None`: everything).
    fn settle_through(&self, day: Option<NaiveDate>) -> Result<super::OmniView, LedgerError> {
        let split = |latest: LatestDay, total: Fixed| match day {
            Some(day) => latest.due(total, day),
            None => (total, LatestDay::default()),
        };
        let mut first_error = None;
        if self.config.sell_proceeds == SellProceeds::OnSettlement {
            let cells: Vec<_> = self
                .customers
                .iter()
                .map(|entry| entry.value().clone())
                .collect();
            for cell in cells {
                // Most customers hold nothing for settlement: a read tells, without the change
                // (and, while a snapshot runs, the copy) that a change costs. The gate is closed,
                // so the answer stays true.
                if cell.read().unsettled.is_empty() {
                    continue;
                }
                let mut customer = self.change(&cell);
                let mut cash = customer.cash;
                let mut parts = std::mem::take(&mut customer.unsettled);
                for part in &mut parts {
                    let (due, rest) = split(part.latest, part.total);
                    if due.is_zero() {
                        part.latest = rest;
                        continue;
                    }
                    let omni = self.account(part.account);
                    // Prefunded: the proceeds arrive in the omni cash. Cashless: they settle
                    // inside the account's net, which the roll below settles too.
                    let omni_spent = match omni.kind {
                        FundingKind::Prefunded => due.checked_neg(),
                        FundingKind::Cashless => Some(Fixed::ZERO),
                    };
                    let credited = add(cash, due).and_then(|credited| {
                        let left = sub(part.total, due)?;
                        let spent = omni_spent.ok_or(Overflow)?;
                        let unsettled = due.checked_neg().ok_or(Overflow)?;
                        omni.move_money(Fixed::ZERO, spent, unsettled)?;
                        Ok((credited, left))
                    });
                    match credited {
                        Ok((credited, left)) => {
                            cash = credited;
                            part.total = left;
                            part.latest = rest;
                        }
                        Err(overflow) => {
                            first_error.get_or_insert(overflow.error("crediting settled proceeds"));
                        }
                    }
                }
                parts.retain(|part| !part.total.is_zero());
                customer.cash = cash;
                customer.unsettled = parts;
            }
        }
        for omni in self.accounts.iter() {
            if omni.kind != FundingKind::Cashless {
                continue;
            }
            let mut latest = omni.pending_latest.lock();
            let pending = Fixed::from_units(
                omni.pending_settlement
                    .load(std::sync::atomic::Ordering::Acquire),
            );
            let (due, rest) = split(*latest, pending);
            let settled = due
                .checked_neg()
                .ok_or(Overflow)
                .and_then(|spent| omni.move_money(Fixed::ZERO, spent, Fixed::ZERO));
            match settled {
                Ok(()) => *latest = rest,
                Err(overflow) => {
                    first_error.get_or_insert(overflow.error("settling the account's net"));
                }
            }
        }
        match first_error {
            None => Ok(self.omni()),
            Some(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Option<NaiveDate> {
        Some(text.parse().unwrap())
    }

    fn money(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    #[test]
    fn a_roll_settles_what_was_traded_before_its_day() {
        let monday = LatestDay::default().with(money("10"), day("2026-11-23"));
        // A roll on Monday itself (17:00) settles nothing of Monday's.
        assert_eq!(
            monday.due(money("10"), "2026-11-23".parse().unwrap()),
            (Fixed::ZERO, monday)
        );
        // Tuesday's settles all of it.
        assert_eq!(
            monday.due(money("10"), "2026-11-24".parse().unwrap()),
            (money("10"), LatestDay::default())
        );
        // Tuesday trades more: Monday's part becomes earlier.
        let tuesday = monday.with(money("4"), day("2026-11-24"));
        assert_eq!(tuesday.amount, money("4"));
        assert_eq!(
            tuesday.due(money("14"), "2026-11-24".parse().unwrap()),
            (money("10"), tuesday)
        );
        // Undated and back-dated trades join the earlier part.
        assert_eq!(tuesday.with(money("1"), None), tuesday);
        assert_eq!(tuesday.with(money("1"), day("2026-11-23")), tuesday);
    }
}
