//! One simulated order and its lifecycle, as a pure state machine (no I/O, no clock, no locks).
//!
//! DriveWealth's lifecycle (seed `001`, "General Order workflow"):
//!
//! ```text
//!   NEW ──▶ PARTIAL_FILL ──▶ FILLED          (quantity > 1 share with a fractional part:
//!    │           │                            the whole shares first, e.g. 5 of 5.12580012)
//!    ├──────────────────────▶ FILLED          (whole shares, < 1 share, or amountCash)
//!    ├──▶ CANCELED ◀─┘                        (cancel keeps cumulativeQuantity)
//!    └──▶ REJECTED                            (an amountCash that buys nothing; an overflow)
//! ```
//!
//! `FILLED`, `CANCELED` and `REJECTED` are final. The fill price is fixed at the first fill
//! step (the limit price for LIMIT orders, the market price otherwise), so `averagePrice` is
//! that price and `totalOrderAmount` is always `cumulativeQuantity × averagePrice`.

use chrono::{DateTime, Utc};

use crate::money::Fixed;

/// The simulator reads the same order types and sides as the gateway.
pub use crate::order::{OrderType, Side};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    PartialFill,
    Filled,
    Canceled,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::PartialFill => "PARTIAL_FILL",
            Self::Filled => "FILLED",
            Self::Canceled => "CANCELED",
            Self::Rejected => "REJECTED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected)
    }
}

/// How much the order is for: exactly one of DriveWealth's `quantity` / `amountCash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Shares, possibly fractional.
    Quantity(Fixed),
    /// USD notional; the share quantity is `amountCash / price`, truncated to 8 places.
    AmountCash(Fixed),
}

/// A validated create-order request (the fields the simulator acts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub account_no: String,
    pub order_type: OrderType,
    pub side: Side,
    pub symbol: Option<String>,
    pub instrument_id: Option<String>,
    pub size: Size,
    /// Limit price (LIMIT) or trigger price (STOP, MARKET_IF_TOUCHED); positive when present.
    pub price: Option<Fixed>,
    pub client_order_id: Option<String>,
}

impl OrderRequest {
    /// The instrument as the order names it: `symbol`, else `instrumentID`. Prices are looked
    /// up by this text.
    pub fn instrument(&self) -> &str {
        self.symbol
            .as_deref()
            .or(self.instrument_id.as_deref())
            .unwrap_or_default()
    }
}

/// What one call of [`Order::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    PartiallyFilled,
    Filled,
    Rejected,
    /// The order was already final.
    Unchanged,
}

/// One order with its DriveWealth status fields.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub order_no: String,
    pub request: OrderRequest,
    pub created: DateTime<Utc>,
    status: Status,
    cumulative_quantity: Fixed,
    /// Set at the first fill step and never changed after.
    fill_price: Option<Fixed>,
    /// The share quantity the order fills to: `quantity`, or for `amountCash` orders the
    /// quantity its cash buys at the fill price (unknown until then).
    fill_quantity: Option<Fixed>,
    total_order_amount: Fixed,
    reject_reason: Option<String>,
}

impl Order {
    pub fn new(
        id: String,
        order_no: String,
        request: OrderRequest,
        created: DateTime<Utc>,
    ) -> Self {
        let fill_quantity = match request.size {
            Size::Quantity(quantity) => Some(quantity),
            Size::AmountCash(_) => None,
        };
        Self {
            id,
            order_no,
            request,
            created,
            status: Status::New,
            cumulative_quantity: Fixed::ZERO,
            fill_price: None,
            fill_quantity,
            total_order_amount: Fixed::ZERO,
            reject_reason: None,
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn cumulative_quantity(&self) -> Fixed {
        self.cumulative_quantity
    }

    /// The fill price, or 0 before anything filled (as DriveWealth reports it).
    pub fn average_price(&self) -> Fixed {
        if self.cumulative_quantity.is_zero() {
            Fixed::ZERO
        } else {
            self.fill_price.unwrap_or(Fixed::ZERO)
        }
    }

    /// Requested shares; for an `amountCash` order the shares it filled to (0 before).
    pub fn quantity(&self) -> Fixed {
        self.fill_quantity.unwrap_or(Fixed::ZERO)
    }

    pub fn amount_cash(&self) -> Option<Fixed> {
        match self.request.size {
            Size::AmountCash(cash) => Some(cash),
            Size::Quantity(_) => None,
        }
    }

    pub fn total_order_amount(&self) -> Fixed {
        self.total_order_amount
    }

    pub fn reject_reason(&self) -> Option<&str> {
        self.reject_reason.as_deref()
    }

    /// Moves the order one fill step on. `market_price` is the instrument's current price;
    /// LIMIT orders fill at their limit price instead.
    pub fn advance(&mut self, market_price: Fixed) -> Progress {
        match self.status {
            Status::Filled | Status::Canceled | Status::Rejected => Progress::Unchanged,
            Status::New => self.first_fill(market_price),
            Status::PartialFill => {
                self.fill_to(self.quantity());
                Progress::Filled
            }
        }
    }

    fn first_fill(&mut self, market_price: Fixed) -> Progress {
        let price = match (self.request.order_type, self.request.price) {
            (OrderType::Limit, Some(limit)) => limit,
            _ => market_price,
        };
        if !price.is_positive() {
            return self.reject(format!("no positive price to fill at (price={price})"));
        }
        let target = match self.request.size {
            Size::Quantity(quantity) => quantity,
            Size::AmountCash(cash) => match cash.checked_div_floor(price) {
                Some(quantity) if quantity.is_positive() => quantity,
                _ => {
                    return self.reject(format!("amountCash {cash} buys no share at price {price}"))
                }
            },
        };
        // Checked once for the whole order, so no later step can overflow: every partial
        // quantity is at most `target`.
        if target.checked_mul_ceil(price).is_none() {
            return self.reject(format!(
                "order amount overflows (quantity={target} price={price})"
            ));
        }
        self.fill_price = Some(price);
        self.fill_quantity = Some(target);
        let fractional_above_one = matches!(self.request.size, Size::Quantity(_))
            && !target.is_whole()
            && target > Fixed::ONE;
        if fractional_above_one {
            self.fill_to(target.whole_part());
            Progress::PartiallyFilled
        } else {
            self.fill_to(target);
            Progress::Filled
        }
    }

    fn fill_to(&mut self, cumulative: Fixed) {
        let price = self.fill_price.unwrap_or(Fixed::ZERO);
        debug_assert!(
            cumulative <= self.quantity(),
            "fills never exceed the order"
        );
        self.cumulative_quantity = cumulative;
        // Rounded up like omnigate's own cost estimate (`checked_mul_ceil`); cannot fail after
        // the check in `first_fill`, MAX keeps the type total.
        self.total_order_amount = cumulative.checked_mul_ceil(price).unwrap_or(Fixed::MAX);
        self.status = if cumulative == self.quantity() {
            Status::Filled
        } else {
            Status::PartialFill
        };
    }

    fn reject(&mut self, reason: String) -> Progress {
        self.status = Status::Rejected;
        self.reject_reason = Some(reason);
        Progress::Rejected
    }

    /// `PATCH … {"method":"CANCEL"}`: cancels an open order, keeping what already filled.
    /// A final order stays as it is; the error carries its status.
    pub fn cancel(&mut self) -> Result<(), Status> {
        if self.status.is_final() {
            return Err(self.status);
        }
        self.status = Status::Canceled;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
        };
        let created = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Order::new("SM.1".to_owned(), "SMXX000001".to_owned(), request, created)
    }

    /// Seed `001`: "for orders that are fractional but > 1 shares (eg. 5.12580012) you will
    /// receive a PARTIAL_FILL status for the whole share execution, and upon fractional share
    /// execution the status will be updated to FILLED."
    #[test]
    fn fractional_above_one_share_fills_whole_part_first() {
        let mut order = order(OrderType::Market, Size::Quantity(fixed("5.12580012")), None);
        assert_eq!(order.status(), Status::New);
        assert_eq!(order.average_price(), Fixed::ZERO);

        assert_eq!(order.advance(fixed("190")), Progress::PartiallyFilled);
        assert_eq!(order.status(), Status::PartialFill);
        assert_eq!(order.cumulative_quantity(), fixed("5"));
        assert_eq!(order.quantity(), fixed("5.12580012"));
        assert_eq!(order.average_price(), fixed("190"));
        assert_eq!(order.total_order_amount(), fixed("950"));

        // The price moved; the order keeps its first fill price.
        assert_eq!(order.advance(fixed("200")), Progress::Filled);
        assert_eq!(order.status(), Status::Filled);
        assert_eq!(order.cumulative_quantity(), fixed("5.12580012"));
        assert_eq!(order.average_price(), fixed("190"));
        assert_eq!(order.total_order_amount(), fixed("973.9020228"));

        assert_eq!(order.advance(fixed("190")), Progress::Unchanged);
        assert_eq!(order.status(), Status::Filled);
    }

    /// Seed `001`: "On fractional orders that are < 1 share you should not expect to receive a
    /// PARTIAL_FILL status."
    #[test]
    fn below_one_share_and_whole_shares_fill_in_one_step() {
        for quantity in ["0.5", "10", "1"] {
            let mut order = order(OrderType::Market, Size::Quantity(fixed(quantity)), None);
            assert_eq!(order.advance(fixed("100")), Progress::Filled, "{quantity}");
            assert_eq!(order.status(), Status::Filled);
            assert_eq!(order.cumulative_quantity(), fixed(quantity));
        }
        let mut half = order(OrderType::Market, Size::Quantity(fixed("0.5")), None);
        half.advance(fixed("190.01"));
        assert_eq!(half.total_order_amount(), fixed("95.005"));
    }

    #[test]
    fn amount_cash_buys_truncated_quantity_in_one_step() {
        let mut order = order(OrderType::Market, Size::AmountCash(fixed("1000")), None);
        assert_eq!(order.quantity(), Fixed::ZERO);
        assert_eq!(order.amount_cash(), Some(fixed("1000")));
        assert_eq!(order.advance(fixed("3")), Progress::Filled);
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
        assert_eq!(order.advance(fixed("190")), Progress::Rejected);
        assert_eq!(order.status(), Status::Rejected);
        assert_eq!(order.cumulative_quantity(), Fixed::ZERO);
        assert!(order
            .reject_reason()
            .unwrap()
            .contains("amountCash 0.00000001"));
    }

    #[test]
    fn limit_orders_fill_at_their_limit_price() {
        let mut order = order(OrderType::Limit, Size::Quantity(fixed("10")), Some("160"));
        assert_eq!(order.advance(fixed("155")), Progress::Filled);
        assert_eq!(order.average_price(), fixed("160"));
        assert_eq!(order.total_order_amount(), fixed("1600"));

        // STOP and MARKET_IF_TOUCHED carry a trigger price, not a fill price.
        let mut stop = order_with(OrderType::Stop, "2", "100");
        stop.advance(fixed("101.5"));
        assert_eq!(stop.average_price(), fixed("101.5"));
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
        assert_eq!(fresh.advance(fixed("100")), Progress::Unchanged);

        let mut partial = order(OrderType::Market, Size::Quantity(fixed("5.12580012")), None);
        partial.advance(fixed("100"));
        assert_eq!(partial.cancel(), Ok(()));
        assert_eq!(partial.status(), Status::Canceled);
        assert_eq!(partial.cumulative_quantity(), fixed("5"));
        assert_eq!(partial.average_price(), fixed("100"));
        assert_eq!(partial.total_order_amount(), fixed("500"));
    }

    #[test]
    fn cancel_of_final_orders_is_refused() {
        let mut filled = order(OrderType::Market, Size::Quantity(fixed("1")), None);
        filled.advance(fixed("100"));
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
        assert_eq!(order.advance(fixed("1000")), Progress::Rejected);
        assert!(order.reject_reason().unwrap().contains("overflows"));
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
}
