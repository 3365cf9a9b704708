//! The omnibus (master) accounts DriveWealth sees (SPEC §5.2, §5.4): one shared balance for
//! every number in `omnibus.account_numbers`, or one balance per `[[omnibus.accounts]]` table,
//! each with its own funding model. An order reserves at the account its `accountNo` names.
//!
//! Every BUY in an account reserves here, so this is the one piece of state its orders share.
//! It lives in atomics rather than behind a lock: `available` is the gate, and reserving is a
//! compare-and-swap on it (the CAS is the check). The other fields follow with their own atomic
//! adds; a view taken while orders are in flight can therefore show an order in one field a
//! moment before the other, but the gate itself is exact and the fields agree whenever nothing
//! is in flight (invariant 4 of the module docs).

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use super::{Funding, LatestDay, Ledger, LedgerError, Overflow};
use crate::money::Fixed;

/// `Funding` without its parameters, for views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FundingKind {
    Prefunded,
    Cashless,
}

/// Which omnibus account: an index into the ledger's accounts, in configuration order. Account 0
/// is the only one with `account_numbers`, and the first of `[[omnibus.accounts]]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountIndex(pub u8);

/// One omnibus account as the ledger is built with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSpec {
    /// `None` for the shared balance of `omnibus.account_numbers`.
    pub number: Option<String>,
    pub funding: Funding,
}

/// `GET /admin/omni`, `GET /admin/omni/{accountNo}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OmniView {
    /// The account's number (`[[omnibus.accounts]]` only).
    #[serde(rename = "accountNo", skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub funding: FundingKind,
    /// Prefunded: the balance BUYs spend. Cashless: what the partner has deposited (it does not
    /// change buying power, which comes from the credit line).
    pub cash: Fixed,
    pub reserved: Fixed,
    pub available: Fixed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_limit: Option<Fixed>,
    /// Cashless only: today's net filled buys (minus sells credited on fill, plus fees) that
    /// settle at the next roll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_settlement: Option<Fixed>,
    /// SELL proceeds held until settlement (`SellProceeds::OnSettlement`).
    pub unsettled_proceeds: Fixed,
    /// The business day of the last settlement roll (T+1: trades dated before it are settled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_settlement_roll: Option<chrono::NaiveDate>,
}

/// The omni account's numbers, all in 10⁻⁸ units.
pub(super) struct Omni {
    pub(super) number: Option<Box<str>>,
    pub(super) kind: FundingKind,
    /// What new BUYs may still reserve. The only field a decision reads.
    pub(super) available: AtomicI64,
    /// Σ customer reservations (invariant 3).
    pub(super) reserved: AtomicI64,
    pub(super) cash: AtomicI64,
    /// Cashless: net settled-pending buys of the current day.
    pub(super) pending_settlement: AtomicI64,
    pub(super) unsettled_proceeds: AtomicI64,
    /// Cashless: the credit line. Changes only through `set_credit_limit`.
    pub(super) credit_limit: AtomicI64,
    /// Cashless: the part of `pending_settlement` traded on the latest trade day (T+1, see
    /// `settlement`). A lock, not an atomic: fills and rolls take it, never a decision.
    pub(super) pending_latest: Mutex<LatestDay>,
}

impl Omni {
    pub(super) fn new(number: Option<&str>, funding: Funding) -> Omni {
        let (kind, credit_limit) = match funding {
            Funding::Prefunded => (FundingKind::Prefunded, 0),
            Funding::Cashless { credit_limit } => (FundingKind::Cashless, credit_limit.units()),
        };
        Omni {
            number: number.map(Box::from),
            kind,
            // Cashless starts with the whole line available; prefunded with nothing until funded.
            available: AtomicI64::new(credit_limit),
            reserved: AtomicI64::new(0),
            cash: AtomicI64::new(0),
            pending_settlement: AtomicI64::new(0),
            unsettled_proceeds: AtomicI64::new(0),
            credit_limit: AtomicI64::new(credit_limit),
            pending_latest: Mutex::new(LatestDay::default()),
        }
    }

    /// Takes `cost` out of `available` if (and only if) it is there. On refusal returns what was
    /// available, for the message.
    pub(super) fn try_reserve(&self, cost: Fixed) -> Result<(), Fixed> {
        let cost_units = cost.units();
        debug_assert!(cost_units > 0);
        let mut current = self.available.load(Ordering::Acquire);
        loop {
            if current < cost_units {
                return Err(Fixed::from_units(current));
            }
            // Cannot overflow: current ≥ cost > 0.
            match self.available.compare_exchange_weak(
                current,
                current - cost_units,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        // `reserved` grows by exactly what left `available`, so reserved + available stays what
        // it was (cash, or credit − pending) and cannot leave the i64 range.
        let before = self.reserved.fetch_add(cost_units, Ordering::AcqRel);
        debug_assert!(before.checked_add(cost_units).is_some());
        Ok(())
    }

    /// Replay of a reservation ([`Ledger::redo_reserve_buy`]): moves `cost` from available to
    /// reserved without looking at available. The live CAS already made the check; the log may
    /// hold reservations in another order than they were made, so replay must not repeat it.
    pub(super) fn reserve_unchecked(&self, cost: Fixed) -> Result<(), Overflow> {
        let cost_units = cost.units();
        let taken = cost_units.checked_neg().ok_or(Overflow)?;
        apply_all(&[(&self.available, taken), (&self.reserved, cost_units)])
    }

    /// Moves money at the omni account in one all-or-nothing step:
    /// - `released`: reservation returned (reserved falls, available rises);
    /// - `spent`: money paid out for fills and fees (negative: received, e.g. SELL proceeds);
    ///   it leaves the prefunded cash, or joins the cashless day's net;
    /// - `unsettled`: change in SELL proceeds held until settlement.
    pub(super) fn move_money(
        &self,
        released: Fixed,
        spent: Fixed,
        unsettled: Fixed,
    ) -> Result<(), Overflow> {
        let available_delta = released
            .units()
            .checked_sub(spent.units())
            .ok_or(Overflow)?;
        let reserved_delta = released.units().checked_neg().ok_or(Overflow)?;
        let (spend_cell, spend_delta) = match self.kind {
            FundingKind::Prefunded => (&self.cash, spent.units().checked_neg().ok_or(Overflow)?),
            FundingKind::Cashless => (&self.pending_settlement, spent.units()),
        };
        apply_all(&[
            (&self.available, available_delta),
            (&self.reserved, reserved_delta),
            (spend_cell, spend_delta),
            (&self.unsettled_proceeds, unsettled.units()),
        ])?;
        // Holds even mid-flight: an order's reservation is added here before the order exists,
        // so nothing can release it earlier.
        debug_assert!(self.reserved.load(Ordering::Acquire) >= 0);
        Ok(())
    }

    /// Dates money a fill spent (`move_money`'s `spent`) for T+1 settlement: in cashless funding
    /// it joins the day's net of `day`.
    pub(super) fn dated(&self, spent: Fixed, day: Option<chrono::NaiveDate>) {
        if self.kind == FundingKind::Cashless && !spent.is_zero() {
            let mut latest = self.pending_latest.lock();
            *latest = latest.with(spent, day);
        }
    }

    pub(super) fn view(&self) -> OmniView {
        let load = |cell: &AtomicI64| Fixed::from_units(cell.load(Ordering::Acquire));
        let cashless = self.kind == FundingKind::Cashless;
        OmniView {
            number: self.number.as_deref().map(str::to_owned),
            funding: self.kind,
            cash: load(&self.cash),
            reserved: load(&self.reserved),
            available: load(&self.available),
            credit_limit: cashless.then(|| load(&self.credit_limit)),
            pending_settlement: cashless.then(|| load(&self.pending_settlement)),
            unsettled_proceeds: load(&self.unsettled_proceeds),
            last_settlement_roll: None,
        }
    }
}

/// Adds each delta to its cell, all or none: if one would overflow, the ones already made are
/// undone and nothing has changed. Each add is atomic; a concurrent reader may see some before
/// others (see the module docs).
pub(super) fn apply_all(changes: &[(&AtomicI64, i64)]) -> Result<(), Overflow> {
    for (done, &(cell, delta)) in changes.iter().enumerate() {
        if delta == 0 {
            continue;
        }
        let added = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |value| {
            value.checked_add(delta)
        });
        if added.is_err() {
            for &(undo_cell, undo_delta) in &changes[..done] {
                let undone = undo_cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                    v.checked_sub(undo_delta)
                });
                // Undoing restores a value the cell held a moment ago; only a concurrent move to
                // the very edge of the range could stop it.
                if undone.is_err() {
                    tracing::error!(undo_delta, "omni account: could not undo a partial update");
                    debug_assert!(false, "omni undo overflowed");
                }
            }
            return Err(Overflow);
        }
    }
    Ok(())
}

impl Ledger {
    /// The account at `index`, or the first one for an index the ledger does not have (callers
    /// take indexes from [`Ledger::account_index`] or from orders, so that never happens).
    pub(super) fn account(&self, index: AccountIndex) -> &Omni {
        self.accounts
            .get(usize::from(index.0))
            .unwrap_or(&self.accounts[0])
    }

    /// The `[[omnibus.accounts]]` account numbered `number`.
    pub fn account_index(&self, number: &str) -> Option<AccountIndex> {
        self.accounts
            .iter()
            .position(|omni| omni.number.as_deref() == Some(number))
            .and_then(|index| u8::try_from(index).ok())
            .map(AccountIndex)
    }

    /// True with `omnibus.account_numbers`: one shared balance, no account numbers.
    pub fn has_shared_balance(&self) -> bool {
        self.accounts[0].number.is_none()
    }

    /// The accounts as the ledger was built with them (credit lines as they are now).
    pub fn account_specs(&self) -> Vec<AccountSpec> {
        self.accounts
            .iter()
            .map(|omni| AccountSpec {
                number: omni.number.as_deref().map(str::to_owned),
                funding: match omni.kind {
                    FundingKind::Prefunded => Funding::Prefunded,
                    FundingKind::Cashless => Funding::Cashless {
                        credit_limit: Fixed::from_units(omni.credit_limit.load(Ordering::Acquire)),
                    },
                },
            })
            .collect()
    }

    /// The number of an `[[omnibus.accounts]]` account, for log records; `None` for the shared
    /// balance (so the one-account case allocates nothing).
    pub fn account_number(&self, index: AccountIndex) -> Option<String> {
        self.account_number_ref(index).map(str::to_owned)
    }

    /// [`Ledger::account_number`], borrowed.
    pub fn account_number_ref(&self, index: AccountIndex) -> Option<&str> {
        self.account(index).number.as_deref()
    }

    /// How many omnibus accounts the ledger keeps.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// The first omni account now (the only one with `account_numbers`).
    pub fn omni(&self) -> OmniView {
        self.omni_at(AccountIndex(0))
    }

    /// One omni account now.
    pub fn omni_at(&self, index: AccountIndex) -> OmniView {
        OmniView {
            last_settlement_roll: *self.last_roll.lock(),
            ..self.account(index).view()
        }
    }

    /// Every omni account, in configuration order.
    pub fn omni_accounts(&self) -> Vec<OmniView> {
        (0..self.accounts.len())
            .filter_map(|index| u8::try_from(index).ok())
            .map(|index| self.omni_at(AccountIndex(index)))
            .collect()
    }

    /// What BUYs may still reserve at an account: one atomic load, for metrics and the
    /// low-balance warning.
    pub fn omni_available(&self, index: AccountIndex) -> Fixed {
        Fixed::from_units(self.account(index).available.load(Ordering::Acquire))
    }

    /// Funds the first omni account (`deposits.updated`); see [`Ledger::omni_cash_at`].
    pub fn omni_deposit(&self, amount: Fixed) -> Result<OmniView, LedgerError> {
        self.omni_deposit_at(AccountIndex(0), amount)
    }

    /// Funds an omni account; the amount must be positive.
    pub fn omni_deposit_at(
        &self,
        index: AccountIndex,
        amount: Fixed,
    ) -> Result<OmniView, LedgerError> {
        if !amount.is_positive() {
            return Err(LedgerError::Invalid(format!(
                "an omni deposit must be positive; got {}",
                amount.money()
            )));
        }
        self.omni_cash_at(index, amount)
    }

    /// [`Ledger::omni_cash_at`] at the first account.
    pub fn omni_cash(&self, amount: Fixed) -> Result<OmniView, LedgerError> {
        self.omni_cash_at(AccountIndex(0), amount)
    }

    /// Changes an omni account's cash (`POST /admin/omni/…cash`): a deposit (positive) or a
    /// withdrawal or adjustment (negative).
    /// - Prefunded: cash and available move together. A withdrawal is refused beyond available
    ///   (cash − reserved), so money promised to open BUYs can never leave: the CAS on available
    ///   is the check, as for a reservation.
    /// - Cashless: cash is only what the partner deposited (buying power is the credit line); a
    ///   withdrawal is refused beyond it.
    pub fn omni_cash_at(
        &self,
        index: AccountIndex,
        amount: Fixed,
    ) -> Result<OmniView, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Invalid(
                "an omni cash change must not be zero".to_string(),
            ));
        }
        let omni = self.account(index);
        if amount.is_negative() {
            let withdrawal = amount.checked_neg().unwrap_or(Fixed::MAX);
            let gate = match omni.kind {
                FundingKind::Prefunded => &omni.available,
                FundingKind::Cashless => &omni.cash,
            };
            let taken = gate.fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current >= withdrawal.units()).then(|| current - withdrawal.units())
            });
            if let Err(current) = taken {
                return Err(LedgerError::BeyondAvailable {
                    code: crate::reject::RejectCode::InsufficientOmniBuyingPower,
                    message: format!(
                        "omni withdrawal of {} is more than the {} available",
                        withdrawal.money(),
                        Fixed::from_units(current).money()
                    ),
                });
            }
            if omni.kind == FundingKind::Prefunded {
                // Cannot overflow: cash ≥ available ≥ the withdrawal (invariant 4, reserved ≥ 0).
                omni.cash.fetch_sub(withdrawal.units(), Ordering::AcqRel);
            }
            return Ok(self.omni_at(index));
        }
        self.redo_omni_cash(index, amount)?;
        Ok(self.omni_at(index))
    }

    /// Replays an omni cash change without checking available (the live call checked it).
    pub fn redo_omni_cash(&self, index: AccountIndex, amount: Fixed) -> Result<(), LedgerError> {
        let omni = self.account(index);
        let units = amount.units();
        let result = match omni.kind {
            FundingKind::Prefunded => apply_all(&[(&omni.cash, units), (&omni.available, units)]),
            FundingKind::Cashless => apply_all(&[(&omni.cash, units)]),
        };
        result.map_err(|overflow| overflow.error("the omni balance"))
    }

    /// Changes a cashless account's credit line (config reload); available moves by the
    /// difference.
    pub fn set_credit_limit(
        &self,
        index: AccountIndex,
        credit_limit: Fixed,
    ) -> Result<OmniView, LedgerError> {
        let omni = self.account(index);
        if omni.kind != FundingKind::Cashless {
            return Err(LedgerError::Invalid(
                "a credit limit applies only to cashless funding".to_string(),
            ));
        }
        if credit_limit.is_negative() {
            return Err(LedgerError::Invalid(format!(
                "a credit limit cannot be negative; got {}",
                credit_limit.money()
            )));
        }
        // swap, not load-then-store: two reloads racing each move available by their own step.
        let new_units = credit_limit.units();
        let old = omni.credit_limit.swap(new_units, Ordering::AcqRel);
        let moved = new_units
            .checked_sub(old)
            .ok_or(Overflow)
            .and_then(|delta| apply_all(&[(&omni.available, delta)]));
        if let Err(overflow) = moved {
            let _ = omni.credit_limit.compare_exchange(
                new_units,
                old,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            return Err(overflow.error("the omni available amount"));
        }
        Ok(self.omni_at(index))
    }
}
