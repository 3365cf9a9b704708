//! Time, through one door.
//!
//! Every rule that depends on the time of day (market sessions, cut-offs, expiries) takes a `now`
//! from a [`Clock`]; nothing else in the crate reads the operating system's clock. Tests use
//! [`FixedClock`]; `clock.adjustable = true` gives the server a [`ShiftedClock`] that the admin API
//! can move (`PUT /admin/clock`) and that runs on in real time from wherever it was set.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the OS clock is read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an offset that an operator (or a test) may set at run time.
///
/// The offset is one atomic, so `now()` stays lock-free on the order path.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_ns: AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `now()` return `target` at this instant; time keeps flowing from there.
    pub fn set(&self, target: DateTime<Utc>) {
        let delta = target.signed_duration_since(SystemClock.now());
        // Beyond ±292 years an i64 of nanoseconds overflows; clamp rather than wrap.
        let offset_ns = delta
            .num_nanoseconds()
            .unwrap_or(if delta > TimeDelta::zero() {
                i64::MAX
            } else {
                i64::MIN
            });
        self.offset_ns.store(offset_ns, Ordering::Relaxed);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let real = SystemClock.now();
        real.checked_add_signed(TimeDelta::nanoseconds(
            self.offset_ns.load(Ordering::Relaxed),
        ))
        .unwrap_or(real)
    }
}

/// A clock that stands still until told otherwise: for tests of time-dependent rules.
#[derive(Debug)]
pub struct FixedClock {
    unix_ns: AtomicI64,
}

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            unix_ns: AtomicI64::new(at.timestamp_nanos_opt().unwrap_or(0)),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.unix_ns
            .store(at.timestamp_nanos_opt().unwrap_or(0), Ordering::Relaxed);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.unix_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_clock_moves_to_the_target_and_keeps_running() {
        let clock = ShiftedClock::new();
        let target = DateTime::parse_from_rfc3339("2026-03-09T13:29:59Z")
            .unwrap()
            .with_timezone(&Utc);
        clock.set(target);
        let seen = clock.now();
        assert!(seen >= target);
        assert!(seen - target < TimeDelta::seconds(5), "{seen} vs {target}");
    }

    #[test]
    fn fixed_clock_stands_still() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = FixedClock::new(at);
        assert_eq!(clock.now(), at);
        assert_eq!(clock.now(), at);
    }
}
