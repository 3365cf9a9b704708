//! A DriveWealth simulator: DriveWealth's order endpoints and shapes, its trading hours, halts,
//! order-type triggers, crypto, omni balance and events, and seeded fault injection (SPEC §9).
//! It runs as `omnigate sim` and as the in-process default upstream.
//!
//! # Layout
//!
//! - [`order`]: one order's lifecycle as a pure state machine, stepped under given conditions.
//! - `book`: every order, by id and number; ids unique across restarts.
//! - `fills`: the task that steps each open order, and what wakes a waiting one.
//! - `market`: trading hours, queuing and cancel cut-offs, from omnigate's calendar.
//! - `instruments`: the instrument master and its halts.
//! - `prices`: current prices and the seeded random walk.
//! - `funds`: the simulator's own omni balance, and deposits.
//! - `outbox`: events, posted to the webhook with retries and deliberate duplicates.
//! - `clock`: omnigate's clock in-process, an adjustable one standalone.
//! - `auth`: DriveWealth's tokens, issued and (with `simulator.require_auth`) required.
//! - `faults`: the seeded dice and the fault rates.
//! - `wire`: request bodies in (numbers read exactly), DriveWealth JSON out, error bodies.
//! - `server`: the HTTP surface: keep-alive serving, routing, faults applied to connections.
//! - this file: [`Simulator`], the parts together, and the order endpoints.
//!
//! # Endpoints
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /back-office/auth/tokens` `{clientID, clientSecret}` | 200 `{token_type, expires_in, access_token, scope}`; with `simulator.require_auth` every other `/back-office/*` path needs a live `Authorization: Bearer` token and a `dw-client-app-key`, else 401 `E401` |
//! | `POST /back-office/orders` | 200 `{"orderId":"SM.<32 hex>","orderNo":"SM<2 letters><6 digits>"}` (the letters, and the ids, differ from one start to the next); 400 `E032`; 400 `I019` for an instrument not listed; 422 `O120` for `preventQueuing` outside the order's session; 422 `A051` for an `accountNo` starting with `REJECT`; 503 `E503` when the book is full |
//! | `GET /back-office/orders/{id}` | 200 `OrderStatusResponse`; 404 `O001` |
//! | `GET /back-office/orders/byOrderNo/{orderNo}` | the same, by order number |
//! | `PATCH /back-office/orders/{id}` `{"method":"CANCEL"}` | 200 `{"orderId","orderNo"}`; 422 `O002` when already final (or crypto); 422 `O121` for an order queued for the open, between its exchange's cut-off and the open; 400 `E032`; 404 `O001` |
//! | `GET /sim/orders` | every accepted order in arrival order, with `requestBody` and `requestHeaders` |
//! | `GET /sim/requests/count` | `{"count": N}`: every request on `/back-office/*` received, faulted ones included |
//! | `POST /sim/prices` `[{"symbol","price"}]` | sets prices; `{"updated": N}`; `GET` lists them |
//! | `POST /sim/instruments/{symbol}` `{"status"}` | sets ACTIVE, INACTIVE, CLOSE_ONLY or HALTED and posts `instruments.updated`; `GET /sim/instruments` lists them |
//! | `POST /sim/deposits` `{"accountNo","amount"}` | a successful deposit, its `deposits.updated` payload as the answer |
//! | `GET /sim/omni` | `{"cash"}`: the simulator's own omni balance, `null` when none is kept |
//! | `GET /sim/events` | `{"webhook","posted","delivered","duplicates","attempts","failed_attempts","dead_lettered","dropped"}` |
//! | `GET`/`PUT /sim/fills` `{"paused"?, "fill_delay_ms"?}` | reads / changes fill progression |
//! | `GET`/`PUT /sim/faults` `{"latency_ms"?, "timeout_pct"?, "error_pct"?, "reset_pct"?}` | reads / changes the fault rates |
//! | `GET`/`PUT /sim/clock` `{"now"}` | reads the simulator's time / moves it (`omnigate sim` with `simulator.clock_adjustable`; in-process, omnigate's `PUT /admin/clock` moves both) |
//!
//! Faults apply to `/back-office/*` only, never to `/sim/*`. A faulted request has no effect:
//! the dice are rolled before the request is handled, so a swallowed or reset create places no
//! order.

mod auth;
mod book;
mod clock;
mod faults;
mod fills;
mod funds;
mod instruments;
mod market;
pub mod order;
mod outbox;
mod prices;
mod server;
mod wire;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use self::book::{Book, SimOrder};
use self::faults::{Dice, Fault, FaultSettings};
use self::fills::Progression;
use self::funds::Funds;
use self::instruments::Listings;
use self::market::Hours;
use self::order::{Order, Progress};
use self::outbox::{Delivery, Outbox};
use self::prices::PriceFeed;
use self::wire::{ApiError, FaultsUpdate, JsonObject};
use crate::beat::Beat;
use crate::config::{MarketConfig, SimulatorConfig};
use crate::instruments::InstrumentSpec;

pub use self::book::ORDERS_MAX;
pub use self::clock::SimClock;
pub use self::instruments::Source as InstrumentSource;
pub use self::outbox::Webhook;
pub use self::prices::{PRICED_SYMBOLS_MAX, WALK_BPS_MAX};

/// What a simulator is built from besides its `[simulator]` section.
pub struct Setup<'a> {
    pub config: &'a SimulatorConfig,
    /// The calendar omnigate decides by (`[market]`).
    pub market: &'a MarketConfig,
    pub clock: SimClock,
    /// The instrument master, each entry with its symbol.
    pub instruments: Vec<(String, InstrumentSpec)>,
    /// Where instruments missing from `instruments` are looked up (omnigate's live master).
    pub source: Option<InstrumentSource>,
    pub webhook: Option<Webhook>,
}

#[cfg(test)]
impl<'a> Setup<'a> {
    /// A simulator on `clock` with no instrument master (an open book), no webhook and the
    /// built-in calendar.
    pub fn bare(config: &'a SimulatorConfig, clock: Arc<dyn crate::clock::Clock>) -> Setup<'a> {
        static NO_MARKET_KEYS: std::sync::OnceLock<MarketConfig> = std::sync::OnceLock::new();
        Setup {
            config,
            market: NO_MARKET_KEYS.get_or_init(MarketConfig::default),
            clock: SimClock::shared(clock),
            instruments: Vec::new(),
            source: None,
            webhook: None,
        }
    }
}

/// The DriveWealth simulator. Build with [`Simulator::new`], run with [`Simulator::serve`].
pub struct Simulator {
    clock: SimClock,
    /// `POST /back-office/auth/tokens` and the check of every other DriveWealth path.
    tokens: auth::Tokens,
    book: Book,
    listings: Listings,
    hours: Hours,
    prices: PriceFeed,
    funds: Funds,
    outbox: Outbox,
    /// The outbox's delivery task, until `serve` starts it.
    delivery: Mutex<Option<Delivery>>,
    progression: Progression,
    /// Rates and dice together: one lock keeps the roll sequence replayable by seed.
    faults: Mutex<FaultState>,
    /// Set once by `serve` at shutdown: fill tasks, held (timed-out) requests and deliveries
    /// end.
    stopped: watch::Sender<bool>,
    /// Requests on any path but `/sim/*`: what reached "DriveWealth".
    requests_total: AtomicU64,
    /// Every request, for numbering.
    requests_seen: AtomicU64,
}

struct FaultState {
    settings: FaultSettings,
    dice: Dice,
}

impl Simulator {
    /// `Err` names the `simulator.*` key at fault.
    pub fn new(setup: Setup<'_>) -> Result<Arc<Simulator>, String> {
        let config = setup.config;
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
            Err(_) => setup.clock.now().timestamp_nanos_opt().unwrap_or_default() as u64,
        };
        let listings = Listings::new(&setup.instruments, setup.source);
        let prices = PriceFeed::new(
            config.default_price.0,
            listings.reference_prices(),
            config
                .prices
                .iter()
                .map(|(symbol, price)| (symbol.clone(), price.0)),
            config.price_walk_bps,
            config.seed,
        );
        let (outbox, delivery) = Outbox::new(
            setup.webhook.as_ref(),
            config.webhook_duplicate_pct,
            config.seed,
            epoch,
            setup.clock.handle(),
        )
        .map_err(|message| format!("simulator.webhook_url: {message}"))?;
        Ok(Arc::new(Simulator {
            tokens: auth::Tokens::new(config),
            book: Book::new(config.seed, epoch),
            listings,
            hours: Hours::new(setup.market, config.market_hours),
            prices,
            funds: Funds::new(config.omni_cash.map(|cash| cash.0), epoch),
            outbox,
            delivery: Mutex::new(delivery),
            progression: Progression::new(config.fill_delay_ms),
            faults: Mutex::new(FaultState {
                settings,
                dice: Dice::new(config.seed),
            }),
            stopped: watch::channel(false).0,
            requests_total: AtomicU64::new(0),
            requests_seen: AtomicU64::new(0),
            clock: setup.clock,
        }))
    }

    /// Serves until `shutdown` flips to true. Each connection is served with hyper http1
    /// keep-alive. At shutdown, idle connections close, held (timed-out) requests are dropped,
    /// fill tasks and event deliveries stop, and in-flight answers get a short grace period. A
    /// dropped `shutdown` sender means no shutdown will come: the simulator serves on.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: watch::Receiver<bool>,
    ) {
        if let Some(delivery) = self.delivery.lock().take() {
            tokio::spawn(delivery.run(self.stopped.subscribe()));
        }
        if self.prices.walks() {
            tokio::spawn(Arc::clone(&self).walk_prices());
        }
        server::serve(self, listener, shutdown).await;
    }

    async fn walk_prices(self: Arc<Self>) {
        let mut beat = Beat::new(prices::WALK_INTERVAL, self.stopped.subscribe());
        // The first beat comes at once; the first step is one interval after the start.
        beat.next().await;
        while beat.next().await {
            self.prices.walk();
            self.progression.market_changed();
        }
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

    /// `POST /sim/prices`.
    fn set_prices(&self, entries: Vec<(String, crate::money::Fixed)>) -> Result<String, ApiError> {
        let answer = self.prices.set(entries)?;
        self.progression.market_changed();
        Ok(answer)
    }

    /// `PUT /sim/clock`.
    fn set_clock(&self, body: &[u8]) -> Result<String, ApiError> {
        let answer = self.clock.set(body)?;
        self.progression.market_changed();
        Ok(answer)
    }

    /// `POST /sim/instruments/{symbol}` `{status}`: the listing as it is now; a change posts
    /// `instruments.updated` and wakes the orders a halt held.
    fn set_instrument_status(&self, symbol: &str, body: &[u8]) -> Result<String, ApiError> {
        let status = wire::parse_instrument_status(body)?;
        if let Some(change) = self.listings.set_status(symbol, status)? {
            self.outbox.post("instruments.updated", &change.payload());
            self.progression.market_changed();
        }
        let listing = self.listings.symbol(symbol)?;
        let mut object = JsonObject::new();
        object
            .string("symbol", &listing.symbol)
            .string("status", listing.status().as_str());
        Ok(object.finish())
    }

    /// `POST /sim/deposits`.
    fn deposit(&self, body: &[u8]) -> Result<String, ApiError> {
        let deposit = self.funds.deposit(body, self.clock.now())?;
        self.outbox.post("deposits.updated", &deposit.payload);
        // Cash may let a waiting BUY fill.
        self.progression.market_changed();
        Ok(deposit.payload)
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
        let listing = self.listings.for_order(&request)?;
        let created = self.clock.now();
        let placement = self.hours.place(created, &listing, &request)?;
        // The body parsed as JSON, so it is UTF-8 and this copies it unchanged.
        let request_body = String::from_utf8_lossy(body).into_owned();
        let record = self.book.add(|id, order_no| SimOrder {
            request_body,
            request_headers,
            listing: Arc::clone(&listing),
            state: Mutex::new(Order::new(id, order_no, request, created, placement)),
        })?;
        let (answer, done) = {
            let mut state = record.state.lock();
            self.post_order_event("orders.created", &state);
            // Seed `001`: fractional orders on a halted security "are immediately REJECTED".
            if listing.is_halted()
                && state.request.size.is_fractional()
                && state.meet_halt() == Progress::Rejected
            {
                self.post_order_event("orders.completed", &state);
            }
            (wire::order_ids(&state), state.status().is_final())
        };
        if !done {
            self.start_fills(record);
        }
        Ok(answer)
    }

    /// `GET /back-office/orders/{id}`.
    fn order_status(&self, id: &str) -> Result<String, ApiError> {
        let record = self.book.by_id(id)?;
        let state = record.state.lock();
        Ok(wire::order_status(&state, wire::Shape::StatusResponse).finish())
    }

    /// `GET /back-office/orders/byOrderNo/{orderNo}`.
    fn order_status_by_no(&self, order_no: &str) -> Result<String, ApiError> {
        let record = self.book.by_order_no(order_no)?;
        let state = record.state.lock();
        Ok(wire::order_status(&state, wire::Shape::StatusResponse).finish())
    }

    /// `PATCH /back-office/orders/{id}`; an unknown id is a 404 before the body is judged.
    fn cancel_order(&self, id: &str, body: &[u8]) -> Result<String, ApiError> {
        let record = self.book.by_id(id)?;
        wire::parse_cancel(body)?;
        let mut state = record.state.lock();
        self.hours
            .check_cancel(self.clock.now(), &record.listing, &state)?;
        // A BUY canceled after a partial fill gives back the cash it held for the rest.
        self.funds
            .settle(|_| {
                let taken_before = state.cash_taken();
                let canceled = state.cancel();
                let spent = state
                    .cash_taken()
                    .checked_sub(taken_before)
                    .unwrap_or(crate::money::Fixed::ZERO);
                (canceled, spent)
            })
            .map_err(|status| ApiError::not_cancelable(id, status))?;
        self.post_order_event("orders.completed", &state);
        Ok(wire::order_ids(&state))
    }

    /// `GET /back-office/accounts/{accountID}/summary/orders`: the resting (not final) orders,
    /// in DriveWealth's `PendingOrders` shape with its FIX-style status codes. The simulator
    /// keeps one book and knows no account ids, so every account sees all of it.
    fn resting_orders_json(&self, account_id: &str) -> String {
        let mut orders = String::from("[");
        let mut first = true;
        for record in self.book.all() {
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
        let mut object = JsonObject::new();
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

    /// `GET /sim/orders`: every accepted order in arrival order, with the request that placed it.
    fn orders_json(&self) -> String {
        let mut out = String::from("[");
        for (index, record) in self.book.all().iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let mut object = wire::order_status(&record.state.lock(), wire::Shape::StatusResponse);
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
}

/// Resolves once the simulator is stopped.
async fn stopped_signalled(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here, not across the caller's await.
    let _ = stopped.wait_for(|stopped| *stopped).await;
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
