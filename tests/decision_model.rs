//! The decision the server runs (`Engine::admit`: `decide`, then the reservation), against a
//! sequential model of what the controls must remember: for any sequence of orders — accepted,
//! refused by a rule, a limit, a duplicate or buying power, or accepted and then refused by the
//! upstream — each customer's BUY total for the day is the sum of its accepted BUYs, the
//! `clientOrderID`s remembered are exactly those of orders still standing, and the ledger's
//! invariants hold. A check that recorded something and then saw a later check refuse the order
//! must have given it back. A customer a risk officer has frozen gets `TRADING_DISABLED` for
//! every order until unfrozen, and nothing of those orders is remembered.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use omnigate::clock::FixedClock;
use omnigate::config::Config;
use omnigate::engine::{AdmitError, CustomerSpec, Engine};
use omnigate::instruments::InstrumentSpec;
use omnigate::money::Fixed;
use omnigate::order::parse_order;
use omnigate::rules::market_hours::new_york_date;
use proptest::prelude::*;

const CUSTOMERS: [(&str, &str); 3] = [
    ("CUSTA0001", "600"),
    ("CUSTB0002", "5000"),
    ("CUSTC0003", "0"),
];
const SYMBOLS: [&str; 3] = ["AAPL", "BRK.A", "NOREF"];

fn now() -> DateTime<Utc> {
    // Thursday 2026-11-19, 11:00 ET: the regular session.
    "2026-11-19T16:00:00Z".parse().unwrap()
}

fn engine() -> Engine {
    let config = Config::parse(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n\
         [limits.default]\ndaily_buy_notional = 2000\nmax_order_quantity = 15\n",
        "model",
    )
    .unwrap();
    let engine = Engine::new(&config, Arc::new(FixedClock::new(now())));
    for (symbol, json) in [
        (
            "AAPL",
            r#"{"instrumentID":"i-aapl","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"190"}"#,
        ),
        (
            "BRK.A",
            r#"{"instrumentID":"i-brka","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":false,"price":"700"}"#,
        ),
        (
            "NOREF",
            r#"{"instrumentID":"i-noref","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":true}"#,
        ),
    ] {
        let spec: InstrumentSpec = serde_json::from_str(json).unwrap();
        drop(engine.upsert_instrument(symbol, spec).unwrap());
    }
    for (client_id, cash) in CUSTOMERS {
        let spec: CustomerSpec = serde_json::from_str(&format!(
            r#"{{"customerId":"k-{client_id}","cash":"{cash}","positions":{{"AAPL":"5"}}}}"#
        ))
        .unwrap();
        drop(engine.register_customer(client_id, spec).unwrap());
    }
    drop(
        engine
            .omni_deposit(Fixed::from_int(4_000).unwrap())
            .unwrap(),
    );
    engine
}

#[derive(Debug, Clone)]
struct Step {
    customer: usize,
    symbol: usize,
    buy: bool,
    limit: bool,
    /// Hundredths of a share.
    quantity_cents: u32,
    price: u32,
    client_order_id: Option<u8>,
    /// When accepted: the upstream refuses it afterwards.
    refused_upstream: bool,
    /// Before the order: a risk officer freezes (`true`) or unfreezes the customer.
    freeze: Option<bool>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..CUSTOMERS.len(),
        0..SYMBOLS.len(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(100u32), Just(300), Just(50), 1u32..2_000],
        150u32..250,
        proptest::option::of(0u8..5),
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.15, any::<bool>()),
    )
        .prop_map(
            |(
                customer,
                symbol,
                buy,
                limit,
                quantity_cents,
                price,
                client_order_id,
                refused,
                freeze,
            )| {
                Step {
                    freeze,
                    customer,
                    symbol,
                    buy,
                    limit,
                    quantity_cents,
                    price,
                    client_order_id,
                    refused_upstream: refused,
                }
            },
        )
}

fn body(step: &Step) -> String {
    let (client_id, _) = CUSTOMERS[step.customer];
    let quantity = Fixed::from_units(i64::from(step.quantity_cents) * 1_000_000);
    let order_type = if step.limit { "LIMIT" } else { "MARKET" };
    let price = if step.limit {
        format!(r#","price":"{}""#, step.price)
    } else {
        String::new()
    };
    let id = step
        .client_order_id
        .map(|id| format!(r#","clientOrderID":"co-{id}""#))
        .unwrap_or_default();
    format!(
        r#"{{"accountNo":"DWOM000001","orderType":"{order_type}","side":"{}","symbol":"{}","quantity":"{quantity}","clientID":"{client_id}"{price}{id}}}"#,
        if step.buy { "BUY" } else { "SELL" },
        SYMBOLS[step.symbol],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_controls_remember_exactly_the_orders_that_stand(steps in prop::collection::vec(step(), 1..60)) {
        let engine = engine();
        let day = new_york_date(now());
        let mut bought: BTreeMap<&str, Fixed> = BTreeMap::new();
        let mut ids_in_use: BTreeSet<(&str, u8)> = BTreeSet::new();
        let mut frozen: BTreeSet<&str> = BTreeSet::new();
        for step in &steps {
            let text = body(step);
            let order = parse_order(text.as_bytes()).expect("well-formed");
            let (client_id, _) = CUSTOMERS[step.customer];
            if let Some(freeze) = step.freeze {
                drop(engine.freeze(client_id, freeze, "review").expect("a known customer"));
                if freeze {
                    frozen.insert(client_id);
                } else {
                    frozen.remove(client_id);
                }
            }
            let admitted = engine.admit(&order);
            if frozen.contains(client_id) {
                // A frozen customer's orders stop before any control records them.
                match &admitted {
                    Err(AdmitError::Rejected(reject)) => prop_assert_eq!(
                        reject.code,
                        omnigate::reject::RejectCode::TradingDisabled
                    ),
                    other => prop_assert!(false, "a frozen customer's order: {:?}", other.is_ok()),
                }
            }
            match admitted {
                Ok((admitted, durability)) => {
                    drop(durability);
                    let key = step.client_order_id.map(|id| (client_id, id));
                    prop_assert!(key.is_none_or(|key| !ids_in_use.contains(&key)), "a used clientOrderID was accepted again");
                    let notional = admitted
                        .controls
                        .as_ref()
                        .map_or(Fixed::ZERO, |(_, controls)| controls.buy_notional);
                    prop_assert_eq!(notional.is_zero(), !step.buy);
                    if step.refused_upstream {
                        drop(engine.refused_upstream(&admitted));
                    } else {
                        let total = bought.entry(client_id).or_default();
                        *total = total.checked_add(notional).unwrap();
                        ids_in_use.extend(key);
                    }
                }
                Err(AdmitError::Rejected(reject)) => {
                    // duplicate_window_ms is 0: only a clientOrderID in use is a duplicate.
                    if reject.code == omnigate::reject::RejectCode::DuplicateOrder {
                        let key = step.client_order_id.map(|id| (client_id, id));
                        prop_assert!(key.is_some_and(|key| ids_in_use.contains(&key)), "{}", reject.message);
                    }
                }
                Err(AdmitError::Storage(error)) => prop_assert!(false, "no WAL here: {error}"),
            }
            for (client_id, _) in CUSTOMERS {
                prop_assert_eq!(
                    engine.daily_buy_total(client_id, day),
                    bought.get(client_id).copied().unwrap_or_default(),
                    "{}'s day", client_id
                );
            }
            prop_assert_eq!(engine.client_order_ids_remembered(), ids_in_use.len());
            engine.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
}
