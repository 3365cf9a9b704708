//! `commission` and `commissionRate` (DriveWealth's create-order fields): a fixed USD amount or a
//! fraction of the order's amount, checked as DriveWealth checks them (`E032`).

use super::Commission;
use crate::money::Fixed;
use crate::reject::Reject;

/// The order's commission from its two fields, each already read as an exact decimal.
pub(super) fn read(
    amount: Option<Fixed>,
    rate: Option<Fixed>,
) -> Result<Option<Commission>, Reject> {
    // DriveWealth's rules (E032): a fixed amount or a rate of the order's amount, not both; a
    // rate from 0.0001 to 1 with at most 4 decimal places.
    let commission = match (amount, rate) {
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(Reject::invalid(
                "cannot specify both commission and commissionRate; provide either one",
            ))
        }
        (Some(amount), None) if amount.is_negative() => {
            return Err(Reject::invalid(format!(
                "commission must not be negative, got {amount}"
            )))
        }
        (Some(amount), None) => Some(Commission::Amount(amount)),
        (None, Some(rate)) => {
            let (low, high) = (Fixed::from_units(10_000), Fixed::ONE);
            if rate < low || rate > high {
                return Err(Reject::invalid(format!(
                    "commissionRate must be between 0.0001 and 1, got {rate}"
                )));
            }
            if rate.units() % 10_000 != 0 {
                return Err(Reject::invalid(format!(
                    "commissionRate {rate} has more than 4 decimal places"
                )));
            }
            Some(Commission::Rate(rate))
        }
    };
    Ok(commission)
}

#[cfg(test)]
mod tests {
    use crate::order::{parse_order, Commission};
    use crate::reject::RejectCode;

    fn with(fields: &str) -> Result<Option<Commission>, String> {
        let body = format!(
            r#"{{"accountNo":"A","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":1,"price":1{fields}}}"#
        );
        parse_order(body.as_bytes())
            .map(|order| order.commission)
            .map_err(|reject| {
                assert_eq!(reject.code, RejectCode::InvalidOrder);
                reject.message
            })
    }

    #[test]
    fn drivewealth_s_commission_rules() {
        let fixed = |text: &str| crate::money::Fixed::parse(text).unwrap();
        assert_eq!(with(""), Ok(None));
        assert_eq!(
            with(r#","commission":3.567"#),
            Ok(Some(Commission::Amount(fixed("3.567"))))
        );
        assert_eq!(
            with(r#","commissionRate":"0.3""#),
            Ok(Some(Commission::Rate(fixed("0.3"))))
        );
        assert_eq!(with(r#","commission":null"#), Ok(None));
        for (fields, says) in [
            (r#","commission":1,"commissionRate":0.1"#, "both"),
            (r#","commissionRate":0.00005"#, "between 0.0001 and 1"),
            (r#","commissionRate":1.5"#, "between 0.0001 and 1"),
            (r#","commissionRate":0.12345"#, "4 decimal places"),
            (r#","commission":-1"#, "negative"),
            (r#","commission":"ten""#, "not a decimal number"),
        ] {
            let message = with(fields).unwrap_err();
            assert!(message.contains(says), "{fields}: {message}");
        }
    }
}
