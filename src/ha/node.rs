//! A node's life in replicated mode: follow the stream while another node leads, take the
//! lease once it lapses, lead while renewing it, and stop — then exit, to be restarted as a
//! follower — the moment it cannot. Why the lease's deadlines are safe is in `ha`'s module doc.

use std::sync::Arc;
// The lease runs on the monotonic clock: no one can set it, and it is not a time of day.
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::Operation;
use async_nats::jetstream::message::PublishMessage as Publish;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::link::{parse_lease, Link, LEASE_KEY, NODE_HEADER};
use super::publish::Publisher;
use crate::config::Config;
use crate::engine::record::Record;
use crate::engine::Engine;

/// Exit status of a node that stopped leading (`EX_TEMPFAIL`): its supervisor restarts it, and
/// it rejoins as a follower from its WAL and the stream.
pub const EXIT_REJOIN: u8 = 75;

pub struct Node {
    pub engine: Arc<Engine>,
    pub link: Arc<Link>,
    pub config: Config,
}

/// Runs until shutdown. If this node must stop leading (or can no longer follow), it stops
/// deciding at once and sends why on `stop`: the process then shuts down as on SIGTERM —
/// listeners drained, audit trail flushed — and exits with [`EXIT_REJOIN`].
pub async fn run(
    node: Node,
    mut shutdown: watch::Receiver<bool>,
    stop: watch::Sender<Option<String>>,
) {
    if let Err(reason) = live(&node, &mut shutdown).await {
        node.engine.leadership().revoke();
        tracing::error!(%reason, "replicated mode: this node stops, to rejoin as a follower");
        let _ = stop.send(Some(reason));
    }
}

async fn live(node: &Node, shutdown: &mut watch::Receiver<bool>) -> Result<(), String> {
    loop {
        let Some((revision, sent)) = follow(node, shutdown).await? else {
            return Ok(());
        };
        if !put_leader_record(node, sent).await? {
            // Another node's record reached the stream first: follow it.
            node.engine.leadership().revoke();
            continue;
        }
        // From here the lease is renewed while the office is taken (holding the old leader's
        // orders in doubt, bootstrapping an empty log, catching up settlement rolls), however
        // long that takes.
        let renewing = tokio::spawn(renew(
            node.engine.clone(),
            node.link.clone(),
            revision,
            shutdown.clone(),
        ));
        let mut renewing = AbortOnDrop(renewing);
        take_office(node).await?;
        return match (&mut renewing.0).await {
            Ok(result) => result,
            Err(error) => Err(format!("the lease renewal task failed: {error}")),
        };
    }
}

/// Aborts the task when dropped (an error while taking office ends the renewals too).
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often a follower reads the lease, and a leader renews it.
fn poll_every(link: &Link) -> Duration {
    (link.lease_term / 10).max(Duration::from_millis(20))
}

fn renew_every(link: &Link) -> Duration {
    link.lease_term / 4
}

/// How long after sending a renewal the leader may decide: a fifth of the lease short of it.
fn validity(link: &Link) -> Duration {
    link.lease_term - link.lease_term / 5
}

/// Records copied between two waits for the WAL: a follower catching up on a long stream
/// never fills the WAL's queue.
const COPIES_PER_WAIT: u64 = 1024;

/// A follower that has received nothing for this long checks that the stream has nothing
/// more for it.
const STALL_AFTER: Duration = Duration::from_secs(2);

/// Applies the stream as it arrives; returns the lease's revision, and when the winning update
/// was sent, once this node won it (or `None` at shutdown). NATS being away is waited out;
/// only a stream that no longer follows on from this node's state is an error.
async fn follow(
    node: &Node,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<(u64, Instant)>, String> {
    let (engine, link) = (&node.engine, &node.link);
    let mut seen: Option<(u64, Instant)> = None;
    let mut retry = tokio::time::interval(poll_every(link));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(None),
            _ = retry.tick() => {}
        }
        let mut messages = match subscribe(link, engine.applied_seq() + 1).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "cannot follow the stream; retrying");
                continue;
            }
        };
        let mut tick = tokio::time::interval(poll_every(link));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // When the consumer last delivered, or was last seen to have nothing to deliver.
        let mut progress = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return Ok(None),
                message = messages.next() => {
                    progress = Instant::now();
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => {
                            tracing::warn!(%error, "following the stream: starting again");
                            break;
                        }
                        None => break,
                    };
                    let seq = message
                        .info()
                        .map_err(|error| format!("a stream message without its sequence: {error}"))?
                        .stream_sequence;
                    let applied = engine.applied_seq();
                    if seq <= applied {
                        continue;
                    }
                    if seq != applied + 1 {
                        return Err(format!(
                            "the stream went from record {applied} to {seq}: it was trimmed past \
                             this node, which a restart rebuilds from the stream's snapshot"
                        ));
                    }
                    let copied = engine.copy_from_log(seq, message.payload.to_vec())?;
                    if seq % COPIES_PER_WAIT == 0 {
                        copied.wait().await.map_err(|error| error.0)?;
                    }
                }
                _ = tick.tick() => {
                    if let Some(won) = look_at_lease(node, &mut seen).await {
                        return Ok(Some(won));
                    }
                    // A consumer can stall without an error (seen after this process was
                    // frozen while the stream was trimmed): if the stream holds records past
                    // this node's and nothing came for a while, subscribe again.
                    if progress.elapsed() >= STALL_AFTER {
                        progress = Instant::now();
                        if link.bounds().await.is_ok_and(|(_, last)| last > engine.applied_seq()) {
                            tracing::warn!("the stream's consumer stalled; subscribing again");
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// An ordered consumer of the stream from `start` on.
async fn subscribe(link: &Link, start: u64) -> Result<pull::Ordered, String> {
    let stream = link
        .js
        .get_stream(&link.stream)
        .await
        .map_err(|error| format!("stream {}: {error}", link.stream))?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .map_err(|error| format!("stream {}: {error}", link.stream))?;
    consumer
        .messages()
        .await
        .map_err(|error| format!("stream {}: {error}", link.stream))
}

/// Reads the lease; takes it when it has gone unrenewed for a whole lease as this node's clock
/// measures it (or is gone), and this node has applied the whole stream.
async fn look_at_lease(node: &Node, seen: &mut Option<(u64, Instant)>) -> Option<(u64, Instant)> {
    let (engine, link) = (&node.engine, &node.link);
    let entry = match tokio::time::timeout(link.lease_term, link.lease.entry(LEASE_KEY)).await {
        Ok(Ok(entry)) => entry,
        Ok(Err(error)) => {
            tracing::warn!(%error, "the lease cannot be read");
            return None;
        }
        Err(_) => {
            tracing::warn!("the lease cannot be read in time");
            return None;
        }
    };
    let revision = match entry {
        Some(entry) if entry.operation == Operation::Put => {
            // A lease naming this node is from before its restart: it leads no more.
            let named = parse_lease(&entry.value).filter(|(node, _)| *node != link.node_id);
            engine.leadership().set_leader(named);
            match seen {
                Some((revision, since)) if *revision == entry.revision => {
                    if since.elapsed() < link.lease_term {
                        return None;
                    }
                }
                _ => {
                    *seen = Some((entry.revision, Instant::now()));
                    return None;
                }
            }
            Some(entry.revision)
        }
        _ => {
            engine.leadership().set_leader(None);
            None
        }
    };
    match link.bounds().await {
        Ok((_, last)) if last == engine.applied_seq() => {}
        // Still records to apply (or the stream cannot be read): not yet.
        _ => return None,
    }
    let sent = Instant::now();
    let value = link.lease_value();
    let taken = match revision {
        Some(revision) => link.lease.update(LEASE_KEY, value, revision).await.ok(),
        None => link.lease.create(LEASE_KEY, value).await.ok(),
    }?;
    tracing::info!(node = %link.node_id, "took the lease");
    Some((taken, sent))
}

/// Puts this node's `Leader` record in the stream right after the last record it applied —
/// the stream refuses it if the old leader got one in after all, and this node follows on —
/// copies it here, attaches the publisher, and only then may this node decide (until the
/// lease update sent at `sent` runs out). `false` if it lost the race.
async fn put_leader_record(node: &Node, sent: Instant) -> Result<bool, String> {
    let (engine, link) = (&node.engine, &node.link);
    let lsn = engine.applied_seq() + 1;
    let record = Record::Leader {
        node: link.node_id.clone(),
    }
    .encode();
    let message = Publish::build()
        .payload(record.clone().into())
        .expected_last_sequence(lsn - 1)
        .header(NODE_HEADER, link.node_id.as_str());
    let published = link
        .js
        .send_publish(link.subject.clone(), message)
        .await
        .map_err(|error| format!("the Leader record not sent: {error}"))?;
    match tokio::time::timeout(link.lease_term, published).await {
        Ok(Ok(ack)) if ack.sequence == lsn => {}
        Ok(Err(error)) if error.kind() == PublishErrorKind::WrongLastSequence => {
            tracing::info!("another record reached the stream first; following it");
            return Ok(false);
        }
        Ok(Ok(ack)) => {
            return Err(format!(
                "the Leader record was stored at {} instead of {lsn}",
                ack.sequence
            ))
        }
        // Stored or not, no one can tell: start again from what the stream holds.
        Ok(Err(error)) => return Err(format!("the Leader record: {error}")),
        Err(_) => return Err("the Leader record was not acknowledged in time".to_owned()),
    }
    engine
        .copy_from_log(lsn, record)?
        .wait()
        .await
        .map_err(|error| error.0)?;
    let publisher = Publisher::new(
        link.clone(),
        engine.leadership().clone(),
        tokio::runtime::Handle::current(),
    );
    engine.replicate_to(Arc::new(publisher));
    if !engine.leadership().grant_until(sent + validity(link)) {
        return Err("the lease ran out while the Leader record was written".to_owned());
    }
    tracing::info!(node = %link.node_id, first_record = lsn, "leading");
    Ok(true)
}

/// Takes office: the old leader's unanswered orders held in doubt (and, on a log that held
/// nothing before this leader, the bootstrap files loaded), then the settlement rolls missed
/// while no one led, and only then orders and admin changes.
async fn take_office(node: &Node) -> Result<(), String> {
    let (engine, config) = (node.engine.clone(), node.config.clone());
    tokio::task::spawn_blocking(move || {
        // The first leader of an empty log loads the bootstrap files, as a standalone node
        // does on an empty WAL (its Leader record is the log's first).
        if engine.applied_seq() == 1 {
            engine.bootstrap(&config)?;
        }
        engine.take_office()
    })
    .await
    .map_err(|error| format!("taking office failed: {error}"))??;
    let engine = &node.engine;
    let rolls = crate::feeds::settlement::Rolls::new(engine, node.config.omnibus.settlement_time);
    rolls.catch_up(engine).await;
    let link = &node.link;
    engine
        .leadership()
        .set_self_leader(link.node_id.clone(), link.advertise_url.clone());
    engine.open_office();
    Ok(())
}

/// Renews the lease until shutdown; an error once this node may no longer decide. A lapse is
/// final: memory may hold a change whose record the journal refused meanwhile.
async fn renew(
    engine: Arc<Engine>,
    link: Arc<Link>,
    mut revision: u64,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut tick = tokio::time::interval(renew_every(&link));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = tick.tick() => {}
        }
        if let Some(reason) = engine.storage_failed() {
            return Err(format!("the log takes nothing more: {reason}"));
        }
        let sent = Instant::now();
        let renewal = tokio::time::timeout(
            renew_every(&link),
            link.lease.update(LEASE_KEY, link.lease_value(), revision),
        )
        .await;
        match renewal {
            Ok(Ok(next)) => {
                revision = next;
                if !engine.leadership().grant_until(sent + validity(&link)) {
                    return Err("the lease was renewed only after it had run out".to_owned());
                }
            }
            Ok(Err(error))
                if error.kind()
                    == async_nats::jetstream::kv::UpdateErrorKind::WrongLastRevision =>
            {
                return Err("another node holds the lease".to_owned());
            }
            _ if !engine.leadership().may_decide() => {
                return Err("the lease could not be renewed in time".to_owned());
            }
            Ok(Err(error)) => tracing::warn!(%error, "the lease was not renewed; retrying"),
            Err(_) => tracing::warn!("the lease renewal timed out; retrying"),
        }
    }
}
