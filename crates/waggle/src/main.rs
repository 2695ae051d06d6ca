//! `waggle`: the IRC gateway daemon and its admin commands.
//!
//! With no arguments it serves on 127.0.0.1:6667 with `./data/waggle.db`. The
//! `user` subcommands manage gateway users in the same database, `keygen` makes
//! an unattended key file, `check-config` validates a configuration file, and
//! `import-bitlbee` brings users over from a BitlBee configuration directory.

mod import_bitlbee;

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing::info;
use waggle_core::{MessageLog, ProtocolRegistry, Retention, Store};
use waggle_store::{OpenOptions, SqliteStore};

use waggle::config::Config;
use waggle::{component, keyfile};

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
    /// Check the configuration (and the unattended key file it names) and exit.
    CheckConfig,
    /// Write a new random unattended key to FILE (mode 0600; never overwrites).
    /// Name it in `[storage] unattended_key` to let accounts start after a restart
    /// without their user: whoever can read it and the database can read every
    /// such user's data.
    Keygen {
        /// Where to write the key.
        file: PathBuf,
    },
    /// Manage gateway users.
    #[command(subcommand)]
    User(UserCmd),
    /// Import BitlBee's users (every <nick>.xml of its configuration directory);
    /// they identify once with their BitlBee password.
    ImportBitlbee {
        /// BitlBee's configuration directory (its ConfigDir, e.g. /var/lib/bitlbee).
        dir: PathBuf,
    },
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
    /// Set a user's password; their stored IM passwords must be entered again and
    /// their message history is deleted (it was sealed under the old password).
    Passwd {
        /// The login name.
        name: String,
    },
    /// Show what a user's message history holds, or prune it.
    History {
        /// The login name.
        name: String,
        /// Delete all of it.
        #[arg(long, conflicts_with = "before")]
        clear: bool,
        /// Delete what is older than DAYS days.
        #[arg(long, value_name = "DAYS")]
        before: Option<u32>,
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
    let runtime = waggle::runtime::build(config.server.threads)?;
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Run => runtime.block_on(run(config)),
        Cmd::CheckConfig => {
            config.server_config()?;
            config.store_options()?;
            println!("configuration OK");
            Ok(())
        }
        Cmd::Keygen { file } => {
            keyfile::generate(&file)?;
            println!(
                "Unattended key written to {}; name it in [storage] unattended_key",
                file.display()
            );
            Ok(())
        }
        Cmd::User(cmd) => runtime.block_on(user(&config, cmd)),
        Cmd::ImportBitlbee { dir } => {
            runtime.block_on(import_bitlbee::run(&config.storage.database, &dir))
        }
    }
}

/// The protocols built into this binary.
fn protocols() -> ProtocolRegistry {
    let mut registry = ProtocolRegistry::new();
    registry.register(Arc::new(waggle_xmpp::XmppBackend::new()));
    registry.register(Arc::new(waggle_skype::SkypeBackend::new()));
    registry
}

/// Open the configured database with the configured options.
async fn open_store(config: &Config) -> anyhow::Result<SqliteStore> {
    let options: OpenOptions = config.store_options()?;
    let database = &config.storage.database;
    SqliteStore::open_with(database, options)
        .await
        .with_context(|| format!("cannot open database {}", database.display()))
}

/// How often the message log is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prune the message log now and then every [`PRUNE_EVERY`], until shut down.
async fn prune_history(store: SqliteStore, retention: Retention, shutdown: CancellationToken) {
    loop {
        if let Err(e) = store.prune(retention, SystemTime::now()).await {
            tracing::warn!(error = %e, "pruning the message log failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let server = config.server_config()?;
    let store = open_store(&config).await?;
    let mut listeners = Vec::new();
    for addr in &config.server.listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        listeners.push(waggle_irc::Listener::Plain(l));
    }
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) if !config.server.tls_listen.is_empty() => Some(
            waggle_irc::ServerTls::load(cert, key)
                .with_context(|| format!("cannot use the TLS certificate {}", cert.display()))?,
        ),
        _ => None,
    };
    if let Some(tls) = &tls {
        for addr in &config.server.tls_listen {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            listeners.push(waggle_irc::Listener::Tls(l, tls.clone()));
        }
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
        Arc::new(store.clone()),
        registry,
    )?;
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(gateway.serve(listeners, shutdown.clone()));
    let pruning = tokio::spawn(prune_history(
        store.clone(),
        config.retention(),
        shutdown.clone(),
    ));
    info!(
        database = %config.storage.database.display(),
        unattended = config.storage.unattended_key.is_some(),
        "Waggle {} started",
        env!("CARGO_PKG_VERSION")
    );
    wait_for_signal(tls.as_ref()).await;
    info!("shutting down");
    shutdown.cancel();
    serving.await.context("the gateway task failed")?;
    pruning.await.context("the pruning task failed")?;
    if let Some(c) = component {
        c.stop().await;
    }
    store.close().await;
    info!("stopped");
    Ok(())
}

/// Wait for SIGTERM or SIGINT; on SIGHUP, read the TLS certificate again.
#[cfg(unix)]
async fn wait_for_signal(tls: Option<&waggle_irc::ServerTls>) {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => match tls.map(waggle_irc::ServerTls::reload) {
                    Some(Ok(())) => info!("TLS certificate reloaded"),
                    Some(Err(e)) => tracing::warn!(error = %e, "TLS certificate not reloaded; the old one stays"),
                    None => info!("SIGHUP: nothing to reload"),
                },
            }
        },
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal(_tls: Option<&waggle_irc::ServerTls>) {
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

async fn user(config: &Config, cmd: UserCmd) -> anyhow::Result<()> {
    let store = open_store(config).await?;
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
            let report = store.reset_password_report(&name, &password).await?;
            println!("Password of {name} changed");
            if report.im_passwords_cleared > 0 {
                println!(
                    "{} stored IM password(s) could not be kept and must be entered again",
                    report.im_passwords_cleared
                );
            }
            if report.messages_deleted > 0 {
                println!(
                    "{} message(s) of history were sealed under the old password and are deleted",
                    report.messages_deleted
                );
            }
        }
        UserCmd::History {
            name,
            clear,
            before,
        } => {
            let Some(id) = store.user_id(&name).await? else {
                bail!("no such user {name}");
            };
            let cutoff = match (clear, before) {
                (true, _) => Some(None),
                (false, Some(days)) => Some(Some(
                    SystemTime::now()
                        .checked_sub(Duration::from_secs(u64::from(days) * 24 * 3600))
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                )),
                (false, None) => None,
            };
            if let Some(before) = cutoff {
                let deleted = store.clear_history(id, before).await?;
                println!("Deleted {deleted} message(s) of {name}");
            }
            let stats = store.history_stats(id).await?;
            println!(
                "{name}: {} message(s) in {} conversation(s)",
                stats.count, stats.conversations
            );
            if let (Some(oldest), Some(newest)) = (stats.oldest, stats.newest) {
                println!("oldest {}, newest {}", utc(oldest), utc(newest));
            }
        }
    }
    Ok(())
}

/// A time as `YYYY-MM-DD HH:MM:SS UTC` (`?` if it cannot be shown).
fn utc(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .map_or_else(|| "?".to_string(), |s| format!("{s} UTC"))
}
