//! A 128-bit digest (SipHash-2-4-128) for remembering request bodies and order identities without
//! keeping their bytes.
//!
//! Why not `std::hash`: `DefaultHasher`'s algorithm is explicitly unspecified and may change
//! between Rust releases, and idempotency digests are persisted in the WAL — a toolchain upgrade
//! must not turn every stored key into a body mismatch. SipHash-2-4-128 is a fixed, published
//! algorithm (Aumasson & Bernstein), small enough to carry here, and 128 bits make an accidental
//! collision (≈ n²/2¹²⁹) negligible at any number of keys omnigate can hold.
//!
//! The key is a fixed constant, not a secret: a digest only has to be stable across restarts,
//! and a client that crafted a collision could only get its own earlier answer back.

/// SipHash key used by omnigate (any fixed value works; changing it invalidates stored digests).
const KEY: (u64, u64) = (0x6f6d_6e69_6761_7465, 0x6964_656d_706f_7465);

/// The 128-bit digest of `bytes` with omnigate's fixed key.
pub fn digest128(bytes: &[u8]) -> u128 {
    let mut hasher = Digest128::new();
    hasher.write(bytes);
    hasher.finish128()
}

/// Up to 8 bytes as a little-endian word (missing high bytes zero): SipHash's byte order.
#[inline]
fn little_endian(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Streaming SipHash-2-4-128, so that several fields can be digested without concatenating them
/// (callers prefix variable-length fields with their length, so field boundaries cannot shift).
#[derive(Clone, Debug)]
pub struct Digest128 {
    state: SipState,
    /// Bytes not yet forming a whole 8-byte word.
    tail: u64,
    tail_len: u32,
    /// Total bytes written (only its low 8 bits enter the last block, as SipHash specifies).
    length: u64,
}

impl Default for Digest128 {
    fn default() -> Self {
        Self::new()
    }
}

impl Digest128 {
    pub fn new() -> Self {
        Self::with_key(KEY.0, KEY.1, Width::Bits128)
    }

    fn with_key(k0: u64, k1: u64, width: Width) -> Self {
        let mut state = SipState {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            width,
        };
        if width == Width::Bits128 {
            state.v1 ^= 0xee;
        }
        Digest128 {
            state,
            tail: 0,
            tail_len: 0,
            length: 0,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64); // SipHash uses length mod 256
        let mut rest = bytes;
        // Fill a pending partial word first. Invariant: `tail_len < 8`, and the tail's bytes
        // above `tail_len` are zero.
        if self.tail_len > 0 {
            let taken = rest.len().min(8 - self.tail_len as usize);
            self.tail |= little_endian(&rest[..taken]) << (8 * self.tail_len);
            self.tail_len += taken as u32;
            rest = &rest[taken..];
            if self.tail_len < 8 {
                return;
            }
            self.state.compress(self.tail);
            self.tail = 0;
            self.tail_len = 0;
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            self.state.compress(little_endian(word));
        }
        let remainder = words.remainder();
        self.tail = little_endian(remainder);
        self.tail_len = remainder.len() as u32;
    }

    pub fn write_u8(&mut self, byte: u8) {
        self.write(&[byte]);
    }

    pub fn write_u64(&mut self, value: u64) {
        self.write(&value.to_le_bytes());
    }

    /// A length-prefixed field: `("ab", "c")` and `("a", "bc")` digest differently.
    pub fn write_field(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64);
        self.write(bytes);
    }

    pub fn finish128(self) -> u128 {
        let (first, second) = self.finish_words();
        u128::from(first) | (u128::from(second) << 64)
    }

    /// The output words in SipHash's order (`first` is the reference output's bytes 0..8).
    fn finish_words(mut self) -> (u64, u64) {
        let last = ((self.length & 0xff) << 56) | self.tail;
        self.state.compress(last);
        let state = &mut self.state;
        state.v2 ^= if state.width == Width::Bits128 {
            0xee
        } else {
            0xff
        };
        state.rounds(4);
        let first = state.v0 ^ state.v1 ^ state.v2 ^ state.v3;
        if state.width == Width::Bits64 {
            return (first, 0);
        }
        state.v1 ^= 0xdd;
        state.rounds(4);
        (first, state.v0 ^ state.v1 ^ state.v2 ^ state.v3)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Width {
    /// Only for checking this code against std's SipHash-2-4-64 in tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Bits64,
    Bits128,
}

#[derive(Clone, Debug)]
struct SipState {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    width: Width,
}

impl SipState {
    fn compress(&mut self, word: u64) {
        self.v3 ^= word;
        self.rounds(2);
        self.v0 ^= word;
    }

    fn rounds(&mut self, count: usize) {
        for _ in 0..count {
            self.v0 = self.v0.wrapping_add(self.v1);
            self.v1 = self.v1.rotate_left(13) ^ self.v0;
            self.v0 = self.v0.rotate_left(32);
            self.v2 = self.v2.wrapping_add(self.v3);
            self.v3 = self.v3.rotate_left(16) ^ self.v2;
            self.v0 = self.v0.wrapping_add(self.v3);
            self.v3 = self.v3.rotate_left(21) ^ self.v0;
            self.v2 = self.v2.wrapping_add(self.v1);
            self.v1 = self.v1.rotate_left(17) ^ self.v2;
            self.v2 = self.v2.rotate_left(32);
        }
    }
}

/// A `BuildHasher` for maps keyed by a digest: the digest is already uniformly spread, so its
/// low 64 bits are the hash (hashing it again would only cost time).
#[derive(Clone, Copy, Debug, Default)]
pub struct DigestKeyed;

impl std::hash::BuildHasher for DigestKeyed {
    type Hasher = DigestKeyedHasher;
    fn build_hasher(&self) -> DigestKeyedHasher {
        DigestKeyedHasher(0)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct DigestKeyedHasher(u64);

impl std::hash::Hasher for DigestKeyedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than a u128; fold them in rather than lose them.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u128(&mut self, value: u128) {
        self.0 ^= value as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key 00 01 … 0f, as in the SipHash reference test vectors.
    fn reference(message: &[u8], width: Width) -> Digest128 {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let mut hasher = Digest128::with_key(k0, k1, width);
        hasher.write(message);
        hasher
    }

    fn bytes128(hasher: Digest128) -> [u8; 16] {
        let (first, second) = hasher.finish_words();
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&first.to_le_bytes());
        out[8..].copy_from_slice(&second.to_le_bytes());
        out
    }

    #[test]
    fn matches_the_reference_vectors() {
        // vectors_sip128[0..3] of the SipHash reference implementation: message 00 … (len − 1).
        let expected: [[u8; 16]; 3] = [
            [
                0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55,
                0x02, 0x93,
            ],
            [
                0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22,
                0xfc, 0x45,
            ],
            [
                0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a,
                0xff, 0xe4,
            ],
        ];
        for (length, expected) in expected.iter().enumerate() {
            let message: Vec<u8> = (0..length as u8).collect();
            assert_eq!(
                &bytes128(reference(&message, Width::Bits128)),
                expected,
                "length {length}"
            );
        }
    }

    #[test]
    #[allow(deprecated)] // std's SipHasher is deprecated for hashing maps, not as a reference
    fn the_64_bit_path_agrees_with_std_siphash_2_4() {
        use std::hash::Hasher;
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let message: Vec<u8> = (0..=64u8).collect();
        for length in 0..message.len() {
            let mut std_hasher = std::hash::SipHasher::new_with_keys(k0, k1);
            std_hasher.write(&message[..length]);
            let (ours, _) = reference(&message[..length], Width::Bits64).finish_words();
            assert_eq!(ours, std_hasher.finish(), "length {length}");
        }
    }

    #[test]
    fn streaming_in_pieces_equals_one_write() {
        let message: Vec<u8> = (0..100u8).collect();
        let whole = digest128(&message);
        for split in [0, 1, 7, 8, 9, 63, 99, 100] {
            let mut hasher = Digest128::new();
            hasher.write(&message[..split]);
            for &byte in &message[split..] {
                hasher.write_u8(byte);
            }
            assert_eq!(hasher.finish128(), whole, "split {split}");
        }
        assert_ne!(digest128(b"a"), digest128(b"b"));
    }

    proptest::proptest! {
        #[test]
        fn any_split_digests_as_one_write(
            message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            cuts in proptest::collection::vec(0..80usize, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut.min(message.len())).collect();
            cuts.sort_unstable();
            let mut hasher = Digest128::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([message.len()]) {
                hasher.write(&message[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(hasher.finish128(), digest128(&message));
        }
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut one = Digest128::new();
        one.write_field(b"ab");
        one.write_field(b"c");
        let mut two = Digest128::new();
        two.write_field(b"a");
        two.write_field(b"bc");
        assert_ne!(one.finish128(), two.finish128());
    }
}
