//! `[simulator]`: the DriveWealth simulator's keys (SPEC §9), their defaults and their checks.

use std::net::SocketAddr;

use serde::Deserialize;

use super::{Decimal, SecretText, UpstreamBase};

/// `simulator.webhook_url` naming the running gateway's own `POST /admin/events`.
pub const WEBHOOK_TO_GATEWAY: &str = "omnigate";
/// Largest `simulator.price_walk_bps`: a step of at most ±10%.
pub const WALK_BPS_MAX: u32 = 1_000;

/// `[simulator]`: the DriveWealth simulator (`omnigate sim`, or in-process without
/// `upstream.url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SimulatorConfig {
    /// Where `omnigate sim` listens (the in-process one takes a free loopback port).
    /// Default `127.0.0.1:9090`.
    pub listen: SocketAddr,
    /// Delay before every answer. Default 0 ms.
    pub latency_ms: u64,
    /// Delay between an order's fill steps (NEW → PARTIAL_FILL → FILLED). Default 50 ms.
    pub fill_delay_ms: u64,
    /// Percent of order creates that are swallowed: no answer ever comes. Default 0.
    pub timeout_pct: u8,
    /// Percent of requests answered 503 with a DriveWealth error body. Default 0.
    pub error_pct: u8,
    /// Percent of requests whose connection is reset without an answer. Default 0.
    pub reset_pct: u8,
    /// Seed of the fault dice, so a faulty run can be replayed. Default 1.
    pub seed: u64,
    /// Fill price of a symbol without an entry in `prices` (and no limit price). Default 100.
    pub default_price: Decimal,
    /// Fill prices by symbol, e.g. `prices = { AAPL = "190.00" }`.
    pub prices: std::collections::BTreeMap<String, Decimal>,
    /// Every DriveWealth path but `POST /back-office/auth/tokens` needs a live
    /// `Authorization: Bearer` token and a `dw-client-app-key`, as DriveWealth does. Default
    /// false.
    pub require_auth: bool,
    /// Lifetime of a token from `POST /back-office/auth/tokens`. Default 3600 s (DriveWealth's).
    pub token_ttl_s: u64,
    /// `omnigate sim` only: `PUT /sim/clock` moves the simulator's clock (tests, rehearsals).
    /// Default false. The in-process simulator always reads omnigate's clock.
    pub clock_adjustable: bool,
    /// Trading hours from the calendar (`[market]`): orders outside their session are queued
    /// for the open, `preventQueuing` ones refused. `false` keeps every session open around
    /// the clock (load tests at any hour). Default true.
    pub market_hours: bool,
    /// Each second, every price moves by up to this many basis points, at random from `seed`
    /// (at most 1000). Default 0: prices move only by `POST /sim/prices`.
    pub price_walk_bps: u32,
    /// The simulator's own omni balance: BUYs beyond it are `REJECTED` with "insufficient
    /// funds", as DriveWealth rejects them. Default: none kept, nothing refused for cash.
    pub omni_cash: Option<Decimal>,
    /// Where every change is posted as a DriveWealth event: an `http(s)://` URL, or
    /// `"omnigate"` for the running gateway's own `POST /admin/events` (in-process only).
    /// Default: no events.
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer …` with every event to `webhook_url` (a gateway's events
    /// or admin token). With `"omnigate"`, the gateway's own token is used. Default: none.
    pub webhook_token: Option<SecretText>,
    /// Percent of events sent twice on purpose (receivers must deduplicate by `id`). Default 0.
    pub webhook_duplicate_pct: u8,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            latency_ms: 0,
            fill_delay_ms: 50,
            timeout_pct: 0,
            error_pct: 0,
            reset_pct: 0,
            seed: 1,
            default_price: Decimal::from_text("100"),
            prices: Default::default(),
            require_auth: false,
            token_ttl_s: 3600,
            clock_adjustable: false,
            market_hours: true,
            price_walk_bps: 0,
            omni_cash: None,
            webhook_url: None,
            webhook_token: None,
            webhook_duplicate_pct: 0,
        }
    }
}

impl SimulatorConfig {
    /// Reports each broken rule of the section to `problem`, by key.
    pub(super) fn check(&self, problem: &mut impl FnMut(&str, String)) {
        let simulator = self;
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
        if !(1..=86_400).contains(&simulator.token_ttl_s) {
            problem(
                "simulator.token_ttl_s",
                format!("{} is outside 1..=86400", simulator.token_ttl_s),
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
        if simulator.price_walk_bps > WALK_BPS_MAX {
            problem(
                "simulator.price_walk_bps",
                format!("{} is above {}", simulator.price_walk_bps, WALK_BPS_MAX),
            );
        }
        if simulator.webhook_duplicate_pct > 100 {
            problem(
                "simulator.webhook_duplicate_pct",
                format!("{} is above 100", simulator.webhook_duplicate_pct),
            );
        }
        if let Some(cash) = &simulator.omni_cash {
            if cash.0.is_negative() {
                problem("simulator.omni_cash", format!("{} is negative", cash.0));
            }
        }
        if let Some(url) = &simulator.webhook_url {
            if url != WEBHOOK_TO_GATEWAY {
                if let Err(message) = UpstreamBase::parse(url) {
                    problem("simulator.webhook_url", message);
                }
            }
        }
    }
}
