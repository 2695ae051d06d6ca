//! `waggle-bench`: Waggle and BitlBee 3.6 side by side, each against its own
//! fresh Prosody on loopback, driven through the same IRC commands by one IRC
//! client per user and real XMPP contacts; prints one table per workload.
//!
//! Run it through `bench/run`, which installs what is missing, builds Waggle in
//! release and gives the benchmark its own network namespace (Prosody must sit
//! on port 5222 for BitlBee). Every loop is bounded in count and time; the
//! figures are printed, never asserted.

mod gateway;
mod irc;
mod procstat;
mod prosody;
mod report;
mod tracker;
mod workload;
mod xmpp;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;

use gateway::{Kind, Programs};
use report::WorkloadResult;
use workload::{Options, Shape, Workload};

/// The workloads run by default, in order.
const DEFAULT_WORKLOADS: &[&str] = &[
    "u100",
    "u20",
    "u1",
    "u1000",
    "burst2000",
    "replay10000",
    "storm300",
];

/// Waggle and BitlBee side by side.
#[derive(Debug, Parser)]
#[command(name = "waggle-bench", args_override_self = true)]
struct Cli {
    /// The waggle binary (a release build).
    #[arg(long, default_value = "target/release/waggle")]
    waggle: PathBuf,
    /// The bitlbee binary.
    #[arg(long, default_value = "/usr/sbin/bitlbee")]
    bitlbee: PathBuf,
    /// Workloads to run: u100 (U=100 R=5 M=20), u20 (U=20 R=20 M=50), u1 (U=1
    /// R=50 M=200), u1000 (U=1000 R=5 M=10), burst2000 (U=1 R=5, bursts of
    /// 2000 each way), replay10000 (U=1 R=5: 10000 messages logged while
    /// detached, then an attach; Waggle only), storm300 (300 clients send
    /// `register` at once), or U,R,M (add ",burst" for bursts only). Default: all
    /// named.
    #[arg(long = "workload", value_name = "NAME")]
    workloads: Vec<String>,
    /// Run only this gateway (bitlbee or waggle); default both.
    #[arg(long)]
    only: Option<String>,
    /// Run Waggle under this command (e.g. "valgrind --tool=callgrind").
    #[arg(long, value_name = "CMD")]
    waggle_wrapper: Option<String>,
    /// Run `CMD PHASE PID` before each phase and at the end (e.g. to dump a profile).
    #[arg(long, value_name = "CMD")]
    phase_hook: Option<String>,
    /// Multiply every timeout by this (a gateway under valgrind is ~50× slower).
    #[arg(long, default_value_t = 1.0)]
    timeout_scale: f64,
    /// Write the tables into this Markdown file.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Keep each run's directory (configs, logs, data) and print where it is.
    #[arg(long)]
    keep_dirs: bool,
    /// The date and commit to put above the tables.
    #[arg(long, default_value = "")]
    stamp: String,
}

fn workload(name: &str) -> Result<Workload> {
    let shaped = |users, contacts, messages, one_at_a_time, shape| Workload {
        name: name.to_string(),
        users,
        contacts,
        messages,
        one_at_a_time,
        shape,
    };
    let named = |users, contacts, messages, one_at_a_time| {
        shaped(users, contacts, messages, one_at_a_time, Shape::Relay)
    };
    Ok(match name {
        "u100" => named(100, 5, 20, true),
        "u20" => named(20, 20, 50, true),
        "u1" => named(1, 50, 200, true),
        "u1000" => named(1000, 5, 10, true),
        "burst2000" => named(1, 5, 2000, false),
        "replay10000" => shaped(1, 5, 10_000, false, Shape::Replay),
        "storm300" => shaped(300, 0, 0, false, Shape::Storm),
        custom => {
            let parts: Vec<&str> = custom.split(',').collect();
            let num = |i: usize| -> Result<usize> {
                parts
                    .get(i)
                    .context("expected U,R,M")?
                    .trim()
                    .parse::<usize>()
                    .with_context(|| format!("bad number in workload {custom:?}"))
            };
            let (u, r, m) = (num(0)?, num(1)?, num(2)?);
            if u == 0 || r == 0 || u > 5000 || r > 200 || m > 100_000 {
                bail!(
                    "workload {custom:?}: need 1..=5000 users, 1..=200 contacts, at most 100000 messages"
                );
            }
            let bursts_only = parts.get(3).is_some_and(|p| p.trim() == "burst");
            named(u, r, m, !bursts_only)
        }
    })
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    format!("{cores} cores ({model}), load average {load} at the start")
}

/// How the figures are made, above the tables in RESULTS.md.
const METHOD: &str = "\
Each workload runs once per gateway, one after the other, each against its own \
fresh Prosody 0.12 on 127.0.0.1:5222 (plaintext, `allow_unencrypted_plain_auth`; \
accounts and mutual subscriptions written into its data directory) inside a \
network namespace of the benchmark's own. BitlBee 3.6 (Debian) runs in Daemon \
mode with its own config and data directory; Waggle (release build) with its own \
config (shipped defaults, flood control included; only `max_connections` and \
`max_connections_per_address` raised above U, every client being on 127.0.0.1) \
and database. Both are driven through the same IRC commands, one IRC \
client per user: `register`, `account add jabber`, `account … set` (server, port, \
`tls false`; for Waggle also `allow_plaintext_auth true`), `account … on`. \
U users, R real XMPP contacts each (a lean raw-XML client, online before the \
login), M messages each way per user: one at a time across the whole workload \
(send, wait until it arrives, next), then every user's M at once (each contact \
writes its share in one write; each IRC client writes its M lines in one write).\n\n\
Gateway CPU is the sum of its threads' run time (/proc/PID/task/*/schedstat, \
never less than utime+stime of /proc/PID/stat) over a phase, the phase ending \
when the gateway has gone quiet; per login and per message it is divided by the \
logins or by the messages delivered. Login: `account … on` until the R contacts \
have joined &bitlbee, one user at a time. RSS per user is (VmRSS after every \
login − VmRSS idle) / U; the peak is VmHWM. Latency is from the write of a \
message to its arrival at the other end, both seen by the benchmark's process. \
Lost: sent and never arrived (bursts wait until nothing new arrives for 10 s); \
reordered: arrived after a later message of the same user–contact stream. \
\"The rest of the machine\" is the CPU time all other processes used during the \
run (from /proc/stat), in cores: a measure of how noisy the run was. RssAnon is \
the anonymous part of VmRSS (heap, stacks), without the pages of the program's \
and the libraries' files, which VmRSS counts as they are first touched.\n\n\
Replay (Waggle only; BitlBee ends a session when its client leaves): after the \
login each user's client is shown one message, then QUITs; its contacts send M \
messages between them, which the gateway logs while nobody is attached; once \
Prosody and the gateway are quiet, a new client connects with `PASS` and is \
given them, timed from the connect to the arrival of the last one; the peak is \
VmHWM reset (`clear_refs`) just before the attach, so it includes the one \
Argon2 run (19 MiB) the PASS costs. Storm: U clients connect, \
then all send `register` at once; VmHWM is reset before the first one and read \
when every answer is in, the RSS after once the gateway has gone quiet.\n";

fn markdown(stamp: &str, machine: &str, results: &[WorkloadResult]) -> String {
    let mut out = String::from("# Benchmark: Waggle and BitlBee 3.6 side by side\n\n");
    out.push_str(
        "Written by `bench/run`, which installs what is missing, builds Waggle in \
         release and runs every workload; `bench/run --workload u100` runs one \
         (`bench/run --help` lists them).\n\n",
    );
    if !stamp.is_empty() {
        out.push_str(&format!("Run of {stamp}, on {machine}.\n\n"));
    }
    out.push_str(METHOD);
    out.push('\n');
    for r in results {
        out.push_str(&report::table(r));
        out.push('\n');
    }
    out
}

async fn main_async(cli: Cli) -> Result<()> {
    let names: Vec<String> = if cli.workloads.is_empty() {
        DEFAULT_WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        cli.workloads.clone()
    };
    let workloads = names
        .iter()
        .map(|n| workload(n))
        .collect::<Result<Vec<_>>>()?;
    let kinds: Vec<Kind> = match cli.only.as_deref() {
        None => vec![Kind::BitlBee, Kind::Waggle],
        Some("bitlbee") => vec![Kind::BitlBee],
        Some("waggle") => vec![Kind::Waggle],
        Some(other) => bail!("--only takes bitlbee or waggle, not {other:?}"),
    };
    for k in &kinds {
        let p = match k {
            Kind::BitlBee => &cli.bitlbee,
            Kind::Waggle => &cli.waggle,
        };
        if !p.is_file() {
            bail!(
                "{} not found at {} (bench/run installs and builds what is missing)",
                k.label(),
                p.display()
            );
        }
    }
    let opts = Options {
        programs: Programs {
            waggle: cli.waggle.canonicalize().unwrap_or(cli.waggle.clone()),
            bitlbee: cli.bitlbee.clone(),
            waggle_wrapper: cli
                .waggle_wrapper
                .as_deref()
                .map(|w| w.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        },
        timeout_scale: cli.timeout_scale,
        phase_hook: cli.phase_hook.clone(),
    };
    let machine = machine();
    eprintln!("waggle-bench on {machine}");
    let mut results = Vec::new();
    for w in workloads {
        let mut wr = WorkloadResult {
            workload: w.clone(),
            bitlbee: None,
            waggle: None,
        };
        for &kind in kinds.iter().filter(|k| w.runs_on(**k)) {
            eprintln!("== {} ({}) against {}", w.name, w.title(), kind.label());
            let dir = tempfile::Builder::new()
                .prefix("waggle-bench-")
                .tempdir()
                .context("temporary directory")?;
            let result = workload::run(kind, &w, &opts, dir.path()).await;
            if cli.keep_dirs {
                eprintln!("kept {}", dir.keep().display());
            }
            match result {
                Ok(r) => match kind {
                    Kind::BitlBee => wr.bitlbee = Some(r),
                    Kind::Waggle => wr.waggle = Some(r),
                },
                Err(e) => eprintln!("{} on {}: {e:#}", kind.label(), w.title()),
            }
        }
        println!("{}", report::table(&wr));
        results.push(wr);
    }
    if let Some(path) = &cli.results {
        std::fs::write(path, markdown(&cli.stamp, &machine, &results))
            .with_context(|| format!("write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(main_async(cli))
}

#[cfg(test)]
mod tests {
    use super::{Shape, workload};

    #[test]
    fn workloads_are_named_or_given_as_numbers() {
        let w = workload("u1000").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (w.users, w.contacts, w.messages, w.one_at_a_time),
            (1000, 5, 10, true)
        );
        let w = workload("storm300").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.users, w.shape), (300, Shape::Storm));
        let w = workload("2,3,40,burst").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (w.users, w.contacts, w.messages, w.one_at_a_time),
            (2, 3, 40, false)
        );
        for bad in ["0,1,1", "1,0,1", "1,2", "a,b,c", "1,1,1000000"] {
            assert!(workload(bad).is_err(), "{bad}");
        }
    }
}
