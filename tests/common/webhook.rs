//! A webhook receiver for the simulator's events: a loopback HTTP/1.1 server (keep-alive, as the
//! simulator's pooled client speaks it) that records every request and answers a failure status
//! (503 unless told) to the first `failures` of them, 200 after.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub status_sent: u16,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

pub struct WebhookReceiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl WebhookReceiver {
    pub fn start(failures: u64) -> WebhookReceiver {
        WebhookReceiver::failing_with(failures, 503)
    }

    /// The first `failures` requests are answered `status`.
    pub fn failing_with(failures: u64, status: u16) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures_left = Arc::new(AtomicU64::new(failures));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                let failures_left = failures_left.clone();
                std::thread::spawn(move || serve(stream, &log, &failures_left, status));
            }
        });
        WebhookReceiver { addr, received }
    }

    pub fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The accepted (200) deliveries, once there are at least `count` of them.
    pub fn wait_for_accepted(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let accepted: Vec<Received> = self
                .received()
                .into_iter()
                .filter(|received| received.status_sent == 200)
                .collect();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} events arrived: {:?}",
                accepted.len(),
                self.received()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, failures_left: &AtomicU64, failure: u16) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut authorization = None;
        let mut line = String::new();
        // The request line, then headers up to the blank line.
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = value.trim().parse().unwrap_or(0);
                } else if name == "authorization" {
                    authorization = Some(value.trim().to_owned());
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let failing = failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        let status_sent = if failing { failure } else { 200 };
        log.lock().unwrap().push(Received {
            status_sent,
            authorization,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        });
        let reason = if failing { "Failed" } else { "OK" };
        let answer = format!("HTTP/1.1 {status_sent} {reason}\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
