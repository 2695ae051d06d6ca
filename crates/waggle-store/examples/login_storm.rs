//! Memory under a login storm: the process's resident set after 20 sequential
//! and then 300 concurrent `create_user` + `authenticate` calls.
//!
//! Run in release: `cargo run --release -p waggle-store --example login_storm`.
//! Linux only (it reads `/proc/self/status`).

use std::error::Error;
use std::time::Instant;

use waggle_core::Store;
use waggle_store::SqliteStore;

/// `VmRSS` and `VmHWM` (peak) of this process, in MiB.
fn rss() -> Result<(f64, f64), Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> Result<f64, Box<dyn Error>> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| format!("no {name} in /proc/self/status"))?;
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .ok_or("malformed line")?
            .parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn report(stage: &str) -> Result<(), Box<dyn Error>> {
    let (now, peak) = rss()?;
    println!("{stage:<28} RSS {now:8.1} MiB   peak {peak:8.1} MiB");
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("storm.db")).await?;
    report("idle (store open)")?;

    let started = Instant::now();
    for i in 0..20 {
        let name = format!("seq{i}");
        store.create_user(&name, "password").await?;
        store
            .authenticate(&name, "password")
            .await?
            .ok_or("authentication failed")?;
    }
    report("after 20 sequential")?;
    println!("  ({:.2} s)", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("storm{i}");
            store.create_user(&name, "password").await?;
            store
                .authenticate(&name, "password")
                .await?
                .ok_or(waggle_core::StoreError::Crypto(
                    "authentication failed".into(),
                ))
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await??;
    }
    report("after 300 concurrent")?;
    println!("  ({:.2} s)", started.elapsed().as_secs_f64());
    store.close().await;
    Ok(())
}
