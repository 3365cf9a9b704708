//! Every record's layout: round trips, earlier formats, and the borrowed encoders.

use super::*;
use crate::codec::Encoder;
use chrono::Datelike;

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
            account: None,
            commission_rate: f("0.0025"),
        },
        Record::ReserveSell {
            local: 8,
            client_id: "CUST0A19F".into(),
            symbol: "BRK.A".into(),
            quantity: f("1"),
            controls: None,
            account: Some("DWCR000001".into()),
            fee: f("3.5"),
            commission_rate: Fixed::ZERO,
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
        Record::Leader {
            node: "omnigate-b".into(),
        },
        Record::InDoubt {
            local: 9,
            note: Some(crate::ledger::InDoubtNote {
                client_order_id: Some("co-9".into()),
                created_at_ms: 1_795_530_600_123,
            }),
        },
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
            trade_day: Some("2026-11-19".parse().unwrap()),
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
            reason: Some("wire out".into()),
        },
        Record::SymbolChanged {
            old: "FB".into(),
            new: "META".into(),
        },
        Record::Rekey {
            old: "a".into(),
            new: "b".into(),
        },
        Record::OmniCash {
            amount: f("200"),
            payment_id: Some("pay-2".into()),
            reason: None,
            account: None,
        },
        Record::OmniCash {
            amount: f("-50"),
            payment_id: None,
            reason: Some("sweep to the bank".into()),
            account: Some("DWOM000002".into()),
        },
        Record::SettlementRolled {
            day: Some("2026-11-20".parse().unwrap()),
        },
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
fn borrowed_reservations_and_binds_are_their_records_bytes() {
    let samples = samples();
    let Record::ReserveBuy {
        local,
        client_id,
        symbol,
        per_share,
        quantity,
        amount_cash,
        fee,
        controls: Some(controls),
        account,
        commission_rate,
    } = &samples[0]
    else {
        panic!("the first sample is a BUY reservation with controls");
    };
    let buy = ReservationRecord::Buy {
        local: *local,
        client_id,
        symbol,
        per_share: *per_share,
        quantity: *quantity,
        amount_cash: *amount_cash,
        fee: *fee,
        controls: Some(controls),
        account: account.as_deref(),
        commission_rate: *commission_rate,
    };
    // The layout spelled out field by field, as the decoder reads it.
    let mut e = Encoder::new();
    e.u8(tag::RESERVE_BUY)
        .u64(7)
        .str("123456789")
        .str("AAPL")
        .option_fixed(*per_share)
        .option_fixed(*quantity)
        .option_fixed(None)
        .fixed(*fee)
        .bool(true)
        .i64(i64::from(controls.trading_day.num_days_from_ce()))
        .fixed(controls.buy_notional)
        .option_str(Some("co-1"))
        .i64(controls.at_unix_ns)
        .option_str(None)
        .fixed(*commission_rate);
    let expected = e.finish();
    assert_eq!(buy.encode(), expected);
    assert_eq!(samples[0].encode(), expected);

    let Record::ReserveSell {
        local,
        client_id,
        symbol,
        quantity,
        controls: None,
        account,
        fee,
        commission_rate,
    } = &samples[1]
    else {
        panic!("the second sample is a SELL reservation without controls");
    };
    let sell = ReservationRecord::Sell {
        local: *local,
        client_id,
        symbol,
        quantity: *quantity,
        controls: None,
        account: account.as_deref(),
        fee: *fee,
        commission_rate: *commission_rate,
    };
    assert_eq!(Record::decode(&sell.encode()).unwrap(), samples[1]);
    assert_eq!(sell.encode(), samples[1].encode());

    let bind = Record::Bind {
        local: 9,
        order_id: "KC.aa5e1c47-4c4a-4f3e-8c21-3e3a0bd6a6b1".into(),
    };
    let bytes = bind_record(9, "KC.aa5e1c47-4c4a-4f3e-8c21-3e3a0bd6a6b1");
    assert_eq!(Record::decode(&bytes).unwrap(), bind);
    assert_eq!(bytes, bind.encode());
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
