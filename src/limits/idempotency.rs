//! The `Idempotency-Key` store (SPEC §3): a repeat of a key within `server.idempotency_ttl_hours`
//! with the same body gets the first answer again; the same key with another body gets
//! `IDEMPOTENCY_KEY_REUSED`.
//!
//! One piece, though long: the store, its waiters and its persistence share one shard lock;
//! a third of the file is its concurrency tests.
//!
//! Keys are scoped by the key alone, as DriveWealth scopes them (not per customer or path).
//! A key is 1 to [`KEY_LEN_MAX`] printable ASCII characters (0x20–0x7E), else `INVALID_ORDER`.
//!
//! Each key is in one of two states:
//!
//! | state | a repeat with the same body | with another body |
//! | --- | --- | --- |
//! | in flight (the first request is being handled) | [`Begin::Wait`]: wait for the first answer, never forward twice | [`Begin::Mismatch`] |
//! | done (the first answer is stored) | [`Begin::Replay`] | [`Begin::Mismatch`] |
//!
//! [`IdempotencyStore::begin`] on an unknown (or expired) key returns [`Begin::First`] with a
//! guard. [`IdempotencyGuard::complete`] stores the answer and wakes every waiter with it.
//! Dropping the guard without completing (the handler failed, or the answer should not be
//! replayed — e.g. a 429 or 503 the client is meant to retry) removes the key and wakes the
//! waiters with "abandoned", after which they call `begin` again; so a crashed handler never
//! blocks a key.
//!
//! **Bodies** are remembered by a 128-bit SipHash digest (`super::digest`: fixed, published, and
//! stable across Rust releases, which `std::hash` is not — digests are persisted), not by their
//! bytes. **Answers** are stored whole: status, the headers the caller chooses to keep, body.
//!
//! **Time** is the injected `now` (`DateTime<Utc>`). A key expires `ttl_hours` after its first
//! request (`now ≥ created_at + ttl`); expired keys are ignored and removed lazily (oldest first,
//! on each `begin` in their shard).
//!
//! **Memory** is bounded: at most `max_keys` keys (default [`KEYS_MAX_DEFAULT`]), split over
//! [`SHARDS`] shards of `max_keys / SHARDS`; a full shard forgets its oldest completed key first
//! (a key in flight is never forgotten; in-flight keys are bounded by the open connections).
//! A typical create answer is ~0.3 KB, so a full default store is a few hundred MB; size
//! `max_keys` to the host.
//!
//! **Durability**: write [`IdempotencyGuard::record`] to the WAL before answering, and rebuild
//! with [`IdempotencyStore::import`]; [`IdempotencyStore::export`] lists every live entry for a
//! snapshot.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cow::{CowShards, Freeze};
use crate::reject::{Reject, RejectCode};

use super::digest::digest128;
use super::short;

/// Longest key accepted, in characters.
pub const KEY_LEN_MAX: usize = 255;
/// Keys remembered by default.
pub const KEYS_MAX_DEFAULT: usize = 1_000_000;
/// Independent locks; a power of two.
pub const SHARDS: usize = 256;

/// The first answer to a key, as it is replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// The response headers worth replaying (content type, `x-omnigate-*`…), name → value bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// One completed key, as plain data for the WAL and snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub key: String,
    /// SipHash-2-4-128 of the first request's body, little-endian.
    pub body_digest: [u8; 16],
    /// The first request's `now`; the key expires `ttl_hours` after it.
    pub created_at: DateTime<Utc>,
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// What to do with a request that carries an `Idempotency-Key`.
#[derive(Debug)]
pub enum Begin {
    /// The first request with this key: handle it, then [`IdempotencyGuard::complete`].
    First(IdempotencyGuard),
    /// A repeat: answer this, reserve and forward nothing.
    Replay(Arc<StoredAnswer>),
    /// The key was used with another body: `IDEMPOTENCY_KEY_REUSED` (the reject is ready).
    Mismatch(Reject),
    /// The first request is still being handled: [`IdempotencyWait::wait`] for its answer.
    Wait(IdempotencyWait),
}

#[derive(Clone, Debug)]
enum Progress {
    Pending,
    Done(Arc<StoredAnswer>),
    Abandoned,
}

#[derive(Debug)]
enum Slot {
    InFlight {
        body_digest: u128,
        seq: u64,
        progress: watch::Receiver<Progress>,
    },
    Done {
        body_digest: u128,
        seq: u64,
        created_at: DateTime<Utc>,
        answer: Arc<StoredAnswer>,
    },
}

impl Slot {
    fn seq(&self) -> u64 {
        match self {
            Slot::InFlight { seq, .. } | Slot::Done { seq, .. } => *seq,
        }
    }
}

#[derive(Debug, Default)]
struct Shard {
    slots: HashMap<Arc<str>, Slot>,
    /// Keys in the order they were first seen, for expiry and eviction. An entry whose sequence
    /// number no longer matches its slot is stale and skipped.
    arrival: VecDeque<(Arc<str>, u64)>,
    next_seq: u64,
}

/// What a snapshot keeps of a shard: its completed keys, as cheap handles (the key and the
/// answer are shared, not copied), so a change copies little while a snapshot runs.
impl Freeze for Shard {
    type Frozen = Vec<(Arc<str>, u128, DateTime<Utc>, Arc<StoredAnswer>)>;
    fn freeze(&self) -> Self::Frozen {
        self.slots
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Done {
                    body_digest,
                    created_at,
                    answer,
                    ..
                } => Some((key.clone(), *body_digest, *created_at, answer.clone())),
                Slot::InFlight { .. } => None,
            })
            .collect()
    }
}

impl Shard {
    fn seq(&mut self) -> u64 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    fn is_live(&self, key: &str, seq: u64) -> bool {
        self.slots.get(key).is_some_and(|slot| slot.seq() == seq)
    }

    /// Drops expired and stale entries from the front, then the oldest completed keys while the
    /// shard is over `capacity`.
    fn tidy(&mut self, capacity: usize, now: DateTime<Utc>, ttl: TimeDelta) {
        while let Some((key, seq)) = self.arrival.front() {
            match self.slots.get(&**key) {
                Some(slot) if slot.seq() == *seq => match slot {
                    Slot::Done { created_at, .. } if expired(*created_at, now, ttl) => {
                        self.slots.remove(&**key);
                    }
                    // The oldest live key is in force (or in flight): nothing older to drop.
                    _ => break,
                },
                // Stale: the key was abandoned or replaced since.
                _ => {}
            }
            self.arrival.pop_front();
        }
        // Over capacity: forget the oldest completed keys; keys in flight go to the back.
        let mut budget = self.arrival.len();
        while self.slots.len() > capacity && budget > 0 {
            budget -= 1;
            let Some((key, seq)) = self.arrival.pop_front() else {
                break;
            };
            match self.slots.get(&*key) {
                Some(Slot::Done { seq: live, .. }) if *live == seq => {
                    self.slots.remove(&*key);
                }
                Some(Slot::InFlight { seq: live, .. }) if *live == seq => {
                    self.arrival.push_back((key, seq));
                }
                _ => {}
            }
        }
        // Stale entries (abandoned keys) in the middle: compact now and then, so the queue stays
        // within twice the live keys.
        if self.arrival.len() > 2 * capacity.max(self.slots.len()) {
            let slots = &self.slots;
            self.arrival
                .retain(|(key, seq)| slots.get(&**key).is_some_and(|slot| slot.seq() == *seq));
        }
    }
}

fn expired(created_at: DateTime<Utc>, now: DateTime<Utc>, ttl: TimeDelta) -> bool {
    match created_at.checked_add_signed(ttl) {
        Some(expires_at) => now >= expires_at,
        None => false,
    }
}

#[derive(Debug)]
struct Inner {
    /// Read copy-on-write by snapshots ([`crate::cow`]).
    shards: CowShards<Shard>,
    keys_per_shard: usize,
    ttl_hours: AtomicU64,
}

impl Inner {
    fn ttl(&self) -> TimeDelta {
        let hours = i64::try_from(self.ttl_hours.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        TimeDelta::try_hours(hours).unwrap_or(TimeDelta::MAX)
    }
}

/// Every `Idempotency-Key` seen within the TTL. Cheap to clone (a handle to shared state).
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

impl IdempotencyStore {
    /// `ttl_hours` is `server.idempotency_ttl_hours`; at most `max_keys` keys are kept.
    pub fn new(ttl_hours: u64, max_keys: usize) -> Self {
        IdempotencyStore {
            inner: Arc::new(Inner {
                shards: CowShards::new(SHARDS),
                keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
                ttl_hours: AtomicU64::new(ttl_hours),
            }),
        }
    }

    /// A config reload's new `server.idempotency_ttl_hours`; applies to every key at once.
    pub fn set_ttl_hours(&self, ttl_hours: u64) {
        self.inner.ttl_hours.store(ttl_hours, Ordering::Relaxed);
    }

    /// Classifies a request with `key` (the header's bytes) and `body` at `now`. A malformed key →
    /// `Err` with `INVALID_ORDER`.
    pub fn begin(&self, key: &[u8], body: &[u8], now: DateTime<Utc>) -> Result<Begin, Reject> {
        let key = check_key(key)?;
        let body_digest = digest128(body);
        let shard_index = shard_of(key);
        let ttl = self.inner.ttl();
        let mut shard = self.inner.shards.change(shard_index);
        shard.tidy(self.inner.keys_per_shard, now, ttl);
        match shard.slots.get(key) {
            Some(Slot::Done {
                created_at,
                answer,
                body_digest: first,
                ..
            }) if !expired(*created_at, now, ttl) => {
                return Ok(if *first == body_digest {
                    Begin::Replay(answer.clone())
                } else {
                    Begin::Mismatch(mismatch(key))
                });
            }
            Some(Slot::InFlight {
                progress,
                body_digest: first,
                ..
            }) => {
                return Ok(if *first == body_digest {
                    Begin::Wait(IdempotencyWait {
                        progress: progress.clone(),
                    })
                } else {
                    Begin::Mismatch(mismatch(key))
                });
            }
            // Unknown, or expired (replaced below).
            _ => {}
        }
        let (sender, receiver) = watch::channel(Progress::Pending);
        let seq = shard.seq();
        let key: Arc<str> = key.into();
        shard.slots.insert(
            key.clone(),
            Slot::InFlight {
                body_digest,
                seq,
                progress: receiver,
            },
        );
        shard.arrival.push_back((key.clone(), seq));
        shard.tidy(self.inner.keys_per_shard, now, ttl);
        Ok(Begin::First(IdempotencyGuard {
            inner: self.inner.clone(),
            shard: shard_index,
            key,
            seq,
            body_digest,
            created_at: now,
            sender: Some(sender),
        }))
    }

    /// Begins a snapshot (every change paused); read it with
    /// [`IdempotencyStore::read_snapshot`].
    pub(crate) fn begin_snapshot(&self) -> u64 {
        self.inner.shards.begin_snapshot()
    }

    /// Every completed key as it was when snapshot `running` began, less those expired at
    /// `now`, oldest first.
    pub(crate) fn read_snapshot(&self, running: u64, now: DateTime<Utc>) -> Vec<IdempotencyRecord> {
        let ttl = self.inner.ttl();
        let mut records: Vec<IdempotencyRecord> = self
            .inner
            .shards
            .read_snapshot(running)
            .into_iter()
            .flat_map(|(_, shard)| shard)
            .filter(|(_, _, created_at, _)| !expired(*created_at, now, ttl))
            .map(|(key, body_digest, created_at, answer)| {
                record(&key, body_digest, created_at, &answer)
            })
            .collect();
        records.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        records
    }

    /// Every completed, unexpired key at `now`, oldest first (tests: a live engine reads only
    /// through its snapshots, which take turns).
    #[cfg(test)]
    pub fn export(&self, now: DateTime<Utc>) -> Vec<IdempotencyRecord> {
        let running = self.begin_snapshot();
        self.read_snapshot(running, now)
    }

    /// Restores one completed key (WAL replay, snapshot load). Returns false, changing nothing,
    /// when the record has expired at `now`, its key is malformed, or the key is in flight.
    pub fn import(&self, record: IdempotencyRecord, now: DateTime<Utc>) -> bool {
        let ttl = self.inner.ttl();
        if expired(record.created_at, now, ttl) || check_key(record.key.as_bytes()).is_err() {
            return false;
        }
        let mut shard = self.inner.shards.change(shard_of(&record.key));
        if matches!(
            shard.slots.get(record.key.as_str()),
            Some(Slot::InFlight { .. })
        ) {
            return false;
        }
        let seq = shard.seq();
        let key: Arc<str> = record.key.into();
        shard.slots.insert(
            key.clone(),
            Slot::Done {
                body_digest: u128::from_le_bytes(record.body_digest),
                seq,
                created_at: record.created_at,
                answer: Arc::new(StoredAnswer {
                    status: record.status,
                    headers: record.headers,
                    body: record.body,
                }),
            },
        );
        shard.arrival.push_back((key, seq));
        shard.tidy(self.inner.keys_per_shard, now, ttl);
        true
    }

    /// Keys held now (completed or in flight, expired ones not yet removed included).
    pub fn len(&self) -> usize {
        (0..self.inner.shards.count())
            .map(|index| self.inner.shards.read(index).slots.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The first request's claim on its key. Complete it with the answer, or drop it to give the key
/// up. Holds the store (not a borrow), so it may move into a task and across `.await`s.
#[derive(Debug)]
pub struct IdempotencyGuard {
    inner: Arc<Inner>,
    shard: usize,
    key: Arc<str>,
    seq: u64,
    body_digest: u128,
    created_at: DateTime<Utc>,
    /// `None` once completed.
    sender: Option<watch::Sender<Progress>>,
}

impl IdempotencyGuard {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The WAL record that [`complete`](Self::complete) with `answer` makes durable.
    pub fn record(&self, answer: &StoredAnswer) -> IdempotencyRecord {
        record(&self.key, self.body_digest, self.created_at, answer)
    }

    /// Stores `answer` as this key's answer and hands it to every waiter.
    pub fn complete(mut self, answer: StoredAnswer) -> Arc<StoredAnswer> {
        let answer = Arc::new(answer);
        {
            let mut shard = self.inner.shards.change(self.shard);
            let live = shard.is_live(&self.key, self.seq);
            let done = Slot::Done {
                body_digest: self.body_digest,
                seq: self.seq,
                created_at: self.created_at,
                answer: answer.clone(),
            };
            if live {
                shard.slots.insert(self.key.clone(), done);
            } else if !shard.slots.contains_key(&*self.key) {
                // Removed meanwhile (cannot happen through this API, but an import could race):
                // still remember the answer.
                shard.slots.insert(self.key.clone(), done);
                shard.arrival.push_back((self.key.clone(), self.seq));
            }
        }
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Progress::Done(answer.clone()));
        }
        answer
    }
}

impl Drop for IdempotencyGuard {
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        {
            let mut shard = self.inner.shards.change(self.shard);
            if matches!(
                shard.slots.get(&*self.key),
                Some(Slot::InFlight { seq, .. }) if *seq == self.seq
            ) {
                shard.slots.remove(&*self.key);
            }
        }
        sender.send_replace(Progress::Abandoned);
    }
}

/// A repeat's wait for the first request's answer.
#[derive(Debug)]
pub struct IdempotencyWait {
    progress: watch::Receiver<Progress>,
}

impl IdempotencyWait {
    /// The first answer, or `None` when the first request gave its key up: call
    /// [`IdempotencyStore::begin`] again (this request may now be the first). Wrap it in a
    /// timeout to bound how long a client waits.
    pub async fn wait(mut self) -> Option<Arc<StoredAnswer>> {
        let progress = self
            .progress
            .wait_for(|progress| !matches!(progress, Progress::Pending))
            .await
            .ok()?;
        match &*progress {
            Progress::Done(answer) => Some(answer.clone()),
            Progress::Pending | Progress::Abandoned => None,
        }
    }
}

fn record(
    key: &str,
    body_digest: u128,
    created_at: DateTime<Utc>,
    answer: &StoredAnswer,
) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_owned(),
        body_digest: body_digest.to_le_bytes(),
        created_at,
        status: answer.status,
        headers: answer.headers.clone(),
        body: answer.body.clone(),
    }
}

/// A well-formed key as text: 1 to 255 bytes of 0x20–0x7E.
pub fn check_key(key: &[u8]) -> Result<&str, Reject> {
    if key.is_empty() {
        return Err(Reject::invalid("the Idempotency-Key header is empty"));
    }
    if key.len() > KEY_LEN_MAX {
        return Err(Reject::invalid(format!(
            "Idempotency-Key is {} characters long; at most {KEY_LEN_MAX} are allowed",
            key.len()
        )));
    }
    if let Some(position) = key.iter().position(|&b| !(b' '..=b'~').contains(&b)) {
        return Err(Reject::invalid(format!(
            "Idempotency-Key has byte 0x{:02x} at position {}; only printable ASCII is allowed",
            key[position],
            position + 1
        )));
    }
    std::str::from_utf8(key).map_err(|_| Reject::invalid("Idempotency-Key is not ASCII"))
}

fn shard_of(key: &str) -> usize {
    (digest128(key.as_bytes()) as usize) & (SHARDS - 1)
}

fn mismatch(key: &str) -> Reject {
    Reject::new(
        RejectCode::IdempotencyKeyReused,
        format!(
            "Idempotency-Key {:?} was already used with a different request body",
            short(key)
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-06-04T14:00:00Z".parse().unwrap()
    }

    fn answer(body: &str) -> StoredAnswer {
        StoredAnswer {
            status: 200,
            headers: vec![("content-type".to_owned(), b"application/json".to_vec())],
            body: body.as_bytes().to_vec(),
        }
    }

    const BODY: &[u8] = br#"{"symbol":"AAPL","side":"BUY","quantity":1}"#;

    fn first(begin: Result<Begin, Reject>) -> IdempotencyGuard {
        match begin {
            Ok(Begin::First(guard)) => guard,
            other => panic!("expected First, got {other:?}"),
        }
    }

    #[test]
    fn a_repeat_gets_the_first_answer_and_another_body_a_mismatch() {
        let store = IdempotencyStore::new(96, 1000);
        let guard = first(store.begin(b"key-1", BODY, t0()));
        assert_eq!(guard.key(), "key-1");
        guard.complete(answer(r#"{"orderId":"1"}"#));

        match store.begin(b"key-1", BODY, t0() + TimeDelta::hours(1)) {
            Ok(Begin::Replay(stored)) => assert_eq!(*stored, answer(r#"{"orderId":"1"}"#)),
            other => panic!("{other:?}"),
        }
        match store.begin(b"key-1", b"{}", t0()) {
            Ok(Begin::Mismatch(reject)) => {
                assert_eq!(reject.code, RejectCode::IdempotencyKeyReused);
                assert_eq!(reject.http_status(), 422);
                assert_eq!(
                    reject.message,
                    "Idempotency-Key \"key-1\" was already used with a different request body"
                );
            }
            other => panic!("{other:?}"),
        }
        // Another key is another request.
        first(store.begin(b"key-2", BODY, t0()));
    }

    #[test]
    fn a_key_expires_after_the_ttl() {
        let store = IdempotencyStore::new(96, 1000);
        first(store.begin(b"k", BODY, t0())).complete(answer("first"));
        let ttl = TimeDelta::hours(96);
        assert!(matches!(
            store.begin(b"k", BODY, t0() + ttl - TimeDelta::nanoseconds(1)),
            Ok(Begin::Replay(_))
        ));
        // At the TTL the key is new again — even with another body.
        let guard = first(store.begin(b"k", b"other", t0() + ttl));
        guard.complete(answer("second"));
        assert!(matches!(
            store.begin(b"k", b"other", t0() + ttl),
            Ok(Begin::Replay(stored)) if stored.body == b"second"
        ));
        // A shorter TTL from a reload applies at once.
        store.set_ttl_hours(1);
        assert!(matches!(
            store.begin(b"k", b"x", t0() + ttl + TimeDelta::hours(1)),
            Ok(Begin::First(_))
        ));
    }

    #[test]
    fn expired_keys_are_removed_lazily() {
        let store = IdempotencyStore::new(1, 1000);
        for n in 0..200 {
            first(store.begin(format!("k{n}").as_bytes(), BODY, t0())).complete(answer("a"));
        }
        assert_eq!(store.len(), 200);
        let later = t0() + TimeDelta::hours(2);
        // One begin per shard sweeps that shard's expired front.
        for n in 0..2000 {
            let _ = store.begin(format!("z{n}").as_bytes(), BODY, later);
        }
        assert_eq!(store.export(later).len(), 0);
        assert_eq!(store.len(), 0, "dropped guards leave nothing behind");
    }

    #[test]
    fn a_dropped_guard_frees_the_key() {
        let store = IdempotencyStore::new(96, 1000);
        let guard = first(store.begin(b"k", BODY, t0()));
        drop(guard);
        assert!(store.is_empty());
        first(store.begin(b"k", b"any body", t0())).complete(answer("ok"));
    }

    #[test]
    fn while_in_flight_the_same_body_waits_and_another_body_is_refused() {
        let store = IdempotencyStore::new(96, 1000);
        let _guard = first(store.begin(b"k", BODY, t0()));
        assert!(matches!(store.begin(b"k", BODY, t0()), Ok(Begin::Wait(_))));
        assert!(matches!(
            store.begin(b"k", b"different", t0()),
            Ok(Begin::Mismatch(_))
        ));
    }

    #[test]
    fn malformed_keys_are_invalid_orders() {
        let store = IdempotencyStore::new(96, 1000);
        let long = vec![b'a'; 256];
        for (key, expected) in [
            (&b""[..], "the Idempotency-Key header is empty"),
            (
                &long[..],
                "Idempotency-Key is 256 characters long; at most 255 are allowed",
            ),
            (
                &b"ab\ncd"[..],
                "Idempotency-Key has byte 0x0a at position 3; only printable ASCII is allowed",
            ),
            (
                "clé".as_bytes(),
                "Idempotency-Key has byte 0xc3 at position 3; only printable ASCII is allowed",
            ),
        ] {
            let reject = store.begin(key, BODY, t0()).unwrap_err();
            assert_eq!(reject.code, RejectCode::InvalidOrder);
            assert_eq!(reject.message, expected);
        }
        first(store.begin(&long[..255], BODY, t0()));
        first(store.begin(b"a b ~!", BODY, t0()));
    }

    #[test]
    fn memory_is_bounded_oldest_completed_keys_go_first() {
        let store = IdempotencyStore::new(96, SHARDS * 4);
        let keys: Vec<String> = (0..2000).map(|n| format!("key-{n}")).collect();
        let in_flight = first(store.begin(keys[0].as_bytes(), BODY, t0()));
        for key in &keys[1..] {
            first(store.begin(key.as_bytes(), BODY, t0())).complete(answer("a"));
        }
        assert!(store.len() <= SHARDS * 4 + 1, "{}", store.len());
        // The newest is kept, the in-flight one is never evicted, the oldest done ones are gone.
        assert!(matches!(
            store.begin(keys[1999].as_bytes(), BODY, t0()),
            Ok(Begin::Replay(_))
        ));
        assert!(matches!(
            store.begin(keys[0].as_bytes(), BODY, t0()),
            Ok(Begin::Wait(_))
        ));
        assert!(matches!(
            store.begin(keys[1].as_bytes(), BODY, t0()),
            Ok(Begin::First(_))
        ));
        drop(in_flight);
    }

    #[test]
    fn records_export_and_import_for_the_wal() {
        let store = IdempotencyStore::new(96, 1000);
        let guard = first(store.begin(b"k1", BODY, t0()));
        let record = guard.record(&answer("one"));
        guard.complete(answer("one"));
        first(store.begin(b"k2", b"two", t0() + TimeDelta::minutes(1))).complete(answer("two"));
        let _in_flight = first(store.begin(b"k3", BODY, t0()));

        let exported = store.export(t0() + TimeDelta::hours(1));
        assert_eq!(exported.len(), 2, "in-flight keys are not exported");
        assert_eq!(exported[0], record);
        assert_eq!(exported[1].key, "k2");

        let restored = IdempotencyStore::new(96, 1000);
        let now = t0() + TimeDelta::hours(2);
        for record in exported.clone() {
            assert!(restored.import(record, now));
        }
        assert!(matches!(
            restored.begin(b"k1", BODY, now),
            Ok(Begin::Replay(stored)) if stored.body == b"one"
        ));
        assert!(matches!(
            restored.begin(b"k2", BODY, now),
            Ok(Begin::Mismatch(_))
        ));
        // Expired records are skipped.
        assert!(!IdempotencyStore::new(1, 1000).import(exported[0].clone(), now));
        // Serializable as is.
        let json = serde_json::to_string(&exported[0]).unwrap();
        let back: IdempotencyRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, exported[0]);
    }

    #[tokio::test]
    async fn waiters_of_an_abandoned_key_are_told_to_begin_again() {
        let store = IdempotencyStore::new(96, 1000);
        let guard = first(store.begin(b"k", BODY, t0()));
        let Ok(Begin::Wait(wait)) = store.begin(b"k", BODY, t0()) else {
            panic!("expected Wait");
        };
        let waiter = tokio::spawn(wait.wait());
        tokio::task::yield_now().await;
        drop(guard);
        assert_eq!(waiter.await.unwrap(), None);
        first(store.begin(b"k", BODY, t0()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn of_32_concurrent_requests_with_one_key_exactly_one_is_first() {
        for round in 0..10 {
            let store = IdempotencyStore::new(96, 1000);
            let firsts = Arc::new(AtomicUsize::new(0));
            let start = Arc::new(tokio::sync::Barrier::new(32));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (store, firsts, start) = (store.clone(), firsts.clone(), start.clone());
                    tokio::spawn(async move {
                        start.wait().await;
                        loop {
                            match store.begin(b"same-key", BODY, t0()).unwrap() {
                                Begin::First(guard) => {
                                    firsts.fetch_add(1, Ordering::SeqCst);
                                    // Hold the key across an await, like a forward upstream.
                                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                                    return guard.complete(answer(&format!("round {round}")));
                                }
                                Begin::Replay(stored) => return stored,
                                Begin::Wait(wait) => {
                                    if let Some(stored) = wait.wait().await {
                                        return stored;
                                    }
                                }
                                Begin::Mismatch(reject) => panic!("{reject}"),
                            }
                        }
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            assert_eq!(firsts.load(Ordering::SeqCst), 1, "round {round}");
            let expected = answer(&format!("round {round}"));
            assert!(answers.iter().all(|stored| **stored == expected));
        }
    }
}
