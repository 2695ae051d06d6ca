//! What a process costs, read from /proc.
//!
//! CPU time comes from each thread's `schedstat` (nanoseconds of run time), which
//! is far finer than the 10 ms ticks of `stat`'s utime+stime. A background
//! sampler remembers every thread it has seen, so a thread that exits (tokio's
//! blocking pool lets idle threads go after ten seconds) keeps counting with
//! the time it had when last seen. `stat`'s utime+stime, which includes dead
//! threads exactly, is read too and the larger of the two is used, so nothing
//! is under-counted. Memory is `VmRSS`, `RssAnon` and `VmHWM` from `status`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

/// How often the sampler looks at the threads.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// Clock ticks per second of `stat`'s times (USER_HZ, 100 on Linux).
const TICK_NS: u64 = 10_000_000;

/// Memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kb: u64,
    /// The highest resident set size so far (since the last [`reset_peak`]).
    pub hwm_kb: u64,
    /// The anonymous part of the resident set (heap, stacks): without the
    /// program's and libraries' code and data pages that `rss_kb` counts too.
    pub anon_kb: u64,
}

/// A process being watched.
#[derive(Clone)]
pub struct Watched {
    pid: u32,
    seen: Arc<Mutex<HashMap<u32, u64>>>,
    /// Each thread's name (`comm`), read when it is first seen.
    names: Arc<Mutex<HashMap<u32, String>>>,
}

impl Watched {
    /// Start watching `pid` (sampling its threads in the background until it exits).
    pub fn new(pid: u32) -> Watched {
        let w = Watched {
            pid,
            seen: Arc::new(Mutex::new(HashMap::new())),
            names: Arc::new(Mutex::new(HashMap::new())),
        };
        let bg = w.clone();
        tokio::spawn(async move {
            // Bounded by the process's life: it ends when /proc/PID goes away.
            while bg.sample() {
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        });
        w
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Read every thread's run time now; false once the process is gone.
    fn sample(&self) -> bool {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return false;
        };
        let mut now = Vec::new();
        for entry in dir.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let path = format!("/proc/{}/task/{tid}/schedstat", self.pid);
            if let Some(ns) = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            {
                now.push((tid, ns));
            }
        }
        if let Ok(mut names) = self.names.lock() {
            for (tid, _) in &now {
                names.entry(*tid).or_insert_with(|| {
                    std::fs::read_to_string(format!("/proc/{}/task/{tid}/comm", self.pid))
                        .map(|n| n.trim_end().to_string())
                        .unwrap_or_default()
                });
            }
        }
        if let Ok(mut seen) = self.seen.lock() {
            for (tid, ns) in now {
                seen.insert(tid, ns);
            }
        }
        true
    }

    /// CPU time used so far by the threads whose name starts with `name`
    /// (the kernel keeps 15 characters of a thread's name), in nanoseconds.
    pub fn thread_cpu_ns(&self, name: &str) -> u64 {
        self.sample();
        let comm = name.get(..15).unwrap_or(name);
        let (Ok(seen), Ok(names)) = (self.seen.lock(), self.names.lock()) else {
            return 0;
        };
        seen.iter()
            .filter(|(tid, _)| names.get(tid).is_some_and(|n| n == comm))
            .map(|(_, ns)| ns)
            .sum()
    }

    /// CPU time used so far (user and system), in nanoseconds.
    pub fn cpu_ns(&self) -> u64 {
        self.sample();
        let threads: u64 = self.seen.lock().map(|s| s.values().sum()).unwrap_or(0);
        threads.max(stat_cpu_ns(self.pid).unwrap_or(0))
    }

    /// Memory now.
    pub fn memory(&self) -> Memory {
        memory(self.pid).unwrap_or_default()
    }

    /// Wait until the process has been nearly idle (under 2% of a core) for a
    /// quarter of a second, at most `limit`: the tail of one phase's work must not
    /// be billed to the next.
    pub async fn settle(&self, limit: Duration) {
        let window = Duration::from_millis(250);
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = self.cpu_ns();
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(window).await;
            let now = self.cpu_ns();
            if now.saturating_sub(last) < window.as_nanos() as u64 / 50 {
                return;
            }
            last = now;
        }
    }
}

/// utime + stime of a process (its dead threads included), in nanoseconds.
pub fn stat_cpu_ns(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("read stat")?;
    // The command name is in parentheses and may hold spaces: fields count after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of stat(5); utime and stime are 14 and 15.
    let get = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .context("short stat")?
            .parse::<u64>()
            .context("bad stat field")
    };
    Ok((get(14)? + get(15)?) * TICK_NS)
}

/// VmRSS and VmHWM of a process.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read status")?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Memory {
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
        anon_kb: kb("RssAnon:"),
    })
}

/// Start `VmHWM` over from the current resident set (`clear_refs` 5), so the
/// peak of one phase can be read; false where the kernel does not allow it.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Busy and total CPU time of the whole machine (all cores), in clock ticks.
pub fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle and iowait are fields 4 and 5.
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// The CPU time of this process, in nanoseconds.
pub fn own_cpu_ns() -> u64 {
    stat_cpu_ns(std::process::id()).unwrap_or(0)
}

/// Nanoseconds per clock tick of [`machine_ticks`].
pub const fn tick_ns() -> u64 {
    TICK_NS
}
