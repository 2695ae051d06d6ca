//! What [`IrcClient::expect`](super::IrcClient::expect) refuses to skip: error
//! replies nobody said they expected.
//!
//! While it waits, `expect` drops the lines that do not match. In strict mode (the
//! default) it fails instead when one of them is an error: a `4xx`/`5xx` numeric,
//! a SASL failure (`902`, `904`–`907`), an IRCv3 `FAIL`, or root saying something
//! went wrong. A test that provokes such a line on purpose says so with
//! [`IrcClient::allow`](super::IrcClient::allow) (or matches it with `expect`).

use super::{Matcher, Msg};

/// Words with which root reports a failure (BitlBee's wording, and Waggle's).
const ROOT_ERRORS: &[&str] = &[
    "Unknown command",
    "Unknown protocol",
    "does not exist",
    "not supported",
    "Not enough parameters",
    "Could not find",
    "Invalid ",
    "Password invalid",
    "Incorrect password",
    "is read-only",
    "can not be changed",
    "Cannot ",
    "Can't ",
    "not found",
    "Warning: could not save",
    "Error registering",
    " - Login error: ",
    " - Error: ",
];

/// Why `msg` is an error reply, or `None` for an ordinary line. `root_nick` is
/// who root is for this client.
pub(super) fn error_kind(msg: &Msg, root_nick: &str) -> Option<&'static str> {
    if msg.command.len() == 3 && msg.command.bytes().all(|b| b.is_ascii_digit()) {
        return match msg.command.as_bytes().first() {
            Some(b'4' | b'5') => Some("an error numeric"),
            _ if matches!(msg.command.as_str(), "902" | "904" | "905" | "906" | "907") => {
                Some("a SASL failure")
            }
            _ => None,
        };
    }
    if msg.is("FAIL") {
        return Some("a FAIL reply");
    }
    let from_root = msg.nick() == Some(root_nick) && (msg.is("PRIVMSG") || msg.is("NOTICE"));
    let text = msg.trailing();
    if from_root && (text.starts_with("Error") || ROOT_ERRORS.iter().any(|w| text.contains(w))) {
        return Some("an error from root");
    }
    None
}

/// The error lines a test declared it expects; they pass `expect` unremarked.
#[derive(Default)]
pub(super) struct Allowed {
    strict: bool,
    matchers: Vec<Box<dyn Matcher + Send + Sync>>,
}

impl Allowed {
    /// Strict, nothing allowed.
    pub(super) fn strict() -> Self {
        Allowed {
            strict: true,
            matchers: Vec::new(),
        }
    }

    /// Let lines matching `m` pass.
    pub(super) fn add(&mut self, m: Box<dyn Matcher + Send + Sync>) {
        self.matchers.push(m);
    }

    /// Switch strict mode on or off.
    pub(super) fn set_strict(&mut self, on: bool) {
        self.strict = on;
    }

    /// Forget every allowance.
    pub(super) fn clear(&mut self) {
        self.matchers.clear();
    }

    /// Why `line` must stop `expect`, or `None` when it may be skipped.
    pub(super) fn refuse(&self, line: &str, msg: &Msg, root_nick: &str) -> Option<&'static str> {
        if !self.strict {
            return None;
        }
        let why = error_kind(msg, root_nick)?;
        if self.matchers.iter().any(|m| m.matches(line, msg)) {
            return None;
        }
        Some(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(line: &str) -> Option<&'static str> {
        error_kind(&Msg::parse(line), "root")
    }

    #[test]
    fn errors_are_recognised() {
        assert!(kind(":waggle 401 alice bob :No such nick").is_some());
        assert!(kind(":waggle 904 alice :SASL authentication failed").is_some());
        assert!(kind("FAIL CHATHISTORY INVALID_TARGET x :no").is_some());
        assert!(kind(":root!root@waggle PRIVMSG &bitlbee :Unknown command: x.").is_some());
        assert!(kind(":root!root@waggle PRIVMSG &bitlbee :Error: `x'").is_some());
        assert!(kind(":waggle 001 alice :Welcome").is_none());
        assert!(kind(":waggle 366 alice &bitlbee :End").is_none());
        assert!(kind(":root!root@waggle PRIVMSG &bitlbee :Setting changed").is_none());
        // A contact saying the words is not root failing.
        assert!(kind(":bob!bob@x PRIVMSG alice :Unknown command").is_none());
    }

    #[test]
    fn allowances_let_lines_pass() {
        let mut a = Allowed::strict();
        let line = ":waggle 433 * alice :Nickname is already in use";
        let msg = Msg::parse(line);
        assert!(a.refuse(line, &msg, "root").is_some());
        a.add(Box::new(" 433 "));
        assert!(a.refuse(line, &msg, "root").is_none());
        a.clear();
        a.set_strict(false);
        assert!(a.refuse(line, &msg, "root").is_none());
    }
}
