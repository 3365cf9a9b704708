//! Whether this node may decide (SPEC §12).
//!
//! Standalone, always. Replicated, only while it holds the lease: `ha` grants a deadline on
//! this node's monotonic clock each time it renews, and the order path, the journal and the
//! forwarder each check it. Past the deadline nothing is decided, logged or forwarded, even
//! before `ha` notices; why the deadline is safe is `ha::lease`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
// The lease is measured on the monotonic clock, which no one can set: not a time of day.
use std::time::Instant;

use parking_lot::RwLock;

/// What `GET /admin/health` calls this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Standalone,
    Leader,
    Follower,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

pub struct Leadership {
    replicated: bool,
    origin: Instant,
    /// Nanoseconds after `origin` until which this node may decide; 0 while it is a follower.
    until_ns: AtomicU64,
    /// Set once the leader has taken office (its first record logged, the old leader's
    /// unanswered orders held in doubt): orders and admin changes are taken from then on.
    in_office: AtomicBool,
    /// The leader's `ha.node_id` and `ha.advertise_url`, as the lease names them, and whether
    /// that is this node.
    leader: RwLock<Option<(String, String, bool)>>,
}

impl Leadership {
    pub fn new(replicated: bool) -> Leadership {
        Leadership {
            replicated,
            origin: Instant::now(),
            until_ns: AtomicU64::new(0),
            in_office: AtomicBool::new(false),
            leader: RwLock::new(None),
        }
    }

    pub fn replicated(&self) -> bool {
        self.replicated
    }

    /// True while this node may decide, log and forward. One atomic load (and a vDSO clock
    /// read in replicated mode) per call.
    pub fn may_decide(&self) -> bool {
        !self.replicated || self.nanos(Instant::now()) < self.until_ns.load(Ordering::Acquire)
    }

    /// True while this node takes orders and admin changes: it may decide and has taken
    /// office.
    pub fn serving(&self) -> bool {
        !self.replicated || (self.in_office.load(Ordering::Acquire) && self.may_decide())
    }

    pub fn role(&self) -> Role {
        match (self.replicated, self.serving()) {
            (false, _) => Role::Standalone,
            (true, true) => Role::Leader,
            (true, false) => Role::Follower,
        }
    }

    /// This node may decide until `deadline` (a renewal moves it on). A grant that has run
    /// out is not renewed (`false`): in between, the journal refused records whose changes may
    /// already be in memory, so this node's state can no longer be trusted to be the log's.
    /// Only after [`Leadership::revoke`] can a new term be granted.
    pub fn grant_until(&self, deadline: Instant) -> bool {
        let now = self.nanos(Instant::now());
        let until = self.until_ns.load(Ordering::Acquire);
        if until != 0 && now >= until {
            return false;
        }
        self.until_ns
            .compare_exchange(
                until,
                self.nanos(deadline).max(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// This node decides nothing from now on.
    pub fn revoke(&self) {
        self.until_ns.store(0, Ordering::Release);
        self.in_office.store(false, Ordering::Release);
    }

    /// The leader has taken office (see `in_office`).
    pub fn open_office(&self) {
        self.in_office.store(true, Ordering::Release);
    }

    /// The leader the lease names: `(node_id, advertise_url)`. Not this node once it may no
    /// longer decide: a follower must not send routers back to a leader that stopped.
    pub fn leader(&self) -> Option<(String, String)> {
        let leader = self.leader.read();
        match &*leader {
            Some((_, _, true)) if !self.serving() => None,
            Some((node, url, _)) => Some((node.clone(), url.clone())),
            None => None,
        }
    }

    /// Another node leads (or, `None`, no one).
    pub fn set_leader(&self, leader: Option<(String, String)>) {
        *self.leader.write() = leader.map(|(node, url)| (node, url, false));
    }

    /// This node leads.
    pub fn set_self_leader(&self, node: String, url: String) {
        *self.leader.write() = Some((node, url, true));
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_grant_lapses_at_its_deadline() {
        let leadership = Leadership::new(true);
        assert_eq!(leadership.role(), Role::Follower);
        assert!(leadership.grant_until(Instant::now() + Duration::from_secs(60)));
        assert!(leadership.may_decide());
        assert_eq!(leadership.role(), Role::Follower, "not in office yet");
        leadership.open_office();
        assert_eq!(leadership.role(), Role::Leader);
        assert!(leadership.grant_until(Instant::now()));
        assert!(!leadership.may_decide());
        // A lapse is final for the term: a late renewal does not bring it back.
        assert!(!leadership.grant_until(Instant::now() + Duration::from_secs(60)));
        assert!(!leadership.may_decide());
        leadership.revoke();
        assert_eq!(leadership.role(), Role::Follower);
        // A new term may be granted after a revoke.
        assert!(leadership.grant_until(Instant::now() + Duration::from_secs(60)));
        assert!(leadership.may_decide());
    }

    #[test]
    fn standalone_always_decides() {
        let leadership = Leadership::new(false);
        assert!(leadership.may_decide());
        assert_eq!(leadership.role(), Role::Standalone);
    }
}
