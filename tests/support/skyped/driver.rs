//! The IRC client's side of a transcript, played with [`IrcClient`]: lines are
//! sent as written, expected substrings are awaited in order (ten seconds each),
//! and right before `account skype on` the account is pointed at the replaying
//! daemon (`server`, `port`, and its `fingerprint` unless the transcript sets
//! `fingerprint` or `cafile` itself).

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::script::{IrcStep, Vars};
use crate::client::{IrcClient, line_contains};

/// How long each expected line may take.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The lines that point the `skype` account at the replayer.
pub fn setup_lines(steps: &[IrcStep], vars: &Vars) -> Vec<String> {
    let set = |k: &str, v: &str| format!("PRIVMSG &bitlbee :account skype set {k} {v}");
    let mut lines = vec![
        set("server", "127.0.0.1"),
        set("port", &vars.port.to_string()),
    ];
    let pins_itself = steps.iter().any(|s| match s {
        IrcStep::Send(l) => {
            l.contains("account skype set fingerprint")
                || l.contains("account skype set cafile")
                || l.contains("account skype set -del fingerprint")
        }
        _ => false,
    });
    if !pins_itself {
        lines.push(set("fingerprint", &vars.fingerprint));
    }
    lines
}

fn is_account_on(line: &str) -> bool {
    line.trim_end()
        .eq_ignore_ascii_case("PRIVMSG &bitlbee :account skype on")
}

/// Play the IRC side on a connected (unregistered) client.
pub async fn drive(c: &mut IrcClient, steps: &[IrcStep], setup: &[String]) -> Result<()> {
    c.set_timeout(EXPECT_TIMEOUT);
    let mut pointed = false;
    let mut mark = 0usize;
    for (i, step) in steps.iter().enumerate() {
        let at = || format!("IRC side, step {} ({step:?})", i + 1);
        match step {
            IrcStep::Send(line) => {
                if !pointed && is_account_on(line) {
                    for l in setup {
                        c.send(l).await.with_context(at)?;
                    }
                    pointed = true;
                }
                mark = c.history().len();
                c.send(line).await.with_context(at)?;
            }
            IrcStep::Expect(needle) => {
                c.expect(needle.as_str()).await.with_context(at)?;
            }
            IrcStep::Absent(needle) => {
                // Everything received since the last line we sent, up to a barrier.
                c.sync().await.with_context(at)?;
                let seen = &c.history()[mark.min(c.history().len())..];
                if let Some(l) = seen.iter().find(|l| line_contains(l, needle)) {
                    bail!("{}: unexpected line {l:?}", at());
                }
            }
        }
    }
    Ok(())
}
