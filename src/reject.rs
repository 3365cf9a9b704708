//! Rejections are data.
//!
//! One enum of reasons an order (or a cancel) is refused. Its code strings and HTTP statuses are
//! the wire contract of SPEC §3.1 and never change; the message carries the numbers that decided
//! it, in words a customer-support person can read out.

use std::fmt;

/// The stable rejection codes of SPEC §3.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    InvalidOrder,
    /// A path that is not canonical (SPEC §3.0).
    InvalidRequest,
    /// `server.router_app_keys` is set and the request's app key is not one of them.
    Unauthorized,
    MethodNotAllowed,
    AccountNotAllowed,
    ClientIdMissing,
    ClientIdInvalid,
    ClientIdUnknown,
    InstrumentUnknown,
    InstrumentHalted,
    InstrumentNotTradable,
    OrderSizeInvalid,
    DuplicateOrder,
    FractionalNotAllowed,
    OrderTypeNotAllowed,
    MarketClosed,
    CancelNotAllowed,
    NoReferencePrice,
    PriceOutOfBand,
    LimitExceeded,
    InsufficientBuyingPower,
    InsufficientOmniBuyingPower,
    InsufficientPosition,
    TradingDisabled,
    IdempotencyKeyReused,
    RateLimited,
}

impl RejectCode {
    pub const ALL: [RejectCode; 26] = [
        RejectCode::InvalidOrder,
        RejectCode::InvalidRequest,
        RejectCode::Unauthorized,
        RejectCode::MethodNotAllowed,
        RejectCode::AccountNotAllowed,
        RejectCode::ClientIdMissing,
        RejectCode::ClientIdInvalid,
        RejectCode::ClientIdUnknown,
        RejectCode::InstrumentUnknown,
        RejectCode::InstrumentHalted,
        RejectCode::InstrumentNotTradable,
        RejectCode::OrderSizeInvalid,
        RejectCode::DuplicateOrder,
        RejectCode::FractionalNotAllowed,
        RejectCode::OrderTypeNotAllowed,
        RejectCode::MarketClosed,
        RejectCode::CancelNotAllowed,
        RejectCode::NoReferencePrice,
        RejectCode::PriceOutOfBand,
        RejectCode::LimitExceeded,
        RejectCode::InsufficientBuyingPower,
        RejectCode::InsufficientOmniBuyingPower,
        RejectCode::InsufficientPosition,
        RejectCode::TradingDisabled,
        RejectCode::IdempotencyKeyReused,
        RejectCode::RateLimited,
    ];

    /// The `errorCode` string on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidOrder => "INVALID_ORDER",
            RejectCode::InvalidRequest => "INVALID_REQUEST",
            RejectCode::Unauthorized => "UNAUTHORIZED",
            RejectCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            RejectCode::AccountNotAllowed => "ACCOUNT_NOT_ALLOWED",
            RejectCode::ClientIdMissing => "CLIENT_ID_MISSING",
            RejectCode::ClientIdInvalid => "CLIENT_ID_INVALID",
            RejectCode::ClientIdUnknown => "CLIENT_ID_UNKNOWN",
            RejectCode::InstrumentUnknown => "INSTRUMENT_UNKNOWN",
            RejectCode::InstrumentHalted => "INSTRUMENT_HALTED",
            RejectCode::InstrumentNotTradable => "INSTRUMENT_NOT_TRADABLE",
            RejectCode::OrderSizeInvalid => "ORDER_SIZE_INVALID",
            RejectCode::DuplicateOrder => "DUPLICATE_ORDER",
            RejectCode::FractionalNotAllowed => "FRACTIONAL_NOT_ALLOWED",
            RejectCode::OrderTypeNotAllowed => "ORDER_TYPE_NOT_ALLOWED",
            RejectCode::MarketClosed => "MARKET_CLOSED",
            RejectCode::CancelNotAllowed => "CANCEL_NOT_ALLOWED",
            RejectCode::NoReferencePrice => "NO_REFERENCE_PRICE",
            RejectCode::PriceOutOfBand => "PRICE_OUT_OF_BAND",
            RejectCode::LimitExceeded => "LIMIT_EXCEEDED",
            RejectCode::InsufficientBuyingPower => "INSUFFICIENT_BUYING_POWER",
            RejectCode::InsufficientOmniBuyingPower => "INSUFFICIENT_OMNI_BUYING_POWER",
            RejectCode::InsufficientPosition => "INSUFFICIENT_POSITION",
            RejectCode::TradingDisabled => "TRADING_DISABLED",
            RejectCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            RejectCode::RateLimited => "RATE_LIMITED",
        }
    }

    /// The HTTP status of SPEC §3.1.
    pub const fn http_status(self) -> u16 {
        match self {
            RejectCode::InvalidOrder | RejectCode::InvalidRequest => 400,
            RejectCode::Unauthorized => 401,
            RejectCode::MethodNotAllowed => 405,
            RejectCode::RateLimited => 429,
            _ => 422,
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused order: the code, and a plain-words message with the deciding values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: RejectCode,
    pub message: String,
    /// Set only where the spec allows another status for the code (413 for an oversized body).
    pub status_override: Option<u16>,
}

impl Reject {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status_override: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(RejectCode::InvalidOrder, message)
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status_override = Some(status);
        self
    }

    pub fn http_status(&self) -> u16 {
        self.status_override.unwrap_or(self.code.http_status())
    }
}

/// Longest message text quoted from a client's input (a parser's complaint can quote a whole
/// 60 kB string back): answers and log lines stay small whatever a client sends.
pub const QUOTED_TEXT_MAX: usize = 200;

/// `text` cut to at most [`QUOTED_TEXT_MAX`] bytes on a character boundary, with `…` if cut.
pub fn clip(text: impl fmt::Display) -> String {
    let mut text = text.to_string();
    if text.len() > QUOTED_TEXT_MAX {
        let mut end = QUOTED_TEXT_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_wire_contract() {
        let codes: Vec<&str> = RejectCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for code in RejectCode::ALL {
            let s = code.as_str();
            assert!(s.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{s}");
        }
        assert_eq!(RejectCode::InvalidOrder.http_status(), 400);
        assert_eq!(RejectCode::RateLimited.http_status(), 429);
        assert_eq!(RejectCode::InsufficientBuyingPower.http_status(), 422);
        assert_eq!(
            Reject::invalid("too big").with_status(413).http_status(),
            413
        );
    }
}
