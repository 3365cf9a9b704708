//! A replicated node's side of the engine (SPEC §12): copying the leader's records while it
//! follows, and taking office when it wins the lease. The stream itself is `ha`'s.

use std::sync::Arc;

use super::{Durability, Engine, Leadership};
use crate::engine::record::Record;
use crate::wal::Replica;

impl Engine {
    /// Who may decide here.
    pub fn leadership(&self) -> &Arc<Leadership> {
        &self.leadership
    }

    /// The lsn of the last record this node applied (0: none). Exact while nothing is being
    /// applied or decided.
    pub fn applied_seq(&self) -> u64 {
        self.journal
            .as_ref()
            .map_or(0, |journal| journal.next_lsn().saturating_sub(1))
    }

    /// Applies the shared log's record at `lsn` and queues it to this node's WAL at the same
    /// lsn. Records must come in order, each the one after the last applied: a gap or a
    /// record that does not apply means this node's state no longer follows the log, and the
    /// caller must stop. The gate is held exclusively, so a snapshot here reads whole records.
    pub fn copy_from_log(&self, lsn: u64, bytes: Vec<u8>) -> Result<Durability, String> {
        let Some(journal) = &self.journal else {
            return Err("no write-ahead log to copy into".to_owned());
        };
        let _gate = self.gate.exclusive();
        let expected = journal.next_lsn();
        if lsn != expected {
            return Err(format!(
                "the shared log's record {lsn} arrived where record {expected} was due"
            ));
        }
        let record = Record::decode(&bytes).map_err(|error| format!("record {lsn}: {error}"))?;
        self.replay(record)
            .map_err(|error| format!("record {lsn} cannot be applied: {error}"))?;
        // A follower acts on nothing, so it need not wait for each copy; the caller waits now
        // and then, to bound the WAL's queue.
        match journal.append_copy(bytes, lsn) {
            Durability::Refused(error) => Err(error.0),
            pending => Ok(pending),
        }
    }

    /// Replicated mode: this node makes no record of its own until `replicate_to` (its WAL
    /// refuses one, should anything try).
    pub fn expect_replica(&self) {
        if let Some(journal) = &self.journal {
            journal.wal().require_replica();
        }
    }

    /// From now on every record this node makes goes to `replica` before its own WAL.
    pub fn replicate_to(&self, replica: Arc<dyn Replica>) {
        if let Some(journal) = &self.journal {
            journal.wal().replicate_to(replica);
        }
    }

    /// Takes office once this node holds the lease, its `Leader` record is in the stream and
    /// copied here, and `replicate_to` is set: holds in doubt the orders the old leader left
    /// unanswered (their records go through the stream like any other). Orders and admin
    /// changes wait for [`Engine::open_office`]. Blocking.
    pub fn take_office(&self) -> Result<(), String> {
        let held = self.hold_unanswered_in_doubt()?;
        if held > 0 {
            tracing::warn!(
                held,
                "orders the previous leader left unanswered are held in doubt"
            );
        }
        Ok(())
    }

    /// Takes orders and admin changes from now on.
    pub fn open_office(&self) {
        self.leadership.open_office();
    }
}
