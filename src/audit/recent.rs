//! The order fields of the bodies rendered last, for an order's second line.
//!
//! An accepted order gets two lines, its decision and the upstream's answer, and both carry the
//! order's fields from the same body: reading them is most of a line's cost (a JSON parse and
//! a dozen escaped strings), so the second line copies what the first wrote. The fields are a
//! function of the body's bytes alone, so a body is known by its bytes; a copy of them is kept
//! (not the order path's `Bytes`, which would hold on to the connection's whole read buffer).

use std::collections::VecDeque;

use bytes::Bytes;

use crate::fast_map::FastHashMap;

/// Bodies remembered, at most. The two lines of an order are apart by what the order path
/// queued during its upstream round trip, far fewer than this at any rate omnigate serves.
pub(super) const REMEMBERED_MAX: usize = 256;

/// Longest body remembered (an order's is a few hundred bytes), so that what this keeps stays
/// within a megabyte whatever the bodies.
pub(super) const BODY_BYTES_MAX: usize = 4096;

#[derive(Default)]
pub(super) struct RecentFields {
    /// A body's bytes: when they were kept, and the fields rendered from them.
    rendered: FastHashMap<Bytes, (u64, String)>,
    /// What was kept, oldest first (the same bytes as the key, shared). One taken early stays
    /// here until it comes to the front.
    kept: VecDeque<(u64, Bytes)>,
    next: u64,
}

impl RecentFields {
    /// The fields an earlier line rendered from these bytes, which are then forgotten: an order
    /// has two lines, so a body is asked for once.
    pub(super) fn take(&mut self, body: &[u8]) -> Option<String> {
        let (_, fields) = self.rendered.remove(body)?;
        Some(fields)
    }

    /// Remembers `fields` as rendered from `body`, forgetting the oldest body kept if need be.
    pub(super) fn keep(&mut self, body: &[u8], fields: &str) {
        if body.is_empty() || body.len() > BODY_BYTES_MAX {
            return;
        }
        if self.kept.len() == REMEMBERED_MAX {
            if let Some((when, oldest)) = self.kept.pop_front() {
                // Unless it was taken, or kept again since (then the newer stays).
                if self
                    .rendered
                    .get(&oldest[..])
                    .is_some_and(|(at, _)| *at == when)
                {
                    self.rendered.remove(&oldest[..]);
                }
            }
        }
        let bytes = Bytes::copy_from_slice(body);
        let when = self.next;
        self.next += 1;
        self.kept.push_back((when, bytes.clone()));
        self.rendered.insert(bytes, (when, fields.to_owned()));
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.rendered.len()
    }
}
