//! [`Record`]s as JSON, for `omnigate wal dump`.

use super::{OrderControls, Record};
use crate::money::Fixed;

impl Record {
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
                account,
                commission_rate,
            } => serde_json::json!({"local": local, "clientID": client_id, "symbol": symbol,
                "perShare": option(per_share), "quantity": option(quantity),
                "amountCash": option(amount_cash), "fee": fixed(fee),
                "commissionRate": fixed(commission_rate),
                "controls": controls.as_ref().map(controls_json), "account": account}),
            Record::ReserveSell {
                local,
                client_id,
                symbol,
                quantity,
                controls,
                account,
                fee,
                commission_rate,
            } => serde_json::json!({"local": local, "clientID": client_id, "symbol": symbol,
                "quantity": fixed(quantity), "controls": controls.as_ref().map(controls_json),
                "account": account, "fee": fixed(fee), "commissionRate": fixed(commission_rate)}),
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
            Record::Leader { node } => serde_json::json!({"node": node}),
            Record::Bind { local, order_id } => {
                serde_json::json!({"local": local, "orderId": order_id})
            }
            Record::Release { local } => serde_json::json!({"local": local}),
            Record::InDoubt { local, note } => serde_json::json!({"local": local,
                "clientOrderID": note.as_ref().and_then(|note| note.client_order_id.clone()),
                "sentAtMs": note.as_ref().map(|note| note.created_at_ms)}),
            Record::Resolve { local, order_id } => {
                serde_json::json!({"local": local, "orderId": order_id})
            }
            Record::Update {
                order_id,
                status,
                cumulative_quantity,
                average_price,
                fees,
                trade_day,
            } => serde_json::json!({"orderId": order_id, "status": status,
                "cumulativeQuantity": fixed(cumulative_quantity),
                "averagePrice": fixed(average_price), "fees": option(fees),
                "tradeDay": trade_day}),
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
            Record::CustomerCash {
                client_id,
                amount,
                reason,
            } => serde_json::json!({"clientID": client_id, "amount": fixed(amount),
                "reason": reason}),
            Record::Rekey { old, new } | Record::SymbolChanged { old, new } => {
                serde_json::json!({"old": old, "new": new})
            }
            Record::OmniCash {
                amount,
                payment_id,
                reason,
                account,
            } => serde_json::json!({"amount": fixed(amount), "paymentID": payment_id,
                "reason": reason, "account": account}),
            Record::SettlementRolled { day } => serde_json::json!({"day": day}),
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

fn controls_json(controls: &OrderControls) -> serde_json::Value {
    serde_json::json!({"tradingDay": controls.trading_day.to_string(),
        "buyNotional": controls.buy_notional.to_string(),
        "clientOrderID": controls.client_order_id, "atUnixNs": controls.at_unix_ns})
}
