//! Replicated mode (SPEC §12): two or more nodes share one decision log on a NATS JetStream
//! stream; one of them, the leader, decides.
//!
//! # Pieces
//!
//! - `link`: the connection, the stream (`<ha.stream>`, subject `<ha.stream>.log`), the lease
//!   bucket (`<ha.stream>_LEASE`, key `leader`) and the snapshots' object store
//!   (`<ha.stream>_SNAPSHOTS`, object `latest`).
//! - `catch_up`: opening a node — its WAL, or the stream's snapshot if the WAL is behind the
//!   stream's trim.
//! - `node`: following, taking the lease, leading, stopping.
//! - `publish`: the leader's [`crate::wal::Replica`]: records to the stream, snapshots to the
//!   object store.
//!
//! # The log
//!
//! A stream message is one WAL record, and its stream sequence is its lsn: every node's WAL
//! holds a prefix of the stream. The leader's WAL writer publishes each batch, every record
//! with `Nats-Expected-Last-Sequence: lsn - 1`, waits for every acknowledgement, and only then
//! writes (and under `fsync = "always"`, fsyncs) the batch locally and completes it; an order
//! is forwarded after that, so an acknowledged decision is in the stream (R3 in production)
//! and on the leader's disk. A follower applies each message to its engine and copies it into
//! its WAL at the same lsn. The first record of every leader's term is a `Leader` record,
//! published with the expected sequence of the last record it applied: from then on no other
//! node's publish can be taken (fencing), whatever its clock says.
//!
//! # The lease
//!
//! The key `leader` holds `<node_id>\n<advertise_url>`. The leader renews it every
//! `lease_ms / 4` with a compare-and-set on its revision, and after each renewal *sent* at
//! instant `t` (its monotonic clock) it may decide until `t + 4/5 · lease_ms`. A follower
//! reads the key every `lease_ms / 10`; it takes the lease (compare-and-set on the revision it
//! saw, or create if the key is gone) only once it has seen the *same* revision for a whole
//! `lease_ms` on its own monotonic clock, and only when it has applied the whole stream.
//!
//! Why that is safe without synchronised clocks: the follower first saw revision `r` after the
//! server stored it, which is after the leader sent it at `t`; so the follower takes over at
//! the earliest `t + lease_ms` of real time (up to its clock's rate error), while the leader
//! stopped deciding at `t + 4/5 · lease_ms` of its own. The fifth in between absorbs rate
//! differences of monotonic clocks (parts per million) and scheduling. Deciding stops by
//! itself at the deadline: the order front, the journal and the forwarder each check it, so a
//! leader frozen past it decides nothing when it wakes. The one window no lease closes — a
//! leader that checked its deadline and then froze before its write left the machine — is
//! closed by fencing: its publish expects the stream to end where the new leader's `Leader`
//! record now is, and is refused. (A check passed just before a forward that is frozen in
//! flight is the exception: DriveWealth's API has no fencing token; the new leader holds that
//! order in doubt and reconciliation finds it.)
//!
//! A node that stops leading for any reason exits with status 75 after revoking its right to
//! decide: its memory may hold an effect the stream never took, and the one state it can
//! trust is the stream. Its supervisor restarts it; it rejoins as a follower.
//!
//! # Snapshots and trimming
//!
//! Every node writes its own snapshots as in standalone mode. The leader also uploads each one
//! to the object store (replacing the last) and then purges the stream below the *previous*
//! snapshot's next lsn, so a follower still applying records the newest snapshot covers finds
//! them. A node whose WAL ends before the stream's first record (empty, or down through a
//! trim) replaces its WAL with the object store's snapshot and follows from there.
//!
//! # Failures: a decision table
//!
//! | case | what happens | guaranteed |
//! | --- | --- | --- |
//! | **leader crash** (SIGKILL, machine loss) | its lease goes unrenewed; a follower that has applied the whole stream takes it after `lease_ms` (+ up to one poll), publishes its `Leader` record, holds in doubt the orders the old leader made durable but never saw answered, and serves | every order acknowledged to a router is in the new leader's state; none is lost or applied twice |
//! | **leader frozen** (SIGSTOP, long GC-like pause) | as a crash for the others; the frozen node, on waking, is past its deadline: it decides and forwards nothing, answers `503 NOT_LEADER`, and exits to rejoin | the old leader forwards nothing after the new one took over (a write it had already begun is refused by the stream) |
//! | **NATS node loss** (one of three, R3) | the stream's Raft group elects a new NATS leader; publishes wait or time out meanwhile | acknowledged records survive on the other two; if publishes fail for longer than a lease, the leader exits and a node takes over when NATS is back |
//! | **partition between leader and NATS** | the leader's publishes and renewals fail: orders get `503 STORAGE_UNAVAILABLE`, and within `4/5 · lease_ms` it stops deciding and exits; a follower on NATS's side takes over | nothing is forwarded that is not in the stream |
//! | **partition between a follower and NATS** | it stops applying and cannot take the lease; it catches up when the link returns (or from the snapshot, if the stream was trimmed past it) | a follower never decides |
//! | **both nodes restart** | each opens its WAL (a prefix of the stream) and applies the rest; the lease, unrenewed, lapses after `lease_ms`; the first to see that takes it | the state is the stream's, whichever node leads |
//! | **the stream lost** (its last sequence below a node's WAL) | the node refuses to start, naming both | no node decides on a log the others cannot see |
//!
//! Not guaranteed: orders in flight to a crashed leader may be neither acknowledged nor
//! rejected (the router retries with its `Idempotency-Key`; the new leader holds the durable
//! ones in doubt). The stream is only as durable as its NATS replication: R1 on one NATS
//! server is one disk.

mod catch_up;
mod link;
mod node;
mod publish;

pub use catch_up::open;
pub use link::Link;
pub use node::{run, Node, EXIT_REJOIN};

#[cfg(test)]
mod tests;
