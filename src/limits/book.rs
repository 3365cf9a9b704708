//! One customer's effective limits: `[limits.default]`, overlaid by the customer's
//! `[[limits.customer]]` entry, overlaid by a temporary admin override until it expires.
//!
//! Each key falls back on its own: a customer entry that sets only `orders_per_second` keeps the
//! default's `burst` (or, when no layer sets `burst`, gets the resolved rate rounded up).
//! `restricted_symbols` is the one key that adds up (default ∪ customer entry) instead of
//! replacing, so a customer entry can never lift a firm-wide restriction; admin overrides do not
//! carry it at all (they raise or lower numbers; halting a symbol is the kill switch's job).
//!
//! A [`LimitBook`] is built once per config (re)load: the default and every customer entry are
//! resolved up front into a map, so [`LimitBook::limits_for`] is one hash lookup plus one
//! concurrent-map lookup for an override, and allocates nothing. The overrides live in an
//! [`Arc`]-shared table that survives a reload ([`LimitBook::with_config`]).
//!
//! Admin overrides (`PUT /admin/limits/{clientID}`) replace that customer's previous override as
//! a whole. They revert by themselves: an override is in force while `now < expiresAt`; an
//! expired one is ignored and removed the next time it is looked at.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::overrides::{check_patch, OVERRIDES_MAX, OVERRIDE_DAYS_MAX};
use super::{ClientOverride, LimitOverride, OverrideError, SymbolSet};
use crate::config::{LimitPatch, LimitsConfig, MARKET_BUFFER_PCT_DEFAULT};
use crate::fast_map::{FastHashMap, FastMap};
use crate::money::{Fixed, SCALE};

/// A customer's token bucket: refilled at `orders_per_second`, holding at most `burst` orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub orders_per_second: Fixed,
    /// At least 1.
    pub burst: u32,
}

/// The limits that apply to one customer's order at one instant. `None` = that limit is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits<'a> {
    /// USD.
    pub max_order_notional: Option<Fixed>,
    /// Shares.
    pub max_order_quantity: Option<Fixed>,
    pub max_open_orders: Option<u32>,
    /// USD per trading day.
    pub daily_buy_notional: Option<Fixed>,
    pub rate: Option<RateLimit>,
    /// Percent of the reference price.
    pub price_band_pct: Option<Fixed>,
    /// Percent; always set (default 5).
    pub market_buffer_pct: Fixed,
    /// 0 = the content duplicate check is off.
    pub duplicate_window_ms: u64,
    pub restricted_symbols: &'a SymbolSet,
    /// When an admin override is in force: when it reverts.
    pub override_expires_at: Option<DateTime<Utc>>,
}

impl<'a> EffectiveLimits<'a> {
    fn resolve(
        patch: &LimitPatch,
        restricted_symbols: &'a SymbolSet,
        override_expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let rate = patch.orders_per_second.map(|orders_per_second| RateLimit {
            orders_per_second,
            burst: patch
                .burst
                .unwrap_or_else(|| rounded_up(orders_per_second))
                .max(1),
        });
        EffectiveLimits {
            max_order_notional: patch.max_order_notional,
            max_order_quantity: patch.max_order_quantity,
            max_open_orders: patch.max_open_orders,
            daily_buy_notional: patch.daily_buy_notional,
            rate,
            price_band_pct: patch.price_band_pct,
            market_buffer_pct: patch
                .market_buffer_pct
                .unwrap_or(Fixed::from_units(MARKET_BUFFER_PCT_DEFAULT * SCALE)),
            duplicate_window_ms: patch.duplicate_window_ms.unwrap_or(0),
            restricted_symbols,
            override_expires_at,
        }
    }
}

/// `burst`'s default: the rate rounded up to a whole order (0.5/s → 1, 2.5/s → 3).
fn rounded_up(rate: Fixed) -> u32 {
    let whole = rate.units().max(0).unsigned_abs().div_ceil(SCALE as u64);
    u32::try_from(whole).unwrap_or(u32::MAX)
}

/// The temporary overrides, shared by every [`LimitBook`] built from one another.
#[derive(Debug, Default)]
struct OverrideTable {
    by_client: FastMap<Box<str>, LimitOverride>,
}

/// One customer's resolved config layers.
#[derive(Debug, Clone)]
struct Resolved {
    limits: LimitPatch,
    restricted_symbols: SymbolSet,
}

/// Every customer's limits, resolved from one config, plus the temporary admin overrides.
#[derive(Debug)]
pub struct LimitBook {
    default: Resolved,
    /// Customers with a `[[limits.customer]]` entry, already overlaid on the default.
    customers: FastHashMap<Box<str>, Resolved>,
    overrides: Arc<OverrideTable>,
}

impl LimitBook {
    /// A book with no overrides yet.
    pub fn from_config(config: &LimitsConfig) -> LimitBook {
        Self::build(config, Arc::default())
    }

    /// The book of a reloaded config, keeping this book's overrides (they are shared: an override
    /// set through either book is seen by both).
    pub fn with_config(&self, config: &LimitsConfig) -> LimitBook {
        Self::build(config, self.overrides.clone())
    }

    fn build(config: &LimitsConfig, overrides: Arc<OverrideTable>) -> LimitBook {
        let default_limits = LimitPatch::from(&config.default);
        let default_symbols = || config.default.restricted_symbols.iter().map(String::as_str);
        let customers = config
            .customer
            .iter()
            .map(|entry| {
                let resolved = Resolved {
                    limits: LimitPatch::from(entry).over(&default_limits),
                    restricted_symbols: SymbolSet::new(
                        default_symbols()
                            .chain(entry.restricted_symbols.iter().map(String::as_str)),
                    ),
                };
                (entry.client_id.as_str().into(), resolved)
            })
            .collect();
        LimitBook {
            default: Resolved {
                limits: default_limits,
                restricted_symbols: SymbolSet::new(default_symbols()),
            },
            customers,
            overrides,
        }
    }

    /// The limits in force for `client_id` at `now`. Does not allocate.
    pub fn limits_for(&self, client_id: &str, now: DateTime<Utc>) -> EffectiveLimits<'_> {
        let resolved = self.customers.get(client_id).unwrap_or(&self.default);
        match self.override_for(client_id, now) {
            Some(active) => EffectiveLimits::resolve(
                &active.limits.over(&resolved.limits),
                &resolved.restricted_symbols,
                Some(active.expires_at),
            ),
            None => EffectiveLimits::resolve(&resolved.limits, &resolved.restricted_symbols, None),
        }
    }

    /// `client_id`'s override when one is in force at `now`; an expired one is removed.
    pub fn override_for(&self, client_id: &str, now: DateTime<Utc>) -> Option<LimitOverride> {
        let found = *self.overrides.by_client.get(client_id)?;
        if found.is_active(now) {
            return Some(found);
        }
        // Re-checked under the shard lock: a fresh override may have replaced it meanwhile.
        self.overrides
            .by_client
            .remove_if(client_id, |_, stored| !stored.is_active(now));
        None
    }

    /// Sets `client_id`'s override, replacing any previous one. Refused when it is already
    /// expired at `now`, runs longer than [`OVERRIDE_DAYS_MAX`], sets nothing or breaks a value
    /// rule, or when [`OVERRIDES_MAX`] other customers have one. WAL replay sets the same way and
    /// may skip [`OverrideError::Expired`] records.
    pub fn set_override(
        &self,
        client_id: &str,
        limit_override: LimitOverride,
        now: DateTime<Utc>,
    ) -> Result<(), OverrideError> {
        if !limit_override.is_active(now) {
            return Err(OverrideError::Expired {
                expires_at: limit_override.expires_at,
                now,
            });
        }
        let longest = now
            .checked_add_signed(TimeDelta::days(OVERRIDE_DAYS_MAX))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if limit_override.expires_at > longest {
            return Err(OverrideError::TooLong {
                expires_at: limit_override.expires_at,
            });
        }
        check_patch(&limit_override.limits).map_err(OverrideError::Invalid)?;
        let table = &self.overrides.by_client;
        if !table.contains_key(client_id) && table.len() >= OVERRIDES_MAX {
            table.retain(|_, stored| stored.is_active(now));
            if table.len() >= OVERRIDES_MAX {
                return Err(OverrideError::Full);
            }
        }
        table.insert(client_id.into(), limit_override);
        Ok(())
    }

    /// Removes `client_id`'s override (whether or not it was still in force).
    pub fn clear_override(&self, client_id: &str) -> Option<LimitOverride> {
        self.overrides
            .by_client
            .remove(client_id)
            .map(|(_, removed)| removed)
    }

    /// Every override in force at `now`, sorted by `clientID`: for `GET`, the WAL and snapshots.
    /// Expired ones are dropped on the way.
    pub fn overrides(&self, now: DateTime<Utc>) -> Vec<ClientOverride> {
        self.overrides
            .by_client
            .retain(|_, stored| stored.is_active(now));
        let mut listed: Vec<ClientOverride> = self
            .overrides
            .by_client
            .iter()
            .map(|entry| ClientOverride {
                client_id: entry.key().to_string(),
                limit_override: *entry.value(),
            })
            .collect();
        listed.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::limits::LimitPatch;

    fn fixed(text: &str) -> Fixed {
        Fixed::parse(text).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn book(toml: &str) -> LimitBook {
        LimitBook::from_config(&Config::parse(toml, "t").unwrap().limits)
    }

    const CONFIG: &str = r#"
        [limits.default]
        max_order_notional = 25000
        orders_per_second = 2.5
        price_band_pct = 10
        restricted_symbols = ["xyz"]
        [[limits.customer]]
        client_id = "BIG"
        max_order_notional = 100000
        max_open_orders = 5
        restricted_symbols = ["GME"]
        [[limits.customer]]
        client_id = "FAST"
        orders_per_second = 100
        burst = 7
        market_buffer_pct = 10
        duplicate_window_ms = 500
    "#;

    #[test]
    fn default_then_customer_entry_each_key_on_its_own() {
        let book = book(CONFIG);
        let now = at("2026-06-04T14:00:00Z");

        let anyone = book.limits_for("ANYONE", now);
        assert_eq!(anyone.max_order_notional, Some(fixed("25000")));
        assert_eq!(anyone.max_open_orders, None);
        assert_eq!(
            anyone.rate,
            Some(RateLimit {
                orders_per_second: fixed("2.5"),
                burst: 3
            })
        );
        assert_eq!(anyone.market_buffer_pct, fixed("5"));
        assert_eq!(anyone.duplicate_window_ms, 0);
        assert!(anyone.restricted_symbols.contains("XYZ"));
        assert!(anyone.restricted_symbols.contains("xYz"));
        assert!(!anyone.restricted_symbols.contains("GME"));
        assert_eq!(anyone.override_expires_at, None);

        let big = book.limits_for("BIG", now);
        assert_eq!(big.max_order_notional, Some(fixed("100000")));
        assert_eq!(big.max_open_orders, Some(5));
        assert_eq!(big.price_band_pct, Some(fixed("10")), "from the default");
        assert!(big.restricted_symbols.contains("GME"));
        assert!(
            big.restricted_symbols.contains("XYZ"),
            "the default list still applies"
        );

        let fast = book.limits_for("FAST", now);
        assert_eq!(
            fast.rate,
            Some(RateLimit {
                orders_per_second: fixed("100"),
                burst: 7
            })
        );
        assert_eq!(fast.market_buffer_pct, fixed("10"));
        assert_eq!(fast.duplicate_window_ms, 500);
        assert_eq!(fast.max_order_notional, Some(fixed("25000")));
    }

    #[test]
    fn burst_defaults_to_the_rate_rounded_up() {
        assert_eq!(rounded_up(fixed("0.5")), 1);
        assert_eq!(rounded_up(fixed("2")), 2);
        assert_eq!(rounded_up(fixed("2.00000001")), 3);
        let empty = SymbolSet::default();
        let patch = LimitPatch {
            orders_per_second: Some(fixed("0.1")),
            burst: Some(0),
            ..LimitPatch::default()
        };
        assert_eq!(
            EffectiveLimits::resolve(&patch, &empty, None)
                .rate
                .unwrap()
                .burst,
            1,
            "never below one"
        );
    }

    #[test]
    fn an_override_applies_until_it_expires_then_reverts_by_itself() {
        let book = book(CONFIG);
        let start = at("2026-06-04T14:00:00Z");
        let expires_at = at("2026-06-04T20:00:00Z");
        let raise: LimitOverride = serde_json::from_str(
            r#"{"max_order_notional": "50000.50", "orders_per_second": 10, "expiresAt": "2026-06-04T20:00:00Z"}"#,
        )
        .unwrap();
        book.set_override("BIG", raise, start).unwrap();

        let during = book.limits_for("BIG", start);
        assert_eq!(during.max_order_notional, Some(fixed("50000.5")));
        assert_eq!(during.max_open_orders, Some(5), "untouched keys stay");
        assert_eq!(during.rate.unwrap().burst, 10, "burst follows the new rate");
        assert_eq!(during.override_expires_at, Some(expires_at));

        let just_before = expires_at - TimeDelta::nanoseconds(1);
        assert_eq!(
            book.limits_for("BIG", just_before).max_order_notional,
            Some(fixed("50000.5"))
        );
        assert_eq!(book.overrides(just_before).len(), 1);

        let after = book.limits_for("BIG", expires_at);
        assert_eq!(after.max_order_notional, Some(fixed("100000")));
        assert_eq!(after.override_expires_at, None);
        // Lazily removed: it is gone even for an earlier `now` from here on.
        assert!(book.overrides(start).is_empty());
    }

    #[test]
    fn overrides_survive_a_reload_and_can_be_cleared() {
        let first = book(CONFIG);
        let now = at("2026-06-04T14:00:00Z");
        let raise = LimitOverride {
            limits: LimitPatch {
                max_open_orders: Some(50),
                ..LimitPatch::default()
            },
            expires_at: at("2026-06-04T15:00:00Z"),
        };
        first.set_override("NEW", raise, now).unwrap();
        let reloaded = first.with_config(
            &Config::parse("[limits.default]\nmax_open_orders = 1\n", "t")
                .unwrap()
                .limits,
        );
        assert_eq!(reloaded.limits_for("NEW", now).max_open_orders, Some(50));
        assert_eq!(reloaded.limits_for("OTHER", now).max_open_orders, Some(1));
        assert_eq!(reloaded.clear_override("NEW"), Some(raise));
        assert_eq!(reloaded.limits_for("NEW", now).max_open_orders, Some(1));
        assert_eq!(first.override_for("NEW", now), None);
    }

    #[test]
    fn overrides_are_checked() {
        let book = book("");
        let now = at("2026-06-04T14:00:00Z");
        let mut raise = LimitOverride {
            limits: LimitPatch {
                max_open_orders: Some(2),
                ..LimitPatch::default()
            },
            expires_at: now,
        };
        assert!(matches!(
            book.set_override("A", raise, now),
            Err(OverrideError::Expired { .. })
        ));
        raise.expires_at = now + TimeDelta::days(OVERRIDE_DAYS_MAX) + TimeDelta::seconds(1);
        assert!(matches!(
            book.set_override("A", raise, now),
            Err(OverrideError::TooLong { .. })
        ));
        raise.expires_at = now + TimeDelta::days(OVERRIDE_DAYS_MAX);
        assert_eq!(book.set_override("A", raise, now), Ok(()));
        raise.limits = LimitPatch::default();
        assert!(matches!(
            book.set_override("A", raise, now),
            Err(OverrideError::Invalid(_))
        ));
    }

    #[test]
    fn the_admin_body_is_read_exactly_and_strictly() {
        let read = |json: &str| serde_json::from_str::<LimitOverride>(json);
        let body = read(
            r#"{"maxOrderNotional": 25000.12345678, "price_band_pct": "12.5",
                "burst": 4, "duplicate_window_ms": 250, "expiresAt": "2026-06-04T16:00:00-04:00"}"#,
        )
        .unwrap();
        assert_eq!(
            body.limits.max_order_notional,
            Some(fixed("25000.12345678"))
        );
        assert_eq!(body.limits.price_band_pct, Some(fixed("12.5")));
        assert_eq!(body.limits.burst, Some(4));
        assert_eq!(body.limits.duplicate_window_ms, Some(250));
        assert_eq!(body.expires_at, at("2026-06-04T20:00:00Z"));

        for (json, expected) in [
            (
                r#"{"max_notional": 1, "expiresAt": "2026-06-04T16:00:00Z"}"#,
                "unknown field",
            ),
            (r#"{"max_open_orders": 1}"#, "expiresAt"),
            (r#"{"expiresAt": "2026-06-04T16:00:00Z"}"#, "names no limit"),
            (
                r#"{"price_band_pct": 1001, "expiresAt": "2026-06-04T16:00:00Z"}"#,
                "price_band_pct: 1001 is outside 0..=1000 percent",
            ),
            (
                r#"{"max_order_notional": "1.123456789", "expiresAt": "2026-06-04T16:00:00Z"}"#,
                "8 decimal",
            ),
            (
                r#"{"burst": 0, "expiresAt": "2026-06-04T16:00:00Z"}"#,
                "burst: 0",
            ),
            (
                r#"{"restricted_symbols": ["A"], "expiresAt": "2026-06-04T16:00:00Z"}"#,
                "unknown field",
            ),
        ] {
            let error = read(json).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn overrides_list_and_round_trip_for_persistence() {
        let book = book("");
        let now = at("2026-06-04T14:00:00Z");
        for (client_id, minutes) in [("B", 30), ("A", 60), ("C", 1)] {
            let raise = LimitOverride {
                limits: LimitPatch {
                    daily_buy_notional: Some(fixed("1000000")),
                    orders_per_second: Some(fixed("0.5")),
                    ..LimitPatch::default()
                },
                expires_at: now + TimeDelta::minutes(minutes),
            };
            book.set_override(client_id, raise, now).unwrap();
        }
        let listed = book.overrides(now + TimeDelta::minutes(2));
        let ids: Vec<&str> = listed.iter().map(|o| o.client_id.as_str()).collect();
        assert_eq!(ids, ["A", "B"], "sorted, expired one dropped");

        let json = serde_json::to_string(&listed[0]).unwrap();
        assert_eq!(
            json,
            r#"{"clientID":"A","override":{"daily_buy_notional":"1000000","orders_per_second":"0.5","expiresAt":"2026-06-04T15:00:00Z"}}"#
        );
        let back: ClientOverride = serde_json::from_str(&json).unwrap();
        assert_eq!(back, listed[0]);

        let restored = LimitBook::from_config(&LimitsConfig::default());
        for entry in listed {
            restored
                .set_override(&entry.client_id, entry.limit_override, now)
                .unwrap();
        }
        assert_eq!(
            restored.limits_for("A", now).daily_buy_notional,
            Some(fixed("1000000"))
        );
    }

    #[test]
    fn restricted_symbols_compare_without_case() {
        let symbols = SymbolSet::new(["brk.b", "AAPL", " aapl ", ""]);
        assert_eq!(symbols.iter().collect::<Vec<_>>(), ["AAPL", "BRK.B"]);
        assert!(symbols.contains("BRK.B"));
        assert!(symbols.contains("Brk.b"));
        assert!(!symbols.contains("BRK"));
        assert!(!symbols.contains("AAPLX"));
        assert!(!SymbolSet::default().contains("AAPL"));
    }
}
