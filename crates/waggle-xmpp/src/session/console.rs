//! The raw XML console (BitlBee's `xmlconsole`): while it is on, every stanza
//! sent and received is shown as a line from the contact `_xmlconsole`, and
//! what the user writes to that contact goes to the server as a stanza.

use waggle_core::Event;
use xmpp_parsers::stanza::Stanza;

use super::Session;
use crate::error::XmppError;

/// The console's handle, as in BitlBee.
pub(crate) const CONSOLE: &str = "_xmlconsole";

/// A stanza as XML text.
fn xml(stanza: &Stanza) -> String {
    xso::to_vec(stanza)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(not serialisable: {e})"))
}

/// The user's text as a stanza; the client namespace is assumed when the
/// text gives none.
fn parse(text: &str) -> Option<Stanza> {
    if let Ok(s) = xso::from_bytes::<Stanza>(text.trim().as_bytes()) {
        return Some(s);
    }
    let text = text.trim();
    let name_end = text.find([' ', '>', '/'])?;
    let (head, rest) = (text.get(..name_end)?, text.get(name_end..)?);
    let with_ns = format!("{head} xmlns='jabber:client'{rest}");
    xso::from_bytes::<Stanza>(with_ns.as_bytes()).ok()
}

impl Session<'_> {
    /// Show `stanza` in the console, when it is on.
    pub(super) async fn console(&self, direction: &str, stanza: &Stanza) {
        if !self.live.xmlconsole {
            return;
        }
        let line = format!("{direction}: {}", xml(stanza));
        self.ctx
            .emit(Event::ConsoleLine {
                from: CONSOLE.to_string(),
                line,
            })
            .await;
    }

    /// A line of our own in the console.
    pub(super) async fn console_note(&self, text: &str) {
        self.ctx
            .emit(Event::ConsoleLine {
                from: CONSOLE.to_string(),
                line: text.to_string(),
            })
            .await;
    }

    /// Switch the console on (the contact `_xmlconsole` was added).
    pub(super) async fn console_on(&mut self) {
        if !self.live.xmlconsole {
            self.live.xmlconsole = true;
            self.console_note("XML console on: the stream follows (TX: sent, RX: received)")
                .await;
        }
    }

    /// What the user wrote to the console: sent to the server as it is.
    pub(super) async fn console_write(&mut self, text: &str) -> Result<(), XmppError> {
        match parse(text) {
            Some(stanza) => self.send(stanza).await,
            None => {
                self.console_note(
                    "Not sent: only an iq, message or presence stanza can go to the server",
                )
                .await;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_are_parsed_with_or_without_a_namespace() {
        let s = parse("<iq type='get' id='x1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
            .expect("an iq");
        assert!(matches!(s, Stanza::Iq(_)));
        assert!(xml(&s).contains("urn:xmpp:ping"));
        assert!(parse("<presence/>").is_some());
        assert!(parse("hello").is_none());
        assert!(parse("<stream:features/>").is_none());
    }
}
