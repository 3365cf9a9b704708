//! Applying logged records to a fresh engine: recovery's tail, and the records a snapshot is
//! made of. Records are effects (see `wal::record`): they are applied without re-running the
//! checks that admitted them.

use chrono::DateTime;

use super::Engine;
use crate::decide::QueuedOrder;
use crate::engine::record::{OrderControls, Record};
use crate::instruments::{ExchangeName, InstrumentSpec};
use crate::ledger::{AccountIndex, BuyCost, Charges, Ledger, LocalOrderId, OrderUpdate};
use crate::limits::LimitOverride;

impl Engine {
    /// Applies one logged effect (recovery only: single-threaded, nothing else running).
    pub(super) fn replay(&self, record: Record) -> Result<(), String> {
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
                account,
                commission_rate,
            } => {
                let account = replayed_account(ledger, account.as_deref())?;
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
                            commission_rate,
                        },
                        account,
                    )
                    .map_err(|error| error.to_string())?;
                self.note_replayed(local, controls.as_ref());
                self.redo_controls(&client_id, controls.as_ref());
                Ok(())
            }
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
                account,
                fee,
                commission_rate,
            } => {
                let account = replayed_account(ledger, account.as_deref())?;
                let charges = Charges {
                    fee,
                    commission_rate,
                };
                ledger
                    .redo_reserve_sell(
                        LocalOrderId(local),
                        &client_id,
                        &symbol,
                        quantity,
                        charges,
                        account,
                    )
                    .map_err(|error| error.to_string())?;
                self.note_replayed(local, controls.as_ref());
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
            Record::Leader { node } => {
                tracing::info!(%node, "the log names a new leader");
                Ok(())
            }
            Record::Bind { local, order_id } => {
                match self.answered(local).bind(LocalOrderId(local), &order_id) {
                    // The live bind met the same refusal (an id already bound to another open
                    // order) and held the order in doubt; so does replay.
                    Err(crate::ledger::LedgerError::Conflict(reason)) => {
                        tracing::warn!(%reason, "replayed bind refused; order held in doubt");
                        ledger
                            .mark_in_doubt(LocalOrderId(local))
                            .map_err(|error| error.to_string())
                    }
                    other => other.map_err(|error| error.to_string()),
                }
            }
            Record::Release { local } => self
                .answered(local)
                .release(LocalOrderId(local))
                .map_err(|error| error.to_string()),
            Record::InDoubt { local, note } => ledger
                .mark_in_doubt_noted(LocalOrderId(local), note)
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
                trade_day,
            } => {
                // Idempotent by cumulative quantity; an order closed since is simply unknown.
                ledger.apply_update_on(
                    &order_id,
                    OrderUpdate {
                        status,
                        cumulative_quantity,
                        average_price,
                        fees,
                    },
                    trade_day,
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
            Record::CustomerCash {
                client_id, amount, ..
            } => ledger
                .redo_adjust_cash(&client_id, amount)
                .map_err(|error| error.to_string()),
            Record::Rekey { old, new } => {
                ledger
                    .rekey(&old, &new)
                    .map_err(|error| error.to_string())?;
                self.rekey_controls(&old, &new);
                Ok(())
            }
            Record::OmniCash {
                amount,
                payment_id,
                account,
                ..
            } => {
                if let Some(payment_id) = payment_id {
                    self.seen_payments.first_time(&payment_id);
                }
                let account = replayed_account(ledger, account.as_deref())?;
                ledger
                    .redo_omni_cash(account, amount)
                    .map_err(|error| error.to_string())
            }
            Record::SettlementRolled { day } => {
                let rolled = match day {
                    Some(day) => ledger.roll_settlement(day),
                    None => ledger.roll_settlement_day(),
                };
                // The live roll met the same overflow and was logged anyway (see
                // `Engine::roll_settlement`): the same customers stay unsettled here.
                if let Err(error) = rolled {
                    tracing::warn!(%error, "replayed settlement roll left some proceeds unsettled");
                }
                Ok(())
            }
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
            Record::SymbolChanged { old, new } => {
                self.instruments
                    .rename(&old, &new)
                    .map_err(|error| error.to_string())?;
                // As live: a position that would overflow stays behind, logged.
                if let Err(error) = ledger.rename_symbol(&old, &new) {
                    tracing::error!(%error, %old, %new, "replayed rename left a position behind");
                }
                Ok(())
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
}

/// The ledger's account a log record names. A record names its account exactly when it was
/// written under `[[omnibus.accounts]]`, so a log is never replayed across the two modes: that
/// would merge several accounts' books into one, or put a shared balance's on the first account.
fn replayed_account(ledger: &Ledger, number: Option<&str>) -> Result<AccountIndex, String> {
    let shared = ledger.has_shared_balance();
    match number {
        None if shared => Ok(AccountIndex(0)),
        None => Err("the log was written with one shared omni balance \
             (omnibus.account_numbers), but the configuration lists [[omnibus.accounts]]"
            .to_owned()),
        Some(number) if shared => Err(format!(
            "the log names omnibus account {number} ([[omnibus.accounts]]), but the \
             configuration keeps one shared balance (omnibus.account_numbers)"
        )),
        Some(number) => ledger.account_index(number).ok_or_else(|| {
            format!(
                "the log names omnibus account {number}, which is not configured \
                 ([[omnibus.accounts]])"
            )
        }),
    }
}

impl Engine {
    /// The ledger, once `local` is answered: its note is no longer needed (a follower applies
    /// orders for days; its notes must not pile up).
    fn answered(&self, local: u64) -> &Ledger {
        self.replayed_notes.lock().remove(&local);
        &self.ledger
    }

    /// Remembers a replayed order's clientOrderID and sending time, should it be unanswered.
    fn note_replayed(&self, local: u64, controls: Option<&OrderControls>) {
        if let Some(controls) = controls {
            self.replayed_notes.lock().insert(
                local,
                crate::ledger::InDoubtNote {
                    client_order_id: controls.client_order_id.clone(),
                    created_at_ms: controls.at_unix_ns / 1_000_000,
                },
            );
        }
    }
}
