//! Black-box harness: starts the real `omnigate` binary on port 0 and talks HTTP/1.1 to it over
//! plain sockets, so tests see exactly the bytes a router would.

#![allow(dead_code)] // each test file uses a different part of the harness
pub mod ledger_ops;
pub mod webhook;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running `omnigate run`, killed on drop.
pub struct Gateway {
    child: Child,
    pub order: SocketAddr,
    pub admin: SocketAddr,
    /// The in-process simulator, when the config has no `upstream.url`.
    pub simulator: Option<SocketAddr>,
    pub dir: std::sync::Arc<TempDir>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch folder removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("omnigate-test-{tag}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_omnigate")
}

/// The instrument master every test gateway starts with (written next to its config).
pub const INSTRUMENTS: &str = r#"{"symbol":"AAPL","instrumentID":"a67422af-8504-43df-9e63-7361eb0bd99e","ISIN":"US0378331005","assetClass":"EQUITY","exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"190.00"}
{"symbol":"SPY","instrumentID":"c9a5f4f2-8a3d-4f57-8e1f-2e5b0c6d7a22","ISIN":"US78462F1030","assetClass":"ETF","exchange":"ARCA","status":"ACTIVE","fractionable":true,"price":"560.00"}
{"symbol":"BRK.A","instrumentID":"d4e8b1c3-5f6a-4b7c-9d0e-1f2a3b4c5d33","assetClass":"EQUITY","exchange":"NYSE","status":"ACTIVE","fractionable":false,"price":"700000.00"}
{"symbol":"BTC","instrumentID":"e5f9c2d4-6a7b-4c8d-8e1f-2a3b4c5d6e44","assetClass":"CRYPTO","exchange":"CRYPTO","status":"ACTIVE","fractionable":true,"price":"65000.00"}
"#;

/// The customers every test gateway starts with.
pub const CUSTOMERS: &str = r#"{"clientID":"123456789","customerId":"c-1","cash":"100000.00","positions":{"AAPL":"10"}}
{"clientID":"CUST0A19F","customerId":"c-2","cash":"1000.00"}
"#;

/// A config on ephemeral loopback ports with a fixed admin token and the standard test book;
/// `server_extra` goes into `[server]`, `rest` is appended.
pub fn config(server_extra: &str, rest: &str) -> String {
    let rest = around_the_clock(rest);
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nadmin_token = \"{ADMIN_TOKEN}\"\n{server_extra}\n\n[omnibus]\naccount_numbers = [\"DWOM000001\"]\n\n[bootstrap]\ninstruments = \"instruments.jsonl\"\ncustomers = \"customers.jsonl\"\n\n{rest}\n"
    )
}

/// Test gateways run at whatever hour the suite runs: their simulator trades around the clock
/// (`simulator.market_hours = false`) unless the test's own `[simulator]` section sets
/// `market_hours`, as the tests of hours do.
pub fn around_the_clock(rest: &str) -> String {
    if rest.contains("market_hours") {
        rest.to_owned()
    } else if rest.contains("[simulator]\n") {
        rest.replacen("[simulator]\n", "[simulator]\nmarket_hours = false\n", 1)
    } else {
        format!("{rest}\n[simulator]\nmarket_hours = false\n")
    }
}

impl Gateway {
    /// Starts `omnigate run --config` on `config_text` and waits (with a deadline) until it
    /// prints where it listens.
    pub fn start(config_text: &str) -> Gateway {
        Gateway::start_in(std::sync::Arc::new(TempDir::new("gw")), config_text)
    }

    /// Starts in `dir`, which may hold the WAL of an earlier run (restart tests).
    pub fn start_in(dir: std::sync::Arc<TempDir>, config_text: &str) -> Gateway {
        Gateway::start_with(dir, config_text, None)
    }

    /// Starts with every log line (`RUST_LOG=debug`) written to `log`, for tests that read
    /// what omnigate logs.
    pub fn start_logged(dir: std::sync::Arc<TempDir>, config_text: &str, log: &Path) -> Gateway {
        Gateway::start_with(dir, config_text, Some(log))
    }

    fn start_with(dir: std::sync::Arc<TempDir>, config_text: &str, log: Option<&Path>) -> Gateway {
        dir.file("instruments.jsonl", INSTRUMENTS);
        dir.file("customers.jsonl", CUSTOMERS);
        let path = dir.file("omnigate.toml", config_text);
        let (level, stderr) = match log {
            None => ("error", Stdio::inherit()),
            Some(log) => (
                "debug",
                Stdio::from(std::fs::File::create(log).expect("log file")),
            ),
        };
        let mut child = Command::new(binary())
            .args(["run", "--config"])
            .arg(&path)
            .current_dir(dir.path())
            .env_remove("OMNIGATE_ADMIN_TOKEN")
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn omnigate");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut order, mut admin, mut simulator) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while order.is_none() || admin.is_none() || !banner_done(&simulator) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!("omnigate did not print its addresses in time");
                }
            };
            if let Some(rest) = line.trim().strip_prefix("order API:") {
                order = Some(address_in(rest));
            } else if let Some(rest) = line.trim().strip_prefix("admin API:") {
                admin = Some(address_in(rest));
            } else if let Some(rest) = line.trim().strip_prefix("upstream:") {
                simulator = Some(rest.contains("simulator").then(|| address_in(rest)));
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Gateway {
            child,
            order: order.unwrap(),
            admin: admin.unwrap(),
            simulator: simulator.flatten(),
            dir,
        }
    }

    pub fn post_order(&self, body: &str) -> Response {
        send(
            self.order,
            "POST",
            "/back-office/orders",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    pub fn admin(&self, method: &str, path: &str, body: &str) -> Response {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        send(
            self.admin,
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// Deposits `amount` into the omni account.
    pub fn fund_omni(&self, amount: &str) {
        let response = self.admin(
            "POST",
            "/admin/omni/cash",
            &format!(r#"{{"amount":"{amount}"}}"#),
        );
        assert_eq!(response.status, 200, "{}", response.text());
    }

    /// Stops the in-process simulator's fills, so a test moves orders with events alone.
    pub fn pause_fills(&self) {
        pause_fills_at(self.simulator.expect("an in-process simulator"));
    }

    /// Moves the gateway's clock (needs `clock.adjustable = true`).
    pub fn set_clock(&self, rfc3339: &str) {
        let response = self.admin("PUT", "/admin/clock", &format!(r#"{{"now":"{rfc3339}"}}"#));
        assert_eq!(response.status, 200, "{}", response.text());
    }

    /// `GET /admin/customers/{clientID}` as JSON.
    pub fn customer(&self, client_id: &str) -> serde_json::Value {
        let response = self.admin("GET", &format!("/admin/customers/{client_id}"), "");
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }

    /// `GET /admin/omni` as JSON.
    pub fn omni(&self) -> serde_json::Value {
        let response = self.admin("GET", "/admin/omni", "");
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }

    /// How many requests the in-process simulator has received on DriveWealth's paths.
    pub fn upstream_requests(&self) -> u64 {
        let simulator = self.simulator.expect("in-process simulator");
        let response = send(simulator, "GET", "/sim/requests/count", &[], b"");
        response.json()["count"].as_u64().expect("count")
    }

    /// Every order the simulator accepted, as it recorded them.
    pub fn upstream_orders(&self) -> Vec<serde_json::Value> {
        let simulator = self.simulator.expect("in-process simulator");
        let response = send(simulator, "GET", "/sim/orders", &[], b"");
        response.json().as_array().expect("array").clone()
    }

    /// SIGKILL: no shutdown, no final snapshot.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "omnigate exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("omnigate did not stop within 20 s of SIGTERM");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file the gateway was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("omnigate.toml")
    }

    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

fn banner_done(simulator: &Option<Option<SocketAddr>>) -> bool {
    simulator.is_some()
}

/// The first `host:port` after `http://` in a banner line.
fn address_in(text: &str) -> SocketAddr {
    let start = text.find("://").expect("an http:// or https:// address") + "://".len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ')')
        .unwrap_or(rest.len());
    rest[..end].parse().expect("a socket address")
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    /// The spec's error body: (errorCode, message).
    pub fn error(&self) -> (String, String) {
        let json = self.json();
        (
            json["errorCode"].as_str().unwrap_or_default().to_owned(),
            json["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// One request on a fresh connection (`connection: close`), with a content-length body.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send_raw(addr, &raw)
}

/// `PATCH /back-office/orders/{order_id}` `{"method":"CANCEL"}` at `addr` (omnigate's order
/// listener or a simulator).
pub fn cancel_at(addr: SocketAddr, order_id: &str) -> Response {
    send(
        addr,
        "PATCH",
        &format!("/back-office/orders/{order_id}"),
        &[("content-type", "application/json")],
        br#"{"method":"CANCEL"}"#,
    )
}

/// A MARKET BUY of AAPL for customer `123456789` with `fields` added: quantity 1 unless they
/// give a quantity or an amountCash.
pub fn market_buy(fields: &str) -> String {
    let base = r#""accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","clientID":"123456789""#;
    if fields.contains("\"quantity\"") || fields.contains("\"amountCash\"") {
        format!("{{{base},{fields}}}")
    } else {
        format!(
            "{{{base},\"quantity\":1{}{fields}}}",
            if fields.is_empty() { "" } else { "," }
        )
    }
}

/// Holds every order of the simulator at `simulator` where it is (`PUT /sim/fills`).
pub fn pause_fills_at(simulator: SocketAddr) {
    let paused = send(
        simulator,
        "PUT",
        "/sim/fills",
        &[("content-type", "application/json")],
        br#"{"paused":true}"#,
    );
    assert_eq!(paused.status, 200, "{}", paused.text());
}

/// Writes `raw` bytes and reads the answer until the server closes.
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Response {
    try_send_raw(addr, raw, None)
        .unwrap_or_else(|| panic!("no HTTP answer to {:?}", String::from_utf8_lossy(raw)))
}

/// Writes `raw` (pausing `pause` after its first `split` bytes, to play a slow client) and
/// reads until the server closes; `None` when the server closed without an HTTP answer.
pub fn try_send_raw(
    addr: SocketAddr,
    raw: &[u8],
    slow: Option<(usize, Duration)>,
) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A server may answer (and close) before reading an oversized body; that is fine.
    match slow {
        None => {
            let _ = stream.write_all(raw);
        }
        Some((split, pause)) => {
            let _ = stream.write_all(&raw[..split]);
            std::thread::sleep(pause);
            let _ = stream.write_all(&raw[split..]);
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
        .windows(4)
        .any(|window| window == b"\r\n\r\n")
        .then(|| parse_response(&answer))
}

fn parse_response(answer: &[u8]) -> Response {
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = answer[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
}

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A loopback port with nothing listening on it.
pub fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// An upstream that accepts connections and reads requests but never answers.
pub struct SilentUpstream {
    pub addr: SocketAddr,
    pub accepted: std::sync::Arc<AtomicU64>,
}

impl SilentUpstream {
    pub fn start() -> SilentUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = std::sync::Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream); // never answered, never closed
            }
        });
        SilentUpstream { addr, accepted }
    }
}

/// `omnigate sim` as its own process, so it outlives gateway restarts.
pub struct Simulator {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Simulator {
    pub fn start(simulator_section: &str) -> Simulator {
        let dir = TempDir::new("sim");
        let path = dir.file(
            "sim.toml",
            &around_the_clock(&format!(
                "[simulator]\nlisten = \"127.0.0.1:0\"\n{simulator_section}\n"
            )),
        );
        Simulator::spawn(dir, &path)
    }

    fn spawn(dir: TempDir, path: &Path) -> Simulator {
        let mut child = Command::new(binary())
            .args(["sim", "--config"])
            .arg(path)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn omnigate sim");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("the simulator prints where it listens");
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Simulator {
            child,
            addr: address_in(&line),
            _dir: dir,
        }
    }

    /// `omnigate sim` listing the standard test instruments (`[bootstrap] instruments`), so
    /// each trades on its own exchange and asset class; `simulator_section` goes into
    /// `[simulator]`, `rest` after it.
    pub fn start_listed(simulator_section: &str, rest: &str) -> Simulator {
        let dir = TempDir::new("sim");
        dir.file("instruments.jsonl", INSTRUMENTS);
        let path = dir.file(
            "sim.toml",
            &around_the_clock(&format!(
                "[bootstrap]\ninstruments = \"instruments.jsonl\"\n\n[simulator]\nlisten = \"127.0.0.1:0\"\n{simulator_section}\n{rest}\n"
            )),
        );
        Simulator::spawn(dir, &path)
    }

    /// A JSON request to the simulator.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Response {
        send(
            self.addr,
            method,
            path,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    pub fn orders(&self) -> Vec<serde_json::Value> {
        send(self.addr, "GET", "/sim/orders", &[], b"")
            .json()
            .as_array()
            .expect("array")
            .clone()
    }
}
