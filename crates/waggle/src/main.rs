//! `waggle`: the IRC gateway daemon and its admin commands.
//!
//! With no arguments it serves on 127.0.0.1:6667 with `./data/waggle.db`. The
//! `user` subcommands manage gateway users in the same database, and
//! `check-config` validates a configuration file.

mod component;
mod config;

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing::info;
use waggle_core::{ProtocolRegistry, Store};
use waggle_store::SqliteStore;

use config::Config;

/// An IRC gateway to instant messaging networks.
#[derive(Debug, Parser)]
#[command(name = "waggle", version, about)]
struct Cli {
    /// A TOML configuration file (see config/waggle.toml); defaults apply without one.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Listen on ADDR:PORT instead of the configured addresses (repeatable).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Use this SQLite database instead of the configured one.
    #[arg(long, global = true, value_name = "PATH")]
    database: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the gateway (the default).
    Run,
    /// Check the configuration and exit.
    CheckConfig,
    /// Manage gateway users.
    #[command(subcommand)]
    User(UserCmd),
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input (or asked for).
    Add {
        /// The login name (the IRC nick they identify with).
        name: String,
    },
    /// List users.
    List,
    /// Delete a user and everything stored for them.
    Del {
        /// The login name.
        name: String,
    },
    /// Set a user's password; their stored IM passwords must be entered again.
    Passwd {
        /// The login name.
        name: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if !cli.listen.is_empty() {
        config.server.listen = cli.listen.clone();
    }
    if let Some(db) = &cli.database {
        config.storage.database = db.clone();
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAGGLE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .context("invalid log level")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Run => runtime.block_on(run(config)),
        Cmd::CheckConfig => {
            config.server_config()?;
            println!("configuration OK");
            Ok(())
        }
        Cmd::User(cmd) => runtime.block_on(user(&config.storage.database, cmd)),
    }
}

/// The protocols built into this binary.
fn protocols() -> ProtocolRegistry {
    let mut registry = ProtocolRegistry::new();
    registry.register(Arc::new(waggle_xmpp::XmppBackend::new()));
    registry.register(Arc::new(waggle_skype::SkypeBackend::new()));
    registry
}

async fn run(config: Config) -> anyhow::Result<()> {
    let server = config.server_config()?;
    let store = SqliteStore::open(&config.storage.database)
        .await
        .with_context(|| format!("cannot open database {}", config.storage.database.display()))?;
    let mut listeners = Vec::new();
    for addr in &config.server.listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        listeners.push(l);
    }
    let mut registry = protocols();
    let component = component::start(
        config.component.as_ref(),
        Arc::new(store.clone()),
        &mut registry,
    )?;
    let gateway = waggle_irc::Gateway::new(
        server,
        Arc::new(store.clone()),
        Arc::new(waggle_irc::MemoryLog::default()),
        registry,
    )?;
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(gateway.serve(listeners, shutdown.clone()));
    info!(database = %config.storage.database.display(), "Waggle {} started", env!("CARGO_PKG_VERSION"));
    wait_for_signal().await;
    info!("shutting down");
    shutdown.cancel();
    serving.await.context("the gateway task failed")?;
    if let Some(c) = component {
        c.stop().await;
    }
    store.close().await;
    info!("stopped");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("the password must not be empty");
    }
    Ok(password)
}

async fn user(database: &Path, cmd: UserCmd) -> anyhow::Result<()> {
    let store = SqliteStore::open(database)
        .await
        .with_context(|| format!("cannot open database {}", database.display()))?;
    let result = user_command(&store, cmd).await;
    store.close().await;
    result
}

async fn user_command(store: &SqliteStore, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add { name } => {
            if !waggle_irc::nick::is_valid_nick(&name) {
                bail!("{name:?} is not a valid IRC nick, so nobody could identify as it");
            }
            let password = read_password("Password: ")?;
            store.create_user(&name, &password).await?;
            println!("User {name} created");
        }
        UserCmd::List => {
            let users = store.list_users().await?;
            for u in &users {
                println!("{}\t{} account(s)\tsince {}", u.name, u.accounts, u.created);
            }
            println!("{} user(s)", users.len());
        }
        UserCmd::Del { name } => {
            if !store.delete_user(&name).await? {
                bail!("no such user {name}");
            }
            println!("User {name} deleted");
        }
        UserCmd::Passwd { name } => {
            if !store.user_exists(&name).await? {
                bail!("no such user {name}");
            }
            let password = read_password("New password: ")?;
            let cleared = store.reset_password(&name, &password).await?;
            println!("Password of {name} changed");
            if cleared > 0 {
                println!(
                    "{cleared} stored IM password(s) could not be kept and must be entered again"
                );
            }
        }
    }
    Ok(())
}
