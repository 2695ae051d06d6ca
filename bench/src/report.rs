//! One table per workload: a row per figure, a column per gateway and the
//! Waggle / BitlBee ratio, in Markdown (printed, and written to RESULTS.md).

use std::fmt::Write as _;
use std::time::Duration;

use crate::gateway::Kind;
use crate::tracker::Dir;
use crate::workload::{Phase, RunResult, Workload};

/// One workload's results for both gateways (either may be missing).
pub struct WorkloadResult {
    /// The workload.
    pub workload: Workload,
    /// BitlBee's run.
    pub bitlbee: Option<RunResult>,
    /// Waggle's run.
    pub waggle: Option<RunResult>,
}

/// A row: its label and, per gateway, the shown text and the number the ratio uses.
struct Row {
    label: String,
    values: [Option<(String, f64)>; 2],
    ratio: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn fmt_us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0} µs")
    } else {
        format!("{v:.1} µs")
    }
}

fn fmt_kb(kb: f64) -> String {
    if kb >= 10_240.0 {
        format!("{:.1} MB", kb / 1024.0)
    } else {
        format!("{kb:.0} KB")
    }
}

fn quantile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    sorted
        .get(((sorted.len() - 1) as f64 * p).round() as usize)
        .copied()
}

fn mode(phase: Phase) -> Option<(Dir, &'static str)> {
    match phase {
        Phase::OneAtATime(d) => Some((d, "one at a time")),
        Phase::Burst(d) => Some((d, "burst")),
        _ => None,
    }
}

/// A figure over the messages of a phase: when some were lost it covers only
/// those that arrived, which says so and takes no ratio (NaN).
fn partial(r: &RunResult, p: Phase, text: String, v: f64) -> (String, f64) {
    let flow = r
        .phases
        .iter()
        .find(|x| x.phase == p)
        .and_then(|x| x.flow.as_ref());
    match flow {
        Some(f) if f.lost > 0 => (
            format!("{text} ({} of {} arrived)", f.delivered, f.sent),
            f64::NAN,
        ),
        _ => (text, v),
    }
}

fn rows(w: &WorkloadResult) -> Vec<Row> {
    let runs = [w.bitlbee.as_ref(), w.waggle.as_ref()];
    let mut out = Vec::new();
    let mut row = |label: String, ratio: bool, f: &dyn Fn(&RunResult) -> Option<(String, f64)>| {
        let values = [runs[0].and_then(f), runs[1].and_then(f)];
        if values.iter().any(Option::is_some) {
            out.push(Row {
                label,
                values,
                ratio,
            });
        }
    };
    let per_unit = |r: &RunResult, p: Phase, scale: f64| {
        let ph = r.phases.iter().find(|x| x.phase == p)?;
        (ph.units > 0).then(|| ph.cpu_ns as f64 / ph.units as f64 / scale)
    };
    row(
        "login p50 (account on → all contacts joined)".into(),
        true,
        &|r| quantile(&r.logins, 0.5).map(|d| (fmt_ms(ms(d)), ms(d))),
    );
    row("login p95".into(), true, &|r| {
        quantile(&r.logins, 0.95).map(|d| (fmt_ms(ms(d)), ms(d)))
    });
    row("gateway CPU per login".into(), true, &|r| {
        per_unit(r, Phase::Login, 1e6).map(|v| (fmt_ms(v), v))
    });
    row(
        "gateway CPU per user set-up (connect, register, account add, set)".into(),
        true,
        &|r| per_unit(r, Phase::Setup, 1e6).map(|v| (fmt_ms(v), v)),
    );
    let phases = w.workload.phases();
    for &p in &phases {
        let Some((dir, how)) = mode(p) else { continue };
        row(
            format!("CPU per message, {} {how}", dir.label()),
            true,
            &|r| {
                let v = per_unit(r, p, 1e3)?;
                Some(partial(r, p, fmt_us(v), v))
            },
        );
    }
    row("CPU per message, all message phases".into(), true, &|r| {
        let messages = r.phases.iter().filter(|p| mode(p.phase).is_some());
        let clean =
            |p: &&crate::workload::PhaseResult| p.flow.as_ref().is_some_and(|f| f.lost == 0);
        let skipped = messages.clone().filter(|p| !clean(p)).count();
        let (cpu, n) = messages
            .filter(clean)
            .fold((0u64, 0u64), |(c, n), p| (c + p.cpu_ns, n + p.units));
        (n > 0).then(|| {
            let v = cpu as f64 / n as f64 / 1e3;
            if skipped > 0 {
                (
                    format!("{} (without the {skipped} with losses)", fmt_us(v)),
                    f64::NAN,
                )
            } else {
                (fmt_us(v), v)
            }
        })
    });
    row(
        "of which the message log (its writer thread: SQLite insert and commit), all message phases".into(),
        false,
        &|r| {
            let messages = r.phases.iter().filter(|p| {
                mode(p.phase).is_some() && p.flow.as_ref().is_some_and(|f| f.lost == 0)
            });
            let (ns, n) = messages.fold((0u64, 0u64), |(c, n), p| (c + p.log_writer_ns, n + p.units));
            (n > 0 && ns > 0).then(|| {
                let v = ns as f64 / n as f64 / 1e3;
                (fmt_us(v), v)
            })
        },
    );
    for &p in &phases {
        let Some((dir, how)) = mode(p) else { continue };
        row(
            format!("latency p50 / p99, {} {how}", dir.label()),
            true,
            &|r| {
                let f = r.phases.iter().find(|x| x.phase == p)?.flow.as_ref()?;
                let (a, b) = (f.latency(0.5)?, f.latency(0.99)?);
                let text = format!("{} / {}", fmt_ms(ms(a)), fmt_ms(ms(b)));
                Some(partial(r, p, text, ms(a)))
            },
        );
    }
    for &p in &phases {
        let Some((dir, how)) = mode(p) else { continue };
        row(
            format!("delivered / lost / dup / reordered, {} {how}", dir.label()),
            false,
            &|r| {
                let f = r.phases.iter().find(|x| x.phase == p)?.flow.as_ref()?;
                Some((
                    format!(
                        "{} / {} / {} / {}",
                        f.delivered, f.lost, f.duplicated, f.reordered
                    ),
                    0.0,
                ))
            },
        );
    }
    row("RSS idle".into(), true, &|r| {
        let kb = r.idle.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    let users = w.workload.users.max(1) as f64;
    // Per user: what the logins added (a workload without logins has no such figure).
    if phases.contains(&Phase::Login) {
        row("RSS per user (logged in − idle) / U".into(), true, &|r| {
            let kb = r.logged_in.rss_kb.saturating_sub(r.idle.rss_kb) as f64 / users;
            Some((fmt_kb(kb), kb))
        });
        row(
            "RSS per user, anonymous memory only (RssAnon: heap and stacks, no code pages)".into(),
            true,
            &|r| {
                let kb = r.logged_in.anon_kb.saturating_sub(r.idle.anon_kb) as f64 / users;
                Some((fmt_kb(kb), kb))
            },
        );
    }
    row("RSS at the end".into(), true, &|r| {
        let kb = r.end.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row("RSS peak (VmHWM)".into(), true, &|r| {
        let kb = r.end.hwm_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    replay_rows(&mut row);
    storm_rows(&mut row);
    out
}

type RowFn<'a> = dyn FnMut(String, bool, &dyn Fn(&RunResult) -> Option<(String, f64)>) + 'a;

/// The replay workload's rows.
fn replay_rows(row: &mut RowFn<'_>) {
    row(
        "replay: messages logged while detached".into(),
        false,
        &|r| r.replay.as_ref().map(|p| (p.logged.to_string(), 0.0)),
    );
    row(
        "replay: connect (PASS) → the last of them arrived".into(),
        true,
        &|r| {
            let d = r.replay.as_ref()?.time_to_last?;
            Some((fmt_ms(ms(d)), ms(d)))
        },
    );
    row(
        "replay: gateway CPU per replayed message".into(),
        true,
        &|r| {
            let p = r.replay.as_ref()?;
            let v = p.cpu_ns as f64 / p.logged.max(1) as f64 / 1e3;
            Some((fmt_us(v), v))
        },
    );
    row("replay: RSS before the attach".into(), true, &|r| {
        let kb = r.replay.as_ref()?.before.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row("replay: RSS peak during it (VmHWM)".into(), true, &|r| {
        let kb = r.replay.as_ref().filter(|p| p.peak_kb > 0)?.peak_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row("replay: RSS after it".into(), true, &|r| {
        let kb = r.replay.as_ref()?.after.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row(
        "replay: delivered / lost / dup / reordered".into(),
        false,
        &|r| {
            let f = r
                .phases
                .iter()
                .find(|x| x.phase == Phase::Replay)?
                .flow
                .as_ref()?;
            Some((
                format!(
                    "{} / {} / {} / {}",
                    f.delivered, f.lost, f.duplicated, f.reordered
                ),
                0.0,
            ))
        },
    );
}

/// The register storm's rows.
fn storm_rows(row: &mut RowFn<'_>) {
    row("storm: registrations answered".into(), false, &|r| {
        r.storm.as_ref().map(|s| (s.registered.to_string(), 0.0))
    });
    row(
        "storm: first `register` → last answer".into(),
        true,
        &|r| {
            let d = r.storm.as_ref()?.wall;
            Some((fmt_ms(ms(d)), ms(d)))
        },
    );
    row("storm: gateway CPU per registration".into(), true, &|r| {
        let s = r.storm.as_ref()?;
        let v = s.cpu_ns as f64 / s.registered.max(1) as f64 / 1e6;
        Some((fmt_ms(v), v))
    });
    row("storm: RSS before (clients connected)".into(), true, &|r| {
        let kb = r.storm.as_ref()?.before.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row("storm: RSS peak during it (VmHWM)".into(), true, &|r| {
        let kb = r.storm.as_ref().filter(|s| s.peak_kb > 0)?.peak_kb as f64;
        Some((fmt_kb(kb), kb))
    });
    row("storm: RSS after it (gone quiet)".into(), true, &|r| {
        let kb = r.storm.as_ref()?.after.rss_kb as f64;
        Some((fmt_kb(kb), kb))
    });
}

fn ratio(row: &Row) -> String {
    match (&row.values[0], &row.values[1]) {
        (Some((_, b)), Some((_, w))) if row.ratio && *b > 0.0 && w.is_finite() => {
            let r = w / b;
            if r >= 10.0 {
                format!("{r:.0}")
            } else if r >= 1.0 {
                format!("{r:.2}")
            } else {
                format!("{r:.3}")
            }
        }
        _ => String::new(),
    }
}

/// The Markdown table of one workload, with its notes below.
pub fn table(w: &WorkloadResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}\n", w.workload.title());
    let _ = writeln!(
        out,
        "| | {} | {} | Waggle / BitlBee |\n|---|---:|---:|---:|",
        Kind::BitlBee.label(),
        Kind::Waggle.label()
    );
    for row in rows(w) {
        let cell =
            |v: &Option<(String, f64)>| v.as_ref().map_or("–".to_string(), |(s, _)| s.clone());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.label,
            cell(&row.values[0]),
            cell(&row.values[1]),
            ratio(&row)
        );
    }
    let mut notes = Vec::new();
    for r in [w.bitlbee.as_ref(), w.waggle.as_ref()]
        .into_iter()
        .flatten()
    {
        let phases: Vec<String> = r
            .phases
            .iter()
            .map(|p| format!("{} {:.1} s", p.phase.name(), p.wall.as_secs_f64()))
            .collect();
        notes.push(format!(
            "{}: run took {:.0} s ({}); the rest of the machine used {:.2} cores meanwhile",
            r.kind.label(),
            r.wall.as_secs_f64(),
            phases.join(", "),
            r.other_load
        ));
        for n in &r.notes {
            notes.push(format!("{}: {n}", r.kind.label()));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}
