//! Wiring: builds every piece from a [`Config`] and runs the listeners until shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::{Clock, ShiftedClock, SystemClock};
use crate::config::Config;
use crate::engine::{Engine, Reloader};
use crate::feeds::poller::{self, PollCredentials, UpstreamOps};
use crate::feeds::{calendar, settlement};
use crate::http::admin::Admin;
use crate::http::auth::{RouterKeys, Secret};
use crate::http::body::BodyLimits;
use crate::http::cores::{self, SharedListener};
use crate::http::front::{Front, FrontMetrics};
use crate::http::server::{self, ConnectionLimits};
use crate::sim::{Setup, SimClock, Simulator, Webhook};
use crate::upstream::{Upstream, UpstreamBase};

/// A failure to start, as one line naming what is at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// Where the admin token came from (the banner says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Config,
    Environment,
    /// Random for this run; printed once at start-up.
    Generated,
}

/// How `omnigate run` was asked to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The config file (for reloads); `None` on the embedded default.
    pub config_path: Option<PathBuf>,
    /// The operator's flag: cut a corrupt WAL at the bad record instead of refusing to start.
    pub truncate_corrupt_wal: bool,
}

/// Writes snapshots when enough records have accumulated (SPEC §10: they bound replay time).
async fn snapshots(engine: Arc<Engine>, shutdown: watch::Receiver<bool>) {
    let mut beat = crate::beat::Beat::new(Duration::from_millis(250), shutdown);
    while beat.next().await {
        let engine = engine.clone();
        let _ = tokio::task::spawn_blocking(move || engine.snapshot_if_due()).await;
    }
}

/// A running gateway.
pub struct Gateway {
    pub order_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub upstream: String,
    /// Where the in-process simulator listens, when there is one.
    pub simulator_addr: Option<SocketAddr>,
    /// `"https"` with `[server.tls]`, else `"http"`: what the listeners speak.
    pub scheme: &'static str,
    pub admin_token: String,
    pub token_source: TokenSource,
    pub reloader: Arc<Reloader>,
    engine: Arc<Engine>,
    /// Replicated mode: why this node must stop (it can no longer lead or follow).
    stopping: watch::Receiver<Option<String>>,
    audit_writer: crate::audit::Writer,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Gateway {
    /// Binds every listener and starts serving.
    pub async fn start(config: Config, options: StartOptions) -> Result<Gateway, StartError> {
        let path = options.config_path.clone();
        let (admin_token, token_source) = admin_token(&config)?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let adjustable_clock = config
            .clock
            .adjustable
            .then(|| Arc::new(ShiftedClock::new()));
        let clock: Arc<dyn Clock> = match &adjustable_clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        // Replicated mode: the order listener is bound first, so the lease can name where it is.
        let replicated = config.ha.replicated();
        let early_order_listener = if replicated {
            Some(bind_orders(&config)?)
        } else {
            None
        };
        let mut link = None;
        let engine = if let Some(listener) = &early_order_listener {
            let (engine, connected) =
                open_replicated(&config, &clock, listener, options.truncate_corrupt_wal).await?;
            link = Some(connected);
            engine
        } else {
            let config = config.clone();
            let clock = clock.clone();
            tokio::task::spawn_blocking(move || -> Result<Engine, String> {
                let opened = Engine::open(&config, clock, options.truncate_corrupt_wal)?;
                if opened.fresh {
                    opened.engine.bootstrap(&config)?;
                }
                Ok(opened.engine)
            })
            .await
            .map_err(|error| StartError(format!("start-up failed: {error}")))?
            .map_err(StartError)?
        };
        let mut engine = engine;
        // The audit trail (SPEC §11.1) starts before the first decision it must hold.
        let audit_dir = config.audit.dir_beside(&config.wal.dir);
        let (audit, audit_writer) = crate::audit::Writer::start(
            &audit_dir,
            config.audit.retention_days,
            config.audit.queue_capacity,
        )
        .map_err(|error| StartError(error.to_string()))?;
        engine.attach_audit(audit);
        let engine = Arc::new(engine);
        tasks.spawn(snapshots(engine.clone(), shutdown_rx.clone()));
        let (stop, stopping) = watch::channel(None);
        if let Some(link) = link {
            let node = crate::ha::Node {
                engine: engine.clone(),
                link,
                config: config.clone(),
            };
            tasks.spawn(crate::ha::run(node, shutdown_rx.clone(), stop));
        }

        let order_listener = match early_order_listener {
            Some(listener) => listener,
            None => bind_orders(&config)?,
        };
        let admin_listener = bind(config.server.admin_listen, "server.admin_listen").await?;
        // Settlement rolls missed while omnigate was down, made (durably, in order) before the
        // first order is taken; the feed keeps rolling from there.
        // (Replicated: the leader's, once it leads.)
        let rolls = settlement::Rolls::new(&engine, config.omnibus.settlement_time);
        if !replicated {
            rolls.catch_up(&engine).await;
        }

        let (base, simulator_addr, upstream_label) = match &config.upstream.url {
            Some(url) => {
                let base = UpstreamBase::parse(url)
                    .map_err(|message| StartError(format!("upstream.url: {message}")))?;
                let label = base.to_string();
                (base, None, label)
            }
            None => {
                let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)), "simulator").await?;
                let addr = local_addr(&listener)?;
                let simulator =
                    in_process_simulator(&config, &engine, &clock, &admin_listener, &admin_token)?;
                tasks.spawn(simulator.serve(listener, shutdown_rx.clone()));
                let base = UpstreamBase::parse(&format!("http://{addr}"))
                    .map_err(|message| StartError(format!("simulator: {message}")))?;
                let label = format!("in-process DriveWealth simulator at http://{addr}");
                (base, Some(addr), label)
            }
        };
        let upstream = Upstream::new(base, &config.upstream).map_err(StartError)?;
        let tls = match &config.server.tls {
            Some(tls) => Some(crate::tls::server_config(tls).map_err(StartError)?),
            None => None,
        };
        tasks.spawn(calendar::run(engine.clone(), shutdown_rx.clone()));
        tasks.spawn(settlement::run(engine.clone(), rolls, shutdown_rx.clone()));
        let auth = match &config.upstream.auth {
            None => None,
            Some(auth) => {
                let secret = match &auth.client_secret {
                    Some(secret) => secret.0.clone(),
                    None => std::env::var("OMNIGATE_DW_CLIENT_SECRET").map_err(|_| {
                        StartError(
                            "upstream.auth.client_secret: not set, nor OMNIGATE_DW_CLIENT_SECRET"
                                .to_owned(),
                        )
                    })?,
                };
                Some(Arc::new(
                    crate::upstream::auth::Tokens::new(
                        auth.client_id.clone(),
                        secret,
                        &auth.app_key,
                    )
                    .map_err(StartError)?,
                ))
            }
        };
        let ops = UpstreamOps {
            auth,
            cancel_retry: Duration::from_millis(config.upstream.cancel_retry_ms),
            upstream: upstream.clone(),
            credentials: PollCredentials::from_config(&config.upstream).map_err(StartError)?,
        };
        if config.upstream.poll_interval_ms > 0 {
            tasks.spawn(poller::run(
                engine.clone(),
                ops.clone(),
                Duration::from_millis(config.upstream.poll_interval_ms),
                shutdown_rx.clone(),
            ));
        }
        let reconciliation = Arc::new(crate::feeds::reconcile::Board::default());
        if config.upstream.reconcile_interval_ms > 0 {
            tasks.spawn(crate::feeds::reconcile::run(
                engine.clone(),
                ops.clone(),
                reconciliation.clone(),
                Duration::from_millis(config.upstream.reconcile_interval_ms),
                shutdown_rx.clone(),
            ));
        }
        let body_limits = BodyLimits {
            max_bytes: config.server.max_body_bytes,
            max_bytes_key: "server.max_body_bytes",
            read_timeout: Duration::from_millis(config.server.body_read_timeout_ms),
        };
        let limits = ConnectionLimits::from_config(&config.server);

        let router_keys = RouterKeys::new(&config.server.router_app_keys)
            .map_err(|error| StartError(format!("server.router_app_keys: {error}")))?;
        // Each order thread sends upstream through a pool of its own (see `http::cores`).
        let order_threads = cores::thread_count(config.server.order_threads);
        let pools = (0..order_threads)
            .map(|_| Upstream::new(upstream.base().clone(), &config.upstream))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StartError)?;
        // Before the order threads start: they take their metric handles from the recorder.
        let metrics = crate::metrics::install();
        let front_for_thread = {
            let engine = engine.clone();
            let max_json_depth = config.server.max_json_depth;
            move |thread: usize| {
                let front = Arc::new(Front {
                    engine: engine.clone(),
                    upstream: pools[thread].clone(),
                    body_limits,
                    router_keys: router_keys.clone(),
                    max_json_depth,
                    metrics: FrontMetrics::new(),
                });
                move |request| {
                    let front = front.clone();
                    async move {
                        // Pinned where it is made: awaiting the call's value would move the
                        // whole order future (kilobytes) once more per order.
                        let handling = std::pin::pin!(front.handle(request));
                        crate::http::request_id::stamp(handling.await)
                    }
                }
            }
        };
        let order_addr = order_listener.local_addr();
        tasks.spawn(
            cores::serve(
                order_listener,
                order_threads,
                limits,
                tls.clone(),
                front_for_thread,
                shutdown_rx.clone(),
            )
            .map_err(StartError)?,
        );

        let history = Arc::new(crate::dashboard::history::History::default());
        tasks.spawn(crate::dashboard::history::run(
            engine.clone(),
            metrics.clone(),
            history.clone(),
            shutdown_rx.clone(),
        ));
        let reloader = Arc::new(Reloader::new(path, engine.clone()));
        let engine_handle = engine.clone();
        let admin = Arc::new(Admin {
            token: Secret::new(&admin_token),
            events_token: config
                .server
                .events_token
                .as_ref()
                .map(|token| Secret::new(&token.0)),
            engine,
            reloader: reloader.clone(),
            ops,
            metrics,
            history,
            clock,
            adjustable_clock,
            upstream: upstream_label.clone(),
            started: Instant::now(),
            body_limits,
            reconciliation,
            audit_dir,
            bulk_limits: BodyLimits {
                max_bytes: config.server.max_bulk_bytes,
                max_bytes_key: "server.max_bulk_bytes",
                ..body_limits
            },
        });
        let admin_addr = local_addr(&admin_listener)?;
        tasks.spawn(server::serve(
            admin_listener,
            limits,
            tls,
            move |request| {
                let admin = admin.clone();
                async move { crate::http::request_id::stamp(admin.handle(request).await) }
            },
            shutdown_rx,
        ));

        Ok(Gateway {
            order_addr,
            admin_addr,
            upstream: upstream_label,
            simulator_addr,
            scheme: scheme(&config),
            admin_token,
            token_source,
            reloader,
            engine: engine_handle,
            stopping,
            audit_writer,
            shutdown,
            tasks,
        })
    }

    /// Resolves when this node must stop on its own (replicated mode: it lost the lease, or the
    /// stream no longer follows on from its state), with why; never in standalone mode. The
    /// caller then shuts down and exits with [`crate::ha::EXIT_REJOIN`].
    pub async fn must_stop(&self) -> String {
        let mut stopping = self.stopping.clone();
        loop {
            if let Some(reason) = stopping.borrow_and_update().clone() {
                return reason;
            }
            if stopping.changed().await.is_err() {
                // No node task (standalone), or it ended without a reason: never.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops accepting, lets requests in flight finish (up to `grace`), and returns.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("connections still open after {grace:?}; closing them");
            self.tasks.abort_all();
        }
        // A final snapshot, and the WAL flushed and closed.
        let engine = self.engine.clone();
        let _ = tokio::task::spawn_blocking(move || engine.close()).await;
        // What the audit writer still holds goes to its file (bounded: a stuck disk must not
        // hold the shutdown).
        let writer = self.audit_writer;
        let _ = tokio::task::spawn_blocking(move || writer.drain(Duration::from_secs(2))).await;
    }
}

/// The in-process simulator: omnigate's clock, calendar and instrument master (read live on a
/// miss, so instruments added later trade upstream too), and with `simulator.webhook_url =
/// "omnigate"` its events posted to this gateway's own `POST /admin/events`.
fn in_process_simulator(
    config: &Config,
    engine: &Arc<Engine>,
    clock: &Arc<dyn Clock>,
    admin_listener: &tokio::net::TcpListener,
    admin_token: &str,
) -> Result<Arc<Simulator>, StartError> {
    let instruments = engine
        .instruments()
        .all()
        .iter()
        .map(|instrument| (instrument.symbol.clone(), instrument.to_spec()))
        .collect();
    let live = Arc::clone(engine);
    let source: crate::sim::InstrumentSource = Box::new(move |key| {
        let master = live.instruments();
        let instrument = master
            .by_symbol(key)
            .or_else(|| master.by_instrument_id(key))?;
        Some((instrument.symbol.clone(), instrument.to_spec()))
    });
    let webhook = match config.simulator.webhook_url.as_deref() {
        None => None,
        Some(crate::config::WEBHOOK_TO_GATEWAY) => {
            if config.server.tls.is_some() {
                return Err(StartError(
                    "simulator.webhook_url: \"omnigate\" needs the admin API on plain HTTP, and server.tls is set; give the admin API's https:// URL instead".to_owned(),
                ));
            }
            let token = config
                .simulator
                .webhook_token
                .as_ref()
                .or(config.server.events_token.as_ref())
                .map_or(admin_token, |token| token.0.as_str());
            Some(Webhook {
                url: format!("http://{}/admin/events", local_addr(admin_listener)?),
                token: Some(token.to_owned()),
            })
        }
        Some(url) => Some(Webhook {
            url: url.to_owned(),
            token: config
                .simulator
                .webhook_token
                .as_ref()
                .map(|token| token.0.clone()),
        }),
    };
    Simulator::new(Setup {
        config: &config.simulator,
        market: &config.market,
        clock: SimClock::shared(clock.clone()),
        instruments,
        source: Some(source),
        webhook,
    })
    .map_err(StartError)
}

/// What the listeners speak: `"https"` with `[server.tls]`, else `"http"`.
fn scheme(config: &Config) -> &'static str {
    if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// Replicated mode (SPEC §12): connects to NATS and opens the engine from this node's WAL and
/// the stream. The lease names `ha.advertise_url`, by default the bound order listener.
async fn open_replicated(
    config: &Config,
    clock: &Arc<dyn Clock>,
    order_listener: &SharedListener,
    truncate_corrupt_wal: bool,
) -> Result<(Engine, Arc<crate::ha::Link>), StartError> {
    let advertise = match &config.ha.advertise_url {
        Some(url) => url.clone(),
        None => {
            let addr = order_listener.local_addr();
            if addr.ip().is_unspecified() {
                return Err(StartError(format!(
                    "ha.advertise_url: required because server.listen ({addr}) is a wildcard \
                     address, which routers cannot be sent to"
                )));
            }
            format!("{}://{addr}", scheme(config))
        }
    };
    let link = crate::ha::Link::connect(&config.ha, advertise)
        .await
        .map_err(StartError)?;
    let engine = crate::ha::open(config, clock.clone(), &link, truncate_corrupt_wal)
        .await
        .map_err(StartError)?;
    Ok((engine, Arc::new(link)))
}

/// The admin token: config, then `OMNIGATE_ADMIN_TOKEN`, then (loopback only) a random one.
fn admin_token(config: &Config) -> Result<(String, TokenSource), StartError> {
    if let Some(token) = &config.server.admin_token {
        return Ok((token.0.clone(), TokenSource::Config));
    }
    if let Ok(token) = std::env::var("OMNIGATE_ADMIN_TOKEN") {
        if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StartError(
                "OMNIGATE_ADMIN_TOKEN: must be at least 16 printable characters without spaces"
                    .to_owned(),
            ));
        }
        return Ok((token, TokenSource::Environment));
    }
    if !config.server.admin_listen.ip().is_loopback() {
        return Err(StartError(format!(
            "server.admin_token: required because server.admin_listen ({}) is not a loopback \
             address (or set OMNIGATE_ADMIN_TOKEN)",
            config.server.admin_listen
        )));
    }
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|error| StartError(format!("cannot generate an admin token: {error}")))?;
    let token = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok((token, TokenSource::Generated))
}

async fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| StartError(format!("{key}: cannot listen on {addr}: {error}")))
}

/// The order listener's first socket; the order threads join it (`http::cores`).
fn bind_orders(config: &Config) -> Result<SharedListener, StartError> {
    SharedListener::bind(config.server.listen, "server.listen").map_err(StartError)
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|error| StartError(format!("cannot read a bound address: {error}")))
}
