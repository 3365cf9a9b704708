//! The `omnigate` command line (SPEC §2).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

use omnigate::app::{Gateway, TokenSource};
use omnigate::clock::SystemClock;
use omnigate::config::{Config, LogFormat};
use omnigate::sim::Simulator;

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
        Command::Run { config } => {
            let path = config;
            let config = match &path {
                Some(path) => match Config::load(path) {
                    Ok(config) => config,
                    Err(error) => return fail(error),
                },
                None => Config::embedded_default(),
            };
            init_logging(&config);
            runtime().block_on(run(config, path))
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

async fn run(config: Config, path: Option<PathBuf>) -> ExitCode {
    let gateway = match Gateway::start(config, path).await {
        Ok(gateway) => gateway,
        Err(error) => return fail(error),
    };
    print_banner(&gateway);
    reload_on_sighup(gateway.reloader.clone());
    wait_for_stop().await;
    tracing::info!("shutting down");
    gateway.shutdown(Duration::from_secs(10)).await;
    ExitCode::SUCCESS
}

async fn simulate(config: Config) -> ExitCode {
    let addr = config.simulator.listen;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            return fail(format!(
                "simulator.listen: cannot listen on {addr}: {error}"
            ))
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    println!("DriveWealth simulator listening on http://{local}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let simulator = Simulator::new(&config.simulator, Arc::new(SystemClock));
    let serving = tokio::spawn(simulator.serve(listener, stopped));
    wait_for_stop().await;
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    ExitCode::SUCCESS
}

fn print_banner(gateway: &Gateway) {
    let order = gateway.order_addr;
    println!("omnigate {} is running", env!("CARGO_PKG_VERSION"));
    println!("  order API:   http://{order}  (DriveWealth's paths, e.g. POST /back-office/orders)");
    println!(
        "  admin API:   http://{}  (Authorization: Bearer <admin token>)",
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
    println!("Place a demo order:");
    println!(
        "  curl -sS -i http://{order}/back-office/orders -H 'content-type: application/json' \
         -H 'authorization: Bearer demo-token' -H 'dw-client-app-key: demo-app-key' \
         -d '{{\"accountNo\":\"DWOM000001\",\"orderType\":\"MARKET\",\"side\":\"BUY\",\
         \"symbol\":\"AAPL\",\"quantity\":1,\"clientID\":\"123456789\"}}'"
    );
}

/// SIGHUP re-reads the config file, as `POST /admin/reload` does.
fn reload_on_sighup(reloader: Arc<omnigate::app::Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hangups) = signal(SignalKind::hangup()) {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    // The outcome is logged by the reloader.
                    let _ = reloader.reload();
                }
            });
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
