//! The simulator's price feed: each symbol's current price, set by the config
//! (`simulator.prices`), the instrument master's reference prices, `POST /sim/prices`, and a
//! seeded random walk (`simulator.price_walk_bps`, SPEC §9 "Prices").
//!
//! The walk moves every priced symbol once a [`WALK_INTERVAL`] by a whole number of basis
//! points drawn uniformly from `-price_walk_bps..=price_walk_bps`, rounded to the cent and never
//! below one cent; the same seed walks the same path.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::faults::Dice;
use super::wire::{ApiError, JsonObject};
pub use crate::config::WALK_BPS_MAX;
use crate::money::{Fixed, SCALE};

/// Most symbols with their own price.
pub const PRICED_SYMBOLS_MAX: usize = 100_000;
/// Time between two steps of the random walk.
pub const WALK_INTERVAL: Duration = Duration::from_secs(1);

const CENT_UNITS: i64 = SCALE / 100;

pub struct PriceFeed {
    prices: RwLock<HashMap<String, Fixed>>,
    /// The price of a symbol with none of its own.
    default_price: Fixed,
    walk_bps: u32,
    dice: Mutex<Dice>,
}

impl PriceFeed {
    /// `first` prices (reference prices), then `configured` ones over them.
    pub fn new(
        default_price: Fixed,
        first: Vec<(String, Fixed)>,
        configured: impl IntoIterator<Item = (String, Fixed)>,
        walk_bps: u32,
        seed: u64,
    ) -> PriceFeed {
        let mut prices: HashMap<String, Fixed> = first.into_iter().collect();
        prices.extend(configured);
        PriceFeed {
            prices: RwLock::new(prices),
            default_price,
            walk_bps: walk_bps.min(WALK_BPS_MAX),
            // Apart from the fault dice, so turning the walk on does not move the fault rolls.
            dice: Mutex::new(Dice::new(seed ^ 0x5052_4943_4557_414c)),
        }
    }

    pub fn price(&self, symbol: &str) -> Fixed {
        self.prices
            .read()
            .get(symbol)
            .copied()
            .unwrap_or(self.default_price)
    }

    pub fn walks(&self) -> bool {
        self.walk_bps > 0
    }

    /// `POST /sim/prices`: `{"updated": N}`.
    pub fn set(&self, entries: Vec<(String, Fixed)>) -> Result<String, ApiError> {
        let mut prices = self.prices.write();
        let new_symbols = entries
            .iter()
            .filter(|(symbol, _)| !prices.contains_key(symbol))
            .count();
        if prices.len() + new_symbols > PRICED_SYMBOLS_MAX {
            return Err(ApiError::unavailable(format!(
                "at most {PRICED_SYMBOLS_MAX} symbols can have a price"
            )));
        }
        let updated = entries.len() as u64;
        prices.extend(entries);
        let mut object = JsonObject::new();
        object.integer("updated", updated);
        Ok(object.finish())
    }

    /// `GET /sim/prices`: every symbol with its own price, by symbol.
    pub fn to_json(&self) -> String {
        let prices = self.prices.read();
        let mut symbols: Vec<(&String, &Fixed)> = prices.iter().collect();
        symbols.sort();
        let mut out = String::from("[");
        for (index, (symbol, price)) in symbols.into_iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let mut object = JsonObject::new();
            object.string("symbol", symbol).number("price", *price);
            out.push_str(&object.finish());
        }
        out.push(']');
        out
    }

    /// One step of the walk for every priced symbol, in symbol order (so a seed replays).
    pub fn walk(&self) {
        if self.walk_bps == 0 {
            return;
        }
        let span = u64::from(self.walk_bps) * 2 + 1;
        let mut prices = self.prices.write();
        let mut symbols: Vec<String> = prices.keys().cloned().collect();
        symbols.sort();
        let mut dice = self.dice.lock();
        for symbol in symbols {
            let bps = (dice.next_u64() % span) as i64 - i64::from(self.walk_bps);
            if let Some(price) = prices.get_mut(&symbol) {
                *price = step(*price, bps);
            }
        }
    }
}

/// `price` moved by `bps` basis points, rounded to the cent, at least one cent. Exact integer
/// arithmetic: a price's units times 10⁴ fit in `i128`.
fn step(price: Fixed, bps: i64) -> Fixed {
    let units = i128::from(price.units());
    let moved = units + units * i128::from(bps) / 10_000;
    let cents = (moved + i128::from(CENT_UNITS) / 2) / i128::from(CENT_UNITS);
    let largest = i128::from(i64::MAX / CENT_UNITS * CENT_UNITS);
    let units = (cents * i128::from(CENT_UNITS)).clamp(i128::from(CENT_UNITS), largest);
    Fixed::from_units(units as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    #[test]
    fn steps_are_exact_rounded_to_the_cent_and_never_reach_zero() {
        assert_eq!(step(fixed("100"), 25), fixed("100.25"));
        assert_eq!(step(fixed("100"), -25), fixed("99.75"));
        assert_eq!(step(fixed("190.01"), 1), fixed("190.03"));
        assert_eq!(step(fixed("0.01"), -1_000), fixed("0.01"));
        assert_eq!(
            step(Fixed::MAX, 1_000),
            Fixed::from_units(i64::MAX / CENT_UNITS * CENT_UNITS)
        );
    }

    #[test]
    fn the_walk_is_bounded_and_replays_by_seed() {
        let path = |seed| {
            let feed = PriceFeed::new(
                fixed("100"),
                vec![("AAPL".to_owned(), fixed("190"))],
                [("MSFT".to_owned(), fixed("410"))],
                50,
                seed,
            );
            let mut seen = Vec::new();
            for _ in 0..200 {
                let before = feed.price("AAPL");
                feed.walk();
                let after = feed.price("AAPL");
                let bound = before.checked_mul_ceil(fixed("0.0051")).unwrap();
                let moved = if after > before {
                    after.checked_sub(before)
                } else {
                    before.checked_sub(after)
                };
                assert!(moved.unwrap() <= bound, "{before} → {after}");
                seen.push(after);
            }
            seen
        };
        assert_eq!(path(7), path(7));
        assert_ne!(path(7), path(8));
        let feed = PriceFeed::new(fixed("100"), vec![], [], 0, 1);
        feed.walk();
        assert_eq!(feed.price("ANY"), fixed("100"));
    }
}
