//! The audit trail (SPEC §11.1): the record of omnigate's market-access controls that SEC Rule
//! 15c3-5 asks a broker-dealer to keep — every decision with its code and message, every
//! upstream answer to an order, every fill learned, every admin change with the credential that
//! made it and its reason.
//!
//! Off the order path: the order path hands an [`Entry`] (a timestamp, a reference-counted copy
//! of the body it already holds, a static code) to a bounded queue and goes on; the audit
//! writer's own thread turns entries into JSON lines and writes them to a file a day. A full
//! queue drops the entry and counts it (`omnigate_audit_dropped_total`): an order never waits
//! for the audit trail. An accepted order's durable record is its WAL record; the audit trail
//! may lose its last moments in a crash.
//!
//! Secrets never reach it: no header but `Idempotency-Key` is kept, and an order's fields are
//! picked by name from its body.

mod line;
mod query;
mod recent;
mod stamp;
mod writer;

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use crossbeam_channel::{Sender, TrySendError};

pub use query::{export, Exported, Format, Query, QueryError};
pub use writer::{file_name, StartError, Writer};

/// Which admin credential made a change (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Admin,
    Events,
    /// No token, or one that opens nothing here: the call was refused (401).
    Refused,
}

impl Credential {
    pub const fn as_str(self) -> &'static str {
        match self {
            Credential::Admin => "admin",
            Credential::Events => "events",
            Credential::Refused => "none",
        }
    }
}

/// What the order path asked for, as a client sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `POST /back-office/orders`.
    Order,
    /// `PATCH /back-office/orders/{id}` with `{"method":"CANCEL"}`.
    Cancel,
    /// Any other request the order listener refused (a path that is not canonical, an unknown
    /// router, a method not allowed).
    Other,
}

/// One thing to audit. Built on the order path, so it holds what that path already has
/// (`Bytes` is a reference count, codes are static); the writer derives the rest.
#[derive(Debug)]
pub enum Entry {
    /// An order or cancel decided — accepted, or refused with a code of SPEC §3.1 (also those
    /// given before a decision, such as `INVALID_ORDER`).
    Decision {
        ts: DateTime<Utc>,
        request: Request,
        /// The request body as sent (the order's fields are read from it).
        body: Bytes,
        /// `ACCEPTED` or the rejection code.
        code: &'static str,
        message: Option<String>,
        idempotency_key: Option<Bytes>,
        /// A cancel's order id (`orderId`), or the local id of an accepted order (`localId`).
        order_id: Option<String>,
        /// The request's method and path, for [`Request::Other`].
        target: Option<(http::Method, String)>,
        /// A cancel's customer, as the ledger knows its order (a cancel body names nobody).
        customer: Option<String>,
    },
    /// What the upstream answered to an accepted order or cancel, or that it did not.
    Upstream {
        ts: DateTime<Utc>,
        request: Request,
        body: Bytes,
        /// `ACCEPTED`, `UPSTREAM_REJECTED`, `UPSTREAM_ERROR`, `UPSTREAM_TIMEOUT` or
        /// `UPSTREAM_UNAVAILABLE` (the outcome counted in `/metrics`).
        code: &'static str,
        /// The upstream's HTTP status, when it answered.
        status: Option<u16>,
        /// The upstream's own answer body (an error's `errorCode` and `message`), bounded.
        answer: Option<Bytes>,
        /// omnigate's own words when there was no answer (a timeout, an unreachable upstream).
        message: Option<String>,
        /// The accepted order's local id (its decision line's `localId`).
        local_id: Option<u64>,
        /// A cancel's customer, as the ledger knows its order.
        customer: Option<String>,
        order_id: Option<String>,
        idempotency_key: Option<Bytes>,
    },
    /// A fill or status change learned from DriveWealth (event, proxied GET, poll).
    Fill {
        ts: DateTime<Utc>,
        order_id: String,
        client_id: Option<String>,
        symbol: Option<String>,
        side: Option<&'static str>,
        status: &'static str,
        cumulative_quantity: crate::money::Fixed,
        average_price: crate::money::Fixed,
        fees: Option<crate::money::Fixed>,
    },
    /// A call that changes something through the admin API (every method but `GET`), and
    /// every call refused for want of a token.
    Admin {
        ts: DateTime<Utc>,
        credential: Credential,
        method: http::Method,
        path: String,
        status: u16,
        body: Bytes,
    },
}

/// The handle every part that audits holds: cheap to clone, never blocks.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    queue: Sender<Entry>,
    dropped: AtomicU64,
    /// Unix second of the last "dropped" warning, so a full queue warns once a second.
    warned_at_s: AtomicI64,
    /// The second refused calls are being counted in, and how many so far.
    refusal_second: AtomicI64,
    refusals: AtomicU32,
}

/// Admin calls refused for want of a token recorded per second at most: beyond that they are
/// counted (`omnigate_audit_refusals_unrecorded_total`), not queued, so a flood of
/// unauthenticated calls cannot push decisions out of a full queue.
const REFUSALS_PER_SECOND: u32 = 20;

impl Audit {
    /// An audit trail that keeps nothing (benches, unit tests, tools).
    pub fn off() -> Audit {
        Audit { inner: None }
    }

    pub(crate) fn new(queue: Sender<Entry>) -> Audit {
        Audit {
            inner: Some(Arc::new(Inner {
                queue,
                dropped: AtomicU64::new(0),
                warned_at_s: AtomicI64::new(0),
                refusal_second: AtomicI64::new(0),
                refusals: AtomicU32::new(0),
            })),
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues `entry` for the writer, or drops and counts it when the queue is full. Never
    /// waits.
    pub fn record(&self, entry: Entry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let ts = entry.ts();
        match inner.queue.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("omnigate_audit_dropped_total").increment(1);
                let second = ts.timestamp();
                let last = inner.warned_at_s.swap(second, Ordering::Relaxed);
                if last != second {
                    tracing::warn!(
                        dropped = inner.dropped.load(Ordering::Relaxed),
                        "audit queue full: an audit entry was dropped (the order went on)"
                    );
                }
            }
        }
    }

    /// Queues an admin call refused for want of a token, within [`REFUSALS_PER_SECOND`].
    pub fn record_refusal(&self, entry: Entry) {
        let Some(inner) = &self.inner else {
            return;
        };
        let second = entry.ts().timestamp();
        // A new second starts a new budget (two threads starting it at once may let a few
        // more through: the budget bounds a flood, it is not an exact count).
        if inner.refusal_second.swap(second, Ordering::Relaxed) != second {
            inner.refusals.store(0, Ordering::Relaxed);
        }
        if inner.refusals.fetch_add(1, Ordering::Relaxed) >= REFUSALS_PER_SECOND {
            metrics::counter!("omnigate_audit_refusals_unrecorded_total").increment(1);
            return;
        }
        self.record(entry);
    }

    /// Entries dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |inner| inner.dropped.load(Ordering::Relaxed))
    }
}

impl Entry {
    pub fn ts(&self) -> DateTime<Utc> {
        match self {
            Entry::Decision { ts, .. }
            | Entry::Upstream { ts, .. }
            | Entry::Fill { ts, .. }
            | Entry::Admin { ts, .. } => *ts,
        }
    }
}
