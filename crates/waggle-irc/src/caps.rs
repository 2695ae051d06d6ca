//! IRCv3 capability negotiation: what Waggle offers and what a client enabled.

/// Capabilities Waggle offers, with their `CAP LS 302` values.
pub const SUPPORTED: &[(&str, &str)] = &[
    ("away-notify", ""),
    ("batch", ""),
    ("cap-notify", ""),
    ("draft/account-registration", ""),
    ("draft/chathistory", ""),
    ("draft/read-marker", ""),
    ("echo-message", ""),
    ("extended-join", ""),
    ("labeled-response", ""),
    ("message-tags", ""),
    ("multi-prefix", ""),
    ("sasl", "PLAIN"),
    ("server-time", ""),
    ("setname", ""),
    ("userhost-in-names", ""),
];

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `away-notify`
    AwayNotify,
    /// `batch`
    Batch,
    /// `cap-notify`
    CapNotify,
    /// `draft/account-registration`
    AccountRegistration,
    /// `echo-message`
    EchoMessage,
    /// `draft/chathistory`
    Chathistory,
    /// `draft/read-marker`
    ReadMarker,
    /// `extended-join`
    ExtendedJoin,
    /// `labeled-response`
    LabeledResponse,
    /// `message-tags`
    MessageTags,
    /// `multi-prefix`
    MultiPrefix,
    /// `sasl`
    Sasl,
    /// `server-time`
    ServerTime,
    /// `setname`
    Setname,
    /// `userhost-in-names`
    UserhostInNames,
}

impl Cap {
    /// Parse a capability name.
    pub fn from_name(name: &str) -> Option<Cap> {
        Some(match name {
            "away-notify" => Cap::AwayNotify,
            "batch" => Cap::Batch,
            "cap-notify" => Cap::CapNotify,
            "draft/account-registration" => Cap::AccountRegistration,
            "echo-message" => Cap::EchoMessage,
            "draft/chathistory" => Cap::Chathistory,
            "draft/read-marker" => Cap::ReadMarker,
            "extended-join" => Cap::ExtendedJoin,
            "labeled-response" => Cap::LabeledResponse,
            "message-tags" => Cap::MessageTags,
            "multi-prefix" => Cap::MultiPrefix,
            "sasl" => Cap::Sasl,
            "server-time" => Cap::ServerTime,
            "setname" => Cap::Setname,
            "userhost-in-names" => Cap::UserhostInNames,
            _ => return None,
        })
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The set of capabilities a client enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSet(u32);

impl CapSet {
    /// Whether `cap` is enabled.
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Enable or disable `cap`.
    pub fn set(&mut self, cap: Cap, on: bool) {
        if on {
            self.0 |= cap.bit();
        } else {
            self.0 &= !cap.bit();
        }
    }

    /// Names of the enabled capabilities, space-separated.
    pub fn names(self) -> String {
        SUPPORTED
            .iter()
            .filter(|(n, _)| Cap::from_name(n).is_some_and(|c| self.has(c)))
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Apply a `CAP REQ` list atomically: all or nothing. Returns the new set, or `None` to NAK.
pub fn apply_req(current: CapSet, req: &str) -> Option<CapSet> {
    let mut next = current;
    let mut any = false;
    for item in req.split_whitespace() {
        any = true;
        let (name, on) = match item.strip_prefix('-') {
            Some(n) => (n, false),
            None => (item, true),
        };
        next.set(Cap::from_name(name)?, on);
    }
    any.then_some(next)
}

/// The answer to a client's `CAP` command (`LS`, `LIST`, `REQ`; `END` needs
/// none), during registration or after it: the one implementation of both.
/// `LS 302` switches the client to 302 (with cap-notify implied).
pub fn answer(
    server: &str,
    target: &str,
    input: &crate::input::Input,
    caps: &mut CapSet,
    cap_302: &mut bool,
    offer: Offer,
) -> Vec<crate::line::Line> {
    use crate::line::Line;
    let reply = |sub: &str, list: String| {
        Line::new("CAP")
            .prefix(server)
            .param(target)
            .param(sub)
            .param(list)
    };
    match input.arg(0).to_ascii_uppercase().as_str() {
        "LS" => {
            if input.arg(1).parse::<u32>().is_ok_and(|v| v >= 302) {
                *cap_302 = true;
                caps.set(Cap::CapNotify, true);
            }
            vec![reply("LS", ls_list(*cap_302, offer))]
        }
        "LIST" => vec![reply("LIST", caps.names())],
        "REQ" => {
            let req = input.arg(1).to_string();
            match apply_req(*caps, &req) {
                Some(next) => {
                    *caps = next;
                    vec![reply("ACK", req)]
                }
                None => vec![reply("NAK", req)],
            }
        }
        "END" => Vec::new(),
        _ => vec![
            Line::new("410")
                .prefix(server)
                .param(target)
                .param(input.arg(0))
                .param("Invalid CAP command"),
        ],
    }
}

/// What the gateway offers that depends on its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// `REGISTER` works before the connection is registered
    /// (`draft/account-registration=before-connect`).
    pub register_before_connect: bool,
}

/// The `CAP LS` list, with values for 302 clients.
pub fn ls_list(version_302: bool, offer: Offer) -> String {
    SUPPORTED
        .iter()
        .map(|(n, v)| {
            let v = match *n {
                "draft/account-registration" if offer.register_before_connect => "before-connect",
                _ => v,
            };
            if version_302 && !v.is_empty() {
                format!("{n}={v}")
            } else {
                (*n).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_is_atomic() {
        let s = CapSet::default();
        assert!(apply_req(s, "server-time foo").is_none());
        let s = apply_req(s, "server-time multi-prefix").unwrap_or_default();
        assert!(s.has(Cap::ServerTime) && s.has(Cap::MultiPrefix));
        let s = apply_req(s, "-server-time").unwrap_or_default();
        assert!(!s.has(Cap::ServerTime));
        assert_eq!(s.names(), "multi-prefix");
    }
}
