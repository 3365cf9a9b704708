//! Per-customer order rate: a token bucket refilled at `orders_per_second`, holding at most
//! `burst` orders (SPEC §5.3). Over it → `RATE_LIMITED` (HTTP 429).
//!
//! Integer arithmetic, exact: the bucket counts *token units* of 10⁻¹⁷ order, so that one
//! nanosecond at a rate of `r` orders per second (a [`Fixed`] of `r × 10⁸` units) adds exactly
//! `r × 10⁸` token units: one order = 10⁹ ns × 10⁸ = 10¹⁷ units. No rounding ever loses or
//! invents a fraction of an order; an order refused at 1/rate − 1 ns passes at 1/rate. The count
//! lives in a `u128` (a full bucket of `u32::MAX` orders is 4.3 × 10²⁶ units, far inside it).
//!
//! Time is the injected `now` (`DateTime<Utc>`, read as nanoseconds since the Unix epoch). If it
//! moves backwards (the admin clock was set back), the bucket does not refill for the lost span
//! and restarts its count from the new `now`: it neither refuses for the length of the jump nor
//! grants extra orders.
//!
//! Concurrency: one tiny mutex per customer inside a sharded concurrent map; customers never
//! wait on each other except for the map's brief shard lock. Memory: one bucket per customer that
//! has sent an order under a rate limit (customers are registered, so this is bounded by the
//! registry); [`RateLimiter::prune`] drops buckets that have refilled to full, which are
//! indistinguishable from new ones.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::fast_map::FastMap;
use crate::money::{Fixed, SCALE};
use crate::reject::{Reject, RejectCode};

use super::unix_ns;
use super::{EffectiveLimits, RateLimit};

/// Token units in one order: 10⁹ ns per second × 10⁸ units per [`Fixed`] whole.
const UNITS_PER_ORDER: u128 = 1_000_000_000 * SCALE as u128;

/// One customer's bucket.
#[derive(Debug)]
struct Bucket {
    /// Token units available at `at_ns`.
    units: u128,
    at_ns: i64,
    /// The rate and size last applied, so that [`RateLimiter::prune`] can tell when the bucket is
    /// full again without the customer's limits at hand.
    rate_units: u128,
    capacity_units: u128,
}

impl Bucket {
    fn full(limit: RateLimit, now_ns: i64) -> Bucket {
        let capacity_units = capacity(limit);
        Bucket {
            units: capacity_units,
            at_ns: now_ns,
            rate_units: rate_units(limit),
            capacity_units,
        }
    }

    /// Brings the bucket to `now_ns` under `limit` (which may have changed since the last order:
    /// a reload or an admin override takes effect at once, keeping the tokens already earned).
    fn refill(&mut self, limit: RateLimit, now_ns: i64) {
        self.rate_units = rate_units(limit);
        self.capacity_units = capacity(limit);
        let elapsed_ns = u128::try_from(now_ns.saturating_sub(self.at_ns)).unwrap_or(0);
        // Saturating is exact here: anything at or beyond capacity is capacity.
        let earned = elapsed_ns.saturating_mul(self.rate_units);
        self.units = self.units.saturating_add(earned).min(self.capacity_units);
        self.at_ns = now_ns;
    }

    /// Nanoseconds until a whole order is available (rounded up).
    fn wait_ns(&self) -> u128 {
        let missing = UNITS_PER_ORDER.saturating_sub(self.units);
        missing.div_ceil(self.rate_units.max(1))
    }

    fn is_full_at(&self, now_ns: i64) -> bool {
        let elapsed_ns = u128::try_from(now_ns.saturating_sub(self.at_ns)).unwrap_or(0);
        self.units
            .saturating_add(elapsed_ns.saturating_mul(self.rate_units))
            >= self.capacity_units
    }
}

fn rate_units(limit: RateLimit) -> u128 {
    u128::try_from(limit.orders_per_second.units()).unwrap_or(0)
}

fn capacity(limit: RateLimit) -> u128 {
    u128::from(limit.burst.max(1)) * UNITS_PER_ORDER
}

/// Every customer's token bucket.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: FastMap<Box<str>, Mutex<Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one order from `client_id`'s bucket, or refuses with `RATE_LIMITED` saying the rate
    /// and how long to wait. No rate limit in `limits` → always `Ok`. Allocates only the first
    /// time a customer is seen (its key) and to explain a refusal.
    pub fn try_take(
        &self,
        client_id: &str,
        limits: &EffectiveLimits<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), Reject> {
        let Some(limit) = limits.rate else {
            return Ok(());
        };
        let now_ns = unix_ns(now);
        let outcome = match self.buckets.get(client_id) {
            Some(bucket) => take(&mut bucket.lock(), limit, now_ns),
            None => {
                let bucket = self
                    .buckets
                    .entry(client_id.into())
                    .or_insert_with(|| Mutex::new(Bucket::full(limit, now_ns)));
                let outcome = take(&mut bucket.lock(), limit, now_ns);
                outcome
            }
        };
        outcome.map_err(|wait_ns| refusal(limit, wait_ns))
    }

    /// Drops the buckets that are full at `now` (a new bucket starts full, so nothing changes for
    /// their customers). Call it now and then, off the order path.
    pub fn prune(&self, now: DateTime<Utc>) {
        let now_ns = unix_ns(now);
        self.buckets
            .retain(|_, bucket| !bucket.get_mut().is_full_at(now_ns));
    }

    /// Customers with a bucket.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// `Err(wait_ns)` when the bucket holds less than one order.
fn take(bucket: &mut Bucket, limit: RateLimit, now_ns: i64) -> Result<(), u128> {
    bucket.refill(limit, now_ns);
    if bucket.units >= UNITS_PER_ORDER {
        bucket.units -= UNITS_PER_ORDER;
        Ok(())
    } else {
        Err(bucket.wait_ns())
    }
}

fn refusal(limit: RateLimit, wait_ns: u128) -> Reject {
    let wait_ms = wait_ns.div_ceil(1_000_000);
    Reject::new(
        RejectCode::RateLimited,
        format!(
            "more than orders_per_second {} (burst {}) for this customer; the next order is allowed in {wait_ms} ms",
            limit.orders_per_second, limit.burst
        ),
    )
}

/// The sustained interval between orders at `rate`, in nanoseconds (rounded up), e.g. to set a
/// `Retry-After` header.
pub fn interval_ns(rate: Fixed) -> u128 {
    UNITS_PER_ORDER.div_ceil(u128::try_from(rate.units()).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use chrono::TimeDelta;

    use super::*;
    use crate::limits::SymbolSet;

    static NO_SYMBOLS: std::sync::LazyLock<SymbolSet> =
        std::sync::LazyLock::new(SymbolSet::default);

    fn limits(rate: &str, burst: u32) -> EffectiveLimits<'static> {
        EffectiveLimits {
            max_order_notional: None,
            max_order_quantity: None,
            max_open_orders: None,
            daily_buy_notional: None,
            rate: Some(RateLimit {
                orders_per_second: Fixed::parse(rate).unwrap(),
                burst,
            }),
            price_band_pct: None,
            market_buffer_pct: Fixed::ZERO,
            duplicate_window_ms: 0,
            restricted_symbols: &NO_SYMBOLS,
            override_expires_at: None,
        }
    }

    fn t0() -> DateTime<Utc> {
        "2026-06-04T14:00:00Z".parse().unwrap()
    }

    fn ns(count: i64) -> TimeDelta {
        TimeDelta::nanoseconds(count)
    }

    #[test]
    fn a_burst_passes_then_the_next_order_is_refused_with_the_wait() {
        let limiter = RateLimiter::new();
        let limits = limits("10", 3);
        for _ in 0..3 {
            limiter.try_take("A", &limits, t0()).unwrap();
        }
        let reject = limiter.try_take("A", &limits, t0()).unwrap_err();
        assert_eq!(reject.code, RejectCode::RateLimited);
        assert_eq!(reject.http_status(), 429);
        assert_eq!(
            reject.message,
            "more than orders_per_second 10 (burst 3) for this customer; the next order is allowed in 100 ms"
        );
        // Another customer has its own bucket.
        limiter.try_take("B", &limits, t0()).unwrap();
    }

    #[test]
    fn refills_after_exactly_one_over_the_rate() {
        for (rate, interval_ns) in [
            ("4", 250_000_000),
            ("3", 333_333_334),
            ("0.5", 2_000_000_000),
        ] {
            let limiter = RateLimiter::new();
            let limits = limits(rate, 1);
            limiter.try_take("A", &limits, t0()).unwrap();
            assert_eq!(super::interval_ns(Fixed::parse(rate).unwrap()), interval_ns);
            assert!(
                limiter
                    .try_take("A", &limits, t0() + ns(interval_ns as i64 - 1))
                    .is_err(),
                "{rate}/s refused 1 ns early"
            );
            limiter
                .try_take("A", &limits, t0() + ns(interval_ns as i64))
                .unwrap_or_else(|reject| panic!("{rate}/s: {reject}"));
        }
    }

    #[test]
    fn the_earned_fraction_is_kept_between_attempts() {
        // 3/s: 1/3 s is 333,333,333.33… ns. Refusals in between must not lose the fraction.
        let limiter = RateLimiter::new();
        let limits = limits("3", 1);
        limiter.try_take("A", &limits, t0()).unwrap();
        for step in 1..333 {
            assert!(limiter
                .try_take("A", &limits, t0() + ns(step * 1_000_000))
                .is_err());
        }
        assert!(limiter
            .try_take("A", &limits, t0() + ns(333_333_333))
            .is_err());
        limiter
            .try_take("A", &limits, t0() + ns(333_333_334))
            .unwrap();
        // Three orders in the second after an emptied bucket: at 1/3, 2/3 and 1 s, even when
        // tried every ms (the fraction earned beyond a whole order is kept while the bucket
        // has room; a full bucket holds no more, which is what `burst` means).
        let limiter = RateLimiter::new();
        let limits = self::limits("3", 2);
        limiter.try_take("A", &limits, t0()).unwrap();
        limiter.try_take("A", &limits, t0()).unwrap();
        let mut passed = 0;
        for ms in 1..=1000 {
            if limiter
                .try_take("A", &limits, t0() + TimeDelta::milliseconds(ms))
                .is_ok()
            {
                passed += 1;
            }
        }
        assert_eq!(passed, 3);
    }

    #[test]
    fn the_bucket_holds_no_more_than_burst() {
        let limiter = RateLimiter::new();
        let limits = limits("1", 2);
        let later = t0() + TimeDelta::hours(1);
        limiter.try_take("A", &limits, t0()).unwrap();
        for _ in 0..2 {
            limiter.try_take("A", &limits, later).unwrap();
        }
        assert!(limiter.try_take("A", &limits, later).is_err());
    }

    #[test]
    fn a_clock_set_back_neither_blocks_nor_grants() {
        let limiter = RateLimiter::new();
        let limits = limits("1", 1);
        limiter.try_take("A", &limits, t0()).unwrap();
        let earlier = t0() - TimeDelta::hours(5);
        assert!(limiter.try_take("A", &limits, earlier).is_err());
        // One second after the new `now`, not five hours, the next order passes.
        limiter
            .try_take("A", &limits, earlier + TimeDelta::seconds(1))
            .unwrap();
    }

    #[test]
    fn no_rate_limit_always_passes_and_keeps_no_state() {
        let limiter = RateLimiter::new();
        let mut off = limits("1", 1);
        off.rate = None;
        for _ in 0..100 {
            limiter.try_take("A", &off, t0()).unwrap();
        }
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_raised_limit_applies_at_once() {
        let limiter = RateLimiter::new();
        limiter.try_take("A", &limits("1", 1), t0()).unwrap();
        assert!(limiter.try_take("A", &limits("1", 1), t0()).is_err());
        // Raised to 1000/s: one ms later there is a whole order again.
        limiter
            .try_take("A", &limits("1000", 5), t0() + TimeDelta::milliseconds(1))
            .unwrap();
    }

    #[test]
    fn prune_drops_only_full_buckets() {
        let limiter = RateLimiter::new();
        let limits = limits("1", 2);
        limiter.try_take("A", &limits, t0()).unwrap();
        limiter.try_take("B", &limits, t0()).unwrap();
        limiter.try_take("B", &limits, t0()).unwrap();
        limiter.prune(t0() + TimeDelta::seconds(1));
        assert_eq!(limiter.len(), 1, "A is full again after 1 s, B is not");
        limiter.prune(t0() + TimeDelta::seconds(2));
        assert!(limiter.is_empty());
    }

    #[test]
    fn exactly_burst_pass_when_many_threads_race_at_one_instant() {
        const THREADS: usize = 16;
        const TRIES: usize = 50;
        const BURST: u32 = 137;
        let limiter = Arc::new(RateLimiter::new());
        let passed = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (limiter, passed, start) = (limiter.clone(), passed.clone(), start.clone());
                std::thread::spawn(move || {
                    let limits = limits("5", BURST);
                    start.wait();
                    for _ in 0..TRIES {
                        if limiter.try_take("A", &limits, t0()).is_ok() {
                            passed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(passed.load(Ordering::Relaxed), BURST as usize);
    }
}
