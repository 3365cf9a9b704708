//! omnigate: a pre-trade risk and buying-power gateway in front of DriveWealth's order API.
//!
//! # Layout
//!
//! An order travels left to right through one module per step:
//!
//! ```text
//!  router ─▶ http::front ─▶ http::route ─▶ order::parse ─▶ engine::admit ─────────────────┐
//!           (router keys,   (canonical      (exact          │ decide (every check, pure;  │
//!            framing)        paths only)     decimals)      │   limits, rules,            │
//!                  │                                        │   instruments; Controls)    │
//!                  │                                        │ ledger (reserve customer    │
//!                  │                                        │   + omni, atomically)       │
//!                  │                                        │ engine::record ─▶ wal       │
//!                  │                                        │   (group commit, fsync)     │
//!                  ▼                                        ▼                             │
//!           http::proxy ─────────────────────────────▶ upstream (pooled) ◀─── forward ─────┘
//!           (every other canonical path)                    │
//!                                 bind the orderId / release / hold in doubt (engine)
//!
//!  feeds (events, poller, settlement) and http::admin ─▶ engine methods ─▶ ledger + wal
//! ```
//!
//! The order listener runs on every core (`http::cores`): one event loop per thread, each with
//! its own socket on the order address and its own upstream pool, so an order is read,
//! decided, forwarded and answered on one thread; the engine, the WAL's writer and the audit
//! writer are shared by all of them.
//!
//! The engine owns the state (ledger, instrument master, controls) and is the only way to
//! change it: every change is applied and its record queued to the WAL under one gate, and is
//! acted on once durable. The WAL stores opaque bytes; what they mean is `engine::record`.
//!
//! - [`codec`]: the compact binary encoding of WAL records and snapshots.
//! - [`config`]: the TOML file, its defaults and its validation.
//! - [`clock`]: the one source of time; nothing else reads the OS clock.
//! - [`beat`]: the tick-until-shutdown loop of every background task.
//! - [`cow`]: copy-on-write cells, so a snapshot reads one instant while orders go on.
//! - [`metrics`]: Prometheus metrics at `GET /metrics`.
//! - [`money`]: exact fixed-point numbers (10⁻⁸ units in an `i64`).
//! - [`order`]: the order body as routers send it, parsed exactly.
//! - [`decide`]: the one decision: every check of SPEC §3.1, in order; stateful controls through
//!   a narrow trait.
//! - [`engine`]: the shared state, the order path up to the wire (decide → reserve → log), every
//!   change and its record, recovery and snapshots.
//! - [`fast_map`]: the seeded fast hasher of the order path's maps.
//! - [`feeds`]: what feeds the ledger besides orders: DriveWealth's events, the poller of open
//!   orders, the settlement roll.
//! - [`queued`]: orders accepted for a later open (for the cancel cut-off).
//! - [`reject`]: the rejection codes of the wire contract and their messages.
//! - [`json_shape`]: a body's outer JSON shape, checked before serde reads a struct from it.
//! - [`json_out`]: JSON written field by field, numbers exactly as `Fixed` prints them.
//! - [`instruments`]: the instrument master (status, fractionability, reference prices).
//! - [`ledger`]: customer and omni buying power, reservations, positions and fills.
//! - [`limits`]: risk-officer controls: limits, kill switch, rate, duplicates, idempotency keys.
//! - [`rules`]: the DriveWealth rules an order must pass (clientID, market hours, …).
//! - [`upstream`]: the pooled keep-alive client to DriveWealth and how its failures read.
//! - [`tls`]: TLS both ways: the upstream's certificate verified, the listeners' certificate.
//! - [`http`]: the listeners — order front, transparent proxy, admin API — and their limits.
//! - [`sim`]: a DriveWealth simulator, in-process or as `omnigate sim`.
//! - [`wal`]: the write-ahead log: records stored durably (group commit), recovered, snapshotted.
//! - [`ha`]: replicated mode: the decision log shared on NATS JetStream, the leader's lease.
//! - [`audit`]: the audit trail of every decision, upstream answer, fill and admin change,
//!   written off the order path.
//! - [`dashboard`]: the risk dashboard's page, data, history and charts.
//! - [`app`]: wiring: builds the pieces from a config and runs them until shutdown.

pub mod app;
pub mod audit;
pub mod beat;
pub mod clock;
pub mod codec;
pub mod config;
pub mod cow;
pub mod dashboard;
pub mod decide;
pub mod engine;
pub mod fast_map;
pub mod feeds;
pub mod ha;
pub mod http;
pub mod instruments;
pub mod json_out;
pub mod json_shape;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod money;
pub mod order;
pub mod queued;
pub mod reject;
pub mod rules;
pub mod sim;
pub mod tls;
pub mod upstream;
pub mod wal;
