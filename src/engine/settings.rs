//! What a config reload changes, swapped whole: the next order sees the old settings or the new
//! ones, never half of each; orders in flight keep the snapshot they started with.

use crate::config::{Config, FundingMode};
use crate::decide::{DecisionContext, Rules};
use crate::instruments::InstrumentMaster;
use crate::ledger::{AccountSpec, Funding};
use crate::limits::LimitBook;
use crate::money::Fixed;

pub struct Settings {
    pub rules: Rules,
    pub limits: LimitBook,
    pub fee_per_order: Fixed,
    /// `low_balance_warning` of each omnibus account, by account index.
    pub low_balance_warnings: Vec<Option<Fixed>>,
    pub idempotency_ttl_hours: u64,
}

impl Settings {
    /// Settings for `config`; temporary limit raises carry over from `previous`.
    pub fn new(config: &Config, previous: Option<&Settings>) -> Settings {
        Settings {
            rules: Rules::from_config(config),
            limits: match previous {
                Some(previous) => previous.limits.with_config(&config.limits),
                None => LimitBook::from_config(&config.limits),
            },
            fee_per_order: config.fees.per_order.0,
            low_balance_warnings: account_settings(config)
                .into_iter()
                .map(|account| account.low_balance_warning)
                .collect(),
            idempotency_ttl_hours: config.server.idempotency_ttl_hours,
        }
    }
}

impl Settings {
    /// What a decision reads of these settings, with the instrument master.
    pub fn decision_context<'s>(
        &'s self,
        instruments: &'s InstrumentMaster,
    ) -> DecisionContext<'s> {
        DecisionContext {
            rules: &self.rules,
            limits: &self.limits,
            instruments,
            fee_per_order: self.fee_per_order,
        }
    }
}

/// One omnibus account as the config describes it: `account_numbers` with the `[omnibus]` funding
/// keys (one shared balance), or each `[[omnibus.accounts]]` table.
pub struct AccountSettings {
    pub spec: AccountSpec,
    pub low_balance_warning: Option<Fixed>,
}

pub fn account_settings(config: &Config) -> Vec<AccountSettings> {
    let funding = |mode: FundingMode, credit_limit: Fixed| match mode {
        FundingMode::Prefunded => Funding::Prefunded,
        FundingMode::Cashless => Funding::Cashless { credit_limit },
    };
    let omnibus = &config.omnibus;
    if omnibus.accounts.is_empty() {
        return vec![AccountSettings {
            spec: AccountSpec {
                number: None,
                funding: funding(omnibus.funding, omnibus.credit_limit.0),
            },
            low_balance_warning: omnibus.low_balance_warning.map(|value| value.0),
        }];
    }
    omnibus
        .accounts
        .iter()
        .map(|account| AccountSettings {
            spec: AccountSpec {
                number: Some(account.number.clone()),
                funding: funding(account.funding, account.credit_limit.0),
            },
            low_balance_warning: account.low_balance_warning.map(|value| value.0),
        })
        .collect()
}
