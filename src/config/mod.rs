//! The configuration file (TOML).
//!
//! One piece, though long: the whole key tree in one place, every key documented with its
//! default and unit — the reference a risk officer reads (`examples/omnigate.toml` mirrors it).
//!
//! Every key has a default, so an empty file is a valid config. Unknown keys are errors — a typo
//! in a risk limit must not pass silently — and all of them are reported at once, together with
//! every failed [`Config::validate`] rule, each naming its key. `examples/omnigate.toml` documents
//! every key with its default; a test keeps the two in step.

mod audit;
mod ha;
mod limit_keys;
pub mod nyse;
mod omnibus_accounts;
mod setting;
mod simulator;
mod upstream_url;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

pub use audit::AuditConfig;
pub use ha::{HaConfig, HaMode, LEASE_MS_MAX, LEASE_MS_MIN};
pub use limit_keys::{
    LimitPatch, DUPLICATE_WINDOW_MS_MAX, MARKET_BUFFER_PCT_DEFAULT, MARKET_BUFFER_PCT_MAX,
    ORDERS_PER_SECOND_MAX, PRICE_BAND_PCT_MAX,
};
pub use setting::{Decimal, SecretText};
pub use simulator::{SimulatorConfig, WALK_BPS_MAX, WEBHOOK_TO_GATEWAY};
pub use upstream_url::UpstreamBase;

/// The embedded default of `omnigate run` with no `--config` (SPEC §2).
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// Top level of the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub simulator: SimulatorConfig,
    pub omnibus: OmnibusConfig,
    pub client_id: ClientIdConfig,
    pub halts: HaltsConfig,
    pub market: MarketConfig,
    pub bootstrap: BootstrapConfig,
    pub buying_power: BuyingPowerConfig,
    pub fees: FeesConfig,
    pub limits: LimitsConfig,
    pub wal: WalConfig,
    pub clock: ClockConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    pub ha: HaConfig,
    /// Load the built-in demo book of customers, instruments and omni cash (the embedded
    /// default only; not a file key).
    #[serde(skip)]
    pub demo_book: bool,
}

/// `[server]`: the two listeners and the limits on what a client may send.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Order API (the DriveWealth paths routers call). Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Admin API. Default `127.0.0.1:8081`; a non-loopback address needs `admin_token`.
    pub admin_listen: SocketAddr,
    /// Bearer token of the admin API. Unset: `OMNIGATE_ADMIN_TOKEN`, else a random token that is
    /// printed at start-up (loopback only).
    pub admin_token: Option<SecretText>,
    /// Largest request body accepted, in bytes. Default 65536.
    pub max_body_bytes: usize,
    /// Largest body of the admin API's bulk loads (`POST /admin/customers`, `POST
    /// /admin/instruments`: JSON Lines), in bytes. Default 268435456 (256 MiB, about 4 million
    /// customers).
    pub max_bulk_bytes: usize,
    /// Most request headers accepted. Default 64.
    pub max_headers: usize,
    /// Largest request head (request line + headers), in bytes. Default 16384, at least 8192.
    pub max_header_bytes: usize,
    /// A client must send its whole request head within this time. Default 5000 ms.
    pub header_read_timeout_ms: u64,
    /// A client must send its whole body within this time. Default 10000 ms.
    pub body_read_timeout_ms: u64,
    /// Open client connections per listener (the order listener's threads share one budget);
    /// further connections wait in the kernel backlog. Default 4096.
    pub max_connections: usize,
    /// Threads serving the order listener, each with its own event loop, its own socket on
    /// `listen` (`SO_REUSEPORT`) and its own upstream pool. 0..=1024; 0 (the default): one per
    /// core.
    pub order_threads: usize,
    /// How long an `Idempotency-Key` is remembered after its first request: a repeat within it
    /// gets the first answer again (SPEC §3). 1..=8760 hours. Default 96.
    pub idempotency_ttl_hours: u64,
    /// Accepted `dw-client-app-key` values on the order listener, each the key itself or
    /// `sha256:<64 hex digits>` of it; any other request gets `401 UNAUTHORIZED` (SPEC §3.0).
    /// Empty (the default): the check is off.
    pub router_app_keys: Vec<String>,
    /// Deepest nesting of arrays and objects in an order or cancel body, pass-through fields
    /// included (SPEC §3.0). 1..=128. Default 32.
    pub max_json_depth: usize,
    /// A second bearer token, accepted only on `POST /admin/events`, so a webhook forwarder
    /// never holds the admin token. Unset: only the admin token. At least 16 printable
    /// characters.
    pub events_token: Option<SecretText>,
    /// How long a used `clientOrderID` is remembered for `DUPLICATE_ORDER` (SPEC §10).
    /// 1..=8760 hours. Default 96.
    pub client_order_id_ttl_hours: u64,
    /// `[server.tls]`: both listeners serve HTTPS with this certificate. Default: plain HTTP.
    pub tls: Option<ServerTls>,
}

/// `[server.tls]`: PEM files; relative paths are read from the config file's folder.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerTls {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            admin_token: None,
            max_body_bytes: 64 * 1024,
            max_bulk_bytes: 256 * 1024 * 1024,
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            header_read_timeout_ms: 5_000,
            body_read_timeout_ms: 10_000,
            max_connections: 4096,
            order_threads: 0,
            idempotency_ttl_hours: 96,
            router_app_keys: Vec::new(),
            max_json_depth: 32,
            events_token: None,
            client_order_id_ttl_hours: 96,
            tls: None,
        }
    }
}

/// `[upstream]`: DriveWealth (or the simulator).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct UpstreamConfig {
    /// Base URL, e.g. `http://127.0.0.1:9090`; paths are appended unchanged. Unset: an in-process
    /// simulator (see `[simulator]`) on a loopback port.
    pub url: Option<String>,
    /// Longest wait for the upstream's answer once a request is sent. Default 5000 ms.
    pub timeout_ms: u64,
    /// Longest wait to open a TCP connection. Default 1000 ms.
    pub connect_timeout_ms: u64,
    /// Idle keep-alive connections kept open to the upstream. Default 256.
    pub pool_max_idle: usize,
    /// An idle pooled connection is closed after this. Default 30000 ms.
    pub pool_idle_timeout_ms: u64,
    /// How often open orders are polled upstream for fills (SPEC §6). 0 turns the poller off.
    /// Default 1000 ms.
    pub poll_interval_ms: u64,
    /// `authorization` header the poller sends (DriveWealth needs one; the simulator does not).
    /// Default: none.
    pub poll_authorization: Option<String>,
    /// `dw-client-app-key` header the poller sends. Default: none.
    pub poll_app_key: Option<String>,
    /// A kill switch's `cancelOpen` retries a failed cancel this often, at most 10 times,
    /// stopping once the order is final (SPEC §6). Default 1000 ms.
    pub cancel_retry_ms: u64,
    /// How often omnigate compares its open orders with DriveWealth's resting orders of each
    /// omnibus account that has an `account_id` (SPEC §6). 0, the default, is off.
    pub reconcile_interval_ms: u64,
    /// PEM certificates the upstream's TLS certificate is verified against, instead of the
    /// built-in Mozilla roots (`https://` upstreams only). Verification cannot be turned off.
    pub ca_file: Option<PathBuf>,
    /// `[upstream.auth]`: omnigate's own DriveWealth credentials, for its own calls (poller,
    /// `cancelOpen`, in-doubt checks, reconciliation). Default: none (the simulator needs none).
    pub auth: Option<UpstreamAuth>,
}

/// `[upstream.auth]` (SPEC §6, §8): a bearer token from `POST /back-office/auth/tokens`,
/// renewed before it expires.
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamAuth {
    /// DriveWealth's `clientID` for omnigate.
    pub client_id: String,
    /// Its `clientSecret`; or the environment's `OMNIGATE_DW_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<SecretText>,
    /// The `dw-client-app-key` omnigate's calls carry.
    pub app_key: String,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            url: None,
            timeout_ms: 5_000,
            connect_timeout_ms: 1_000,
            pool_max_idle: 256,
            pool_idle_timeout_ms: 30_000,
            poll_interval_ms: 1_000,
            poll_authorization: None,
            poll_app_key: None,
            cancel_retry_ms: 1_000,
            reconcile_interval_ms: 0,
            ca_file: None,
            auth: None,
        }
    }
}

/// `[omnibus]`: the partner's omnibus account(s) at DriveWealth.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OmnibusConfig {
    /// Orders must name one of these in `accountNo` (SPEC §4.5). Default: none (every order is
    /// refused until one is configured).
    pub account_numbers: Vec<String>,
    /// `"prefunded"` (BUYs spend cash deposited first) or `"cashless"` (T+1 against
    /// `credit_limit`). Default `"prefunded"`.
    pub funding: FundingMode,
    /// Cashless only: what the day's net buys plus reservations may reach. Default 0.
    pub credit_limit: Decimal,
    /// New York time at which each trading day's settlement rolls (cashless: the day's net
    /// starts again; `on_settlement` proceeds become buying power). Default `"17:00"`.
    pub settlement_time: chrono::NaiveTime,
    /// Omni available buying power below which a warning is logged and a metric set, once per
    /// crossing (SPEC §5.3), in USD. Default: none (off).
    pub low_balance_warning: Option<Decimal>,
    /// `[[omnibus.accounts]]`: accounts with a balance each (SPEC §5.4), instead of
    /// `account_numbers` and the funding keys above. Default: none.
    pub accounts: Vec<OmnibusAccountConfig>,
}

/// One `[[omnibus.accounts]]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct OmnibusAccountConfig {
    /// The account number orders name in `accountNo`.
    pub number: String,
    #[serde(default)]
    pub funding: FundingMode,
    /// Cashless only, in USD. Default 0.
    #[serde(default)]
    pub credit_limit: Decimal,
    #[serde(default)]
    pub low_balance_warning: Option<Decimal>,
    /// DriveWealth's accountID of the account (for reconciliation).
    #[serde(default)]
    pub account_id: Option<String>,
    /// The asset classes it takes, e.g. `["CRYPTO"]` for a DriveDigital house account; an order
    /// for another → `ACCOUNT_NOT_ALLOWED`. Default: every class.
    #[serde(default)]
    pub asset_classes: Vec<crate::instruments::AssetClass>,
}

impl Default for OmnibusConfig {
    fn default() -> Self {
        Self {
            account_numbers: Vec::new(),
            funding: FundingMode::Prefunded,
            credit_limit: Decimal::default(),
            settlement_time: chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            low_balance_warning: None,
            accounts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingMode {
    #[default]
    Prefunded,
    Cashless,
}

/// `[buying_power]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BuyingPowerConfig {
    /// When SELL proceeds become buying power: `"on_fill"` or `"on_settlement"`.
    /// Default `"on_fill"`.
    pub sell_proceeds: SellProceedsMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SellProceedsMode {
    #[default]
    OnFill,
    OnSettlement,
}

/// `[fees]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FeesConfig {
    /// Added to every BUY's cost and reserved with it, in USD. Default 0.
    pub per_order: Decimal,
}

/// `[limits]`: pre-trade risk limits (SPEC §5.3, SEC Rule 15c3-5 style controls).
///
/// `[limits.default]` applies to every customer; a `[[limits.customer]]` entry overrides any
/// subset of its keys for one `clientID`. `crate::limits::LimitBook` resolves the two (plus the
/// admin API's temporary raises) into one customer's effective limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    pub default: CustomerLimits,
    /// Per-customer overrides, at most one entry per `client_id`. Default: none.
    pub customer: Vec<CustomerLimitsEntry>,
}

/// The limits every customer gets (`[limits.default]`). A key left out is off unless it says
/// otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CustomerLimits {
    /// Largest notional of one order, in USD: a BUY's cost (fees included), a SELL's quantity ×
    /// reference price. Above it → `LIMIT_EXCEEDED`. Default: none (off).
    pub max_order_notional: Option<Decimal>,
    /// Largest quantity of one order, in shares. Default: none (off).
    pub max_order_quantity: Option<Decimal>,
    /// Most orders one customer may have open at once; the next one → `LIMIT_EXCEEDED`.
    /// Default: none (off).
    pub max_open_orders: Option<u32>,
    /// Most a customer's BUYs may add up to in one trading day, in USD. Default: none (off).
    pub daily_buy_notional: Option<Decimal>,
    /// Sustained order rate per customer (a token bucket refilled at this rate); over it →
    /// `RATE_LIMITED` (429). May be fractional (`0.5` = one order every two seconds).
    /// Default: none (off).
    pub orders_per_second: Option<Decimal>,
    /// Orders a customer may send at once before `orders_per_second` applies (the bucket's size).
    /// Default: `orders_per_second` rounded up.
    pub burst: Option<u32>,
    /// Largest distance of a LIMIT's limit price (STOP / MARKET_IF_TOUCHED: trigger price) from
    /// the reference price, in percent of the reference; further → `PRICE_OUT_OF_BAND`.
    /// Default: none (off).
    pub price_band_pct: Option<Decimal>,
    /// Quantity-based MARKET, STOP and MARKET_IF_TOUCHED BUYs reserve
    /// `quantity × max(reference, trigger) × (1 + market_buffer_pct/100)`. Default 5.
    pub market_buffer_pct: Decimal,
    /// Same customer, symbol, side and size again within this many milliseconds →
    /// `DUPLICATE_ORDER` (15c3-5 duplicative orders). Default 0 (content check off; a reused
    /// `clientOrderID` is always a duplicate).
    pub duplicate_window_ms: u64,
    /// Symbols this customer may not trade (→ `TRADING_DISABLED`), case-insensitive.
    /// Default empty.
    pub restricted_symbols: Vec<String>,
}

impl Default for CustomerLimits {
    fn default() -> Self {
        Self {
            max_order_notional: None,
            max_order_quantity: None,
            max_open_orders: None,
            daily_buy_notional: None,
            orders_per_second: None,
            burst: None,
            price_band_pct: None,
            market_buffer_pct: Decimal::from_text("5"),
            duplicate_window_ms: 0,
            restricted_symbols: Vec::new(),
        }
    }
}

/// One `[[limits.customer]]` entry: `client_id` plus any subset of `[limits.default]`'s keys.
/// A key left out falls back to `[limits.default]`, each key on its own. A limit that is on by
/// default cannot be switched off for one customer (TOML has no null): raise it instead.
/// `restricted_symbols` adds to the default list rather than replacing it, so a customer entry
/// can never lift a firm-wide restriction.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CustomerLimitsEntry {
    /// The customer's `clientID`. Required.
    pub client_id: String,
    pub max_order_notional: Option<Decimal>,
    pub max_order_quantity: Option<Decimal>,
    pub max_open_orders: Option<u32>,
    pub daily_buy_notional: Option<Decimal>,
    pub orders_per_second: Option<Decimal>,
    pub burst: Option<u32>,
    pub price_band_pct: Option<Decimal>,
    pub market_buffer_pct: Option<Decimal>,
    pub duplicate_window_ms: Option<u64>,
    pub restricted_symbols: Vec<String>,
}

/// `[client_id]`: format rules for `clientID` beyond the built-in charset and length (SPEC §4.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ClientIdConfig {
    /// Refuse date-like IDs (`20260604`, `0604`, `2026-06-04`). Default true.
    pub reject_date_like: bool,
    /// Firm, desk and product codes that are not customer IDs (case-insensitive). Default empty.
    pub deny: Vec<String>,
}

impl Default for ClientIdConfig {
    fn default() -> Self {
        Self {
            reject_date_like: true,
            deny: Vec::new(),
        }
    }
}

/// `[halts]`: what happens to whole-share orders on a halted instrument (SPEC §4.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HaltsConfig {
    /// `"forward"` (DriveWealth holds them PENDING until the halt lifts) or `"reject"`.
    /// Default `"forward"`.
    pub whole_share: WholeShareOnHalt,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WholeShareOnHalt {
    #[default]
    Forward,
    Reject,
}

/// `[market]`: the equity calendar in America/New_York (SPEC §4.4).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MarketConfig {
    /// What the calendar starts from: the built-in NYSE calendar (default) or nothing.
    pub calendar: CalendarBase,
    /// Full-day closures added to the base, `"YYYY-MM-DD"` (an emergency closure, a year the
    /// built-in table does not reach yet).
    pub holidays: Vec<NaiveDate>,
    /// Days added to the base on which the regular session ends at 13:00 and post-market at
    /// 17:00.
    pub early_closes: Vec<NaiveDate>,
}

/// `market.calendar`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarBase {
    /// The NYSE holidays and early closes omnigate ships ([`nyse`]).
    #[default]
    Nyse,
    /// An empty calendar: only `market.holidays` and `market.early_closes`.
    None,
}

/// `[bootstrap]`: JSON Lines files loaded at start-up.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// Instrument master entries, one JSON object a line, in the shape of
    /// `PUT /admin/instruments/{symbol}` plus `symbol`. Relative paths are read from the config
    /// file's folder. Default: none.
    pub instruments: Option<PathBuf>,
    /// Customers, JSON Lines: one object a line, in the shape of `PUT /admin/customers/{clientID}`
    /// plus `clientID`. Default: none.
    pub customers: Option<PathBuf>,
}

/// `[wal]`: the write-ahead log (SPEC §10).
/// Smallest `wal.segment_bytes`: a segment holds its header and at least one record.
pub const WAL_SEGMENT_BYTES_MIN: u64 = 4 * 1024;
/// Largest `wal.segment_bytes`.
pub const WAL_SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WalConfig {
    /// Folder of the log's segments and snapshots; relative paths are read from the config
    /// file's folder. Default `"./omnigate-data"`.
    pub dir: PathBuf,
    /// `"always"`: a decision is fsynced before it is acted on (group commit); `"interval"`:
    /// fsynced every `fsync_interval_ms` (a crash may lose that much); `"off"`: never (tests
    /// only). Default `"always"`.
    pub fsync: FsyncMode,
    /// With `fsync = "interval"`. Default 10 ms.
    pub fsync_interval_ms: u64,
    /// A snapshot is written after this many records, or after as many records as the last
    /// snapshot held entries if that is more (so a large book is not rewritten every few
    /// seconds), and at a clean shutdown; replay reads the snapshot and the records after it.
    /// Default 100000.
    pub snapshot_every: u64,
    /// A segment file is rolled past this many bytes. Default 67108864 (64 MiB).
    pub segment_bytes: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./omnigate-data"),
            fsync: FsyncMode::Always,
            fsync_interval_ms: 10,
            snapshot_every: 100_000,
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncMode {
    #[default]
    Always,
    Interval,
    Off,
}

/// `[clock]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClockConfig {
    /// Allow `PUT /admin/clock` to move the gateway's clock (tests and simulations only).
    /// Default false.
    pub adjustable: bool,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `"text"` or `"json"`. Default `"text"`.
    pub format: LogFormat,
    /// A `tracing` filter such as `"info"` or `"omnigate=debug"`; `RUST_LOG` overrides it.
    /// Default `"info"`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One thing wrong with a config, by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

/// Everything wrong with a config file, ready to print one line each.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub origin: String,
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}: {}", self.origin, problem.key, problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            origin: origin.clone(),
            problems: vec![ConfigProblem {
                key: "(file)".to_owned(),
                message: format!("cannot read: {error}"),
            }],
        })?;
        let mut config = Config::parse(&text, &origin)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// The embedded default of `omnigate run` without `--config`.
    pub fn embedded_default() -> Config {
        let mut config = Config::parse(EMBEDDED_DEFAULT, "(embedded default)")
            .unwrap_or_else(|error| panic!("the embedded default config is invalid: {error}"));
        config.demo_book = true;
        config
    }

    /// Parses and validates config text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let deserializer = toml::Deserializer::new(text);
        // `deny_unknown_fields` would stop at the first unknown key; collecting the ignored ones
        // reports every typo in one go.
        let parsed: Result<Config, _> = serde_ignored::deserialize(deserializer, |path| {
            problems.push(ConfigProblem {
                key: path.to_string(),
                message: "unknown key".to_owned(),
            })
        });
        let config = match parsed {
            Ok(config) => config,
            Err(error) => {
                problems.push(toml_problem(&error, text));
                return Err(ConfigError {
                    origin: origin.to_owned(),
                    problems,
                });
            }
        };
        problems.extend(config.validate());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        if self.wal.dir.is_relative() {
            self.wal.dir = base.join(&self.wal.dir);
        }
        let tls = self.server.tls.as_mut();
        let (cert, key) = match tls {
            Some(tls) => (Some(&mut tls.cert), Some(&mut tls.key)),
            None => (None, None),
        };
        for path in [
            self.audit.dir.as_mut(),
            self.bootstrap.instruments.as_mut(),
            self.bootstrap.customers.as_mut(),
            self.upstream.ca_file.as_mut(),
            cert,
            key,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

/// A TOML syntax or type error, with its line and the key it was about where TOML names one.
fn toml_problem(error: &toml::de::Error, text: &str) -> ConfigProblem {
    let line = error
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let key = match line {
        Some(line) => format!("line {line}"),
        None => "(file)".to_owned(),
    };
    ConfigProblem {
        key,
        message: error.message().trim().replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let config = Config::parse("", "t").unwrap();
        assert_eq!(config.server.listen.port(), 8080);
        assert_eq!(config.upstream.timeout_ms, 5000);
        assert!(config.upstream.url.is_none());
    }

    #[test]
    fn a_config_shown_with_debug_holds_no_secret() {
        let config = Config::parse(
            "[server]\nadmin_token = \"admin-secret-0123456789\"\nevents_token = \"events-secret-0123456789\"\n[upstream.auth]\nclient_id = \"c\"\nclient_secret = \"client-secret-0123456789\"\napp_key = \"k\"\n",
            "t",
        )
        .unwrap();
        let shown = format!("{config:?}");
        for secret in ["admin-secret", "events-secret", "client-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::embedded_default();
        assert!(!config.omnibus.account_numbers.is_empty());
    }

    #[test]
    fn every_unknown_key_is_reported_at_once() {
        let error = Config::parse(
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n[upstream]\ntimeout = 3\n[nope]\nx = 1\n",
            "f.toml",
        )
        .unwrap_err();
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["server.lisen", "upstream.timeout", "nope"],
            "{error}"
        );
        assert!(error
            .to_string()
            .starts_with("f.toml: server.lisen: unknown key"));
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let error = Config::parse("[server]\n\nmax_body_bytes = \"big\"\n", "f.toml").unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert_eq!(error.problems[0].key, "line 3", "{error}");
    }

    #[test]
    fn the_examples_commented_out_in_the_example_parse() {
        // Every `# key = value` line and `# [[table]]` header of the example, switched on, must
        // still be a valid config: a documented example a risk officer copies has to work.
        let example = include_str!("../../examples/omnigate.toml");
        let switched_on: String = example
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with("[[")
                        || rest.split_once(" = ").is_some_and(|(key, _)| {
                            key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        }) =>
                {
                    rest
                }
                _ => line,
            })
            .fold(String::new(), |text, line| text + line + "\n");
        let config = Config::parse(&switched_on, "switched on").unwrap();
        assert!(config.limits.default.max_order_notional.is_some());
        assert_eq!(config.limits.customer.len(), 1);
        assert!(config.omnibus.low_balance_warning.is_some());
    }

    #[test]
    fn the_example_documents_every_default() {
        let example = include_str!("../../examples/omnigate.toml");
        let parsed = Config::parse(example, "examples/omnigate.toml").unwrap();
        let default = Config::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }
}
