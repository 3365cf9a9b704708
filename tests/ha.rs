//! Replicated mode (SPEC §12), black box: real `nats-server` with JetStream on loopback, real
//! omnigate processes sharing one `omnigate sim` upstream, SIGKILL and SIGSTOP.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{market_buy, pause_fills_at, wait_for, Gateway, Simulator, TempDir};

const LEASE_MS: u64 = 1000;

/// `nats-server -js` on a free loopback port, its store in a scratch folder.
struct Nats {
    child: Child,
    port: u16,
    /// Its HTTP monitoring port (`/jsz`).
    monitor: u16,
    _dir: TempDir,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nats {
    fn start() -> Nats {
        let dir = TempDir::new("nats");
        let (port, monitor) = (free_port(), free_port());
        let child = Command::new(nats_server())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for("nats-server to listen", Duration::from_secs(10), || {
            TcpStream::connect(addr).ok()
        });
        Nats {
            child,
            port,
            monitor,
            _dir: dir,
        }
    }

    /// The first sequence the stream still holds, from the server's own monitoring.
    fn first_seq(&self, stream: &str) -> u64 {
        let jsz = common::send(
            SocketAddr::from(([127, 0, 0, 1], self.monitor)),
            "GET",
            "/jsz?streams=true",
            &[],
            b"",
        )
        .json();
        jsz["account_details"][0]["stream_detail"]
            .as_array()
            .and_then(|streams| streams.iter().find(|s| s["name"] == stream))
            .and_then(|s| s["state"]["first_seq"].as_u64())
            .unwrap_or(0)
    }
}

fn nats_server() -> &'static str {
    for path in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(path).exists() {
            return path;
        }
    }
    panic!("nats-server is not installed (Debian package nats-server; .ci/run installs it)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A node's config: the standard test book, the shared simulator, `[ha]` on `nats`.
fn node_config(nats: &Nats, sim: SocketAddr, node: &str, wal_extra: &str) -> String {
    common::config(
        "",
        &format!(
            "[upstream]\nurl = \"http://{sim}\"\n\n[wal]\n{wal_extra}\n\n[ha]\nmode = \
             \"replicated\"\nnode_id = \"{node}\"\nnats_url = \"nats://127.0.0.1:{}\"\nlease_ms \
             = {LEASE_MS}\n",
            nats.port
        ),
    )
}

/// A nats-server and the one simulator every node sends to, its fills paused so that each
/// accepted order stays open (and reserved) for the checks.
struct Rig {
    nats: Nats,
    sim: Simulator,
    /// Held until the test's end (declared last, so dropped after the processes).
    _turn: std::sync::MutexGuard<'static, ()>,
}

/// One rig at a time: each test runs several nodes, a NATS server and load on what may be a
/// 2-core machine, and the failover bound is measured in wall time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

impl Rig {
    fn start() -> Rig {
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sim = Simulator::start("");
        pause_fills_at(sim.addr);
        Rig {
            nats: Nats::start(),
            sim,
            _turn: turn,
        }
    }

    fn config(&self, node: &str, wal_extra: &str) -> String {
        node_config(&self.nats, self.sim.addr, node, wal_extra)
    }

    /// Starts `node` on an empty log, waits until it leads, and funds the omni account and
    /// customer 123456789 for thousands of orders.
    fn first_leader(&self, node: &str, wal_extra: &str) -> Gateway {
        let leader = Gateway::start_in(
            Arc::new(TempDir::new("ha-leader")),
            &self.config(node, wal_extra),
        );
        wait_role(&leader, "leader", Duration::from_secs(10));
        leader.fund_omni("100000000");
        let funded = leader.admin(
            "PUT",
            "/admin/customers/123456789",
            r#"{"customerId":"c-1","cash":"100000000"}"#,
        );
        assert_eq!(funded.status, 200, "{}", funded.text());
        leader
    }
}

/// Sends orders `<tag>-<n>` to `leader`, each accepted, until the stream no longer holds
/// record `past` (snapshots trim it in the background); returns how many were sent.
fn send_until_trimmed(leader: &Gateway, nats: &Nats, past: u64, tag: &str) -> usize {
    let mut sent = 0;
    wait_for("the stream to be trimmed", Duration::from_secs(120), || {
        for _ in 0..50 {
            sent += 1;
            assert_eq!(
                post(leader.order, &order(&format!("{tag}-{sent}")))
                    .unwrap()
                    .0,
                200
            );
        }
        (nats.first_seq("OMNIGATE") > past).then_some(())
    });
    sent
}

fn health(node: &Gateway) -> serde_json::Value {
    node.admin("GET", "/admin/health", "").json()
}

fn applied(node: &Gateway) -> u64 {
    health(node)["applied_seq"].as_u64().expect("applied_seq")
}

/// Waits until `node` names `leader` as the leader (a follower has read the lease).
fn wait_leader_named(node: &Gateway, leader: &str) {
    wait_for(
        &format!("the node to name {leader} the leader"),
        Duration::from_secs(10),
        || (health(node)["leader"] == leader).then_some(()),
    );
}

fn wait_role(node: &Gateway, role: &str, within: Duration) {
    wait_for(&format!("the node to be {role}"), within, || {
        (health(node)["role"] == role).then_some(())
    });
}

/// Waits until `follower` has applied everything `leader` has.
fn wait_caught_up(follower: &Gateway, leader: &Gateway) {
    wait_for("the follower to catch up", Duration::from_secs(20), || {
        let target = applied(leader);
        (applied(follower) == target).then_some(())
    });
}

/// One POST of an order; `None` when the connection fails or closes without an answer (the
/// node was killed, or exited).
fn post(addr: SocketAddr, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "POST /back-office/orders HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: \
         application/json\r\nauthorization: Bearer demo-token\r\ndw-client-app-key: \
         demo-app-key\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn order(client_order_id: &str) -> String {
    market_buy(&format!(r#""clientOrderID":"{client_order_id}""#))
}

/// Acknowledged orders: clientOrderID → the upstream's orderId.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

/// Routers sending orders without pause to `targets` (the first that answers 200 wins),
/// each order once with its own clientOrderID.
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
    sent: Arc<AtomicU64>,
}

impl Load {
    fn start(tag: &str, targets: [SocketAddr; 2], acked: &Acked) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let workers = (0..4)
            .map(|worker| {
                let (stop, sent, acked) = (stop.clone(), sent.clone(), acked.clone());
                let tag = format!("{tag}-{worker}");
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let id = format!("{tag}-{n}");
                        sent.fetch_add(1, Ordering::Relaxed);
                        for target in targets {
                            if let Some((200, body)) = post(target, &order(&id)) {
                                let answer: serde_json::Value =
                                    serde_json::from_str(&body).expect("a JSON answer");
                                let order_id = answer["orderId"].as_str().expect("orderId");
                                acked
                                    .lock()
                                    .unwrap()
                                    .insert(id.clone(), order_id.to_owned());
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            workers,
            sent,
        }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.join().expect("a load worker");
        }
    }
}

fn sigkill_pid(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The simulator's orders, counted by clientOrderID.
fn upstream_counts(sim: &Simulator) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for order in sim.orders() {
        if let Some(id) = order["clientOrderID"].as_str() {
            *counts.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

fn reserved(node: &Gateway) -> String {
    node.customer("123456789")["reserved"]
        .as_str()
        .expect("reserved")
        .to_owned()
}

fn order_ids(node: &Gateway, state: &str) -> BTreeSet<String> {
    node.admin("GET", &format!("/admin/orders?state={state}"), "")
        .json()
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|order| order["orderId"].as_str().map(str::to_owned))
        .collect()
}

fn count_of(node: &Gateway, state: &str) -> usize {
    node.admin("GET", &format!("/admin/orders?state={state}"), "")
        .json()
        .as_array()
        .expect("orders")
        .len()
}

/// Two nodes, orders from four routers all along; the leader is SIGKILLed three times, the
/// role alternating. After each kill the other node serves within `lease_ms` + 1 s. At the
/// end every acknowledged order reached the upstream exactly once, and the leader holds
/// exactly the reservations of the orders it knows.
#[test]
fn the_follower_takes_over_when_the_leader_is_killed() {
    let rig = Rig::start();
    let sim = &rig.sim;
    let configs = ["node-a", "node-b"].map(|node| rig.config(node, ""));
    let mut leader = rig.first_leader("node-a", "");
    let dirs = [leader.dir.clone(), Arc::new(TempDir::new("ha-b"))];
    let mut follower = Gateway::start_in(dirs[1].clone(), &configs[1]);
    wait_leader_named(&follower, "node-a");
    wait_caught_up(&follower, &leader);
    assert_eq!(health(&follower)["role"], "follower");
    assert_eq!(health(&leader)["leader"], "node-a");

    // A follower decides nothing: orders and admin changes are sent to the leader; reads are
    // served.
    let refused = common::send(
        follower.order,
        "POST",
        "/back-office/orders",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer demo-token"),
            ("dw-client-app-key", "demo-app-key"),
        ],
        order("to-follower").as_bytes(),
    );
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.error().0, "NOT_LEADER");
    let leader_url = format!("http://{}", leader.order);
    assert_eq!(
        refused.header("x-omnigate-leader"),
        Some(leader_url.as_str())
    );
    let change = follower.admin("POST", "/admin/omni/cash", r#"{"amount":"1"}"#);
    assert_eq!(change.status, 503, "{}", change.text());
    assert_eq!(change.error().0, "NOT_LEADER");
    assert_eq!(follower.customer("123456789")["cash"], "100000000");

    // One order, to learn what each reserves.
    let (status, _) = post(leader.order, &order("first")).expect("an answer");
    assert_eq!(status, 200);
    let per_order: rust_decimal::Decimal = reserved(&leader).parse().unwrap();
    let acked: Acked = Arc::default();
    acked.lock().unwrap().insert("first".into(), String::new());

    let mut leader_index = 0;
    for cycle in 0..3 {
        let load = Load::start(&format!("c{cycle}"), [leader.order, follower.order], &acked);
        let before = acked.lock().unwrap().len();
        wait_for("orders to flow", Duration::from_secs(20), || {
            (acked.lock().unwrap().len() >= before + 40).then_some(())
        });
        let killed_pid = leader.pid();
        let killed_at = Instant::now();
        leader.kill();
        let probe = format!("probe-{cycle}");
        let mut attempt = 0;
        let took_over = loop {
            attempt += 1;
            let id = format!("{probe}-{attempt}");
            if let Some((200, body)) = post(follower.order, &order(&id)) {
                let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                let order_id = answer["orderId"].as_str().unwrap().to_owned();
                acked.lock().unwrap().insert(id, order_id);
                break killed_at.elapsed();
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "no node took over"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        println!(
            "cycle {cycle}: killed the leader (pid {killed_pid}); the follower served an order \
             {} ms later (ha.lease_ms = {LEASE_MS})",
            took_over.as_millis()
        );
        assert!(
            took_over <= Duration::from_millis(LEASE_MS + 1000),
            "took over in {took_over:?}"
        );
        // Orders keep flowing to the new leader for a moment, then stop.
        let after = acked.lock().unwrap().len();
        wait_for("orders to flow again", Duration::from_secs(20), || {
            (acked.lock().unwrap().len() >= after + 20).then_some(())
        });
        let sent = load.sent.load(Ordering::Relaxed);
        load.finish();
        println!("cycle {cycle}: {sent} orders sent");

        // The killed node comes back as a follower of the new leader.
        let restarted = Gateway::start_in(dirs[leader_index].clone(), &configs[leader_index]);
        wait_leader_named(&restarted, ["node-a", "node-b"][1 - leader_index]);
        wait_caught_up(&restarted, &follower);
        assert_eq!(health(&restarted)["role"], "follower");
        leader = std::mem::replace(&mut follower, restarted);
        leader_index = 1 - leader_index;
        assert_eq!(health(&leader)["role"], "leader");
    }

    // Every acknowledged order reached DriveWealth exactly once; nothing went twice.
    let counts = upstream_counts(sim);
    let acked = acked.lock().unwrap().clone();
    for id in acked.keys() {
        assert_eq!(counts.get(id), Some(&1), "acknowledged order {id} upstream");
    }
    assert!(
        counts.values().all(|&n| n == 1),
        "an order reached the upstream twice"
    );
    // Orders the killed leaders made durable but never saw answered are held in doubt: an
    // operator settles each by what DriveWealth has (here, the simulator's record).
    let upstream_ids: BTreeMap<String, String> = sim
        .orders()
        .iter()
        .filter_map(|order| {
            Some((
                order["clientOrderID"].as_str()?.to_owned(),
                order["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let in_doubt = leader
        .admin("GET", "/admin/orders?state=in_doubt", "")
        .json();
    let in_doubt = in_doubt.as_array().unwrap();
    println!("{} orders in doubt after the kills", in_doubt.len());
    for order in in_doubt {
        let local = order["localId"].as_str().unwrap();
        let client_order_id = order["clientOrderID"].as_str().unwrap();
        let outcome = match upstream_ids.get(client_order_id) {
            Some(order_id) => format!(r#"{{"outcome":"placed","orderId":"{order_id}"}}"#),
            None => r#"{"outcome":"not_placed"}"#.to_owned(),
        };
        let resolved = leader.admin("POST", &format!("/admin/orders/{local}/resolve"), &outcome);
        assert_eq!(resolved.status, 200, "{}", resolved.text());
    }
    // Now the leader holds open exactly the orders DriveWealth has — every acknowledged one
    // among them, under the upstream's id — and reserves exactly what they need.
    let open = order_ids(&leader, "open");
    let upstream: BTreeSet<String> = sim
        .orders()
        .iter()
        .filter_map(|order| order["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(open, upstream);
    for (id, order_id) in &acked {
        if id != "first" {
            assert!(
                open.contains(order_id),
                "acknowledged {id} ({order_id}) is open"
            );
        }
    }
    assert_eq!(count_of(&leader, "in_doubt"), 0);
    assert_eq!(
        reserved(&leader).parse::<rust_decimal::Decimal>().unwrap(),
        per_order * rust_decimal::Decimal::from(open.len()),
        "{} orders open",
        open.len()
    );
    // And the follower holds the same.
    wait_caught_up(&follower, &leader);
    assert_eq!(reserved(&follower), reserved(&leader));
    assert_eq!(order_ids(&follower, "open"), open);
}

/// A leader frozen past its lease (SIGSTOP) is replaced; woken (SIGCONT), it forwards nothing
/// — the order it was sent while frozen is answered `503` or not at all — and exits (75) to
/// rejoin.
#[test]
fn a_frozen_leader_forwards_nothing_when_it_wakes() {
    let rig = Rig::start();
    let sim = &rig.sim;
    let mut a = rig.first_leader("node-a", "");
    let b = Gateway::start_in(Arc::new(TempDir::new("ha-b")), &rig.config("node-b", ""));
    wait_caught_up(&b, &a);
    assert_eq!(post(a.order, &order("before")).unwrap().0, 200);

    sigkill_pid(a.pid(), "-STOP");
    let frozen_addr = a.order;
    let to_frozen = std::thread::spawn(move || post(frozen_addr, &order("sent-while-frozen")));
    wait_role(&b, "leader", Duration::from_secs(10));
    let (status, body) = post(b.order, &order("new-leader")).unwrap();
    assert_eq!(status, 200, "{body}");
    sigkill_pid(a.pid(), "-CONT");

    let answer = to_frozen.join().unwrap();
    assert!(
        !matches!(answer, Some((200, _))),
        "the old leader accepted an order: {answer:?}"
    );
    // Refused at the door once the deadline has passed (NOT_LEADER), or — when the freeze
    // caught the order between the door and the log — by the log, which publishes nothing
    // past the deadline (STORAGE_UNAVAILABLE). Either way, never forwarded.
    if let Some((status, body)) = &answer {
        assert_eq!(*status, 503, "{body}");
        assert!(
            body.contains("NOT_LEADER") || body.contains("STORAGE_UNAVAILABLE"),
            "{body}"
        );
    }
    let exit = wait_for("the old leader to exit", Duration::from_secs(10), || {
        a.exit_status()
    });
    assert_eq!(
        exit.code(),
        Some(75),
        "the old leader exits to rejoin: {exit}"
    );
    let counts = upstream_counts(sim);
    assert_eq!(
        counts.get("sent-while-frozen"),
        None,
        "the old leader forwarded"
    );
    assert_eq!(counts.get("new-leader"), Some(&1));
    assert_eq!(counts.get("before"), Some(&1));
    assert_eq!(health(&b)["role"], "leader");
}

/// Nodes whose WAL is behind the stream's trim — one empty, one that was down while the
/// stream was trimmed past its end — start from the object store's snapshot and the stream's
/// tail, and reach the leader's state exactly.
#[test]
fn an_empty_node_catches_up_from_the_snapshot_and_the_stream() {
    let rig = Rig::start();
    let config = |node: &str| rig.config(node, "snapshot_every = 20");
    let a = rig.first_leader("node-a", "snapshot_every = 20");
    // A follower with a WAL of its own, stopped after a while.
    let b_dir = Arc::new(TempDir::new("ha-b"));
    let b_log = b_dir.path().join("omnigate.log");
    let b = Gateway::start_logged(b_dir.clone(), &config("node-b"), &b_log);
    for n in 0..10 {
        assert_eq!(post(a.order, &order(&format!("first-{n}"))).unwrap().0, 200);
    }
    wait_caught_up(&b, &a);
    let b_end = applied(&b);
    b.kill();
    // Snapshots are taken in the background (each waits for as many records as the last one
    // held entries); the second trims the stream behind the first. Orders go on until the
    // stream no longer holds the record after b's end.
    let sent = 10 + send_until_trimmed(&a, &rig.nats, b_end + 1, "o");

    let c_dir = Arc::new(TempDir::new("ha-c"));
    let c_log = c_dir.path().join("omnigate.log");
    let c = Gateway::start_logged(c_dir.clone(), &config("node-c"), &c_log);
    let b = Gateway::start_logged(b_dir.clone(), &config("node-b"), &b_log);
    for (node, log) in [(&c, &c_log), (&b, &b_log)] {
        wait_caught_up(node, &a);
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            text.contains("starting from its snapshot"),
            "{log:?}: the node did not start from the snapshot"
        );
        assert_eq!(health(node)["role"], "follower");
        assert_eq!(node.customer("123456789"), a.customer("123456789"));
        assert_eq!(node.omni(), a.omni());
        assert_eq!(order_ids(node, "open"), order_ids(&a, "open"));
    }
    assert_eq!(order_ids(&a, "open").len(), sent);
}

/// A follower frozen while the stream is trimmed past it finds, on waking, that the stream no
/// longer follows on from its state: it exits (75) rather than apply a log with a hole, and a
/// restart rebuilds it from the snapshot to the leader's state.
#[test]
fn a_follower_trimmed_past_stops_and_rebuilds_on_restart() {
    let rig = Rig::start();
    let config = |node: &str| rig.config(node, "snapshot_every = 20");
    let a = rig.first_leader("node-a", "snapshot_every = 20");
    let b_dir = Arc::new(TempDir::new("ha-b"));
    let mut b = Gateway::start_in(b_dir.clone(), &config("node-b"));
    wait_caught_up(&b, &a);
    let b_end = applied(&b);
    sigkill_pid(b.pid(), "-STOP");
    // Records the stream had already sent to the frozen node are in its socket; trim well
    // past what one fetch of its consumer can hold.
    let sent = send_until_trimmed(&a, &rig.nats, b_end + 3000, "t");
    sigkill_pid(b.pid(), "-CONT");
    let exit = wait_for(
        "the trimmed follower to exit",
        Duration::from_secs(20),
        || b.exit_status(),
    );
    assert_eq!(exit.code(), Some(75), "{exit}");
    drop(b);
    let b = Gateway::start_in(b_dir, &config("node-b"));
    wait_caught_up(&b, &a);
    assert_eq!(b.customer("123456789"), a.customer("123456789"));
    assert_eq!(order_ids(&b, "open"), order_ids(&a, "open"));
    assert_eq!(order_ids(&b, "open").len(), sent);
}
