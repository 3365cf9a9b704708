//! Table-driven tests of the decision, quoting the seed documents' own examples.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::*;
use crate::instruments::InstrumentSpec;
use crate::order::parse_order;

/// The customers these tests know, with every stateful control open: the rules alone decide.
struct Registry(HashSet<&'static str>);

impl Controls for Registry {
    type Customer = ();

    fn customer(&self, client_id: &str) -> Option<()> {
        self.0.contains(client_id).then_some(())
    }

    fn check_trading_enabled(&self, _: &str) -> Result<(), Reject> {
        Ok(())
    }

    fn take_rate_token(
        &self,
        _: &str,
        _: &EffectiveLimits<'_>,
        _: DateTime<Utc>,
    ) -> Result<(), Reject> {
        Ok(())
    }

    fn check_symbol_enabled(&self, _: &str) -> Result<(), Reject> {
        Ok(())
    }

    fn record_unique(
        &self,
        _: &OrderIdentity<'_>,
        _: u64,
        _: DateTime<Utc>,
    ) -> Result<DuplicateTicket, Reject> {
        Ok(DuplicateTicket::default())
    }

    fn add_to_day(
        &self,
        _: &str,
        _: NaiveDate,
        _: Fixed,
        _: &EffectiveLimits<'_>,
    ) -> Result<(), Reject> {
        Ok(())
    }

    fn give_back(&self, _: DuplicateTicket, _: &str, _: NaiveDate, _: Fixed) {}
}

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const ROTATED_HASH: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn rules(extra: &str) -> Rules {
    let text = format!(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n[client_id]\ndeny = [\"ACMECO\", \"GLOBAL\"]\n\
         [market]\nholidays = [\"2026-11-26\"]\nearly_closes = [\"2026-11-27\"]\n{extra}"
    );
    Rules::from_config(&Config::parse(&text, "test").unwrap())
}

/// Every instrument has a reference price: the decision estimates each order's cost after the
/// rules these tests are about.
fn instruments() -> InstrumentMaster {
    let master = InstrumentMaster::new();
    for (symbol, json) in [
        (
            "AAPL",
            r#"{"instrumentID":"id-aapl","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"190"}"#,
        ),
        (
            "BRK.A",
            r#"{"instrumentID":"id-brka","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":false,"price":"700000"}"#,
        ),
        (
            "HALT",
            r#"{"instrumentID":"26fa9515-d1c6-44ce-93b2-b94430451508","assetClass":"EQUITY","exchange":"NASDAQ","status":"HALTED","fractionable":true,"price":"100"}"#,
        ),
        (
            "GONE",
            r#"{"instrumentID":"id-gone","assetClass":"EQUITY","exchange":"NYSE","status":"INACTIVE","fractionable":true,"price":"100"}"#,
        ),
        (
            "WIND",
            r#"{"instrumentID":"id-wind","assetClass":"ETF","exchange":"ARCA","status":"CLOSE_ONLY","fractionable":true,"price":"100"}"#,
        ),
        (
            "STEP",
            r#"{"instrumentID":"id-step","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"orderSizeMin":"0.1","orderSizeMax":"1000","orderSizeStep":"0.1","price":"100"}"#,
        ),
        (
            "BTC",
            r#"{"instrumentID":"id-btc","assetClass":"CRYPTO","exchange":"CRYPTO","status":"ACTIVE","fractionable":true,"price":"100"}"#,
        ),
    ] {
        let spec: InstrumentSpec = serde_json::from_str(json).unwrap();
        master.upsert(symbol, spec).unwrap();
    }
    master
}

fn registry() -> Registry {
    Registry(["123456789", "CUST0A19F", HASH].into_iter().collect())
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// Thursday 2026-11-19, 11:00 ET: the regular session.
const REGULAR: &str = "2026-11-19T11:00:00-05:00";

/// An order body with `fields` spliced into a MARKET BUY of 1 AAPL for customer 123456789.
fn body(fields: &str) -> String {
    let mut base: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}"#,
    )
    .unwrap();
    let extra: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{{fields}}}")).unwrap();
    for (key, value) in extra {
        if value.is_null() && key != "clientID" {
            base.remove(&key);
        } else {
            base.insert(key, value);
        }
    }
    // Re-insert exact decimals as raw text (serde_json::Value would round them through f64).
    let mut text = serde_json::to_string(&base).unwrap();
    for (from, to) in [
        ("\"@5.12580012\"", "5.12580012"),
        ("\"@0.555555\"", "0.555555"),
    ] {
        text = text.replace(from, to);
    }
    text
}

fn outcome(
    fields: &str,
    now: &str,
    rules: &Rules,
) -> Result<Option<DateTime<Utc>>, (RejectCode, String)> {
    let text = body(fields);
    let order = parse_order(text.as_bytes()).expect("well-formed");
    let instruments = instruments();
    let limits = LimitBook::from_config(&Config::default().limits);
    let context = DecisionContext {
        rules,
        limits: &limits,
        instruments: &instruments,
        fee_per_order: Fixed::ZERO,
    };
    decide(&order, &context, &registry(), at(now))
        .map(|accepted| accepted.queued_until)
        .map_err(|reject| (reject.code, reject.message))
}

#[test]
fn the_seed_examples_decide_as_the_seeds_say() {
    use RejectCode::*;
    let rules = rules("");
    let cases: &[(&str, &str, Option<RejectCode>)] = &[
        // seed 000: ClientID accepted formats
        (
            "clientID is a stable numeric ID",
            r#""clientID":"123456789""#,
            None,
        ),
        (
            "clientID is a stable alphanumeric ID",
            r#""clientID":"CUST0A19F""#,
            None,
        ),
        (
            "clientID is a stable 64-char hash",
            &format!(r#""clientID":"{HASH}""#),
            None,
        ),
        (
            "a rotating hash is unknown",
            &format!(r#""clientID":"{ROTATED_HASH}""#),
            Some(ClientIdUnknown),
        ),
        (
            "firm code ACMECO",
            r#""clientID":"ACMECO""#,
            Some(ClientIdInvalid),
        ),
        (
            "product code GLOBAL",
            r#""clientID":"global""#,
            Some(ClientIdInvalid),
        ),
        (
            "date 20260604",
            r#""clientID":"20260604""#,
            Some(ClientIdInvalid),
        ),
        ("date 0604", r#""clientID":"0604""#, Some(ClientIdInvalid)),
        (
            "date 2026-06-04",
            r#""clientID":"2026-06-04""#,
            Some(ClientIdInvalid),
        ),
        ("blank", r#""clientID":"""#, Some(ClientIdMissing)),
        ("whitespace", r#""clientID":"   ""#, Some(ClientIdMissing)),
        ("null", r#""clientID":null"#, Some(ClientIdMissing)),
        (
            "a number, not a string",
            r#""clientID":123456789"#,
            Some(ClientIdInvalid),
        ),
        (
            "charset",
            r#""clientID":"CUST 0A19F""#,
            Some(ClientIdInvalid),
        ),
        // §4.5 account
        (
            "another firm's account",
            r#""accountNo":"CSSW000001""#,
            Some(AccountNotAllowed),
        ),
        // §4.3 instruments
        (
            "unknown symbol",
            r#""symbol":"MS""#,
            Some(InstrumentUnknown),
        ),
        (
            "by instrumentID",
            r#""symbol":null,"instrumentID":"id-aapl""#,
            None,
        ),
        (
            "unknown instrumentID",
            r#""symbol":null,"instrumentID":"nope""#,
            Some(InstrumentUnknown),
        ),
        (
            "INACTIVE",
            r#""symbol":"GONE""#,
            Some(InstrumentNotTradable),
        ),
        (
            "CLOSE_ONLY buy",
            r#""symbol":"WIND""#,
            Some(InstrumentNotTradable),
        ),
        ("CLOSE_ONLY sell", r#""symbol":"WIND","side":"SELL""#, None),
        // seeds 001/002: halts
        (
            "0.555555 shares on a halt",
            r#""symbol":"HALT","quantity":"@0.555555""#,
            Some(InstrumentHalted),
        ),
        (
            "amountCash on a halt",
            r#""symbol":"HALT","quantity":null,"amountCash":50"#,
            Some(InstrumentHalted),
        ),
        (
            "whole shares on a halt are forwarded",
            r#""symbol":"HALT","quantity":3"#,
            None,
        ),
        // seeds 001/002/003: fractional and order types
        (
            "LIMIT whole shares",
            r#""orderType":"LIMIT","quantity":10,"price":160"#,
            None,
        ),
        (
            "LIMIT 5.12580012 shares",
            r#""orderType":"LIMIT","quantity":"@5.12580012","price":160"#,
            Some(FractionalNotAllowed),
        ),
        (
            "LIMIT amountCash",
            r#""orderType":"LIMIT","quantity":null,"amountCash":100,"price":160"#,
            Some(FractionalNotAllowed),
        ),
        (
            "MARKET 5.12580012 shares",
            r#""quantity":"@5.12580012""#,
            None,
        ),
        (
            "MARKET_IF_TOUCHED fractional",
            r#""orderType":"MARKET_IF_TOUCHED","quantity":"@0.555555","price":150"#,
            None,
        ),
        (
            "not fractionable",
            r#""symbol":"BRK.A","quantity":"@0.555555""#,
            Some(FractionalNotAllowed),
        ),
        (
            "not fractionable, amountCash",
            r#""symbol":"BRK.A","quantity":null,"amountCash":100"#,
            Some(FractionalNotAllowed),
        ),
        (
            "not fractionable, whole",
            r#""symbol":"BRK.A","quantity":1"#,
            None,
        ),
        (
            "GTX needs LIMIT",
            r#""timeInForce":"GTX""#,
            Some(OrderTypeNotAllowed),
        ),
        (
            "GTX LIMIT",
            r#""timeInForce":"GTX","orderType":"LIMIT","price":160"#,
            None,
        ),
        (
            "crypto MARKET amountCash",
            r#""symbol":"BTC","quantity":null,"amountCash":30"#,
            None,
        ),
        (
            "crypto LIMIT",
            r#""symbol":"BTC","orderType":"LIMIT","price":60000"#,
            Some(OrderTypeNotAllowed),
        ),
        // instrument order sizes
        ("size at minimum", r#""symbol":"STEP","quantity":0.1"#, None),
        (
            "size below minimum",
            r#""symbol":"STEP","quantity":0.09"#,
            Some(OrderSizeInvalid),
        ),
        (
            "size at maximum",
            r#""symbol":"STEP","quantity":1000"#,
            None,
        ),
        (
            "size above maximum",
            r#""symbol":"STEP","quantity":1000.1"#,
            Some(OrderSizeInvalid),
        ),
        (
            "size off the step",
            r#""symbol":"STEP","quantity":0.15"#,
            Some(OrderSizeInvalid),
        ),
        // first failing check decides
        (
            "account before clientID",
            r#""accountNo":"X","clientID":null"#,
            Some(AccountNotAllowed),
        ),
        (
            "clientID before instrument",
            r#""clientID":"ACMECO","symbol":"MS""#,
            Some(ClientIdInvalid),
        ),
        (
            "halt before fractional",
            r#""symbol":"HALT","orderType":"LIMIT","price":1,"quantity":"@0.555555""#,
            Some(InstrumentHalted),
        ),
    ];
    for (what, fields, expected) in cases {
        let result = outcome(fields, REGULAR, &rules);
        match (expected, &result) {
            (None, Ok(queued)) => assert_eq!(*queued, None, "{what}"),
            (Some(code), Err((got, message))) => {
                assert_eq!(got, code, "{what}: {message}");
                assert!(!message.is_empty());
            }
            _ => panic!("{what}: expected {expected:?}, got {result:?}"),
        }
    }
}

#[test]
fn whole_shares_on_a_halt_can_be_refused_by_config() {
    let rules = rules("[halts]\nwhole_share = \"reject\"\n");
    let (code, message) = outcome(r#""symbol":"HALT","quantity":3"#, REGULAR, &rules).unwrap_err();
    assert_eq!(code, RejectCode::InstrumentHalted);
    assert!(message.contains("halts.whole_share"), "{message}");
}

#[test]
fn messages_carry_the_deciding_values() {
    let rules = rules("");
    let message = |fields: &str| outcome(fields, REGULAR, &rules).unwrap_err().1;
    assert_eq!(
        message(r#""symbol":"HALT","quantity":"@0.555555""#),
        "HALT is halted; fractional orders (0.555555 shares) are rejected during a halt"
    );
    assert_eq!(
        message(r#""orderType":"LIMIT","quantity":"@5.12580012","price":160"#),
        "LIMIT orders take whole shares only; this one is for 5.12580012 shares"
    );
    assert_eq!(
        message(r#""symbol":"STEP","quantity":0.15"#),
        "quantity 0.15 is not a multiple of STEP's order size step 0.1"
    );
    assert_eq!(
        message(r#""accountNo":"CSSW000001""#),
        "accountNo \"CSSW000001\" is not one of this gateway's omnibus accounts (omnibus.account_numbers)"
    );
}

#[test]
fn prevent_queuing_after_4pm_et_is_market_closed() {
    let rules = rules("");
    let prevent = r#""preventQueuing":true"#;
    // seeds 001/002: "rejected if received after 4:00pm ET"
    assert_eq!(
        outcome(prevent, "2026-11-19T15:59:59-05:00", &rules),
        Ok(None)
    );
    let (code, message) = outcome(prevent, "2026-11-19T16:00:00-05:00", &rules).unwrap_err();
    assert_eq!(code, RejectCode::MarketClosed);
    assert!(message.contains("post-market"), "{message}");
    assert!(message.contains("Fri 2026-11-20 09:30 ET"), "{message}");
    // Without preventQueuing the order is accepted, queued for the next open.
    assert_eq!(
        outcome("", "2026-11-19T16:00:00-05:00", &rules),
        Ok(Some(at("2026-11-20T09:30:00-05:00")))
    );
    // 09:29:59 is pre-market (queued); 09:30:00 is the open.
    assert_eq!(
        outcome("", "2026-11-19T09:29:59-05:00", &rules),
        Ok(Some(at("2026-11-19T09:30:00-05:00")))
    );
    assert_eq!(
        outcome(prevent, "2026-11-19T09:30:00-05:00", &rules),
        Ok(None)
    );
    // GTX LIMIT orders trade in the extended sessions, not overnight.
    let gtx = r#""timeInForce":"GTX","orderType":"LIMIT","price":160,"preventQueuing":true"#;
    assert_eq!(outcome(gtx, "2026-11-19T16:00:00-05:00", &rules), Ok(None));
    assert_eq!(outcome(gtx, "2026-11-19T04:00:00-05:00", &rules), Ok(None));
    assert_eq!(
        outcome(gtx, "2026-11-19T20:00:00-05:00", &rules)
            .unwrap_err()
            .0,
        RejectCode::MarketClosed
    );
}

#[test]
fn weekends_holidays_and_early_closes_queue_for_the_next_open() {
    let rules = rules("");
    // Saturday → Monday.
    assert_eq!(
        outcome("", "2026-11-21T12:00:00-05:00", &rules),
        Ok(Some(at("2026-11-23T09:30:00-05:00")))
    );
    // Wednesday after close → Friday, over the Thanksgiving holiday.
    assert_eq!(
        outcome("", "2026-11-25T17:00:00-05:00", &rules),
        Ok(Some(at("2026-11-27T09:30:00-05:00")))
    );
    // The early close: 12:59:59 executes, 13:00:00 is post-market.
    assert_eq!(outcome("", "2026-11-27T12:59:59-05:00", &rules), Ok(None));
    assert_eq!(
        outcome(
            r#""preventQueuing":true"#,
            "2026-11-27T13:00:00-05:00",
            &rules
        )
        .unwrap_err()
        .0,
        RejectCode::MarketClosed
    );
    // Crypto trades 24/7 and is never queued.
    assert_eq!(
        outcome(
            r#""symbol":"BTC","preventQueuing":true"#,
            "2026-11-21T03:00:00-05:00",
            &rules
        ),
        Ok(None)
    );
}

#[test]
fn daylight_saving_moves_the_open_in_utc() {
    let rules = rules("");
    // Friday 2026-03-06 (EST): 09:30 ET = 14:30Z. Monday 2026-03-09 (EDT): 09:30 ET = 13:30Z.
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-03-06T14:30:00Z", &rules),
        Ok(None)
    );
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-03-06T14:29:59Z", &rules)
            .unwrap_err()
            .0,
        RejectCode::MarketClosed
    );
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-03-09T13:30:00Z", &rules),
        Ok(None)
    );
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-03-09T13:29:59Z", &rules)
            .unwrap_err()
            .0,
        RejectCode::MarketClosed
    );
    assert_eq!(
        outcome("", "2026-03-07T12:00:00Z", &rules),
        Ok(Some(at("2026-03-09T13:30:00Z")))
    );
    // Friday 2026-10-30 (EDT) close 20:00Z; Monday 2026-11-02 (EST) close 21:00Z.
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-10-30T19:59:59Z", &rules),
        Ok(None)
    );
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-10-30T20:00:00Z", &rules)
            .unwrap_err()
            .0,
        RejectCode::MarketClosed
    );
    assert_eq!(
        outcome(r#""preventQueuing":true"#, "2026-11-02T20:30:00Z", &rules),
        Ok(None)
    );
    assert_eq!(
        outcome("", "2026-10-31T12:00:00Z", &rules),
        Ok(Some(at("2026-11-02T14:30:00Z")))
    );
}

#[test]
fn cancels_inside_the_opening_cutoff_are_refused() {
    let rules = rules("");
    let open = at("2026-11-20T09:30:00-05:00");
    let queued = |exchange| Some(QueuedOrder { exchange, open });
    let cancel = |exchange, now: &str| {
        decide_cancel("EF.1", queued(exchange), &rules, at(now)).map_err(|r| r.code)
    };
    use crate::instruments::Exchange::*;
    // seeds 001/002: NASDAQ, BATS, IEX 9:28am ET
    for exchange in [Nasdaq, Bats, Iex] {
        assert_eq!(cancel(exchange, "2026-11-20T09:27:59-05:00"), Ok(()));
        assert_eq!(
            cancel(exchange, "2026-11-20T09:28:00-05:00"),
            Err(RejectCode::CancelNotAllowed)
        );
        assert_eq!(
            cancel(exchange, "2026-11-20T09:29:59-05:00"),
            Err(RejectCode::CancelNotAllowed)
        );
        assert_eq!(cancel(exchange, "2026-11-20T09:30:00-05:00"), Ok(()));
    }
    // NYSE ARCA, NYSE American 9:29am ET
    for exchange in [Arca, Amex] {
        assert_eq!(cancel(exchange, "2026-11-20T09:28:30-05:00"), Ok(()));
        assert_eq!(
            cancel(exchange, "2026-11-20T09:29:00-05:00"),
            Err(RejectCode::CancelNotAllowed)
        );
    }
    // NYSE: at the open, so no window.
    assert_eq!(cancel(Nyse, "2026-11-20T09:29:59-05:00"), Ok(()));
    // An order not queued for the open, or queued for another day's open, may be canceled.
    assert_eq!(
        decide_cancel("EF.1", None, &rules, at("2026-11-20T09:29:00-05:00")),
        Ok(())
    );
    let later = Some(QueuedOrder {
        exchange: Nasdaq,
        open: at("2026-11-23T09:30:00-05:00"),
    });
    assert!(decide_cancel("EF.1", later, &rules, at("2026-11-20T09:29:00-05:00")).is_ok());
    let message = decide_cancel(
        "EF.1",
        queued(Nasdaq),
        &rules,
        at("2026-11-20T09:28:10-05:00"),
    )
    .unwrap_err()
    .message;
    assert!(message.contains("09:28 ET"), "{message}");
}
