//! Makes the settlement rolls (SPEC §5.4): at `omnibus.settlement_time` (New York) on each
//! business day, trades dated before that day settle (T+1) — the cashless account's net buys
//! leave its day's net, and SELL proceeds held for settlement become buying power.
//! `POST /admin/omni/settle` makes today's roll by hand.
//!
//! The last roll is durable (the WAL and snapshots keep it), so a start after downtime first
//! makes every roll missed meanwhile, oldest first. A roll is idempotent, so making one twice, or
//! by hand and then on time, settles nothing twice. A ledger that has made no dated roll yet
//! starts from the latest roll already due as if it were made ([`Rolls`]): settlement may come a
//! roll late then, never early.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::America::New_York;
use tokio::sync::watch;

use crate::engine::Engine;

/// How often the clock is looked at; a roll is at most this late.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How far back missed rolls are looked for: a year of downtime. Older days need no roll of
/// their own: any later roll settles everything traded before its day.
const CATCH_UP_DAYS_MAX: u32 = 366;

/// The rolls to make: every business day's at `settlement_time`, from the last one made on.
#[derive(Clone, Copy, Debug)]
pub struct Rolls {
    settlement_time: NaiveTime,
    /// While the ledger has made no dated roll (a new WAL, or one written before rolls were
    /// dated): the latest roll already due at start, taken as made. Its trades are settled by
    /// the next roll instead, late rather than early: an undated trade may be younger than the
    /// roll that would settle it now.
    baseline: Option<NaiveDate>,
}

impl Rolls {
    pub fn new(engine: &Engine, settlement_time: NaiveTime) -> Rolls {
        Rolls {
            settlement_time,
            baseline: latest_due(engine.now(), settlement_time),
        }
    }

    /// Makes every roll due by now and not made yet, oldest first, each durable before the next.
    pub async fn catch_up(&self, engine: &Engine) {
        let last = engine.last_settlement_roll().or(self.baseline);
        let due = due_rolls(engine.now(), self.settlement_time, last, |day| {
            engine.is_trading_day(day)
        });
        for day in due {
            match engine.roll_settlement(day) {
                Ok((_, durability)) => match durability.wait().await {
                    Ok(()) => tracing::info!(%day, "settlement rolled"),
                    Err(error) => {
                        tracing::error!(%day, %error, "settlement roll not made durable");
                        return;
                    }
                },
                Err(error) => tracing::error!(%day, %error, "settlement roll failed"),
            }
        }
    }
}

pub async fn run(engine: Arc<Engine>, rolls: Rolls, shutdown: watch::Receiver<bool>) {
    let mut beat = crate::beat::Beat::new(CHECK_INTERVAL, shutdown);
    while beat.next().await {
        // Replicated mode: only the leader acts on DriveWealth and logs what it learns.
        if !engine.leadership().serving() {
            continue;
        }
        rolls.catch_up(&engine).await;
    }
}

/// The latest day whose settlement time has come by `now` (a business day or not).
fn latest_due(now: DateTime<Utc>, settlement_time: NaiveTime) -> Option<NaiveDate> {
    let local = now.with_timezone(&New_York);
    let today = local.date_naive();
    if local.time() >= settlement_time {
        Some(today)
    } else {
        today.pred_opt()
    }
}

/// The business days whose roll is due by `now` and later than `last`, ascending. Without a
/// last roll, only the latest due one (it settles everything traded before it).
fn due_rolls(
    now: DateTime<Utc>,
    settlement_time: NaiveTime,
    last: Option<NaiveDate>,
    is_trading_day: impl Fn(NaiveDate) -> bool,
) -> Vec<NaiveDate> {
    let today = now.with_timezone(&New_York).date_naive();
    // A last roll after today: an adjustable clock was set back; rolls are due from there again.
    // (A roll made by hand today, before the settlement time, is not one.)
    let last = last.filter(|last| *last <= today);
    let mut day = latest_due(now, settlement_time);
    let mut due = Vec::new();
    for _ in 0..CATCH_UP_DAYS_MAX {
        let Some(candidate) = day else { break };
        if last.is_some_and(|last| candidate <= last) {
            break;
        }
        if is_trading_day(candidate) {
            due.push(candidate);
            if last.is_none() {
                break;
            }
        }
        day = candidate.pred_opt();
    }
    due.reverse();
    due
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Weekday};

    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn weekday(day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    #[test]
    fn one_roll_per_business_day_once_its_time_has_come() {
        let five = NaiveTime::from_hms_opt(17, 0, 0).unwrap();
        // Thursday 2026-11-19, 16:59 and 17:00 New York (EST, UTC−5).
        let before: DateTime<Utc> = "2026-11-19T21:59:00Z".parse().unwrap();
        let at: DateTime<Utc> = "2026-11-19T22:00:00Z".parse().unwrap();
        let last = Some(day("2026-11-18"));
        assert!(due_rolls(before, five, last, weekday).is_empty());
        assert_eq!(due_rolls(at, five, last, weekday), vec![day("2026-11-19")]);
        assert!(due_rolls(at, five, Some(day("2026-11-19")), weekday).is_empty());
    }

    #[test]
    fn rolls_missed_while_down_are_made_in_order() {
        let five = NaiveTime::from_hms_opt(17, 0, 0).unwrap();
        // Down from Thursday evening to Tuesday 10:00: Friday's and Monday's rolls are due.
        let tuesday: DateTime<Utc> = "2026-11-24T15:00:00Z".parse().unwrap();
        assert_eq!(
            due_rolls(tuesday, five, Some(day("2026-11-19")), weekday),
            vec![day("2026-11-20"), day("2026-11-23")]
        );
        // A new WAL: only the latest due roll.
        assert_eq!(
            due_rolls(tuesday, five, None, weekday),
            vec![day("2026-11-23")]
        );
        // A clock set back before the last roll: the latest due roll again, once.
        assert_eq!(
            due_rolls(tuesday, five, Some(day("2026-12-01")), weekday),
            vec![day("2026-11-23")]
        );
        // Today's roll made by hand before the settlement time: nothing more is due today.
        assert!(due_rolls(tuesday, five, Some(day("2026-11-24")), weekday).is_empty());
    }

    #[tokio::test]
    async fn a_ledger_that_never_rolled_starts_from_the_latest_due_roll_as_made() {
        use crate::clock::ShiftedClock;
        use crate::config::Config;
        let clock = Arc::new(ShiftedClock::new());
        // Tuesday 2026-11-24, 10:00 New York: Monday's roll is due, Tuesday's is not yet.
        clock.set("2026-11-24T15:00:00Z".parse().unwrap());
        let config =
            Config::parse("[omnibus]\naccount_numbers = [\"DWOM000001\"]\n", "test").unwrap();
        let engine = Engine::new(&config, clock.clone());
        let rolls = Rolls::new(&engine, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        rolls.catch_up(&engine).await;
        // Monday's roll is taken as made, not made: an undated trade may be younger than it.
        assert_eq!(engine.last_settlement_roll(), None);
        clock.set("2026-11-24T22:00:01Z".parse().unwrap());
        rolls.catch_up(&engine).await;
        assert_eq!(engine.last_settlement_roll(), Some(day("2026-11-24")));
    }
}
