//! The order fields of the bodies rendered last, for an order's second line.
//!
//! An accepted order gets two lines, its decision and the upstream's answer, and both carry the
//! order's fields from the same body: reading them is most of a line's cost (a JSON parse and
//! a dozen escaped strings), so the second line copies what the first wrote. A body is known
//! again by where its bytes are: both entries hold a clone of the one `Bytes` the order path
//! read. Holding a clone here keeps those bytes alive and unchanged (`Bytes` is immutable), so
//! an address and length found here always name the same bytes; a body that only looks the
//! same is simply read again.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::fast_map::FastHashMap;

/// Bodies remembered, at most. The two lines of an order are apart by what the order path
/// queued during its upstream round trip, far fewer than this at any rate omnigate serves.
/// A remembered body pins its buffer, so this is kept small.
pub(super) const REMEMBERED_MAX: usize = 256;

/// Where a body's bytes are.
type Place = (usize, usize);

#[derive(Default)]
pub(super) struct RecentFields {
    rendered: FastHashMap<Place, (Bytes, String)>,
    /// Places in the order they were kept; one taken early stays here until it is dropped.
    kept: VecDeque<Place>,
}

fn place(body: &Bytes) -> Option<Place> {
    // An empty body has no bytes to be known by.
    (!body.is_empty()).then(|| (body.as_ptr() as usize, body.len()))
}

impl RecentFields {
    /// The fields an earlier line rendered from this very body, which are then forgotten: an
    /// order has two lines, so a body is asked for once.
    pub(super) fn take(&mut self, body: &Bytes) -> Option<String> {
        let (_, fields) = self.rendered.remove(&place(body)?)?;
        Some(fields)
    }

    /// Remembers `fields` as rendered from `body`, forgetting the oldest body kept if need be.
    pub(super) fn keep(&mut self, body: &Bytes, fields: &str) {
        let Some(at) = place(body) else {
            return;
        };
        if self.kept.len() == REMEMBERED_MAX {
            if let Some(oldest) = self.kept.pop_front() {
                // If that place was taken and kept again since, this forgets the newer body
                // early: it is read again, nothing worse.
                self.rendered.remove(&oldest);
            }
        }
        self.kept.push_back(at);
        self.rendered.insert(at, (body.clone(), fields.to_owned()));
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.rendered.len()
    }
}
