//! The account supervisor: runs a backend and reconnects with BitlBee-style backoff.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use crate::backend::{AccountContext, Backend, BackendError, Event};

/// A reconnect delay schedule, written as BitlBee writes it: `5`, `5*3<900`, `10+10<300`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    start: u64,
    step: Step,
    max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Fixed,
    Multiply(u64),
    Add(u64),
}

/// A delay schedule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reconnect delay {0:?} (expected e.g. 5, 5*3<900 or 10+10<300)")]
pub struct BackoffParseError(pub String);

impl FromStr for Backoff {
    type Err = BackoffParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || BackoffParseError(s.to_string());
        let num = |t: &str| t.trim().parse::<u64>().map_err(|_| err());
        let (body, max) = match s.split_once('<') {
            Some((body, max)) => (body, Some(num(max)?)),
            None => (s, None),
        };
        let (start, step) = if let Some((a, b)) = body.split_once('*') {
            (num(a)?, Step::Multiply(num(b)?))
        } else if let Some((a, b)) = body.split_once('+') {
            (num(a)?, Step::Add(num(b)?))
        } else {
            (num(body)?, Step::Fixed)
        };
        if start == 0 {
            return Err(err());
        }
        Ok(Backoff {
            start,
            step,
            max: max.unwrap_or(86_400).max(start),
        })
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            start: 5,
            step: Step::Multiply(3),
            max: 900,
        }
    }
}

impl Backoff {
    /// The delay in seconds before attempt number `attempt` (0 = first reconnect).
    pub fn delay_secs(&self, attempt: u32) -> u64 {
        let mut d = self.start;
        for _ in 0..attempt {
            d = match self.step {
                Step::Fixed => d,
                Step::Multiply(m) => d.saturating_mul(m),
                Step::Add(a) => d.saturating_add(a),
            };
            if d >= self.max {
                return self.max;
            }
        }
        d.min(self.max)
    }

    /// The delay with up to 10% jitter subtracted, so many accounts don't reconnect at once.
    pub fn delay_with_jitter(&self, attempt: u32) -> Duration {
        let secs = self.delay_secs(attempt);
        let mut byte = [0u8; 2];
        let r = if getrandom::fill(&mut byte).is_ok() {
            u16::from_le_bytes(byte) as u64
        } else {
            0
        };
        let ms = secs * 1000;
        Duration::from_millis(ms - (ms / 10) * r / u16::MAX as u64)
    }
}

/// How the supervisor reacts to failures.
#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    /// Reconnect after retryable errors.
    pub auto_reconnect: bool,
    /// The delay schedule.
    pub backoff: Backoff,
}

/// Run an account until it is cancelled, logs off, or fails for good.
///
/// The backend announces its own progress (`LoginProgress`, `LoggedIn`); the
/// supervisor reports each failure as [`Event::Error`] and every end of a
/// connection as [`Event::Disconnected`], saying whether and when it retries.
/// Credential and configuration errors are never retried. When it stops for good
/// it cancels the account's token first, so the core can tell a finished run from
/// a newer one.
pub async fn supervise(
    backend: Arc<dyn Backend>,
    mut ctx: AccountContext,
    policy: ReconnectPolicy,
) {
    let mut attempt = 0u32;
    loop {
        if ctx.cancel.is_cancelled() {
            ctx.cancel.cancel();
            ctx.emit(Event::Disconnected { reconnect_in: None }).await;
            return;
        }
        let cancel = ctx.cancel.clone();
        // A panic in a backend ends that run only: the account restarts like
        // after a protocol error, and the user is told.
        let run = std::panic::AssertUnwindSafe(backend.run(&mut ctx)).catch_unwind();
        let result = tokio::select! {
            r = run => r.unwrap_or_else(|_| {
                tracing::error!("the protocol backend panicked; restarting the account");
                Err(BackendError::Protocol(
                    "Internal error in the protocol backend; the account restarts".into(),
                ))
            }),
            _ = cancel.cancelled() => Ok(()),
        };
        let error = match result {
            Ok(()) => None,
            Err(e) => {
                ctx.emit(Event::Error {
                    text: e.to_string(),
                })
                .await;
                Some(e)
            }
        };
        let retry = error
            .as_ref()
            .is_some_and(|e| e.is_retryable() && policy.auto_reconnect)
            && !ctx.cancel.is_cancelled();
        if !retry {
            ctx.cancel.cancel();
            ctx.emit(Event::Disconnected { reconnect_in: None }).await;
            return;
        }
        let delay = policy.backoff.delay_with_jitter(attempt);
        let shown = policy.backoff.delay_secs(attempt);
        attempt = attempt.saturating_add(1);
        ctx.emit(Event::Disconnected {
            reconnect_in: Some(shown),
        })
        .await;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = ctx.cancel.cancelled() => {
                ctx.cancel.cancel();
            ctx.emit(Event::Disconnected { reconnect_in: None }).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitlbee_default_schedule() {
        let b: Backoff = "5*3<900".parse().unwrap_or_default();
        let secs: Vec<u64> = (0..6).map(|i| b.delay_secs(i)).collect();
        assert_eq!(secs, vec![5, 15, 45, 135, 405, 900]);
    }

    #[test]
    fn additive_and_fixed() {
        let b: Backoff = "10+10<30".parse().unwrap_or_default();
        assert_eq!(
            (0..4).map(|i| b.delay_secs(i)).collect::<Vec<_>>(),
            vec![10, 20, 30, 30]
        );
        let f: Backoff = "7".parse().unwrap_or_default();
        assert_eq!(f.delay_secs(5), 7);
    }

    #[test]
    fn rejects_garbage() {
        assert!("".parse::<Backoff>().is_err());
        assert!("0".parse::<Backoff>().is_err());
        assert!("5*x<9".parse::<Backoff>().is_err());
        assert!("abc".parse::<Backoff>().is_err());
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let b = Backoff::default();
        for _ in 0..50 {
            let d = b.delay_with_jitter(0);
            assert!(d <= Duration::from_secs(5) && d >= Duration::from_millis(4500));
        }
    }

    use crate::backend::{AccountSpec, BackendEvent, Capabilities, Secret};
    use crate::ids::AccountId;
    use std::sync::Mutex;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    /// Fails with the scripted errors in order, then stays online until cancelled.
    struct Scripted(Mutex<Vec<BackendError>>);

    #[async_trait::async_trait]
    impl Backend for Scripted {
        fn protocol(&self) -> &'static str {
            "scripted"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
            let next = self
                .0
                .lock()
                .ok()
                .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0)));
            match next {
                Some(e) => Err(e),
                None => {
                    ctx.emit(Event::LoggedIn).await;
                    ctx.cancel.cancelled().await;
                    Ok(())
                }
            }
        }
    }

    fn context() -> (
        AccountContext,
        mpsc::Receiver<BackendEvent>,
        CancellationToken,
    ) {
        let (_ctx_tx, commands) = mpsc::channel(1);
        let (events, rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let spec = AccountSpec {
            id: AccountId(1),
            protocol: "scripted".into(),
            handle: "me".into(),
            password: Secret("pw".into()),
            settings: Default::default(),
            archive_cursors: Default::default(),
        };
        let (ctx, _ack) = AccountContext::new(spec, commands, events, cancel.clone());
        (ctx, rx, cancel)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_network_errors_then_stops_on_auth() {
        let backend = Arc::new(Scripted(Mutex::new(vec![
            BackendError::Network("down".into()),
            BackendError::Network("still down".into()),
            BackendError::Auth("Wrong password".into()),
        ])));
        let (ctx, mut rx, cancel) = context();
        let policy = ReconnectPolicy {
            auto_reconnect: true,
            backoff: Backoff::default(),
        };
        supervise(backend, ctx, policy).await;
        let mut events = Vec::new();
        while let Ok(BackendEvent { event: e, .. }) = rx.try_recv() {
            events.push(e);
        }
        let reconnects: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Disconnected { reconnect_in } => Some(*reconnect_in),
                _ => None,
            })
            .collect();
        assert_eq!(reconnects, vec![Some(5), Some(15), None]);
        assert!(events.contains(&Event::Error {
            text: "Wrong password".into()
        }));
        assert!(cancel.is_cancelled(), "a finished run cancels its token");
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_without_auto_reconnect() {
        let backend = Arc::new(Scripted(Mutex::new(vec![BackendError::Network(
            "down".into(),
        )])));
        let (ctx, mut rx, _) = context();
        let policy = ReconnectPolicy {
            auto_reconnect: false,
            backoff: Backoff::default(),
        };
        supervise(backend, ctx, policy).await;
        let mut last = None;
        while let Ok(BackendEvent { event: e, .. }) = rx.try_recv() {
            last = Some(e);
        }
        assert_eq!(last, Some(Event::Disconnected { reconnect_in: None }));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_stops_an_online_account() {
        let backend = Arc::new(Scripted(Mutex::new(vec![])));
        let (ctx, mut rx, cancel) = context();
        let policy = ReconnectPolicy {
            auto_reconnect: true,
            backoff: Backoff::default(),
        };
        let task = tokio::spawn(supervise(backend, ctx, policy));
        assert_eq!(rx.recv().await.map(|x| x.event), Some(Event::LoggedIn));
        cancel.cancel();
        let _ = task.await;
        assert_eq!(
            rx.recv().await.map(|x| x.event),
            Some(Event::Disconnected { reconnect_in: None })
        );
    }

    /// Panics on its first run, then logs in.
    struct PanicsOnce(std::sync::atomic::AtomicBool);

    #[async_trait::async_trait]
    impl Backend for PanicsOnce {
        fn protocol(&self) -> &'static str {
            "panics"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
            if !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
                panic!("a bug in the backend");
            }
            ctx.emit(Event::LoggedIn).await;
            ctx.cancel.cancelled().await;
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_backend_is_restarted_and_reported() {
        let backend = Arc::new(PanicsOnce(std::sync::atomic::AtomicBool::new(false)));
        let (ctx, mut rx, cancel) = context();
        let policy = ReconnectPolicy {
            auto_reconnect: true,
            backoff: Backoff::default(),
        };
        let task = tokio::spawn(supervise(backend, ctx, policy));
        let mut seen = Vec::new();
        loop {
            let Some(BackendEvent { event, .. }) = rx.recv().await else {
                break;
            };
            let done = event == Event::LoggedIn;
            seen.push(event);
            if done {
                break;
            }
        }
        assert!(
            seen.iter()
                .any(|e| matches!(e, Event::Error { text } if text.contains("Internal error"))),
            "{seen:?}"
        );
        assert!(
            seen.contains(&Event::Disconnected {
                reconnect_in: Some(5)
            }),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&Event::LoggedIn));
        cancel.cancel();
        let _ = task.await;
    }
}
