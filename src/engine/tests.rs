//! The engine against a WAL whose disk fails: fail closed, lose nothing acknowledged.

use std::sync::Arc;

use super::*;
use crate::clock::FixedClock;
use crate::instruments::InstrumentSpec;
use crate::ledger::{LocalOrderId, OrderState, OrderUpdate, UpdateOutcome};
use crate::order::parse_order;
use crate::wal::{Fault, FaultPlan, FaultyStorage, Wal, WalOptions};

const ORDER: &[u8] = br#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":100,"clientID":"CUST0A19F"}"#;

fn config(dir: &std::path::Path) -> Config {
    let mut config =
        Config::parse("[omnibus]\naccount_numbers = [\"DWOM000001\"]\n", "test").unwrap();
    config.wal.dir = dir.to_path_buf();
    config
}

fn clock() -> Arc<dyn Clock> {
    // Thursday 2026-11-19, 11:00 ET.
    Arc::new(FixedClock::new("2026-11-19T16:00:00Z".parse().unwrap()))
}

fn book(engine: &Engine) {
    let spec: InstrumentSpec = serde_json::from_str(
        r#"{"instrumentID":"i-aapl","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"100"}"#,
    )
    .unwrap();
    let (_, durability) = engine.upsert_instrument("AAPL", spec).unwrap();
    durability.wait_blocking().unwrap();
    let customer: CustomerSpec =
        serde_json::from_str(r#"{"customerId":"c-2","cash":"1000"}"#).unwrap();
    engine
        .register_customer("CUST0A19F", customer)
        .unwrap()
        .wait_blocking()
        .unwrap();
    let (_, durability) = engine
        .omni_deposit(Fixed::from_int(10_000).unwrap())
        .unwrap();
    durability.wait_blocking().unwrap();
}

#[test]
fn an_fsync_failure_closes_the_door_and_loses_nothing_acknowledged() {
    for fault in [Fault::Io, Fault::NoSpace] {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("wal");
        let config = config(&dir);
        let plan = FaultPlan::new(fault);
        let (wal, recovered) = Wal::open_with_storage(
            &dir,
            WalOptions::default(),
            Arc::new(FaultyStorage::new(plan.clone())),
        )
        .unwrap();
        let mut engine = Engine::new(&config, clock());
        engine.attach_wal(wal, recovered.next_lsn, 1_000);
        book(&engine);

        // One order acknowledged durable, then the disk fails.
        let order = parse_order(ORDER).unwrap();
        let (first, durability) = engine.admit(&order).unwrap();
        durability.wait_blocking().unwrap();
        plan.fail_sync_after(0);
        plan.fail_write_after(0);
        let (second, durability) = engine.admit(&order).unwrap();
        assert!(durability.wait_blocking().is_err(), "{fault:?}");
        engine.abandon(&second);
        assert!(engine.storage_failed().is_some());
        // From now on: every new order is refused before anything is reserved.
        match engine.admit(&order) {
            Err(AdmitError::Storage(_)) => {}
            Err(AdmitError::Rejected(reject)) => panic!("expected a storage refusal: {reject}"),
            Ok(_) => panic!("admitted with a failed WAL"),
        }
        let view = engine.ledger.customer("CUST0A19F").unwrap();
        assert_eq!(
            view.reserved.to_string(),
            "200",
            "only the acknowledged order holds money"
        );
        drop(engine);

        // Recovery from the real disk: everything acknowledged is there.
        let opened = Engine::open(&config, clock(), false).unwrap();
        let view = opened.engine.ledger.customer("CUST0A19F").unwrap();
        assert_eq!(view.cash.to_string(), "1000");
        assert!(
            view.reserved.to_string() == "200" || view.reserved.to_string() == "400",
            "the acknowledged order is reserved (the failed one may be in doubt): {view:?}"
        );
        let in_doubt = opened
            .engine
            .ledger
            .orders(crate::ledger::OrderState::InDoubt);
        assert!(in_doubt.iter().any(|order| order.local_id == first.local));
        assert_eq!(opened.engine.ledger.omni().cash.to_string(), "10000");
        opened.engine.close();
    }
}

#[test]
fn max_open_orders_holds_under_concurrency() {
    let config = Config::parse(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n[limits.default]\nmax_open_orders = 3\n",
        "test",
    )
    .unwrap();
    let engine = Arc::new(Engine::new(&config, clock()));
    book(&engine);
    let barrier = Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|n| {
            let (engine, barrier) = (engine.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = format!(
                    r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":"{}","clientID":"CUST0A19F"}}"#,
                    10 + n
                );
                let order = parse_order(body.as_bytes()).unwrap();
                barrier.wait();
                match engine.admit(&order) {
                    Ok(_) => 1,
                    Err(AdmitError::Rejected(reject)) => {
                        assert_eq!(reject.code, crate::reject::RejectCode::LimitExceeded);
                        assert!(reject.message.contains("max_open_orders is 3"), "{}", reject.message);
                        0
                    }
                    Err(AdmitError::Storage(error)) => panic!("{error}"),
                }
            })
        })
        .collect();
    let admitted: usize = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .sum();
    assert_eq!(admitted, 3);
}

/// An order the upstream refused gives back its clientOrderID and its day's notional, and a
/// reopened engine (log replay, then a snapshot) agrees with the live one.
#[test]
fn an_upstream_refusal_gives_the_controls_back_across_a_restart() {
    let scratch = tempfile::tempdir().unwrap();
    let mut config = config(&scratch.path().join("wal"));
    config.limits.default.daily_buy_notional =
        Some(crate::config::Decimal(Fixed::from_int(500).unwrap()));
    let with_id = |id: &str, quantity: u32| {
        format!(
            r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":{quantity},"price":100,"clientID":"CUST0A19F","clientOrderID":"{id}"}}"#
        )
    };
    let admit = |engine: &Engine, body: &str| {
        let order = parse_order(body.as_bytes()).unwrap();
        engine.admit(&order).map(|(admitted, durability)| {
            durability.wait_blocking().unwrap();
            admitted
        })
    };
    let rejected = |engine: &Engine, body: &str| match admit(engine, body) {
        Err(AdmitError::Rejected(reject)) => reject.code,
        other => panic!("{body} was {other:?}"),
    };
    let today = crate::rules::market_hours::new_york_date(clock().now());
    {
        let engine = Engine::open(&config, clock(), false).unwrap().engine;
        book(&engine);
        let kept = admit(&engine, &with_id("kept", 2)).unwrap(); // 200 of 500
        drop(engine.bound(&kept, "GB.1"));
        let refused = admit(&engine, &with_id("refused", 2)).unwrap(); // 400
        engine.refused_upstream(&refused).wait_blocking().unwrap(); // back to 200
        assert_eq!(
            engine.daily_buys.total("CUST0A19F", today),
            Fixed::from_int(200).unwrap()
        );
        engine.close_without_snapshot();
    }
    for round in ["replayed from the log", "restored from a snapshot"] {
        let engine = Engine::open(&config, clock(), false).unwrap().engine;
        assert_eq!(
            engine.daily_buys.total("CUST0A19F", today),
            Fixed::from_int(200).unwrap(),
            "{round}"
        );
        assert_eq!(
            rejected(&engine, &with_id("kept", 1)),
            crate::reject::RejectCode::DuplicateOrder,
            "{round}"
        );
        assert_eq!(
            rejected(&engine, &with_id("new", 4)),
            crate::reject::RejectCode::LimitExceeded,
            "{round}"
        );
        // The refused order's id is free again, and 300 of the day still fits.
        let again = admit(&engine, &with_id("refused", 3)).unwrap();
        engine.refused_upstream(&again).wait_blocking().unwrap();
        engine.close(); // the second round reads this snapshot
    }
}

/// Snapshots taken while four threads keep deciding, binding, filling and refusing orders each
/// read one instant: each one's ledger imports (its books balance), and recovery (the last of
/// them, then the log after it) rebuilds exactly the live state — ledger, daily totals,
/// clientOrderIDs. A change leaking into a snapshot, or one missing from it, would count twice
/// or not at all.
#[test]
fn snapshots_taken_under_load_restore_exactly() {
    let scratch = tempfile::tempdir().unwrap();
    let mut config = config(&scratch.path().join("wal"));
    config.wal.fsync = crate::config::FsyncMode::Off;
    config.limits.default.daily_buy_notional = Some(crate::config::Decimal(
        Fixed::from_int(1_000_000_000).unwrap(),
    ));
    let engine = Arc::new(Engine::open(&config, clock(), false).unwrap().engine);
    book(&engine);
    for n in 0..4 {
        let customer: CustomerSpec = serde_json::from_str(&format!(
            r#"{{"customerId":"load-{n}","cash":"100000000","positions":{{"AAPL":"1000000"}}}}"#
        ))
        .unwrap();
        let client_id = format!("LOADC{n}X9");
        let durability = engine.register_customer(&client_id, customer).unwrap();
        durability.wait_blocking().unwrap();
    }
    let (_, durability) = engine
        .omni_deposit(Fixed::from_int(1_000_000_000).unwrap())
        .unwrap();
    durability.wait_blocking().unwrap();
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let (engine, running) = (engine.clone(), running.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                // Partly filled orders, oldest first: filled in full (and so closed) later, so
                // orders open when a snapshot began keep changing while it is read.
                let mut partly_filled = std::collections::VecDeque::new();
                let learn = |order_id: &str, status, quantity: u64| {
                    let update = crate::ledger::OrderUpdate {
                        status,
                        cumulative_quantity: Fixed::from_int(quantity as i64).unwrap(),
                        average_price: Fixed::from_int(99).unwrap(),
                        fees: None,
                    };
                    let (_, durability) = engine.learn(order_id, update);
                    durability.wait_blocking().unwrap();
                };
                while running.load(std::sync::atomic::Ordering::Relaxed) || i < 200 {
                    i += 1;
                    let side = if i % 5 == 0 { "SELL" } else { "BUY" };
                    let quantity = 2 + i % 3;
                    let body = format!(
                        r#"{{"accountNo":"DWOM000001","orderType":"LIMIT","side":"{side}","symbol":"AAPL","quantity":{quantity},"price":100,"clientID":"LOADC{n}X9","clientOrderID":"t{n}-{i}"}}"#
                    );
                    let order = parse_order(body.as_bytes()).unwrap();
                    let (admitted, durability) = engine.admit(&order).unwrap();
                    durability.wait_blocking().unwrap();
                    let order_id = format!("UP.{n}.{i}");
                    match i % 4 {
                        0 => engine.refused_upstream(&admitted).wait_blocking().unwrap(),
                        1 => engine.in_doubt(&admitted).wait_blocking().unwrap(),
                        _ => {
                            engine.bound(&admitted, &order_id).wait_blocking().unwrap();
                            learn(&order_id, crate::ledger::OrderStatus::PartialFill, 1);
                            partly_filled.push_back((order_id, quantity));
                        }
                    }
                    if partly_filled.len() > 100 {
                        let (order_id, quantity) = partly_filled.pop_front().unwrap();
                        learn(&order_id, crate::ledger::OrderStatus::Filled, quantity);
                    }
                }
            })
        })
        .collect();
    for round in 0..60 {
        if round % 2 == 0 {
            // Two snapshots asked for at once (a due one and shutdown's, say) take turns.
            std::thread::scope(|scope| {
                let other = scope.spawn(|| engine.snapshot_now().is_some());
                engine.check_snapshot_imports().unwrap();
                assert!(other.join().unwrap());
            });
        } else {
            engine.snapshot_now().unwrap();
        }
    }
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    let today = crate::rules::market_hours::new_york_date(clock().now());
    let live = (
        engine.ledger.export_state(),
        engine.daily_buys.export(today),
        engine.duplicates.export_ids(clock().now()),
    );
    assert!(live.0.orders.len() > 100, "orders stayed open");
    engine.close_without_snapshot();
    drop(engine);

    let reopened = Engine::open(&config, clock(), false).unwrap().engine;
    let recovered = (
        reopened.ledger.export_state(),
        reopened.daily_buys.export(today),
        reopened.duplicates.export_ids(clock().now()),
    );
    assert!(live == recovered, "recovery differs from the live state");
    reopened.close();
}

/// A snapshot is due after `wal.snapshot_every` records, or after as many records as the last
/// snapshot held entries when that is more: a large book is not rewritten every few seconds.
#[test]
fn a_large_book_waits_for_as_many_records_as_its_snapshot_held() {
    let scratch = tempfile::tempdir().unwrap();
    let mut config = config(&scratch.path().join("wal"));
    config.wal.snapshot_every = 10;
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    let register = |from: usize, count: usize| {
        for n in from..from + count {
            let customer: CustomerSpec =
                serde_json::from_str(&format!(r#"{{"customerId":"c-{n}","cash":"1"}}"#)).unwrap();
            let client_id = format!("BOOKC{n}X9");
            let durability = engine.register_customer(&client_id, customer).unwrap();
            durability.wait_blocking().unwrap();
        }
    };
    register(0, 60);
    let journal = engine.journal.clone().unwrap();
    assert!(journal.snapshot_due(), "60 records, none snapshotted");
    let report = engine.snapshot_now().unwrap();
    assert!(report.bytes > 0);
    register(60, 30);
    assert!(
        !journal.snapshot_due(),
        "30 records since a snapshot of 60 customers"
    );
    register(90, 31);
    assert!(
        journal.snapshot_due(),
        "61 records since a snapshot of 60 customers"
    );
    engine.close();
}

/// One upstream id, one open order (SPEC §6): an upstream that answers an id already bound to
/// another open order (a simulator restarted without its state) gets the second order held in
/// doubt, reservation kept, not bound; after a restart the books are the same.
#[test]
fn an_upstream_id_already_bound_holds_the_second_order_in_doubt() {
    let scratch = tempfile::tempdir().unwrap();
    let config = config(&scratch.path().join("wal"));
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    book(&engine);
    let admit = |engine: &Engine| {
        let order = parse_order(ORDER).unwrap();
        let (admitted, durability) = engine.admit(&order).unwrap();
        durability.wait_blocking().unwrap();
        admitted
    };
    let first = admit(&engine);
    engine.bound(&first, "GB.same").wait_blocking().unwrap();
    let second = admit(&engine);
    engine.bound(&second, "GB.same").wait_blocking().unwrap();
    let state = |engine: &Engine| {
        let in_doubt: Vec<LocalOrderId> = engine
            .orders(OrderState::InDoubt)
            .iter()
            .map(|view| view.local_id)
            .collect();
        (
            in_doubt,
            engine.ledger.local_id_of("GB.same"),
            engine.customer("CUST0A19F").unwrap().reserved,
        )
    };
    let live = state(&engine);
    assert_eq!(
        live,
        (
            vec![second.local],
            Some(first.local),
            Fixed::from_int(400).unwrap()
        )
    );
    // The operator cannot bind it to the same id either: 409.
    assert!(matches!(
        engine.resolve_in_doubt(second.local, Some("GB.same")),
        Err(ChangeError::Conflict(_))
    ));
    engine.close_without_snapshot();
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    assert_eq!(state(&engine), live, "replayed from the log");
    engine.check_invariants().unwrap();
    engine.close();
}

fn admit_durably(engine: &Engine, order: &crate::order::Order<'_>) -> Admitted {
    let (admitted, durability) = engine.admit(order).unwrap();
    durability.wait_blocking().unwrap();
    admitted
}

/// DriveWealth's word that an order of 2 filled at 99.
fn filled_two_at_99() -> OrderUpdate {
    OrderUpdate {
        status: crate::ledger::OrderStatus::Filled,
        cumulative_quantity: Fixed::from_int(2).unwrap(),
        average_price: Fixed::from_int(99).unwrap(),
        fees: None,
    }
}

/// An event can overtake the create's answer: its update waits for the bind, is applied right
/// after it, and survives a restart like any other.
#[test]
fn an_update_that_overtakes_the_bind_is_applied_when_the_id_is_bound() {
    let scratch = tempfile::tempdir().unwrap();
    let config = config(&scratch.path().join("wal"));
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    book(&engine);
    let order = parse_order(ORDER).unwrap();
    let admitted = admit_durably(&engine, &order);
    let filled = filled_two_at_99();
    let (outcome, _) = engine.learn_or_park("GB.early", filled, None);
    assert_eq!(outcome, UpdateOutcome::UnknownOrder, "not bound yet");
    // A plain `learn` (a proxied GET, a poll) does not park.
    let (outcome, _) = engine.learn("GB.other", filled);
    assert_eq!(outcome, UpdateOutcome::UnknownOrder);
    let reserved = |engine: &Engine| engine.customer("CUST0A19F").unwrap().reserved;
    assert_eq!(reserved(&engine), Fixed::from_int(200).unwrap());

    engine.bound(&admitted, "GB.early").wait_blocking().unwrap();
    assert_eq!(reserved(&engine), Fixed::ZERO, "filled at the bind");
    assert!(engine.orders(OrderState::Open).is_empty());
    let position = |engine: &Engine| {
        engine
            .customer("CUST0A19F")
            .unwrap()
            .positions
            .get("AAPL")
            .copied()
    };
    assert_eq!(position(&engine), Some(Fixed::from_int(2).unwrap()));
    // Applied once: parking is emptied by the bind.
    let (outcome, _) = engine.learn("GB.early", filled);
    assert_ne!(outcome, UpdateOutcome::Applied);
    // What a plain `learn` saw for "GB.other" was not parked: binding it applies nothing.
    let second = admit_durably(&engine, &order);
    engine.bound(&second, "GB.other").wait_blocking().unwrap();
    assert_eq!(reserved(&engine), Fixed::from_int(200).unwrap());
    assert_eq!(engine.orders(OrderState::Open).len(), 1);

    drop(engine);
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    assert_eq!(
        reserved(&engine),
        Fixed::from_int(200).unwrap(),
        "the second, open"
    );
    assert_eq!(position(&engine), Some(Fixed::from_int(2).unwrap()));
}

/// An update parked while its create was in flight is the answer of the order should the
/// create then go unanswered: held in doubt, the order is bound to that id at once.
#[test]
fn an_update_that_came_before_a_timeout_answers_the_in_doubt_order() {
    let scratch = tempfile::tempdir().unwrap();
    let config = config(&scratch.path().join("wal"));
    let engine = Engine::open(&config, clock(), false).unwrap().engine;
    book(&engine);
    let body = r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":2,"price":100,"clientID":"CUST0A19F","clientOrderID":"co-early"}"#;
    let admitted = admit_durably(&engine, &parse_order(body.as_bytes()).unwrap());
    let filled = filled_two_at_99();
    let elsewhere = Some(("co-early".to_owned(), crate::ledger::AccountIndex(1)));
    let (outcome, _) = engine.learn_or_park("GB.other-account", filled, elsewhere);
    assert_eq!(outcome, UpdateOutcome::UnknownOrder);
    let hint = Some(("co-early".to_owned(), crate::ledger::AccountIndex(0)));
    let (outcome, _) = engine.learn_or_park("GB.timed-out", filled, hint);
    assert_eq!(outcome, UpdateOutcome::UnknownOrder);

    engine.in_doubt(&admitted).wait_blocking().unwrap();
    assert!(engine.orders(OrderState::InDoubt).is_empty(), "answered");
    assert_eq!(
        engine.ledger.local_id_of("GB.timed-out"),
        None,
        "and closed"
    );
    let customer = engine.customer("CUST0A19F").unwrap();
    assert_eq!(customer.reserved, Fixed::ZERO);
    assert_eq!(
        customer.positions.get("AAPL").copied(),
        Some(Fixed::from_int(2).unwrap())
    );
}
