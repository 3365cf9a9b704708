//! Semantic checks of a parsed config: every problem, each by key.

use std::collections::HashSet;

use super::LimitPatch;
use super::{Config, ConfigProblem, LimitsConfig, SecretText};

/// `server.idempotency_ttl_hours` at most one year: keys are held in memory until then.
const IDEMPOTENCY_TTL_HOURS_MAX: u64 = 8760;
/// `server.max_json_depth` at most this: serde_json itself stops at 128.
const MAX_JSON_DEPTH_MAX: usize = 128;
/// Longest symbol accepted in `restricted_symbols`.
const SYMBOL_LEN_MAX: usize = 32;

impl Config {
    /// Every rule the config breaks; empty when it is usable.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                message,
            })
        };

        let server = &self.server;
        if server.max_body_bytes == 0 || server.max_body_bytes > 16 * 1024 * 1024 {
            problem(
                "server.max_body_bytes",
                format!("{} is outside 1..=16777216", server.max_body_bytes),
            );
        }
        if server.max_bulk_bytes == 0 || server.max_bulk_bytes > 4 * 1024 * 1024 * 1024 {
            problem(
                "server.max_bulk_bytes",
                format!("{} is outside 1..=4294967296", server.max_bulk_bytes),
            );
        }
        if server.max_headers == 0 || server.max_headers > 1024 {
            problem(
                "server.max_headers",
                format!("{} is outside 1..=1024", server.max_headers),
            );
        }
        if server.max_header_bytes < 8192 || server.max_header_bytes > 1024 * 1024 {
            problem(
                "server.max_header_bytes",
                format!("{} is outside 8192..=1048576", server.max_header_bytes),
            );
        }
        for (key, value) in [
            (
                "server.header_read_timeout_ms",
                server.header_read_timeout_ms,
            ),
            ("server.body_read_timeout_ms", server.body_read_timeout_ms),
            ("upstream.timeout_ms", self.upstream.timeout_ms),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
            ),
            (
                "upstream.pool_idle_timeout_ms",
                self.upstream.pool_idle_timeout_ms,
            ),
        ] {
            if value == 0 || value > 3_600_000 {
                problem(key, format!("{value} is outside 1..=3600000 ms"));
            }
        }
        if server.max_connections == 0 || server.max_connections > 1_000_000 {
            problem(
                "server.max_connections",
                format!("{} is outside 1..=1000000", server.max_connections),
            );
        }
        if server.order_threads > 1024 {
            problem(
                "server.order_threads",
                format!("{} is outside 0..=1024", server.order_threads),
            );
        }
        if server.listen == server.admin_listen && server.listen.port() != 0 {
            problem(
                "server.admin_listen",
                format!("{} is also server.listen", server.admin_listen),
            );
        }
        for (key, token) in [
            ("server.admin_token", &server.admin_token),
            ("server.events_token", &server.events_token),
        ] {
            if let Some(SecretText(token)) = token {
                if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    problem(
                        key,
                        "must be at least 16 printable characters without spaces".to_owned(),
                    );
                }
            }
        }
        if server.events_token.is_some() && server.events_token == server.admin_token {
            problem(
                "server.events_token",
                "must differ from server.admin_token (it is the lesser credential)".to_owned(),
            );
        }
        for (index, key) in server.router_app_keys.iter().enumerate() {
            // The values are secrets: a problem names the entry by position, never by text.
            let bad = match key.strip_prefix("sha256:") {
                Some(hex) => hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()),
                None => key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()),
            };
            if bad {
                problem(
                    "server.router_app_keys",
                    format!(
                        "entry {index} must be a key of printable characters, or sha256: and 64 hex digits"
                    ),
                );
            }
        }
        if !(1..=MAX_JSON_DEPTH_MAX).contains(&server.max_json_depth) {
            problem(
                "server.max_json_depth",
                format!(
                    "{} is outside 1..={MAX_JSON_DEPTH_MAX}",
                    server.max_json_depth
                ),
            );
        }
        if !(1..=IDEMPOTENCY_TTL_HOURS_MAX).contains(&server.client_order_id_ttl_hours) {
            problem(
                "server.client_order_id_ttl_hours",
                format!(
                    "{} is outside 1..={IDEMPOTENCY_TTL_HOURS_MAX} hours",
                    server.client_order_id_ttl_hours
                ),
            );
        }

        if let Some(url) = &self.upstream.url {
            if let Err(message) = super::UpstreamBase::parse(url) {
                problem("upstream.url", message);
            }
        }

        self.simulator.check(&mut problem);

        for (index, account) in self.omnibus.account_numbers.iter().enumerate() {
            if account.trim().is_empty() || account.len() > 64 {
                problem(
                    &format!("omnibus.account_numbers[{index}]"),
                    format!("{account:?} is not an account number"),
                );
            }
        }
        super::omnibus_accounts::validate(&self.omnibus, &mut problem);
        for (index, code) in self.client_id.deny.iter().enumerate() {
            if code.trim().is_empty() {
                problem(&format!("client_id.deny[{index}]"), "is blank".to_owned());
            }
        }
        let built_in_holidays: Vec<chrono::NaiveDate> = match self.market.calendar {
            super::CalendarBase::Nyse => super::nyse::holidays().collect(),
            super::CalendarBase::None => Vec::new(),
        };
        for date in &self.market.early_closes {
            if self.market.holidays.contains(date) {
                problem(
                    "market.early_closes",
                    format!("{date} is also in market.holidays"),
                );
            } else if built_in_holidays.contains(date) {
                problem(
                    "market.early_closes",
                    format!("{date} is an NYSE holiday in the built-in calendar"),
                );
            }
        }
        if self.omnibus.credit_limit.0.is_negative() {
            problem(
                "omnibus.credit_limit",
                format!("{} is negative", self.omnibus.credit_limit.0),
            );
        }
        if self.fees.per_order.0.is_negative() {
            problem(
                "fees.per_order",
                format!("{} is negative", self.fees.per_order.0),
            );
        }
        if !(1..=IDEMPOTENCY_TTL_HOURS_MAX).contains(&server.idempotency_ttl_hours) {
            problem(
                "server.idempotency_ttl_hours",
                format!(
                    "{} is outside 1..={IDEMPOTENCY_TTL_HOURS_MAX} hours",
                    server.idempotency_ttl_hours
                ),
            );
        }
        if let Some(threshold) = self.omnibus.low_balance_warning {
            if threshold.0.is_negative() {
                problem(
                    "omnibus.low_balance_warning",
                    format!("{} is negative", threshold.0),
                );
            }
        }
        validate_limits(&self.limits, &mut problem);
        if let Some(auth) = &self.upstream.auth {
            if self.upstream.poll_authorization.is_some() || self.upstream.poll_app_key.is_some() {
                problem(
                    "upstream.auth",
                    "[upstream.auth] and upstream.poll_authorization / poll_app_key both give \
                     omnigate's own credentials; keep one"
                        .to_owned(),
                );
            }
            for (key, value) in [("client_id", &auth.client_id), ("app_key", &auth.app_key)] {
                if value.trim().is_empty() {
                    problem(&format!("upstream.auth.{key}"), "is blank".to_owned());
                }
            }
            if auth
                .client_secret
                .as_ref()
                .is_some_and(|secret| secret.0.trim().is_empty())
            {
                problem("upstream.auth.client_secret", "is blank".to_owned());
            }
        }
        if !(1..=60_000).contains(&self.upstream.cancel_retry_ms) {
            problem(
                "upstream.cancel_retry_ms",
                format!("{} is outside 1..=60000", self.upstream.cancel_retry_ms),
            );
        }
        if self.wal.fsync_interval_ms == 0 || self.wal.fsync_interval_ms > 60_000 {
            problem(
                "wal.fsync_interval_ms",
                format!("{} is outside 1..=60000", self.wal.fsync_interval_ms),
            );
        }
        if self.wal.snapshot_every == 0 {
            problem("wal.snapshot_every", "must be at least 1".to_owned());
        }
        if !(super::WAL_SEGMENT_BYTES_MIN..=super::WAL_SEGMENT_BYTES_MAX)
            .contains(&self.wal.segment_bytes)
        {
            problem(
                "wal.segment_bytes",
                format!(
                    "{} is outside {}..={}",
                    self.wal.segment_bytes,
                    super::WAL_SEGMENT_BYTES_MIN,
                    super::WAL_SEGMENT_BYTES_MAX
                ),
            );
        }
        if self.wal.dir.as_os_str().is_empty() {
            problem("wal.dir", "is empty".to_owned());
        }
        self.audit.problems(&mut problem);
        self.ha.problems(self.upstream.url.is_some(), &mut problem);
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problem("log.level", format!("{:?}: {error}", self.log.level));
        }
        problems
    }
}

/// `[limits.default]` and every `[[limits.customer]]` entry, each problem under its own key
/// (`limits.customer[1].price_band_pct`). The value rules are `LimitPatch::problems`, shared with
/// the admin API's temporary overrides.
fn validate_limits(limits: &LimitsConfig, problem: &mut impl FnMut(&str, String)) {
    let default_rate = limits.default.orders_per_second;
    validate_layer(
        "limits.default",
        &LimitPatch::from(&limits.default),
        default_rate.is_some(),
        &limits.default.restricted_symbols,
        problem,
    );
    let mut seen = HashSet::new();
    for (index, entry) in limits.customer.iter().enumerate() {
        let prefix = format!("limits.customer[{index}]");
        let client_id = entry.client_id.as_str();
        if client_id.is_empty() {
            problem(
                &format!("{prefix}.client_id"),
                "is missing: every [[limits.customer]] entry names its clientID".to_owned(),
            );
        } else if client_id.len() > 64
            || !client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            problem(
                &format!("{prefix}.client_id"),
                format!("{client_id:?} is not a clientID (1 to 64 of A-Z a-z 0-9 _ -)"),
            );
        } else if !seen.insert(client_id) {
            problem(
                &format!("{prefix}.client_id"),
                format!("{client_id:?} already has a [[limits.customer]] entry"),
            );
        }
        validate_layer(
            &prefix,
            &LimitPatch::from(entry),
            entry.orders_per_second.or(default_rate).is_some(),
            &entry.restricted_symbols,
            problem,
        );
    }
}

/// One layer's keys. `has_rate`: the layer ends up with an `orders_per_second` (its own or the
/// default's), without which a `burst` means nothing.
fn validate_layer(
    prefix: &str,
    limits: &LimitPatch,
    has_rate: bool,
    restricted_symbols: &[String],
    problem: &mut impl FnMut(&str, String),
) {
    for (key, message) in limits.problems() {
        problem(&format!("{prefix}.{key}"), message);
    }
    if let Some(burst) = limits.burst.filter(|burst| *burst > 0 && !has_rate) {
        problem(
            &format!("{prefix}.burst"),
            format!("{burst} has no effect without orders_per_second"),
        );
    }
    let mut symbols = HashSet::new();
    for (index, symbol) in restricted_symbols.iter().enumerate() {
        let key = format!("{prefix}.restricted_symbols[{index}]");
        if symbol.is_empty()
            || symbol.len() > SYMBOL_LEN_MAX
            || !symbol.bytes().all(|b| b.is_ascii_graphic())
        {
            problem(
                &key,
                format!(
                    "{symbol:?} is not a symbol (1 to {SYMBOL_LEN_MAX} printable characters, no spaces)"
                ),
            );
        } else if !symbols.insert(symbol.to_ascii_uppercase()) {
            problem(&key, format!("{symbol:?} is listed twice"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn every_broken_rule_is_reported() {
        let error = Config::parse(
            r#"
            [server]
            max_body_bytes = 0
            max_header_bytes = 100
            admin_token = "short"
            [upstream]
            url = "ftp://example"
            timeout_ms = 0
            [simulator]
            error_pct = 101
            "#,
            "f.toml",
        )
        .unwrap_err();
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "server.max_body_bytes",
            "server.max_header_bytes",
            "server.admin_token",
            "upstream.url",
            "upstream.timeout_ms",
            "simulator.error_pct",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }
}

#[cfg(test)]
mod limits_tests {
    use crate::config::Config;

    fn problems(text: &str) -> Vec<(String, String)> {
        match Config::parse(text, "f.toml") {
            Ok(_) => Vec::new(),
            Err(error) => error
                .problems
                .into_iter()
                .map(|p| (p.key, p.message))
                .collect(),
        }
    }

    fn keys(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|(key, _)| key).collect()
    }

    #[test]
    fn limits_read_exactly_and_customer_entries_keep_their_keys() {
        let config = Config::parse(
            r#"
            [limits.default]
            max_order_notional = 25000
            max_order_quantity = "1000.5"
            max_open_orders = 50
            daily_buy_notional = 100000.25
            orders_per_second = 2.5
            price_band_pct = 10
            duplicate_window_ms = 2000
            restricted_symbols = ["XYZ"]
            [[limits.customer]]
            client_id = "CUST1"
            max_order_notional = "50000"
            burst = 10
            [[limits.customer]]
            client_id = "CUST2"
            "#,
            "f.toml",
        )
        .unwrap();
        let default = &config.limits.default;
        assert_eq!(default.max_order_notional.unwrap().0.to_string(), "25000");
        assert_eq!(default.max_order_quantity.unwrap().0.to_string(), "1000.5");
        assert_eq!(
            default.daily_buy_notional.unwrap().0.to_string(),
            "100000.25"
        );
        assert_eq!(default.orders_per_second.unwrap().0.to_string(), "2.5");
        assert_eq!(default.burst, None);
        assert_eq!(config.limits.customer.len(), 2);
        assert_eq!(config.limits.customer[0].client_id, "CUST1");
        assert_eq!(config.limits.customer[0].burst, Some(10));
        assert_eq!(config.limits.customer[1].max_order_notional, None);
    }

    #[test]
    fn every_broken_limit_is_reported_by_key() {
        let found = keys(
            r#"
            [limits.default]
            max_order_notional = -1
            market_buffer_pct = 101
            price_band_pct = 1000.00000001
            orders_per_second = 0
            burst = 0
            duplicate_window_ms = 86400001
            restricted_symbols = ["AAPL", "aapl", ""]
            [[limits.customer]]
            client_id = "A"
            [[limits.customer]]
            client_id = "A"
            price_band_pct = -0.5
            daily_buy_notional = -3
            [[limits.customer]]
            max_order_quantity = 1
            [[limits.customer]]
            client_id = "has space"
            market_buffer_pct = -1
            "#,
        );
        for key in [
            "limits.default.max_order_notional",
            "limits.default.market_buffer_pct",
            "limits.default.price_band_pct",
            "limits.default.orders_per_second",
            "limits.default.burst",
            "limits.default.duplicate_window_ms",
            "limits.default.restricted_symbols[1]",
            "limits.default.restricted_symbols[2]",
            "limits.customer[1].client_id",
            "limits.customer[1].price_band_pct",
            "limits.customer[1].daily_buy_notional",
            "limits.customer[2].client_id",
            "limits.customer[3].client_id",
            "limits.customer[3].market_buffer_pct",
        ] {
            assert!(
                found.iter().any(|k| k == key),
                "{key} missing from {found:?}"
            );
        }
        assert!(!found.iter().any(|k| k == "limits.customer[0].client_id"));
        assert_eq!(found.len(), 14, "{found:?}");
    }

    #[test]
    fn limit_bounds_are_inclusive() {
        assert!(keys(
            r#"
            [limits.default]
            market_buffer_pct = 100
            price_band_pct = 1000
            max_order_notional = 0
            orders_per_second = 1000000
            duplicate_window_ms = 86400000
            "#
        )
        .is_empty());
    }

    #[test]
    fn burst_needs_a_rate_somewhere() {
        let found = problems(
            r#"
            [limits.default]
            burst = 5
            [[limits.customer]]
            client_id = "A"
            burst = 5
            [[limits.customer]]
            client_id = "B"
            burst = 5
            orders_per_second = 1
            "#,
        );
        let found: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            found,
            ["limits.default.burst", "limits.customer[0].burst"],
            "{found:?}"
        );
        // A customer entry's burst is fine when the default carries the rate.
        assert!(keys(
            "[limits.default]\norders_per_second = 5\n[[limits.customer]]\nclient_id = \"A\"\nburst = 1\n"
        )
        .is_empty());
    }

    #[test]
    fn server_ttl_and_low_balance_are_checked() {
        let found =
            problems("[server]\nidempotency_ttl_hours = 0\n[omnibus]\nlow_balance_warning = -5\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "server.idempotency_ttl_hours");
        assert_eq!(found[1].0, "omnibus.low_balance_warning");
        assert_eq!(
            keys("[server]\nidempotency_ttl_hours = 8761\n"),
            ["server.idempotency_ttl_hours"]
        );
        assert!(keys(
            "[server]\nidempotency_ttl_hours = 8760\n[omnibus]\nlow_balance_warning = 0\n"
        )
        .is_empty());
    }

    #[test]
    fn an_unknown_key_in_a_customer_entry_is_an_error() {
        let found = keys("[[limits.customer]]\nclient_id = \"A\"\nmax_notional = 5\n");
        assert_eq!(found, ["limits.customer.0.max_notional"]);
    }
}
