//! Opening the WAL, rebuilding state from snapshot + tail, and writing snapshots (SPEC §10).
//!
//! After recovery, cash, reservations, positions, open and in-doubt orders, omni, instrument
//! status and prices, kill switch, freezes, limit overrides, idempotency keys, credited payment
//! ids, each customer's BUY total for the trading day and the `clientOrderID`s in use are as
//! they were. An order whose reservation is logged but whose fate is not (the process
//! died between making it durable and learning the upstream's answer) may or may not have
//! reached DriveWealth: it is held *in doubt*, its money still reserved, until an operator or a
//! later event resolves it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};

use super::{Engine, Journal};
use crate::clock::Clock;
use crate::codec::{DecodeError, Decoder, Encoder};
use crate::config::{Config, FsyncMode};
use crate::decide::QueuedOrder;
use crate::instruments::{ExchangeName, InstrumentSpec};
use crate::ledger::{BuyCost, Ledger, LedgerState, LocalOrderId, OrderState, OrderUpdate};
use crate::limits::LimitOverride;
use crate::rules::market_hours::new_york_date;
use crate::wal::record::{OrderControls, Record};
use crate::wal::{FsyncPolicy, Wal, WalOptions};

/// First byte of an engine snapshot; bump on any change of its layout.
const SNAPSHOT_FORMAT: u8 = 1;

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
        if config.omnibus.funding == crate::config::FundingMode::Cashless {
            // The credit line is config, not history: today's file wins over the snapshot's.
            engine
                .ledger
                .set_credit_limit(config.omnibus.credit_limit.0)
                .map_err(|error| format!("omnibus.credit_limit: {error}"))?;
        }
        engine.journal = Some(Arc::new(Journal::new(
            wal,
            recovered.next_lsn,
            config.wal.snapshot_every,
        )));
        let in_doubt = engine.hold_unanswered_in_doubt()?;
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
        self.journal = Some(Arc::new(Journal::new(wal, next_lsn, snapshot_every)));
    }

    /// Orders reserved before a crash with no logged answer: in doubt, and logged as such.
    fn hold_unanswered_in_doubt(&self) -> Result<usize, String> {
        let unanswered: Vec<LocalOrderId> = self
            .ledger
            .orders(OrderState::Open)
            .into_iter()
            .filter(|order| order.upstream_order_id.is_none())
            .map(|order| order.local_id)
            .collect();
        for local in &unanswered {
            let _gate = self.gate.shared();
            self.ledger
                .mark_in_doubt(*local)
                .map_err(|error| error.to_string())?;
            self.log(&[Record::InDoubt { local: local.0 }])
                .wait_blocking()
                .map_err(|error| error.to_string())?;
            tracing::warn!(%local, "order had no answer before the restart; held in doubt");
        }
        Ok(unanswered.len())
    }

    /// Applies one logged effect (recovery only: single-threaded, nothing else running).
    fn replay(&self, record: Record) -> Result<(), String> {
        let now = self.clock.now();
        let ledger = &self.ledger;
        match record {
            Record::ReserveBuy {
                local,
                client_id,
                symbol,
                per_share,
                quantity,
                amount_cash,
                fee,
                controls,
            } => {
                ledger
                    .redo_reserve_buy(
                        LocalOrderId(local),
                        &client_id,
                        &symbol,
                        BuyCost {
                            per_share,
                            quantity,
                            amount_cash,
                            fee,
                        },
                    )
                    .map_err(|error| error.to_string())?;
                self.redo_controls(&client_id, controls.as_ref());
                Ok(())
            }
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
            } => {
                ledger
                    .redo_reserve_sell(LocalOrderId(local), &client_id, &symbol, quantity)
                    .map_err(|error| error.to_string())?;
                self.redo_controls(&client_id, controls.as_ref());
                Ok(())
            }
            Record::ControlsReturned {
                client_id,
                controls,
            } => {
                self.daily_buys
                    .give_back(&client_id, controls.trading_day, controls.buy_notional);
                if let Some(client_order_id) = &controls.client_order_id {
                    self.duplicates.redo_forget(&client_id, client_order_id);
                }
                Ok(())
            }
            Record::Freeze {
                client_id,
                frozen,
                reason,
            } => {
                self.freezes.set(&client_id, frozen, &reason);
                Ok(())
            }
            Record::DailyBuyTotal {
                client_id,
                trading_day,
                total,
            } => {
                self.daily_buys.restore(&client_id, trading_day, total);
                Ok(())
            }
            Record::ClientOrderIds(shard) => self.duplicates.import_ids(&shard),
            Record::Bind { local, order_id } => ledger
                .bind(LocalOrderId(local), &order_id)
                .map_err(|error| error.to_string()),
            Record::Release { local } => ledger
                .release(LocalOrderId(local))
                .map_err(|error| error.to_string()),
            Record::InDoubt { local } => ledger
                .mark_in_doubt(LocalOrderId(local))
                .map_err(|error| error.to_string()),
            Record::Resolve { local, order_id } => ledger
                .resolve_in_doubt(LocalOrderId(local), order_id.as_deref())
                .map_err(|error| error.to_string()),
            Record::Update {
                order_id,
                status,
                cumulative_quantity,
                average_price,
                fees,
            } => {
                // Idempotent by cumulative quantity; an order closed since is simply unknown.
                ledger.apply_update(
                    &order_id,
                    OrderUpdate {
                        status,
                        cumulative_quantity,
                        average_price,
                        fees,
                    },
                );
                Ok(())
            }
            Record::Queued {
                order_id,
                exchange,
                open_unix_s,
            } => {
                let open = DateTime::from_timestamp(open_unix_s, 0)
                    .ok_or("the queued order's open time is out of range")?;
                self.queued
                    .insert(&order_id, QueuedOrder { exchange, open }, now);
                Ok(())
            }
            Record::CustomerNew {
                client_id,
                customer_id,
                cash,
                positions,
            } => ledger
                .redo_register_new(&client_id, &customer_id, cash, positions)
                .map_err(|error| error.to_string()),
            Record::CustomerReplace {
                client_id,
                cash_delta,
                position_deltas,
            } => ledger
                .redo_replace(&client_id, cash_delta, position_deltas)
                .map_err(|error| error.to_string()),
            Record::CustomerCash { client_id, amount } => ledger
                .redo_adjust_cash(&client_id, amount)
                .map_err(|error| error.to_string()),
            Record::Rekey { old, new } => {
                ledger
                    .rekey(&old, &new)
                    .map_err(|error| error.to_string())?;
                self.rekey_controls(&old, &new);
                Ok(())
            }
            Record::OmniDeposit { amount, payment_id } => {
                if let Some(payment_id) = payment_id {
                    self.seen_payments.first_time(&payment_id);
                }
                ledger
                    .omni_deposit(amount)
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            }
            Record::SettlementRolled => ledger
                .roll_settlement_day()
                .map(|_| ())
                .map_err(|error| error.to_string()),
            Record::InstrumentUpsert(entry) => {
                let spec = InstrumentSpec {
                    symbol: Some(entry.symbol.clone()),
                    instrument_id: entry.instrument_id,
                    isin: entry.isin,
                    asset_class: entry.asset_class,
                    exchange: ExchangeName(entry.exchange),
                    status: entry.status,
                    fractionable: entry.fractionable,
                    price: entry.price,
                    order_size_min: entry.order_size_min,
                    order_size_max: entry.order_size_max,
                    order_size_step: entry.order_size_step,
                };
                self.instruments
                    .upsert(&entry.symbol, spec)
                    .map(|_| ())
                    .map_err(|error| error.0)
            }
            Record::InstrumentStatus { symbol, status } => {
                let instrument = self
                    .instruments
                    .by_symbol(&symbol)
                    .ok_or_else(|| format!("no instrument {symbol}"))?;
                instrument.set_status(status);
                Ok(())
            }
            Record::Price { symbol, price } => {
                let instrument = self
                    .instruments
                    .by_symbol(&symbol)
                    .ok_or_else(|| format!("no instrument {symbol}"))?;
                instrument.set_reference_price(price);
                Ok(())
            }
            Record::KillSwitch(setting) => self
                .kill_switch
                .set(&setting)
                .map(|_| ())
                .map_err(|problems| problems.join("; ")),
            Record::LimitOverride {
                client_id,
                limits,
                expires_at_unix_ns,
            } => {
                let expires_at = DateTime::from_timestamp_nanos(expires_at_unix_ns);
                // An override that has lapsed since is simply not restored.
                let _ = self.settings.load().limits.set_override(
                    &client_id,
                    LimitOverride { limits, expires_at },
                    now,
                );
                Ok(())
            }
            Record::Idempotent(record) => {
                self.idempotency.import(record, now);
                Ok(())
            }
        }
    }

    /// What a logged reservation added to the controls' memory.
    fn redo_controls(&self, client_id: &str, controls: Option<&OrderControls>) {
        let Some(controls) = controls else { return };
        self.daily_buys
            .redo_add(client_id, controls.trading_day, controls.buy_notional);
        if let Some(client_order_id) = &controls.client_order_id {
            let at = DateTime::from_timestamp_nanos(controls.at_unix_ns);
            self.duplicates.redo_record(client_id, client_order_id, at);
        }
    }

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
    fn restore(&mut self, payload: &[u8]) -> Result<(), String> {
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
