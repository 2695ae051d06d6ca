//! The account supervisor: runs a backend and reconnects with BitlBee-style backoff.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{AccountContext, Backend, Event};

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
/// Each attempt is announced with `Logging in`-style events by the backend; the
/// supervisor adds `Signing off..`, `Reconnecting in N seconds..` and the error text.
pub async fn supervise(
    backend: Arc<dyn Backend>,
    mut ctx: AccountContext,
    policy: ReconnectPolicy,
) {
    let mut attempt = 0u32;
    loop {
        if ctx.cancel.is_cancelled() {
            return;
        }
        let cancel = ctx.cancel.clone();
        let result = tokio::select! {
            r = backend.run(&mut ctx) => r,
            _ = cancel.cancelled() => Ok(()),
        };
        match result {
            Ok(()) => {
                ctx.emit(Event::Notice {
                    text: "Signing off..".into(),
                })
                .await;
                return;
            }
            Err(e) => {
                ctx.emit(Event::Error {
                    text: e.to_string(),
                })
                .await;
                ctx.emit(Event::Notice {
                    text: "Signing off..".into(),
                })
                .await;
                if !e.is_retryable() || !policy.auto_reconnect {
                    return;
                }
                let delay = policy.backoff.delay_with_jitter(attempt);
                let shown = policy.backoff.delay_secs(attempt);
                attempt = attempt.saturating_add(1);
                ctx.emit(Event::Notice {
                    text: format!("Reconnecting in {shown} seconds.."),
                })
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = ctx.cancel.cancelled() => return,
                }
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
}
