//! The bootstrap files and the demo book, loaded only into an empty WAL (SPEC §8): once the log
//! holds state, it is the truth and the files are not read again.

use std::path::Path;

use super::{CustomerSpec, Durability, Engine, StorageError};
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
            self.load_instruments(DEMO_INSTRUMENTS)
                .map_err(|error| format!("demo instruments:{}: {}", error.line, error.message))?;
            self.load_customers(DEMO_CUSTOMERS)
                .map_err(|error| format!("demo customers:{}: {}", error.line, error.message))?;
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

/// The instrument entries of the demo book and the bootstrap file, each with its symbol: read,
/// not loaded (what `omnigate sim` lists). Errors name the file and line.
pub fn instrument_entries(config: &Config) -> Result<Vec<(String, InstrumentSpec)>, String> {
    let mut entries = Vec::new();
    let mut read = |name: &str, text: &str| {
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = |message: String| format!("{name}:{}: {message}", index + 1);
            let spec: InstrumentSpec =
                serde_json::from_str(line).map_err(|error| at(error.to_string()))?;
            let symbol = spec
                .symbol
                .clone()
                .ok_or_else(|| at("the entry has no symbol".to_owned()))?;
            entries.push((symbol, spec));
        }
        Ok::<(), String>(())
    };
    if config.demo_book {
        read("demo instruments", DEMO_INSTRUMENTS)?;
    }
    if let Some(path) = &config.bootstrap.instruments {
        let text = std::fs::read_to_string(path).map_err(|error| {
            format!(
                "bootstrap.instruments: {}: cannot read: {error}",
                path.display()
            )
        })?;
        read(&format!("bootstrap.instruments: {}", path.display()), &text)?;
    }
    Ok(entries)
}

fn load_json_lines(
    path: &Path,
    key: &str,
    load: impl FnMut(&str) -> Result<Durability, String>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{key}: {}: cannot read: {error}", path.display()))?;
    let name = format!("{key}: {}", path.display());
    load_lines(&text, load)
        .map(drop)
        .map_err(|error| format!("{name}:{}: {}", error.line, error.message))
}

/// Why a bulk load stopped: the line at fault (1-based) and why, and how many entries before it
/// were loaded (and are durable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkError {
    pub line: usize,
    pub message: String,
    pub loaded: usize,
    /// The WAL could not make the line durable (not the line's fault: answered 503).
    pub storage: Option<StorageError>,
}

impl Engine {
    /// `POST /admin/customers`: registers (or replaces) each customer of `text`, JSON Lines in
    /// the shape of `bootstrap.customers`, in order. Durable in batches (one group commit per
    /// [`BATCH`] lines); returns once every loaded entry is durable. Blocking.
    pub fn load_customers(&self, text: &str) -> Result<usize, BulkError> {
        load_lines(text, |line| self.load_customer_line(line))
    }

    /// `POST /admin/instruments`: upserts each instrument of `text` (the shape of
    /// `bootstrap.instruments`), as [`Engine::load_customers`] does customers.
    pub fn load_instruments(&self, text: &str) -> Result<usize, BulkError> {
        load_lines(text, |line| self.load_instrument_line(line))
    }
}

/// Loads every non-blank line of `text`, waiting for durability once per [`BATCH`] lines, and
/// returns how many entries it loaded. Each entry is applied in memory as it is read (a later
/// line may depend on an earlier one); nothing is acted on from here, so waiting later loses
/// nothing. At the first bad line it stops, waits for the lines before it, and says how many
/// those were.
fn load_lines(
    text: &str,
    mut load: impl FnMut(&str) -> Result<Durability, String>,
) -> Result<usize, BulkError> {
    let mut pending: Vec<(usize, Durability)> = Vec::with_capacity(BATCH);
    let mut loaded = 0;
    let wait = |pending: &mut Vec<(usize, Durability)>, loaded: usize| {
        let batch = pending.len();
        pending
            .drain(..)
            .enumerate()
            .try_for_each(|(index, (line, durability))| {
                durability.wait_blocking().map_err(|error| BulkError {
                    line,
                    message: error.to_string(),
                    loaded: loaded - batch + index,
                    storage: Some(error),
                })
            })
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match load(line) {
            Ok(durability) => {
                pending.push((index + 1, durability));
                loaded += 1;
            }
            Err(message) => {
                wait(&mut pending, loaded)?;
                return Err(BulkError {
                    line: index + 1,
                    message,
                    loaded,
                    storage: None,
                });
            }
        }
        if pending.len() == BATCH {
            wait(&mut pending, loaded)?;
        }
    }
    wait(&mut pending, loaded)?;
    Ok(loaded)
}
