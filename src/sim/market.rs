//! The simulator's trading hours, from the very calendar omnigate decides by
//! ([`MarketCalendar`], SPEC §4.4): when an order executes, what it is queued for, when it
//! expires, and when a cancel of a queued order comes too late.
//!
//! `simulator.market_hours = false` keeps every session open around the clock, for load tests
//! and rehearsals that are not about hours.

use chrono::{DateTime, SecondsFormat, Utc};

use super::instruments::Listing;
use super::order::{Order, OrderRequest, Placement};
use super::wire::ApiError;
use crate::config::MarketConfig;
use crate::rules::market_hours::{new_york_date, MarketCalendar};

pub struct Hours {
    /// `None`: always open.
    calendar: Option<MarketCalendar>,
}

impl Hours {
    pub fn new(market: &MarketConfig, enabled: bool) -> Hours {
        Hours {
            calendar: enabled.then(|| MarketCalendar::new(market)),
        }
    }

    /// Where an order placed at `now` stands. Seed `001`: "an order submitted after hours will
    /// have an orderExpires set to 4:00pm ET of the following market session"; one executing
    /// now expires at today's close. An extended-hours (`GTX`) order trades from the pre-market
    /// open to the post-market close, so that close is its expiry, and outside those hours it
    /// waits for the next pre-market session rather than for the opening auction (it is not
    /// "queued for the open": no opening cut-off applies to it). With `preventQueuing`, an
    /// order that would wait is refused ("rejected if received after 4:00pm ET").
    pub fn place(
        &self,
        now: DateTime<Utc>,
        listing: &Listing,
        request: &OrderRequest,
    ) -> Result<Placement, ApiError> {
        let crypto = listing.is_crypto();
        let Some(calendar) = self.calendar.as_ref().filter(|_| !crypto) else {
            return Ok(Placement {
                crypto,
                ..Placement::default()
            });
        };
        let extended = request.extended_hours;
        let close = |date| {
            if extended {
                calendar.extended_close(date)
            } else {
                calendar.regular_close(date)
            }
        };
        if calendar.executes_now(now, extended) {
            return Ok(Placement {
                crypto,
                queued_for: None,
                expires: close(new_york_date(now)).filter(|close| *close > now),
            });
        }
        let open = calendar.next_regular_open(now);
        if request.prevent_queuing {
            return Err(ApiError::plain(
                422,
                "O120",
                format!(
                    "Order rejected: the market is closed and preventQueuing is set; it next opens at {}",
                    open.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            ));
        }
        Ok(Placement {
            crypto,
            queued_for: (!extended).then_some(open),
            expires: close(new_york_date(open)),
        })
    }

    /// Whether the order's session is trading at `now`: the regular session, the extended ones
    /// for `GTX`, always for crypto.
    pub fn trading(&self, now: DateTime<Utc>, order: &Order) -> bool {
        match &self.calendar {
            Some(calendar) if !order.placement.crypto => {
                calendar.executes_now(now, order.request.extended_hours)
            }
            _ => true,
        }
    }

    /// Seed `001`: queued orders "cannot be canceled after these times": NASDAQ, BATS, IEX
    /// 09:28 ET, ARCA and NYSE American 09:29, NYSE at the open. `Err` between the listing
    /// exchange's cut-off and the open, for an order queued for that open.
    pub fn check_cancel(
        &self,
        now: DateTime<Utc>,
        listing: &Listing,
        order: &Order,
    ) -> Result<(), ApiError> {
        let Some(calendar) = &self.calendar else {
            return Ok(());
        };
        let Some(open) = order.queued_for_open(now) else {
            return Ok(());
        };
        if calendar.cancel_blocked(listing.exchange, now) != Some(open) {
            return Ok(());
        }
        let cutoff = calendar
            .opening_cancel_cutoff(listing.exchange, new_york_date(now))
            .map(|cutoff| {
                cutoff
                    .with_timezone(&chrono_tz::America::New_York)
                    .format("%H:%M ET")
                    .to_string()
            })
            .unwrap_or_default();
        Err(ApiError::plain(
            422,
            "O121",
            format!(
                "Order cannot be canceled: {} orders queued for the open cannot be canceled after {cutoff}. orderID={}",
                listing.exchange.as_str(),
                order.id
            ),
        ))
    }
}
