//! Watches the market calendar's end (SPEC §4.4): past it, holidays are unknown and every weekday
//! would pass as a trading day. Warns at start and once a day while the end is within
//! [`WARN_DAYS`]; `omnigate_calendar_days_left` counts down to it.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::rules::market_hours::new_york_date;

/// How close the end must be for the warning.
pub const WARN_DAYS: i64 = 30;

/// How often the clock is looked at (the gauge is at most this stale).
const CHECK_INTERVAL: Duration = Duration::from_secs(60);

pub async fn run(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let mut warned_on: Option<NaiveDate> = None;
    let mut beat = crate::beat::Beat::new(CHECK_INTERVAL, shutdown);
    while beat.next().await {
        check(&engine, &mut warned_on);
    }
}

/// Warns when the end is near and today has not been warned about yet; true when it warned. (The
/// gauge is set at each scrape, by [`Engine::publish_gauges`].)
pub fn check(engine: &Engine, warned_on: &mut Option<NaiveDate>) -> bool {
    let today = new_york_date(engine.now());
    let Some((ends, days_left)) = engine.calendar_end(today) else {
        return false;
    };
    if days_left <= WARN_DAYS && *warned_on != Some(today) {
        *warned_on = Some(today);
        tracing::warn!(
            %ends,
            days_left,
            "the market calendar ends soon: add the coming year's holidays and early closes to \
             market.holidays / market.early_closes, or upgrade omnigate"
        );
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::config::Config;

    fn engine(market: &str, now: &str) -> Engine {
        let text = format!("[omnibus]\naccount_numbers = [\"DWOM000001\"]\n[market]\n{market}\n");
        let config = Config::parse(&text, "test").unwrap();
        Engine::new(&config, Arc::new(FixedClock::new(now.parse().unwrap())))
    }

    #[test]
    fn warns_once_a_day_within_thirty_days_of_the_end() {
        let far = engine("", "2028-11-30T15:00:00Z");
        assert_eq!(far.calendar_end(new_york_date(far.now())).unwrap().1, 31);
        assert!(!check(&far, &mut None));

        let near = engine("", "2028-12-01T15:00:00Z");
        let (ends, days_left) = near.calendar_end(new_york_date(near.now())).unwrap();
        assert_eq!((ends.to_string(), days_left), ("2028-12-31".to_owned(), 30));
        let mut warned_on = None;
        assert!(check(&near, &mut warned_on));
        assert!(!check(&near, &mut warned_on), "once a day");
    }

    #[test]
    fn added_days_extend_the_end_and_an_empty_calendar_has_none() {
        let extended = engine("holidays = [\"2029-01-01\"]", "2028-12-01T15:00:00Z");
        let (ends, _) = extended
            .calendar_end(new_york_date(extended.now()))
            .unwrap();
        assert_eq!(
            ends.to_string(),
            "2029-01-01",
            "one added day vouches for itself only"
        );

        let empty = engine("calendar = \"none\"", "2028-12-01T15:00:00Z");
        assert_eq!(empty.calendar_end(new_york_date(empty.now())), None);
        assert!(!check(&empty, &mut None));
    }
}
