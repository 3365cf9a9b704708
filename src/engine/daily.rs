//! Each customer's BUY notional accepted today (New York trading date), for
//! `daily_buy_notional`. Check and add are one step under the customer's map entry, so two
//! concurrent orders cannot both slip under the limit.
//!
//! Every BUY is counted, whether or not the limit is set, so a limit switched on by a reload
//! mid-day sees the whole day. The totals are durable (SPEC §10): each reservation's record
//! carries what it added, each give-back is logged, and a snapshot carries today's totals; so a
//! crash cannot reset a customer's day.

use chrono::NaiveDate;
use dashmap::DashMap;

use crate::limits::{check_daily_buy_notional, EffectiveLimits};
use crate::money::Fixed;
use crate::reject::Reject;

#[derive(Default)]
pub struct DailyBuys {
    by_client: DashMap<Box<str>, (NaiveDate, Fixed)>,
}

impl DailyBuys {
    /// Adds `notional` to the customer's day if the limit allows it.
    pub fn try_add(
        &self,
        client_id: &str,
        today: NaiveDate,
        notional: Fixed,
        limits: &EffectiveLimits<'_>,
    ) -> Result<(), Reject> {
        if notional.is_zero() {
            return Ok(());
        }
        let mut entry = match self.by_client.get_mut(client_id) {
            Some(entry) => entry,
            None => self
                .by_client
                .entry(client_id.into())
                .or_insert((today, Fixed::ZERO)),
        };
        let (day, bought) = &mut *entry;
        if *day != today {
            *day = today;
            *bought = Fixed::ZERO;
        }
        if limits.daily_buy_notional.is_some() {
            check_daily_buy_notional(*bought, notional, limits)?;
        }
        *bought = bought.checked_add(notional).unwrap_or(Fixed::MAX);
        Ok(())
    }

    /// Gives back what an order that never traded had added (an upstream refusal).
    pub fn give_back(&self, client_id: &str, day: NaiveDate, notional: Fixed) {
        if let Some(mut entry) = self.by_client.get_mut(client_id) {
            let (entry_day, bought) = &mut *entry;
            if *entry_day == day {
                *bought = bought
                    .checked_sub(notional)
                    .unwrap_or(Fixed::ZERO)
                    .max(Fixed::ZERO);
            }
        }
    }

    /// Recovery: a logged reservation added `notional` to `day`. Days replay in log order, so a
    /// later day replaces an earlier one as it did live.
    pub fn redo_add(&self, client_id: &str, day: NaiveDate, notional: Fixed) {
        if notional.is_zero() {
            return;
        }
        let mut entry = self
            .by_client
            .entry(client_id.into())
            .or_insert((day, Fixed::ZERO));
        let (entry_day, bought) = &mut *entry;
        if day > *entry_day {
            *entry_day = day;
            *bought = Fixed::ZERO;
        }
        if day == *entry_day {
            *bought = bought.checked_add(notional).unwrap_or(Fixed::MAX);
        }
    }

    /// Recovery: a snapshot's total for one customer.
    pub fn restore(&self, client_id: &str, day: NaiveDate, total: Fixed) {
        self.by_client.insert(client_id.into(), (day, total));
    }

    /// Every customer's (day, total) with something bought on or after `since`, for a snapshot.
    pub fn export(&self, since: NaiveDate) -> Vec<(String, NaiveDate, Fixed)> {
        self.by_client
            .iter()
            .filter(|entry| entry.value().0 >= since && !entry.value().1.is_zero())
            .map(|entry| (entry.key().to_string(), entry.value().0, entry.value().1))
            .collect()
    }

    /// A customer's total for `day` (zero when nothing was bought that day).
    pub fn total(&self, client_id: &str, day: NaiveDate) -> Fixed {
        self.by_client
            .get(client_id)
            .filter(|entry| entry.value().0 == day)
            .map_or(Fixed::ZERO, |entry| entry.value().1)
    }

    /// A re-keyed customer keeps its day.
    pub fn rekey(&self, old: &str, new: &str) {
        if let Some((_, value)) = self.by_client.remove(old) {
            self.by_client.insert(new.into(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn usd(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    #[test]
    fn redo_rebuilds_the_latest_day_only() {
        let buys = DailyBuys::default();
        buys.redo_add("c", day("2026-06-03"), usd("50"));
        buys.redo_add("c", day("2026-06-04"), usd("10"));
        buys.redo_add("c", day("2026-06-04"), usd("5"));
        buys.give_back("c", day("2026-06-04"), usd("5"));
        // A straggler from the day before (records of concurrent orders may interleave).
        buys.redo_add("c", day("2026-06-03"), usd("1"));
        assert_eq!(buys.total("c", day("2026-06-04")), usd("10"));
        assert_eq!(buys.total("c", day("2026-06-03")), Fixed::ZERO);
        assert_eq!(
            buys.export(day("2026-06-04")),
            vec![("c".to_owned(), day("2026-06-04"), usd("10"))]
        );
        assert!(buys.export(day("2026-06-05")).is_empty());
        buys.rekey("c", "d");
        assert_eq!(buys.total("d", day("2026-06-04")), usd("10"));
        assert_eq!(buys.total("c", day("2026-06-04")), Fixed::ZERO);
    }
}
