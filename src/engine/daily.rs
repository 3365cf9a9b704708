//! Each customer's BUY notional accepted today (New York trading date), for
//! `daily_buy_notional`. Check and add are one step under the customer's map entry, so two
//! concurrent orders cannot both slip under the limit.

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
        if limits.daily_buy_notional.is_none() {
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
        check_daily_buy_notional(*bought, notional, limits)?;
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
}
