//! T+1 settlement rolls against fills dated by trade day (SPEC §5.4).

use super::*;

#[test]
fn cashless_credit_limit_and_roll() {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Cashless {
            credit_limit: money("1000"),
        },
        sell_proceeds: SellProceeds::OnFill,
    });
    ledger
        .register("C1", "cust-1", money("5000"), vec![])
        .unwrap();
    let local = ledger.reserve_buy("C1", "AAPL", limit("6", "100")).unwrap();
    ledger.bind(local, "DW-9").unwrap();
    ledger.apply_update("DW-9", update(OrderStatus::Filled, "6", "100"));
    let omni = ledger.omni();
    assert_eq!(omni.pending_settlement, Some(money("600")));
    assert_eq!(omni.available, money("400"));
    assert_eq!(omni.credit_limit, Some(money("1000")));
    let reject = ledger
        .reserve_buy("C1", "AAPL", limit("5", "100"))
        .unwrap_err();
    assert_eq!(reject.code, RejectCode::InsufficientOmniBuyingPower);

    let omni = ledger.roll_settlement_day().unwrap();
    assert_eq!(omni.pending_settlement, Some(Fixed::ZERO));
    assert_eq!(omni.available, money("1000"));
    ledger.reserve_buy("C1", "AAPL", limit("5", "100")).unwrap();
    // A smaller line leaves available short, not negative reservations.
    let omni = ledger
        .set_credit_limit(AccountIndex(0), money("400"))
        .unwrap();
    assert_eq!(omni.available, money("-100"));
    ledger.check_invariants().unwrap();
}

#[test]
fn sell_proceeds_on_settlement_wait_for_the_roll() {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Prefunded,
        sell_proceeds: SellProceeds::OnSettlement,
    });
    ledger
        .register(
            "C1",
            "cust-1",
            money("0"),
            vec![("AAPL".into(), money("2"))],
        )
        .unwrap();
    let local = ledger.reserve_sell("C1", "AAPL", money("2")).unwrap();
    ledger.bind(local, "DW-10").unwrap();
    ledger.apply_update("DW-10", update(OrderStatus::Filled, "2", "10.25"));
    let customer = view(&ledger, "C1");
    assert_eq!(customer.cash, Fixed::ZERO);
    assert_eq!(customer.unsettled_proceeds, money("20.5"));
    assert!(customer.positions.is_empty());
    assert_eq!(ledger.omni().unsettled_proceeds, money("20.5"));
    ledger.check_invariants().unwrap();

    let omni = ledger.roll_settlement_day().unwrap();
    assert_eq!((omni.cash, omni.available), (money("20.5"), money("20.5")));
    assert_eq!(omni.unsettled_proceeds, Fixed::ZERO);
    let customer = view(&ledger, "C1");
    assert_eq!(
        (customer.cash, customer.unsettled_proceeds),
        (money("20.5"), Fixed::ZERO)
    );
    ledger.check_invariants().unwrap();
}

fn day(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

#[test]
fn t_plus_one_a_friday_trade_settles_at_mondays_roll() {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Cashless {
            credit_limit: money("1000"),
        },
        sell_proceeds: SellProceeds::OnSettlement,
    });
    ledger
        .register(
            "C1",
            "cust-1",
            money("5000"),
            vec![("AAPL".into(), money("2"))],
        )
        .unwrap();
    let friday = Some(day("2026-11-20"));
    let buy = ledger.reserve_buy("C1", "AAPL", limit("6", "100")).unwrap();
    ledger.bind(buy, "DW-B").unwrap();
    ledger.apply_update_on("DW-B", update(OrderStatus::Filled, "6", "100"), friday);
    let sell = ledger.reserve_sell("C1", "AAPL", money("2")).unwrap();
    ledger.bind(sell, "DW-S").unwrap();
    ledger.apply_update_on("DW-S", update(OrderStatus::Filled, "2", "10"), friday);
    let pending = |ledger: &Ledger| {
        let omni = ledger.omni();
        (omni.pending_settlement.unwrap(), omni.available)
    };
    assert_eq!(pending(&ledger), (money("600"), money("400")));

    // Friday's own 17:00 roll settles nothing of Friday's: the line stays used over the weekend.
    ledger.roll_settlement(day("2026-11-20")).unwrap();
    assert_eq!(pending(&ledger), (money("600"), money("400")));
    assert_eq!(view(&ledger, "C1").unsettled_proceeds, money("20"));
    // Monday's settles it.
    ledger.roll_settlement(day("2026-11-23")).unwrap();
    assert_eq!(pending(&ledger), (Fixed::ZERO, money("1000")));
    let customer = view(&ledger, "C1");
    assert_eq!(
        (customer.cash, customer.unsettled_proceeds),
        (money("4420"), Fixed::ZERO)
    );
    assert_eq!(ledger.last_settlement_roll(), Some(day("2026-11-23")));
    ledger.check_invariants().unwrap();
}

#[test]
fn a_roll_keeps_the_trades_of_its_own_day() {
    let ledger = Ledger::new(LedgerConfig {
        funding: Funding::Cashless {
            credit_limit: money("1000"),
        },
        sell_proceeds: SellProceeds::OnFill,
    });
    ledger
        .register("C1", "cust-1", money("5000"), vec![])
        .unwrap();
    let first = ledger.reserve_buy("C1", "AAPL", limit("1", "100")).unwrap();
    ledger.bind(first, "DW-1").unwrap();
    ledger.apply_update_on(
        "DW-1",
        update(OrderStatus::Filled, "1", "100"),
        Some(day("2026-11-23")),
    );
    let second = ledger.reserve_buy("C1", "AAPL", limit("2", "100")).unwrap();
    ledger.bind(second, "DW-2").unwrap();
    ledger.apply_update_on(
        "DW-2",
        update(OrderStatus::Filled, "2", "100"),
        Some(day("2026-11-24")),
    );
    // Tuesday's roll settles Monday's 100 and keeps Tuesday's 200; rolling again changes nothing.
    for _ in 0..2 {
        let omni = ledger.roll_settlement(day("2026-11-24")).unwrap();
        assert_eq!(omni.pending_settlement, Some(money("200")));
        assert_eq!(omni.available, money("800"));
    }
    ledger.check_invariants().unwrap();
}
