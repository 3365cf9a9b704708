//! Value types that config keys are written in.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::money::Fixed;

/// A money amount, price or percentage in the config file, read exactly.
///
/// Risk officers write `max_order_notional = 25000`, `= 25000.50` or `= "25000.50"`; all three
/// mean the same exact number. A TOML float has already become an `f64` inside the TOML parser,
/// so it is read back through Rust's shortest round-trip rendering, which returns the digits that
/// were written for any literal of up to 15 significant digits; a longer one should be quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decimal(pub Fixed);

impl Decimal {
    pub fn from_text(text: &str) -> Decimal {
        Decimal(Fixed::parse(text).unwrap_or_else(|_| panic!("bad built-in decimal {text}")))
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecimalVisitor;

        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal number (integer, float or decimal string)")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
                Fixed::from_int(value)
                    .map(Decimal)
                    .ok_or_else(|| E::custom(format!("{value} is out of range")))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
                i64::try_from(value)
                    .map_err(|_| E::custom(format!("{value} is out of range")))
                    .and_then(|value| self.visit_i64(value))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
                if !value.is_finite() {
                    return Err(E::custom("must be a finite number"));
                }
                self.visit_str(&format!("{value}"))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
                Fixed::parse(text.trim())
                    .map(Decimal)
                    .map_err(|error| E::custom(format!("{text:?} {error}")))
            }
        }

        deserializer.deserialize_any(DecimalVisitor)
    }
}

impl serde::Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        value: Decimal,
    }

    fn read(text: &str) -> Result<Fixed, String> {
        toml::from_str::<Holder>(text)
            .map(|holder| holder.value.0)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn integers_floats_and_strings_read_exactly() {
        assert_eq!(read("value = 25000").unwrap().to_string(), "25000");
        assert_eq!(read("value = 0.1").unwrap().to_string(), "0.1");
        assert_eq!(read("value = 25000.55").unwrap().to_string(), "25000.55");
        assert_eq!(
            read("value = \"5.12580012\"").unwrap().to_string(),
            "5.12580012"
        );
        assert!(read("value = \"1.123456789\"")
            .unwrap_err()
            .contains("8 decimal"));
        assert!(read("value = nan").is_err());
        assert!(read("value = true").is_err());
    }
}

/// A secret written in the config (`upstream.auth.client_secret`): kept as it is, never shown.
/// `Debug` prints `"…"`, so a config dumped into a log or an error holds no secret.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"…\"")
    }
}
