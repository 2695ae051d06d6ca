//! Transcript files: `NAME-skyped.mock` (the daemon's side) and
//! `NAME-bitlbee.mock` (the IRC client's side), as described in
//! `../shared/conformance/skype/README.md`, plus Waggle's own additions, used
//! only by its own transcripts under `tests/fixtures/skype/`:
//!
//! - daemon side: `-- close` (skyped closes the connection: the lines after it
//!   are for the next connection, which logs in again), `-- hang` (skyped stops
//!   answering, even PINGs, until the gateway gives up), `-- expect-close` (the
//!   gateway must close the connection now), `-- one-record` and
//!   `-- record-size N` (the next `<<` block goes out in one TLS record, or cut
//!   into records of N bytes);
//! - IRC side: `!! X` (up to a PING barrier, no line received since the last
//!   `<<` line was sent contains X);
//! - both: `{{port}}`, `{{fingerprint}}`, `{{cafile}}` (the replaying daemon's)
//!   and `{{repeat:TEXT:N}}` (TEXT N times) in any line.

use anyhow::{Context, Result, bail};

/// How a `<<` block is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// Each line in its own write (and TLS record).
    PerLine,
    /// The whole block in one record.
    One,
    /// The block's bytes cut into records of this size.
    Size(usize),
}

/// One step of the daemon's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonStep {
    /// The gateway must send exactly this line.
    Expect(String),
    /// Send these lines.
    Send(Vec<String>, Records),
    /// Close the connection.
    Close,
    /// Stop answering until the gateway closes the connection.
    Hang,
    /// The gateway must close the connection.
    ExpectClose,
}

/// One step of the IRC client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrcStep {
    /// Send this line.
    Send(String),
    /// Wait for a line containing this.
    Expect(String),
    /// No line up to a barrier contains this.
    Absent(String),
}

/// Values for the placeholders.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// The replaying daemon's port.
    pub port: u16,
    /// Its certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// The CA file that vouches for it.
    pub cafile: String,
}

/// Replace the placeholders in a line.
pub fn substitute(line: &str, vars: &Vars) -> Result<String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unclosed {{{{ in {line:?}"))?;
        let name = &after[..end];
        match name {
            "port" => out.push_str(&vars.port.to_string()),
            "fingerprint" => out.push_str(&vars.fingerprint),
            "cafile" => out.push_str(&vars.cafile),
            _ => {
                let Some(spec) = name.strip_prefix("repeat:") else {
                    bail!("unknown placeholder {{{{{name}}}}} in {line:?}");
                };
                let (text, n) = spec
                    .rsplit_once(':')
                    .with_context(|| format!("bad repeat {name:?}"))?;
                let n: usize = n
                    .parse()
                    .with_context(|| format!("bad count in {name:?}"))?;
                out.push_str(&text.repeat(n));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parse a daemon side.
pub fn parse_daemon(text: &str, vars: &Vars) -> Result<Vec<DaemonStep>> {
    let mut steps: Vec<DaemonStep> = Vec::new();
    // Set by a records directive: the next `<<` line starts a block written so.
    let mut next_records: Option<Records> = None;
    for (i, raw) in text.lines().enumerate() {
        let at = || format!("line {}: {raw:?}", i + 1);
        if raw.trim().is_empty() {
            continue;
        }
        if let Some(x) = raw.strip_prefix(">> ") {
            steps.push(DaemonStep::Expect(substitute(x, vars).with_context(at)?));
        } else if let Some(x) = raw.strip_prefix("<< ").or_else(|| raw.strip_prefix("<<")) {
            let line = substitute(x, vars).with_context(at)?;
            match (steps.last_mut(), next_records.take()) {
                (Some(DaemonStep::Send(lines, _)), None) => lines.push(line),
                (_, records) => {
                    steps.push(DaemonStep::Send(
                        vec![line],
                        records.unwrap_or(Records::PerLine),
                    ));
                }
            }
        } else if let Some(d) = raw.strip_prefix("-- ") {
            let mut words = d.split_whitespace();
            match (words.next(), words.next()) {
                (Some("close"), None) => steps.push(DaemonStep::Close),
                (Some("hang"), None) => steps.push(DaemonStep::Hang),
                (Some("expect-close"), None) => steps.push(DaemonStep::ExpectClose),
                (Some("one-record"), None) => next_records = Some(Records::One),
                (Some("record-size"), Some(n)) => {
                    let n: usize = n.parse().with_context(at)?;
                    if n == 0 {
                        bail!("record size 0 at {}", at());
                    }
                    next_records = Some(Records::Size(n));
                }
                _ => bail!("unknown directive at {}", at()),
            }
        } else {
            bail!("not a transcript line at {}", at());
        }
    }
    Ok(steps)
}

/// Parse an IRC side.
pub fn parse_irc(text: &str, vars: &Vars) -> Result<Vec<IrcStep>> {
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let at = || format!("line {}: {raw:?}", i + 1);
        if raw.trim().is_empty() {
            continue;
        }
        let step = if let Some(x) = raw.strip_prefix("<< ") {
            IrcStep::Send(substitute(x, vars).with_context(at)?)
        } else if let Some(x) = raw.strip_prefix(">> ") {
            IrcStep::Expect(substitute(x, vars).with_context(at)?)
        } else if let Some(x) = raw.strip_prefix("!! ") {
            IrcStep::Absent(substitute(x, vars).with_context(at)?)
        } else {
            bail!("not a transcript line at {}", at());
        };
        steps.push(step);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        let vars = Vars {
            port: 2727,
            fingerprint: "AB:CD".into(),
            cafile: "/tmp/ca.pem".into(),
        };
        assert_eq!(
            substitute("set port {{port}} {{fingerprint}}", &vars).ok(),
            Some("set port 2727 AB:CD".into())
        );
        assert_eq!(
            substitute("x{{repeat:ab:3}}y", &vars).ok(),
            Some("xabababy".into())
        );
        assert!(substitute("{{nope}}", &vars).is_err());
        assert_eq!(substitute("#a/$b;c", &vars).ok(), Some("#a/$b;c".into()));
    }

    #[test]
    fn daemon_steps() {
        let text =
            ">> A\n<< B\n<< C \n-- one-record\n>> D\n<< E\n-- record-size 2\n<< F\n-- close\n";
        let steps = parse_daemon(text, &Vars::default()).ok();
        assert_eq!(
            steps,
            Some(vec![
                DaemonStep::Expect("A".into()),
                DaemonStep::Send(vec!["B".into(), "C ".into()], Records::PerLine),
                DaemonStep::Expect("D".into()),
                DaemonStep::Send(vec!["E".into()], Records::One),
                DaemonStep::Send(vec!["F".into()], Records::Size(2)),
                DaemonStep::Close,
            ])
        );
        assert!(parse_daemon("?? x", &Vars::default()).is_err());
    }
}
