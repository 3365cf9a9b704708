//! Unit tests quoting SPEC §5.1, §5.2, §6 and seed `003` (prefunding). The model-based proptest
//! and the concurrency races are in `tests/ledger_model.rs`.

use super::*;
use crate::reject::RejectCode;

mod settlement;

fn money(text: &str) -> Fixed {
    Fixed::parse(text).unwrap()
}

fn prefunded() -> Ledger {
    Ledger::new(LedgerConfig {
        funding: Funding::Prefunded,
        sell_proceeds: SellProceeds::OnFill,
    })
}

fn limit(quantity: &str, price: &str) -> BuyCost {
    BuyCost {
        per_share: Some(money(price)),
        quantity: Some(money(quantity)),
        amount_cash: None,
        fee: Fixed::ZERO,
        commission_rate: Fixed::ZERO,
    }
}

fn cash_order(amount: &str) -> BuyCost {
    BuyCost {
        per_share: None,
        quantity: None,
        amount_cash: Some(money(amount)),
        fee: Fixed::ZERO,
        commission_rate: Fixed::ZERO,
    }
}

fn update(status: OrderStatus, cumulative: &str, average: &str) -> OrderUpdate {
    OrderUpdate {
        status,
        cumulative_quantity: money(cumulative),
        average_price: money(average),
        fees: None,
    }
}

/// A ledger with one customer `C1` holding `cash` and an omni account funded with `omni`.
fn one_customer(cash: &str, omni: &str) -> Ledger {
    let ledger = prefunded();
    ledger
        .register(
            "C1",
            "cust-1",
            money(cash),
            vec![("AAPL".into(), money("3"))],
        )
        .unwrap();
    if money(omni).is_positive() {
        ledger.omni_deposit(money(omni)).unwrap();
    }
    ledger
}

fn view(ledger: &Ledger, client_id: &str) -> CustomerView {
    ledger.customer(client_id).unwrap()
}

#[test]
fn ledger_is_shareable() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Ledger>();
}

#[test]
fn spec_5_2_limit_buy_partial_fill() {
    // "a LIMIT BUY of 2 @ 100 (reserved 200) filled 1 @ 99 leaves cash −99 and reserved 100"
    let ledger = one_customer("1000", "5000");
    let local = ledger.reserve_buy("C1", "AAPL", limit("2", "100")).unwrap();
    assert_eq!(view(&ledger, "C1").reserved, money("200"));
    assert_eq!(ledger.omni().reserved, money("200"));
    ledger.bind(local, "DW-1").unwrap();

    let outcome = ledger.apply_update("DW-1", update(OrderStatus::PartialFill, "1", "99"));
    assert_eq!(outcome, UpdateOutcome::Applied);
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, money("901")); // 1000 − 99
    assert_eq!(customer.reserved, money("100"));
    assert_eq!(customer.available, money("801"));
    assert_eq!(customer.positions["AAPL"], money("4"));
    let omni = ledger.omni();
    assert_eq!(omni.cash, money("4901"));
    assert_eq!(omni.reserved, money("100"));
    assert_eq!(omni.available, money("4801"));
    ledger.check_invariants().unwrap();

    // The rest fills at 100: average (99 + 100) / 2 = 99.5, total 199.
    let outcome = ledger.apply_update("DW-1", update(OrderStatus::Filled, "2", "99.5"));
    assert_eq!(outcome, UpdateOutcome::Applied);
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, money("801"));
    assert_eq!(customer.reserved, Fixed::ZERO);
    assert_eq!(customer.positions["AAPL"], money("5"));
    assert!(customer.open_orders.is_empty());
    assert_eq!(ledger.omni().available, money("4801"));
    ledger.check_invariants().unwrap();
}

#[test]
fn amount_cash_partial_keeps_amount_minus_filled() {
    let ledger = one_customer("1000", "5000");
    let local = ledger.reserve_buy("C1", "AAPL", cash_order("100")).unwrap();
    ledger.bind(local, "DW-2").unwrap();
    // 0.5 share at 120 = 60 filled; the order keeps 100 − 60 = 40.
    ledger.apply_update("DW-2", update(OrderStatus::PartialFill, "0.5", "120"));
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, money("940"));
    assert_eq!(customer.reserved, money("40"));
    assert_eq!(customer.positions["AAPL"], money("3.5"));
    // Canceled after that: the 40 returns, the 60 stays spent.
    ledger.apply_update("DW-2", update(OrderStatus::Canceled, "0.5", "120"));
    let customer = view(&ledger, "C1");
    assert_eq!(
        (customer.cash, customer.reserved),
        (money("940"), Fixed::ZERO)
    );
    assert_eq!(ledger.omni().available, money("4940"));
    ledger.check_invariants().unwrap();
}

#[test]
fn duplicate_and_out_of_order_updates_change_nothing() {
    let ledger = one_customer("1000", "5000");
    let local = ledger.reserve_buy("C1", "AAPL", limit("3", "10")).unwrap();
    ledger.bind(local, "DW-3").unwrap();
    let second = update(OrderStatus::PartialFill, "2", "10");
    assert_eq!(ledger.apply_update("DW-3", second), UpdateOutcome::Applied);
    let after = view(&ledger, "C1");
    assert_eq!(
        ledger.apply_update("DW-3", second),
        UpdateOutcome::Duplicate
    );
    let first = update(OrderStatus::PartialFill, "1", "10");
    assert_eq!(ledger.apply_update("DW-3", first), UpdateOutcome::Duplicate);
    assert_eq!(view(&ledger, "C1"), after);
    // A final status at the same cumulative quantity still closes the order.
    let canceled = update(OrderStatus::Canceled, "2", "10");
    assert_eq!(
        ledger.apply_update("DW-3", canceled),
        UpdateOutcome::Applied
    );
    assert_eq!(view(&ledger, "C1").reserved, Fixed::ZERO);
    assert_eq!(
        ledger.apply_update("DW-3", canceled),
        UpdateOutcome::UnknownOrder
    );
    assert_eq!(
        ledger.apply_update("nobody", canceled),
        UpdateOutcome::UnknownOrder
    );
    ledger.check_invariants().unwrap();
}

#[test]
fn insufficient_buying_power_message_has_both_numbers() {
    let ledger = one_customer("100", "5000");
    let reject = ledger
        .reserve_buy("C1", "AAPL", limit("1", "155"))
        .unwrap_err();
    assert_eq!(reject.code, RejectCode::InsufficientBuyingPower);
    assert_eq!(
        reject.message,
        "buying power 100.00 is less than the 155.00 this order needs"
    );
    let reject = ledger
        .reserve_buy("C9", "AAPL", limit("1", "1"))
        .unwrap_err();
    assert_eq!(reject.code, RejectCode::ClientIdUnknown);
    assert_eq!(ledger.omni().reserved, Fixed::ZERO);
}

#[test]
fn fee_is_reserved_and_charged_once_at_the_end() {
    let ledger = one_customer("1000", "5000");
    let mut cost = limit("2", "100");
    cost.fee = money("1.5");
    let local = ledger.reserve_buy("C1", "AAPL", cost).unwrap();
    assert_eq!(view(&ledger, "C1").reserved, money("201.5"));
    ledger.bind(local, "DW-4").unwrap();
    ledger.apply_update("DW-4", update(OrderStatus::PartialFill, "1", "100"));
    assert_eq!(view(&ledger, "C1").reserved, money("101.5"));
    // Upstream reports its own fees at the end: those are charged, not the configured one.
    let mut filled = update(OrderStatus::Filled, "2", "100");
    filled.fees = Some(money("0.75"));
    ledger.apply_update("DW-4", filled);
    let customer = view(&ledger, "C1");
    assert_eq!(
        (customer.cash, customer.reserved),
        (money("799.25"), Fixed::ZERO)
    );
    assert_eq!(ledger.omni().cash, money("4799.25"));

    // Canceled with nothing filled: no fee.
    let local = ledger.reserve_buy("C1", "AAPL", cost).unwrap();
    ledger.bind(local, "DW-5").unwrap();
    ledger.apply_update("DW-5", update(OrderStatus::Canceled, "0", "0"));
    assert_eq!(view(&ledger, "C1").cash, money("799.25"));
    ledger.check_invariants().unwrap();
}

#[test]
fn market_fill_above_its_reservation_is_spent_anyway() {
    let ledger = one_customer("1000", "5000");
    // Reserved at reference × buffer = 105; fills at 120.
    let local = ledger.reserve_buy("C1", "AAPL", limit("2", "105")).unwrap();
    ledger.bind(local, "DW-6").unwrap();
    ledger.apply_update("DW-6", update(OrderStatus::PartialFill, "1", "120"));
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, money("880"));
    assert_eq!(customer.reserved, money("105"));
    ledger.apply_update("DW-6", update(OrderStatus::Filled, "2", "120"));
    let customer = view(&ledger, "C1");
    assert_eq!(
        (customer.cash, customer.reserved),
        (money("760"), Fixed::ZERO)
    );
    assert_eq!(ledger.omni().available, money("4760"));
    ledger.check_invariants().unwrap();
}

#[test]
fn sell_respects_pending_sells() {
    let ledger = one_customer("0", "0");
    let first = ledger.reserve_sell("C1", "AAPL", money("1")).unwrap();
    let reject = ledger.reserve_sell("C1", "AAPL", money("5")).unwrap_err();
    assert_eq!(reject.code, RejectCode::InsufficientPosition);
    assert_eq!(
        reject.message,
        "position 3 minus 1 pending in open sells leaves 2; this order sells 5"
    );
    let reject = ledger.reserve_sell("C1", "MSFT", money("1")).unwrap_err();
    assert_eq!(reject.code, RejectCode::InsufficientPosition);
    ledger.reserve_sell("C1", "AAPL", money("2")).unwrap();
    assert_eq!(view(&ledger, "C1").pending_sells["AAPL"], money("3"));

    // A fill of the first SELL: position and pending both fall; proceeds are cash on fill.
    ledger.bind(first, "DW-7").unwrap();
    ledger.apply_update("DW-7", update(OrderStatus::Filled, "1", "50.5"));
    let customer = view(&ledger, "C1");
    assert_eq!(customer.positions["AAPL"], money("2"));
    assert_eq!(customer.pending_sells["AAPL"], money("2"));
    assert_eq!(customer.cash, money("50.5"));
    assert_eq!(ledger.omni().cash, money("50.5"));
    ledger.check_invariants().unwrap();
}

#[test]
fn withdrawal_beyond_available_is_refused() {
    let ledger = one_customer("100", "1000");
    ledger.reserve_buy("C1", "AAPL", limit("1", "70")).unwrap();
    let refused = ledger.adjust_cash("C1", money("-50")).unwrap_err();
    assert_eq!(
        refused,
        LedgerError::BeyondAvailable {
            code: RejectCode::InsufficientBuyingPower,
            message: "withdrawal of 50.00 is more than the 30.00 available \
                      (cash 100.00 minus 70.00 reserved for open orders)"
                .to_string()
        }
    );
    let customer = ledger.adjust_cash("C1", money("-30")).unwrap();
    assert_eq!(
        (customer.cash, customer.available),
        (money("70"), Fixed::ZERO)
    );
    let customer = ledger.adjust_cash("C1", money("25")).unwrap();
    assert_eq!(customer.available, money("25"));
    assert!(matches!(
        ledger.adjust_cash("nobody", money("1")),
        Err(LedgerError::NotFound(_))
    ));
    ledger.check_invariants().unwrap();
}

#[test]
fn register_conflicts_are_409_and_replace_keeps_orders() {
    let ledger = one_customer("100", "1000");
    // SPEC §4.1: a clientID already bound to another customerId …
    assert!(matches!(
        ledger.register("C1", "cust-2", money("1"), vec![]),
        Err(LedgerError::Conflict(_))
    ));
    // … or a second clientID for the same customerId.
    assert!(matches!(
        ledger.register("C2", "cust-1", money("1"), vec![]),
        Err(LedgerError::Conflict(_))
    ));
    assert!(!ledger.contains("C2"));

    // Replace: cash and positions change, the open order and its reservation stay.
    let local = ledger.reserve_buy("C1", "AAPL", limit("1", "60")).unwrap();
    ledger.reserve_sell("C1", "AAPL", money("2")).unwrap();
    ledger
        .register(
            "C1",
            "cust-1",
            money("500"),
            vec![("MSFT".into(), money("7"))],
        )
        .unwrap();
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, money("500"));
    assert_eq!(customer.reserved, money("60"));
    assert_eq!(customer.positions.get("MSFT"), Some(&money("7")));
    assert_eq!(customer.positions.get("AAPL"), None);
    assert_eq!(customer.pending_sells["AAPL"], money("2"));
    assert_eq!(customer.open_orders.len(), 2);
    assert!(customer.open_orders.contains(&local.to_string()));
    ledger.check_invariants().unwrap();
}

#[test]
fn register_reports_a_replace_as_deltas() {
    let ledger = one_customer("100", "1000");
    ledger.reserve_sell("C1", "AAPL", money("1")).unwrap();
    let replaced = ledger
        .register(
            "C1",
            "cust-1",
            money("40"),
            vec![("MSFT".into(), money("7")), ("BTC".into(), Fixed::ZERO)],
        )
        .unwrap();
    // New − old, sorted by symbol; BTC did not change and is left out.
    assert_eq!(
        replaced,
        Registered::Replaced {
            cash_delta: money("-60"),
            position_deltas: vec![
                ("AAPL".to_string(), money("-3")),
                ("MSFT".to_string(), money("7")),
            ],
        }
    );
    assert_eq!(
        ledger.register("C2", "cust-2", money("1"), Vec::new()),
        Ok(Registered::New)
    );

    // Replaying the same effects on a copy of the state before gives the same customer.
    let replayed = one_customer("100", "1000");
    replayed.reserve_sell("C1", "AAPL", money("1")).unwrap();
    let Registered::Replaced {
        cash_delta,
        position_deltas,
    } = replaced
    else {
        unreachable!()
    };
    replayed
        .redo_replace("C1", cash_delta, position_deltas)
        .unwrap();
    replayed
        .redo_register_new("C2", "cust-2", money("1"), Vec::new())
        .unwrap();
    assert_eq!(view(&replayed, "C1"), view(&ledger, "C1"));
    assert_eq!(view(&replayed, "C2"), view(&ledger, "C2"));
    // The pending sell keeps the emptied AAPL position listed in pending sells only.
    assert_eq!(view(&ledger, "C1").pending_sells["AAPL"], money("1"));
    assert!(!view(&ledger, "C1").positions.contains_key("AAPL"));
    ledger.check_invariants().unwrap();
    replayed.check_invariants().unwrap();
}

#[test]
fn rekey_moves_everything() {
    let ledger = one_customer("1000", "1000");
    let local = ledger.reserve_buy("C1", "AAPL", limit("1", "60")).unwrap();
    ledger.bind(local, "DW-8").unwrap();
    ledger
        .register("C2", "cust-2", money("5"), Vec::new())
        .unwrap();
    assert!(matches!(
        ledger.rekey("C1", "C2"),
        Err(LedgerError::Conflict(_))
    ));
    assert!(matches!(
        ledger.rekey("nobody", "C3"),
        Err(LedgerError::NotFound(_))
    ));
    ledger.rekey("C1", "C3").unwrap();
    assert!(!ledger.contains("C1"));
    let customer = view(&ledger, "C3");
    assert_eq!(customer.customer_id, "cust-1");
    assert_eq!(customer.reserved, money("60"));
    assert_eq!(customer.open_orders, vec!["DW-8".to_string()]);
    // Fills follow the customer to its new clientID.
    ledger.apply_update("DW-8", update(OrderStatus::Filled, "1", "60"));
    assert_eq!(view(&ledger, "C3").cash, money("940"));
    // The customerId is bound to the new clientID now, and the old one is free.
    assert!(matches!(
        ledger.register("C1", "cust-1", money("1"), vec![]),
        Err(LedgerError::Conflict(_))
    ));
    ledger.register("C1", "cust-9", money("1"), vec![]).unwrap();
    assert_eq!(ledger.orders(OrderState::Open).len(), 0);
    ledger.check_invariants().unwrap();
}

#[test]
fn prefunded_depletion_refuses_buys_and_passes_sells() {
    // Seed 003: "When the 'prefunded' amount is depleted, only SELLS will be permitted."
    let ledger = one_customer("1000", "100");
    ledger.reserve_buy("C1", "AAPL", cash_order("100")).unwrap();
    assert_eq!(ledger.omni().available, Fixed::ZERO);
    let reject = ledger
        .reserve_buy("C1", "AAPL", cash_order("30"))
        .unwrap_err();
    assert_eq!(reject.code, RejectCode::InsufficientOmniBuyingPower);
    assert_eq!(
        reject.message,
        "omni account buying power 0.00 is less than the 30.00 this order needs"
    );
    // The customer side was not touched by the refused order.
    assert_eq!(view(&ledger, "C1").reserved, money("100"));
    ledger.reserve_sell("C1", "AAPL", money("1")).unwrap();
    // A deposit (deposits.updated) raises it again.
    ledger.omni_deposit(money("200")).unwrap();
    ledger.reserve_buy("C1", "AAPL", cash_order("30")).unwrap();
    assert!(matches!(
        ledger.omni_deposit(Fixed::ZERO),
        Err(LedgerError::Invalid(_))
    ));
    ledger.check_invariants().unwrap();
}

#[test]
fn release_and_in_doubt() {
    let ledger = one_customer("1000", "1000");
    let refused = ledger.reserve_buy("C1", "AAPL", limit("1", "100")).unwrap();
    ledger.release(refused).unwrap();
    assert_eq!(view(&ledger, "C1").reserved, Fixed::ZERO);
    assert_eq!(ledger.omni().available, money("1000"));
    assert!(matches!(
        ledger.release(refused),
        Err(LedgerError::NotFound(_))
    ));

    let lost = ledger.reserve_buy("C1", "AAPL", limit("1", "100")).unwrap();
    let sell = ledger.reserve_sell("C1", "AAPL", money("1")).unwrap();
    ledger.mark_in_doubt(lost).unwrap();
    ledger.mark_in_doubt(sell).unwrap();
    let in_doubt = ledger.orders(OrderState::InDoubt);
    assert_eq!(in_doubt.len(), 2);
    assert_eq!(in_doubt[0].local_id, lost);
    assert_eq!(in_doubt[0].client_id, "C1");
    assert_eq!(in_doubt[0].reserved_cash, money("100"));
    assert_eq!(in_doubt[1].pending_sell_quantity, money("1"));
    assert!(ledger.orders(OrderState::Open).is_empty());
    assert_eq!(view(&ledger, "C1").reserved, money("100"));

    // One reached upstream, the other never did.
    ledger.resolve_in_doubt(lost, Some("DW-11")).unwrap();
    ledger.resolve_in_doubt(sell, None).unwrap();
    assert!(ledger.orders(OrderState::InDoubt).is_empty());
    let open = ledger.orders(OrderState::Open);
    assert_eq!(open[0].upstream_order_id.as_deref(), Some("DW-11"));
    assert!(view(&ledger, "C1").pending_sells.is_empty());
    assert!(matches!(
        ledger.resolve_in_doubt(lost, None),
        Err(LedgerError::Invalid(_))
    ));
    assert!(matches!(
        ledger.mark_in_doubt(lost),
        Err(LedgerError::Invalid(_))
    ));
    assert_eq!(LocalOrderId::parse(&lost.to_string()), Some(lost));
    ledger.check_invariants().unwrap();
}

#[test]
fn out_of_range_is_an_error_never_a_panic() {
    let ledger = one_customer("1000", "1000");
    let huge = BuyCost {
        per_share: Some(Fixed::MAX),
        quantity: Some(money("2")),
        amount_cash: None,
        fee: Fixed::ZERO,
        commission_rate: Fixed::ZERO,
    };
    let reject = ledger.reserve_buy("C1", "AAPL", huge).unwrap_err();
    assert_eq!(reject.code, RejectCode::InvalidOrder);
    assert!(matches!(
        ledger.omni_deposit(Fixed::MAX),
        Err(LedgerError::Overflow(_))
    ));
    assert_eq!(ledger.omni().cash, money("1000"));
    assert!(matches!(
        ledger.adjust_cash("C1", Fixed::MAX),
        Err(LedgerError::Overflow(_))
    ));
    let local = ledger.reserve_buy("C1", "AAPL", limit("1", "10")).unwrap();
    ledger.bind(local, "DW-12").unwrap();
    let absurd = update(OrderStatus::Filled, "92233720368", "92233720368");
    assert!(matches!(
        ledger.apply_update("DW-12", absurd),
        UpdateOutcome::Invalid(_)
    ));
    let negative = update(OrderStatus::Filled, "-1", "10");
    assert!(matches!(
        ledger.apply_update("DW-12", negative),
        UpdateOutcome::Invalid(_)
    ));
    assert_eq!(view(&ledger, "C1").reserved, money("10"));
    ledger.check_invariants().unwrap();
}

#[test]
fn views_serialize_in_the_admin_api_shape() {
    let ledger = one_customer("100", "1000");
    let json = serde_json::to_value(view(&ledger, "C1")).unwrap();
    assert_eq!(json["clientID"], "C1");
    assert_eq!(json["customerId"], "cust-1");
    assert_eq!(json["cash"], "100");
    assert_eq!(json["positions"]["AAPL"], "3");
    assert_eq!(json["openOrders"], serde_json::json!([]));
    let json = serde_json::to_value(ledger.omni()).unwrap();
    assert_eq!(json["funding"], "prefunded");
    assert_eq!(json["available"], "1000");
    assert!(json.get("creditLimit").is_none());
    assert_eq!(OrderStatus::parse("CANCELLED"), Some(OrderStatus::Canceled));
    assert_eq!(OrderStatus::parse("8"), Some(OrderStatus::Rejected));
}

#[test]
fn omni_withdrawals_stop_at_available() {
    let ledger = one_customer("1000", "100");
    ledger.reserve_buy("C1", "AAPL", limit("1", "70")).unwrap();
    // available 30: cash 100 minus 70 reserved.
    let refused = ledger.omni_cash(money("-30.01")).unwrap_err();
    assert!(
        matches!(&refused, LedgerError::BeyondAvailable { code: RejectCode::InsufficientOmniBuyingPower, message } if message.contains("30.00")),
        "{refused:?}"
    );
    assert_eq!(ledger.omni().cash, money("100"));
    let omni = ledger.omni_cash(money("-30")).unwrap();
    assert_eq!((omni.cash, omni.available), (money("70"), Fixed::ZERO));
    assert!(ledger.omni_cash(money("-0.00000001")).is_err());
    assert!(matches!(
        ledger.omni_cash(Fixed::ZERO),
        Err(LedgerError::Invalid(_))
    ));
    ledger.check_invariants().unwrap();
}

#[test]
fn an_in_doubt_order_is_found_by_its_client_order_id_only_when_unambiguous() {
    let ledger = one_customer("1000", "1000");
    ledger
        .register("C2", "cust-2", money("1000"), vec![])
        .unwrap();
    let note = |created_at_ms| {
        Some(InDoubtNote {
            client_order_id: Some("co-1".to_owned()),
            created_at_ms,
        })
    };
    let first = ledger.reserve_buy("C1", "AAPL", limit("1", "10")).unwrap();
    ledger.mark_in_doubt_noted(first, note(1)).unwrap();
    let account = AccountIndex(0);
    assert_eq!(
        ledger.in_doubt_by_client_order_id("co-1", account),
        Some(first)
    );
    assert_eq!(
        ledger.in_doubt_by_client_order_id("co-1", AccountIndex(1)),
        None
    );
    // Another customer's order with the same clientOrderID: neither is bound by it.
    let second = ledger.reserve_buy("C2", "AAPL", limit("1", "10")).unwrap();
    ledger.mark_in_doubt_noted(second, note(2)).unwrap();
    assert_eq!(ledger.in_doubt_by_client_order_id("co-1", account), None);
    // Once one is settled, the other is found again; once both are, nothing is.
    ledger.resolve_in_doubt(first, None).unwrap();
    assert_eq!(
        ledger.in_doubt_by_client_order_id("co-1", account),
        Some(second)
    );
    ledger.bind(second, "DW-7").unwrap();
    assert_eq!(ledger.in_doubt_by_client_order_id("co-1", account), None);
    ledger.check_invariants().unwrap();
}
