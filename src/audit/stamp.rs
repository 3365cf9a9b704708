//! The `ts` of an audit line, RFC 3339 with microseconds in UTC, as chrono writes it: the
//! writer formats each second once and writes only the microseconds of each line in it (two
//! lines an order, thousands a second, almost all in the second before).

use chrono::{DateTime, SecondsFormat, Timelike, Utc};

/// The last second written, as a JSON string: `"2026-12-01T15:04:05.123456Z"`, whose six digits
/// before the `Z` are each line's own.
#[derive(Default)]
pub(super) struct Stamps {
    /// Whole seconds since the epoch of `text`, when it holds one.
    second: Option<i64>,
    text: Vec<u8>,
}

/// Where the microseconds start in `"YYYY-MM-DDTHH:MM:SS.uuuuuuZ"`, and how many they are.
const MICROS_AT: usize = r#""2026-12-01T15:04:05."#.len();
const MICROS_DIGITS: usize = 6;

impl Stamps {
    /// `ts` as a JSON string (quotes included; nothing in it needs escaping).
    pub(super) fn json(&mut self, ts: DateTime<Utc>) -> &str {
        let micros = ts.nanosecond() / 1_000;
        // A leap second's fraction runs past a million, and a year past 9999 changes the width:
        // chrono writes those, whole.
        if micros >= 1_000_000 || self.second != Some(ts.timestamp()) {
            let text = format!("\"{}\"", ts.to_rfc3339_opts(SecondsFormat::Micros, true));
            let fixed = text.len() == MICROS_AT + MICROS_DIGITS + 2 && micros < 1_000_000;
            self.second = fixed.then(|| ts.timestamp());
            self.text = text.into_bytes();
        } else {
            let mut rest = micros;
            for digit in self.text[MICROS_AT..MICROS_AT + MICROS_DIGITS]
                .iter_mut()
                .rev()
            {
                *digit = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        }
        // Chrono's text, with ASCII digits put in place of ASCII digits.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn by_chrono(ts: DateTime<Utc>) -> String {
        format!("\"{}\"", ts.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    #[test]
    fn each_line_in_a_second_gets_its_own_microseconds() {
        let mut stamps = Stamps::default();
        let second = Utc.with_ymd_and_hms(2026, 12, 1, 15, 4, 5).unwrap();
        for micros in [0, 7, 123_456, 999_999, 10, 500_000] {
            let ts = second + chrono::Duration::microseconds(micros);
            assert_eq!(stamps.json(ts), by_chrono(ts));
        }
        // Back a second, and on past midnight of a new year.
        let earlier = second - chrono::Duration::microseconds(1);
        assert_eq!(stamps.json(earlier), by_chrono(earlier));
        let new_year = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::microseconds(999_999);
        assert_eq!(stamps.json(new_year), by_chrono(new_year));
        let next = new_year + chrono::Duration::microseconds(1);
        assert_eq!(stamps.json(next), "\"2027-01-01T00:00:00.000000Z\"");
    }

    #[test]
    fn a_leap_second_is_written_as_chrono_writes_it() {
        let mut stamps = Stamps::default();
        let before = Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(stamps.json(before), by_chrono(before));
        let leap = before.with_nanosecond(1_500_000_000).unwrap();
        assert_eq!(stamps.json(leap), by_chrono(leap));
        let after = before + chrono::Duration::microseconds(250_000);
        assert_eq!(stamps.json(after), by_chrono(after));
    }

    proptest! {
        /// Any sequence of instants, near each other or not, reads as chrono writes each.
        #[test]
        fn every_instant_reads_as_chrono_writes_it(
            start in 0i64..=253_402_300_799,
            steps in proptest::collection::vec(-2_000_000i64..2_000_000, 1..40),
        ) {
            let mut stamps = Stamps::default();
            let mut ts = Utc.timestamp_opt(start, 0).unwrap();
            for step in steps {
                ts += chrono::Duration::microseconds(step);
                prop_assert_eq!(stamps.json(ts), by_chrono(ts));
            }
        }
    }
}
