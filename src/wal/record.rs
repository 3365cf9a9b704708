//! What the log says: one [`Record`] per state change, in compact binary (see [`crate::codec`]).
//!
//! Records describe *effects*, not requests: a reservation is logged as the reservation it made,
//! and replay applies it without re-running the balance checks (the live path checked it, and
//! concurrent effects may reach the log in another order than they reached memory; all of them
//! commute). Each record's first byte is its tag; the tags are part of the on-disk format and
//! never change meaning.

use chrono::{Datelike, NaiveDate};

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::instruments::{AssetClass, InstrumentStatus};
use crate::ledger::OrderStatus;
use crate::limits::{IdempotencyRecord, KillSwitchSetting, LimitPatch, ShardIds};
use crate::money::Fixed;
use crate::rules::market_hours::Exchange;

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A BUY passed every rule and reserved its cost at the customer and the omni account.
    ReserveBuy {
        local: u64,
        client_id: String,
        symbol: String,
        per_share: Option<Fixed>,
        quantity: Option<Fixed>,
        amount_cash: Option<Fixed>,
        fee: Fixed,
        /// What the order added to the controls' memory (`None` in logs written before it was
        /// kept).
        controls: Option<OrderControls>,
    },
    /// A SELL passed every rule and holds `quantity` of the position.
    ReserveSell {
        local: u64,
        client_id: String,
        symbol: String,
        quantity: Fixed,
        controls: Option<OrderControls>,
    },
    /// An order that never traded gave back what it added to the controls' memory.
    ControlsReturned {
        client_id: String,
        controls: OrderControls,
    },
    /// The upstream took the order under `order_id`.
    Bind {
        local: u64,
        order_id: String,
    },
    /// The order never reached (or was refused by) the upstream: everything returns.
    Release {
        local: u64,
    },
    /// Sent without an answer.
    InDoubt {
        local: u64,
    },
    /// An operator settled an in-doubt order: placed under `order_id`, or not placed.
    Resolve {
        local: u64,
        order_id: Option<String>,
    },
    /// Upstream progress of an order (from a GET answer, an event or the poller).
    Update {
        order_id: String,
        status: OrderStatus,
        cumulative_quantity: Fixed,
        average_price: Fixed,
        fees: Option<Fixed>,
    },
    /// An accepted order DriveWealth will hold for the open (for the cancel cut-off).
    Queued {
        order_id: String,
        exchange: Exchange,
        open_unix_s: i64,
    },
    CustomerNew {
        client_id: String,
        customer_id: String,
        cash: Fixed,
        positions: Vec<(String, Fixed)>,
    },
    /// A registration that replaced an existing customer's cash and positions, as deltas.
    CustomerReplace {
        client_id: String,
        cash_delta: Fixed,
        position_deltas: Vec<(String, Fixed)>,
    },
    CustomerCash {
        client_id: String,
        amount: Fixed,
    },
    Rekey {
        old: String,
        new: String,
    },
    /// A customer frozen (with the risk officer's reason) or unfrozen.
    Freeze {
        client_id: String,
        frozen: bool,
        reason: String,
    },
    /// Omni funding; `payment_id` for a `deposits.updated` event (credited once per id).
    OmniDeposit {
        amount: Fixed,
        payment_id: Option<String>,
    },
    SettlementRolled,
    InstrumentUpsert(InstrumentEntry),
    InstrumentStatus {
        symbol: String,
        status: InstrumentStatus,
    },
    Price {
        symbol: String,
        price: Fixed,
    },
    /// The kill switch as set (replaces the previous setting whole).
    KillSwitch(KillSwitchSetting),
    /// A temporary limit override for one customer.
    LimitOverride {
        client_id: String,
        limits: LimitPatch,
        expires_at_unix_ns: i64,
    },
    /// The first answer to an `Idempotency-Key`, kept for repeats.
    Idempotent(IdempotencyRecord),
    /// Snapshots only: a customer's BUY notional for one trading day.
    DailyBuyTotal {
        client_id: String,
        trading_day: NaiveDate,
        total: Fixed,
    },
    /// Snapshots only: one shard of the remembered `clientOrderID`s.
    ClientOrderIds(ShardIds),
}

/// What an accepted order adds to the controls that must survive a restart (SPEC §10): the
/// customer's BUY total for the trading day and its used `clientOrderID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderControls {
    /// New York trading date the notional counts toward.
    pub trading_day: NaiveDate,
    /// Zero for a SELL.
    pub buy_notional: Fixed,
    pub client_order_id: Option<String>,
    /// When the order was decided (the `clientOrderID`'s age).
    pub at_unix_ns: i64,
}

/// An instrument master entry as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentEntry {
    pub symbol: String,
    pub instrument_id: String,
    pub isin: Option<String>,
    pub asset_class: AssetClass,
    pub exchange: Exchange,
    pub status: InstrumentStatus,
    pub fractionable: bool,
    pub price: Option<Fixed>,
    pub order_size_min: Option<Fixed>,
    pub order_size_max: Option<Fixed>,
    pub order_size_step: Option<Fixed>,
}

mod tag {
    /// Before the controls' memory was logged: read without it, never written.
    pub const RESERVE_BUY_V1: u8 = 1;
    pub const RESERVE_SELL_V1: u8 = 2;
    pub const BIND: u8 = 3;
    pub const RELEASE: u8 = 4;
    pub const IN_DOUBT: u8 = 5;
    pub const RESOLVE: u8 = 6;
    pub const UPDATE: u8 = 7;
    pub const QUEUED: u8 = 8;
    pub const RESERVE_BUY: u8 = 11;
    pub const RESERVE_SELL: u8 = 12;
    pub const CONTROLS_RETURNED: u8 = 13;
    pub const CUSTOMER_NEW: u8 = 20;
    pub const CUSTOMER_REPLACE: u8 = 21;
    pub const CUSTOMER_CASH: u8 = 22;
    pub const REKEY: u8 = 23;
    pub const FREEZE: u8 = 24;
    pub const OMNI_DEPOSIT: u8 = 30;
    pub const SETTLEMENT_ROLLED: u8 = 31;
    /// Before ISINs: read as an entry without one, never written.
    pub const INSTRUMENT_UPSERT_V1: u8 = 40;
    pub const INSTRUMENT_STATUS: u8 = 41;
    pub const PRICE: u8 = 42;
    pub const INSTRUMENT_UPSERT: u8 = 43;
    pub const KILL_SWITCH: u8 = 50;
    pub const LIMIT_OVERRIDE: u8 = 51;
    pub const IDEMPOTENT: u8 = 52;
    pub const DAILY_BUY_TOTAL: u8 = 53;
    pub const CLIENT_ORDER_IDS: u8 = 54;
}

impl Record {
    /// The record's kind, for `omnigate wal dump` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::ReserveBuy { .. } => "reserve_buy",
            Record::ReserveSell { .. } => "reserve_sell",
            Record::Bind { .. } => "bind",
            Record::Release { .. } => "release",
            Record::InDoubt { .. } => "in_doubt",
            Record::Resolve { .. } => "resolve",
            Record::Update { .. } => "update",
            Record::Queued { .. } => "queued",
            Record::CustomerNew { .. } => "customer_new",
            Record::CustomerReplace { .. } => "customer_replace",
            Record::CustomerCash { .. } => "customer_cash",
            Record::Rekey { .. } => "rekey",
            Record::Freeze { .. } => "freeze",
            Record::ControlsReturned { .. } => "controls_returned",
            Record::DailyBuyTotal { .. } => "daily_buy_total",
            Record::ClientOrderIds(_) => "client_order_ids",
            Record::OmniDeposit { .. } => "omni_deposit",
            Record::SettlementRolled => "settlement_rolled",
            Record::InstrumentUpsert(_) => "instrument_upsert",
            Record::InstrumentStatus { .. } => "instrument_status",
            Record::Price { .. } => "price",
            Record::KillSwitch(_) => "kill_switch",
            Record::LimitOverride { .. } => "limit_override",
            Record::Idempotent(_) => "idempotent",
        }
    }

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
            } => {
                e.u8(tag::RESERVE_BUY)
                    .u64(*local)
                    .str(client_id)
                    .str(symbol)
                    .option_fixed(*per_share)
                    .option_fixed(*quantity)
                    .option_fixed(*amount_cash)
                    .fixed(*fee);
                encode_option_controls(&mut e, controls.as_ref());
            }
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
            } => {
                e.u8(tag::RESERVE_SELL)
                    .u64(*local)
                    .str(client_id)
                    .str(symbol)
                    .fixed(*quantity);
                encode_option_controls(&mut e, controls.as_ref());
            }
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
            Record::Bind { local, order_id } => {
                e.u8(tag::BIND).u64(*local).str(order_id);
            }
            Record::Release { local } => {
                e.u8(tag::RELEASE).u64(*local);
            }
            Record::InDoubt { local } => {
                e.u8(tag::IN_DOUBT).u64(*local);
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
            } => {
                e.u8(tag::UPDATE)
                    .str(order_id)
                    .u8(status_code(*status))
                    .fixed(*cumulative_quantity)
                    .fixed(*average_price)
                    .option_fixed(*fees);
            }
            Record::Queued {
                order_id,
                exchange,
                open_unix_s,
            } => {
                e.u8(tag::QUEUED)
                    .str(order_id)
                    .u8(exchange_code(*exchange))
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
            Record::CustomerCash { client_id, amount } => {
                e.u8(tag::CUSTOMER_CASH).str(client_id).fixed(*amount);
            }
            Record::Rekey { old, new } => {
                e.u8(tag::REKEY).str(old).str(new);
            }
            Record::OmniDeposit { amount, payment_id } => {
                e.u8(tag::OMNI_DEPOSIT)
                    .fixed(*amount)
                    .option_str(payment_id.as_deref());
            }
            Record::SettlementRolled => {
                e.u8(tag::SETTLEMENT_ROLLED);
            }
            Record::InstrumentUpsert(entry) => {
                e.u8(tag::INSTRUMENT_UPSERT)
                    .str(&entry.symbol)
                    .str(&entry.instrument_id)
                    .option_str(entry.isin.as_deref())
                    .u8(asset_class_code(entry.asset_class))
                    .u8(exchange_code(entry.exchange))
                    .u8(entry.status as u8)
                    .bool(entry.fractionable)
                    .option_fixed(entry.price)
                    .option_fixed(entry.order_size_min)
                    .option_fixed(entry.order_size_max)
                    .option_fixed(entry.order_size_step);
            }
            Record::InstrumentStatus { symbol, status } => {
                e.u8(tag::INSTRUMENT_STATUS).str(symbol).u8(*status as u8);
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
                e.u8(tag::LIMIT_OVERRIDE)
                    .str(client_id)
                    .option_fixed(limits.max_order_notional)
                    .option_fixed(limits.max_order_quantity)
                    .option_u64(limits.max_open_orders.map(u64::from))
                    .option_fixed(limits.daily_buy_notional)
                    .option_fixed(limits.orders_per_second)
                    .option_u64(limits.burst.map(u64::from))
                    .option_fixed(limits.price_band_pct)
                    .option_fixed(limits.market_buffer_pct)
                    .option_u64(limits.duplicate_window_ms)
                    .i64(*expires_at_unix_ns);
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
            tag @ (tag::RESERVE_BUY_V1 | tag::RESERVE_BUY) => Record::ReserveBuy {
                local: d.u64("local id")?,
                client_id: d.string("clientID")?,
                symbol: d.string("symbol")?,
                per_share: d.option_fixed("per-share price")?,
                quantity: d.option_fixed("quantity")?,
                amount_cash: d.option_fixed("amountCash")?,
                fee: d.fixed("fee")?,
                controls: if tag == tag::RESERVE_BUY {
                    decode_option_controls(&mut d)?
                } else {
                    None
                },
            },
            tag @ (tag::RESERVE_SELL_V1 | tag::RESERVE_SELL) => Record::ReserveSell {
                local: d.u64("local id")?,
                client_id: d.string("clientID")?,
                symbol: d.string("symbol")?,
                quantity: d.fixed("quantity")?,
                controls: if tag == tag::RESERVE_SELL {
                    decode_option_controls(&mut d)?
                } else {
                    None
                },
            },
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
            tag::IN_DOUBT => Record::InDoubt {
                local: d.u64("local id")?,
            },
            tag::RESOLVE => Record::Resolve {
                local: d.u64("local id")?,
                order_id: d.option_string("orderId")?,
            },
            tag::UPDATE => Record::Update {
                order_id: d.string("orderId")?,
                status: status_from(&mut d)?,
                cumulative_quantity: d.fixed("cumulativeQuantity")?,
                average_price: d.fixed("averagePrice")?,
                fees: d.option_fixed("fees")?,
            },
            tag::QUEUED => Record::Queued {
                order_id: d.string("orderId")?,
                exchange: exchange_from(&mut d)?,
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
            tag::CUSTOMER_CASH => Record::CustomerCash {
                client_id: d.string("clientID")?,
                amount: d.fixed("amount")?,
            },
            tag::REKEY => Record::Rekey {
                old: d.string("old clientID")?,
                new: d.string("new clientID")?,
            },
            tag::OMNI_DEPOSIT => Record::OmniDeposit {
                amount: d.fixed("amount")?,
                payment_id: d.option_string("paymentID")?,
            },
            tag::SETTLEMENT_ROLLED => Record::SettlementRolled,
            tag @ (tag::INSTRUMENT_UPSERT_V1 | tag::INSTRUMENT_UPSERT) => {
                Record::InstrumentUpsert(InstrumentEntry {
                    symbol: d.string("symbol")?,
                    instrument_id: d.string("instrumentID")?,
                    isin: if tag == tag::INSTRUMENT_UPSERT {
                        d.option_string("ISIN")?
                    } else {
                        None
                    },
                    asset_class: asset_class_from(&mut d)?,
                    exchange: exchange_from(&mut d)?,
                    status: instrument_status_from(&mut d)?,
                    fractionable: d.bool("fractionable")?,
                    price: d.option_fixed("price")?,
                    order_size_min: d.option_fixed("orderSizeMin")?,
                    order_size_max: d.option_fixed("orderSizeMax")?,
                    order_size_step: d.option_fixed("orderSizeStep")?,
                })
            }
            tag::INSTRUMENT_STATUS => Record::InstrumentStatus {
                symbol: d.string("symbol")?,
                status: instrument_status_from(&mut d)?,
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
                limits: LimitPatch {
                    max_order_notional: d.option_fixed("max_order_notional")?,
                    max_order_quantity: d.option_fixed("max_order_quantity")?,
                    max_open_orders: option_u32(&mut d, "max_open_orders")?,
                    daily_buy_notional: d.option_fixed("daily_buy_notional")?,
                    orders_per_second: d.option_fixed("orders_per_second")?,
                    burst: option_u32(&mut d, "burst")?,
                    price_band_pct: d.option_fixed("price_band_pct")?,
                    market_buffer_pct: d.option_fixed("market_buffer_pct")?,
                    duplicate_window_ms: d.option_u64("duplicate_window_ms")?,
                },
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

    /// A JSON view for `omnigate wal dump`.
    pub fn to_json(&self) -> serde_json::Value {
        let fixed = |value: &Fixed| value.to_string();
        let option = |value: &Option<Fixed>| value.as_ref().map(fixed);
        let pairs = |pairs: &[(String, Fixed)]| {
            pairs
                .iter()
                .map(|(symbol, quantity)| {
                    (symbol.clone(), serde_json::Value::from(fixed(quantity)))
                })
                .collect::<serde_json::Map<_, _>>()
        };
        let body = match self {
            Record::ReserveBuy {
                local,
                client_id,
                symbol,
                per_share,
                quantity,
                amount_cash,
                fee,
                controls,
            } => serde_json::json!({"local": local, "clientID": client_id, "symbol": symbol,
                "perShare": option(per_share), "quantity": option(quantity),
                "amountCash": option(amount_cash), "fee": fixed(fee),
                "controls": controls.as_ref().map(controls_json)}),
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
            } => serde_json::json!({"local": local, "clientID": client_id, "symbol": symbol,
                "quantity": fixed(quantity), "controls": controls.as_ref().map(controls_json)}),
            Record::ControlsReturned {
                client_id,
                controls,
            } => serde_json::json!({"clientID": client_id, "controls": controls_json(controls)}),
            Record::Freeze {
                client_id,
                frozen,
                reason,
            } => serde_json::json!({"clientID": client_id, "frozen": frozen, "reason": reason}),
            Record::DailyBuyTotal {
                client_id,
                trading_day,
                total,
            } => serde_json::json!({"clientID": client_id, "tradingDay": trading_day.to_string(),
                "total": fixed(total)}),
            Record::ClientOrderIds(shard) => {
                serde_json::json!({"shard": shard.shard, "ids": shard.ids.len()})
            }
            Record::Bind { local, order_id } => {
                serde_json::json!({"local": local, "orderId": order_id})
            }
            Record::Release { local } | Record::InDoubt { local } => {
                serde_json::json!({"local": local})
            }
            Record::Resolve { local, order_id } => {
                serde_json::json!({"local": local, "orderId": order_id})
            }
            Record::Update {
                order_id,
                status,
                cumulative_quantity,
                average_price,
                fees,
            } => serde_json::json!({"orderId": order_id, "status": status,
                "cumulativeQuantity": fixed(cumulative_quantity),
                "averagePrice": fixed(average_price), "fees": option(fees)}),
            Record::Queued {
                order_id,
                exchange,
                open_unix_s,
            } => serde_json::json!({"orderId": order_id, "exchange": exchange.as_str(),
                "openUnixS": open_unix_s}),
            Record::CustomerNew {
                client_id,
                customer_id,
                cash,
                positions,
            } => serde_json::json!({"clientID": client_id, "customerId": customer_id,
                "cash": fixed(cash), "positions": pairs(positions)}),
            Record::CustomerReplace {
                client_id,
                cash_delta,
                position_deltas,
            } => serde_json::json!({"clientID": client_id, "cashDelta": fixed(cash_delta),
                "positionDeltas": pairs(position_deltas)}),
            Record::CustomerCash { client_id, amount } => {
                serde_json::json!({"clientID": client_id, "amount": fixed(amount)})
            }
            Record::Rekey { old, new } => serde_json::json!({"old": old, "new": new}),
            Record::OmniDeposit { amount, payment_id } => {
                serde_json::json!({"amount": fixed(amount), "paymentID": payment_id})
            }
            Record::SettlementRolled => serde_json::json!({}),
            Record::InstrumentUpsert(entry) => serde_json::json!({"symbol": entry.symbol,
                "instrumentID": entry.instrument_id, "ISIN": entry.isin, "exchange": entry.exchange.as_str(),
                "status": entry.status.as_str(), "fractionable": entry.fractionable,
                "price": option(&entry.price)}),
            Record::InstrumentStatus { symbol, status } => {
                serde_json::json!({"symbol": symbol, "status": status.as_str()})
            }
            Record::Price { symbol, price } => {
                serde_json::json!({"symbol": symbol, "price": fixed(price)})
            }
            Record::KillSwitch(setting) => serde_json::json!(setting),
            Record::LimitOverride {
                client_id,
                expires_at_unix_ns,
                ..
            } => serde_json::json!({"clientID": client_id, "expiresAtUnixNs": expires_at_unix_ns}),
            Record::Idempotent(record) => serde_json::json!({"key": record.key,
                "status": record.status, "createdAt": record.created_at}),
        };
        serde_json::json!({"type": self.kind(), "record": body})
    }
}

/// `clientOrderID` digests per snapshot record: a shard's capacity, with room to spare.
const IDS_PER_RECORD_MAX: u32 = 1_000_000;

fn controls_json(controls: &OrderControls) -> serde_json::Value {
    serde_json::json!({"tradingDay": controls.trading_day.to_string(),
        "buyNotional": controls.buy_notional.to_string(),
        "clientOrderID": controls.client_order_id, "atUnixNs": controls.at_unix_ns})
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

/// Enum ↔ byte tables: a value's code is its index, so each table's order is on-disk format.
const STATUSES: [OrderStatus; 7] = [
    OrderStatus::New,
    OrderStatus::Pending,
    OrderStatus::PartialFill,
    OrderStatus::Filled,
    OrderStatus::Canceled,
    OrderStatus::Rejected,
    OrderStatus::PendingCancel,
];
const ASSET_CLASSES: [AssetClass; 4] = [
    AssetClass::Equity,
    AssetClass::Etf,
    AssetClass::Crypto,
    AssetClass::MutualFund,
];

fn code_in<T: PartialEq>(table: &[T], value: &T) -> u8 {
    table.iter().position(|entry| entry == value).unwrap_or(0) as u8
}

fn read_code<T: Copy>(
    d: &mut Decoder<'_>,
    table: &[T],
    what: &'static str,
) -> Result<T, DecodeError> {
    let code = d.u8(what)?;
    table.get(code as usize).copied().ok_or(DecodeError {
        what,
        offset: 0,
        problem: "unknown code",
    })
}

fn status_code(status: OrderStatus) -> u8 {
    code_in(&STATUSES, &status)
}

fn status_from(d: &mut Decoder<'_>) -> Result<OrderStatus, DecodeError> {
    read_code(d, &STATUSES, "order status")
}

fn exchange_code(exchange: Exchange) -> u8 {
    code_in(&Exchange::ALL, &exchange)
}

fn exchange_from(d: &mut Decoder<'_>) -> Result<Exchange, DecodeError> {
    read_code(d, &Exchange::ALL, "exchange")
}

fn asset_class_code(class: AssetClass) -> u8 {
    code_in(&ASSET_CLASSES, &class)
}

fn asset_class_from(d: &mut Decoder<'_>) -> Result<AssetClass, DecodeError> {
    read_code(d, &ASSET_CLASSES, "asset class")
}

/// Indexed by `InstrumentStatus as u8`.
const INSTRUMENT_STATUSES: [InstrumentStatus; 4] = [
    InstrumentStatus::Active,
    InstrumentStatus::Inactive,
    InstrumentStatus::CloseOnly,
    InstrumentStatus::Halted,
];

fn instrument_status_from(d: &mut Decoder<'_>) -> Result<InstrumentStatus, DecodeError> {
    read_code(d, &INSTRUMENT_STATUSES, "instrument status")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Record> {
        let f = |text: &str| Fixed::parse(text).unwrap();
        vec![
            Record::ReserveBuy {
                local: 7,
                client_id: "123456789".into(),
                symbol: "AAPL".into(),
                per_share: Some(f("190.25")),
                quantity: Some(f("5.12580012")),
                amount_cash: None,
                fee: f("0.5"),
                controls: Some(OrderControls {
                    trading_day: "2026-06-04".parse().unwrap(),
                    buy_notional: f("975.66"),
                    client_order_id: Some("co-1".into()),
                    at_unix_ns: 1_780_581_600_000_000_000,
                }),
            },
            Record::ReserveSell {
                local: 8,
                client_id: "CUST0A19F".into(),
                symbol: "BRK.A".into(),
                quantity: f("1"),
                controls: None,
            },
            Record::ControlsReturned {
                client_id: "123456789".into(),
                controls: OrderControls {
                    trading_day: "2026-06-04".parse().unwrap(),
                    buy_notional: f("975.66"),
                    client_order_id: None,
                    at_unix_ns: 0,
                },
            },
            Record::Freeze {
                client_id: "c".into(),
                frozen: true,
                reason: "KYC review".into(),
            },
            Record::DailyBuyTotal {
                client_id: "c".into(),
                trading_day: "2026-06-04".parse().unwrap(),
                total: f("100"),
            },
            Record::ClientOrderIds(ShardIds {
                shard: 63,
                ids: vec![(u128::MAX - 5, 17), (3, -1)],
            }),
            Record::Bind {
                local: 7,
                order_id: "GB.70359e38".into(),
            },
            Record::Release { local: 8 },
            Record::InDoubt { local: 9 },
            Record::Resolve {
                local: 9,
                order_id: None,
            },
            Record::Update {
                order_id: "GB.70359e38".into(),
                status: OrderStatus::PartialFill,
                cumulative_quantity: f("5"),
                average_price: f("155"),
                fees: Some(f("1")),
            },
            Record::Queued {
                order_id: "GB.1".into(),
                exchange: Exchange::Arca,
                open_unix_s: 1_795_530_600,
            },
            Record::CustomerNew {
                client_id: "c".into(),
                customer_id: "k".into(),
                cash: f("100"),
                positions: vec![("AAPL".into(), f("0.5"))],
            },
            Record::CustomerReplace {
                client_id: "c".into(),
                cash_delta: f("-3"),
                position_deltas: vec![],
            },
            Record::CustomerCash {
                client_id: "c".into(),
                amount: f("-1.25"),
            },
            Record::Rekey {
                old: "a".into(),
                new: "b".into(),
            },
            Record::OmniDeposit {
                amount: f("200"),
                payment_id: Some("pay-2".into()),
            },
            Record::SettlementRolled,
            Record::InstrumentUpsert(InstrumentEntry {
                symbol: "BTC".into(),
                instrument_id: "id".into(),
                isin: Some("US0378331005".into()),
                asset_class: AssetClass::Crypto,
                exchange: Exchange::Crypto,
                status: InstrumentStatus::Halted,
                fractionable: true,
                price: Some(f("65000")),
                order_size_min: None,
                order_size_max: Some(f("10")),
                order_size_step: None,
            }),
            Record::InstrumentStatus {
                symbol: "AAPL".into(),
                status: InstrumentStatus::CloseOnly,
            },
            Record::Price {
                symbol: "AAPL".into(),
                price: f("191"),
            },
            Record::KillSwitch(KillSwitchSetting {
                global: false,
                client_ids: vec!["123456789".into()],
                symbols: vec!["AAPL".into(), "SPY".into()],
                cancel_open: true,
            }),
            Record::LimitOverride {
                client_id: "123456789".into(),
                limits: LimitPatch {
                    max_order_quantity: Some(f("20")),
                    burst: Some(100),
                    duplicate_window_ms: Some(0),
                    ..LimitPatch::default()
                },
                expires_at_unix_ns: 1_795_550_000,
            },
            Record::Idempotent(IdempotencyRecord {
                key: "order-7f3a".into(),
                body_digest: [7; 16],
                created_at: chrono::DateTime::from_timestamp_micros(1_795_550_000_123_456).unwrap(),
                status: 200,
                headers: vec![("content-type".into(), b"application/json".to_vec())],
                body: br#"{"orderId":"X"}"#.to_vec(),
            }),
        ]
    }

    #[test]
    fn every_record_round_trips() {
        for record in samples() {
            let bytes = record.encode();
            assert_eq!(Record::decode(&bytes).unwrap(), record, "{}", record.kind());
            assert_eq!(record.to_json()["type"], record.kind());
        }
    }

    #[test]
    fn truncated_or_unknown_records_are_errors() {
        for record in samples() {
            let bytes = record.encode();
            for cut in 0..bytes.len() {
                assert!(Record::decode(&bytes[..cut]).is_err(), "{}", record.kind());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Record::decode(&longer).is_err());
        }
        assert!(Record::decode(&[250]).is_err());
    }

    #[test]
    fn a_reservation_is_compact() {
        let bytes = samples()[0].encode();
        assert!(bytes.len() < 120, "{} bytes", bytes.len());
    }

    #[test]
    fn records_of_earlier_formats_still_read() {
        // Tag 1 (a BUY reservation before the controls were logged), as an earlier version
        // wrote it.
        let mut e = Encoder::new();
        e.u8(tag::RESERVE_BUY_V1)
            .u64(7)
            .str("c")
            .str("AAPL")
            .option_fixed(None)
            .option_fixed(Some(Fixed::ONE))
            .option_fixed(None)
            .fixed(Fixed::ZERO);
        match Record::decode(&e.finish()).unwrap() {
            Record::ReserveBuy {
                local, controls, ..
            } => assert_eq!((local, controls), (7, None)),
            other => panic!("{other:?}"),
        }
        // Tag 40 (an instrument without an ISIN).
        let mut e = Encoder::new();
        e.u8(tag::INSTRUMENT_UPSERT_V1)
            .str("AAPL")
            .str("id")
            .u8(0)
            .u8(0)
            .u8(0)
            .bool(true)
            .option_fixed(None)
            .option_fixed(None)
            .option_fixed(None)
            .option_fixed(None);
        match Record::decode(&e.finish()).unwrap() {
            Record::InstrumentUpsert(entry) => assert_eq!(entry.isin, None),
            other => panic!("{other:?}"),
        }
    }
}
