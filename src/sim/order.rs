//! One simulated order and its lifecycle, as a pure state machine (no I/O, no clock, no locks):
//! each step is given the [`Conditions`] the order meets (price, session, halt, omni cash) and
//! moves the order on or leaves it waiting.
//!
//! DriveWealth's lifecycle (seed `001`, "General Order workflow"; seed `003` for crypto):
//!
//! ```text
//!   NEW ──▶ PARTIAL_FILL ──▶ FILLED          (quantity > 1 share with a fractional part:
//!    │           │                            the whole shares first, e.g. 5 of 5.12580012)
//!    ├──────────────────────▶ FILLED          (whole shares, < 1 share, or amountCash)
//!    ├──▶ PENDING ──▶ …                       (a whole-share order held by a halt)
//!    ├──▶ CANCELED ◀─┘                        (cancel keeps cumulativeQuantity; a DAY order
//!    │                                         unfilled at its orderExpires)
//!    └──▶ REJECTED                            (fractional on a halt, insufficient funds, …)
//!
//!   PENDING ──▶ FILLED | REJECTED             (crypto: whole or nothing, never canceled)
//! ```
//!
//! `FILLED`, `CANCELED` and `REJECTED` are final. An order waits, unchanged, while its session
//! is closed, its instrument is halted, or its price condition is not met (seed `001`, "Order
//! Types"): a LIMIT BUY fills once the price is at or below its limit (SELL: at or above), at
//! the market price, which is then the better of the two; a STOP BUY triggers at or above its
//! price, a MARKET_IF_TOUCHED BUY at or below it (SELLs mirrored), and then fills as a MARKET
//! order. The fill price is fixed at the first fill step, so `averagePrice` is that price and
//! `totalOrderAmount` is always `cumulativeQuantity × averagePrice`.

use chrono::{DateTime, Utc};

use crate::money::Fixed;

/// The simulator reads the same order types, sides and sizes as the gateway, and speaks
/// DriveWealth's order statuses as the ledger reads them (the simulator never sets
/// `PENDING_CANCEL`).
pub use crate::ledger::OrderStatus as Status;
pub use crate::order::{OrderType, Side, Size};

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
    /// `timeInForce: GTX`: may execute in the pre- and post-market sessions.
    pub extended_hours: bool,
    /// `preventQueuing: true`: refuse rather than queue for the next open.
    pub prevent_queuing: bool,
    /// `timeInForce: GTC` (DriveWealth's default for STOP and MARKET_IF_TOUCHED): the order
    /// does not expire at `orderExpires`.
    pub good_till_canceled: bool,
}

impl OrderRequest {
    /// The instrument as the order names it: `symbol`, else `instrumentID`.
    pub fn instrument(&self) -> &str {
        self.symbol
            .as_deref()
            .or(self.instrument_id.as_deref())
            .unwrap_or_default()
    }
}

/// Where and when the order was placed: decided once, at create, from the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement {
    /// Crypto: `PENDING` from the start, filled or rejected whole, never canceled.
    pub crypto: bool,
    /// The regular open an order placed outside its session waits for.
    pub queued_for: Option<DateTime<Utc>>,
    /// DriveWealth's `orderExpires`: 4:00pm ET of the session the order executes in.
    pub expires: Option<DateTime<Utc>>,
}

/// What the market looks like to one order at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions {
    pub now: DateTime<Utc>,
    /// The instrument's current price.
    pub price: Fixed,
    /// The order's session is trading (regular hours, extended hours for GTX, always for crypto).
    pub trading: bool,
    pub halted: bool,
    /// Omni cash a BUY may spend, when the simulator keeps a balance.
    pub cash: Option<Fixed>,
}

/// What one call of [`Order::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    PartiallyFilled,
    Filled,
    Rejected,
    /// Nothing changed: the session is closed, a halt holds the order or its price condition
    /// is not met. The status may have moved to `PENDING` (a halt).
    Waiting,
    /// A DAY order still unfilled at its `orderExpires`: `CANCELED`.
    Expired,
    /// The order was already final.
    Unchanged,
}

/// DriveWealth's answer to a BUY beyond the omni account's cash (seed `003`).
pub const INSUFFICIENT_FUNDS: &str = "insufficient funds";
/// Seed `001`: "Fractional Share orders … that are submitted during a security halt are
/// immediately REJECTED."
pub const FRACTIONAL_ON_HALT: &str =
    "fractional orders are rejected while the instrument is halted";

/// One order with its DriveWealth status fields.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub order_no: String,
    pub request: OrderRequest,
    pub created: DateTime<Utc>,
    pub placement: Placement,
    status: Status,
    cumulative_quantity: Fixed,
    /// Set at the first fill step and never changed after.
    fill_price: Option<Fixed>,
    /// The share quantity the order fills to: `quantity`, or for `amountCash` orders the
    /// quantity its cash buys at the fill price (unknown until then).
    fill_quantity: Option<Fixed>,
    total_order_amount: Fixed,
    status_message: Option<String>,
}

impl Order {
    pub fn new(
        id: String,
        order_no: String,
        request: OrderRequest,
        created: DateTime<Utc>,
        placement: Placement,
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
            placement,
            status: if placement.crypto {
                Status::Pending
            } else {
                Status::New
            },
            cumulative_quantity: Fixed::ZERO,
            fill_price: None,
            fill_quantity,
            total_order_amount: Fixed::ZERO,
            status_message: None,
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

    pub fn status_message(&self) -> Option<&str> {
        self.status_message.as_deref()
    }

    /// The omni cash this order has taken so far (negative: a SELL's proceeds). A BUY takes its
    /// whole cost at its first fill, so a partial fill holds the rest for its remainder, and a
    /// cancel after it gives back what did not fill.
    pub fn cash_taken(&self) -> Fixed {
        let Some(price) = self.fill_price else {
            return Fixed::ZERO;
        };
        match self.request.side {
            Side::Buy if self.status == Status::PartialFill => self
                .quantity()
                .checked_mul_ceil(price)
                .unwrap_or(Fixed::MAX),
            Side::Buy => self.total_order_amount,
            Side::Sell => self.total_order_amount.checked_neg().unwrap_or(Fixed::ZERO),
        }
    }

    /// Queued for an open that has not come yet, with nothing filled: the orders an
    /// exchange's opening cut-off stops cancels of.
    pub fn queued_for_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let open = self.placement.queued_for?;
        (now < open && self.cumulative_quantity.is_zero()).then_some(open)
    }

    /// When a DAY order that has not traded is canceled: its `orderExpires`. A GTC order, and
    /// one without `orderExpires` (crypto, extended hours, no calendar), does not expire.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        if self.request.good_till_canceled || !self.cumulative_quantity.is_zero() {
            return None;
        }
        self.placement.expires
    }

    /// Moves the order one step on under `market`, or leaves it waiting.
    pub fn advance(&mut self, market: Conditions) -> Progress {
        match self.status {
            Status::Filled | Status::Canceled | Status::Rejected | Status::PendingCancel => {
                Progress::Unchanged
            }
            Status::PartialFill => {
                // The remainder trades under the same session and halt as the first part; its
                // cash was taken with the first part.
                if market.halted || !market.trading {
                    return Progress::Waiting;
                }
                self.fill_to(self.quantity());
                Progress::Filled
            }
            Status::New | Status::Pending => {
                if let Some(expires) = self.expires_at().filter(|at| market.now >= *at) {
                    self.status = Status::Canceled;
                    self.status_message = Some(format!(
                        "expired unfilled at {}",
                        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ));
                    return Progress::Expired;
                }
                if market.halted {
                    return self.meet_halt();
                }
                if !market.trading {
                    return Progress::Waiting;
                }
                match self.execution_price(market.price) {
                    Some(price) => self.first_fill(price, market.cash),
                    None => Progress::Waiting,
                }
            }
        }
    }

    /// A halt on an order that has not traded: seed `001`, "Whole Share orders … are left in a
    /// PENDING state, and will be processed once the halt has been lifted"; "Fractional Share
    /// orders … are immediately REJECTED".
    pub fn meet_halt(&mut self) -> Progress {
        if self.request.size.is_fractional() {
            return self.reject(FRACTIONAL_ON_HALT.to_owned());
        }
        self.status = Status::Pending;
        Progress::Waiting
    }

    /// The price the order executes at now, or `None` while its condition is not met. A met
    /// trigger fills in the same step, so a STOP or MARKET_IF_TOUCHED order needs no memory
    /// of having been triggered.
    fn execution_price(&self, market: Fixed) -> Option<Fixed> {
        let Some(price) = self.request.price else {
            return Some(market);
        };
        let buy = self.request.side == Side::Buy;
        let met = match self.request.order_type {
            OrderType::Market => true,
            // Marketable at or better than the limit; the market price is then the better one.
            OrderType::Limit => (buy && market <= price) || (!buy && market >= price),
            OrderType::Stop => (buy && market >= price) || (!buy && market <= price),
            OrderType::MarketIfTouched => (buy && market <= price) || (!buy && market >= price),
        };
        met.then_some(market)
    }

    fn first_fill(&mut self, price: Fixed, cash: Option<Fixed>) -> Progress {
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
        let Some(cost) = target.checked_mul_ceil(price) else {
            return self.reject(format!(
                "order amount overflows (quantity={target} price={price})"
            ));
        };
        if self.request.side == Side::Buy && cash.is_some_and(|cash| cost > cash) {
            return self.reject(INSUFFICIENT_FUNDS.to_owned());
        }
        self.fill_price = Some(price);
        self.fill_quantity = Some(target);
        let fractional_above_one = matches!(self.request.size, Size::Quantity(_))
            && !self.placement.crypto
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
        self.status_message = Some(reason);
        Progress::Rejected
    }

    /// `PATCH … {"method":"CANCEL"}`: cancels an open order, keeping what already filled.
    /// A final order stays as it is, and so does a crypto order (seed `003`: PENDING is
    /// immutable); the error carries the status.
    pub fn cancel(&mut self) -> Result<(), Status> {
        if self.status.is_final() || self.placement.crypto {
            return Err(self.status);
        }
        self.status = Status::Canceled;
        Ok(())
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
