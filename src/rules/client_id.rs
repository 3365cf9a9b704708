//! `clientID` format rules (SPEC §4.1, seed `000`).
//!
//! DriveWealth requires every order to carry a `clientID` that names one end customer, stays the
//! same across orders, sessions and days, and is never a date or a firm code. What can be decided
//! from the value alone is decided here; whether it is a *registered* customer (stability and the
//! one-to-one mapping) is the customer registry's job.
//!
//! The checks run in this order and the first failing one decides:
//!
//! | check | example | code |
//! | --- | --- | --- |
//! | blank | `""`, `"   "` | `CLIENT_ID_MISSING` |
//! | length 1–64, characters `[A-Za-z0-9_-]` | `"abc def"`, 65 characters | `CLIENT_ID_INVALID` |
//! | date-like (`client_id.reject_date_like`) | `20260604`, `0604`, `2026-06-04` | `CLIENT_ID_INVALID` |
//! | deny list (`client_id.deny`, case-insensitive) | `ACMECO`, `GLOBAL` | `CLIENT_ID_INVALID` |
//!
//! Accepted shapes, from the seed: `123456789`, `CUST0A19F`, a 64-character hex hash.

use std::fmt;

use chrono::NaiveDate;

use crate::config::ClientIdConfig;
use crate::fast_map::FastHashSet;
use crate::reject::{Reject, RejectCode};

/// Longest accepted `clientID`, in characters (a 64-character hex hash fits exactly).
pub const CLIENT_ID_LENGTH_MAX: usize = 64;

/// At most this many characters of a refused value are quoted back in a message, so a hostile
/// 10 kB value does not become a 10 kB message (and log line).
const QUOTED_CHARS_MAX: usize = 64;

/// Years an 8-digit `YYYYMMDD` value must fall in to count as a date.
///
/// Stable numeric IDs are the seed's preferred shape. Every year from 1000 would refuse about 3.6%
/// of all 8-digit numbers (`10230115`, …) as "dates"; dates that routers really put in a
/// `clientID` (today, a birth date) fall in this window, which refuses under 0.1%. The
/// `YYYY-MM-DD` shape is unambiguous and needs no window.
const DATE_LIKE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2099;

/// The format rules of one configuration, ready to check values without allocating.
#[derive(Debug, Clone)]
pub struct ClientIdRules {
    /// `client_id.reject_date_like`.
    reject_date_like: bool,
    /// `client_id.deny`, trimmed and ASCII-upper-cased. Only ASCII values reach the deny check
    /// (the charset rule runs first), so ASCII case folding is the whole of "case-insensitive".
    deny_upper: FastHashSet<Box<str>>,
}

impl ClientIdRules {
    pub fn new(config: &ClientIdConfig) -> Self {
        let deny_upper = config
            .deny
            .iter()
            .map(|code| code.trim())
            .filter(|code| !code.is_empty())
            .map(|code| code.to_ascii_uppercase().into_boxed_str())
            .collect();
        Self {
            reject_date_like: config.reject_date_like,
            deny_upper,
        }
    }

    /// Checks one `clientID` value (of an order, or of a customer being registered).
    pub fn check(&self, client_id: &str) -> Result<(), Reject> {
        let quoted = Quoted(client_id);
        if crate::order::is_blank(client_id) {
            let message = if client_id.is_empty() {
                "clientID is empty; every order must carry the end customer's stable ID".to_owned()
            } else {
                format!(
                    "clientID {quoted} is blank; every order must carry the end customer's \
                     stable ID"
                )
            };
            return Err(Reject::new(RejectCode::ClientIdMissing, message));
        }

        // Byte length bounds character count, so the count is only needed for a long value.
        if client_id.len() > CLIENT_ID_LENGTH_MAX {
            let length = client_id.chars().count();
            if length > CLIENT_ID_LENGTH_MAX {
                return Err(invalid(format!(
                    "clientID {quoted} is {length} characters; the limit is {CLIENT_ID_LENGTH_MAX}"
                )));
            }
        }
        // Byte by byte: every allowed character is one ASCII byte, so the first byte that is
        // not allowed starts the first character that is not, at a character index equal to
        // its byte offset.
        if let Some(at) = client_id.bytes().position(|byte| !is_allowed_byte(byte)) {
            let character = client_id[at..].chars().next().unwrap_or_default();
            return Err(invalid(format!(
                "clientID {quoted} contains {character:?} at character {}; only letters A-Z \
                 and a-z, digits 0-9, '_' and '-' are allowed",
                at + 1
            )));
        }
        // From here on the value is 1–64 ASCII bytes.

        if self.reject_date_like {
            if let Some(shape) = date_like(client_id) {
                return Err(invalid(format!(
                    "clientID {quoted} looks like a date ({shape}); it must identify the \
                     customer, not the day"
                )));
            }
        }

        if !self.deny_upper.is_empty() {
            let mut buffer = [0u8; CLIENT_ID_LENGTH_MAX];
            let upper = &mut buffer[..client_id.len()];
            upper.copy_from_slice(client_id.as_bytes());
            upper.make_ascii_uppercase();
            // Upper-casing ASCII keeps it UTF-8, so this is always `Ok`.
            if let Ok(upper) = std::str::from_utf8(upper) {
                if self.deny_upper.contains(upper) {
                    return Err(invalid(format!(
                        "clientID {quoted} is a firm or product code on the deny list \
                         (client_id.deny); it must identify one end customer"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn invalid(message: String) -> Reject {
    Reject::new(RejectCode::ClientIdInvalid, message)
}

fn is_allowed_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// The date shape `client_id` has, if it is a real calendar date in one of them.
fn date_like(client_id: &str) -> Option<&'static str> {
    let bytes = client_id.as_bytes();
    match bytes.len() {
        8 => {
            let year = digits(&bytes[0..4])?;
            let month = digits(&bytes[4..6])?;
            let day = digits(&bytes[6..8])?;
            let year = i32::try_from(year).ok()?;
            (DATE_LIKE_YEARS.contains(&year) && NaiveDate::from_ymd_opt(year, month, day).is_some())
                .then_some("YYYYMMDD")
        }
        4 => {
            let month = digits(&bytes[0..2])?;
            let day = digits(&bytes[2..4])?;
            // Without a year, 0229 is a date: it is one in leap years (2000 is one).
            NaiveDate::from_ymd_opt(2000, month, day)
                .is_some()
                .then_some("MMDD")
        }
        10 if bytes[4] == b'-' && bytes[7] == b'-' => {
            let year = i32::try_from(digits(&bytes[0..4])?).ok()?;
            let month = digits(&bytes[5..7])?;
            let day = digits(&bytes[8..10])?;
            NaiveDate::from_ymd_opt(year, month, day)
                .is_some()
                .then_some("YYYY-MM-DD")
        }
        _ => None,
    }
}

/// The value of a short run of ASCII digits; `None` if any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<u32> {
    debug_assert!(bytes.len() <= 9, "u32 holds 9 decimal digits");
    bytes.iter().try_fold(0u32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u32::from(byte - b'0'))
    })
}

/// A value quoted as Rust's `{:?}` does (escapes and all), cut to [`QUOTED_CHARS_MAX`]
/// characters plus `…`.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(QUOTED_CHARS_MAX) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => {
                let quoted = format!("{:?}", &self.0[..cut]);
                let open = quoted.strip_suffix('"').unwrap_or(&quoted);
                write!(f, "{open}…\"")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_64: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn rules(reject_date_like: bool, deny: &[&str]) -> ClientIdRules {
        ClientIdRules::new(&ClientIdConfig {
            reject_date_like,
            deny: deny.iter().map(|code| code.to_string()).collect(),
        })
    }

    /// The embedded default's rules: dates refused, the seed's firm codes denied.
    fn seed_rules() -> ClientIdRules {
        rules(true, &["ACMECO", "GLOBAL"])
    }

    fn code(rules: &ClientIdRules, client_id: &str) -> Option<RejectCode> {
        rules.check(client_id).err().map(|reject| reject.code)
    }

    #[test]
    fn seed_table_and_format_rules() {
        use RejectCode::{ClientIdInvalid as Invalid, ClientIdMissing as Missing};
        let long_65 = "a".repeat(65);
        let cases: &[(&str, Option<RejectCode>, &str)] = &[
            // Seed 000, "ClientID accepted formats".
            ("123456789", None, "stable numeric customer ID"),
            ("CUST0A19F", None, "stable alphanumeric customer ID"),
            (HASH_64, None, "stable per-customer 64-char hex hash"),
            ("ACMECO", Some(Invalid), "constant firm / product code"),
            ("GLOBAL", Some(Invalid), "constant firm / product code"),
            ("20260604", Some(Invalid), "date string YYYYMMDD"),
            ("0604", Some(Invalid), "date string MMDD"),
            ("", Some(Missing), "blank"),
            // SPEC §4.1.
            ("2026-06-04", Some(Invalid), "date string YYYY-MM-DD"),
            ("   ", Some(Missing), "all whitespace is blank"),
            ("\t\n", Some(Missing), "all whitespace is blank"),
            ("1abc234xyz789", None, "the seed's curl example"),
            ("cust_01-a", None, "'_' and '-' are allowed"),
            ("a", None, "one character"),
            ("abc def", Some(Invalid), "space"),
            (" abc", Some(Invalid), "leading space is not trimmed away"),
            ("a/b", Some(Invalid), "slash"),
            ("é", Some(Invalid), "non-ASCII letter"),
            ("a.b", Some(Invalid), "dot"),
            ("a\u{0}b", Some(Invalid), "NUL"),
            (&long_65, Some(Invalid), "65 characters"),
            // Date-likeness needs a real calendar date.
            ("20261332", None, "month 13: a numeric ID"),
            ("20260230", None, "February 30th: a numeric ID"),
            ("20260229", None, "2026 is not a leap year"),
            ("20240229", Some(Invalid), "2024 is a leap year"),
            ("19850612", Some(Invalid), "a birth date"),
            ("10230115", None, "year 1023: a numeric ID"),
            ("0230", None, "February 30th is never a date"),
            (
                "0229",
                Some(Invalid),
                "February 29th is a date in leap years",
            ),
            ("1231", Some(Invalid), "MMDD"),
            ("1301", None, "month 13"),
            ("0000", None, "month 0"),
            ("12345", None, "five digits"),
            ("2026-13-04", None, "month 13 with dashes"),
            ("2026_06_04", None, "only the dashed shape is checked"),
            // The deny list is an exact, case-insensitive match.
            ("acmeco", Some(Invalid), "deny list ignores case"),
            ("AcmeCo", Some(Invalid), "deny list ignores case"),
            ("ACMECO1", None, "deny list is an exact match"),
            ("GLOBALX", None, "deny list is an exact match"),
        ];
        let rules = seed_rules();
        for (client_id, expected, why) in cases {
            assert_eq!(code(&rules, client_id), *expected, "{client_id:?}: {why}");
        }
    }

    #[test]
    fn length_limit_is_64_characters() {
        let rules = seed_rules();
        assert_eq!(code(&rules, &"7".repeat(64)), None);
        let reject = rules.check(&"7".repeat(65)).unwrap_err();
        assert_eq!(reject.code, RejectCode::ClientIdInvalid);
        assert!(
            reject.message.contains("is 65 characters; the limit is 64"),
            "{}",
            reject.message
        );
    }

    #[test]
    fn date_rule_can_be_switched_off() {
        let rules = rules(false, &[]);
        for client_id in ["20260604", "0604", "2026-06-04"] {
            assert_eq!(code(&rules, client_id), None, "{client_id}");
        }
    }

    #[test]
    fn deny_list_is_normalised_from_the_config() {
        let rules = rules(true, &[" acmeco ", "Global", ""]);
        assert_eq!(code(&rules, "ACMECO"), Some(RejectCode::ClientIdInvalid));
        assert_eq!(code(&rules, "global"), Some(RejectCode::ClientIdInvalid));
        assert_eq!(code(&rules, "CUST0A19F"), None);
        // Without a deny list the seed's firm codes are just IDs.
        assert_eq!(code(&self::rules(true, &[]), "ACMECO"), None);
    }

    #[test]
    fn checks_run_in_order() {
        // A denied code that also looks like a date is reported as a date.
        let rules = rules(true, &["20260604", "A B"]);
        let reject = rules.check("20260604").unwrap_err();
        assert!(
            reject.message.contains("looks like a date"),
            "{}",
            reject.message
        );
        // Charset comes before the deny list.
        let reject = rules.check("A B").unwrap_err();
        assert!(
            reject.message.contains("contains ' '"),
            "{}",
            reject.message
        );
        // Length comes before charset.
        let reject = rules.check(&"x ".repeat(40)).unwrap_err();
        assert!(
            reject.message.contains("is 80 characters"),
            "{}",
            reject.message
        );
    }

    #[test]
    fn messages_quote_the_value_and_the_reason() {
        let rules = seed_rules();
        let message = |client_id: &str| rules.check(client_id).unwrap_err().message;
        assert_eq!(
            message("20260604"),
            r#"clientID "20260604" looks like a date (YYYYMMDD); it must identify the customer, not the day"#
        );
        assert_eq!(
            message("0604"),
            r#"clientID "0604" looks like a date (MMDD); it must identify the customer, not the day"#
        );
        assert_eq!(
            message("2026-06-04"),
            r#"clientID "2026-06-04" looks like a date (YYYY-MM-DD); it must identify the customer, not the day"#
        );
        assert_eq!(
            message("ACMECO"),
            r#"clientID "ACMECO" is a firm or product code on the deny list (client_id.deny); it must identify one end customer"#
        );
        assert_eq!(
            message("a/b"),
            r#"clientID "a/b" contains '/' at character 2; only letters A-Z and a-z, digits 0-9, '_' and '-' are allowed"#
        );
        assert_eq!(
            message(""),
            "clientID is empty; every order must carry the end customer's stable ID"
        );
        assert_eq!(
            message("  "),
            r#"clientID "  " is blank; every order must carry the end customer's stable ID"#
        );
        assert_eq!(
            message("a\nb"),
            r#"clientID "a\nb" contains '\n' at character 2; only letters A-Z and a-z, digits 0-9, '_' and '-' are allowed"#
        );
        // A character of several bytes is named whole, at its character (not byte) position.
        assert_eq!(
            message("caféé"),
            r#"clientID "caféé" contains 'é' at character 4; only letters A-Z and a-z, digits 0-9, '_' and '-' are allowed"#
        );
        // Blank by Unicode's measure, not only ASCII's.
        let ideographic_space = seed_rules().check("\u{3000}").unwrap_err();
        assert_eq!(ideographic_space.code, RejectCode::ClientIdMissing);
        assert!(ideographic_space
            .message
            .ends_with(" is blank; every order must carry the end customer's stable ID"));
    }

    #[test]
    fn a_hostile_value_is_quoted_short() {
        let rules = seed_rules();
        let huge = "A".repeat(10_000);
        let message = rules.check(&huge).unwrap_err().message;
        assert!(message.len() < 200, "{} bytes: {message}", message.len());
        let quoted = format!("\"{}…\"", "A".repeat(64));
        assert!(message.contains(&quoted), "{message}");
        assert!(message.contains("is 10000 characters"), "{message}");

        // Cut at a character boundary, never inside a multi-byte character.
        let accented = "é".repeat(100);
        let message = rules.check(&accented).unwrap_err().message;
        assert!(
            message.contains(&format!("\"{}…\"", "é".repeat(64))),
            "{message}"
        );
    }
}
