//! Cancels of orders queued for the open (SPEC §4.4, seeds `001`, `002`).
//!
//! Orders queued overnight go to DriveWealth's executing brokers before the open and join the
//! opening auction; from the listing exchange's cut-off until 09:30 they cannot be canceled, so
//! omnigate answers such a cancel itself (`CANCEL_NOT_ALLOWED`) instead of forwarding a request
//! that cannot succeed. A cancel at any other time, or of an order that was not queued, passes.

use chrono::{DateTime, Utc};
use chrono_tz::America::New_York;

use super::Rules;
use crate::instruments::Exchange;
use crate::reject::{Reject, RejectCode};

/// What omnigate remembers of an order it accepted for a later open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedOrder {
    pub exchange: Exchange,
    /// The regular open the order was queued for.
    pub open: DateTime<Utc>,
}

/// Decides a cancel of an order; `queued` is what omnigate knows of it (None: not queued by us).
pub fn decide_cancel(
    order_id: &str,
    queued: Option<QueuedOrder>,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<(), Reject> {
    let Some(queued) = queued else { return Ok(()) };
    match rules.calendar.cancel_blocked(queued.exchange, now) {
        Some(open) if open == queued.open => {
            let cutoff = rules
                .calendar
                .opening_cancel_cutoff(
                    queued.exchange,
                    crate::rules::market_hours::new_york_date(now),
                )
                .unwrap_or(open);
            Err(Reject::new(
                RejectCode::CancelNotAllowed,
                format!(
                    "order {order_id} is queued for the {} open on {}; {} orders cannot be canceled \
                     from {} ET until the open at {} ET",
                    open.with_timezone(&New_York).format("%H:%M"),
                    open.with_timezone(&New_York).format("%Y-%m-%d"),
                    queued.exchange.as_str(),
                    cutoff.with_timezone(&New_York).format("%H:%M"),
                    open.with_timezone(&New_York).format("%H:%M"),
                ),
            ))
        }
        _ => Ok(()),
    }
}
