//! `DUPLICATE_ORDER` (SPEC §3.1, 15c3-5 duplicative orders): two checks, made and recorded in
//! one atomic step.
//!
//! One piece, though long: both checks share one lock and one record per shard, which is what
//! makes them atomic; about a third of the file is its tests.
//!
//! (a) A `clientOrderID` this customer already used. (b) When the customer's
//! `duplicate_window_ms` is above 0: the same customer, symbol, side and size (quantity or
//! `amountCash`, exactly) as an order accepted less than `duplicate_window_ms` ago — at
//! `window − 1 ms` it is a duplicate, at `window` it is not.
//!
//! **Atomic.** [`DuplicateGuard::check_and_record`] checks and records under one lock, so of two
//! identical orders racing exactly one passes. An order that passes here but is then refused
//! further on (buying power, upstream 4xx) must be given back with [`DuplicateGuard::forget`],
//! so that its `clientOrderID` can be used again.
//!
//! **Bounded.** Orders are remembered by a 128-bit digest of their identity (no strings kept,
//! nothing allocated once the tables have grown), in [`SHARDS`] shards chosen by customer, each
//! behind its own mutex (no global lock: customers in different shards never meet). The
//! `clientOrderID`s remembered are capped at `capacity_ids` in total (default
//! [`CLIENT_ORDER_IDS_MAX`]), `capacity_ids / SHARDS` per shard; when a shard is full its oldest
//! id is forgotten. So a reused `clientOrderID` is caught as long as it is among roughly the last
//! `capacity_ids` ids sent through the gateway (at least the last `capacity_ids / SHARDS` of its
//! shard). Content entries (b) are dropped once their window has passed, and are capped the same
//! way.
//!
//! **Expiring.** A `clientOrderID` is remembered for `server.client_order_id_ttl_hours`
//! ([`DuplicateGuard::set_id_ttl_hours`], default 96) after the order that used it, then
//! forgotten: oldest first, as new orders arrive in its shard.
//!
//! **Durable** (SPEC §10). The order path logs each `clientOrderID` with its reservation, and
//! its return with the release; recovery puts them back with [`DuplicateGuard::redo_record`]
//! and [`DuplicateGuard::redo_forget`], and a snapshot carries each shard's ids as digests
//! ([`DuplicateGuard::read_snapshot`] / [`DuplicateGuard::import_ids`]). So a crash does not reset
//! duplicate detection. The content window (b) is seconds long and is not kept.
//!
//! Time is the injected `now` (`DateTime<Utc>`). A `now` earlier than a recorded order (the
//! admin clock was set back) counts as "0 ms ago": the conservative reading.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use crate::order::{Side, Size};
use crate::reject::{Reject, RejectCode};

use super::digest::{Digest128, DigestKeyed};
use super::{short, unix_ns};
use crate::cow::{CowShards, Freeze};

/// `clientOrderID`s remembered across all customers by default (≈ 56 bytes each: ~56 MB full).
pub const CLIENT_ORDER_IDS_MAX: usize = 1_000_000;
/// `server.client_order_id_ttl_hours`' default.
pub const CLIENT_ORDER_ID_TTL_HOURS: u64 = 96;
const NS_PER_HOUR: i64 = 3_600_000_000_000;
/// Independent locks. A power of two, so a shard is picked with a mask.
pub const SHARDS: usize = 64;

/// What the duplicate checks look at in one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderIdentity<'a> {
    pub client_id: &'a str,
    pub client_order_id: Option<&'a str>,
    /// The instrument master's symbol (compared ASCII-case-insensitively).
    pub symbol: &'a str,
    pub side: Side,
    pub size: Size,
}

/// Proof that an order passed, to give it back with [`DuplicateGuard::forget`]. Plain data; the
/// default ticket recorded nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DuplicateTicket {
    shard: usize,
    id: Option<(u128, u64)>,
    content: Option<(u128, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct IdSeen {
    digest: u128,
    seq: u64,
    at_ns: i64,
}

#[derive(Debug, Clone, Copy)]
struct ContentSeen {
    at_ns: i64,
    seq: u64,
}

/// One shard's memory.
#[derive(Debug, Default)]
struct Shard {
    /// Id digest → the sequence number it was recorded with.
    ids: HashMap<u128, u64, DigestKeyed>,
    /// Ids oldest first, with when they were used, for eviction. An entry whose sequence number
    /// no longer matches `ids` (forgotten) is skipped.
    ids_order: VecDeque<IdSeen>,
    contents: HashMap<u128, ContentSeen, DigestKeyed>,
    /// (digest, seq, when it stops mattering) roughly oldest first.
    contents_order: VecDeque<(u128, u64, i64)>,
    next_seq: u64,
}

/// What a snapshot keeps of a shard: its live ids, oldest first, with when they were used.
impl Freeze for Shard {
    type Frozen = Vec<(u128, i64)>;
    fn freeze(&self) -> Self::Frozen {
        self.ids_order
            .iter()
            .filter(|seen| self.ids.get(&seen.digest) == Some(&seen.seq))
            .map(|seen| (seen.digest, seen.at_ns))
            .collect()
    }
}

impl Shard {
    fn seq(&mut self) -> u64 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// Drops the oldest ids beyond `capacity`, and every id used before `expired_before_ns`.
    ///
    /// `capacity` counts the ids remembered, not the entries queued: a forgotten id leaves a
    /// stale entry in `ids_order`, which a snapshot does not carry, so counting those would
    /// make a gateway recovered from its snapshot and log remember other ids than the live one.
    /// Stale entries go when they reach the front of a shard that must drop something, or in a
    /// sweep when the queue reaches twice `capacity`, so it never holds more than that; the
    /// common case (nothing to drop) looks nothing up. (The one difference left: an order
    /// refused after this check but before its record was logged, at the reservation, may have
    /// pushed an older id out of a full shard that a recovered gateway still remembers.)
    fn evict_ids(&mut self, capacity: usize, expired_before_ns: i64) {
        while let Some(&oldest) = self.ids_order.front() {
            if self.ids.len() <= capacity && oldest.at_ns >= expired_before_ns {
                break;
            }
            self.ids_order.pop_front();
            if self.ids.get(&oldest.digest) == Some(&oldest.seq) {
                self.ids.remove(&oldest.digest);
            }
        }
        if self.ids_order.len() > capacity.saturating_mul(2) {
            let ids = &self.ids;
            self.ids_order
                .retain(|seen| ids.get(&seen.digest) == Some(&seen.seq));
        }
    }

    /// Remembers an id used at `at_ns`; returns its sequence number.
    fn record_id(&mut self, digest: u128, at_ns: i64) -> u64 {
        let seq = self.seq();
        self.ids.insert(digest, seq);
        self.ids_order.push_back(IdSeen { digest, seq, at_ns });
        seq
    }

    /// Drops content entries whose window has passed (front first; windows differ per customer,
    /// so the queue is only roughly ordered and a few may linger until the cap reaches them).
    fn evict_contents(&mut self, capacity: usize, now_ns: i64) {
        while let Some(&(digest, seq, until_ns)) = self.contents_order.front() {
            if until_ns > now_ns && self.contents_order.len() <= capacity {
                break;
            }
            self.contents_order.pop_front();
            if self
                .contents
                .get(&digest)
                .is_some_and(|seen| seen.seq == seq)
            {
                self.contents.remove(&digest);
            }
        }
    }
}

/// Every customer's recent `clientOrderID`s and order contents.
#[derive(Debug)]
pub struct DuplicateGuard {
    /// Read copy-on-write by snapshots ([`crate::cow`]).
    shards: CowShards<Shard>,
    ids_per_shard: usize,
    /// How long an id is remembered, in nanoseconds (hot-reloaded).
    id_ttl_ns: AtomicI64,
}

/// One shard's remembered `clientOrderID`s, oldest first, as a snapshot carries them: (digest,
/// when used, ns since the Unix epoch). The shard index is part of the format: [`SHARDS`] never
/// changes without a new snapshot format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIds {
    pub shard: usize,
    pub ids: Vec<(u128, i64)>,
}

impl Default for DuplicateGuard {
    fn default() -> Self {
        Self::new(CLIENT_ORDER_IDS_MAX)
    }
}

impl DuplicateGuard {
    /// Remembers up to `capacity_ids` `clientOrderID`s in total (and as many content entries).
    pub fn new(capacity_ids: usize) -> Self {
        DuplicateGuard {
            shards: CowShards::new(SHARDS),
            ids_per_shard: capacity_ids.div_ceil(SHARDS).max(1),
            id_ttl_ns: AtomicI64::new(CLIENT_ORDER_ID_TTL_HOURS as i64 * NS_PER_HOUR),
        }
    }

    /// `server.client_order_id_ttl_hours`.
    pub fn set_id_ttl_hours(&self, hours: u64) {
        let ns = i64::try_from(hours)
            .ok()
            .and_then(|hours| hours.checked_mul(NS_PER_HOUR))
            .unwrap_or(i64::MAX);
        self.id_ttl_ns.store(ns, Ordering::Relaxed);
    }

    fn expired_before_ns(&self, now_ns: i64) -> i64 {
        now_ns.saturating_sub(self.id_ttl_ns.load(Ordering::Relaxed))
    }

    /// Refuses a duplicate with `DUPLICATE_ORDER`; otherwise records the order and returns the
    /// ticket to [`forget`](Self::forget) it by. `window_ms` is the customer's
    /// `duplicate_window_ms` (0: content check off).
    pub fn check_and_record(
        &self,
        order: &OrderIdentity<'_>,
        window_ms: u64,
        now: DateTime<Utc>,
    ) -> Result<DuplicateTicket, Reject> {
        let customer = customer_digest(order.client_id);
        let shard_index = (customer as usize) & (SHARDS - 1);
        let id_digest = order
            .client_order_id
            .map(|client_order_id| id_digest(customer, client_order_id));
        let content = (window_ms > 0).then(|| content_digest(customer, order));
        let now_ns = unix_ns(now);
        let window_ns = i64::try_from(window_ms)
            .ok()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .unwrap_or(i64::MAX);

        let mut shard = self.shards.change(shard_index);
        shard.evict_contents(self.ids_per_shard, now_ns);
        shard.evict_ids(self.ids_per_shard, self.expired_before_ns(now_ns));
        if let Some(digest) = id_digest {
            if shard.ids.contains_key(&digest) {
                return Err(Reject::new(
                    RejectCode::DuplicateOrder,
                    format!(
                        "clientOrderID {:?} was already used by this customer",
                        short(order.client_order_id.unwrap_or_default())
                    ),
                ));
            }
        }
        if let Some(digest) = content {
            if let Some(seen) = shard.contents.get(&digest) {
                let ago_ns = now_ns.saturating_sub(seen.at_ns).max(0);
                if ago_ns < window_ns {
                    return Err(Reject::new(
                        RejectCode::DuplicateOrder,
                        format!(
                            "the same order ({} {} {}) was accepted {} ms ago, within duplicate_window_ms {window_ms}",
                            order.side.as_str(),
                            describe_size(order.size),
                            order.symbol,
                            ago_ns / 1_000_000
                        ),
                    ));
                }
            }
        }

        let id = id_digest.map(|digest| (digest, shard.record_id(digest, now_ns)));
        shard.evict_ids(self.ids_per_shard, self.expired_before_ns(now_ns));
        let content = content.map(|digest| {
            let seq = shard.seq();
            shard
                .contents
                .insert(digest, ContentSeen { at_ns: now_ns, seq });
            shard
                .contents_order
                .push_back((digest, seq, now_ns.saturating_add(window_ns)));
            (digest, seq)
        });
        Ok(DuplicateTicket {
            shard: shard_index,
            id,
            content,
        })
    }

    /// Gives back an order that passed [`check_and_record`](Self::check_and_record) but was not
    /// accepted after all: its `clientOrderID` and content no longer count. Forgetting twice, or
    /// after the entry was evicted or recorded again, changes nothing.
    pub fn forget(&self, ticket: DuplicateTicket) {
        if ticket.shard >= self.shards.count() {
            return;
        }
        let mut shard = self.shards.change(ticket.shard);
        if let Some((digest, seq)) = ticket.id {
            if shard.ids.get(&digest) == Some(&seq) {
                shard.ids.remove(&digest);
            }
        }
        if let Some((digest, seq)) = ticket.content {
            if shard
                .contents
                .get(&digest)
                .is_some_and(|seen| seen.seq == seq)
            {
                shard.contents.remove(&digest);
            }
        }
    }

    /// Recovery: `client_order_id` was used by `client_id` at `at` (a logged reservation).
    pub fn redo_record(&self, client_id: &str, client_order_id: &str, at: DateTime<Utc>) {
        let customer = customer_digest(client_id);
        let digest = id_digest(customer, client_order_id);
        let at_ns = unix_ns(at);
        let mut shard = self.shards.change((customer as usize) & (SHARDS - 1));
        if !shard.ids.contains_key(&digest) {
            shard.record_id(digest, at_ns);
        }
        shard.evict_ids(self.ids_per_shard, i64::MIN);
    }

    /// Recovery: the order that used `client_order_id` was given back (a logged release).
    pub fn redo_forget(&self, client_id: &str, client_order_id: &str) {
        let customer = customer_digest(client_id);
        let digest = id_digest(customer, client_order_id);
        self.shards
            .change((customer as usize) & (SHARDS - 1))
            .ids
            .remove(&digest);
    }

    /// Begins a snapshot (every change paused); read it with
    /// [`DuplicateGuard::read_snapshot`].
    pub(crate) fn begin_snapshot(&self) -> u64 {
        self.shards.begin_snapshot()
    }

    /// Every shard's remembered ids as they were when snapshot `running` began, less those
    /// expired at `now`.
    pub(crate) fn read_snapshot(&self, running: u64, now: DateTime<Utc>) -> Vec<ShardIds> {
        let expired_before_ns = self.expired_before_ns(unix_ns(now));
        self.shards
            .read_snapshot(running)
            .into_iter()
            .filter_map(|(shard, mut ids)| {
                ids.retain(|&(_, at_ns)| at_ns >= expired_before_ns);
                (!ids.is_empty()).then_some(ShardIds { shard, ids })
            })
            .collect()
    }

    /// Every shard's remembered ids still within the TTL at `now` (tests: a live engine reads
    /// only through its snapshots, which take turns).
    #[cfg(test)]
    pub fn export_ids(&self, now: DateTime<Utc>) -> Vec<ShardIds> {
        let running = self.begin_snapshot();
        self.read_snapshot(running, now)
    }

    /// Recovery: one shard's ids from a snapshot. A shard index out of range is refused.
    pub fn import_ids(&self, shard_ids: &ShardIds) -> Result<(), String> {
        if shard_ids.shard >= self.shards.count() {
            return Err(format!(
                "clientOrderID shard {} does not exist",
                shard_ids.shard
            ));
        }
        let mut shard = self.shards.change(shard_ids.shard);
        for &(digest, at_ns) in &shard_ids.ids {
            if !shard.ids.contains_key(&digest) {
                shard.record_id(digest, at_ns);
            }
        }
        shard.evict_ids(self.ids_per_shard, i64::MIN);
        Ok(())
    }

    /// `clientOrderID`s remembered now (for metrics and tests).
    pub fn remembered_ids(&self) -> usize {
        (0..self.shards.count())
            .map(|index| self.shards.read(index).ids.len())
            .sum()
    }
}

/// A digest that has taken its label field already: every order digests its customer and its
/// clientOrderID, and the labels are the same each time (the result is the same as digesting
/// the label first, so nothing stored changes).
fn labelled(label: &'static [u8]) -> Digest128 {
    let mut digest = Digest128::new();
    digest.write_field(label);
    digest
}

static CUSTOMER_LABELLED: LazyLock<Digest128> = LazyLock::new(|| labelled(b"customer"));
static ID_LABELLED: LazyLock<Digest128> = LazyLock::new(|| labelled(b"clientOrderID"));

fn customer_digest(client_id: &str) -> u128 {
    let mut digest = CUSTOMER_LABELLED.clone();
    digest.write_field(client_id.as_bytes());
    digest.finish128()
}

fn id_digest(customer: u128, client_order_id: &str) -> u128 {
    let mut digest = ID_LABELLED.clone();
    digest.write(&customer.to_le_bytes());
    digest.write_field(client_order_id.as_bytes());
    digest.finish128()
}

fn content_digest(customer: u128, order: &OrderIdentity<'_>) -> u128 {
    let mut digest = Digest128::new();
    digest.write_field(b"content");
    digest.write(&customer.to_le_bytes());
    digest.write_u64(order.symbol.len() as u64);
    for byte in order.symbol.bytes() {
        digest.write_u8(byte.to_ascii_uppercase());
    }
    digest.write_u8(match order.side {
        Side::Buy => b'B',
        Side::Sell => b'S',
    });
    let (kind, amount) = match order.size {
        Size::Quantity(quantity) => (b'Q', quantity),
        Size::AmountCash(amount) => (b'C', amount),
    };
    digest.write_u8(kind);
    digest.write(&amount.units().to_le_bytes());
    digest.finish128()
}

fn describe_size(size: Size) -> String {
    match size {
        Size::Quantity(quantity) => format!("{quantity} shares of"),
        Size::AmountCash(amount) => format!("amountCash {} of", amount.money()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use chrono::TimeDelta;

    use super::*;
    use crate::money::Fixed;

    fn t0() -> DateTime<Utc> {
        "2026-06-04T14:00:00Z".parse().unwrap()
    }

    fn order<'a>(client_order_id: Option<&'a str>, quantity: &str) -> OrderIdentity<'a> {
        OrderIdentity {
            client_id: "CUST1",
            client_order_id,
            symbol: "AAPL",
            side: Side::Buy,
            size: Size::Quantity(Fixed::parse(quantity).unwrap()),
        }
    }

    /// Snapshots carry these digests: the labelled shortcut must give what digesting the whole
    /// field sequence gives, and the values must not change.
    #[test]
    fn labelled_digests_are_the_full_digests() {
        let mut customer = Digest128::new();
        customer.write_field(b"customer");
        customer.write_field(b"CUST0004242");
        let customer = customer.finish128();
        assert_eq!(customer_digest("CUST0004242"), customer);
        let mut id = Digest128::new();
        id.write_field(b"clientOrderID");
        id.write(&customer.to_le_bytes());
        id.write_field(b"co-1");
        assert_eq!(id_digest(customer, "co-1"), id.finish128());
        // And the values themselves, as stored snapshots hold them.
        assert_eq!(customer, 0xde8d799ee6532d3c35a42cb7aa27762e);
        assert_eq!(
            id_digest(customer, "co-1"),
            0xc9c6b4151e15f68fdbe70a87ab012f8e
        );
    }

    #[test]
    fn a_reused_client_order_id_is_a_duplicate_for_the_same_customer_only() {
        let guard = DuplicateGuard::default();
        guard
            .check_and_record(&order(Some("abc-1"), "10"), 0, t0())
            .unwrap();
        let reject = guard
            .check_and_record(&order(Some("abc-1"), "20"), 0, t0() + TimeDelta::days(3))
            .unwrap_err();
        assert_eq!(reject.code, RejectCode::DuplicateOrder);
        assert_eq!(
            reject.message,
            "clientOrderID \"abc-1\" was already used by this customer"
        );
        let other_customer = OrderIdentity {
            client_id: "CUST2",
            ..order(Some("abc-1"), "10")
        };
        guard.check_and_record(&other_customer, 0, t0()).unwrap();
        guard
            .check_and_record(&order(Some("abc-2"), "10"), 0, t0())
            .unwrap();
        // Without a clientOrderID and with the window off, identical orders all pass.
        for _ in 0..3 {
            guard.check_and_record(&order(None, "10"), 0, t0()).unwrap();
        }
    }

    #[test]
    fn same_content_within_the_window_is_a_duplicate_at_the_window_it_is_not() {
        let guard = DuplicateGuard::default();
        let window_ms = 2000;
        guard
            .check_and_record(&order(None, "10"), window_ms, t0())
            .unwrap();
        let reject = guard
            .check_and_record(
                &order(None, "10"),
                window_ms,
                t0() + TimeDelta::milliseconds(1999),
            )
            .unwrap_err();
        assert_eq!(reject.code, RejectCode::DuplicateOrder);
        assert_eq!(
            reject.message,
            "the same order (BUY 10 shares of AAPL) was accepted 1999 ms ago, within duplicate_window_ms 2000"
        );
        // A different size, side or symbol is another order.
        guard
            .check_and_record(&order(None, "10.5"), window_ms, t0())
            .unwrap();
        let sell = OrderIdentity {
            side: Side::Sell,
            ..order(None, "10")
        };
        guard.check_and_record(&sell, window_ms, t0()).unwrap();
        let cash = OrderIdentity {
            size: Size::AmountCash(Fixed::parse("10").unwrap()),
            ..order(None, "10")
        };
        guard.check_and_record(&cash, window_ms, t0()).unwrap();
        let lower_case = OrderIdentity {
            symbol: "aapl",
            ..order(None, "10")
        };
        assert!(guard
            .check_and_record(&lower_case, window_ms, t0())
            .is_err());

        let at_window = t0() + TimeDelta::milliseconds(2000);
        guard
            .check_and_record(&order(None, "10"), window_ms, at_window)
            .unwrap();
        // …and that one starts a new window.
        assert!(guard
            .check_and_record(
                &order(None, "10"),
                window_ms,
                at_window + TimeDelta::milliseconds(1999)
            )
            .is_err());
    }

    #[test]
    fn a_clock_set_back_counts_as_now() {
        let guard = DuplicateGuard::default();
        guard
            .check_and_record(&order(None, "1"), 1000, t0())
            .unwrap();
        assert!(guard
            .check_and_record(&order(None, "1"), 1000, t0() - TimeDelta::hours(1))
            .is_err());
    }

    #[test]
    fn a_forgotten_order_can_be_sent_again() {
        let guard = DuplicateGuard::default();
        let ticket = guard
            .check_and_record(&order(Some("x"), "10"), 5000, t0())
            .unwrap();
        guard.forget(ticket);
        let again = guard
            .check_and_record(&order(Some("x"), "10"), 5000, t0())
            .unwrap();
        // Forgetting the old ticket again does not remove the new record.
        guard.forget(ticket);
        assert!(guard
            .check_and_record(&order(Some("x"), "10"), 5000, t0())
            .is_err());
        guard.forget(again);
        assert!(guard
            .check_and_record(&order(Some("x"), "10"), 5000, t0())
            .is_ok());
    }

    #[test]
    fn memory_is_bounded_oldest_ids_go_first() {
        let guard = DuplicateGuard::new(SHARDS * 10);
        let ids: Vec<String> = (0..100).map(|n| format!("id-{n}")).collect();
        for id in &ids {
            guard
                .check_and_record(&order(Some(id), "1"), 0, t0())
                .unwrap();
        }
        // One customer: all in one shard of 10.
        assert_eq!(guard.remembered_ids(), 10);
        assert!(guard
            .check_and_record(&order(Some("id-99"), "1"), 0, t0())
            .is_err());
        assert!(guard
            .check_and_record(&order(Some("id-0"), "1"), 0, t0())
            .is_ok());
    }

    /// A full shard whose orders were partly given back: recovered from a snapshot and the
    /// records after it, it remembers exactly the ids the live one does, wherever the snapshot
    /// fell (the capacity counts ids remembered, not the stale entries given-back ids leave).
    #[test]
    fn a_full_shard_recovers_the_same_ids_whatever_was_given_back() {
        let given_back = |n: usize| n % 4 == 0;
        for snapshot_at in [40, 95, 97, 99] {
            let live = DuplicateGuard::new(SHARDS * 10);
            let mut snapshot = Vec::new();
            for n in 0..100 {
                let ticket = live
                    .check_and_record(&order(Some(&format!("id-{n}")), "1"), 0, t0())
                    .unwrap();
                if given_back(n) {
                    live.forget(ticket);
                }
                if n == snapshot_at {
                    snapshot = live.export_ids(t0());
                }
            }
            let recovered = DuplicateGuard::new(SHARDS * 10);
            for shard in &snapshot {
                recovered.import_ids(shard).unwrap();
            }
            for n in snapshot_at + 1..100 {
                let id = format!("id-{n}");
                recovered.redo_record("CUST1", &id, t0());
                if given_back(n) {
                    recovered.redo_forget("CUST1", &id);
                }
            }
            assert_eq!(live.remembered_ids(), 10, "snapshot at {snapshot_at}");
            assert_eq!(
                recovered.export_ids(t0()),
                live.export_ids(t0()),
                "snapshot at {snapshot_at}"
            );
        }
    }

    /// Ids given back over and over leave the queue no longer than twice the capacity.
    #[test]
    fn given_back_ids_do_not_pile_up() {
        let guard = DuplicateGuard::new(SHARDS * 10);
        for n in 0..1000 {
            let ticket = guard
                .check_and_record(&order(Some(&format!("id-{n}")), "1"), 0, t0())
                .unwrap();
            if n % 10 != 0 {
                guard.forget(ticket);
            }
        }
        assert!(guard.remembered_ids() <= 10);
        let queued: usize = (0..SHARDS)
            .map(|shard| guard.shards.read(shard).ids_order.len())
            .sum();
        assert!(queued <= 20, "{queued} entries queued for 10 ids");
    }

    #[test]
    fn ids_expire_after_the_ttl() {
        let guard = DuplicateGuard::default();
        guard.set_id_ttl_hours(1);
        guard
            .check_and_record(&order(Some("a"), "1"), 0, t0())
            .unwrap();
        let almost = t0() + TimeDelta::minutes(59);
        assert!(guard
            .check_and_record(&order(Some("a"), "1"), 0, almost)
            .is_err());
        let later = t0() + TimeDelta::minutes(61);
        guard
            .check_and_record(&order(Some("a"), "1"), 0, later)
            .unwrap();
    }

    #[test]
    fn ids_survive_export_and_redo() {
        let guard = DuplicateGuard::default();
        guard
            .check_and_record(&order(Some("a"), "1"), 0, t0())
            .unwrap();
        let forgotten = guard
            .check_and_record(&order(Some("b"), "1"), 0, t0())
            .unwrap();
        guard.forget(forgotten);
        let exported = guard.export_ids(t0());
        assert_eq!(exported.iter().map(|s| s.ids.len()).sum::<usize>(), 1);

        let restored = DuplicateGuard::default();
        for shard in &exported {
            restored.import_ids(shard).unwrap();
        }
        restored.redo_record("CUST1", "c", t0());
        restored.redo_record("CUST1", "d", t0());
        restored.redo_forget("CUST1", "d");
        for (id, used) in [("a", true), ("b", false), ("c", true), ("d", false)] {
            assert_eq!(
                restored
                    .check_and_record(&order(Some(id), "1"), 0, t0())
                    .is_err(),
                used,
                "{id}"
            );
        }
        assert!(restored
            .import_ids(&ShardIds {
                shard: SHARDS,
                ids: vec![]
            })
            .is_err());
    }

    #[test]
    fn content_entries_are_dropped_once_their_window_has_passed() {
        let guard = DuplicateGuard::default();
        for n in 0..100 {
            guard
                .check_and_record(&order(None, &n.to_string()), 10, t0())
                .unwrap();
        }
        guard
            .check_and_record(&order(None, "1000"), 10, t0() + TimeDelta::seconds(1))
            .unwrap();
        let shard = customer_digest("CUST1") as usize & (SHARDS - 1);
        assert_eq!(guard.shards.read(shard).contents.len(), 1);
    }

    #[test]
    fn of_identical_orders_racing_exactly_one_passes() {
        const THREADS: usize = 16;
        for round in 0..20 {
            let guard = Arc::new(DuplicateGuard::default());
            let passed = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(Barrier::new(THREADS));
            let workers: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (guard, passed, start) = (guard.clone(), passed.clone(), start.clone());
                    std::thread::spawn(move || {
                        // Half race on the clientOrderID, half (no id) on the content.
                        let id = format!("order-{round}");
                        let client_order_id = (thread % 2 == 0).then_some(id.as_str());
                        start.wait();
                        if guard
                            .check_and_record(&order(client_order_id, "7"), 60_000, t0())
                            .is_ok()
                        {
                            passed.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(passed.load(Ordering::Relaxed), 1, "round {round}");
        }
    }
}
