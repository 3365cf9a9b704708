//! A DriveWealth simulator: the order endpoints with DriveWealth's shapes, fills on timers, and
//! seeded fault injection. It runs as `omnigate sim` and as the in-process default upstream.
//!
//! # Layout
//!
//! - [`book`]: one order's lifecycle as a pure state machine (NEW → PARTIAL_FILL → FILLED, …).
//! - `wire`: request bodies in (numbers read exactly), DriveWealth JSON out, error bodies.
//! - `auth`: DriveWealth's tokens, issued and (with `simulator.require_auth`) required.
//! - `faults`: the seeded dice and the fault rates.
//! - `server`: HTTP/1.1 keep-alive serving, routing, and the faults applied to connections.
//! - this file: [`Simulator`], the shared state the handlers and fill timers work on.
//!
//! # Endpoints
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /back-office/auth/tokens` `{clientID, clientSecret}` | 200 `{token_type, expires_in, access_token, scope}`; with `simulator.require_auth` every other `/back-office/*` path needs a live `Authorization: Bearer` token and a `dw-client-app-key`, else 401 `E401` |
//! | `POST /back-office/orders` | 200 `{"orderId":"SM.<32 hex>","orderNo":"SM<2 letters><6 digits>"}` (the letters, and the ids, differ from one start to the next); 400 `E032`; 422 `A051` for an `accountNo` starting with `REJECT`; 503 `E503` when the book is full |
//! | `GET /back-office/orders/{id}` | 200 `OrderStatusResponse`; 404 `O001` |
//! | `GET /back-office/orders/byOrderNo/{orderNo}` | the same, by order number |
//! | `PATCH /back-office/orders/{id}` `{"method":"CANCEL"}` | 200 `{"orderId","orderNo"}`; 422 `O002` when already final; 400 `E032`; 404 `O001` |
//! | `GET /sim/orders` | every accepted order in arrival order, with `requestBody` and `requestHeaders` |
//! | `GET /sim/requests/count` | `{"count": N}`: every request on `/back-office/*` received, faulted ones included |
//! | `POST /sim/prices` `[{"symbol","price"}]` | sets fill prices; `{"updated": N}` |
//! | `GET`/`PUT /sim/fills` `{"paused"?, "fill_delay_ms"?}` | reads / changes fill progression |
//! | `GET`/`PUT /sim/faults` `{"latency_ms"?, "timeout_pct"?, "error_pct"?, "reset_pct"?}` | reads / changes the fault rates |
//! | `GET`/`PUT /sim/clock` `{"now"}` | reads the simulator's time / moves it (`omnigate sim` with `simulator.clock_adjustable`; in-process, omnigate's `PUT /admin/clock` moves both) |
//!
//! Faults apply to `/back-office/*` only, never to `/sim/*`. A faulted request has no effect:
//! the dice are rolled before the request is handled, so a swallowed or reset create places no
//! order.

mod auth;
pub mod book;
mod faults;
mod server;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use self::book::{Order, Progress};
use self::faults::{mix64, Dice, Fault, FaultSettings};
use self::wire::{ApiError, FaultsUpdate, FillsUpdate, JsonObject};
use crate::clock::{Clock, ShiftedClock};
use crate::config::SimulatorConfig;
use crate::money::Fixed;

/// Most orders kept. Order numbers end in six digits, so this is also the last order
/// number; beyond it a create answers 503 rather than growing without end.
pub const ORDERS_MAX: usize = 999_999;
/// Most symbols with their own price.
pub const PRICED_SYMBOLS_MAX: usize = 100_000;

/// The DriveWealth simulator. Build with [`Simulator::new`], run with [`Simulator::serve`].
pub struct Simulator {
    /// Stamps each order's `created`.
    clock: Arc<dyn Clock>,
    /// Mixed into order ids, so runs with different seeds do not share ids.
    seed: u64,
    /// Drawn at random at start and mixed into order ids and numbers, so a restarted
    /// simulator never issues an id it issued before (DriveWealth's ids are unique forever,
    /// and omnigate refuses an id already bound to an open order).
    epoch: u64,
    /// Two letters of `epoch` that start every order number (`SM` + these + six digits).
    order_no_prefix: String,
    /// `POST /back-office/auth/tokens` and the check of every other DriveWealth path.
    tokens: auth::Tokens,
    /// Fill price of a symbol without its own price (and of orders without a limit price).
    default_price: Fixed,
    /// Fill prices by symbol: the config's, then `POST /sim/prices`.
    prices: RwLock<HashMap<String, Fixed>>,
    /// Every accepted order in arrival order, for `GET /sim/orders`; the index is the order
    /// number minus one.
    orders: RwLock<Vec<Arc<SimOrder>>>,
    /// Lookups by `orderId` and `orderNo`; a `DashMap` so that GETs never wait on creates.
    by_id: DashMap<String, Arc<SimOrder>>,
    by_order_no: DashMap<String, Arc<SimOrder>>,
    /// Rates and dice together: one lock keeps the roll sequence replayable by seed.
    faults: Mutex<FaultState>,
    /// Delay before each fill step.
    fill_delay_ms: AtomicU64,
    /// `PUT /sim/fills {"paused": true}` holds every order where it is.
    fills_paused: watch::Sender<bool>,
    /// Fill steps take it shared, `PUT /sim/fills` exclusively: once a pause is answered, no
    /// fill step is still under way.
    fill_gate: RwLock<()>,
    /// Set once by `serve` at shutdown: fill timers and held (timed-out) requests end.
    stopped: watch::Sender<bool>,
    /// Requests on any path but `/sim/*`: what reached "DriveWealth".
    requests_total: AtomicU64,
    /// Every request, for numbering.
    requests_seen: AtomicU64,
    /// `omnigate sim` with `simulator.clock_adjustable`: the clock `PUT /sim/clock` moves
    /// (the in-process simulator reads omnigate's clock instead).
    adjustable_clock: Option<Arc<ShiftedClock>>,
}

/// An accepted order with the request that placed it.
struct SimOrder {
    /// The create body exactly as received.
    request_body: String,
    /// The create request's headers, lower-case names, repeated values joined by `", "`.
    request_headers: Vec<(String, String)>,
    state: Mutex<Order>,
}

struct FaultState {
    settings: FaultSettings,
    dice: Dice,
}

impl Simulator {
    pub fn new(config: &SimulatorConfig, clock: Arc<dyn Clock>) -> Arc<Simulator> {
        Arc::new(Simulator::build(config, clock, None))
    }

    /// A simulator on a clock of its own that `PUT /sim/clock` moves (`omnigate sim` with
    /// `simulator.clock_adjustable = true`).
    pub fn with_adjustable_clock(config: &SimulatorConfig) -> Arc<Simulator> {
        let clock = Arc::new(ShiftedClock::new());
        Arc::new(Simulator::build(config, clock.clone(), Some(clock)))
    }

    fn build(
        config: &SimulatorConfig,
        clock: Arc<dyn Clock>,
        adjustable_clock: Option<Arc<ShiftedClock>>,
    ) -> Simulator {
        let prices = config
            .prices
            .iter()
            .map(|(symbol, price)| (symbol.clone(), price.0))
            .collect();
        let settings = FaultSettings {
            latency_ms: config.latency_ms,
            timeout_pct: config.timeout_pct.min(100),
            error_pct: config.error_pct.min(100),
            reset_pct: config.reset_pct.min(100),
        };
        let mut random = [0u8; 8];
        // Without the OS's randomness, the clock still tells one start from another.
        let epoch = match getrandom::getrandom(&mut random) {
            Ok(()) => u64::from_le_bytes(random),
            Err(_) => clock.now().timestamp_nanos_opt().unwrap_or_default() as u64,
        };
        let letter = |n: u64| char::from(b'A' + (n % 26) as u8);
        let order_no_prefix: String = [letter(epoch), letter(epoch / 26)].iter().collect();
        Simulator {
            clock,
            seed: config.seed,
            epoch,
            order_no_prefix,
            tokens: auth::Tokens::new(config),
            default_price: config.default_price.0,
            prices: RwLock::new(prices),
            orders: RwLock::new(Vec::new()),
            by_id: DashMap::new(),
            by_order_no: DashMap::new(),
            faults: Mutex::new(FaultState {
                settings,
                dice: Dice::new(config.seed),
            }),
            fill_delay_ms: AtomicU64::new(config.fill_delay_ms),
            fills_paused: watch::channel(false).0,
            fill_gate: RwLock::new(()),
            stopped: watch::channel(false).0,
            requests_total: AtomicU64::new(0),
            requests_seen: AtomicU64::new(0),
            adjustable_clock,
        }
    }

    /// `GET /sim/clock`: the simulator's time.
    fn clock_json(&self) -> String {
        let mut object = JsonObject::new();
        object.string(
            "now",
            &self
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        object.finish()
    }

    /// `PUT /sim/clock` `{now}`: moves the clock; it runs on in real time from there.
    fn set_clock(&self, body: &[u8]) -> Result<String, ApiError> {
        let Some(clock) = &self.adjustable_clock else {
            return Err(ApiError::plain(
                404,
                "E404",
                "the simulator's clock is not adjustable (simulator.clock_adjustable = false)",
            ));
        };
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SetClock {
            now: chrono::DateTime<chrono::Utc>,
        }
        let set: SetClock = serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid("now", "STRING", error.to_string()))?;
        clock.set(set.now);
        Ok(self.clock_json())
    }

    /// Serves until `shutdown` flips to true. Each connection is served with hyper http1
    /// keep-alive. At shutdown, idle connections close, held (timed-out) requests are dropped,
    /// fill timers stop, and in-flight answers get a short grace period. A dropped `shutdown`
    /// sender means no shutdown will come: the simulator serves on.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        server::serve(self, listener, shutdown).await;
    }

    /// Numbers every request (for `dw-request-id`); all but the simulator's own `/sim/*` paths
    /// count towards `/sim/requests/count`, so tests can ask it without moving it.
    fn count_request(&self, counted: bool) -> u64 {
        let request_no = self.requests_seen.fetch_add(1, Ordering::Relaxed) + 1;
        if counted {
            self.requests_total.fetch_add(1, Ordering::Relaxed);
        }
        request_no
    }

    fn requests_count_json(&self) -> String {
        let mut object = JsonObject::new();
        object.integer("count", self.requests_total.load(Ordering::Relaxed));
        object.finish()
    }

    /// Rolls the dice for one `/back-office/*` request; also returns the latency in force.
    fn roll_fault(&self) -> (Fault, u64) {
        let mut state = self.faults.lock();
        let settings = state.settings;
        let fault = if settings.is_quiet() {
            Fault::None
        } else {
            settings.pick(state.dice.roll_pct())
        };
        (fault, settings.latency_ms)
    }

    fn update_faults(&self, update: FaultsUpdate) -> String {
        let mut state = self.faults.lock();
        let settings = &mut state.settings;
        settings.latency_ms = update.latency_ms.unwrap_or(settings.latency_ms);
        settings.timeout_pct = update.timeout_pct.unwrap_or(settings.timeout_pct);
        settings.error_pct = update.error_pct.unwrap_or(settings.error_pct);
        settings.reset_pct = update.reset_pct.unwrap_or(settings.reset_pct);
        faults_json(&state.settings)
    }

    fn faults_json(&self) -> String {
        faults_json(&self.faults.lock().settings)
    }

    fn update_fills(&self, update: FillsUpdate) -> String {
        let _exclusive = self.fill_gate.write();
        if let Some(delay_ms) = update.fill_delay_ms {
            self.fill_delay_ms.store(delay_ms, Ordering::Relaxed);
        }
        if let Some(paused) = update.paused {
            self.fills_paused.send_replace(paused);
        }
        self.fills_json()
    }

    fn fills_json(&self) -> String {
        let mut object = JsonObject::new();
        object
            .boolean("paused", *self.fills_paused.borrow())
            .integer("fill_delay_ms", self.fill_delay_ms.load(Ordering::Relaxed));
        object.finish()
    }

    fn set_prices(&self, entries: Vec<(String, Fixed)>) -> Result<String, ApiError> {
        let mut prices = self.prices.write();
        let new_symbols = entries
            .iter()
            .filter(|(symbol, _)| !prices.contains_key(symbol))
            .count();
        if prices.len() + new_symbols > PRICED_SYMBOLS_MAX {
            return Err(ApiError::unavailable(format!(
                "at most {PRICED_SYMBOLS_MAX} symbols can have a price"
            )));
        }
        let updated = entries.len() as u64;
        prices.extend(entries);
        let mut object = JsonObject::new();
        object.integer("updated", updated);
        Ok(object.finish())
    }

    fn market_price(&self, instrument: &str) -> Fixed {
        self.prices
            .read()
            .get(instrument)
            .copied()
            .unwrap_or(self.default_price)
    }

    /// `SM.` and 32 hex digits. The low half is a bijection of the order number for a given
    /// seed and epoch, so ids never repeat within a run, and the random epoch keeps a restarted
    /// simulator's ids apart from its earlier runs'.
    fn order_id(&self, sequence: u64) -> String {
        let low = mix64(sequence ^ mix64(self.seed ^ self.epoch));
        let high = mix64(low ^ self.seed.rotate_left(32));
        format!("SM.{high:016x}{low:016x}")
    }

    /// `POST /back-office/orders`.
    fn create_order(
        self: &Arc<Self>,
        body: &[u8],
        request_headers: Vec<(String, String)>,
    ) -> Result<String, ApiError> {
        let request = wire::parse_create(body)?;
        if request.account_no.starts_with("REJECT") {
            return Err(ApiError::account_restricted());
        }
        // The body parsed as JSON, so it is UTF-8 and this copies it unchanged.
        let request_body = String::from_utf8_lossy(body).into_owned();
        let created = self.clock.now();
        let record = {
            let mut orders = self.orders.write();
            if orders.len() >= ORDERS_MAX {
                return Err(ApiError::unavailable(format!(
                    "Simulator order book is full ({ORDERS_MAX} orders)"
                )));
            }
            let sequence = orders.len() as u64 + 1;
            let id = self.order_id(sequence);
            let order_no = format!("SM{}{sequence:06}", self.order_no_prefix);
            let order = Order::new(id.clone(), order_no.clone(), request, created);
            let record = Arc::new(SimOrder {
                request_body,
                request_headers,
                state: Mutex::new(order),
            });
            self.by_id.insert(id, Arc::clone(&record));
            self.by_order_no.insert(order_no, Arc::clone(&record));
            orders.push(Arc::clone(&record));
            record
        };
        let answer = wire::order_ids(&record.state.lock());
        self.start_fills(record);
        Ok(answer)
    }

    fn find(&self, id: &str) -> Result<Arc<SimOrder>, ApiError> {
        self.by_id
            .get(id)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or_else(|| ApiError::order_not_found(id))
    }

    /// `GET /back-office/orders/{id}`.
    fn order_status(&self, id: &str) -> Result<String, ApiError> {
        let record = self.find(id)?;
        let state = record.state.lock();
        Ok(wire::order_status(&state).finish())
    }

    /// `GET /back-office/orders/byOrderNo/{orderNo}`.
    fn order_status_by_no(&self, order_no: &str) -> Result<String, ApiError> {
        let record = self
            .by_order_no
            .get(order_no)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or_else(|| ApiError::order_not_found(order_no))?;
        let state = record.state.lock();
        Ok(wire::order_status(&state).finish())
    }

    /// `PATCH /back-office/orders/{id}`; an unknown id is a 404 before the body is judged.
    fn cancel_order(&self, id: &str, body: &[u8]) -> Result<String, ApiError> {
        let record = self.find(id)?;
        wire::parse_cancel(body)?;
        let mut state = record.state.lock();
        state
            .cancel()
            .map_err(|status| ApiError::not_cancelable(id, status))?;
        Ok(wire::order_ids(&state))
    }

    /// `GET /sim/orders`. Holds the list lock only to copy the handles, so creates go on
    /// while a large list is written.
    /// `GET /back-office/accounts/{accountID}/summary/orders`: the resting (not final) orders,
    /// in DriveWealth's `PendingOrders` shape with its FIX-style status codes. The simulator
    /// keeps one book and knows no account ids, so every account sees all of it.
    fn resting_orders_json(&self, account_id: &str) -> String {
        let records: Vec<Arc<SimOrder>> = self.orders.read().clone();
        let mut orders = String::from("[");
        let mut first = true;
        for record in &records {
            let order = record.state.lock();
            if order.status().is_final() {
                continue;
            }
            if !first {
                orders.push(',');
            }
            first = false;
            orders.push_str(&wire::resting_order(&order).finish());
        }
        orders.push(']');
        let mut object = wire::JsonObject::new();
        object
            .string("accountID", account_id)
            .string(
                "updated",
                &self
                    .clock
                    .now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            )
            .raw("orders", &orders);
        object.finish()
    }

    fn orders_json(&self) -> String {
        let records: Vec<Arc<SimOrder>> = self.orders.read().clone();
        let mut out = String::from("[");
        for (index, record) in records.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let mut object = wire::order_status(&record.state.lock());
            object.string("requestBody", &record.request_body);
            let mut headers = JsonObject::new();
            for (name, value) in &record.request_headers {
                headers.string(name, value);
            }
            object.raw("requestHeaders", &headers.finish());
            out.push_str(&object.finish());
        }
        out.push(']');
        out
    }

    /// Starts an order on its way to a final status: at once when there is no fill delay and
    /// fills are not paused, else on its own timer task.
    fn start_fills(self: &Arc<Self>, record: Arc<SimOrder>) {
        if self.fill_delay_ms.load(Ordering::Relaxed) == 0 {
            loop {
                match self.fill_step(&record) {
                    Step::Done => return,
                    Step::More => continue,
                    Step::Paused => break,
                }
            }
        }
        tokio::spawn(Arc::clone(self).run_fills(record));
    }

    async fn run_fills(self: Arc<Self>, record: Arc<SimOrder>) {
        let mut stopped = self.stopped.subscribe();
        let mut paused = self.fills_paused.subscribe();
        let mut wait_delay = true;
        loop {
            let delay_ms = self.fill_delay_ms.load(Ordering::Relaxed);
            if wait_delay && delay_ms > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                    _ = stopped_signalled(&mut stopped) => return,
                }
            }
            tokio::select! {
                resumed = fills_resumed(&mut paused) => {
                    if !resumed {
                        return;
                    }
                }
                _ = stopped_signalled(&mut stopped) => return,
            }
            match self.fill_step(&record) {
                Step::Done => return,
                Step::More => wait_delay = true,
                // Paused between the wait and the step: wait for the resume, not a new delay.
                Step::Paused => wait_delay = false,
            }
        }
    }

    fn fill_step(&self, record: &SimOrder) -> Step {
        let _shared = self.fill_gate.read();
        if *self.fills_paused.borrow() {
            return Step::Paused;
        }
        let mut state = record.state.lock();
        let price = self.market_price(state.request.instrument());
        match state.advance(price) {
            Progress::PartiallyFilled => Step::More,
            Progress::Filled | Progress::Rejected | Progress::Unchanged => Step::Done,
        }
    }
}

/// Resolves once the simulator is stopped.
async fn stopped_signalled(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not across the caller's await.
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// Resolves once fills are not paused; false if the simulator is gone.
async fn fills_resumed(paused: &mut watch::Receiver<bool>) -> bool {
    paused.wait_for(|paused| !*paused).await.is_ok()
}

enum Step {
    Done,
    More,
    Paused,
}

fn faults_json(settings: &FaultSettings) -> String {
    let mut object = JsonObject::new();
    object
        .integer("latency_ms", settings.latency_ms)
        .integer("timeout_pct", settings.timeout_pct.into())
        .integer("error_pct", settings.error_pct.into())
        .integer("reset_pct", settings.reset_pct.into());
    object.finish()
}
