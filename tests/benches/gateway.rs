//! Gateway benchmark: prints registration latency, message throughput in both
//! directions, and memory per idle client. Everything runs over loopback against
//! an in-process gateway with a temporary database; every loop is bounded in
//! count and time.
//!
//!     cargo bench -p waggle-tests --bench gateway
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use waggle_core::{
    AccountContext, Backend, BackendError, Capabilities, Command, Contact, Event, MessageKind,
    Presence, PresenceState, ProtocolRegistry,
};
use waggle_irc::{Gateway, ServerConfig};
use waggle_store::SqliteStore;

const DEADLINE: Duration = Duration::from_secs(120);

/// A backend that hands its running account to the benchmark.
struct BenchBackend {
    slot: Arc<Mutex<Option<BenchAccount>>>,
}

struct BenchAccount {
    events: waggle_core::EventSink,
    commands: mpsc::UnboundedReceiver<Command>,
}

#[async_trait]
impl Backend for BenchBackend {
    fn protocol(&self) -> &'static str {
        "bench"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.slot.lock().unwrap() = Some(BenchAccount {
            events: ctx.sink(),
            commands: rx,
        });
        ctx.emit(Event::LoggedIn).await;
        loop {
            tokio::select! {
                c = ctx.commands.recv() => match c {
                    Some(c) => { let _ = tx.send(c); }
                    None => return Ok(()),
                },
                _ = ctx.cancel.cancelled() => return Ok(()),
            }
        }
    }
}

struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, nick: &str) -> anyhow::Result<Client> {
        let (r, w) = TcpStream::connect(addr).await?.into_split();
        let mut c = Client {
            r: BufReader::new(r),
            w,
        };
        c.send(&format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}"))
            .await?;
        c.until(" 366 ").await?;
        c.until("identify").await?;
        Ok(c)
    }
    async fn send(&mut self, lines: &str) -> anyhow::Result<()> {
        self.w.write_all(lines.as_bytes()).await?;
        self.w.write_all(b"\r\n").await?;
        Ok(())
    }
    async fn until(&mut self, needle: &str) -> anyhow::Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = tokio::time::timeout(DEADLINE, self.r.read_line(&mut line)).await??;
            if n == 0 {
                bail!("closed while waiting for {needle:?}");
            }
            if line.contains(needle) {
                return Ok(line);
            }
        }
    }
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("bench.db")).await?;
    let slot = Arc::new(Mutex::new(None));
    let mut protocols = ProtocolRegistry::new();
    protocols.register(Arc::new(BenchBackend { slot: slot.clone() }));
    let config = ServerConfig {
        flood_burst: 100_000,
        flood_rate: 100_000,
        flood_max_queue: 100_000,
        sendq_lines: 100_000,
        max_connections: 10_000,
        ..ServerConfig::default()
    };
    let gateway = Gateway::new(config, Arc::new(store.clone()), Arc::new(store), protocols)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(gateway.serve(vec![listener.into()], shutdown.clone()));

    // 1. Registration latency, sequential.
    const REGISTRATIONS: usize = 200;
    let mut times = Vec::with_capacity(REGISTRATIONS);
    let start = Instant::now();
    for i in 0..REGISTRATIONS {
        let t = Instant::now();
        let c = Client::connect(addr, &format!("reg{i}")).await?;
        times.push(t.elapsed());
        drop(c);
        if start.elapsed() > DEADLINE {
            bail!("registration loop over time");
        }
    }
    times.sort();
    println!(
        "registration (connect to greeting), {REGISTRATIONS} clients: p50 {:?}, p99 {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );

    // 2. Incoming messages: backend → IRC.
    let mut alice = Client::connect(addr, "alice").await?;
    alice
        .send("PRIVMSG &bitlbee :account add bench me pw")
        .await?;
    alice.send("PRIVMSG &bitlbee :account bench on").await?;
    alice.until("Logged in").await?;
    let account = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(a) = slot.lock().unwrap().take() {
                break a;
            }
            if Instant::now() > deadline {
                bail!("account never started");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let mut account = account;
    let online = Presence {
        state: PresenceState::Online,
        ..Presence::default()
    };
    account
        .events
        .emit(Event::ContactUpdated(Contact {
            handle: "bob@bench".into(),
            presence: online,
            ..Contact::default()
        }))
        .await
        .ok_or_else(|| anyhow::anyhow!("the session is gone"))?;
    alice.until("JOIN").await?;
    const MESSAGES: usize = 20_000;
    let events = account.events.clone();
    let t = Instant::now();
    let producer = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let e = Event::MessageReceived {
                from: "bob@bench".into(),
                body: format!("message number {i} with a little text in it"),
                kind: MessageKind::Normal,
                sent_at: None,
                from_self: false,
                ids: Default::default(),
            };
            if events.emit(e).await.is_none() {
                break;
            }
        }
    });
    alice
        .until(&format!("message number {} ", MESSAGES - 1))
        .await?;
    let dt = t.elapsed();
    producer.await?;
    println!(
        "incoming messages (backend event to IRC line read): {MESSAGES} in {dt:?} = {:.0} msg/s",
        MESSAGES as f64 / dt.as_secs_f64()
    );

    // 3. Outgoing messages: IRC → backend command, in windows no larger than an
    // account's command queue (a burst beyond it is refused with 404, not lost silently).
    const WINDOW: usize = 200;
    let t = Instant::now();
    let mut got = 0;
    while got < MESSAGES {
        let mut batch = String::new();
        for i in got..(got + WINDOW).min(MESSAGES) {
            batch.push_str(&format!("PRIVMSG bob :outgoing {i}\r\n"));
        }
        alice.w.write_all(batch.as_bytes()).await?;
        let target = (got + WINDOW).min(MESSAGES);
        while got < target {
            match tokio::time::timeout(DEADLINE, account.commands.recv()).await? {
                Some(Command::SendMessage { .. }) => got += 1,
                Some(_) => {}
                None => bail!("backend gone"),
            }
        }
    }
    let dt = t.elapsed();
    println!(
        "outgoing messages (IRC line written to backend command): {MESSAGES} in {dt:?} = {:.0} msg/s",
        MESSAGES as f64 / dt.as_secs_f64()
    );

    // 4. Memory per idle registered client.
    const IDLE: usize = 500;
    let before = rss_kb().context("no /proc/self/status")?;
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        idle.push(Client::connect(addr, &format!("idle{i}")).await?);
    }
    let after = rss_kb().context("no /proc/self/status")?;
    println!(
        "memory: {IDLE} idle clients (both ends in this process) add {} KiB RSS = {:.1} KiB per client",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / IDLE as f64
    );
    drop(idle);
    drop(alice);
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server).await??;
    Ok(())
}
