//! `omnibus.low_balance_warning` (SPEC §5.3): the omni account's available buying power crossing
//! below a threshold logs a warning and sets a metric — once per crossing, not on every order
//! while it stays low.

use crate::money::Fixed;

/// True when available went from at or above `threshold` to below it with this change. Staying
/// below, staying above, landing exactly on the threshold and climbing back are not crossings.
pub fn crossed_below(previous_available: Fixed, new_available: Fixed, threshold: Fixed) -> bool {
    previous_available >= threshold && new_available < threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    #[test]
    fn only_the_step_from_at_or_above_to_below_is_a_crossing() {
        let threshold = fixed("50000");
        for (previous, new, crossed) in [
            ("60000", "49999.99999999", true),
            ("50000", "49999.99999999", true),
            ("60000", "50000", false),
            ("60000", "55000", false),
            ("49999", "40000", false),
            ("40000", "60000", false),
            ("40000", "50000", false),
            ("60000", "-10", true),
        ] {
            assert_eq!(
                crossed_below(fixed(previous), fixed(new), threshold),
                crossed,
                "{previous} → {new}"
            );
        }
        assert!(!crossed_below(Fixed::ZERO, Fixed::ZERO, Fixed::ZERO));
        assert!(crossed_below(
            Fixed::ZERO,
            fixed("-0.00000001"),
            Fixed::ZERO
        ));
    }
}
