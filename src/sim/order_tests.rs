//! The order state machine, step by step, against the seeds' words.

use super::*;

fn fixed(text: &str) -> Fixed {
    Fixed::parse(text).unwrap()
}

fn order(order_type: OrderType, size: Size, price: Option<&str>) -> Order {
    let request = OrderRequest {
        account_no: "DWOM000001".to_owned(),
        order_type,
        side: Side::Buy,
        symbol: Some("AAPL".to_owned()),
        instrument_id: None,
        size,
        price: price.map(fixed),
        client_order_id: None,
        extended_hours: false,
        prevent_queuing: false,
        good_till_canceled: false,
    };
    placed(request, Placement::default())
}

fn placed(request: OrderRequest, placement: Placement) -> Order {
    let created = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    Order::new(
        "SM.1".to_owned(),
        "SMXX000001".to_owned(),
        request,
        created,
        placement,
    )
}

/// An open market at `price`, no halt, no omni balance kept.
fn at(price: &str) -> Conditions {
    Conditions {
        now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        price: fixed(price),
        trading: true,
        halted: false,
        cash: None,
    }
}

/// Seed `001`: "for orders that are fractional but > 1 shares (eg. 5.12580012) you will
/// receive a PARTIAL_FILL status for the whole share execution, and upon fractional share
/// execution the status will be updated to FILLED."
#[test]
fn fractional_above_one_share_fills_whole_part_first() {
    let mut order = order(OrderType::Market, Size::Quantity(fixed("5.12580012")), None);
    assert_eq!(order.status(), Status::New);
    assert_eq!(order.average_price(), Fixed::ZERO);

    assert_eq!(order.advance(at("190")), Progress::PartiallyFilled);
    assert_eq!(order.status(), Status::PartialFill);
    assert_eq!(order.cumulative_quantity(), fixed("5"));
    assert_eq!(order.quantity(), fixed("5.12580012"));
    assert_eq!(order.average_price(), fixed("190"));
    assert_eq!(order.total_order_amount(), fixed("950"));

    // The price moved; the order keeps its first fill price.
    assert_eq!(order.advance(at("200")), Progress::Filled);
    assert_eq!(order.status(), Status::Filled);
    assert_eq!(order.cumulative_quantity(), fixed("5.12580012"));
    assert_eq!(order.average_price(), fixed("190"));
    assert_eq!(order.total_order_amount(), fixed("973.9020228"));

    assert_eq!(order.advance(at("190")), Progress::Unchanged);
    assert_eq!(order.status(), Status::Filled);
}

/// Seed `001`: "On fractional orders that are < 1 share you should not expect to receive a
/// PARTIAL_FILL status."
#[test]
fn below_one_share_and_whole_shares_fill_in_one_step() {
    for quantity in ["0.5", "10", "1"] {
        let mut order = order(OrderType::Market, Size::Quantity(fixed(quantity)), None);
        assert_eq!(order.advance(at("100")), Progress::Filled, "{quantity}");
        assert_eq!(order.status(), Status::Filled);
        assert_eq!(order.cumulative_quantity(), fixed(quantity));
    }
    let mut half = order(OrderType::Market, Size::Quantity(fixed("0.5")), None);
    half.advance(at("190.01"));
    assert_eq!(half.total_order_amount(), fixed("95.005"));
}

#[test]
fn amount_cash_buys_truncated_quantity_in_one_step() {
    let mut order = order(OrderType::Market, Size::AmountCash(fixed("1000")), None);
    assert_eq!(order.quantity(), Fixed::ZERO);
    assert_eq!(order.amount_cash(), Some(fixed("1000")));
    assert_eq!(order.advance(at("3")), Progress::Filled);
    // 1000 / 3 = 333.333333333…, truncated to eight places.
    assert_eq!(order.quantity(), fixed("333.33333333"));
    assert_eq!(order.cumulative_quantity(), fixed("333.33333333"));
    assert_eq!(order.average_price(), fixed("3"));
    assert_eq!(order.total_order_amount(), fixed("999.99999999"));
    assert!(order.total_order_amount() <= fixed("1000"));
}

#[test]
fn amount_cash_that_buys_nothing_is_rejected() {
    let mut order = order(
        OrderType::Market,
        Size::AmountCash(fixed("0.00000001")),
        None,
    );
    assert_eq!(order.advance(at("190")), Progress::Rejected);
    assert_eq!(order.status(), Status::Rejected);
    assert_eq!(order.cumulative_quantity(), Fixed::ZERO);
    assert!(order
        .status_message()
        .unwrap()
        .contains("amountCash 0.00000001"));
}

/// Seed `001`: "It is possible for the customer to receive a price better than requested."
#[test]
fn limit_orders_wait_for_their_price_and_fill_at_the_better_one() {
    let mut buy = order(OrderType::Limit, Size::Quantity(fixed("10")), Some("160"));
    assert_eq!(buy.advance(at("170")), Progress::Waiting);
    assert_eq!(buy.status(), Status::New);
    assert_eq!(buy.advance(at("160.01")), Progress::Waiting);
    assert_eq!(buy.advance(at("155")), Progress::Filled);
    assert_eq!(buy.average_price(), fixed("155"));
    assert_eq!(buy.total_order_amount(), fixed("1550"));

    let mut sell = order_with(OrderType::Limit, "10", "160");
    sell.request.side = Side::Sell;
    assert_eq!(sell.advance(at("159.99")), Progress::Waiting);
    assert_eq!(sell.advance(at("160")), Progress::Filled);
    assert_eq!(sell.average_price(), fixed("160"));
}

/// Seed `001`: a stop order is "Buy if price goes up", a market-if-touched order "Buy if
/// price goes down" ("the same side of the current price as limit orders"); SELLs mirror
/// them; once triggered, "a market order". (The seed's trigger table reads "ask >=" for a
/// MIT BUY, against its own two sentences; SPEC §9 follows the sentences.)
#[test]
fn stop_and_market_if_touched_wait_for_their_trigger_then_fill_at_market() {
    let cases = [
        (OrderType::Stop, Side::Buy, "99.99", "100"),
        (OrderType::Stop, Side::Sell, "100.01", "100"),
        (OrderType::MarketIfTouched, Side::Buy, "100.01", "100"),
        (OrderType::MarketIfTouched, Side::Sell, "99.99", "100"),
    ];
    for (order_type, side, not_yet, trigger) in cases {
        let mut order = order_with(order_type, "2", "100");
        order.request.side = side;
        let case = format!("{order_type:?} {side:?}");
        assert_eq!(order.advance(at(not_yet)), Progress::Waiting, "{case}");
        assert_eq!(order.advance(at(trigger)), Progress::Filled, "{case}");
        assert_eq!(order.average_price(), fixed(trigger), "{case}");
    }
    // Past the trigger, the fill is at the market price, not the trigger.
    let mut stop = order_with(OrderType::Stop, "2", "100");
    assert_eq!(stop.advance(at("101.5")), Progress::Filled);
    assert_eq!(stop.average_price(), fixed("101.5"));
}

#[test]
fn a_closed_session_holds_every_order() {
    let mut order = order(OrderType::Market, Size::Quantity(fixed("1")), None);
    let closed = Conditions {
        trading: false,
        ..at("100")
    };
    assert_eq!(order.advance(closed), Progress::Waiting);
    assert_eq!(order.status(), Status::New);
    assert_eq!(order.advance(at("100")), Progress::Filled);
}

/// Seed `001`, "Security halts": whole shares wait PENDING, fractional ones are REJECTED.
#[test]
fn a_halt_holds_whole_shares_pending_and_rejects_fractional_ones() {
    let halted = Conditions {
        halted: true,
        ..at("100")
    };
    let mut whole = order(OrderType::Market, Size::Quantity(fixed("3")), None);
    assert_eq!(whole.advance(halted), Progress::Waiting);
    assert_eq!(whole.status(), Status::Pending);
    assert_eq!(whole.advance(at("100")), Progress::Filled);

    for size in [Size::Quantity(fixed("0.5")), Size::AmountCash(fixed("50"))] {
        let mut fractional = order(OrderType::Market, size, None);
        assert_eq!(fractional.advance(halted), Progress::Rejected);
        assert_eq!(fractional.status_message(), Some(FRACTIONAL_ON_HALT));
    }
}

/// Seed `003`: crypto is PENDING, then FILLED or REJECTED "in their entirety".
#[test]
fn crypto_is_pending_then_filled_whole_and_cannot_be_canceled() {
    let crypto = Placement {
        crypto: true,
        ..Placement::default()
    };
    let mut btc = order(OrderType::Market, Size::Quantity(fixed("1.5")), None);
    btc = placed(btc.request, crypto);
    assert_eq!(btc.status(), Status::Pending);
    assert_eq!(btc.cancel(), Err(Status::Pending));
    assert_eq!(btc.advance(at("65000")), Progress::Filled);
    assert_eq!(btc.cumulative_quantity(), fixed("1.5"));
}

/// Seed `003`: "If a Partner runs out of prefunding … 'insufficient funds'"; only BUYs.
#[test]
fn a_buy_beyond_the_omni_cash_is_rejected_and_a_sell_is_not() {
    let short = Conditions {
        cash: Some(fixed("999.99")),
        ..at("100")
    };
    let mut buy = order(OrderType::Market, Size::Quantity(fixed("10")), None);
    assert_eq!(buy.advance(short), Progress::Rejected);
    assert_eq!(buy.status_message(), Some(INSUFFICIENT_FUNDS));
    let mut exact = order(OrderType::Market, Size::Quantity(fixed("10")), None);
    let enough = Conditions {
        cash: Some(fixed("1000")),
        ..at("100")
    };
    assert_eq!(exact.advance(enough), Progress::Filled);
    let mut sell = order(OrderType::Market, Size::Quantity(fixed("10")), None);
    sell.request.side = Side::Sell;
    assert_eq!(sell.advance(short), Progress::Filled);
}

fn order_with(order_type: OrderType, quantity: &str, price: &str) -> Order {
    order(order_type, Size::Quantity(fixed(quantity)), Some(price))
}

#[test]
fn cancel_of_open_orders_keeps_what_filled() {
    let mut fresh = order(OrderType::Market, Size::Quantity(fixed("3")), None);
    assert_eq!(fresh.cancel(), Ok(()));
    assert_eq!(fresh.status(), Status::Canceled);
    assert_eq!(fresh.cumulative_quantity(), Fixed::ZERO);
    assert_eq!(fresh.advance(at("100")), Progress::Unchanged);

    let mut partial = order(OrderType::Market, Size::Quantity(fixed("5.12580012")), None);
    partial.advance(at("100"));
    assert_eq!(partial.cancel(), Ok(()));
    assert_eq!(partial.status(), Status::Canceled);
    assert_eq!(partial.cumulative_quantity(), fixed("5"));
    assert_eq!(partial.average_price(), fixed("100"));
    assert_eq!(partial.total_order_amount(), fixed("500"));
}

#[test]
fn cancel_of_final_orders_is_refused() {
    let mut filled = order(OrderType::Market, Size::Quantity(fixed("1")), None);
    filled.advance(at("100"));
    assert_eq!(filled.cancel(), Err(Status::Filled));
    assert_eq!(filled.status(), Status::Filled);

    let mut canceled = order(OrderType::Market, Size::Quantity(fixed("1")), None);
    canceled.cancel().unwrap();
    assert_eq!(canceled.cancel(), Err(Status::Canceled));
}

#[test]
fn overflowing_amounts_reject_instead_of_wrapping() {
    let mut order = order(
        OrderType::Market,
        Size::Quantity(fixed("90000000000")),
        None,
    );
    assert_eq!(order.advance(at("1000")), Progress::Rejected);
    assert!(order.status_message().unwrap().contains("overflows"));
}

#[test]
fn names_match_drivewealth() {
    assert_eq!(
        OrderType::parse("MARKET_IF_TOUCHED"),
        Some(OrderType::MarketIfTouched)
    );
    assert_eq!(OrderType::parse("market"), None);
    assert_eq!(Status::PartialFill.as_str(), "PARTIAL_FILL");
    assert_eq!(Status::Canceled.as_str(), "CANCELED");
    assert!(!Status::PartialFill.is_final());
    assert_eq!(Side::parse("SELL"), Some(Side::Sell));
}

/// A DAY order unfilled at its `orderExpires` is canceled; a GTC one is not.
#[test]
fn day_orders_expire_unfilled_at_order_expires() {
    let expires = DateTime::from_timestamp(1_800_003_600, 0).unwrap();
    let placement = Placement {
        expires: Some(expires),
        ..Placement::default()
    };
    let late = Conditions {
        now: expires,
        ..at("200")
    };
    let mut day = order_with(OrderType::Limit, "10", "160");
    day = placed(day.request, placement);
    assert_eq!(
        day.advance(at("200")),
        Progress::Waiting,
        "before its expiry"
    );
    assert_eq!(day.advance(late), Progress::Expired);
    assert_eq!(day.status(), Status::Canceled);
    assert!(day
        .status_message()
        .unwrap()
        .starts_with("expired unfilled at"));

    let mut gtc = order_with(OrderType::Limit, "10", "160");
    gtc.request.good_till_canceled = true;
    gtc = placed(gtc.request, placement);
    assert_eq!(gtc.advance(late), Progress::Waiting);
}

/// A BUY takes its whole cost at its first fill, holds the rest through a partial fill, and a
/// cancel after it gives back what did not fill; a SELL's proceeds come in as it fills.
#[test]
fn cash_taken_holds_a_partial_buys_remainder_and_a_cancel_gives_it_back() {
    let mut buy = order(OrderType::Market, Size::Quantity(fixed("5.5")), None);
    assert_eq!(buy.cash_taken(), Fixed::ZERO);
    assert_eq!(buy.advance(at("100")), Progress::PartiallyFilled);
    assert_eq!(buy.cash_taken(), fixed("550"), "the remainder is held");
    let mut canceled = buy.clone();
    assert_eq!(canceled.cancel(), Ok(()));
    assert_eq!(canceled.cash_taken(), fixed("500"), "what filled");
    let halted = Conditions {
        halted: true,
        ..at("100")
    };
    assert_eq!(
        buy.advance(halted),
        Progress::Waiting,
        "the remainder waits too"
    );
    assert_eq!(buy.advance(at("100")), Progress::Filled);
    assert_eq!(buy.cash_taken(), fixed("550"));

    let mut sell = order_with(OrderType::Market, "2", "1");
    sell.request.side = Side::Sell;
    sell.request.order_type = OrderType::Market;
    sell.advance(at("100"));
    assert_eq!(sell.cash_taken(), fixed("-200"));
}
