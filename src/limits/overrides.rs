//! Temporary per-customer limit overrides (`PUT /admin/limits/{clientID}`): their wire shape and
//! the rules an override must keep.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::LimitPatch;
use crate::money::{exact, Fixed};

/// An admin override may run at most this long: the spec's intent is an approved, reverting
/// (intraday) increase, not a silent permanent change, which belongs in the config file.
pub const OVERRIDE_DAYS_MAX: i64 = 31;
/// Customers with an admin override at once (put a limit on everything).
pub const OVERRIDES_MAX: usize = 100_000;

/// A temporary per-customer override from `PUT /admin/limits/{clientID}`.
///
/// JSON (the admin body, and the shape to persist): the config's limit keys (snake_case, or
/// their camelCase spelling such as `maxOrderNotional`), money and percentages as decimal strings
/// or JSON numbers read exactly, plus `expiresAt` (RFC 3339). Unknown keys are refused, and so
/// are a body without any limit key and out-of-range values. Serializes back to the same shape
/// (decimal strings, unset keys left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OverrideWire", into = "OverrideWire")]
pub struct LimitOverride {
    pub limits: LimitPatch,
    /// The override is in force while `now < expires_at`.
    pub expires_at: DateTime<Utc>,
}

impl LimitOverride {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// A limit value read exactly from JSON: money and percentages from their own text (never through
/// a binary float), counts as integers.
trait ExactValue: Sized {
    fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Self>, D::Error>;
}

impl ExactValue for Fixed {
    fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Self>, D::Error> {
        exact::option(deserializer)
    }
}

impl ExactValue for u32 {
    fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Self>, D::Error> {
        Option::deserialize(deserializer)
    }
}

impl ExactValue for u64 {
    fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Self>, D::Error> {
        Option::deserialize(deserializer)
    }
}

fn exact_option<'de, D: Deserializer<'de>, T: ExactValue>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::option(deserializer)
}

macro_rules! define_override_wire {
    ($($key:ident: $type:ty = $camel:literal,)+) => {
        /// The flat wire shape of [`LimitOverride`]: each key in snake_case or camelCase.
        #[derive(Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct OverrideWire {
            $(
                #[serde(
                    default,
                    deserialize_with = "exact_option",
                    skip_serializing_if = "Option::is_none",
                    alias = $camel
                )]
                $key: Option<$type>,
            )+
            #[serde(rename = "expiresAt")]
            expires_at: DateTime<Utc>,
        }

        impl TryFrom<OverrideWire> for LimitOverride {
            type Error = String;

            fn try_from(wire: OverrideWire) -> Result<Self, String> {
                let limits = LimitPatch {
                    $($key: wire.$key,)+
                };
                check_patch(&limits)?;
                Ok(LimitOverride {
                    limits,
                    expires_at: wire.expires_at,
                })
            }
        }

        impl From<LimitOverride> for OverrideWire {
            fn from(value: LimitOverride) -> Self {
                OverrideWire {
                    $($key: value.limits.$key,)+
                    expires_at: value.expires_at,
                }
            }
        }
    };
}

crate::with_limit_keys!(define_override_wire);

pub(super) fn check_patch(limits: &LimitPatch) -> Result<(), String> {
    if limits.is_empty() {
        return Err(format!(
            "names no limit: give at least one of {}",
            LimitPatch::KEYS.join(", ")
        ));
    }
    let problems = limits.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems
            .iter()
            .map(|(key, message)| format!("{key}: {message}"))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// One customer's override, for listing and persisting (`GET`, WAL, snapshot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOverride {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "override")]
    pub limit_override: LimitOverride,
}

/// Why an override was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("expiresAt {expires_at} is not after now ({now})")]
    Expired {
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("expiresAt {expires_at} is more than {OVERRIDE_DAYS_MAX} days away; put lasting limits in the config file")]
    TooLong { expires_at: DateTime<Utc> },
    #[error("{0}")]
    Invalid(String),
    #[error("{OVERRIDES_MAX} customers already have an override")]
    Full,
}
