//! The connection to NATS and the three JetStream things replicated mode uses: the decision
//! log's stream, the lease's key-value bucket and the snapshots' object store. Created when
//! missing (with `ha.replicas` copies); used as they are when an operator made them.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};

use crate::config::HaConfig;

/// The lease's one key in its bucket.
pub const LEASE_KEY: &str = "leader";
/// The snapshot's one name in the object store: each upload replaces the last.
pub const SNAPSHOT_OBJECT: &str = "latest";
/// The object metadata key holding the snapshot's next lsn.
pub const NEXT_LSN: &str = "next_lsn";
/// The header naming the node that published a record (for `omnigate wal dump`-style reads of
/// the stream, and for the operator).
pub const NODE_HEADER: &str = "Omnigate-Node";

/// Publishes waiting for their acknowledgement, at most: a whole WAL batch (4,096 records by
/// default) must fit.
const ACKS_IN_FLIGHT: usize = 65_536;

pub struct Link {
    pub js: jetstream::Context,
    pub stream: String,
    /// The stream's one subject: `<stream>.log`.
    pub subject: String,
    pub lease: kv::Store,
    pub snapshots: object_store::ObjectStore,
    pub node_id: String,
    pub advertise_url: String,
    /// `ha.lease_ms`.
    pub lease_term: Duration,
}

impl Link {
    /// Connects and makes sure the stream, bucket and store exist. Every error names the key
    /// at fault (`ha.nats_url`, `ha.stream`) in one line.
    pub async fn connect(config: &HaConfig, advertise_url: String) -> Result<Link, String> {
        let node_id = match &config.node_id {
            Some(id) => id.clone(),
            None => host_name().ok_or("ha.node_id: not set, and the host name cannot be read")?,
        };
        let url = &config.nats_url;
        let connect = |purpose: &'static str| {
            async_nats::ConnectOptions::new()
                .name(format!("omnigate {node_id} ({purpose})"))
                .connection_timeout(Duration::from_secs(5))
                .connect(url.as_str())
        };
        let client = connect("log")
            .await
            .map_err(|error| format!("ha.nats_url {url}: cannot connect: {error}"))?;
        // Snapshots (up to 1 GiB) go over a connection of their own, so an upload never queues
        // ahead of the records orders wait for.
        let bulk = connect("snapshots")
            .await
            .map_err(|error| format!("ha.nats_url {url}: cannot connect: {error}"))?;
        let bulk = jetstream::new(bulk);
        let js = jetstream::context::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .max_ack_inflight(ACKS_IN_FLIGHT)
            .backpressure_on_inflight(true)
            .build(client);
        let name = &config.stream;
        let subject = format!("{name}.log");
        let storage = stream::StorageType::File;
        let log = js
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![subject.clone()],
                storage,
                num_replicas: config.replicas,
                description: Some(
                    "omnigate's decision log: one WAL record a message, seq = lsn".into(),
                ),
                ..Default::default()
            })
            .await
            .map_err(|error| format!("ha.stream {name}: cannot open the stream: {error}"))?;
        // A stream an operator made must keep every record until omnigate trims it, and carry
        // only omnigate's subject: a limit would drop records no snapshot covers.
        let kept = &log.cached_info().config;
        if kept.subjects != [subject.clone()]
            || !kept.max_age.is_zero()
            || kept.max_messages > 0
            || kept.max_bytes > 0
            || kept.max_messages_per_subject > 0
        {
            return Err(format!(
                "ha.stream {name}: the existing stream must have the one subject {subject} and \
                 no age, message or byte limits (omnigate trims it behind its snapshots)"
            ));
        }
        // The bucket's and the store's streams are made here with the settings the client's
        // own `create_key_value` / `create_object_store` use: those first read the account
        // info in a shape nats-server 2.9 does not answer with.
        let bucket = format!("{name}_LEASE");
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{bucket}"),
            description: Some("omnigate's leader lease".into()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            storage,
            num_replicas: config.replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|error| format!("ha.stream {name}: cannot open bucket {bucket}: {error}"))?;
        let lease = js
            .get_key_value(&bucket)
            .await
            .map_err(|error| format!("ha.stream {name}: cannot open bucket {bucket}: {error}"))?;
        let store = format!("{name}_SNAPSHOTS");
        js.get_or_create_stream(stream::Config {
            name: format!("OBJ_{store}"),
            description: Some("omnigate's newest snapshot".into()),
            subjects: vec![format!("$O.{store}.C.>"), format!("$O.{store}.M.>")],
            storage,
            num_replicas: config.replicas,
            allow_rollup: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|error| format!("ha.stream {name}: cannot open object store {store}: {error}"))?;
        let snapshots = bulk.get_object_store(&store).await.map_err(|error| {
            format!("ha.stream {name}: cannot open object store {store}: {error}")
        })?;
        Ok(Link {
            js,
            stream: name.clone(),
            subject,
            lease,
            snapshots,
            node_id,
            advertise_url,
            lease_term: Duration::from_millis(config.lease_ms),
        })
    }

    /// The stream's first and last sequence (first = last + 1 when it holds nothing).
    pub async fn bounds(&self) -> Result<(u64, u64), String> {
        // Looking the stream up reads its info: one request, no second `info()`.
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|error| format!("stream {}: {error}", self.stream))?;
        let state = &stream.cached_info().state;
        Ok((state.first_sequence, state.last_sequence))
    }

    /// What this node writes into the lease: its id and where routers reach it.
    pub fn lease_value(&self) -> bytes::Bytes {
        format!("{}\n{}", self.node_id, self.advertise_url).into()
    }
}

/// A lease value back into `(node_id, advertise_url)`.
pub fn parse_lease(value: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(value).ok()?;
    let (node, url) = text.split_once('\n')?;
    Some((node.to_owned(), url.to_owned()))
}

fn host_name() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name: String = String::from_utf8_lossy(&buffer[..end])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!name.is_empty()).then_some(name)
}
