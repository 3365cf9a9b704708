//! [`Record`]s as bytes: one tag byte, then the fields in order (see [`crate::codec`]). Tags and
//! the enum codes (each enum's [`crate::codec::WireCode`] table) are on-disk format: a tag, once
//! written, never changes meaning; a record of an earlier layout keeps its old tag and is still
//! read.
//!
//! One piece, though long: the encoder and the decoder of one on-disk layout, side by side, so a
//! change of layout is one diff and a reader sees both halves of each tag.

use chrono::{Datelike, NaiveDate};

use super::InstrumentEntry;
use super::{tag, OrderControls, Record};
use crate::codec::{DecodeError, Decoder, Encoder};
use crate::limits::{IdempotencyRecord, KillSwitchSetting, LimitPatch, ShardIds};
use crate::money::Fixed;

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(96);
        match self {
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
            } => ReservationRecord::Buy {
                local: *local,
                client_id,
                symbol,
                per_share: *per_share,
                quantity: *quantity,
                amount_cash: *amount_cash,
                fee: *fee,
                controls: controls.as_ref(),
                account: account.as_deref(),
                commission_rate: *commission_rate,
            }
            .encode_into(&mut e),
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
                account,
                fee,
                commission_rate,
            } => ReservationRecord::Sell {
                local: *local,
                client_id,
                symbol,
                quantity: *quantity,
                controls: controls.as_ref(),
                account: account.as_deref(),
                fee: *fee,
                commission_rate: *commission_rate,
            }
            .encode_into(&mut e),
            Record::ControlsReturned {
                client_id,
                controls,
            } => {
                e.u8(tag::CONTROLS_RETURNED).str(client_id);
                encode_controls(&mut e, controls);
            }
            Record::Freeze {
                client_id,
                frozen,
                reason,
            } => {
                e.u8(tag::FREEZE).str(client_id).bool(*frozen).str(reason);
            }
            Record::DailyBuyTotal {
                client_id,
                trading_day,
                total,
            } => {
                e.u8(tag::DAILY_BUY_TOTAL)
                    .str(client_id)
                    .i64(i64::from(trading_day.num_days_from_ce()))
                    .fixed(*total);
            }
            Record::Leader { node } => {
                e.u8(tag::LEADER).str(node);
            }
            Record::ClientOrderIds(shard) => {
                e.u8(tag::CLIENT_ORDER_IDS)
                    .u32(u32::try_from(shard.shard).unwrap_or(u32::MAX))
                    .u32(u32::try_from(shard.ids.len()).unwrap_or(u32::MAX));
                for (digest, at_ns) in &shard.ids {
                    e.u64(*digest as u64)
                        .u64((*digest >> 64) as u64)
                        .i64(*at_ns);
                }
            }
            Record::Bind { local, order_id } => encode_bind(&mut e, *local, order_id),
            Record::Release { local } => {
                e.u8(tag::RELEASE).u64(*local);
            }
            Record::InDoubt { local, note } => {
                e.u8(tag::IN_DOUBT).u64(*local);
                match note {
                    None => {
                        e.bool(false);
                    }
                    Some(note) => {
                        e.bool(true)
                            .option_str(note.client_order_id.as_deref())
                            .i64(note.created_at_ms);
                    }
                }
            }
            Record::Resolve { local, order_id } => {
                e.u8(tag::RESOLVE)
                    .u64(*local)
                    .option_str(order_id.as_deref());
            }
            Record::Update {
                order_id,
                status,
                cumulative_quantity,
                average_price,
                fees,
                trade_day,
            } => {
                e.u8(tag::UPDATE)
                    .str(order_id)
                    .code(*status)
                    .fixed(*cumulative_quantity)
                    .fixed(*average_price)
                    .option_fixed(*fees);
                encode_option_day(&mut e, *trade_day);
            }
            Record::Queued {
                order_id,
                exchange,
                open_unix_s,
            } => {
                e.u8(tag::QUEUED)
                    .str(order_id)
                    .code(*exchange)
                    .i64(*open_unix_s);
            }
            Record::CustomerNew {
                client_id,
                customer_id,
                cash,
                positions,
            } => {
                e.u8(tag::CUSTOMER_NEW)
                    .str(client_id)
                    .str(customer_id)
                    .fixed(*cash);
                encode_pairs(&mut e, positions);
            }
            Record::CustomerReplace {
                client_id,
                cash_delta,
                position_deltas,
            } => {
                e.u8(tag::CUSTOMER_REPLACE)
                    .str(client_id)
                    .fixed(*cash_delta);
                encode_pairs(&mut e, position_deltas);
            }
            Record::CustomerCash {
                client_id,
                amount,
                reason,
            } => {
                e.u8(tag::CUSTOMER_CASH)
                    .str(client_id)
                    .fixed(*amount)
                    .option_str(reason.as_deref());
            }
            Record::Rekey { old, new } => {
                e.u8(tag::REKEY).str(old).str(new);
            }
            Record::SymbolChanged { old, new } => {
                e.u8(tag::SYMBOL_CHANGED).str(old).str(new);
            }
            Record::OmniCash {
                amount,
                payment_id,
                reason,
                account,
            } => {
                e.u8(tag::OMNI_CASH)
                    .fixed(*amount)
                    .option_str(payment_id.as_deref())
                    .option_str(reason.as_deref())
                    .option_str(account.as_deref());
            }
            Record::SettlementRolled { day } => {
                e.u8(tag::SETTLEMENT_ROLLED);
                encode_option_day(&mut e, *day);
            }
            Record::InstrumentUpsert(entry) => {
                e.u8(tag::INSTRUMENT_UPSERT)
                    .str(&entry.symbol)
                    .str(&entry.instrument_id)
                    .option_str(entry.isin.as_deref())
                    .code(entry.asset_class)
                    .code(entry.exchange)
                    .code(entry.status)
                    .bool(entry.fractionable)
                    .option_fixed(entry.price)
                    .option_fixed(entry.order_size_min)
                    .option_fixed(entry.order_size_max)
                    .option_fixed(entry.order_size_step);
            }
            Record::InstrumentStatus { symbol, status } => {
                e.u8(tag::INSTRUMENT_STATUS).str(symbol).code(*status);
            }
            Record::Price { symbol, price } => {
                e.u8(tag::PRICE).str(symbol).fixed(*price);
            }
            Record::KillSwitch(setting) => {
                e.u8(tag::KILL_SWITCH)
                    .bool(setting.global)
                    .bool(setting.cancel_open);
                encode_strings(&mut e, &setting.client_ids);
                encode_strings(&mut e, &setting.symbols);
            }
            Record::LimitOverride {
                client_id,
                limits,
                expires_at_unix_ns,
            } => {
                e.u8(tag::LIMIT_OVERRIDE).str(client_id);
                encode_limits(&mut e, limits);
                e.i64(*expires_at_unix_ns);
            }
            Record::Idempotent(record) => {
                e.u8(tag::IDEMPOTENT)
                    .str(&record.key)
                    .bytes(&record.body_digest)
                    .i64(record.created_at.timestamp_micros())
                    .u32(u32::from(record.status))
                    .u32(u32::try_from(record.headers.len()).unwrap_or(u32::MAX));
                for (name, value) in &record.headers {
                    e.str(name).bytes(value);
                }
                e.bytes(&record.body);
            }
        }
        e.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut d = Decoder::new(bytes);
        let record = match d.u8("record tag")? {
            tag @ (tag::RESERVE_BUY_V1 | tag::RESERVE_BUY_V2 | tag::RESERVE_BUY) => {
                Record::ReserveBuy {
                    local: d.u64("local id")?,
                    client_id: d.string("clientID")?,
                    symbol: d.string("symbol")?,
                    per_share: d.option_fixed("per-share price")?,
                    quantity: d.option_fixed("quantity")?,
                    amount_cash: d.option_fixed("amountCash")?,
                    fee: d.fixed("fee")?,
                    controls: if tag == tag::RESERVE_BUY_V1 {
                        None
                    } else {
                        decode_option_controls(&mut d)?
                    },
                    account: if tag == tag::RESERVE_BUY {
                        d.option_string("account")?
                    } else {
                        None
                    },
                    commission_rate: if tag == tag::RESERVE_BUY {
                        d.fixed("commission rate")?
                    } else {
                        Fixed::ZERO
                    },
                }
            }
            tag @ (tag::RESERVE_SELL_V1 | tag::RESERVE_SELL_V2 | tag::RESERVE_SELL) => {
                Record::ReserveSell {
                    local: d.u64("local id")?,
                    client_id: d.string("clientID")?,
                    symbol: d.string("symbol")?,
                    quantity: d.fixed("quantity")?,
                    controls: if tag == tag::RESERVE_SELL_V1 {
                        None
                    } else {
                        decode_option_controls(&mut d)?
                    },
                    account: if tag == tag::RESERVE_SELL {
                        d.option_string("account")?
                    } else {
                        None
                    },
                    fee: if tag == tag::RESERVE_SELL {
                        d.fixed("fee")?
                    } else {
                        Fixed::ZERO
                    },
                    commission_rate: if tag == tag::RESERVE_SELL {
                        d.fixed("commission rate")?
                    } else {
                        Fixed::ZERO
                    },
                }
            }
            tag::CONTROLS_RETURNED => Record::ControlsReturned {
                client_id: d.string("clientID")?,
                controls: decode_controls(&mut d)?,
            },
            tag::FREEZE => Record::Freeze {
                client_id: d.string("clientID")?,
                frozen: d.bool("frozen")?,
                reason: d.string("reason")?,
            },
            tag::DAILY_BUY_TOTAL => Record::DailyBuyTotal {
                client_id: d.string("clientID")?,
                trading_day: decode_day(&mut d)?,
                total: d.fixed("total")?,
            },
            tag::LEADER => Record::Leader {
                node: d.string("node")?,
            },
            tag::CLIENT_ORDER_IDS => {
                let shard = d.u32("shard")? as usize;
                let count = d.u32("id count")?;
                if count > IDS_PER_RECORD_MAX {
                    return Err(DecodeError {
                        what: "id count",
                        offset: d.offset(),
                        problem: "too many ids",
                    });
                }
                let ids = (0..count)
                    .map(|_| {
                        let low = d.u64("digest")?;
                        let high = d.u64("digest")?;
                        Ok((u128::from(high) << 64 | u128::from(low), d.i64("used at")?))
                    })
                    .collect::<Result<_, DecodeError>>()?;
                Record::ClientOrderIds(ShardIds { shard, ids })
            }
            tag::BIND => Record::Bind {
                local: d.u64("local id")?,
                order_id: d.string("orderId")?,
            },
            tag::RELEASE => Record::Release {
                local: d.u64("local id")?,
            },
            tag @ (tag::IN_DOUBT_V1 | tag::IN_DOUBT) => Record::InDoubt {
                local: d.u64("local id")?,
                note: if tag == tag::IN_DOUBT && d.bool("note present")? {
                    Some(crate::ledger::InDoubtNote {
                        client_order_id: d.option_string("clientOrderID")?,
                        created_at_ms: d.i64("sent at")?,
                    })
                } else {
                    None
                },
            },
            tag::RESOLVE => Record::Resolve {
                local: d.u64("local id")?,
                order_id: d.option_string("orderId")?,
            },
            tag @ (tag::UPDATE_V1 | tag::UPDATE) => Record::Update {
                order_id: d.string("orderId")?,
                status: d.code("order status")?,
                cumulative_quantity: d.fixed("cumulativeQuantity")?,
                average_price: d.fixed("averagePrice")?,
                fees: d.option_fixed("fees")?,
                trade_day: if tag == tag::UPDATE {
                    decode_option_day(&mut d)?
                } else {
                    None
                },
            },
            tag::QUEUED => Record::Queued {
                order_id: d.string("orderId")?,
                exchange: d.code("exchange")?,
                open_unix_s: d.i64("open time")?,
            },
            tag::CUSTOMER_NEW => Record::CustomerNew {
                client_id: d.string("clientID")?,
                customer_id: d.string("customerId")?,
                cash: d.fixed("cash")?,
                positions: decode_pairs(&mut d)?,
            },
            tag::CUSTOMER_REPLACE => Record::CustomerReplace {
                client_id: d.string("clientID")?,
                cash_delta: d.fixed("cash delta")?,
                position_deltas: decode_pairs(&mut d)?,
            },
            tag @ (tag::CUSTOMER_CASH_V1 | tag::CUSTOMER_CASH) => Record::CustomerCash {
                client_id: d.string("clientID")?,
                amount: d.fixed("amount")?,
                reason: if tag == tag::CUSTOMER_CASH {
                    d.option_string("reason")?
                } else {
                    None
                },
            },
            tag::REKEY => Record::Rekey {
                old: d.string("old clientID")?,
                new: d.string("new clientID")?,
            },
            tag::SYMBOL_CHANGED => Record::SymbolChanged {
                old: d.string("old symbol")?,
                new: d.string("new symbol")?,
            },
            tag::OMNI_DEPOSIT_V1 => Record::OmniCash {
                amount: d.fixed("amount")?,
                payment_id: d.option_string("paymentID")?,
                reason: None,
                account: None,
            },
            tag::OMNI_CASH => Record::OmniCash {
                amount: d.fixed("amount")?,
                payment_id: d.option_string("paymentID")?,
                reason: d.option_string("reason")?,
                account: d.option_string("account")?,
            },
            tag::SETTLEMENT_ROLLED_V1 => Record::SettlementRolled { day: None },
            tag::SETTLEMENT_ROLLED => Record::SettlementRolled {
                day: decode_option_day(&mut d)?,
            },
            tag @ (tag::INSTRUMENT_UPSERT_V1 | tag::INSTRUMENT_UPSERT) => {
                Record::InstrumentUpsert(InstrumentEntry {
                    symbol: d.string("symbol")?,
                    instrument_id: d.string("instrumentID")?,
                    isin: if tag == tag::INSTRUMENT_UPSERT {
                        d.option_string("ISIN")?
                    } else {
                        None
                    },
                    asset_class: d.code("asset class")?,
                    exchange: d.code("exchange")?,
                    status: d.code("instrument status")?,
                    fractionable: d.bool("fractionable")?,
                    price: d.option_fixed("price")?,
                    order_size_min: d.option_fixed("orderSizeMin")?,
                    order_size_max: d.option_fixed("orderSizeMax")?,
                    order_size_step: d.option_fixed("orderSizeStep")?,
                })
            }
            tag::INSTRUMENT_STATUS => Record::InstrumentStatus {
                symbol: d.string("symbol")?,
                status: d.code("instrument status")?,
            },
            tag::PRICE => Record::Price {
                symbol: d.string("symbol")?,
                price: d.fixed("price")?,
            },
            tag::KILL_SWITCH => {
                let global = d.bool("global")?;
                let cancel_open = d.bool("cancelOpen")?;
                Record::KillSwitch(KillSwitchSetting {
                    global,
                    cancel_open,
                    client_ids: decode_strings(&mut d)?,
                    symbols: decode_strings(&mut d)?,
                })
            }
            tag::LIMIT_OVERRIDE => Record::LimitOverride {
                client_id: d.string("clientID")?,
                limits: decode_limits(&mut d)?,
                expires_at_unix_ns: d.i64("expiresAt")?,
            },
            tag::IDEMPOTENT => {
                let key = d.string("idempotency key")?;
                let body_digest: [u8; 16] =
                    d.bytes("body digest")?
                        .try_into()
                        .map_err(|_| DecodeError {
                            what: "body digest",
                            offset: d.offset(),
                            problem: "not 16 bytes",
                        })?;
                let created_at = chrono::DateTime::from_timestamp_micros(d.i64("created at")?)
                    .ok_or(DecodeError {
                        what: "created at",
                        offset: d.offset(),
                        problem: "out of range",
                    })?;
                let status = u16::try_from(d.u32("status")?).map_err(|_| DecodeError {
                    what: "status",
                    offset: d.offset(),
                    problem: "out of range",
                })?;
                let count = d.u32("header count")?;
                if count > 64 {
                    return Err(DecodeError {
                        what: "header count",
                        offset: d.offset(),
                        problem: "too many headers",
                    });
                }
                let headers = (0..count)
                    .map(|_| Ok((d.string("header name")?, d.bytes("header value")?.to_vec())))
                    .collect::<Result<_, DecodeError>>()?;
                Record::Idempotent(IdempotencyRecord {
                    key,
                    body_digest,
                    created_at,
                    status,
                    headers,
                    body: d.bytes("body")?.to_vec(),
                })
            }
            _ => {
                return Err(DecodeError {
                    what: "record tag",
                    offset: 0,
                    problem: "unknown record type",
                })
            }
        };
        d.finish("record")?;
        Ok(record)
    }
}

/// `clientOrderID` digests per snapshot record: a shard's capacity, with room to spare.
const IDS_PER_RECORD_MAX: u32 = 1_000_000;

/// A reservation's record from borrowed fields: the bytes [`Record::ReserveBuy`] and
/// [`Record::ReserveSell`] encode to (they encode through it), without the owned copies of the
/// clientID, symbol, clientOrderID and account the order path would make only to encode them.
pub enum ReservationRecord<'a> {
    Buy {
        local: u64,
        client_id: &'a str,
        symbol: &'a str,
        per_share: Option<Fixed>,
        quantity: Option<Fixed>,
        amount_cash: Option<Fixed>,
        fee: Fixed,
        controls: Option<&'a OrderControls>,
        account: Option<&'a str>,
        commission_rate: Fixed,
    },
    Sell {
        local: u64,
        client_id: &'a str,
        symbol: &'a str,
        quantity: Fixed,
        controls: Option<&'a OrderControls>,
        account: Option<&'a str>,
        fee: Fixed,
        commission_rate: Fixed,
    },
}

impl ReservationRecord<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::with_capacity(96);
        self.encode_into(&mut e);
        e.finish()
    }

    fn encode_into(&self, e: &mut Encoder) {
        match *self {
            ReservationRecord::Buy {
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
                e.u8(tag::RESERVE_BUY)
                    .u64(local)
                    .str(client_id)
                    .str(symbol)
                    .option_fixed(per_share)
                    .option_fixed(quantity)
                    .option_fixed(amount_cash)
                    .fixed(fee);
                encode_option_controls(e, controls);
                e.option_str(account).fixed(commission_rate);
            }
            ReservationRecord::Sell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
                account,
                fee,
                commission_rate,
            } => {
                e.u8(tag::RESERVE_SELL)
                    .u64(local)
                    .str(client_id)
                    .str(symbol)
                    .fixed(quantity);
                encode_option_controls(e, controls);
                e.option_str(account).fixed(fee).fixed(commission_rate);
            }
        }
    }
}

/// [`Record::Bind`]'s bytes, from a borrowed upstream id.
pub fn bind_record(local: u64, order_id: &str) -> Vec<u8> {
    let mut e = Encoder::with_capacity(16 + order_id.len());
    encode_bind(&mut e, local, order_id);
    e.finish()
}

fn encode_bind(e: &mut Encoder, local: u64, order_id: &str) {
    e.u8(tag::BIND).u64(local).str(order_id);
}

fn encode_controls(e: &mut Encoder, controls: &OrderControls) {
    e.i64(i64::from(controls.trading_day.num_days_from_ce()))
        .fixed(controls.buy_notional)
        .option_str(controls.client_order_id.as_deref())
        .i64(controls.at_unix_ns);
}

fn encode_option_controls(e: &mut Encoder, controls: Option<&OrderControls>) {
    match controls {
        None => {
            e.bool(false);
        }
        Some(controls) => {
            e.bool(true);
            encode_controls(e, controls);
        }
    }
}

fn decode_day(d: &mut Decoder<'_>) -> Result<NaiveDate, DecodeError> {
    let days = d.i64("trading day")?;
    i32::try_from(days)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or(DecodeError {
            what: "trading day",
            offset: d.offset(),
            problem: "out of range",
        })
}

fn decode_controls(d: &mut Decoder<'_>) -> Result<OrderControls, DecodeError> {
    Ok(OrderControls {
        trading_day: decode_day(d)?,
        buy_notional: d.fixed("buy notional")?,
        client_order_id: d.option_string("clientOrderID")?,
        at_unix_ns: d.i64("decided at")?,
    })
}

fn decode_option_controls(d: &mut Decoder<'_>) -> Result<Option<OrderControls>, DecodeError> {
    if d.bool("controls present")? {
        decode_controls(d).map(Some)
    } else {
        Ok(None)
    }
}

fn encode_strings(e: &mut Encoder, values: &[String]) {
    e.u32(u32::try_from(values.len()).unwrap_or(u32::MAX));
    for value in values {
        e.str(value);
    }
}

fn decode_strings(d: &mut Decoder<'_>) -> Result<Vec<String>, DecodeError> {
    let count = d.u32("list length")?;
    if count > PAIRS_MAX {
        return Err(DecodeError {
            what: "list length",
            offset: d.offset(),
            problem: "too long",
        });
    }
    (0..count).map(|_| d.string("list entry")).collect()
}

/// A limit value in a record: money as an optional [`Fixed`], counts as an optional `u64`.
trait LimitValue: Sized {
    fn encode(value: Option<Self>, e: &mut Encoder);
    fn decode(d: &mut Decoder<'_>, what: &'static str) -> Result<Option<Self>, DecodeError>;
}

impl LimitValue for Fixed {
    fn encode(value: Option<Self>, e: &mut Encoder) {
        e.option_fixed(value);
    }

    fn decode(d: &mut Decoder<'_>, what: &'static str) -> Result<Option<Self>, DecodeError> {
        d.option_fixed(what)
    }
}

impl LimitValue for u32 {
    fn encode(value: Option<Self>, e: &mut Encoder) {
        e.option_u64(value.map(u64::from));
    }

    fn decode(d: &mut Decoder<'_>, what: &'static str) -> Result<Option<Self>, DecodeError> {
        option_u32(d, what)
    }
}

impl LimitValue for u64 {
    fn encode(value: Option<Self>, e: &mut Encoder) {
        e.option_u64(value);
    }

    fn decode(d: &mut Decoder<'_>, what: &'static str) -> Result<Option<Self>, DecodeError> {
        d.option_u64(what)
    }
}

/// Every limit key in the list's order (which is this record's layout).
macro_rules! limits_codec {
    ($($key:ident: $type:ty = $camel:literal,)+) => {
        fn encode_limits(e: &mut Encoder, limits: &LimitPatch) {
            $(<$type as LimitValue>::encode(limits.$key, e);)+
        }

        fn decode_limits(d: &mut Decoder<'_>) -> Result<LimitPatch, DecodeError> {
            Ok(LimitPatch {
                $($key: <$type as LimitValue>::decode(d, stringify!($key))?,)+
            })
        }
    };
}

crate::with_limit_keys!(limits_codec);

fn option_u32(d: &mut Decoder<'_>, what: &'static str) -> Result<Option<u32>, DecodeError> {
    d.option_u64(what)?
        .map(|value| {
            u32::try_from(value).map_err(|_| DecodeError {
                what,
                offset: d.offset(),
                problem: "out of range",
            })
        })
        .transpose()
}

fn encode_pairs(e: &mut Encoder, pairs: &[(String, Fixed)]) {
    e.u32(u32::try_from(pairs.len()).unwrap_or(u32::MAX));
    for (symbol, quantity) in pairs {
        e.str(symbol).fixed(*quantity);
    }
}

/// Positions per record are bounded by the admin body limit; this bounds a corrupt count.
const PAIRS_MAX: u32 = 100_000;

fn decode_pairs(d: &mut Decoder<'_>) -> Result<Vec<(String, Fixed)>, DecodeError> {
    let count = d.u32("position count")?;
    if count > PAIRS_MAX {
        return Err(DecodeError {
            what: "position count",
            offset: 0,
            problem: "too many positions",
        });
    }
    (0..count)
        .map(|_| Ok((d.string("symbol")?, d.fixed("quantity")?)))
        .collect()
}

/// An optional day: a presence flag, then the day as in [`decode_day`].
fn encode_option_day(e: &mut Encoder, day: Option<NaiveDate>) {
    match day {
        None => {
            e.bool(false);
        }
        Some(day) => {
            e.bool(true).i64(i64::from(day.num_days_from_ce()));
        }
    }
}

fn decode_option_day(d: &mut Decoder<'_>) -> Result<Option<NaiveDate>, DecodeError> {
    if d.bool("day present")? {
        decode_day(d).map(Some)
    } else {
        Ok(None)
    }
}
