//! Seeded fault dice: which `/back-office/*` request is delayed, swallowed, failed or reset.
//!
//! The generator is SplitMix64 (Steele, Lea & Flood 2014): one `u64` of state, a fixed
//! increment and a bijective finaliser. It is small enough to read at a glance, has no
//! dependency, and a run with the same seed and the same request order rolls the same faults.

/// What to do to one request, decided before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Handle it normally.
    None,
    /// Read the request, never answer; the connection stays open until shutdown.
    Timeout,
    /// Answer 503 with a DriveWealth error body.
    Error,
    /// Close the connection abruptly (RST), with no answer.
    Reset,
}

/// Fault rates in force; the config gives the first ones, `PUT /sim/faults` replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultSettings {
    /// Delay before every `/back-office/*` answer, in milliseconds.
    pub latency_ms: u64,
    /// Percent of requests that are never answered.
    pub timeout_pct: u8,
    /// Percent of requests answered 503.
    pub error_pct: u8,
    /// Percent of requests whose connection is reset.
    pub reset_pct: u8,
}

impl FaultSettings {
    /// One roll in `0..100` picks at most one fault: the percentages are consecutive bands
    /// (timeout, then error, then reset), so each rate holds on its own and `error_pct = 100`
    /// fails every request. Bands past 100 are cut off, timeout first.
    pub fn pick(&self, roll_pct: u8) -> Fault {
        let roll = u16::from(roll_pct);
        let timeout_end = u16::from(self.timeout_pct);
        let error_end = timeout_end + u16::from(self.error_pct);
        let reset_end = error_end + u16::from(self.reset_pct);
        if roll < timeout_end {
            Fault::Timeout
        } else if roll < error_end {
            Fault::Error
        } else if roll < reset_end {
            Fault::Reset
        } else {
            Fault::None
        }
    }

    /// True when no request can be faulted: the dice need not be rolled.
    pub fn is_quiet(&self) -> bool {
        self.timeout_pct == 0 && self.error_pct == 0 && self.reset_pct == 0
    }
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection on `u64`, so distinct inputs give distinct outputs.
pub fn mix64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Dice {
    state: u64,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// A roll in `0..100`. The modulo bias of 2⁶⁴ mod 100 is below 10⁻¹⁷: irrelevant here.
    pub fn roll_pct(&mut self) -> u8 {
        (self.next_u64() % 100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_rolls() {
        let mut first = Dice::new(42);
        let mut second = Dice::new(42);
        let a: Vec<u8> = (0..64).map(|_| first.roll_pct()).collect();
        let b: Vec<u8> = (0..64).map(|_| second.roll_pct()).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|roll| *roll < 100));
        let mut other = Dice::new(43);
        let c: Vec<u8> = (0..64).map(|_| other.roll_pct()).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn bands_pick_each_fault_at_its_rate() {
        let settings = FaultSettings {
            latency_ms: 0,
            timeout_pct: 10,
            error_pct: 20,
            reset_pct: 5,
        };
        let picks: Vec<Fault> = (0..100).map(|roll| settings.pick(roll)).collect();
        let count = |fault| picks.iter().filter(|pick| **pick == fault).count();
        assert_eq!(count(Fault::Timeout), 10);
        assert_eq!(count(Fault::Error), 20);
        assert_eq!(count(Fault::Reset), 5);
        assert_eq!(count(Fault::None), 65);
    }

    #[test]
    fn full_rates_always_fire_and_overflowing_bands_are_cut() {
        let all_errors = FaultSettings {
            error_pct: 100,
            ..FaultSettings::default()
        };
        assert!((0..100).all(|roll| all_errors.pick(roll) == Fault::Error));
        let too_much = FaultSettings {
            timeout_pct: 100,
            error_pct: 100,
            reset_pct: 100,
            latency_ms: 0,
        };
        assert!((0..100).all(|roll| too_much.pick(roll) == Fault::Timeout));
        assert!(FaultSettings::default().is_quiet());
        assert!((0..100).all(|roll| FaultSettings::default().pick(roll) == Fault::None));
    }

    #[test]
    fn mix_is_a_bijection_on_a_sample() {
        let outputs: std::collections::HashSet<u64> = (0..10_000u64).map(mix64).collect();
        assert_eq!(outputs.len(), 10_000);
    }
}
