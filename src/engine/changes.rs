//! Admin changes (SPEC §7), each applied with the gate held exclusively and logged, so that its
//! record sits in the log exactly where its effect happened. The caller answers 2xx only once
//! the returned [`Durability`] resolves.

use chrono::NaiveDate;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{ChangeError, CustomerSpec, Durability, Engine};
use crate::engine::record::{InstrumentEntry, Record};
use crate::instruments::{Instrument, InstrumentSpec};
use crate::ledger::{AccountIndex, CustomerView, LocalOrderId, OmniView, OrderState, Registered};
use crate::limits::{KillSwitchSetting, LimitOverride};
use crate::money::Fixed;

impl Engine {
    /// Registers (or replaces) a customer; the clientID format rules apply here too.
    pub fn register_customer(
        &self,
        client_id: &str,
        spec: CustomerSpec,
    ) -> Result<Durability, ChangeError> {
        if let Some(inner) = &spec.client_id {
            if inner != client_id {
                return Err(ChangeError::Invalid(format!(
                    "clientID {inner:?} in the body differs from {client_id:?} in the path"
                )));
            }
        }
        self.settings
            .load()
            .rules
            .client_ids()
            .check(client_id)
            .map_err(|reject| ChangeError::Invalid(reject.message))?;
        let positions: Vec<(String, Fixed)> = spec
            .positions
            .into_iter()
            .map(|(symbol, quantity)| (symbol, quantity.0))
            .collect();
        let _gate = self.gate.exclusive();
        let record = match self.ledger.register(
            client_id,
            &spec.customer_id,
            spec.cash,
            positions.clone(),
        )? {
            Registered::New => Record::CustomerNew {
                client_id: client_id.to_owned(),
                customer_id: spec.customer_id,
                cash: spec.cash,
                positions,
            },
            Registered::Replaced {
                cash_delta,
                position_deltas,
            } => Record::CustomerReplace {
                client_id: client_id.to_owned(),
                cash_delta,
                position_deltas,
            },
        };
        Ok(self.log(&[record]))
    }

    /// A customer deposit (positive) or withdrawal (negative, refused beyond available), with the
    /// reason kept in the WAL.
    pub fn adjust_cash(
        &self,
        client_id: &str,
        amount: Fixed,
        reason: Option<&str>,
    ) -> Result<(CustomerView, Durability), ChangeError> {
        let _gate = self.gate.exclusive();
        let view = self.ledger.adjust_cash(client_id, amount)?;
        let durability = self.log(&[Record::CustomerCash {
            client_id: client_id.to_owned(),
            amount,
            reason: reason.map(str::to_owned),
        }]);
        Ok((view, durability))
    }

    /// The one way to change a customer's clientID; the new one must follow the format rules.
    pub fn rekey(&self, client_id: &str, new_client_id: &str) -> Result<Durability, ChangeError> {
        self.settings
            .load()
            .rules
            .client_ids()
            .check(new_client_id)
            .map_err(|reject| ChangeError::Invalid(reject.message))?;
        let _gate = self.gate.exclusive();
        self.ledger.rekey(client_id, new_client_id)?;
        self.rekey_controls(client_id, new_client_id);
        Ok(self.log(&[Record::Rekey {
            old: client_id.to_owned(),
            new: new_client_id.to_owned(),
        }]))
    }

    /// Funds the first (or only) omni account.
    pub fn omni_deposit(&self, amount: Fixed) -> Result<(OmniView, Durability), ChangeError> {
        self.omni_cash(AccountIndex(0), amount, None)
    }

    /// Omni cash in (positive) or out (negative, refused beyond available) at one account, with
    /// the reason kept in the WAL (SPEC §5.4).
    pub fn omni_cash(
        &self,
        account: AccountIndex,
        amount: Fixed,
        reason: Option<&str>,
    ) -> Result<(OmniView, Durability), ChangeError> {
        let durability = {
            let _gate = self.gate.exclusive();
            self.ledger.omni_cash_at(account, amount)?;
            self.log(&[Record::OmniCash {
                amount,
                payment_id: None,
                reason: reason.map(str::to_owned),
                account: self.ledger.account_number(account),
            }])
        };
        self.watch_omni_balance(&self.settings.load(), account);
        Ok((self.ledger.omni_at(account), durability))
    }

    /// The settlement roll of business day `day` (T+1, SPEC §5.4): trades dated before it
    /// settle. Idempotent, so a roll missed while down is made at start.
    ///
    /// A roll that could not credit every customer (an overflow near 92 billion) still changed
    /// the others, so it is logged either way; replay meets the same overflow at the same place.
    pub fn roll_settlement(&self, day: NaiveDate) -> Result<(OmniView, Durability), ChangeError> {
        let _gate = self.gate.exclusive();
        let rolled = self.ledger.roll_settlement(day);
        let durability = self.log(&[Record::SettlementRolled { day: Some(day) }]);
        let view = rolled?;
        Ok((view, durability))
    }

    /// The business day of the last settlement roll, if any.
    pub fn last_settlement_roll(&self) -> Option<NaiveDate> {
        self.ledger.last_settlement_roll()
    }

    pub fn resolve_in_doubt(
        &self,
        local: LocalOrderId,
        order_id: Option<&str>,
    ) -> Result<Durability, ChangeError> {
        let _gate = self.gate.exclusive();
        self.ledger.resolve_in_doubt(local, order_id)?;
        Ok(self.log(&[Record::Resolve {
            local: local.0,
            order_id: order_id.map(str::to_owned),
        }]))
    }

    pub fn upsert_instrument(
        &self,
        symbol: &str,
        spec: InstrumentSpec,
    ) -> Result<(Arc<Instrument>, Durability), ChangeError> {
        let _gate = self.gate.exclusive();
        let instrument = self.instruments.upsert(symbol, spec)?;
        let durability = self.log(&[Record::InstrumentUpsert(entry_of(&instrument))]);
        Ok((instrument, durability))
    }

    /// Sets reference prices, all or none: every symbol must be known and every price positive.
    pub fn set_prices(&self, prices: &[(String, Fixed)]) -> Result<Durability, ChangeError> {
        let _gate = self.gate.exclusive();
        let mut found = Vec::with_capacity(prices.len());
        for (symbol, price) in prices {
            if !price.is_positive() {
                return Err(ChangeError::Invalid(format!(
                    "the price of {symbol} must be above zero"
                )));
            }
            match self.instruments.by_symbol(symbol) {
                Some(instrument) => found.push((instrument, *price)),
                None => return Err(ChangeError::NotFound(format!("no instrument {symbol:?}"))),
            }
        }
        let records: Vec<Record> = found
            .iter()
            .map(|(instrument, price)| {
                instrument.set_reference_price(*price);
                Record::Price {
                    symbol: instrument.symbol.clone(),
                    price: *price,
                }
            })
            .collect();
        Ok(self.log(&records))
    }

    /// Sets the kill switch (replacing the previous setting). With `cancelOpen`, also returns
    /// the upstream ids of the open orders it now blocks: the ones to cancel.
    pub fn set_kill_switch(
        &self,
        setting: &KillSwitchSetting,
    ) -> Result<(Durability, Vec<String>), ChangeError> {
        let _gate = self.gate.exclusive();
        self.kill_switch
            .set(setting)
            .map_err(|problems| ChangeError::Invalid(problems.join("; ")))?;
        let durability = self.log(&[Record::KillSwitch(setting.clone())]);
        let to_cancel = if setting.cancel_open {
            let state = self.kill_switch.current();
            self.ledger
                .orders(OrderState::Open)
                .into_iter()
                .filter(|order| state.blocks(&order.client_id, &order.symbol).is_some())
                .filter_map(|order| order.upstream_order_id)
                .collect()
        } else {
            Vec::new()
        };
        Ok((durability, to_cancel))
    }

    pub fn set_limit_override(
        &self,
        client_id: &str,
        limit_override: LimitOverride,
        now: DateTime<Utc>,
    ) -> Result<Durability, ChangeError> {
        let _gate = self.gate.exclusive();
        let record = Record::LimitOverride {
            client_id: client_id.to_owned(),
            limits: limit_override.limits,
            expires_at_unix_ns: limit_override
                .expires_at
                .timestamp_nanos_opt()
                .unwrap_or(i64::MAX),
        };
        self.settings
            .load()
            .limits
            .set_override(client_id, limit_override, now)?;
        Ok(self.log(&[record]))
    }
}

impl Engine {
    /// A re-keyed customer keeps its freeze and its day's BUY total (the controls follow the
    /// customer, not the name).
    pub(super) fn rekey_controls(&self, old: &str, new: &str) {
        self.freezes.rekey(old, new);
        self.daily_buys.rekey(old, new);
    }

    /// Freezes or unfreezes a customer (`PUT /admin/customers/{clientID}/freeze`).
    pub fn freeze(
        &self,
        client_id: &str,
        frozen: bool,
        reason: &str,
    ) -> Result<Durability, ChangeError> {
        if reason.len() > crate::limits::freeze::REASON_MAX {
            return Err(ChangeError::Invalid(format!(
                "reason is longer than {} bytes",
                crate::limits::freeze::REASON_MAX
            )));
        }
        if frozen && reason.trim().is_empty() {
            return Err(ChangeError::Invalid(
                "a freeze needs a reason (kept in the log for the audit)".to_owned(),
            ));
        }
        let _gate = self.gate.exclusive();
        if !self.ledger.contains(client_id) {
            return Err(ChangeError::NotFound(format!(
                "clientID {client_id:?} is not a registered customer"
            )));
        }
        self.freezes.set(client_id, frozen, reason);
        Ok(self.log(&[Record::Freeze {
            client_id: client_id.to_owned(),
            frozen,
            reason: reason.to_owned(),
        }]))
    }
}

/// An instrument as logged.
pub(super) fn entry_of(instrument: &Instrument) -> InstrumentEntry {
    InstrumentEntry {
        symbol: instrument.symbol.clone(),
        instrument_id: instrument.instrument_id.clone(),
        isin: instrument.isin.clone(),
        asset_class: instrument.asset_class,
        exchange: instrument.exchange,
        status: instrument.status(),
        fractionable: instrument.fractionable,
        price: instrument.reference_price(),
        order_size_min: instrument.order_size_min,
        order_size_max: instrument.order_size_max,
        order_size_step: instrument.order_size_step,
    }
}
