//! The `headwater` binary: reads the configuration, sets up logging and runs the
//! server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::{Parser, Subcommand};
use headwater_core::Role;
use headwater_server::seed::{SeedOptions, seed};
use headwater_server::{AppState, Config, accounts, serve};
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
    /// Console accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Fills a fresh database with months of realistic demo history, played through
    /// the same code as real traffic, and makes demo accounts.
    Seed {
        #[command(flatten)]
        settings: Settings,
        /// Visitors to simulate.
        #[arg(long, default_value_t = 3000)]
        visitors: usize,
        /// Days of history, ending now.
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// The site to fill (the first one by default).
        #[arg(long)]
        site: Option<String>,
        /// The same number gives the same history.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Also writes the demo accounts' passwords to this file (mode 0600).
        #[arg(long)]
        credentials_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Adds a person who signs in to the console. The password is asked for on the
    /// terminal, or read from standard input's first line with --password-stdin.
    Add {
        #[command(flatten)]
        settings: Settings,
        #[arg(long)]
        email: String,
        /// admin, marketer, qualification or sales.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
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
    let cli = Cli::parse();
    // Seeding plays months of history: its every step logged would drown the summary.
    let default_filter = match cli.command {
        Command::Seed { .. } => "error",
        _ => DEFAULT_LOG_FILTER,
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    match cli.command {
        Command::Serve { settings } => {
            let config = settings.load()?;
            let listener = tokio::net::TcpListener::bind(config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.listen))?;
            let state = AppState::new(config).await?;
            serve(state, listener, shutdown_signal()).await
        }
        Command::User {
            command:
                UserCommand::Add {
                    settings,
                    email,
                    role,
                    password_stdin,
                },
        } => {
            let config = settings.load()?;
            let password = read_password(password_stdin)?;
            let store = headwater_server::store::Store::open(&config.server.database).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis();
            let added = accounts::add_user(&store, &email, role, &password, now as i64).await;
            store.close().await;
            added?;
            println!("added {} as {role}", email.trim().to_lowercase());
            Ok(())
        }
        Command::Seed {
            settings,
            visitors,
            days,
            site,
            seed: random_seed,
            credentials_file,
        } => {
            let mut config = settings.load()?;
            // Handoffs of the simulated history wait in the outbox for the server.
            config.server.demo_site = None;
            let state = AppState::new(config).await?;
            let until_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as i64;
            let options = SeedOptions {
                visitors,
                days,
                site,
                seed: random_seed,
                until_ms,
            };
            let started = std::time::Instant::now();
            let summary = seed(&state, &options).await?;
            state.store().close().await;
            println!(
                "seeded site {}: {} visitors over {days} days, {} identified, {} batches, \
                 {} moves by people, {} service-level breaches, in {:.0} s",
                summary.site,
                summary.visitors,
                summary.identified,
                summary.batches,
                summary.moves,
                summary.sla_breaches,
                started.elapsed().as_secs_f64()
            );
            let mut lines = String::new();
            for (email, role, password) in &summary.accounts {
                lines.push_str(&format!("{:<14} {email:<36} {password}\n", role.as_str()));
            }
            if !lines.is_empty() {
                println!("demo accounts (shown once):\n{lines}");
                if let Some(path) = credentials_file {
                    write_private(&path, &lines)?;
                }
            }
            Ok(())
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

fn parse_role(name: &str) -> Result<Role, String> {
    accounts::parse_role(name)
        .ok_or_else(|| format!("`{name}` is not a role: admin, marketer, qualification, sales"))
}

/// The new account's password, from the terminal (not echoed, asked twice) or from
/// standard input's first line. Never logged.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let password = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    anyhow::ensure!(password == again, "the two passwords differ");
    Ok(password)
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
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
