//! Risk-officer controls (SPEC §5.3, §7): pure building blocks for the order path and the admin
//! API. None of them does I/O or reads a clock: every time-dependent call takes `now` as a
//! `chrono::DateTime<Utc>` from [`crate::clock::Clock`] (the same instant the decision uses, so
//! `clock.adjustable` moves them too; a clock set back is handled conservatively — see each
//! piece). Everything on the order path is allocation-free when an order passes (after a
//! customer's first order), takes no global lock, and uses checked or saturating integer
//! arithmetic only.
//!
//! | piece | what it is for |
//! | --- | --- |
//! | [`book`] | [`LimitBook`]: `[limits.default]` ← `[[limits.customer]]` ← temporary admin override (`PUT /admin/limits/{clientID}`, reverts at `expiresAt`) → one customer's [`EffectiveLimits`] |
//! | [`overrides`] | [`LimitOverride`]: a temporary admin override, its wire shape and rules (the keys themselves are [`crate::config::LimitPatch`]'s) |
//! | [`symbols`] | [`SymbolSet`]: case-insensitive symbol sets |
//! | [`kill_switch`] | [`KillSwitch`]: global / customer / symbol switch → `TRADING_DISABLED` |
//! | [`rate`] | [`RateLimiter`]: per-customer token bucket → `RATE_LIMITED` (429) |
//! | [`duplicates`] | [`DuplicateGuard`]: reused `clientOrderID`, same order within `duplicate_window_ms` → `DUPLICATE_ORDER` |
//! | [`freeze`] | [`Freezes`]: frozen customers → `TRADING_DISABLED` |
//! | [`checks`] | price band → `PRICE_OUT_OF_BAND`; notional, quantity, open orders, daily buys → `LIMIT_EXCEEDED`; restricted symbols → `TRADING_DISABLED` |
//! | [`idempotency`] | [`IdempotencyStore`]: `Idempotency-Key` replay / wait / `IDEMPOTENCY_KEY_REUSED` |
//!
//! Where each runs in SPEC §3.1's check order (the first failure decides):
//!
//! 1. `Idempotency-Key` replay — [`IdempotencyStore::begin`], before parsing the body;
//! 2. body shape, account, clientID (the parser and `decide`);
//! 3. kill switch — [`KillSwitch::check_customer`] (global and customer switches: the symbol may
//!    not be known yet when the order names an `instrumentID`) and [`Freezes::check`];
//! 4. rate limit — [`RateLimiter::try_take`];
//! 5. instrument — once its symbol is known, [`KillSwitch::check_symbol`] and
//!    [`check_restricted_symbol`] (both `TRADING_DISABLED`) — then halts, order type /
//!    fractional / size, market hours (`decide`);
//! 6. duplicates — [`DuplicateGuard::check_and_record`] ([`DuplicateGuard::forget`] if a later
//!    step refuses the order or the upstream rejects it);
//! 7. price band and risk limits — [`check_order_limits`];
//! 8. buying power or position (the ledger).
//!
//! A token taken at step 4 is not given back when a later step refuses the order: the limit
//! counts order *attempts*, which is what protects the gateway and the upstream.

pub mod book;
pub mod checks;
mod digest;
pub mod duplicates;
pub mod freeze;
pub mod idempotency;
pub mod kill_switch;
pub mod overrides;
pub mod rate;
pub mod symbols;

pub use crate::config::LimitPatch;
pub use book::{EffectiveLimits, LimitBook, RateLimit};
pub use checks::{
    check_daily_buy_notional, check_open_orders, check_order_limits, check_order_notional,
    check_order_quantity, check_order_size_limits, check_price_band, check_restricted_symbol,
    OrderRisk, PriceKind,
};
pub use duplicates::{DuplicateGuard, DuplicateTicket, OrderIdentity, ShardIds};
pub use freeze::Freezes;
pub use idempotency::{
    Begin, IdempotencyGuard, IdempotencyRecord, IdempotencyStore, IdempotencyWait, StoredAnswer,
};
pub use kill_switch::{KillReason, KillSwitch, KillSwitchSetting, KillSwitchState};
pub use overrides::{ClientOverride, LimitOverride, OverrideError};
pub use rate::RateLimiter;
pub use symbols::SymbolSet;

/// `now` as nanoseconds since the Unix epoch, saturating outside the years 1677–2262 (where an
/// `i64` of nanoseconds ends) instead of failing.
fn unix_ns(now: chrono::DateTime<chrono::Utc>) -> i64 {
    now.timestamp_nanos_opt().unwrap_or(if now.timestamp() > 0 {
        i64::MAX
    } else {
        i64::MIN
    })
}

/// At most 40 characters of a client's value, for messages.
fn short(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
