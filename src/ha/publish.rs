//! The leader's side of the stream: every record it makes is published with the sequence the
//! stream must end at (fencing), and acknowledged, before its own WAL writes it; each snapshot
//! goes to the object store and the stream is trimmed behind the one before it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage as Publish;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::runtime::Handle;

use super::link::{Link, NEXT_LSN, NODE_HEADER, SNAPSHOT_OBJECT};
use crate::engine::Leadership;
use crate::wal::Replica;

pub struct Publisher {
    link: Arc<Link>,
    leadership: Arc<Leadership>,
    /// The runtime the NATS client lives on; the WAL's writer thread blocks on it.
    runtime: Handle,
    /// The next lsn of the snapshot uploaded before the newest: the stream is trimmed to it,
    /// so a follower that is still applying records the newest snapshot covers finds them.
    trim_to: Mutex<Option<u64>>,
}

impl Publisher {
    pub fn new(link: Arc<Link>, leadership: Arc<Leadership>, runtime: Handle) -> Publisher {
        Publisher {
            link,
            leadership,
            runtime,
            trim_to: Mutex::new(None),
        }
    }

    async fn publish(&self, records: &[(u64, &[u8])]) -> Result<(), String> {
        let mut acks = Vec::with_capacity(records.len());
        for &(lsn, payload) in records {
            // The stream takes the record only if it ends at the record before: if another
            // node has published since (it took the lease), this node is deposed.
            let message = Publish::build()
                .payload(Bytes::copy_from_slice(payload))
                .expected_last_sequence(lsn - 1)
                .header(NODE_HEADER, self.link.node_id.as_str());
            let ack = self
                .link
                .js
                .send_publish(self.link.subject.clone(), message)
                .await
                .map_err(|error| format!("record {lsn} not sent: {error}"))?;
            acks.push((lsn, ack));
        }
        for (lsn, ack) in acks {
            let ack = ack
                .await
                .map_err(|error| format!("record {lsn} refused by the stream: {error}"))?;
            if ack.sequence != lsn {
                return Err(format!(
                    "record {lsn} was stored at the stream's sequence {}",
                    ack.sequence
                ));
            }
        }
        Ok(())
    }

    async fn keep_snapshot(&self, state: &[u8], next_lsn: u64) -> Result<(), String> {
        // A newer one may be there already (a later leader's, if this one was slow): keep it.
        if let Ok(info) = self.link.snapshots.info(SNAPSHOT_OBJECT).await {
            let kept = info
                .metadata
                .get(NEXT_LSN)
                .and_then(|v| v.parse::<u64>().ok());
            if kept.is_some_and(|kept| kept >= next_lsn) {
                return Ok(());
            }
        }
        let mut meta = async_nats::jetstream::object_store::ObjectMetadata {
            name: SNAPSHOT_OBJECT.to_owned(),
            description: Some(format!("state covering every record below {next_lsn}")),
            ..Default::default()
        };
        meta.metadata
            .insert(NEXT_LSN.to_owned(), next_lsn.to_string());
        let mut reader = state;
        self.link
            .snapshots
            .put(meta, &mut reader)
            .await
            .map_err(|error| format!("snapshot not uploaded: {error}"))?;
        let trim = self.trim_to.lock().replace(next_lsn);
        // Only a leader trims; one deposed during the upload leaves the stream to the next.
        if let Some(trim) = trim.filter(|_| self.leadership.may_decide()) {
            let stream = self
                .link
                .js
                .get_stream(&self.link.stream)
                .await
                .map_err(|error| format!("stream not trimmed: {error}"))?;
            stream
                .purge()
                .sequence(trim)
                .await
                .map_err(|error| format!("stream not trimmed to {trim}: {error}"))?;
        }
        Ok(())
    }
}

impl Replica for Publisher {
    fn replicate(&self, records: &[(u64, &[u8])]) -> Result<(), String> {
        if !self.leadership.may_decide() {
            return Err("this node's lease has lapsed".to_owned());
        }
        // Longer than a lease is as good as never: the lease would be gone by then.
        let patience = self.link.lease_term;
        self.runtime.block_on(async {
            tokio::time::timeout(patience, self.publish(records))
                .await
                .unwrap_or_else(|_| Err(format!("no acknowledgement within {patience:?}")))
        })
    }

    fn snapshot_written(&self, state: &[u8], next_lsn: u64) {
        if !self.leadership.may_decide() {
            return;
        }
        let result = self.runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(300),
                self.keep_snapshot(state, next_lsn),
            )
            .await
            .unwrap_or_else(|_| Err("snapshot upload took over 300 s".to_owned()))
        });
        match result {
            Ok(()) => tracing::info!(next_lsn, "snapshot kept in the object store"),
            Err(error) => tracing::error!(%error, "snapshot not kept in the object store"),
        }
    }
}
