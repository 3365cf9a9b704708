//! The stream's side of fencing and trimming, against a real `nats-server -js` on loopback:
//! a publisher whose stream moved on under it (another node's record) is refused, one whose
//! lease lapsed publishes nothing, and kept snapshots trim the stream behind the one before.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;

use super::link::Link;
use super::publish::Publisher;
use crate::config::{HaConfig, HaMode};
use crate::engine::Leadership;
use crate::wal::Replica;

struct Server {
    child: Child,
    _store: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nats_server() -> (Server, u16) {
    let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("nats-server is not installed (Debian package nats-server; .ci/run installs it)");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    (Server { child, _store: dir }, port)
}

fn link(runtime: &tokio::runtime::Runtime, port: u16) -> Arc<Link> {
    let config = HaConfig {
        mode: HaMode::Replicated,
        node_id: Some("node-a".into()),
        nats_url: format!("nats://127.0.0.1:{port}"),
        ..HaConfig::default()
    };
    Arc::new(
        runtime
            .block_on(Link::connect(&config, "http://127.0.0.1:1".into()))
            .unwrap(),
    )
}

#[test]
fn a_publisher_is_fenced_by_another_nodes_record_and_by_its_own_lapsed_lease() {
    let (_server, port) = nats_server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let link = link(&runtime, port);
    let leadership = Arc::new(Leadership::new(true));
    assert!(leadership.grant_until(Instant::now() + Duration::from_secs(60)));
    let publisher = Publisher::new(link.clone(), leadership.clone(), runtime.handle().clone());
    publisher.replicate(&[(1, b"one"), (2, b"two")]).unwrap();
    assert_eq!(runtime.block_on(link.bounds()).unwrap(), (1, 2));

    // Another node takes over and puts its first record at 3.
    let theirs = PublishMessage::build()
        .payload("theirs".into())
        .expected_last_sequence(2);
    runtime.block_on(async {
        let ack = link
            .js
            .send_publish(link.subject.clone(), theirs)
            .await
            .unwrap();
        assert_eq!(ack.await.unwrap().sequence, 3);
    });
    // This node, unaware, publishes its next record at 3: refused, nothing stored.
    let refused = publisher.replicate(&[(3, b"mine")]).unwrap_err();
    assert!(refused.contains("wrong last sequence"), "{refused}");
    assert_eq!(runtime.block_on(link.bounds()).unwrap(), (1, 3));

    // Past its deadline it publishes nothing at all, even where the stream would take it.
    assert!(leadership.grant_until(Instant::now()));
    let lapsed = publisher.replicate(&[(4, b"late")]).unwrap_err();
    assert!(lapsed.contains("lapsed"), "{lapsed}");
    assert_eq!(runtime.block_on(link.bounds()).unwrap(), (1, 3));
}

#[test]
fn kept_snapshots_trim_the_stream_behind_the_one_before() {
    let (_server, port) = nats_server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let link = link(&runtime, port);
    let leadership = Arc::new(Leadership::new(true));
    assert!(leadership.grant_until(Instant::now() + Duration::from_secs(60)));
    let publisher = Publisher::new(link.clone(), leadership, runtime.handle().clone());
    let records: Vec<(u64, Vec<u8>)> = (1..=10).map(|lsn| (lsn, vec![lsn as u8])).collect();
    let borrowed: Vec<(u64, &[u8])> = records.iter().map(|(l, r)| (*l, r.as_slice())).collect();
    publisher.replicate(&borrowed).unwrap();

    publisher.snapshot_written(b"state below 5", 5);
    // The first snapshot trims nothing: a follower may still be reading before it.
    assert_eq!(runtime.block_on(link.bounds()).unwrap(), (1, 10));
    publisher.snapshot_written(b"state below 9", 9);
    assert_eq!(runtime.block_on(link.bounds()).unwrap(), (5, 10));
    // An older snapshot never replaces a newer one.
    publisher.snapshot_written(b"stale", 7);
    let (state, next_lsn) = runtime.block_on(super::catch_up::download(&link)).unwrap();
    assert_eq!((state.as_slice(), next_lsn), (&b"state below 9"[..], 9));
}
