//! [`LedgerState`] as bytes (layout in the parent module's doc).

use super::*;
use chrono::Datelike;

use crate::codec::{DecodeError, Decoder, Encoder, WireCode};

/// Tags of the encoding. Never renumbered: a change bumps [`LEDGER_STATE_FORMAT`].
const FUNDING_PREFUNDED: u8 = 1;
const FUNDING_CASHLESS: u8 = 2;
const TERMS_BUY_QUANTITY: u8 = 1;
const TERMS_BUY_CASH: u8 = 2;
const TERMS_SELL: u8 = 3;
/// Most entries a decoder reserves room for up front: a corrupt count must not allocate GBs
/// before the input runs out.
const PREALLOCATE_MAX: usize = 1024;

impl LedgerState {
    /// Appends the state (layout in the module docs). Sorts as it goes, so the bytes depend only
    /// on the contents.
    pub fn encode(&self, encoder: &mut Encoder) {
        encoder.u8(LEDGER_STATE_FORMAT).u64(self.next_local_id);
        encode_day(encoder, self.last_roll);
        // In the ledger's order: orders and held proceeds refer to accounts by index.
        encoder.u32(count(self.accounts.len()));
        for omni in &self.accounts {
            encoder
                .option_str(omni.number.as_deref())
                .u8(match omni.funding {
                    FundingKind::Prefunded => FUNDING_PREFUNDED,
                    FundingKind::Cashless => FUNDING_CASHLESS,
                })
                .fixed(omni.cash)
                .fixed(omni.reserved)
                .fixed(omni.available)
                .fixed(omni.pending_settlement)
                .fixed(omni.unsettled_proceeds)
                .fixed(omni.credit_limit);
            encode_latest(encoder, omni.pending_latest);
        }

        let mut customers: Vec<&CustomerRecord> = self.customers.iter().collect();
        customers.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        encoder.u32(count(customers.len()));
        for customer in customers {
            encoder
                .str(&customer.client_id)
                .str(&customer.customer_id)
                .fixed(customer.cash)
                .fixed(customer.reserved);
            let mut unsettled = customer.unsettled.clone();
            unsettled.sort_by_key(|part| part.account);
            encoder.u32(count(unsettled.len()));
            for part in unsettled {
                encoder.u8(part.account.0).fixed(part.total);
                encode_latest(encoder, part.latest);
            }
            let mut positions: Vec<&PositionRecord> = customer.positions.iter().collect();
            positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            encoder.u32(count(positions.len()));
            for position in positions {
                encoder
                    .str(&position.symbol)
                    .fixed(position.quantity)
                    .fixed(position.pending_sell);
            }
            let mut open_orders = customer.open_orders.clone();
            open_orders.sort_unstable();
            encoder.u32(count(open_orders.len()));
            for local in open_orders {
                encoder.u64(local.0);
            }
        }

        let mut orders: Vec<&OrderRecord> = self.orders.iter().collect();
        orders.sort_by_key(|order| order.local_id);
        encoder.u32(count(orders.len()));
        for order in orders {
            encoder
                .u64(order.local_id.0)
                .u8(order.account.0)
                .str(&order.client_id)
                .str(&order.symbol);
            match order.terms {
                OrderTerms::BuyQuantity {
                    quantity,
                    per_share,
                } => encoder
                    .u8(TERMS_BUY_QUANTITY)
                    .fixed(quantity)
                    .fixed(per_share),
                OrderTerms::BuyCash { amount_cash } => {
                    encoder.u8(TERMS_BUY_CASH).fixed(amount_cash)
                }
                OrderTerms::Sell { quantity } => encoder.u8(TERMS_SELL).fixed(quantity),
            };
            // 0 is no status yet; a status is its code + 1 (the codes of `OrderStatus`).
            let status = order.status.map_or(0, |status| status.code() + 1);
            encoder
                .fixed(order.fee)
                .fixed(order.commission_rate)
                .bool(order.in_doubt)
                .option_str(order.upstream_order_id.as_deref())
                .fixed(order.filled_quantity)
                .fixed(order.filled_amount)
                .fixed(order.reserved)
                .u8(status);
            match &order.note {
                None => {
                    encoder.bool(false);
                }
                Some(note) => {
                    encoder
                        .bool(true)
                        .option_str(note.client_order_id.as_deref())
                        .i64(note.created_at_ms);
                }
            }
        }
    }

    /// Reads a state back. Checks the encoding only (tags, lengths, UTF-8); whether the state
    /// makes sense is [`Ledger::import_state`]'s to decide. Does not require the input to end
    /// here: a snapshot file may carry more after it.
    pub fn decode(decoder: &mut Decoder<'_>) -> Result<LedgerState, DecodeError> {
        let format = decoder.u8("ledger state format")?;
        if format != LEDGER_STATE_FORMAT && format != 1 {
            return Err(decoder.error("ledger state format", "unknown version"));
        }
        // Format 1 kept no trade days: everything pending settles at the next roll.
        let dated = format >= 2;
        let next_local_id = decoder.u64("next local id")?;
        let (last_roll, account_count) = if dated {
            let last_roll = decode_day(decoder, "last settlement roll")?;
            (last_roll, count_of(decoder, "account count")?)
        } else {
            (None, 1)
        };
        let mut accounts = Vec::with_capacity(account_count.min(PREALLOCATE_MAX));
        for _ in 0..account_count {
            let number = if dated {
                decoder.option_string("omni account number")?
            } else {
                None
            };
            let funding = match decoder.u8("omni funding kind")? {
                FUNDING_PREFUNDED => FundingKind::Prefunded,
                FUNDING_CASHLESS => FundingKind::Cashless,
                _ => return Err(decoder.error("omni funding kind", "unknown tag")),
            };
            accounts.push(OmniState {
                number,
                funding,
                cash: decoder.fixed("omni cash")?,
                reserved: decoder.fixed("omni reserved")?,
                available: decoder.fixed("omni available")?,
                pending_settlement: decoder.fixed("omni pending settlement")?,
                unsettled_proceeds: decoder.fixed("omni unsettled proceeds")?,
                credit_limit: decoder.fixed("omni credit limit")?,
                pending_latest: if dated {
                    decode_latest(decoder, "omni pending")?
                } else {
                    LatestDay::default()
                },
            });
        }

        let customer_count = count_of(decoder, "customer count")?;
        let mut customers = Vec::with_capacity(customer_count.min(PREALLOCATE_MAX));
        for _ in 0..customer_count {
            let client_id = decoder.string("customer clientID")?;
            let customer_id = decoder.string("customer customerId")?;
            let cash = decoder.fixed("customer cash")?;
            let reserved = decoder.fixed("customer reserved")?;
            let unsettled = if dated {
                let parts = count_of(decoder, "held proceeds count")?;
                let mut unsettled = Vec::with_capacity(parts.min(PREALLOCATE_MAX));
                for _ in 0..parts {
                    unsettled.push(Unsettled {
                        account: AccountIndex(decoder.u8("held proceeds account")?),
                        total: decoder.fixed("held proceeds")?,
                        latest: decode_latest(decoder, "held proceeds")?,
                    });
                }
                unsettled
            } else {
                // Format 1: one account, the whole amount due at the next roll.
                let total = decoder.fixed("customer unsettled proceeds")?;
                [Unsettled {
                    account: AccountIndex(0),
                    total,
                    latest: LatestDay::default(),
                }]
                .into_iter()
                .filter(|part| !part.total.is_zero())
                .collect()
            };
            let position_count = count_of(decoder, "position count")?;
            let mut positions = Vec::with_capacity(position_count.min(PREALLOCATE_MAX));
            for _ in 0..position_count {
                positions.push(PositionRecord {
                    symbol: decoder.string("position symbol")?,
                    quantity: decoder.fixed("position quantity")?,
                    pending_sell: decoder.fixed("position pending sell")?,
                });
            }
            let open_count = count_of(decoder, "open order count")?;
            let mut open_orders = Vec::with_capacity(open_count.min(PREALLOCATE_MAX));
            for _ in 0..open_count {
                open_orders.push(LocalOrderId(decoder.u64("open order id")?));
            }
            customers.push(CustomerRecord {
                client_id,
                customer_id,
                cash,
                reserved,
                unsettled,
                positions,
                open_orders,
            });
        }

        let order_count = count_of(decoder, "order count")?;
        let mut orders = Vec::with_capacity(order_count.min(PREALLOCATE_MAX));
        for _ in 0..order_count {
            let local_id = LocalOrderId(decoder.u64("order local id")?);
            let account = if dated {
                AccountIndex(decoder.u8("order account")?)
            } else {
                AccountIndex(0)
            };
            let client_id = decoder.string("order clientID")?;
            let symbol = decoder.string("order symbol")?;
            let terms = match decoder.u8("order terms")? {
                TERMS_BUY_QUANTITY => OrderTerms::BuyQuantity {
                    quantity: decoder.fixed("order quantity")?,
                    per_share: decoder.fixed("order price per share")?,
                },
                TERMS_BUY_CASH => OrderTerms::BuyCash {
                    amount_cash: decoder.fixed("order amount cash")?,
                },
                TERMS_SELL => OrderTerms::Sell {
                    quantity: decoder.fixed("order quantity")?,
                },
                _ => return Err(decoder.error("order terms", "unknown tag")),
            };
            let fee = decoder.fixed("order fee")?;
            let commission_rate = if dated {
                decoder.fixed("order commission rate")?
            } else {
                Fixed::ZERO
            };
            let in_doubt = decoder.bool("order in doubt")?;
            let upstream_order_id = decoder.option_string("order upstream id")?;
            let filled_quantity = decoder.fixed("order filled quantity")?;
            let filled_amount = decoder.fixed("order filled amount")?;
            let reserved = decoder.fixed("order reserved")?;
            // 0 is no status yet; a status is its code + 1.
            let status = match decoder.u8("order status")? {
                0 => None,
                code => Some(
                    OrderStatus::from_code(code - 1)
                        .ok_or_else(|| decoder.error("order status", "unknown tag"))?,
                ),
            };
            let note = if dated && decoder.bool("order note present")? {
                Some(InDoubtNote {
                    client_order_id: decoder.option_string("order clientOrderID")?,
                    created_at_ms: decoder.i64("order sent at")?,
                })
            } else {
                None
            };
            orders.push(OrderRecord {
                note,
                local_id,
                account,
                client_id,
                symbol,
                terms,
                fee,
                commission_rate,
                in_doubt,
                upstream_order_id,
                filled_quantity,
                filled_amount,
                reserved,
                status,
            });
        }
        Ok(LedgerState {
            next_local_id,
            accounts,
            last_roll,
            customers,
            orders,
        })
    }
}

/// Vector lengths are written as `u32`; the ledger never holds four billion of anything.
fn count(length: usize) -> u32 {
    u32::try_from(length).unwrap_or(u32::MAX)
}

fn count_of(decoder: &mut Decoder<'_>, what: &'static str) -> Result<usize, DecodeError> {
    decoder.u32(what).map(|count| count as usize)
}

/// A day as days since 1 January of year 1 (CE), 0 for none.
fn encode_day(encoder: &mut Encoder, day: Option<NaiveDate>) {
    encoder.i64(day.map_or(0, |day| i64::from(day.num_days_from_ce())));
}

fn decode_day(
    decoder: &mut Decoder<'_>,
    what: &'static str,
) -> Result<Option<NaiveDate>, DecodeError> {
    match decoder.i64(what)? {
        0 => Ok(None),
        days => i32::try_from(days)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .map(Some)
            .ok_or_else(|| decoder.error(what, "day out of range")),
    }
}

fn encode_latest(encoder: &mut Encoder, latest: LatestDay) {
    encode_day(encoder, latest.day);
    encoder.fixed(latest.amount);
}

fn decode_latest(decoder: &mut Decoder<'_>, what: &'static str) -> Result<LatestDay, DecodeError> {
    let day = decode_day(decoder, what)?;
    let amount = decoder.fixed(what)?;
    if day.is_none() && !amount.is_zero() {
        return Err(decoder.error(what, "an amount without its trade day"));
    }
    Ok(LatestDay { day, amount })
}
