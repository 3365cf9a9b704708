//! Who may call: the admin token, the events token and the routers' app keys (SPEC §3.0, §7).
//!
//! Every comparison of a secret takes the same time whatever the guess: secrets are compared as
//! SHA-256 digests (fixed length, so the length of a guess tells nothing either) with a
//! comparison that does not exit early, and every configured key is compared, not only up to
//! the first match. No secret is kept in a `Debug` output.

use std::fmt;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use sha2::{Digest, Sha256};

/// DriveWealth's header naming the calling application.
pub const APP_KEY_HEADER: &str = "dw-client-app-key";

type Sha256Digest = [u8; 32];

fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256::digest(bytes).into()
}

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// secret was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A secret held as its digest.
#[derive(Clone)]
pub struct Secret(Sha256Digest);

impl Secret {
    pub fn new(value: &str) -> Secret {
        Secret(sha256(value.as_bytes()))
    }

    /// Whether `presented` is this secret, in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(&sha256(presented), &self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme name is
/// case-insensitive (RFC 9110 §11.1), the token is not.
pub fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let split = value.iter().position(|&byte| byte == b' ')?;
    let (scheme, rest) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// `server.router_app_keys`: the `dw-client-app-key` values the order listener accepts.
/// Empty: the check is off.
#[derive(Clone, Debug, Default)]
pub struct RouterKeys {
    digests: Vec<Secret>,
}

/// Why a `server.router_app_keys` entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterKeyError {
    #[error("entry {0} is empty")]
    Empty(usize),
    #[error("entry {0} starts with sha256: but is not followed by 64 hex digits")]
    BadDigest(usize),
}

impl RouterKeys {
    /// Reads the configured entries: each a literal key, or `sha256:` and the key's SHA-256 in
    /// hex (so the config file need not hold the key itself).
    pub fn new(entries: &[String]) -> Result<RouterKeys, RouterKeyError> {
        let digests = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                if entry.is_empty() {
                    return Err(RouterKeyError::Empty(index));
                }
                match entry.strip_prefix("sha256:") {
                    Some(hex) => parse_hex_digest(hex)
                        .map(Secret)
                        .ok_or(RouterKeyError::BadDigest(index)),
                    None => Ok(Secret::new(entry)),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(RouterKeys { digests })
    }

    pub fn is_enabled(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether the request carries an accepted app key (always, when the check is off). Exactly
    /// one `dw-client-app-key` header: two could be read differently upstream.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        if !self.is_enabled() {
            return true;
        }
        let mut values = headers.get_all(APP_KEY_HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let presented = sha256(value.as_bytes());
        // Every entry is compared: how many keys are configured, and which matched, stay hidden.
        self.digests.iter().fold(false, |found, key| {
            found | constant_time_eq(&presented, &key.0)
        })
    }
}

fn parse_hex_digest(hex: &str) -> Option<Sha256Digest> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (index, pair) in bytes.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        digest[index] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        let secret = Secret::new("s3cret");
        assert!(secret.matches(b"s3cret"));
        assert!(!secret.matches(b"s3cre"));
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR   tok  "] {
            let map = headers(&[("authorization", value)]);
            assert_eq!(bearer_token(&map), Some(&b"tok"[..]), "{value}");
        }
        for value in ["Basic tok", "Bearer", "Bearer ", "Bearertok", "tok"] {
            let map = headers(&[("authorization", value)]);
            assert_eq!(bearer_token(&map), None, "{value}");
        }
    }

    #[test]
    fn router_keys_literal_or_hashed() {
        // sha256("router-b")
        let hashed = format!("sha256:{}", hex(&sha256(b"router-b")));
        let keys = RouterKeys::new(&["router-a".to_owned(), hashed]).unwrap();
        assert!(keys.admits(&headers(&[(APP_KEY_HEADER, "router-a")])));
        assert!(keys.admits(&headers(&[(APP_KEY_HEADER, "router-b")])));
        assert!(!keys.admits(&headers(&[(APP_KEY_HEADER, "router-c")])));
        assert!(!keys.admits(&headers(&[])));
        assert!(!keys.admits(&headers(&[
            (APP_KEY_HEADER, "router-a"),
            (APP_KEY_HEADER, "router-a")
        ])));
        // The hashed entry's own text is not a key.
        let hashed_text = format!("sha256:{}", hex(&sha256(b"router-b")));
        let mut map = HeaderMap::new();
        map.insert(APP_KEY_HEADER, HeaderValue::from_str(&hashed_text).unwrap());
        assert!(!keys.admits(&map));
        assert!(RouterKeys::default().admits(&headers(&[])));
        assert_eq!(
            RouterKeys::new(&["sha256:abc".to_owned()]).unwrap_err(),
            RouterKeyError::BadDigest(0)
        );
        assert_eq!(
            RouterKeys::new(&[String::new()]).unwrap_err(),
            RouterKeyError::Empty(0)
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}
