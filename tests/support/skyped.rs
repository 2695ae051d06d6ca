//! Skype transcripts against the real gateway: a replaying skyped
//! ([`replay::Replayer`]), the IRC side played by [`crate::IrcClient`]
//! ([`driver`]), a gateway with the Skype backend ([`gateway::SkypeGateway`]),
//! and [`run_pair`] tying a `NAME-skyped.mock` / `NAME-bitlbee.mock` pair together.
//!
//! For tests of the backend alone, [`daemon::Daemon`] is a minimal skyped that
//! logs anyone in, can drop its connections and change its certificate.
//!
//! A pair passes when the daemon side saw exactly its expected lines and the IRC
//! side saw every expected substring in order. The replaying daemon knows the
//! user `alice` with password `foo`, as the recordings assume.

pub mod daemon;
pub mod driver;
pub mod gateway;
pub mod replay;
pub mod script;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

pub use daemon::Daemon;
pub use gateway::SkypeGateway;
pub use replay::{Prepared, Replayer};
pub use script::{DaemonStep, IrcStep, Vars};

use crate::client::IrcClient;

/// The user name the replaying daemon accepts.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "foo";

/// What a passing pair left behind worth a look.
#[derive(Debug, Default)]
pub struct PairReport {
    /// Lines the gateway sent after the daemon side's last step.
    pub after_end: Vec<String>,
}

/// The pairs in a folder: the names NAME with both `NAME-skyped.mock` and
/// `NAME-bitlbee.mock`, sorted; an error for a half pair or a missing folder.
pub fn pairs_in(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the transcript folder {}", dir.display()))?;
    let mut names = Vec::new();
    for e in entries {
        let name = e?.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_suffix("-skyped.mock") {
            names.push(n.to_string());
        } else if let Some(n) = name.strip_suffix("-bitlbee.mock")
            && !dir.join(format!("{n}-skyped.mock")).exists()
        {
            bail!("{name} has no {n}-skyped.mock beside it");
        }
    }
    for n in &names {
        if !dir.join(format!("{n}-bitlbee.mock")).exists() {
            bail!("{n}-skyped.mock has no {n}-bitlbee.mock beside it");
        }
    }
    names.sort();
    Ok(names)
}

/// Run the pair NAME from `dir`.
pub async fn run_pair_in(dir: &Path, name: &str) -> Result<PairReport> {
    let read = |side: &str| -> Result<String> {
        let path: PathBuf = dir.join(format!("{name}-{side}.mock"));
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
    };
    run_pair(&read("skyped")?, &read("bitlbee")?).await
}

/// Run one pair given as the texts of its two sides.
pub async fn run_pair(skyped: &str, bitlbee: &str) -> Result<PairReport> {
    let prepared = Prepared::new().await?;
    let vars = Vars {
        port: prepared.port(),
        fingerprint: prepared.fingerprint().to_string(),
        cafile: prepared.cafile().display().to_string(),
    };
    let daemon = script::parse_daemon(skyped, &vars).context("the daemon side")?;
    let irc = script::parse_irc(bitlbee, &vars).context("the IRC side")?;
    let setup = driver::setup_lines(&irc, &vars);
    let replayer = prepared.start(daemon, USER, PASSWORD);
    let gw = SkypeGateway::start().await?;
    let mut client = IrcClient::connect(gw.addr()).await?;
    let played = tokio::select! {
        r = driver::drive(&mut client, &irc, &setup) => r,
        f = replayer.failed() => Err(anyhow!("daemon side: {f}")),
    };
    if let Err(e) = played {
        let status = replayer.status();
        let history = client.history();
        let recent = &history[history.len().saturating_sub(40)..];
        bail!(
            "{e:#}\n--- daemon side log:\n  {}\n--- last IRC lines:\n  {}",
            status.log.join("\n  "),
            recent.join("\n  ")
        );
    }
    replayer
        .finished(Duration::from_secs(10))
        .await
        .context("daemon side")?;
    let after_end = replayer
        .status()
        .log
        .iter()
        .filter_map(|l| l.strip_prefix("after the end: ").map(str::to_string))
        .collect();
    drop(client);
    gw.stop().await?;
    Ok(PairReport { after_end })
}
