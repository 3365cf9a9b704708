//! Snapshots (SPEC §10): the engine's state as one payload, written so replay is bounded, and
//! read back at start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::{Engine, Journal};
use crate::codec::{DecodeError, Decoder, Encoder};
use crate::engine::record::Record;
use crate::instruments::{Instrument, InstrumentStatus};
use crate::ledger::{Ledger, LedgerHead, LedgerState};
use crate::limits::{ClientOverride, KillSwitchState};
use crate::money::Fixed;
use crate::rules::market_hours::new_york_date;

/// First byte of an engine snapshot; bump on any change of its layout.
const SNAPSHOT_FORMAT: u8 = 1;

/// Bytes a customer or an open order takes in a snapshot, generously (about 100 each in a book
/// of a million of each), for sizing the first snapshot's buffer.
const GUESSED_BYTES_PER_ENTRY: usize = 160;

/// What one snapshot cost.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotReport {
    /// How long every change was paused: the gate held exclusively at the beginning.
    pub pause: Duration,
    /// From the beginning until the payload was encoded (orders going on meanwhile).
    pub read: Duration,
    /// Until the file was durable and the log below it removed.
    pub total: Duration,
    pub bytes: usize,
}

/// What a snapshot takes at its beginning, with every change paused: the small state itself, and
/// the beginning of each copy-on-write read of the large state (customers and orders, daily
/// totals, clientOrderIDs, idempotency keys, queued orders, payments; see [`crate::cow`]).
struct Beginning {
    next_lsn: u64,
    now: DateTime<Utc>,
    ledger: LedgerHead,
    /// With their status and price at the beginning (both change in place).
    instruments: Vec<(Arc<Instrument>, InstrumentStatus, Option<Fixed>)>,
    kill_switch: Arc<KillSwitchState>,
    freezes: Vec<(String, String)>,
    overrides: Vec<ClientOverride>,
    queued: u64,
    daily_buys: u64,
    duplicates: u64,
    idempotency: u64,
    payments: u64,
}

impl Engine {
    /// Begins a snapshot: every change paused (the gate held exclusively) only while the small
    /// state is copied and each copy-on-write read begins. Its cost does not grow with the
    /// customers or the open orders.
    fn begin_snapshot(&self, journal: &Journal) -> Beginning {
        let started = Instant::now();
        let gate = self.gate.exclusive();
        let now = self.clock.now();
        let beginning = Beginning {
            next_lsn: journal.next_lsn(),
            now,
            ledger: self.ledger.begin_snapshot(),
            instruments: self
                .instruments
                .all()
                .into_iter()
                .map(|instrument| {
                    let (status, price) = (instrument.status(), instrument.reference_price());
                    (instrument, status, price)
                })
                .collect(),
            kill_switch: self.kill_switch.current(),
            freezes: self.freezes.all(),
            overrides: self.settings.load().limits.overrides(now),
            queued: self.queued.begin_snapshot(),
            daily_buys: self.daily_buys.begin_snapshot(),
            duplicates: self.duplicates.begin_snapshot(),
            idempotency: self.idempotency.begin_snapshot(),
            payments: self.seen_payments.begin_snapshot(),
        };
        drop(gate);
        metrics::histogram!("omnigate_snapshot_pause_seconds")
            .record(started.elapsed().as_secs_f64());
        beginning
    }

    /// The payload, and how many entries it holds (customers, orders, other records).
    /// `expected_bytes` is what the payload is likely to need (the last snapshot's size), 0 if
    /// unknown.
    fn read_snapshot(&self, beginning: Beginning, expected_bytes: usize) -> (Vec<u8>, u64) {
        let Beginning {
            next_lsn: _,
            now,
            ledger,
            mut instruments,
            kill_switch,
            freezes,
            overrides,
            queued,
            daily_buys,
            duplicates,
            idempotency,
            payments,
        } = beginning;
        let ledger = self.ledger.read_snapshot(ledger);
        let ledger_entries = ledger.customers.len() + ledger.orders.len();
        // Reserved once for the whole payload: a buffer of hundreds of MiB grown by doubling is
        // copied each time, and at that moment the old and the new copy are both resident. Pages
        // reserved and never written are never resident, so a generous guess costs nothing.
        let guess = ledger_entries.saturating_mul(GUESSED_BYTES_PER_ENTRY);
        let capacity = expected_bytes.saturating_add(expected_bytes / 8).max(guess);
        let mut e = Encoder::with_capacity(capacity.max(64 * 1024));
        e.u8(SNAPSHOT_FORMAT);
        ledger.encode(&mut e);
        // In the payload now: its strings and lists go before the other records are read.
        drop(ledger);
        // Everything else as the records that rebuild it.
        let mut records: Vec<Record> = Vec::new();
        instruments.sort_by(|a, b| a.0.symbol.cmp(&b.0.symbol));
        records.extend(instruments.iter().map(|(instrument, status, price)| {
            let mut entry = super::changes::entry_of(instrument);
            entry.status = *status;
            entry.price = *price;
            Record::InstrumentUpsert(entry)
        }));
        records.extend(
            self.queued
                .read_snapshot(queued)
                .into_iter()
                .map(|(order_id, queued)| Record::Queued {
                    order_id,
                    exchange: queued.exchange,
                    open_unix_s: queued.open.timestamp(),
                }),
        );
        records.push(Record::KillSwitch(kill_switch.setting()));
        records.extend(
            freezes
                .into_iter()
                .map(|(client_id, reason)| Record::Freeze {
                    client_id,
                    frozen: true,
                    reason,
                }),
        );
        // Yesterday's totals too: a snapshot taken just before midnight New York time is read
        // after it.
        let since = new_york_date(now).pred_opt().unwrap_or(NaiveDate::MIN);
        records.extend(
            self.daily_buys
                .read_snapshot(daily_buys, since)
                .into_iter()
                .map(|(client_id, trading_day, total)| Record::DailyBuyTotal {
                    client_id,
                    trading_day,
                    total,
                }),
        );
        records.extend(
            self.duplicates
                .read_snapshot(duplicates, now)
                .into_iter()
                .map(Record::ClientOrderIds),
        );
        records.extend(overrides.into_iter().map(|entry| {
            Record::LimitOverride {
                client_id: entry.client_id,
                limits: entry.limit_override.limits,
                expires_at_unix_ns: entry
                    .limit_override
                    .expires_at
                    .timestamp_nanos_opt()
                    .unwrap_or(i64::MAX),
            }
        }));
        records.extend(
            self.idempotency
                .read_snapshot(idempotency, now)
                .into_iter()
                .map(Record::Idempotent),
        );
        e.u32(u32::try_from(records.len()).unwrap_or(u32::MAX));
        for record in &records {
            e.bytes(&record.encode());
        }
        let payments = self.seen_payments.read_snapshot(payments);
        e.u32(u32::try_from(payments.len()).unwrap_or(u32::MAX));
        for payment in &payments {
            e.str(payment);
        }
        let entries = ledger_entries + records.len() + payments.len();
        (e.finish(), entries as u64)
    }

    /// Rebuilds from a snapshot payload (recovery only).
    pub(super) fn restore(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut d = Decoder::new(payload);
        let format = d.u8("snapshot format").map_err(|e| e.to_string())?;
        if format != SNAPSHOT_FORMAT {
            return Err(format!("snapshot format {format} is not {SNAPSHOT_FORMAT}"));
        }
        let state = LedgerState::decode(&mut d).map_err(|error| error.to_string())?;
        self.ledger = Ledger::import_state_with(
            self.ledger.config().sell_proceeds,
            self.ledger.account_specs(),
            state,
        )?;
        let count = d.u32("record count").map_err(|e| e.to_string())?;
        for _ in 0..count {
            let bytes = d.bytes("snapshot record").map_err(|e| e.to_string())?;
            let record = Record::decode(bytes).map_err(|e| e.to_string())?;
            self.replay(record)?;
        }
        let payments = d.u32("payment count").map_err(|e| e.to_string())?;
        for _ in 0..payments {
            let payment = d
                .str("payment id")
                .map_err(|e: DecodeError| e.to_string())?;
            self.seen_payments.first_time(payment);
        }
        d.finish("snapshot").map_err(|e| e.to_string())
    }

    /// Writes a snapshot if one is due (blocking: run it off the runtime's workers).
    pub fn snapshot_if_due(&self) {
        let Some(journal) = &self.journal else { return };
        if journal.snapshot_due() {
            let _ = self.write_snapshot(journal);
        }
    }

    fn write_snapshot(&self, journal: &Journal) -> Option<SnapshotReport> {
        let _turn = journal.snapshot_turn();
        let started = Instant::now();
        let beginning = self.begin_snapshot(journal);
        let pause = started.elapsed();
        let next_lsn = beginning.next_lsn;
        let (payload, entries) = self.read_snapshot(beginning, journal.last_snapshot_bytes());
        let read = started.elapsed();
        match journal.write_snapshot(&payload, entries, next_lsn) {
            Ok(()) => {
                let report = SnapshotReport {
                    pause,
                    read,
                    total: started.elapsed(),
                    bytes: payload.len(),
                };
                tracing::info!(
                    next_lsn,
                    bytes = report.bytes,
                    pause_us = pause.as_micros() as u64,
                    total_ms = report.total.as_millis() as u64,
                    "snapshot written"
                );
                Some(report)
            }
            Err(error) => {
                tracing::error!(%error, "snapshot failed; the log still holds everything");
                None
            }
        }
    }

    /// Writes a snapshot now, due or not, and says what it cost (tests and `perf/`). `None`
    /// without a WAL or when it could not be written (logged).
    pub fn snapshot_now(&self) -> Option<SnapshotReport> {
        let journal = self.journal.as_ref()?;
        self.write_snapshot(journal)
    }

    /// Reads a snapshot as `snapshot_now` would, and checks that its ledger part imports: a
    /// snapshot that mixed instants would fail the import's invariants (tests).
    #[cfg(test)]
    pub(crate) fn check_snapshot_imports(&self) -> Result<(), String> {
        let journal = self.journal.as_ref().ok_or("no WAL")?;
        let _turn = journal.snapshot_turn();
        let beginning = self.begin_snapshot(journal);
        let (payload, _) = self.read_snapshot(beginning, 0);
        let mut d = Decoder::new(&payload);
        d.u8("snapshot format").map_err(|e| e.to_string())?;
        let state = LedgerState::decode(&mut d).map_err(|e| e.to_string())?;
        Ledger::import_state_with(
            self.ledger.config().sell_proceeds,
            self.ledger.account_specs(),
            state,
        )
        .map(drop)
    }

    /// The WAL flushed and closed with no final snapshot, as a crash would leave it once every
    /// record was durable (tests, and `perf/` measuring a restart).
    pub fn close_without_snapshot(&self) {
        if let Some(journal) = &self.journal {
            journal.shutdown();
        }
    }

    /// Clean shutdown: a final snapshot, then the WAL flushed and closed. Blocking.
    pub fn close(&self) {
        let Some(journal) = &self.journal else { return };
        if journal.failed().is_none() {
            let _ = self.write_snapshot(journal);
        }
        journal.shutdown();
    }
}
