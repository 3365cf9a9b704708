//! Semantic checks of a parsed config: every problem, each by key.

use super::{Config, ConfigProblem};

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
        if server.listen == server.admin_listen && server.listen.port() != 0 {
            problem(
                "server.admin_listen",
                format!("{} is also server.listen", server.admin_listen),
            );
        }
        if let Some(token) = &server.admin_token {
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                problem(
                    "server.admin_token",
                    "must be at least 16 printable characters without spaces".to_owned(),
                );
            }
        }

        if let Some(url) = &self.upstream.url {
            if let Err(message) = crate::upstream::UpstreamBase::parse(url) {
                problem("upstream.url", message);
            }
        }

        let simulator = &self.simulator;
        for (key, pct) in [
            ("simulator.timeout_pct", simulator.timeout_pct),
            ("simulator.error_pct", simulator.error_pct),
            ("simulator.reset_pct", simulator.reset_pct),
        ] {
            if pct > 100 {
                problem(key, format!("{pct} is above 100"));
            }
        }
        if simulator.timeout_pct as u32 + simulator.error_pct as u32 + simulator.reset_pct as u32
            > 100
        {
            problem(
                "simulator.timeout_pct",
                "timeout_pct + error_pct + reset_pct is above 100".to_owned(),
            );
        }
        if !simulator.default_price.0.is_positive() {
            problem(
                "simulator.default_price",
                format!("{} is not positive", simulator.default_price.0),
            );
        }
        for (symbol, price) in &simulator.prices {
            if !price.0.is_positive() {
                problem(
                    &format!("simulator.prices.{symbol}"),
                    format!("{} is not positive", price.0),
                );
            }
        }

        for (index, account) in self.omnibus.account_numbers.iter().enumerate() {
            if account.trim().is_empty() || account.len() > 64 {
                problem(
                    &format!("omnibus.account_numbers[{index}]"),
                    format!("{account:?} is not an account number"),
                );
            }
        }
        for (index, code) in self.client_id.deny.iter().enumerate() {
            if code.trim().is_empty() {
                problem(&format!("client_id.deny[{index}]"), "is blank".to_owned());
            }
        }
        for date in &self.market.early_closes {
            if self.market.holidays.contains(date) {
                problem(
                    "market.early_closes",
                    format!("{date} is also in market.holidays"),
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
        let buffer = self.limits.default.market_buffer_pct.0;
        if buffer.is_negative() || buffer > crate::money::Fixed::from_int(100).unwrap_or_default() {
            problem(
                "limits.default.market_buffer_pct",
                format!("{buffer} is outside 0..=100"),
            );
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problem("log.level", format!("{:?}: {error}", self.log.level));
        }
        problems
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
