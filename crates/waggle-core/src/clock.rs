//! Time stamps that come from outside: the network's delay stamps, a file's
//! dates. They are clamped before anything formats or compares them, so a
//! hostile or broken peer can never make the gateway handle a time it cannot
//! represent (the `time` crate panics converting years past 9999).

use std::time::SystemTime;

/// A remote time stamp made sane against `now`: one in the future, or before
/// 1970, becomes `now` (a message cannot have been sent later than it arrived).
pub fn clamp_remote(t: SystemTime, now: SystemTime) -> SystemTime {
    if t > now || t < SystemTime::UNIX_EPOCH {
        now
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clamps_future_and_prehistoric_stamps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let past = now - Duration::from_secs(3600);
        assert_eq!(clamp_remote(past, now), past);
        assert_eq!(clamp_remote(now + Duration::from_secs(1), now), now);
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(clamp_remote(far, now), now);
        if let Some(before) = SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(10)) {
            assert_eq!(clamp_remote(before, now), now);
        }
    }
}
