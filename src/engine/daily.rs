//! Each customer's BUY notional accepted today (New York trading date), for
//! `daily_buy_notional`. Check and add are one step under the customer's shard lock, so two
//! concurrent orders cannot both slip under the limit.
//!
//! Every BUY is counted, whether or not the limit is set, so a limit switched on by a reload
//! mid-day sees the whole day. The totals are durable (SPEC §10): each reservation's record
//! carries what it added, each give-back is logged, and a snapshot carries today's totals; so a
//! crash cannot reset a customer's day. Snapshots read the shards copy-on-write
//! ([`crate::cow`]).

use chrono::NaiveDate;

use crate::cow::{CowShards, Freeze};
use crate::fast_map::{shard_hash, FastHashMap};
use crate::limits::{check_daily_buy_notional, EffectiveLimits};
use crate::money::Fixed;
use crate::reject::Reject;

/// Shards of the totals: enough that copying one for a running snapshot is short (a thousandth
/// of the customers each).
const SHARDS: usize = 1024;

/// One shard: clientID → (trading day, total bought that day).
#[derive(Default)]
struct Days(FastHashMap<Box<str>, (NaiveDate, Fixed)>);

impl Freeze for Days {
    type Frozen = Vec<(Box<str>, NaiveDate, Fixed)>;
    fn freeze(&self) -> Self::Frozen {
        self.0
            .iter()
            .filter(|(_, (_, total))| !total.is_zero())
            .map(|(client_id, &(day, total))| (client_id.clone(), day, total))
            .collect()
    }
}

pub struct DailyBuys {
    shards: CowShards<Days>,
}

impl Default for DailyBuys {
    fn default() -> Self {
        DailyBuys {
            shards: CowShards::new(SHARDS),
        }
    }
}

impl DailyBuys {
    fn shard_of(&self, client_id: &str) -> usize {
        self.shards.index(shard_hash(client_id))
    }

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
        let mut shard = self.shards.change(self.shard_of(client_id));
        let entry = match shard.0.get_mut(client_id) {
            Some(entry) => entry,
            None => shard
                .0
                .entry(client_id.into())
                .or_insert((today, Fixed::ZERO)),
        };
        let (day, bought) = entry;
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
        let mut shard = self.shards.change(self.shard_of(client_id));
        if let Some((entry_day, bought)) = shard.0.get_mut(client_id) {
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
        let mut shard = self.shards.change(self.shard_of(client_id));
        let (entry_day, bought) = shard
            .0
            .entry(client_id.into())
            .or_insert((day, Fixed::ZERO));
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
        self.shards
            .change(self.shard_of(client_id))
            .0
            .insert(client_id.into(), (day, total));
    }

    /// Begins a snapshot (every change paused); read it with [`DailyBuys::read_snapshot`].
    pub(crate) fn begin_snapshot(&self) -> u64 {
        self.shards.begin_snapshot()
    }

    /// Every customer's (day, total) with something bought on or after `since`, as it was when
    /// snapshot `running` began, sorted by clientID.
    pub(crate) fn read_snapshot(
        &self,
        running: u64,
        since: NaiveDate,
    ) -> Vec<(String, NaiveDate, Fixed)> {
        let mut totals: Vec<(String, NaiveDate, Fixed)> = self
            .shards
            .read_snapshot(running)
            .into_iter()
            .flat_map(|(_, shard)| shard)
            .filter(|(_, day, _)| *day >= since)
            .map(|(client_id, day, total)| (client_id.into(), day, total))
            .collect();
        totals.sort_unstable();
        totals
    }

    /// [`DailyBuys::begin_snapshot`] and [`DailyBuys::read_snapshot`] at once (tests: a live
    /// engine reads only through its snapshots, which take turns).
    #[cfg(test)]
    pub fn export(&self, since: NaiveDate) -> Vec<(String, NaiveDate, Fixed)> {
        let running = self.begin_snapshot();
        self.read_snapshot(running, since)
    }

    /// A customer's total for `day` (zero when nothing was bought that day).
    pub fn total(&self, client_id: &str, day: NaiveDate) -> Fixed {
        self.shards
            .read(self.shard_of(client_id))
            .0
            .get(client_id)
            .filter(|entry| entry.0 == day)
            .map_or(Fixed::ZERO, |entry| entry.1)
    }

    /// A re-keyed customer keeps its day.
    pub fn rekey(&self, old: &str, new: &str) {
        let value = self.shards.change(self.shard_of(old)).0.remove(old);
        if let Some(value) = value {
            self.shards
                .change(self.shard_of(new))
                .0
                .insert(new.into(), value);
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
