//! Test support for Waggle's end-to-end tests.
//!
//! - [`gateway`]: [`TestGateway`] runs a real [`waggle_irc::Gateway`] on
//!   127.0.0.1 port 0 over a SQLite database in a temporary directory, and can
//!   restart it on the same database.
//! - [`client`]: [`IrcClient`] is a scripted IRC client over real TCP. Its
//!   barrier is a PING/PONG round trip ([`IrcClient::sync`]), never a sleep.
//! - [`backend`]: the `test` protocol backend ([`TestBackend`]) and its hub, from
//!   which a test gets a [`TestAccountHandle`] to play the IM server's part:
//!   emit [`waggle_core::Event`]s and read the [`waggle_core::Command`]s the
//!   gateway sends.
//! - [`skyped`]: a replaying skyped and the driver that plays Skype transcript
//!   pairs (`NAME-skyped.mock` / `NAME-bitlbee.mock`) through a real gateway.
//!
//! Every wait is bounded by a timeout ([`DEFAULT_TIMEOUT`] unless said otherwise).

pub mod backend;
pub mod client;
pub mod gateway;
pub mod prosody;
pub mod skyped;

use std::time::Duration;

pub use backend::{TestAccountHandle, TestBackend, TestHub, contact, strip_id};
pub use client::{IrcClient, Matcher, Msg, Pred, canon, line_contains, pred};
pub use gateway::{GatewayOptions, RunningGateway, TestGateway};

/// How long any single wait of the support code lasts before it fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether any of `lines` contains `needle`, as sent or in canonical form
/// (see [`Msg::canonical`]).
pub fn any_contains(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| line_contains(l, needle))
}

/// Fail with the lines shown unless one of them contains `needle`.
pub fn assert_any(lines: &[String], needle: &str) {
    assert!(
        any_contains(lines, needle),
        "expected a line containing {needle:?}, got:\n{}",
        lines.join("\n")
    );
}

/// Fail with the lines shown if one of them contains `needle`.
pub fn assert_none(lines: &[String], needle: &str) {
    assert!(
        !any_contains(lines, needle),
        "expected no line containing {needle:?}, got:\n{}",
        lines.join("\n")
    );
}
