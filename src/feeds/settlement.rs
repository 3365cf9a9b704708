//! Rolls the settlement day at `omnibus.settlement_time` (New York) on each trading day: the
//! cashless omni account's day of net buys starts again, and SELL proceeds held for settlement
//! become buying power (SPEC §5.2). `POST /admin/omni/settle` does the same by hand.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::America::New_York;
use tokio::sync::watch;

use crate::engine::Engine;

/// How often the clock is looked at; a roll is at most this late.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub async fn run(
    engine: Arc<Engine>,
    settlement_time: NaiveTime,
    mut shutdown: watch::Receiver<bool>,
) {
    // A start after today's settlement time must not roll again today.
    let mut last_rolled: Option<NaiveDate> = {
        let local = engine.now().with_timezone(&New_York);
        (local.time() >= settlement_time).then(|| local.date_naive())
    };
    let mut ticker = tokio::time::interval(CHECK_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let local = engine.now().with_timezone(&New_York);
        let today = local.date_naive();
        if due(local.time(), today, settlement_time, last_rolled) && engine.is_trading_day(today) {
            last_rolled = Some(today);
            match engine.roll_settlement_day() {
                Ok((_, durability)) => match durability.wait().await {
                    Ok(()) => tracing::info!(%today, "settlement day rolled"),
                    Err(error) => tracing::error!(%error, "settlement roll not made durable"),
                },
                Err(error) => tracing::error!(%error, "settlement roll failed"),
            }
        }
    }
}

/// True when `today`'s settlement time has come and today has not been rolled yet.
fn due(
    now: NaiveTime,
    today: NaiveDate,
    settlement_time: NaiveTime,
    last_rolled: Option<NaiveDate>,
) -> bool {
    now >= settlement_time && last_rolled.is_none_or(|date| date < today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_roll_per_day_once_the_time_has_come() {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let time = at(17, 0);
        assert!(!due(at(16, 59), day(19), time, Some(day(18))));
        assert!(due(at(17, 0), day(19), time, Some(day(18))));
        assert!(!due(at(17, 1), day(19), time, Some(day(19))));
        assert!(due(at(17, 0), day(19), time, None));
    }
}
