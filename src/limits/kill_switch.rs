//! The kill switch (SPEC §5.3, §7): global, per customer, per symbol. New orders it covers are
//! refused with `TRADING_DISABLED`; cancels are not checked here (they must always pass).
//!
//! `PUT /admin/kill-switch` replaces the whole setting at once — a key left out of the body is
//! off/empty — and `GET` reads it back in the same shape. The setting is swapped as one
//! `Arc<KillSwitchState>`, so a reader sees the old or the new setting, never a mix.
//!
//! The order path pays one atomic load while nothing is switched on (the normal case); only
//! while a switch is on does [`KillSwitch::check`] take the shared read lock. Neither allocates.
//!
//! `cancelOpen` asks the caller to cancel, upstream, the open orders the new setting covers:
//! [`KillSwitchState::blocks`] tells which.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::fast_map::FastHashSet;
use crate::reject::{Reject, RejectCode};

use super::short;
use super::SymbolSet;

/// Most `clientIDs` or `symbols` one setting may list.
pub const ENTRIES_MAX: usize = 100_000;
/// Longest symbol accepted.
const SYMBOL_LEN_MAX: usize = 32;

/// The body of `PUT /admin/kill-switch`, the answer of `GET`, and the record to persist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchSetting {
    /// Every new order is refused.
    #[serde(default)]
    pub global: bool,
    /// New orders of these customers are refused.
    #[serde(rename = "clientIDs", default)]
    pub client_ids: Vec<String>,
    /// New orders in these symbols are refused (case-insensitive).
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Also cancel upstream the open orders the switch covers.
    #[serde(rename = "cancelOpen", default)]
    pub cancel_open: bool,
}

impl KillSwitchSetting {
    /// Every problem with the setting, one per line-able message, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (field, count) in [
            ("clientIDs", self.client_ids.len()),
            ("symbols", self.symbols.len()),
        ] {
            if count > ENTRIES_MAX {
                problems.push(format!(
                    "{field} lists {count} entries; at most {ENTRIES_MAX}"
                ));
            }
        }
        for (index, client_id) in self.client_ids.iter().enumerate() {
            if client_id.is_empty()
                || client_id.len() > 64
                || !client_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                problems.push(format!(
                    "clientIDs[{index}] {:?} is not a clientID (1 to 64 of A-Z a-z 0-9 _ -)",
                    short(client_id)
                ));
            }
        }
        for (index, symbol) in self.symbols.iter().enumerate() {
            if symbol.is_empty()
                || symbol.len() > SYMBOL_LEN_MAX
                || !symbol.bytes().all(|b| b.is_ascii_graphic())
            {
                problems.push(format!(
                    "symbols[{index}] {:?} is not a symbol (1 to {SYMBOL_LEN_MAX} printable characters, no spaces)",
                    short(symbol)
                ));
            }
        }
        problems
    }
}

/// One complete kill-switch setting, ready to check against.
#[derive(Debug, Default)]
pub struct KillSwitchState {
    pub global: bool,
    pub client_ids: FastHashSet<Box<str>>,
    pub symbols: SymbolSet,
    pub cancel_open: bool,
}

/// Which switch covers an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillReason {
    Global,
    Customer,
    Symbol,
}

impl KillSwitchState {
    fn from_setting(setting: &KillSwitchSetting) -> Self {
        KillSwitchState {
            global: setting.global,
            client_ids: setting
                .client_ids
                .iter()
                .map(|client_id| client_id.as_str().into())
                .collect(),
            symbols: SymbolSet::new(setting.symbols.iter().map(String::as_str)),
            cancel_open: setting.cancel_open,
        }
    }

    /// True when any switch is on.
    pub fn is_engaged(&self) -> bool {
        self.global || !self.client_ids.is_empty() || !self.symbols.is_empty()
    }

    /// The switch that covers an order of `client_id` in `symbol`, if any (global first, then
    /// customer, then symbol). Also for choosing the open orders to cancel under `cancelOpen`.
    pub fn blocks(&self, client_id: &str, symbol: &str) -> Option<KillReason> {
        if self.global {
            Some(KillReason::Global)
        } else if self.client_ids.contains(client_id) {
            Some(KillReason::Customer)
        } else if self.symbols.contains(symbol) {
            Some(KillReason::Symbol)
        } else {
            None
        }
    }

    /// Back to the admin shape, lists sorted.
    pub fn setting(&self) -> KillSwitchSetting {
        let mut client_ids: Vec<String> = self.client_ids.iter().map(|id| id.to_string()).collect();
        client_ids.sort_unstable();
        KillSwitchSetting {
            global: self.global,
            client_ids,
            symbols: self.symbols.iter().map(str::to_owned).collect(),
            cancel_open: self.cancel_open,
        }
    }
}

/// The live kill switch.
#[derive(Debug, Default)]
pub struct KillSwitch {
    /// Mirrors `state.is_engaged()`, so that the order path skips the lock while all is off.
    engaged: AtomicBool,
    state: RwLock<Arc<KillSwitchState>>,
}

impl KillSwitch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole setting; returns the previous one. Refused (nothing changes) with
    /// every problem when the setting is malformed.
    pub fn set(&self, setting: &KillSwitchSetting) -> Result<Arc<KillSwitchState>, Vec<String>> {
        let problems = setting.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let next = Arc::new(KillSwitchState::from_setting(setting));
        let engaged = next.is_engaged();
        let mut state = self.state.write();
        let previous = std::mem::replace(&mut *state, next);
        // Under the write lock: a reader that sees `engaged` then waits for the lock reads the
        // new state.
        self.engaged.store(engaged, Ordering::Release);
        Ok(previous)
    }

    /// The setting in force (for `GET`, snapshots and `cancelOpen`).
    pub fn current(&self) -> Arc<KillSwitchState> {
        self.state.read().clone()
    }

    /// `TRADING_DISABLED` when a switch covers a new order of `client_id` in `symbol`; the
    /// message says which switch. Does not allocate unless it refuses.
    pub fn check(&self, client_id: &str, symbol: &str) -> Result<(), Reject> {
        self.check_with(|state| state.blocks(client_id, symbol), client_id, symbol)
    }

    /// The global and customer switches only: for the kill-switch step of SPEC §3.1, which comes
    /// before the instrument is looked up (an order may name an `instrumentID`, not a symbol).
    pub fn check_customer(&self, client_id: &str) -> Result<(), Reject> {
        self.check_with(
            |state| {
                state
                    .blocks(client_id, "")
                    .filter(|reason| *reason != KillReason::Symbol)
            },
            client_id,
            "",
        )
    }

    /// The global and symbol switches only, once the instrument master has named the symbol.
    pub fn check_symbol(&self, symbol: &str) -> Result<(), Reject> {
        self.check_with(
            |state| {
                if state.global {
                    Some(KillReason::Global)
                } else if state.symbols.contains(symbol) {
                    Some(KillReason::Symbol)
                } else {
                    None
                }
            },
            "",
            symbol,
        )
    }

    fn check_with(
        &self,
        covers: impl FnOnce(&KillSwitchState) -> Option<KillReason>,
        client_id: &str,
        symbol: &str,
    ) -> Result<(), Reject> {
        if !self.engaged.load(Ordering::Acquire) {
            return Ok(());
        }
        let reason = covers(&self.state.read());
        match reason {
            None => Ok(()),
            Some(reason) => Err(Reject::new(
                RejectCode::TradingDisabled,
                match reason {
                    KillReason::Global => {
                        "trading is disabled for every customer (global kill switch)".to_owned()
                    }
                    KillReason::Customer => format!(
                        "trading is disabled for clientID {:?} (customer kill switch)",
                        short(client_id)
                    ),
                    KillReason::Symbol => format!(
                        "trading in {} is disabled (symbol kill switch)",
                        short(symbol)
                    ),
                },
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(json: &str) -> KillSwitchSetting {
        serde_json::from_str(json).unwrap()
    }

    fn message(result: Result<(), Reject>) -> Option<String> {
        result.err().map(|reject| {
            assert_eq!(reject.code, RejectCode::TradingDisabled);
            assert_eq!(reject.http_status(), 422);
            reject.message
        })
    }

    #[test]
    fn off_by_default() {
        let switch = KillSwitch::new();
        assert!(switch.check("A", "AAPL").is_ok());
        assert_eq!(switch.current().setting(), KillSwitchSetting::default());
    }

    #[test]
    fn each_switch_says_which_it_is() {
        let switch = KillSwitch::new();
        switch
            .set(&setting(r#"{"clientIDs": ["CUST1"], "symbols": ["tsla"]}"#))
            .unwrap();
        assert_eq!(
            message(switch.check("CUST1", "AAPL")).as_deref(),
            Some("trading is disabled for clientID \"CUST1\" (customer kill switch)")
        );
        assert_eq!(
            message(switch.check("CUST2", "TSLA")).as_deref(),
            Some("trading in TSLA is disabled (symbol kill switch)")
        );
        assert_eq!(message(switch.check("CUST2", "AAPL")), None);
        assert_eq!(
            message(switch.check("cust1", "AAPL")),
            None,
            "clientIDs are case-sensitive"
        );

        // Split in two for the check order: customer before the instrument lookup, symbol after.
        assert!(switch.check_customer("CUST1").is_err());
        assert!(switch.check_customer("CUST2").is_ok());
        assert_eq!(
            message(switch.check_symbol("tsla")).as_deref(),
            Some("trading in tsla is disabled (symbol kill switch)")
        );
        assert!(switch.check_symbol("AAPL").is_ok());

        switch.set(&setting(r#"{"global": true}"#)).unwrap();
        assert!(switch.check_customer("CUST2").is_err());
        assert!(switch.check_symbol("AAPL").is_err());
        assert_eq!(
            message(switch.check("CUST2", "AAPL")).as_deref(),
            Some("trading is disabled for every customer (global kill switch)")
        );
    }

    #[test]
    fn a_put_replaces_the_whole_setting() {
        let switch = KillSwitch::new();
        switch
            .set(&setting(
                r#"{"global": true, "clientIDs": ["B", "A"], "symbols": ["X"], "cancelOpen": true}"#,
            ))
            .unwrap();
        assert_eq!(
            switch.current().setting(),
            KillSwitchSetting {
                global: true,
                client_ids: vec!["A".into(), "B".into()],
                symbols: vec!["X".into()],
                cancel_open: true,
            }
        );
        let previous = switch.set(&setting(r#"{"symbols": ["Y"]}"#)).unwrap();
        assert!(previous.global && previous.cancel_open);
        assert!(switch.check("A", "X").is_ok(), "the old entries are gone");
        assert!(switch.check("A", "Y").is_err());
        switch.set(&KillSwitchSetting::default()).unwrap();
        assert!(switch.check("A", "Y").is_ok());
    }

    #[test]
    fn the_body_is_strict() {
        let error = serde_json::from_str::<KillSwitchSetting>(r#"{"globl": true}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field"), "{error}");
        let switch = KillSwitch::new();
        let problems = switch
            .set(&setting(
                r#"{"global": true, "clientIDs": ["ok", "no way"], "symbols": [""]}"#,
            ))
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("clientIDs[1]"));
        assert!(problems[1].starts_with("symbols[0]"));
        assert!(
            switch.check("A", "B").is_ok(),
            "a refused setting changes nothing"
        );
    }

    #[test]
    fn blocks_picks_the_orders_cancel_open_covers() {
        let state = KillSwitchState::from_setting(&setting(
            r#"{"clientIDs": ["A"], "symbols": ["X"], "cancelOpen": true}"#,
        ));
        assert_eq!(state.blocks("A", "Z"), Some(KillReason::Customer));
        assert_eq!(state.blocks("B", "x"), Some(KillReason::Symbol));
        assert_eq!(state.blocks("B", "Z"), None);
    }

    #[test]
    fn readers_see_a_whole_setting_while_it_flips() {
        let switch = Arc::new(KillSwitch::new());
        let both = setting(r#"{"clientIDs": ["A"], "symbols": ["X"]}"#);
        let flipper = {
            let switch = switch.clone();
            std::thread::spawn(move || {
                for round in 0..2000 {
                    if round % 2 == 0 {
                        switch.set(&both).unwrap();
                    } else {
                        switch.set(&KillSwitchSetting::default()).unwrap();
                    }
                }
            })
        };
        for _ in 0..2000 {
            let state = switch.current();
            // Both entries or neither: never half a setting.
            assert_eq!(
                state.blocks("A", "Z").is_some(),
                state.blocks("B", "X").is_some()
            );
        }
        flipper.join().unwrap();
    }
}
