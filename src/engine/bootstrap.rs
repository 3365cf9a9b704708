//! The bootstrap files and the demo book, loaded only into an empty WAL (SPEC §8): once the log
//! holds state, it is the truth and the files are not read again.

use std::path::Path;

use super::{CustomerSpec, Durability, Engine};
use crate::config::Config;
use crate::instruments::InstrumentSpec;
use crate::money::{self, Fixed};

/// The demo book of the embedded default (SPEC §2).
const DEMO_INSTRUMENTS: &str = include_str!("../config/demo_instruments.jsonl");
const DEMO_CUSTOMERS: &str = include_str!("../config/demo_customers.jsonl");
/// Lines whose records are queued before waiting for them: one group commit (one fsync) covers a
/// whole batch, so a million customers load in seconds, not in a million fsyncs. Well below the
/// WAL's queue capacity.
const BATCH: usize = 1024;
/// The demo omni account's opening balance.
const DEMO_OMNI_CASH: Fixed = Fixed::from_units(1_000_000 * money::SCALE);

impl Engine {
    /// Loads the bootstrap files (and the demo book of the embedded default), logging each
    /// entry. Blocking. Errors name the file and line.
    pub fn bootstrap(&self, config: &Config) -> Result<(), String> {
        if config.demo_book {
            load_lines(DEMO_INSTRUMENTS, "demo instruments", |line| {
                self.load_instrument_line(line)
            })?;
            load_lines(DEMO_CUSTOMERS, "demo customers", |line| {
                self.load_customer_line(line)
            })?;
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

    fn load_instrument_line(&self, line: &str) -> Result<Durability, String> {
        let spec: InstrumentSpec = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let symbol = spec.symbol.clone().ok_or("the entry has no symbol")?;
        let (_, durability) = self
            .upsert_instrument(&symbol, spec)
            .map_err(|error| error.to_string())?;
        Ok(durability)
    }

    fn load_customer_line(&self, line: &str) -> Result<Durability, String> {
        let spec: CustomerSpec = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let client_id = spec.client_id.clone().ok_or("the entry has no clientID")?;
        self.register_customer(&client_id, spec)
            .map_err(|error| error.to_string())
    }
}

fn load_json_lines(
    path: &Path,
    key: &str,
    load: impl FnMut(&str) -> Result<Durability, String>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{key}: {}: cannot read: {error}", path.display()))?;
    load_lines(&text, &format!("{key}: {}", path.display()), load)
}

/// Loads every non-blank line of `text`, waiting for durability once per [`BATCH`] lines. Each
/// entry is applied in memory as it is read (a later line may depend on an earlier one); nothing
/// is acted on from here, so waiting later loses nothing, and the start fails if any record could
/// not be made durable. Errors are `<name>:<line>: reason`.
fn load_lines(
    text: &str,
    name: &str,
    mut load: impl FnMut(&str) -> Result<Durability, String>,
) -> Result<(), String> {
    let mut pending: Vec<(usize, Durability)> = Vec::with_capacity(BATCH);
    let wait = |pending: &mut Vec<(usize, Durability)>| {
        pending.drain(..).try_for_each(|(line, durability)| {
            durability
                .wait_blocking()
                .map_err(|error| format!("{name}:{line}: {error}"))
        })
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let durability = load(line).map_err(|error| format!("{name}:{}: {error}", index + 1))?;
        pending.push((index + 1, durability));
        if pending.len() == BATCH {
            wait(&mut pending)?;
        }
    }
    wait(&mut pending)
}
