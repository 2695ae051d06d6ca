//! Building outgoing IRC lines. Every parameter passes through
//! [`sanitize::one_line`](crate::sanitize::one_line), so text from outside can never
//! end a line early or inject another one.

use crate::sanitize::one_line;

/// An outgoing IRC line under construction.
#[derive(Debug, Clone, Default)]
pub struct Line {
    tags: Vec<(String, String)>,
    prefix: Option<String>,
    command: String,
    params: Vec<String>,
}

impl Line {
    /// A line with `command` and no prefix.
    pub fn new(command: impl Into<String>) -> Self {
        Line {
            command: command.into(),
            ..Line::default()
        }
    }

    /// Set the source (`server` or `nick!user@host`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Add a parameter.
    pub fn param(mut self, p: impl AsRef<str>) -> Self {
        self.params.push(one_line(p.as_ref()));
        self
    }

    /// Add several parameters.
    pub fn params<I, S>(mut self, ps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for p in ps {
            self.params.push(one_line(p.as_ref()));
        }
        self
    }

    /// Add a message tag (value already escaped or simple).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Whether the line carries a tag of this name.
    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.iter().any(|(k, _)| k == key)
    }

    /// Drop all tags (for clients that did not ask for them).
    pub fn without_tags(mut self) -> Self {
        self.tags.clear();
        self
    }

    /// Keep only the tags `keep` accepts.
    pub fn retain_tags(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.tags.retain(|(k, _)| keep(k));
    }

    /// The value of a tag, if the line carries it.
    pub fn tag_value(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The command or numeric.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The line as sent, without CRLF.
    pub fn to_wire(&self) -> String {
        let mut out = String::with_capacity(64);
        if !self.tags.is_empty() {
            out.push('@');
            for (i, (k, v)) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(k);
                if !v.is_empty() {
                    out.push('=');
                    out.push_str(&escape_tag_value(v));
                }
            }
            out.push(' ');
        }
        if let Some(p) = &self.prefix {
            out.push(':');
            out.push_str(p);
            out.push(' ');
        }
        out.push_str(&self.command);
        let n = self.params.len();
        let numeric = self.command.bytes().all(|b| b.is_ascii_digit());
        for (i, p) in self.params.iter().enumerate() {
            out.push(' ');
            let last = i + 1 == n;
            // Like BitlBee, messages always mark their last parameter as trailing
            // (`JOIN :&bitlbee`); numerics only when they must.
            if last && (!numeric || p.is_empty() || p.contains(' ') || p.starts_with(':')) {
                out.push(':');
            }
            out.push_str(p);
        }
        out
    }
}

/// The reply to a client's `PING`: `PONG` with the token, or 461 without one.
pub fn ping_reply(server: &str, nick: &str, token: Option<&String>) -> Line {
    match token {
        Some(token) => Line::new("PONG").prefix(server).param(server).param(token),
        None => Line::new("461")
            .prefix(server)
            .param(nick)
            .param("PING")
            .param("Not enough parameters"),
    }
}

/// Escape a message-tag value (IRCv3 message-tags).
pub fn escape_tag_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_only_when_needed() {
        assert_eq!(Line::new("PING").param("x").to_wire(), "PING :x");
        assert_eq!(
            Line::new("JOIN")
                .prefix("a!b@c")
                .param("&bitlbee")
                .to_wire(),
            ":a!b@c JOIN :&bitlbee"
        );
        assert_eq!(
            Line::new("366")
                .param("me")
                .param("#x")
                .param("End")
                .to_wire(),
            "366 me #x End"
        );
        assert_eq!(
            Line::new("PRIVMSG")
                .prefix("a!b@c")
                .param("#x")
                .param("hi there")
                .to_wire(),
            ":a!b@c PRIVMSG #x :hi there"
        );
        assert_eq!(Line::new("X").param("").to_wire(), "X :");
        assert_eq!(Line::new("X").param(":)").to_wire(), "X ::)");
    }

    #[test]
    fn no_injection() {
        let l = Line::new("PRIVMSG")
            .param("me")
            .param("hi\r\n:root!root@localhost PRIVMSG me :owned")
            .to_wire();
        assert!(!l.contains('\r') && !l.contains('\n'));
    }

    #[test]
    fn tags() {
        let l = Line::new("PRIVMSG")
            .tag("time", "2020-01-01T00:00:00.000Z")
            .tag("x", "a b;c")
            .param("me")
            .param("x");
        assert_eq!(
            l.to_wire(),
            "@time=2020-01-01T00:00:00.000Z;x=a\\sb\\:c PRIVMSG me :x"
        );
    }
}
