//! The simulator's event outbox: every change posted as DriveWealth's event envelope
//! (`{id: "event_<uuid>", type, timestamp, payload}`) to `simulator.webhook_url`, one at a time
//! and in order, each retried with backoff until the receiver answers 2xx, and sent a second
//! time on purpose `simulator.webhook_duplicate_pct` percent of the time (SPEC §9, "Events";
//! `drivewealth/`: "Events can arrive out of order or more than once").
//!
//! A receiver that is down, slow or failing (no answer, 5xx, 408, 429) is retried for as long
//! as it takes. A receiver that refuses one event outright (any other 4xx, e.g. a deposit for an
//! account it does not keep) has it retried [`REFUSALS_MAX`] times and then set aside, counted as
//! `dead_lettered`, as a queue's dead-letter policy would: one event a receiver will never take
//! must not hold back every event after it.
//!
//! Posting never waits: events go into a bounded queue that one delivery task drains. When the
//! receiver stays down long enough for the queue to fill, further events are dropped and
//! counted (`GET /sim/events`), so a dead webhook cannot grow the simulator without end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::SecondsFormat;
use http::{HeaderValue, Method, Request, Uri};
use tokio::sync::{mpsc, watch};

use super::faults::{mix64, Dice};
use super::stopped_signalled;
use super::wire::JsonObject;
use crate::clock::Clock;
use crate::config::{UpstreamBase, UpstreamConfig};
use crate::upstream::{full, Upstream};

/// Events held for delivery at most.
pub const QUEUE_CAPACITY: usize = 100_000;
/// First wait after a failed delivery; it doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(50);
pub const RETRY_MAX: Duration = Duration::from_secs(2);
/// Attempts at an event the receiver refuses (a 4xx but 408 and 429) before it is set aside.
pub const REFUSALS_MAX: u32 = 5;
/// Most bytes of a receiver's answer read (it is drained so the connection can be reused).
const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// Where events go.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    /// Sent as `Authorization: Bearer …` (omnigate's `POST /admin/events` needs one).
    pub token: Option<String>,
}

/// One event, as sent.
struct Event {
    id: String,
    body: Bytes,
}

#[derive(Default)]
struct Counters {
    posted: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    attempts: AtomicU64,
    failed_attempts: AtomicU64,
    dead_lettered: AtomicU64,
    dropped: AtomicU64,
}

/// Why one attempt failed.
enum Failure {
    /// Down, slow or failing: worth retrying for as long as it takes.
    Transient(String),
    /// The receiver answered that it will not take this event.
    Refused(String),
}

pub struct Outbox {
    queue: Option<mpsc::Sender<Event>>,
    clock: Arc<dyn Clock>,
    /// Event ids: a bijection of the sequence number, apart for each start.
    epoch: u64,
    sequence: AtomicU64,
    counters: Arc<Counters>,
}

/// The delivery side, run by [`Delivery::run`].
pub struct Delivery {
    events: mpsc::Receiver<Event>,
    client: Upstream,
    uri: Uri,
    authorization: Option<HeaderValue>,
    duplicate_pct: u8,
    dice: Dice,
    counters: Arc<Counters>,
}

impl Outbox {
    /// The outbox, and its delivery task when there is a webhook. `Err` says why the URL or
    /// token cannot be used.
    pub fn new(
        webhook: Option<&Webhook>,
        duplicate_pct: u8,
        seed: u64,
        epoch: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<(Outbox, Option<Delivery>), String> {
        let counters = Arc::new(Counters::default());
        let mut outbox = Outbox {
            queue: None,
            clock,
            epoch,
            sequence: AtomicU64::new(0),
            counters: Arc::clone(&counters),
        };
        let Some(webhook) = webhook else {
            return Ok((outbox, None));
        };
        let base = UpstreamBase::parse(&webhook.url)?;
        let uri: Uri = webhook
            .url
            .parse()
            .map_err(|error| format!("{:?} is not a URL: {error}", webhook.url))?;
        let client = Upstream::new(base, &UpstreamConfig::default())?;
        let authorization = match &webhook.token {
            Some(token) => Some(
                HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| "the webhook token is not a valid header value".to_owned())?,
            ),
            None => None,
        };
        let (sender, events) = mpsc::channel(QUEUE_CAPACITY);
        outbox.queue = Some(sender);
        let delivery = Delivery {
            events,
            client,
            uri,
            authorization,
            duplicate_pct: duplicate_pct.min(100),
            dice: Dice::new(seed ^ 0x4556_454e_5453_0000),
            counters,
        };
        Ok((outbox, Some(delivery)))
    }

    /// Queues `payload` (a JSON object) as an event of `kind`; never waits.
    pub fn post(&self, kind: &str, payload: &str) {
        let Some(queue) = &self.queue else {
            return;
        };
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let id = event_id(self.epoch, sequence);
        let mut envelope = JsonObject::new();
        envelope
            .string("id", &id)
            .string("type", kind)
            .string(
                "timestamp",
                &self.clock.now().to_rfc3339_opts(SecondsFormat::Nanos, true),
            )
            .raw("payload", payload);
        let event = Event {
            id,
            body: Bytes::from(envelope.finish()),
        };
        self.counters.posted.fetch_add(1, Ordering::Relaxed);
        if queue.try_send(event).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(kind, "simulator: event queue full, event dropped");
        }
    }

    /// `GET /sim/events`: what was posted, delivered, retried, duplicated, set aside and dropped.
    pub fn to_json(&self) -> String {
        let counters = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut object = JsonObject::new();
        object
            .boolean("webhook", self.queue.is_some())
            .integer("posted", load(&counters.posted))
            .integer("delivered", load(&counters.delivered))
            .integer("duplicates", load(&counters.duplicates))
            .integer("attempts", load(&counters.attempts))
            .integer("failed_attempts", load(&counters.failed_attempts))
            .integer("dead_lettered", load(&counters.dead_lettered))
            .integer("dropped", load(&counters.dropped));
        object.finish()
    }
}

/// `event_` and a UUID-shaped 128-bit id.
fn event_id(epoch: u64, sequence: u64) -> String {
    let low = mix64(sequence ^ mix64(epoch));
    let high = mix64(low ^ epoch.rotate_left(17));
    let hex = format!("{high:016x}{low:016x}");
    format!(
        "event_{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Delivery {
    /// Delivers until the simulator stops; events still queued then are dropped with it.
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        loop {
            let event = tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
                _ = stopped_signalled(&mut stopped) => return,
            };
            match self.deliver(&event, &mut stopped).await {
                Delivered::Taken => {}
                Delivered::SetAside => continue,
                Delivered::Stopped => return,
            }
            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            if self.duplicate_pct > 0 && self.dice.roll_pct() < self.duplicate_pct {
                self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                if let Delivered::Stopped = self.deliver(&event, &mut stopped).await {
                    return;
                }
            }
        }
    }

    /// Posts one event until the receiver takes it (or refuses it [`REFUSALS_MAX`] times), or
    /// the simulator stops.
    async fn deliver(&self, event: &Event, stopped: &mut watch::Receiver<bool>) -> Delivered {
        let mut wait = RETRY_FIRST;
        let mut refusals = 0;
        loop {
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            match self.attempt(event).await {
                Ok(()) => return Delivered::Taken,
                Err(Failure::Transient(why)) => {
                    self.counters
                        .failed_attempts
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(event = %event.id, %why, "simulator: webhook delivery failed");
                }
                Err(Failure::Refused(why)) => {
                    self.counters
                        .failed_attempts
                        .fetch_add(1, Ordering::Relaxed);
                    refusals += 1;
                    if refusals >= REFUSALS_MAX {
                        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(event = %event.id, %why, "simulator: webhook refused an event {REFUSALS_MAX} times; set aside");
                        return Delivered::SetAside;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped_signalled(stopped) => return Delivered::Stopped,
            }
            wait = (wait * 2).min(RETRY_MAX);
        }
    }

    async fn attempt(&self, event: &Event) -> Result<(), Failure> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header(http::header::AUTHORIZATION, authorization.clone());
        }
        let request = request
            .body(full(event.body.clone()))
            .map_err(|error| Failure::Transient(error.to_string()))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|error| Failure::Transient(error.to_string()))?;
        let status = response.status();
        // Read to the end, so the connection goes back to the pool.
        let _ = self.client.read_body(response, ANSWER_BYTES_MAX).await;
        let why = format!("answered {status}");
        match status.as_u16() {
            200..=299 => Ok(()),
            408 | 429 => Err(Failure::Transient(why)),
            400..=499 => Err(Failure::Refused(why)),
            _ => Err(Failure::Transient(why)),
        }
    }
}

/// How one event's delivery ended.
enum Delivered {
    Taken,
    SetAside,
    Stopped,
}

/// Counts, for the tests next door.
#[cfg(test)]
impl Outbox {
    pub fn posted(&self) -> u64 {
        self.counters.posted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_uuid_shaped_and_distinct() {
        let ids: std::collections::HashSet<String> = (1..=1000).map(|n| event_id(42, n)).collect();
        assert_eq!(ids.len(), 1000);
        let id = event_id(42, 1);
        assert_eq!(id.len(), "event_".len() + 36, "{id}");
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(event_id(42, 1), event_id(43, 1));
    }

    #[test]
    fn without_a_webhook_nothing_is_queued() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let (outbox, delivery) = Outbox::new(None, 0, 1, 1, clock).unwrap();
        assert!(delivery.is_none());
        outbox.post("orders.created", "{}");
        assert_eq!(outbox.posted(), 0);
        assert!(outbox.to_json().contains(r#""webhook":false"#));
    }

    #[tokio::test]
    async fn a_bad_url_is_refused() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let webhook = Webhook {
            url: "ftp://example.com/events".to_owned(),
            token: None,
        };
        assert!(Outbox::new(Some(&webhook), 0, 1, 1, clock).is_err());
    }
}
