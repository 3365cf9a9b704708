//! The `omnigate` command line (SPEC §2).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use omnigate::app::{Gateway, StartOptions, TokenSource};
use omnigate::clock::SystemClock;
use omnigate::config::{Config, LogFormat};
use omnigate::sim::{Setup, SimClock, Simulator, Webhook};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// A pre-trade risk and buying-power gateway for DriveWealth omnibus partners.
#[derive(Parser)]
#[command(name = "omnigate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the order and admin APIs (the embedded default when no --config is given).
    Run {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// If the WAL has a corrupt record in the middle, cut it there (dropping every later
        /// record) instead of refusing to start. Take a copy of wal.dir first.
        #[arg(long)]
        truncate_corrupt_wal: bool,
    },
    /// Run the DriveWealth simulator alone.
    Sim {
        /// Address to listen on (default: simulator.listen, 127.0.0.1:9090).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Read the [simulator] section of this config file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Validate a config file: exit 0, or list every problem by key.
    CheckConfig { file: PathBuf },
    /// Inspect a write-ahead log directory.
    Wal {
        #[command(subcommand)]
        command: WalCommand,
    },
    /// Read the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the audit trail for a time range (RFC 3339), one customer or all.
    Export {
        /// The config whose audit.dir (or wal.dir) to read (default: the embedded default's).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// From this time on (RFC 3339, inclusive).
        #[arg(long, value_name = "T", value_parser = rfc3339)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Up to this time (RFC 3339, exclusive).
        #[arg(long, value_name = "T", value_parser = rfc3339)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Only this customer's orders, fills and the admin changes made to it.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        #[arg(long, value_name = "FORMAT", default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
    },
}

fn rfc3339(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&chrono::Utc))
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2026-12-01T14:30:00Z"))
}

#[derive(Subcommand)]
enum WalCommand {
    /// Check every record's checksum; report each file's valid length and the first problem.
    Verify { dir: PathBuf },
    /// Print every record as a JSON line.
    Dump { dir: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(2)
            }
        },
        Command::Wal { command } => wal_command(command),
        Command::Audit {
            command:
                AuditCommand::Export {
                    config,
                    from,
                    to,
                    client_id,
                    format,
                },
        } => {
            let config = match &config {
                Some(path) => match Config::load(path) {
                    Ok(config) => config,
                    Err(error) => return fail(error),
                },
                None => Config::embedded_default(),
            };
            let dir = config.audit.dir_beside(&config.wal.dir);
            let query = omnigate::audit::Query {
                from,
                to,
                client_id,
                limit: None,
            };
            let format =
                omnigate::audit::Format::parse(&format).unwrap_or(omnigate::audit::Format::Jsonl);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            match omnigate::audit::export(&dir, &query, format, &mut out) {
                Ok(done) => {
                    if done.skipped > 0 {
                        eprintln!("omnigate: {} line(s) in {} did not read as audit entries and were skipped", done.skipped, dir.display());
                    }
                    match std::io::Write::flush(&mut out) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(error) => fail(error),
                    }
                }
                Err(error) => fail(error),
            }
        }
        Command::Run {
            config,
            truncate_corrupt_wal,
        } => {
            let path = config;
            let config = match &path {
                Some(path) => match Config::load(path) {
                    Ok(config) => config,
                    Err(error) => return fail(error),
                },
                None => Config::embedded_default(),
            };
            init_logging(&config);
            let options = StartOptions {
                config_path: path,
                truncate_corrupt_wal,
            };
            runtime().block_on(run(config, options))
        }
        Command::Sim { listen, config } => {
            let mut config = match config {
                Some(path) => match Config::load(&path) {
                    Ok(config) => config,
                    Err(error) => return fail(error),
                },
                None => Config::default(),
            };
            if let Some(listen) = listen {
                config.simulator.listen = listen;
            }
            init_logging(&config);
            runtime().block_on(simulate(config))
        }
    }
}

fn wal_command(command: WalCommand) -> ExitCode {
    match command {
        WalCommand::Verify { dir } => match omnigate::wal::verify(&dir) {
            Ok(report) => {
                for segment in &report.segments {
                    println!(
                        "{}: {} records, lsn {}..{}, valid {} of {} bytes{}",
                        segment.name,
                        segment.records,
                        segment.first_lsn,
                        segment
                            .last_lsn
                            .map_or("-".to_owned(), |lsn| lsn.to_string()),
                        segment.valid_bytes,
                        segment.file_bytes,
                        segment
                            .problem
                            .as_deref()
                            .map_or(String::new(), |problem| format!("; {problem}"))
                    );
                }
                for snapshot in &report.snapshots {
                    println!(
                        "{}: covers lsn < {}{}",
                        snapshot.name,
                        snapshot.next_lsn,
                        snapshot
                            .problem
                            .as_deref()
                            .map_or(String::new(), |problem| format!("; {problem}"))
                    );
                }
                println!(
                    "{} records; on start: {}",
                    report.records, report.open_decision
                );
                if report.is_clean() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                }
            }
            Err(error) => fail(error),
        },
        WalCommand::Dump { dir } => {
            let mut out = std::io::stdout().lock();
            let result = omnigate::wal::dump(&dir, &mut |entry| {
                use std::io::Write;
                let record = match omnigate::engine::record::Record::decode(&entry.record) {
                    Ok(record) => record.to_json(),
                    Err(error) => serde_json::json!({ "undecodable": error.to_string() }),
                };
                let line = serde_json::json!({
                    "segment": entry.segment,
                    "offset": entry.offset,
                    "lsn": entry.lsn,
                    "type": record.get("type"),
                    "record": record.get("record").or(record.get("undecodable")),
                });
                let _ = writeln!(out, "{line}");
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(error),
            }
        }
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("omnigate: {error}");
    ExitCode::FAILURE
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| {
            eprintln!("omnigate: cannot start the async runtime: {error}");
            std::process::exit(1)
        })
}

async fn run(config: Config, options: StartOptions) -> ExitCode {
    // The handlers are in place before the banner says where omnigate listens: a SIGTERM or
    // SIGHUP that follows the banner at once is a clean stop or a reload, never the default
    // action (which ends the process).
    let signals = Signals::install();
    let gateway = match Gateway::start(config, options).await {
        Ok(gateway) => gateway,
        Err(error) => return fail(error),
    };
    let Signals { hangup, terminate } = signals;
    reload_on_sighup(hangup, gateway.reloader.clone());
    print_banner(&gateway);
    let deposed = tokio::select! {
        _ = wait_for_stop(terminate) => None,
        reason = gateway.must_stop() => Some(reason),
    };
    tracing::info!("shutting down");
    gateway.shutdown(Duration::from_secs(10)).await;
    match deposed {
        None => ExitCode::SUCCESS,
        Some(reason) => {
            let status = omnigate::ha::EXIT_REJOIN;
            eprintln!(
                "omnigate: {reason}; stopped (exit status {status}) so that a restart rejoins \
                 as a follower"
            );
            ExitCode::from(status)
        }
    }
}

async fn simulate(config: Config) -> ExitCode {
    let signals = Signals::install();
    let addr = config.simulator.listen;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            return fail(format!(
                "simulator.listen: cannot listen on {addr}: {error}"
            ))
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let instruments = match omnigate::engine::instrument_entries(&config) {
        Ok(instruments) => instruments,
        Err(error) => return fail(error),
    };
    if config.simulator.webhook_url.as_deref() == Some(omnigate::config::WEBHOOK_TO_GATEWAY) {
        return fail(
            "simulator.webhook_url: \"omnigate\" names the gateway the simulator runs in; omnigate sim needs the gateway's URL, e.g. http://127.0.0.1:8081/admin/events",
        );
    }
    let simulator = Simulator::new(Setup {
        config: &config.simulator,
        market: &config.market,
        clock: if config.simulator.clock_adjustable {
            SimClock::adjustable()
        } else {
            SimClock::shared(Arc::new(SystemClock))
        },
        instruments,
        source: None,
        webhook: config.simulator.webhook_url.as_ref().map(|url| Webhook {
            url: url.clone(),
            token: config
                .simulator
                .webhook_token
                .as_ref()
                .map(|token| token.0.clone()),
        }),
    });
    let simulator = match simulator {
        Ok(simulator) => simulator,
        Err(error) => return fail(error),
    };
    let local = listener.local_addr().unwrap_or(addr);
    println!("DriveWealth simulator listening on http://{local}");
    let serving = tokio::spawn(simulator.serve(listener, stopped));
    wait_for_stop(signals.terminate).await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    ExitCode::SUCCESS
}

fn print_banner(gateway: &Gateway) {
    let order = gateway.order_addr;
    let scheme = gateway.scheme;
    println!("omnigate {} is running", env!("CARGO_PKG_VERSION"));
    println!(
        "  order API:   {scheme}://{order}  (DriveWealth's paths, e.g. POST /back-office/orders)"
    );
    println!(
        "  admin API:   {scheme}://{}  (Authorization: Bearer <admin token>)",
        gateway.admin_addr
    );
    match gateway.token_source {
        TokenSource::Generated => println!(
            "  admin token: {}  (generated for this run; set server.admin_token to keep one)",
            gateway.admin_token
        ),
        TokenSource::Config => println!("  admin token: from server.admin_token"),
        TokenSource::Environment => println!("  admin token: from OMNIGATE_ADMIN_TOKEN"),
    }
    println!("  upstream:    {}", gateway.upstream);
    // The token goes in the URL fragment, which the browser never sends; it is printed only
    // when it was generated for this run (and so printed above anyway).
    let fragment = match gateway.token_source {
        TokenSource::Generated => gateway.admin_token.as_str(),
        TokenSource::Config | TokenSource::Environment => "<admin token>",
    };
    println!(
        "  dashboard:   {scheme}://{}/admin/dashboard#token={fragment}",
        gateway.admin_addr
    );
    println!("Place a demo order:");
    println!(
        "  curl -sS -i {scheme}://{order}/back-office/orders -H 'content-type: application/json' \
         -H 'authorization: Bearer demo-token' -H 'dw-client-app-key: demo-app-key' \
         -d '{{\"accountNo\":\"DWOM000001\",\"orderType\":\"MARKET\",\"side\":\"BUY\",\
         \"symbol\":\"AAPL\",\"quantity\":1,\"clientID\":\"123456789\"}}'"
    );
}

/// SIGHUP re-reads the config file, as `POST /admin/reload` does.
/// The signals `omnigate run` answers, registered before it serves.
struct Signals {
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))]
    hangup: Option<()>,
    #[cfg(not(unix))]
    terminate: Option<()>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            hangup: signal(SignalKind::hangup()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    #[cfg(not(unix))]
    fn install() -> Signals {
        Signals {
            hangup: None,
            terminate: None,
        }
    }
}

#[cfg(unix)]
fn reload_on_sighup(
    hangup: Option<tokio::signal::unix::Signal>,
    reloader: Arc<omnigate::engine::Reloader>,
) {
    if let Some(mut hangups) = hangup {
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                // The outcome is logged by the reloader.
                let _ = reloader.reload();
            }
        });
    }
}

#[cfg(not(unix))]
fn reload_on_sighup(_hangup: Option<()>, _reloader: Arc<omnigate::engine::Reloader>) {}

#[cfg(unix)]
async fn wait_for_stop(terminate: Option<tokio::signal::unix::Signal>) {
    match terminate {
        Some(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_terminate: Option<()>) {
    let _ = tokio::signal::ctrl_c().await;
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
