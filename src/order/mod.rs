//! An order as a router sends it (`POST /back-office/orders`), read exactly.
//!
//! Only the fields the rules need are read (SPEC §3); everything else in the body passes through
//! untouched because the original bytes, not a re-serialisation, are what goes upstream. Strings
//! borrow from the request body where they can, so parsing a typical order allocates nothing.

mod commission;
mod depth;
mod parse;
mod scan;

use std::borrow::Cow;

use crate::money::Fixed;

pub use depth::nesting_within;
pub use parse::{
    is_blank, json_string, parse_cancel, parse_cancel_within, parse_order, parse_order_within,
    raw_fields, DEFAULT_MAX_JSON_DEPTH,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    Market,
    Limit,
    Stop,
    MarketIfTouched,
}

impl OrderType {
    /// The spellings accepted, for messages.
    pub const ALLOWED: &'static str = "MARKET, LIMIT, STOP, MARKET_IF_TOUCHED";

    /// DriveWealth's spelling (exact, upper case).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "MARKET" => Some(OrderType::Market),
            "LIMIT" => Some(OrderType::Limit),
            "STOP" => Some(OrderType::Stop),
            "MARKET_IF_TOUCHED" => Some(OrderType::MarketIfTouched),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::Stop => "STOP",
            OrderType::MarketIfTouched => "MARKET_IF_TOUCHED",
        }
    }

    /// True for the types that need a `price` (the limit or trigger price).
    pub const fn needs_price(self) -> bool {
        !matches!(self, OrderType::Market)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// The spellings accepted, for messages.
    pub const ALLOWED: &'static str = "BUY, SELL";

    /// DriveWealth's spelling (exact, upper case).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "BUY" => Some(Side::Buy),
            "SELL" => Some(Side::Sell),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    Day,
    Gtc,
    /// Extended hours (pre- and post-market); LIMIT only.
    Gtx,
    FillOrKill,
}

impl TimeInForce {
    pub const ALLOWED: &'static str = "DAY, GTC, GTX, FILL_OR_KILL";

    /// DriveWealth's spelling, exactly.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "DAY" => Some(TimeInForce::Day),
            "GTC" => Some(TimeInForce::Gtc),
            "GTX" => Some(TimeInForce::Gtx),
            "FILL_OR_KILL" => Some(TimeInForce::FillOrKill),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "DAY",
            TimeInForce::Gtc => "GTC",
            TimeInForce::Gtx => "GTX",
            TimeInForce::FillOrKill => "FILL_OR_KILL",
        }
    }
}

/// How much to trade: shares, or dollars (which makes the order fractional by nature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Quantity(Fixed),
    AmountCash(Fixed),
}

impl Size {
    /// True for a fractional quantity or any `amountCash` order (SPEC §4.2).
    pub fn is_fractional(self) -> bool {
        match self {
            Size::Quantity(quantity) => !quantity.is_whole(),
            Size::AmountCash(_) => true,
        }
    }
}

/// How the order names its instrument: by one or more of DriveWealth's three identifiers. The
/// parser guarantees at least one; when there are several, the instrument master checks that
/// they name the same instrument (SPEC §3.0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstrumentRef<'a> {
    pub symbol: Option<Cow<'a, str>>,
    pub instrument_id: Option<Cow<'a, str>>,
    pub isin: Option<Cow<'a, str>>,
}

/// Which of the three identifiers a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstrumentKey {
    Symbol,
    InstrumentId,
    Isin,
}

impl InstrumentKey {
    /// The body field it comes from.
    pub const fn field(self) -> &'static str {
        match self {
            InstrumentKey::Symbol => "symbol",
            InstrumentKey::InstrumentId => "instrumentID",
            InstrumentKey::Isin => "ISIN",
        }
    }
}

impl<'a> InstrumentRef<'a> {
    /// An order that names its instrument by symbol only.
    pub fn symbol(symbol: impl Into<Cow<'a, str>>) -> Self {
        InstrumentRef {
            symbol: Some(symbol.into()),
            ..InstrumentRef::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.symbol.is_none() && self.instrument_id.is_none() && self.isin.is_none()
    }

    /// The identifiers given, in a fixed order (symbol, instrumentID, ISIN).
    pub fn given(&self) -> impl Iterator<Item = (InstrumentKey, &str)> {
        [
            (InstrumentKey::Symbol, &self.symbol),
            (InstrumentKey::InstrumentId, &self.instrument_id),
            (InstrumentKey::Isin, &self.isin),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|value| (key, value)))
    }
}

/// What the body said about `clientID`; SPEC §3.1 gives its problems their own codes, so the
/// parser records them instead of failing the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientIdField<'a> {
    /// Absent or `null`.
    Absent,
    /// Present but not a string (a number, an object, …).
    WrongType,
    Text(Cow<'a, str>),
}

/// A well-formed order: every field has its type; whether it may trade is for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order<'a> {
    pub account_no: Cow<'a, str>,
    pub order_type: OrderType,
    pub side: Side,
    pub instrument: InstrumentRef<'a>,
    pub size: Size,
    /// Limit price for LIMIT, trigger price for STOP and MARKET_IF_TOUCHED.
    pub price: Option<Fixed>,
    /// As sent; `None` means DriveWealth's default (DAY for market/limit, GTC for stop/MIT).
    pub time_in_force: Option<TimeInForce>,
    pub prevent_queuing: bool,
    pub client_id: ClientIdField<'a>,
    pub client_order_id: Option<Cow<'a, str>>,
    pub ip_address: Option<Cow<'a, str>>,
    /// What DriveWealth charges the partner for this order, as the order says.
    pub commission: Option<Commission>,
}

/// `commission` (fixed USD) or `commissionRate` (a fraction of the order's amount).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commission {
    Amount(Fixed),
    Rate(Fixed),
}

impl Order<'_> {
    /// True when the order may trade in the pre- and post-market sessions.
    pub fn extended_hours(&self) -> bool {
        self.time_in_force == Some(TimeInForce::Gtx)
    }
}

/// `PATCH /back-office/orders/{id}` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderPatch {
    Cancel,
    /// Any other `method`: not ours to judge, forwarded as it is.
    Other,
}
