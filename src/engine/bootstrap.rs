//! The bootstrap files and the demo book, loaded only into an empty WAL (SPEC §8): once the log
//! holds state, it is the truth and the files are not read again.

use std::path::Path;

use super::{CustomerSpec, Engine};
use crate::config::Config;
use crate::instruments::InstrumentSpec;
use crate::money::{self, Fixed};

/// The demo book of the embedded default (SPEC §2).
const DEMO_INSTRUMENTS: &str = include_str!("../config/demo_instruments.jsonl");
const DEMO_CUSTOMERS: &str = include_str!("../config/demo_customers.jsonl");
/// The demo omni account's opening balance.
const DEMO_OMNI_CASH: Fixed = Fixed::from_units(1_000_000 * money::SCALE);

impl Engine {
    /// Loads the bootstrap files (and the demo book of the embedded default), logging each
    /// entry. Blocking. Errors name the file and line.
    pub fn bootstrap(&self, config: &Config) -> Result<(), String> {
        if config.demo_book {
            for (index, line) in DEMO_INSTRUMENTS.lines().enumerate() {
                self.load_instrument_line(line)
                    .map_err(|error| format!("demo instruments:{}: {error}", index + 1))?;
            }
            for (index, line) in DEMO_CUSTOMERS.lines().enumerate() {
                self.load_customer_line(line)
                    .map_err(|error| format!("demo customers:{}: {error}", index + 1))?;
            }
            let (_, durability) = self
                .omni_deposit(DEMO_OMNI_CASH)
                .map_err(|error| format!("demo omni cash: {error}"))?;
            durability
                .wait_blocking()
                .map_err(|error| error.to_string())?;
        }
        if let Some(path) = &config.bootstrap.instruments {
            load_json_lines(path, "bootstrap.instruments", |line| {
                self.load_instrument_line(line)
            })?;
        }
        if let Some(path) = &config.bootstrap.customers {
            load_json_lines(path, "bootstrap.customers", |line| {
                self.load_customer_line(line)
            })?;
        }
        Ok(())
    }

    fn load_instrument_line(&self, line: &str) -> Result<(), String> {
        let spec: InstrumentSpec = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let symbol = spec.symbol.clone().ok_or("the entry has no symbol")?;
        let (_, durability) = self
            .upsert_instrument(&symbol, spec)
            .map_err(|error| error.to_string())?;
        durability
            .wait_blocking()
            .map_err(|error| error.to_string())
    }

    fn load_customer_line(&self, line: &str) -> Result<(), String> {
        let spec: CustomerSpec = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let client_id = spec.client_id.clone().ok_or("the entry has no clientID")?;
        self.register_customer(&client_id, spec)
            .map_err(|error| error.to_string())?
            .wait_blocking()
            .map_err(|error| error.to_string())
    }
}

fn load_json_lines(
    path: &Path,
    key: &str,
    mut load: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{key}: {}: cannot read: {error}", path.display()))?;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        load(line).map_err(|error| format!("{key}: {}:{}: {error}", path.display(), index + 1))?;
    }
    Ok(())
}
