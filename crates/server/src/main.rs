//! The `headwater` binary: reads the configuration, sets up logging and runs the
//! server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use headwater_server::{AppState, Config, serve};
use tracing_subscriber::EnvFilter;

/// Our crates log at info, dependencies at warn, unless RUST_LOG says otherwise.
const DEFAULT_LOG_FILTER: &str = "warn,headwater_server=info,headwater=info";

#[derive(Parser)]
#[command(
    name = "headwater",
    version,
    about = "Turns anonymous visitors into sales-ready leads."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server.
    Serve {
        #[command(flatten)]
        settings: Settings,
    },
    /// Reads and validates the configuration, then exits.
    CheckConfig {
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(clap::Args)]
struct Settings {
    /// The configuration file.
    #[arg(long, env = "HEADWATER_CONFIG", default_value = "headwater.toml")]
    config: PathBuf,
    /// Overrides `server.listen`.
    #[arg(long, env = "HEADWATER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Overrides `server.database`.
    #[arg(long, env = "HEADWATER_DATABASE")]
    database: Option<String>,
    /// Overrides `server.pkg_dir`.
    #[arg(long, env = "HEADWATER_PKG_DIR")]
    pkg_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    match Cli::parse().command {
        Command::Serve { settings } => {
            let config = settings.load()?;
            let listener = tokio::net::TcpListener::bind(config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.listen))?;
            let state = AppState::new(config).await?;
            serve(state, listener, shutdown_signal()).await
        }
        Command::CheckConfig { settings } => {
            let config = settings.load()?;
            println!(
                "{}: {} site(s), valid",
                settings.config.display(),
                config.sites.len()
            );
            Ok(())
        }
    }
}

impl Settings {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(&self.config)?;
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        if let Some(database) = &self.database {
            config.server.database.clone_from(database);
        }
        if let Some(pkg_dir) = &self.pkg_dir {
            config.server.pkg_dir.clone_from(pkg_dir);
        }
        Ok(config)
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
