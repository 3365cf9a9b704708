//! Snapshots (SPEC §10): the engine's state as one payload, written so replay is bounded, and
//! read back at start.

use chrono::NaiveDate;

use super::{Engine, Journal};
use crate::codec::{DecodeError, Decoder, Encoder};
use crate::engine::record::Record;
use crate::ledger::{Ledger, LedgerState};
use crate::rules::market_hours::new_york_date;

/// First byte of an engine snapshot; bump on any change of its layout.
const SNAPSHOT_FORMAT: u8 = 1;

impl Engine {
    /// The snapshot payload and the lsn it covers up to, taken with every change paused.
    fn snapshot_payload(&self) -> Option<(Vec<u8>, u64)> {
        let journal = self.journal.as_ref()?;
        let _gate = self.gate.exclusive();
        let now = self.clock.now();
        let mut e = Encoder::with_capacity(64 * 1024);
        e.u8(SNAPSHOT_FORMAT);
        self.ledger.export_state().encode(&mut e);
        // Everything else as the records that rebuild it.
        let mut records: Vec<Record> = Vec::new();
        let mut instruments: Vec<_> = self.instruments.all();
        instruments.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        records.extend(
            instruments
                .iter()
                .map(|instrument| Record::InstrumentUpsert(super::changes::entry_of(instrument))),
        );
        records.extend(self.queued.entries().into_iter().map(|(order_id, queued)| {
            Record::Queued {
                order_id,
                exchange: queued.exchange,
                open_unix_s: queued.open.timestamp(),
            }
        }));
        records.push(Record::KillSwitch(self.kill_switch.current().setting()));
        records.extend(
            self.freezes
                .all()
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
        records.extend(self.daily_buys.export(since).into_iter().map(
            |(client_id, trading_day, total)| Record::DailyBuyTotal {
                client_id,
                trading_day,
                total,
            },
        ));
        records.extend(
            self.duplicates
                .export_ids(now)
                .into_iter()
                .map(Record::ClientOrderIds),
        );
        records.extend(
            self.settings
                .load()
                .limits
                .overrides(now)
                .into_iter()
                .map(|entry| Record::LimitOverride {
                    client_id: entry.client_id,
                    limits: entry.limit_override.limits,
                    expires_at_unix_ns: entry
                        .limit_override
                        .expires_at
                        .timestamp_nanos_opt()
                        .unwrap_or(i64::MAX),
                }),
        );
        records.extend(
            self.idempotency
                .export(now)
                .into_iter()
                .map(Record::Idempotent),
        );
        e.u32(u32::try_from(records.len()).unwrap_or(u32::MAX));
        for record in &records {
            e.bytes(&record.encode());
        }
        let payments = self.seen_payments.ids();
        e.u32(u32::try_from(payments.len()).unwrap_or(u32::MAX));
        for payment in &payments {
            e.str(payment);
        }
        Some((e.finish(), journal.next_lsn()))
    }

    /// Rebuilds from a snapshot payload (recovery only).
    pub(super) fn restore(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut d = Decoder::new(payload);
        let format = d.u8("snapshot format").map_err(|e| e.to_string())?;
        if format != SNAPSHOT_FORMAT {
            return Err(format!("snapshot format {format} is not {SNAPSHOT_FORMAT}"));
        }
        let state = LedgerState::decode(&mut d).map_err(|error| error.to_string())?;
        self.ledger = Ledger::import_state(self.ledger.config(), state)?;
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
            self.write_snapshot(journal);
        }
    }

    fn write_snapshot(&self, journal: &Journal) {
        let Some((payload, next_lsn)) = self.snapshot_payload() else {
            return;
        };
        match journal.write_snapshot(&payload, next_lsn) {
            Ok(()) => tracing::info!(next_lsn, bytes = payload.len(), "snapshot written"),
            Err(error) => {
                tracing::error!(%error, "snapshot failed; the log still holds everything")
            }
        }
    }

    /// The WAL flushed and closed with no final snapshot, as a crash would leave it once every
    /// record was durable (tests).
    #[cfg(test)]
    pub(crate) fn close_without_snapshot(&self) {
        if let Some(journal) = &self.journal {
            journal.shutdown();
        }
    }

    /// Clean shutdown: a final snapshot, then the WAL flushed and closed. Blocking.
    pub fn close(&self) {
        let Some(journal) = &self.journal else { return };
        if journal.failed().is_none() {
            self.write_snapshot(journal);
        }
        journal.shutdown();
    }
}
