//! Equity market hours, queuing and opening cancel cut-offs (SPEC §4.4, seeds `001`, `002`).
//!
//! One piece, though long: the calendar and the session rules are one table of hours read
//! together; most of the file is the tests that quote the seeds' examples, DST switches included.
//!
//! Everything is a pure function of an instant (`now`, from the [`crate::clock::Clock`]) and the
//! configured calendar. Wall-clock times are America/New_York and go through the tz database
//! (`chrono-tz`), so the UTC instant of 09:30 moves with daylight saving time.
//!
//! | New York time | normal trading day | early-close day | weekend, holiday |
//! | --- | --- | --- | --- |
//! | 00:00–04:00 | closed | closed | closed |
//! | 04:00–09:30 | pre-market | pre-market | closed |
//! | 09:30–16:00 | regular | regular until 13:00 | closed |
//! | 16:00–20:00 | post-market | post-market 13:00–17:00 | closed |
//! | 20:00–24:00 | closed | closed from 17:00 | closed |
//!
//! Each interval includes its start and excludes its end: 09:29:59 is pre-market, 09:30:00 is
//! regular.
//!
//! Orders that do not execute now are queued by DriveWealth for the next regular open. Queued
//! orders go to the executing brokers at 09:05 and join the opening auction; from the listing
//! exchange's cut-off until the open they can no longer be canceled:
//!
//! | exchange | cut-off |
//! | --- | --- |
//! | NASDAQ, BATS, IEX | 09:28 |
//! | NYSE Arca (`ARCA`), NYSE American (`AMEX`) | 09:29 |
//! | NYSE | at the open (09:30): no window |
//!
//! Crypto trades around the clock and is never queued; the equity sessions do not apply to it.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::America::New_York;

use crate::config::nyse;
use crate::config::{CalendarBase, MarketConfig};
use crate::instruments::Exchange;

const PRE_MARKET_OPEN: NaiveTime = new_york_time(4, 0);
const REGULAR_OPEN: NaiveTime = new_york_time(9, 30);
const REGULAR_CLOSE: NaiveTime = new_york_time(16, 0);
const POST_MARKET_CLOSE: NaiveTime = new_york_time(20, 0);
const EARLY_REGULAR_CLOSE: NaiveTime = new_york_time(13, 0);
const EARLY_POST_MARKET_CLOSE: NaiveTime = new_york_time(17, 0);

/// How many days [`MarketCalendar::next_regular_open`] looks ahead. The longest real closure
/// (weekend plus holidays, or an emergency like September 2001) is under a week; the bound only
/// stops a calendar that lists a month of holidays from looping.
const OPEN_SEARCH_DAYS_MAX: u32 = 30;

/// `hour:minute` as a `NaiveTime`, checked when the constant is built.
const fn new_york_time(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(time) => time,
        None => panic!("not a time of day"),
    }
}

/// The equity session at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Session {
    /// 04:00–09:30 on a trading day: only extended-hours (`GTX`) orders execute.
    PreMarket,
    /// 09:30–16:00 (13:00 on an early-close day).
    Regular,
    /// 16:00–20:00 (13:00–17:00 on an early-close day): only `GTX` orders execute.
    PostMarket,
    /// Overnight, weekends and holidays: orders are queued for the next regular open.
    Closed,
}

impl Session {
    /// The session in words, for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Session::PreMarket => "pre-market",
            Session::Regular => "regular",
            Session::PostMarket => "post-market",
            Session::Closed => "closed",
        }
    }
}

/// New York time after which an order queued for the open can no longer be canceled (seeds
/// `001`, `002`); `None` for crypto, which is never queued.
const fn opening_cancel_cutoff_time(exchange: Exchange) -> Option<NaiveTime> {
    match exchange {
        Exchange::Nasdaq | Exchange::Bats | Exchange::Iex => Some(new_york_time(9, 28)),
        Exchange::Arca | Exchange::Amex => Some(new_york_time(9, 29)),
        Exchange::Nyse => Some(REGULAR_OPEN),
        Exchange::Crypto => None,
    }
}

/// The New York calendar date at an instant.
pub fn new_york_date(now: DateTime<Utc>) -> NaiveDate {
    new_york_local(now).date()
}

/// The New York wall-clock time at `now`.
///
/// Every order asks this, and the tz database answers with a binary search over a century of
/// transitions (a tenth of the decision's time, `benches/decide_reserve.rs`). New York's offset
/// changes only on whole UTC hours, so the offset of the last hour asked is kept in
/// [`LAST_HOUR_OFFSET`]: one relaxed load on the order path. An hour whose first and last second
/// differ in offset (none in New York since 1883) is never kept, so the memo cannot be wrong;
/// it is a cache of a constant function, and the answer is the tz database's either way.
fn new_york_local(now: DateTime<Utc>) -> NaiveDateTime {
    let offset = kept_hour_offset(now.timestamp()).unwrap_or_else(|| offset_at(now));
    now.naive_utc()
        .checked_add_signed(TimeDelta::seconds(offset.into()))
        // Only at the ends of chrono's range, where the tz database's own arithmetic copes.
        .unwrap_or_else(|| now.with_timezone(&New_York).naive_local())
}

/// The hour (`hour + 1`, so that 0 is "none") in the high half, New York's UTC offset in seconds
/// throughout it (as `i32`) in the low half. One word, so a reader sees a pair one writer stored.
static LAST_HOUR_OFFSET: AtomicU64 = AtomicU64::new(0);

/// New York's UTC offset in seconds throughout the UTC hour of the Unix second `at`, from
/// [`LAST_HOUR_OFFSET`] or kept there; `None` for an hour that cannot be kept.
fn kept_hour_offset(at: i64) -> Option<i32> {
    let hour = at.div_euclid(3600);
    let key = u32::try_from(hour + 1).ok()?;
    let kept = LAST_HOUR_OFFSET.load(Ordering::Relaxed);
    if (kept >> 32) as u32 == key {
        return Some(kept as u32 as i32);
    }
    let first = offset_at(DateTime::from_timestamp(hour * 3600, 0)?);
    let last = offset_at(DateTime::from_timestamp(hour * 3600 + 3599, 0)?);
    if first != last {
        return None;
    }
    LAST_HOUR_OFFSET.store(
        (u64::from(key) << 32) | u64::from(first as u32),
        Ordering::Relaxed,
    );
    Some(first)
}

/// New York's UTC offset in seconds at `instant`.
fn offset_at(instant: DateTime<Utc>) -> i32 {
    New_York
        .offset_from_utc_datetime(&instant.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The instant of a New York wall-clock time, `None` if that time does not exist that day.
///
/// Session times (04:00–20:00) never fall in a DST gap (02:00–03:00) or fold (01:00–02:00), but
/// the tz database is data: answer `None` rather than panic. In a fold the earlier instant wins.
fn new_york_instant(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    New_York
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|instant| instant.with_timezone(&Utc))
}

/// 09:30 of the first day past the search (or the search's length from `now`, at the end of
/// chrono's range): later than `now`, so that a caller waiting for the open never loops.
fn open_past_the_search(now: DateTime<Utc>) -> DateTime<Utc> {
    let past = new_york_date(now)
        .checked_add_days(chrono::Days::new(u64::from(OPEN_SEARCH_DAYS_MAX) + 1))
        .and_then(|date| new_york_instant(date, REGULAR_OPEN));
    past.filter(|open| *open > now).unwrap_or_else(|| {
        let window = TimeDelta::days(i64::from(OPEN_SEARCH_DAYS_MAX) + 1);
        now.checked_add_signed(window).unwrap_or(now)
    })
}

/// The last regular open [`MarketCalendar::next_regular_open`] found and the Unix second it was
/// asked at, in one word: the second in the high half, the open's Unix minute in the low; 0 for
/// none. Outside the session every order asks, and the tz database's search from New York's
/// 09:30 to UTC was most of a queued order's decision.
///
/// The answer is the first open strictly after `now`, so it holds for every `now` from the start
/// of the second asked until the open itself: an open between that second's start and the
/// instant asked would be a whole second inside a second, and none is. Only opens found by the
/// search are kept (not the fallback past it), and only whole minutes within `u32`'s reach, so
/// the memo cannot answer what the search would not.
#[derive(Debug, Default)]
struct KeptOpen(AtomicU64);

impl Clone for KeptOpen {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl KeptOpen {
    fn get(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let kept = self.0.load(Ordering::Relaxed);
        let asked = i64::from((kept >> 32) as u32);
        let open = DateTime::from_timestamp(i64::from(kept as u32) * 60, 0)?;
        (asked <= now.timestamp() && now < open).then_some(open)
    }

    fn keep(&self, now: DateTime<Utc>, open: DateTime<Utc>) {
        let whole_minute = open.timestamp() % 60 == 0 && open.timestamp_subsec_nanos() == 0;
        let asked = u32::try_from(now.timestamp());
        let minute = u32::try_from(open.timestamp() / 60);
        if let (true, Ok(asked), Ok(minute)) = (whole_minute, asked, minute) {
            self.0.store(
                (u64::from(asked) << 32) | u64::from(minute),
                Ordering::Relaxed,
            );
        }
    }
}

/// The exchange calendar: weekends, the built-in NYSE days (unless `market.calendar = "none"`),
/// `market.holidays` and `market.early_closes`.
#[derive(Debug, Clone, Default)]
pub struct MarketCalendar {
    /// Sorted and deduplicated for binary search.
    holidays: Vec<NaiveDate>,
    /// Sorted and deduplicated; never a holiday (a configured holiday wins over a built-in early
    /// close: an emergency closure of a short day).
    early_closes: Vec<NaiveDate>,
    /// The last day the calendar knows about: the built-in table's 31 December of its last year,
    /// or the last day `market.holidays` / `market.early_closes` add if later (one added day
    /// must not vouch for the rest of its year). `None` for an empty calendar.
    ends: Option<NaiveDate>,
    /// The last open [`MarketCalendar::next_regular_open`] found, while it still answers.
    kept_open: KeptOpen,
}

impl MarketCalendar {
    pub fn new(config: &MarketConfig) -> Self {
        let mut holidays = config.holidays.clone();
        let mut early_closes = config.early_closes.clone();
        let mut last_year = None;
        if config.calendar == CalendarBase::Nyse {
            holidays.extend(nyse::holidays());
            early_closes.extend(nyse::early_closes());
            last_year = Some(nyse::LAST_YEAR);
        }
        holidays.sort_unstable();
        holidays.dedup();
        early_closes.sort_unstable();
        early_closes.dedup();
        early_closes.retain(|day| holidays.binary_search(day).is_err());
        let built_in_end = last_year.and_then(|year| NaiveDate::from_ymd_opt(year, 12, 31));
        let listed = config
            .holidays
            .iter()
            .chain(&config.early_closes)
            .max()
            .copied();
        let ends = built_in_end.max(listed);
        Self {
            holidays,
            early_closes,
            ends,
            kept_open: KeptOpen::default(),
        }
    }

    /// The last day this calendar covers; later days would be treated as trading days whatever
    /// their holidays. `None` when it lists no day at all (`calendar = "none"` and no additions).
    pub fn ends(&self) -> Option<NaiveDate> {
        self.ends
    }

    /// Whole days from `today` to the calendar's end (negative once it has ended).
    pub fn days_left(&self, today: NaiveDate) -> Option<i64> {
        self.ends.map(|ends| (ends - today).num_days())
    }

    /// The first trading day strictly after `date`: when a trade of trade date `date` settles
    /// (T+1, SPEC §5.4). Searches [`OPEN_SEARCH_DAYS_MAX`] days, like the open search.
    pub fn trading_day_after(&self, date: NaiveDate) -> NaiveDate {
        let mut day = date;
        for _ in 0..=OPEN_SEARCH_DAYS_MAX {
            match day.succ_opt() {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_trading_day(day) {
                return day;
            }
        }
        day
    }

    /// A weekday that is not a holiday.
    pub fn is_trading_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            && self.holidays.binary_search(&date).is_err()
    }

    /// A trading day whose regular session ends at 13:00 and post-market at 17:00.
    pub fn is_early_close(&self, date: NaiveDate) -> bool {
        self.is_trading_day(date) && self.early_closes.binary_search(&date).is_ok()
    }

    /// The equity session at `now`.
    pub fn session(&self, now: DateTime<Utc>) -> Session {
        let local = new_york_local(now);
        let date = local.date();
        if !self.is_trading_day(date) {
            return Session::Closed;
        }
        let (regular_close, post_market_close) = if self.is_early_close(date) {
            (EARLY_REGULAR_CLOSE, EARLY_POST_MARKET_CLOSE)
        } else {
            (REGULAR_CLOSE, POST_MARKET_CLOSE)
        };
        let time = local.time();
        if time < PRE_MARKET_OPEN {
            Session::Closed
        } else if time < REGULAR_OPEN {
            Session::PreMarket
        } else if time < regular_close {
            Session::Regular
        } else if time < post_market_close {
            Session::PostMarket
        } else {
            Session::Closed
        }
    }

    /// Whether an equity order placed at `now` executes now rather than being queued by
    /// DriveWealth for the next regular open: in the regular session, or in pre- and post-market
    /// when it is an extended-hours order (`timeInForce: GTX`).
    pub fn executes_now(&self, now: DateTime<Utc>, extended_hours: bool) -> bool {
        match self.session(now) {
            Session::Regular => true,
            Session::PreMarket | Session::PostMarket => extended_hours,
            Session::Closed => false,
        }
    }

    /// 09:30 New York on `date`; `None` on a day without a regular session.
    pub fn regular_open(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        if !self.is_trading_day(date) {
            return None;
        }
        new_york_instant(date, REGULAR_OPEN)
    }

    /// 16:00 New York on `date` (13:00 on an early-close day); `None` on a day without a regular
    /// session.
    pub fn regular_close(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        if !self.is_trading_day(date) {
            return None;
        }
        let close = if self.is_early_close(date) {
            EARLY_REGULAR_CLOSE
        } else {
            REGULAR_CLOSE
        };
        new_york_instant(date, close)
    }

    /// 20:00 New York on `date` (17:00 on an early-close day), when the post-market session and
    /// extended-hours (`GTX`) trading end; `None` on a day without a session.
    pub fn extended_close(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        if !self.is_trading_day(date) {
            return None;
        }
        let close = if self.is_early_close(date) {
            EARLY_POST_MARKET_CLOSE
        } else {
            POST_MARKET_CLOSE
        };
        new_york_instant(date, close)
    }

    /// The first regular open strictly after `now`: today's 09:30 before it, else 09:30 of the
    /// next trading day. This is when DriveWealth releases an order queued at `now`.
    ///
    /// The search covers [`OPEN_SEARCH_DAYS_MAX`] days. A calendar with no trading day in that
    /// window (a month of holidays) gets 09:30 of the first day past it, so that the answer is
    /// still later than `now` and nothing loops.
    pub fn next_regular_open(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if let Some(open) = self.kept_open.get(now) {
            return open;
        }
        match self.first_open_after(now) {
            Some(open) => {
                self.kept_open.keep(now, open);
                open
            }
            None => open_past_the_search(now),
        }
    }

    /// The first regular open strictly after `now` within [`OPEN_SEARCH_DAYS_MAX`] days.
    fn first_open_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut date = new_york_date(now);
        for _ in 0..=OPEN_SEARCH_DAYS_MAX {
            if let Some(open) = self.regular_open(date) {
                if open > now {
                    return Some(open);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// When orders queued for the open on `date` stop being cancelable, by listing exchange:
    /// 09:28 (NASDAQ, BATS, IEX), 09:29 (ARCA, AMEX), 09:30 (NYSE, "at the open"). `None` for
    /// crypto and on days without a regular session.
    pub fn opening_cancel_cutoff(
        &self,
        exchange: Exchange,
        date: NaiveDate,
    ) -> Option<DateTime<Utc>> {
        let cutoff = opening_cancel_cutoff_time(exchange)?;
        if !self.is_trading_day(date) {
            return None;
        }
        new_york_instant(date, cutoff)
    }

    /// `Some(today's open)` when `now` is between the exchange's opening cut-off (inclusive) and
    /// the regular open (exclusive) on a trading day: a cancel of an order queued for the open
    /// cannot succeed then (`CANCEL_NOT_ALLOWED`). `None` otherwise; always `None` for NYSE,
    /// whose cut-off is the open itself, and for crypto.
    pub fn cancel_blocked(&self, exchange: Exchange, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let date = new_york_date(now);
        let cutoff = self.opening_cancel_cutoff(exchange, date)?;
        let open = self.regular_open(date)?;
        (cutoff <= now && now < open).then_some(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// `"2026-06-04"`, `"09:30:00"` in New York, as an instant.
    fn ny(day: &str, time: &str) -> DateTime<Utc> {
        let local = date(day).and_time(time.parse().unwrap());
        New_York
            .from_local_datetime(&local)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The holidays and early closes these tests need (2026, from the NYSE calendar), on an
    /// empty base so the tests show each day's effect.
    fn calendar() -> MarketCalendar {
        MarketCalendar::new(&MarketConfig {
            calendar: CalendarBase::None,
            holidays: [
                "2026-01-19",
                "2026-07-03",
                "2026-09-07",
                "2026-11-26",
                "2026-12-25",
            ]
            .map(date)
            .to_vec(),
            early_closes: ["2026-11-27", "2026-12-24"].map(date).to_vec(),
        })
    }

    /// The memoised offset answers as the tz database does at every second that matters: each
    /// hour's first and last second across two years with both DST switches, reached in order
    /// (the memo hit within an hour) and jumping between hours (a miss every time), and instants
    /// far outside the memo's hours.
    #[test]
    fn new_york_wall_clock_time_is_the_tz_databases() {
        let expect = |now: DateTime<Utc>| now.with_timezone(&New_York).naive_local();
        let start = utc("2025-01-01T00:00:00Z").timestamp();
        for hour in 0..2 * 366 * 24 {
            for at in [start + hour * 3600, start + hour * 3600 + 3599] {
                let now = DateTime::from_timestamp(at, 0).unwrap();
                assert_eq!(new_york_local(now), expect(now), "{now}");
                let far = DateTime::from_timestamp(at / 7, 0).unwrap();
                assert_eq!(new_york_local(far), expect(far), "{far}");
            }
        }
        for text in [
            "1883-11-18T16:59:59Z",
            "1883-11-18T17:00:00Z",
            "1969-12-31T23:59:59Z",
            "2262-04-11T23:47:16Z",
        ] {
            assert_eq!(new_york_local(utc(text)), expect(utc(text)), "{text}");
        }
        let fraction = utc("2026-03-08T06:59:59.999999999Z");
        assert_eq!(new_york_local(fraction), expect(fraction));
    }

    #[test]
    fn the_open_moves_in_utc_with_daylight_saving_time() {
        let calendar = calendar();
        // DST starts Sunday 2026-03-08 and ends Sunday 2026-11-01.
        let cases = [
            ("2026-03-06", "2026-03-06T14:30:00Z", "2026-03-06T21:00:00Z"), // EST, UTC-5
            ("2026-03-09", "2026-03-09T13:30:00Z", "2026-03-09T20:00:00Z"), // EDT, UTC-4
            ("2026-10-30", "2026-10-30T13:30:00Z", "2026-10-30T20:00:00Z"), // EDT
            ("2026-11-02", "2026-11-02T14:30:00Z", "2026-11-02T21:00:00Z"), // EST
        ];
        for (day, open, close) in cases {
            assert_eq!(calendar.regular_open(date(day)), Some(utc(open)), "{day}");
            assert_eq!(calendar.regular_close(date(day)), Some(utc(close)), "{day}");
            let open = utc(open);
            assert_eq!(
                calendar.session(open - TimeDelta::seconds(1)),
                Session::PreMarket,
                "{day}"
            );
            assert_eq!(calendar.session(open), Session::Regular, "{day}");
        }
        // The same UTC instant is pre-market before the switch and regular after it.
        assert_eq!(
            calendar.session(utc("2026-03-06T13:45:00Z")),
            Session::PreMarket
        );
        assert_eq!(
            calendar.session(utc("2026-03-09T13:45:00Z")),
            Session::Regular
        );
    }

    #[test]
    fn session_boundaries_on_a_normal_day() {
        let calendar = calendar();
        let day = "2026-06-04"; // a Thursday
        let cases = [
            ("00:00:00", Session::Closed),
            ("03:59:59", Session::Closed),
            ("04:00:00", Session::PreMarket),
            ("09:29:59", Session::PreMarket),
            ("09:30:00", Session::Regular),
            ("15:59:59", Session::Regular),
            ("16:00:00", Session::PostMarket),
            ("19:59:59", Session::PostMarket),
            ("20:00:00", Session::Closed),
            ("23:59:59", Session::Closed),
        ];
        for (time, expected) in cases {
            assert_eq!(calendar.session(ny(day, time)), expected, "{time}");
        }
        // Just under a boundary is still before it.
        let almost_open = ny(day, "09:30:00") - TimeDelta::milliseconds(1);
        assert_eq!(calendar.session(almost_open), Session::PreMarket);
    }

    #[test]
    fn every_config_starts_from_the_nyse_calendar_unless_it_says_none() {
        let built_in = MarketCalendar::new(&MarketConfig::default());
        for day in [
            "2026-12-25",
            "2027-07-05",
            "2027-12-24",
            "2028-04-14",
            "2028-12-25",
        ] {
            assert!(!built_in.is_trading_day(date(day)), "{day}");
        }
        for day in ["2026-11-27", "2028-07-03", "2028-11-24"] {
            assert!(built_in.is_early_close(date(day)), "{day}");
        }
        // 2028-01-01 is a Saturday and no holiday is observed for it.
        assert!(built_in.is_trading_day(date("2027-12-31")));
        assert_eq!(built_in.ends(), Some(date("2028-12-31")));

        let empty = MarketCalendar::new(&MarketConfig {
            calendar: CalendarBase::None,
            ..MarketConfig::default()
        });
        assert!(empty.is_trading_day(date("2026-12-25")));
        assert_eq!(empty.ends(), None);

        // A configured holiday wins over a built-in early close (an emergency closure).
        let closed = MarketCalendar::new(&MarketConfig {
            holidays: vec![date("2026-11-27")],
            ..MarketConfig::default()
        });
        assert!(!closed.is_trading_day(date("2026-11-27")));
        assert!(!closed.is_early_close(date("2026-11-27")));
    }

    #[test]
    fn the_trading_day_after_skips_weekends_and_holidays() {
        let calendar = MarketCalendar::new(&MarketConfig::default());
        for (trade, settles) in [
            ("2026-11-19", "2026-11-20"), // Thursday → Friday
            ("2026-11-20", "2026-11-23"), // Friday → Monday
            ("2026-11-21", "2026-11-23"), // a Saturday crypto trade → Monday
            ("2026-11-25", "2026-11-27"), // over Thanksgiving, onto an early close
            ("2026-12-24", "2026-12-28"), // over Christmas and the weekend
        ] {
            assert_eq!(
                calendar.trading_day_after(date(trade)),
                date(settles),
                "{trade}"
            );
        }
    }

    #[test]
    fn holidays_and_weekends_are_closed_all_day() {
        let calendar = calendar();
        for day in [
            "2026-07-03", // Independence Day observed (Friday)
            "2026-12-25", // Christmas
            "2026-06-06", // Saturday
            "2026-06-07", // Sunday
        ] {
            assert!(!calendar.is_trading_day(date(day)), "{day}");
            assert_eq!(calendar.regular_open(date(day)), None, "{day}");
            assert_eq!(calendar.regular_close(date(day)), None, "{day}");
            for time in ["04:00:00", "09:30:00", "12:00:00", "16:00:00"] {
                assert_eq!(
                    calendar.session(ny(day, time)),
                    Session::Closed,
                    "{day} {time}"
                );
                assert!(!calendar.executes_now(ny(day, time), true), "{day} {time}");
            }
        }
        assert!(calendar.is_trading_day(date("2026-07-02")));
        assert!(calendar.is_trading_day(date("2026-12-24")));
        // Without the holiday list, 2026-07-03 is a plain Friday.
        let bare = MarketCalendar::new(&MarketConfig {
            calendar: CalendarBase::None,
            ..MarketConfig::default()
        });
        assert!(bare.is_trading_day(date("2026-07-03")));
    }

    #[test]
    fn early_close_day() {
        let calendar = calendar();
        let day = "2026-11-27"; // day after Thanksgiving
        assert!(calendar.is_early_close(date(day)));
        assert!(!calendar.is_early_close(date("2026-11-30")));
        let cases = [
            ("03:59:59", Session::Closed),
            ("04:00:00", Session::PreMarket),
            ("09:30:00", Session::Regular),
            ("12:59:59", Session::Regular),
            ("13:00:00", Session::PostMarket),
            ("13:30:00", Session::PostMarket),
            ("16:00:00", Session::PostMarket),
            ("16:59:59", Session::PostMarket),
            ("17:00:00", Session::Closed),
            ("19:00:00", Session::Closed),
        ];
        for (time, expected) in cases {
            assert_eq!(calendar.session(ny(day, time)), expected, "{time}");
        }
        assert_eq!(
            calendar.regular_close(date(day)),
            Some(utc("2026-11-27T18:00:00Z"))
        );
    }

    #[test]
    fn executes_now_in_regular_or_with_extended_hours() {
        let calendar = calendar();
        let day = "2026-06-04";
        let cases = [
            ("03:00:00", false, false),
            ("03:00:00", true, false),
            ("08:00:00", false, false),
            ("08:00:00", true, true),
            ("10:00:00", false, true),
            ("10:00:00", true, true),
            ("17:00:00", false, false),
            ("17:00:00", true, true),
            ("21:00:00", true, false),
        ];
        for (time, extended_hours, expected) in cases {
            assert_eq!(
                calendar.executes_now(ny(day, time), extended_hours),
                expected,
                "{time} extended_hours={extended_hours}"
            );
        }
    }

    #[test]
    fn next_regular_open() {
        let calendar = calendar();
        let cases = [
            // (now in New York, next open in New York, why)
            (
                ("2026-06-04", "08:00:00"),
                "2026-06-04",
                "before today's open",
            ),
            (
                ("2026-06-04", "00:00:00"),
                "2026-06-04",
                "just after midnight",
            ),
            (("2026-06-04", "09:29:59"), "2026-06-04", "a second before"),
            (
                ("2026-06-04", "09:30:00"),
                "2026-06-05",
                "at the open: the next one",
            ),
            (
                ("2026-06-04", "12:00:00"),
                "2026-06-05",
                "during the session",
            ),
            (
                ("2026-06-05", "16:30:00"),
                "2026-06-08",
                "Friday after close",
            ),
            (("2026-06-06", "10:00:00"), "2026-06-08", "Saturday"),
            (("2026-06-07", "23:59:59"), "2026-06-08", "Sunday night"),
            (
                ("2026-01-16", "17:00:00"),
                "2026-01-20",
                "over Monday's MLK Day",
            ),
            (
                ("2026-09-04", "20:00:00"),
                "2026-09-08",
                "over Monday's Labor Day",
            ),
            (
                ("2026-07-02", "16:00:00"),
                "2026-07-06",
                "over Friday's July 3",
            ),
            (("2026-07-03", "10:00:00"), "2026-07-06", "on a holiday"),
            (
                ("2026-12-24", "14:00:00"),
                "2026-12-28",
                "early close, then Christmas",
            ),
        ];
        for ((day, time), open_day, why) in cases {
            assert_eq!(
                calendar.next_regular_open(ny(day, time)),
                ny(open_day, "09:30:00"),
                "{day} {time}: {why}"
            );
        }
        // Across the March switch the open is an hour earlier in UTC.
        assert_eq!(
            calendar.next_regular_open(utc("2026-03-06T22:00:00Z")),
            utc("2026-03-09T13:30:00Z")
        );
    }

    #[test]
    fn next_regular_open_is_bounded() {
        // Every day of 2026 a holiday: the search gives up without looping or panicking, and
        // still answers a time after `now`.
        let first = date("2026-01-01");
        let calendar = MarketCalendar::new(&MarketConfig {
            calendar: CalendarBase::None,
            holidays: first.iter_days().take(365).collect(),
            early_closes: Vec::new(),
        });
        let now = ny("2026-06-04", "12:00:00");
        let open = calendar.next_regular_open(now);
        assert!(open > now);
        assert!(open - now <= TimeDelta::days(i64::from(OPEN_SEARCH_DAYS_MAX) + 2));
    }

    proptest::proptest! {
        /// Whatever instants are asked, in whatever order (mostly forward, as clocks go, through
        /// weekends, holidays, DST switches and fractions of a second; sometimes back), the kept
        /// open answers exactly what the search answers, the fallback past a bare month included.
        #[test]
        fn the_kept_open_answers_what_the_search_answers(
            start in 1_767_225_600_i64..1_798_761_600, // 2026-01-01 .. 2027-01-01 UTC
            steps in proptest::collection::vec((-3_600_i64..86_400, 0_u32..1_000_000_000), 1..60),
            bare_month in proptest::bool::ANY,
        ) {
            let calendar = if bare_month {
                MarketCalendar::new(&MarketConfig {
                    calendar: CalendarBase::None,
                    holidays: date("2026-06-01").iter_days().take(45).collect(),
                    early_closes: Vec::new(),
                })
            } else {
                calendar()
            };
            let mut at = start;
            for (step, nanos) in steps {
                at += step;
                let now = DateTime::from_timestamp(at, nanos).unwrap();
                let searched = calendar
                    .first_open_after(now)
                    .unwrap_or_else(|| open_past_the_search(now));
                proptest::prop_assert_eq!(calendar.next_regular_open(now), searched, "at {}", now);
            }
        }
    }

    #[test]
    fn opening_cancel_cutoffs_by_exchange() {
        let calendar = calendar();
        let day = date("2026-06-04");
        let cases = [
            (Exchange::Nasdaq, Some("09:28:00")),
            (Exchange::Bats, Some("09:28:00")),
            (Exchange::Iex, Some("09:28:00")),
            (Exchange::Arca, Some("09:29:00")),
            (Exchange::Amex, Some("09:29:00")),
            (Exchange::Nyse, Some("09:30:00")),
            (Exchange::Crypto, None),
        ];
        for (exchange, expected) in cases {
            assert_eq!(
                calendar.opening_cancel_cutoff(exchange, day),
                expected.map(|time| ny("2026-06-04", time)),
                "{exchange:?}"
            );
            assert_eq!(
                calendar.opening_cancel_cutoff(exchange, date("2026-07-03")),
                None,
                "{exchange:?} on a holiday"
            );
        }
    }

    #[test]
    fn cancel_blocked_between_cutoff_and_open() {
        let calendar = calendar();
        let day = "2026-06-04";
        let open = ny(day, "09:30:00");
        let cases = [
            (Exchange::Nasdaq, "09:05:00", false),
            (Exchange::Nasdaq, "09:27:59", false),
            (Exchange::Nasdaq, "09:28:00", true),
            (Exchange::Nasdaq, "09:29:59", true),
            (Exchange::Nasdaq, "09:30:00", false),
            (Exchange::Bats, "09:28:00", true),
            (Exchange::Iex, "09:28:00", true),
            (Exchange::Arca, "09:28:30", false),
            (Exchange::Arca, "09:29:00", true),
            (Exchange::Arca, "09:30:00", false),
            (Exchange::Amex, "09:28:59", false),
            (Exchange::Amex, "09:29:00", true),
            (Exchange::Nyse, "09:28:00", false),
            (Exchange::Nyse, "09:29:59", false),
            (Exchange::Nyse, "09:30:00", false),
            (Exchange::Crypto, "09:29:00", false),
        ];
        for (exchange, time, blocked) in cases {
            assert_eq!(
                calendar.cancel_blocked(exchange, ny(day, time)),
                blocked.then_some(open),
                "{exchange:?} at {time}"
            );
        }
        // Not on days without an open.
        for day in ["2026-07-03", "2026-06-06"] {
            assert_eq!(
                calendar.cancel_blocked(Exchange::Nasdaq, ny(day, "09:29:00")),
                None,
                "{day}"
            );
        }
        // On the Monday after the March switch, the window is 13:28–13:30 UTC.
        assert_eq!(
            calendar.cancel_blocked(Exchange::Nasdaq, utc("2026-03-09T13:28:00Z")),
            Some(utc("2026-03-09T13:30:00Z"))
        );
        assert_eq!(
            calendar.cancel_blocked(Exchange::Nasdaq, utc("2026-03-09T14:28:00Z")),
            None
        );
    }

    #[test]
    fn exchange_strings_round_trip() {
        for exchange in Exchange::ALL {
            assert_eq!(Exchange::parse(exchange.as_str()), Some(exchange));
        }
        let parsed: Vec<_> = ["NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "CRYPTO"]
            .into_iter()
            .map(Exchange::parse)
            .collect();
        assert!(parsed.iter().all(Option::is_some));
        for text in ["nasdaq", "NYQ", "NYSE ARCA", "", " NYSE"] {
            assert_eq!(Exchange::parse(text), None, "{text:?}");
        }
    }

    /// The calendar shipped in the embedded default config (`src/config/default.toml`).
    #[test]
    fn the_embedded_default_uses_the_built_in_calendar() {
        let market = crate::config::Config::embedded_default().market;
        assert_eq!(market.calendar, CalendarBase::Nyse);
        let calendar = MarketCalendar::new(&market);
        for day in [
            "2026-07-03",
            "2026-12-25",
            "2027-06-18",
            "2027-12-24",
            "2028-07-04",
        ] {
            assert!(!calendar.is_trading_day(date(day)), "{day}");
        }
    }
}
