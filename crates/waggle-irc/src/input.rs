//! A client's line in the shape the front end works with: an upper-case verb, its
//! parameters and its tags. Parsing is irc-proto's; this only flattens its typed
//! commands so every verb is handled the same way.

use irc_proto::Message;

/// A parsed client line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The command, upper-cased (`PRIVMSG`, `001` …).
    pub verb: String,
    /// Its parameters, the trailing one included.
    pub params: Vec<String>,
    /// Client tags (`+typing` …) as key/value pairs.
    pub tags: Vec<(String, Option<String>)>,
}

impl Input {
    /// Flatten an irc-proto message.
    pub fn from_message(msg: &Message) -> Input {
        let wire = String::from(&msg.command);
        let mut params = Vec::new();
        let mut rest = wire.as_str();
        let verb = match rest.split_once(' ') {
            Some((v, r)) => {
                rest = r;
                v
            }
            None => std::mem::take(&mut rest),
        };
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            match rest.split_once(' ') {
                Some((p, r)) => {
                    if !p.is_empty() {
                        params.push(p.to_string());
                    }
                    rest = r;
                }
                None => {
                    params.push(rest.to_string());
                    break;
                }
            }
        }
        let tags = msg
            .tags
            .iter()
            .flatten()
            .map(|t| (t.0.clone(), t.1.clone()))
            .collect();
        Input {
            verb: verb.to_ascii_uppercase(),
            params,
            tags,
        }
    }

    /// Parameter `i`, or "".
    pub fn arg(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// The value of a client tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        // The last of duplicate tags wins (IRCv3 message-tags).
        self.tags
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<Input> {
        s.parse::<Message>().ok().map(|m| Input::from_message(&m))
    }

    #[test]
    fn flattens() {
        let i = parse("privmsg #a :hello world");
        assert_eq!(i.as_ref().map(|i| i.verb.as_str()), Some("PRIVMSG"));
        assert_eq!(
            i.map(|i| i.params),
            Some(vec!["#a".to_string(), "hello world".to_string()])
        );
        let i = parse("CAP LS 302");
        assert_eq!(
            i.map(|i| i.params),
            Some(vec!["LS".to_string(), "302".to_string()])
        );
        let i = parse("TOPIC #a :");
        assert_eq!(
            i.map(|i| i.params),
            Some(vec!["#a".to_string(), String::new()])
        );
        let i = parse("FOO a b :c d");
        assert_eq!(i.map(|i| i.params.len()), Some(3));
        let i = parse("@+typing=active TAGMSG bob");
        assert_eq!(i.as_ref().and_then(|i| i.tag("+typing")), Some("active"));
    }
}
