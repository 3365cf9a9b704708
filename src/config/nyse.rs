//! The NYSE holiday and early-closing calendar omnigate ships (SPEC §4.4): the base of every
//! config unless `market.calendar = "none"`.
//!
//! Source: NYSE Group, "NYSE Group Announces 2026, 2027 and 2028 Holiday and Early Closings
//! Calendar", press release of 2025-12-23 (also at nyse.com/markets/hours-calendars). Early closes
//! end the regular session at 13:00 and post-market at 17:00 New York time.
//! - 2028-01-01 is a Saturday, so no New Year's Day holiday is observed (not on 2027-12-31 either).
//! - 2026-07-03 and 2027-07-05 are Independence Day observed, with no early close before them;
//!   2028's Independence Day is a Tuesday, so Monday 2028-07-03 closes early.
//! - Christmas Eve 2027 is the observed Christmas holiday; in 2028 it is a Sunday: no early close.
//!
//! A new year's calendar is a new release: [`LAST_YEAR`] is what the start-up warning and
//! `omnigate_calendar_days_left` count down to.

use chrono::NaiveDate;

/// The last year the table covers; its 31 December is the calendar's end.
pub const LAST_YEAR: i32 = 2028;

/// Full-day closures, in order.
const HOLIDAYS: [(i32, u32, u32); 29] = [
    (2026, 1, 1),   // New Year's Day
    (2026, 1, 19),  // Martin Luther King, Jr. Day
    (2026, 2, 16),  // Washington's Birthday
    (2026, 4, 3),   // Good Friday
    (2026, 5, 25),  // Memorial Day
    (2026, 6, 19),  // Juneteenth National Independence Day
    (2026, 7, 3),   // Independence Day (observed)
    (2026, 9, 7),   // Labor Day
    (2026, 11, 26), // Thanksgiving Day
    (2026, 12, 25), // Christmas Day
    (2027, 1, 1),   // New Year's Day
    (2027, 1, 18),  // Martin Luther King, Jr. Day
    (2027, 2, 15),  // Washington's Birthday
    (2027, 3, 26),  // Good Friday
    (2027, 5, 31),  // Memorial Day
    (2027, 6, 18),  // Juneteenth (observed)
    (2027, 7, 5),   // Independence Day (observed)
    (2027, 9, 6),   // Labor Day
    (2027, 11, 25), // Thanksgiving Day
    (2027, 12, 24), // Christmas Day (observed)
    (2028, 1, 17),  // Martin Luther King, Jr. Day
    (2028, 2, 21),  // Washington's Birthday
    (2028, 4, 14),  // Good Friday
    (2028, 5, 29),  // Memorial Day
    (2028, 6, 19),  // Juneteenth National Independence Day
    (2028, 7, 4),   // Independence Day
    (2028, 9, 4),   // Labor Day
    (2028, 11, 23), // Thanksgiving Day
    (2028, 12, 25), // Christmas Day
];

/// Days the regular session ends at 13:00, in order.
const EARLY_CLOSES: [(i32, u32, u32); 5] = [
    (2026, 11, 27), // day after Thanksgiving
    (2026, 12, 24), // Christmas Eve
    (2027, 11, 26), // day after Thanksgiving
    (2028, 7, 3),   // day before Independence Day
    (2028, 11, 24), // day after Thanksgiving
];

fn dates(table: &[(i32, u32, u32)]) -> impl Iterator<Item = NaiveDate> + '_ {
    table.iter().map(|&(year, month, day)| {
        NaiveDate::from_ymd_opt(year, month, day).expect("the NYSE table holds real dates")
    })
}

pub fn holidays() -> impl Iterator<Item = NaiveDate> {
    dates(&HOLIDAYS)
}

pub fn early_closes() -> impl Iterator<Item = NaiveDate> {
    dates(&EARLY_CLOSES)
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Weekday};

    use super::*;

    #[test]
    fn every_entry_is_a_weekday_in_order_and_within_the_covered_years() {
        for table in [&HOLIDAYS[..], &EARLY_CLOSES[..]] {
            let days: Vec<NaiveDate> = dates(table).collect();
            assert!(days.windows(2).all(|pair| pair[0] < pair[1]));
            for day in days {
                assert!(
                    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
                    "{day}"
                );
                assert!((2026..=LAST_YEAR).contains(&day.year()), "{day}");
            }
        }
        assert!(early_closes().all(|day| !holidays().any(|holiday| holiday == day)));
    }

    #[test]
    fn the_three_years_have_their_nine_or_ten_holidays() {
        for (year, count) in [(2026, 10), (2027, 10), (2028, 9)] {
            assert_eq!(
                holidays().filter(|d| d.year() == year).count(),
                count,
                "{year}"
            );
        }
    }
}
