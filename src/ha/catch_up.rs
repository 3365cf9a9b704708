//! Opening a replicated node: its own WAL, and the stream's snapshot when the WAL is behind
//! what the stream still holds (an empty node, or one down through a trim).

use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::link::{Link, NEXT_LSN, SNAPSHOT_OBJECT};
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::Engine;

/// Largest snapshot read back (the WAL's own bound on a snapshot file).
const SNAPSHOT_BYTES_MAX: usize = 1 << 30;

/// Opens the engine from `wal.dir`, first replacing it with the stream's snapshot if the
/// stream no longer holds the records right after the local log's end. The engine follows
/// from there (`follow`). Every refusal says what is at fault and what to do, in one line.
pub async fn open(
    config: &Config,
    clock: Arc<dyn Clock>,
    link: &Link,
    truncate_corrupt_tail: bool,
) -> Result<Engine, String> {
    let engine = open_local(config, clock.clone(), truncate_corrupt_tail).await?;
    let next = engine.applied_seq() + 1;
    let (first, last) = link.bounds().await?;
    let dir = config.wal.dir.display();
    if next > last + 1 {
        return Err(format!(
            "wal.dir {dir}: holds records up to {} but stream {} ends at {last}: this log is not \
             a prefix of the stream (a standalone log, or the stream was lost); move wal.dir \
             aside to rebuild this node from the stream",
            next - 1,
            link.stream
        ));
    }
    if next >= first {
        engine.expect_replica();
        return Ok(engine);
    }
    // The stream was trimmed past this log's end: start from the stream's snapshot.
    let (state, snapshot_next) = download(link).await?;
    if snapshot_next < next || snapshot_next < first || snapshot_next > last + 1 {
        return Err(format!(
            "stream {}: its snapshot covers records below {snapshot_next}, but the stream holds \
             {first}..={last} and wal.dir {dir} ends at {}: nothing joins them",
            link.stream,
            next - 1
        ));
    }
    tracing::warn!(
        local_end = next - 1,
        stream_first = first,
        snapshot_next,
        "the stream no longer holds this node's next records: starting from its snapshot"
    );
    let segment_bytes = config.wal.segment_bytes;
    let wal_dir = config.wal.dir.clone();
    tokio::task::spawn_blocking(move || {
        engine.close_without_snapshot();
        drop(engine);
        crate::wal::install_snapshot(&wal_dir, &state, snapshot_next, segment_bytes)
            .map_err(|error| format!("wal.dir {}: {error}", wal_dir.display()))
    })
    .await
    .map_err(|error| format!("start-up failed: {error}"))??;
    let engine = open_local(config, clock, truncate_corrupt_tail).await?;
    engine.expect_replica();
    Ok(engine)
}

async fn open_local(
    config: &Config,
    clock: Arc<dyn Clock>,
    truncate_corrupt_tail: bool,
) -> Result<Engine, String> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        Engine::open(&config, clock, truncate_corrupt_tail).map(|opened| opened.engine)
    })
    .await
    .map_err(|error| format!("start-up failed: {error}"))?
}

/// The newest snapshot in the object store and the lsn after what it covers.
pub(super) async fn download(link: &Link) -> Result<(Vec<u8>, u64), String> {
    let store = format!("object store {}_SNAPSHOTS", link.stream);
    let mut object = link
        .snapshots
        .get(SNAPSHOT_OBJECT)
        .await
        .map_err(|error| format!("{store}: no snapshot to start from: {error}"))?;
    let next_lsn = object
        .info()
        .metadata
        .get(NEXT_LSN)
        .and_then(|value| value.parse::<u64>().ok())
        .ok_or_else(|| format!("{store}: the snapshot does not say what it covers ({NEXT_LSN})"))?;
    let size = object.info().size;
    if size > SNAPSHOT_BYTES_MAX {
        return Err(format!(
            "{store}: the snapshot is {size} bytes, over the 1 GiB bound"
        ));
    }
    let mut state = Vec::with_capacity(size);
    object
        .read_to_end(&mut state)
        .await
        .map_err(|error| format!("{store}: the snapshot cannot be read: {error}"))?;
    Ok((state, next_lsn))
}
