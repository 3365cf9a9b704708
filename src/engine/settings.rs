//! What a config reload changes, swapped whole: the next order sees the old settings or the new
//! ones, never half of each; orders in flight keep the snapshot they started with.

use crate::config::Config;
use crate::decide::{DecisionContext, Rules};
use crate::instruments::InstrumentMaster;
use crate::limits::LimitBook;
use crate::money::Fixed;

pub struct Settings {
    pub rules: Rules,
    pub limits: LimitBook,
    pub fee_per_order: Fixed,
    pub low_balance_warning: Option<Fixed>,
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
            low_balance_warning: config.omnibus.low_balance_warning.map(|value| value.0),
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
