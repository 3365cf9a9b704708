//! Opening the WAL and rebuilding state from snapshot + tail (SPEC §10).
//!
//! After recovery, cash, reservations, positions, open and in-doubt orders, omni, instrument
//! status and prices, kill switch, freezes, limit overrides, idempotency keys, credited payment
//! ids, each customer's BUY total for the trading day and the `clientOrderID`s in use are as
//! they were. An order whose reservation is logged but whose fate is not (the process
//! died between making it durable and learning the upstream's answer) may or may not have
//! reached DriveWealth: it is held *in doubt*, its money still reserved, until an operator or a
//! later event resolves it. How each record is applied is `replay`; snapshots are
//! `snapshot`.

use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Journal};
use crate::clock::Clock;
use crate::config::{Config, FsyncMode};
use crate::engine::record::Record;
use crate::ledger::{LocalOrderId, OrderState};
use crate::wal::{FsyncPolicy, Wal, WalOptions};

/// What opening found.
pub struct Opened {
    pub engine: Engine,
    /// True when the log held nothing: the bootstrap files are to be loaded.
    pub fresh: bool,
    /// Orders recovery put in doubt.
    pub in_doubt: usize,
}

impl Engine {
    /// Opens the WAL in `config.wal.dir` and rebuilds the engine from it. Blocking.
    pub fn open(
        config: &Config,
        clock: Arc<dyn Clock>,
        truncate_corrupt_tail: bool,
    ) -> Result<Opened, String> {
        let options = WalOptions {
            fsync: match config.wal.fsync {
                FsyncMode::Always => FsyncPolicy::Always,
                FsyncMode::Interval => {
                    FsyncPolicy::Interval(Duration::from_millis(config.wal.fsync_interval_ms))
                }
                FsyncMode::Off => FsyncPolicy::Off,
            },
            segment_bytes: config.wal.segment_bytes,
            truncate_corrupt_tail,
            ..WalOptions::default()
        };
        let dir = &config.wal.dir;
        let (wal, recovered) = Wal::open(dir, options)
            .map_err(|error| format!("wal.dir {}: {error}", dir.display()))?;
        for warning in &recovered.warnings {
            tracing::warn!("WAL recovery: {warning}");
        }
        let fresh = recovered.snapshot.is_none() && recovered.records.is_empty();

        let mut engine = Engine::new(config, clock);
        if let Some(snapshot) = &recovered.snapshot {
            engine
                .restore(snapshot)
                .map_err(|error| format!("wal.dir {}: snapshot: {error}", dir.display()))?;
        }
        let first_lsn = recovered.next_lsn - recovered.records.len() as u64;
        for (index, bytes) in recovered.records.iter().enumerate() {
            let lsn = first_lsn + index as u64;
            let record = Record::decode(bytes)
                .map_err(|error| format!("wal.dir {}: record {lsn}: {error}", dir.display()))?;
            engine.replay(record).map_err(|error| {
                format!(
                    "wal.dir {}: record {lsn} cannot be applied: {error}",
                    dir.display()
                )
            })?;
        }
        // The credit lines are config, not history: today's file wins over the snapshot's.
        let accounts = super::settings::account_settings(config);
        if let Some(problem) = engine.apply_credit_limits(&accounts).first() {
            return Err(format!("omnibus credit_limit: {problem}"));
        }
        engine.journal = Some(Arc::new(Journal::new(
            wal,
            recovered.next_lsn,
            config.wal.snapshot_every,
            engine.leadership.clone(),
        )));
        // A follower's open orders without an answer are the leader's, in flight; they are
        // held in doubt only if this node takes office (`Engine::take_office`).
        let in_doubt = if engine.leadership.replicated() {
            0
        } else {
            engine.hold_unanswered_in_doubt()?
        };
        if !fresh {
            tracing::info!(
                records = recovered.records.len(),
                snapshot = recovered.snapshot.is_some(),
                in_doubt,
                "state recovered from the WAL"
            );
        }
        Ok(Opened {
            engine,
            fresh,
            in_doubt,
        })
    }

    /// Writes through `wal` from now on (tests that inject storage faults build the WAL
    /// themselves).
    #[doc(hidden)]
    pub fn attach_wal(&mut self, wal: Wal, next_lsn: u64, snapshot_every: u64) {
        self.journal = Some(Arc::new(Journal::new(
            wal,
            next_lsn,
            snapshot_every,
            self.leadership.clone(),
        )));
    }

    /// Orders reserved before a crash with no logged answer: in doubt, and logged as such.
    pub(super) fn hold_unanswered_in_doubt(&self) -> Result<usize, String> {
        let unanswered: Vec<LocalOrderId> = self
            .ledger
            .orders(OrderState::Open)
            .into_iter()
            .filter(|order| order.upstream_order_id.is_none())
            .map(|order| order.local_id)
            .collect();
        let mut notes = std::mem::take(&mut *self.replayed_notes.lock());
        // Every record queued, then one wait: in replicated mode each wait is a round trip to
        // the stream, and a new leader takes office only after this.
        let mut durability = super::Durability::None;
        for local in &unanswered {
            let _gate = self.gate.shared();
            let note = notes.remove(&local.0);
            self.ledger
                .mark_in_doubt_noted(*local, note.clone())
                .map_err(|error| error.to_string())?;
            durability = durability.and(self.log(&[Record::InDoubt {
                local: local.0,
                note,
            }]));
            tracing::warn!(%local, "order had no answer before the restart; held in doubt");
        }
        durability
            .wait_blocking()
            .map_err(|error| error.to_string())?;
        Ok(unanswered.len())
    }
}
