//! The hasher of the maps on the order path.
//!
//! Every order probes several maps by short keys (its clientID, symbol, local and upstream ids).
//! std's SipHash-1-3 costs more than the probe itself on such keys; foldhash (hashbrown's
//! default) is several times faster and still seeded per process, so keys a client chooses cannot
//! be aimed at one bucket. Nothing hashed here is persisted (the digests that are, of
//! clientOrderIDs and idempotency keys, use a fixed SipHash-2-4-128).

use std::hash::{BuildHasher, Hash};

/// A concurrent map with the fast hasher. Build it with `FastMap::default()`.
pub type FastMap<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;

/// Shards of the maps that grow with the book (customers, open orders).
const LARGE_MAP_SHARDS: usize = 256;

/// A map that may hold millions of entries. A shard that grows rehashes while its write lock is
/// held, stopping every order that probes it; with 256 shards (DashMap's default here would be 8)
/// that copy is a 256th of the map, so a book of a million orders never stalls for long.
pub fn large<K: Eq + Hash, V>() -> FastMap<K, V> {
    FastMap::with_capacity_and_hasher_and_shard_amount(0, Default::default(), LARGE_MAP_SHARDS)
}

/// A hash of `key` for choosing a shard; seeded once per process.
pub fn shard_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    static SEED: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    SEED.get_or_init(foldhash::fast::RandomState::default)
        .hash_one(key)
}

/// A map behind the caller's own lock, with the fast hasher (for the maps an order probes by
/// clientID: daily totals, limit overrides, kill switch, `client_id.deny`).
pub type FastHashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A set with the fast hasher.
pub type FastHashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
