//! One attached IRC connection as the user task sees it: its own capabilities,
//! labels, batches, MONITOR list, password prompt and paste buffer, and its
//! writer. [`Client::send`] renders an [`Out`] item in the form this client's
//! capabilities ask for.

use std::time::SystemTime;

use tokio_util::sync::CancellationToken;
use waggle_core::{MessageKind, TypingState};

use crate::caps::{Cap, CapSet};
use crate::conn::ClientTx;
use crate::line::Line;
use crate::outbox::{ClientId, Delivery, Join, Names, Out};
use crate::sanitize;
use crate::user::monitor::MonitorList;
use crate::user::paste::Paste;
use crate::user::settings::Timezone;
use crate::user::state::Prompt;

/// What rendering needs to know beyond the client.
pub(crate) struct Render<'a> {
    /// The server's name (prefix of numerics and batches).
    pub server: &'a str,
    /// `display_timestamps`: prefix delayed messages for clients without server-time.
    pub timestamps: bool,
    /// The time zone the prefixed timestamps are shown in.
    pub tz: Timezone,
    /// How a line addressed to the user in a channel starts (`alice: `): the
    /// timestamp goes after it, as in BitlBee.
    pub addressed: &'a str,
}

/// An attached connection.
pub(crate) struct Client {
    pub id: ClientId,
    /// The name it gave itself (`alice@phone`), `""` without one; it keeps its own
    /// read position under it.
    pub name: String,
    pub tx: ClientTx,
    /// Cancelled when the user task lets go of the client: its connection closes.
    pub closed: CancellationToken,
    pub caps: CapSet,
    pub cap_302: bool,
    /// The address it connects from.
    pub peer: Option<std::net::IpAddr>,
    pub next_batch: u64,
    pub monitored: MonitorList,
    pub prompt: Option<Prompt>,
    pub paste: Option<Paste>,
    /// A SASL exchange after registration: the payload so far.
    pub sasl: Option<String>,
    /// The contact last addressed in a control channel (`default_target last`).
    pub last_target: Option<String>,
    /// The log position of the last message queued to this client.
    pub delivered: i64,
    /// The log position last saved for its name.
    pub saved: i64,
}

impl Client {
    /// A client just attached.
    pub fn new(
        id: ClientId,
        name: String,
        tx: ClientTx,
        closed: CancellationToken,
        caps: CapSet,
        cap_302: bool,
        peer: Option<std::net::IpAddr>,
    ) -> Client {
        Client {
            id,
            name,
            tx,
            closed,
            caps,
            cap_302,
            peer,
            next_batch: 0,
            monitored: MonitorList::default(),
            prompt: None,
            paste: None,
            sasl: None,
            last_target: None,
            delivered: 0,
            saved: 0,
        }
    }

    /// Whether the client enabled `cap`.
    pub fn has(&self, cap: Cap) -> bool {
        self.caps.has(cap)
    }

    /// A fresh batch reference.
    pub fn batch_ref(&mut self) -> String {
        self.next_batch += 1;
        format!("b{}", self.next_batch)
    }

    /// Queue a line as is, dropping tags the client did not ask for.
    pub fn write(&self, mut line: Line) {
        let caps = self.caps;
        line.retain_tags(|k| match k {
            "time" => caps.has(Cap::ServerTime) || caps.has(Cap::MessageTags),
            "batch" => caps.has(Cap::Batch),
            "label" => caps.has(Cap::LabeledResponse),
            _ => caps.has(Cap::MessageTags),
        });
        self.tx.line(line);
    }

    /// Queue a line, waiting up to `patience` for room (a backlog larger than
    /// the queue); false when the client did not drain it in time (it is then
    /// dropped, as for SendQ) or is gone.
    pub async fn write_wait(&self, mut line: Line, patience: std::time::Duration) -> bool {
        let caps = self.caps;
        line.retain_tags(|k| match k {
            "time" => caps.has(Cap::ServerTime) || caps.has(Cap::MessageTags),
            "batch" => caps.has(Cap::Batch),
            "label" => caps.has(Cap::LabeledResponse),
            _ => caps.has(Cap::MessageTags),
        });
        self.tx.line_wait(line, patience).await
    }

    /// The lines `out` becomes for this client (none for items it does not take).
    pub fn render(&self, out: &Out, r: &Render<'_>) -> Vec<Line> {
        match out {
            Out::Line(l) => vec![l.clone()],
            Out::Capable(cap, l) if self.has(*cap) => vec![l.clone()],
            Out::Capable(..) => Vec::new(),
            Out::Join(j) => vec![self.join_line(j)],
            Out::Names(n) => self.names_lines(n, r),
            Out::Message(d) => self.message_lines(d, r),
            Out::Typing {
                mask,
                target,
                state,
            } => vec![self.typing_line(mask, target, *state)],
            Out::Batched(reference, inner) => self
                .render(inner, r)
                .into_iter()
                .map(|l| l.tag("batch", reference.clone()))
                .collect(),
            Out::Command { .. } | Out::ReadMarker(_) => Vec::new(),
        }
    }

    fn join_line(&self, j: &Join) -> Line {
        let line = Line::new("JOIN").prefix(&j.mask).param(&j.channel);
        if self.has(Cap::ExtendedJoin) {
            line.param(&j.account).param(&j.realname)
        } else {
            line
        }
    }

    fn names_lines(&self, n: &Names, r: &Render<'_>) -> Vec<Line> {
        let multi = self.has(Cap::MultiPrefix);
        let uhnames = self.has(Cap::UserhostInNames);
        let numeric = |code: &str| Line::new(code).prefix(r.server).param(&n.me);
        let mut out = Vec::new();
        let mut chunk = String::new();
        for e in &n.entries {
            let prefix: String = if multi {
                e.modes.clone()
            } else {
                e.modes.chars().take(1).collect()
            };
            let entry = format!("{prefix}{}", if uhnames { &e.mask } else { &e.nick });
            if !chunk.is_empty() && chunk.len() + entry.len() > 380 {
                out.push(
                    numeric("353")
                        .param("=")
                        .param(&n.channel)
                        .param(std::mem::take(&mut chunk)),
                );
            }
            if !chunk.is_empty() {
                chunk.push(' ');
            }
            chunk.push_str(&entry);
        }
        if !chunk.is_empty() {
            out.push(numeric("353").param("=").param(&n.channel).param(chunk));
        }
        out.push(numeric("366").param(&n.channel).param("End of /NAMES list"));
        out
    }

    fn typing_line(&self, mask: &str, target: &str, state: TypingState) -> Line {
        let (word, digit) = match state {
            TypingState::Active => ("active", "1"),
            TypingState::Paused => ("paused", "2"),
            TypingState::Done => ("done", "0"),
        };
        if self.has(Cap::MessageTags) {
            Line::new("TAGMSG")
                .tag("+typing", word)
                .prefix(mask)
                .param(target)
        } else {
            Line::new("PRIVMSG")
                .prefix(mask)
                .param(target)
                .param(format!("\x01TYPING {digit}\x01"))
        }
    }

    /// A message as PRIVMSG/NOTICE lines: one per line of text, long lines split,
    /// with `time` and `msgid` tags, and BitlBee's timestamp prefix on delayed
    /// messages for clients without server-time.
    pub fn message_lines(&self, d: &Delivery, r: &Render<'_>) -> Vec<Line> {
        let server_time = self.has(Cap::ServerTime) || self.has(Cap::MessageTags);
        let prefix = (d.delayed && r.timestamps && !server_time)
            .then(|| bitlbee_timestamp(d.at, SystemTime::now(), r.tz));
        let stamp = format_time(d.at);
        let overhead = d.mask.len() + d.target.len() + 40;
        let max = 510usize.saturating_sub(overhead).max(64);
        let mut out = Vec::new();
        for line in sanitize::lines(&d.body) {
            if line.is_empty() {
                continue;
            }
            let line = match &prefix {
                Some(ts) => match line.strip_prefix(r.addressed) {
                    Some(rest) if !r.addressed.is_empty() && d.target.starts_with(['#', '&']) => {
                        format!("{}{ts}{rest}", r.addressed)
                    }
                    _ => format!("{ts}{line}"),
                },
                None => line,
            };
            for chunk in sanitize::split_for_privmsg(&line, max) {
                let (verb, text) = match d.kind {
                    MessageKind::Normal => ("PRIVMSG", chunk),
                    MessageKind::Action => ("PRIVMSG", format!("\x01ACTION {chunk}\x01")),
                    MessageKind::Notice => ("NOTICE", chunk),
                };
                let msgid = if out.is_empty() {
                    d.msgid.clone()
                } else {
                    format!("{}-{}", d.msgid, out.len() + 1)
                };
                out.push(
                    Line::new(verb)
                        .tag("time", stamp.clone())
                        .tag("msgid", msgid)
                        .prefix(&d.mask)
                        .param(&d.target)
                        .param(text),
                );
            }
        }
        out
    }

    /// Render and queue an item.
    pub fn send(&self, out: &Out, r: &Render<'_>) {
        for line in self.render(out, r) {
            self.write(line);
        }
    }
}

/// An IRCv3 `time` tag value.
pub(crate) fn format_time(t: SystemTime) -> String {
    let t = waggle_core::clock::clamp_remote(t, SystemTime::now());
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(&fmt).unwrap_or_default()
}

/// BitlBee's timestamp prefix for a message sent at `t`, seen at `now`, in `tz`:
/// the time in bold brackets, with the date when it is not from today.
pub(crate) fn bitlbee_timestamp(t: SystemTime, now: SystemTime, tz: Timezone) -> String {
    let t = waggle_core::clock::clamp_remote(t, now);
    let at = time::OffsetDateTime::from(t).to_offset(tz.offset_at(t));
    let today = time::OffsetDateTime::from(now).to_offset(tz.offset_at(now));
    let clock = time::macros::format_description!("[hour]:[minute]:[second]");
    let full = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let text = if at.date() == today.date() {
        at.format(&clock)
    } else {
        at.format(&full)
    };
    format!("\x02[\x02\x02\x02{}\x02]\x02 ", text.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert_eq!(format_time(t), "1970-01-01T00:00:01.500Z");
        let plus2 =
            Timezone::Fixed(time::UtcOffset::from_hms(2, 0, 0).unwrap_or(time::UtcOffset::UTC));
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(
            bitlbee_timestamp(SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH + day, plus2),
            "\x02[\x02\x02\x021970-01-01 02:00:00\x02]\x02 "
        );
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(
            bitlbee_timestamp(
                SystemTime::UNIX_EPOCH + hour,
                SystemTime::UNIX_EPOCH + 2 * hour,
                plus2
            ),
            "\x02[\x02\x02\x0203:00:00\x02]\x02 "
        );
    }

    #[test]
    fn far_future_stamps_do_not_panic() {
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(400_000_000_000);
        assert!(!format_time(far).is_empty());
        assert!(!bitlbee_timestamp(far, SystemTime::now(), Timezone::Local).is_empty());
    }
}
