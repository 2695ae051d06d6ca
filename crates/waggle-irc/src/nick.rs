//! IRC nicks: case mapping, validity, and turning a contact's handle into a nick
//! following `nick_format`.

/// Longest nick Waggle hands out or accepts.
pub const NICKLEN: usize = 24;
/// Longest channel name.
pub const CHANNELLEN: usize = 50;

/// Lower-case under RFC 1459 case mapping (`[]\~` are the upper case of `{}|^`).
pub fn irc_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c,
        })
        .collect()
}

fn is_special(c: char) -> bool {
    matches!(c, '[' | ']' | '\\' | '`' | '_' | '^' | '{' | '|' | '}')
}

/// Whether `nick` is a nick a client may use or be given.
pub fn is_valid_nick(nick: &str) -> bool {
    let mut chars = nick.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    nick.len() <= NICKLEN
        && (first.is_ascii_alphabetic() || is_special(first))
        && chars.all(|c| c.is_ascii_alphanumeric() || is_special(c) || c == '-')
}

/// Whether `name` is a channel name Waggle accepts.
pub fn is_valid_channel(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('#' | '&'))
        && name.len() > 1
        && name.len() <= CHANNELLEN
        && !name
            .chars()
            .any(|c| matches!(c, ' ' | ',' | '\x07' | '\0' | '\r' | '\n' | ':'))
}

/// What a contact's nick can be made from.
#[derive(Debug, Clone, Default)]
pub struct NickSource<'a> {
    /// The protocol handle.
    pub handle: &'a str,
    /// The human name, if any.
    pub full_name: Option<&'a str>,
    /// The buddy-list group.
    pub group: Option<&'a str>,
    /// The account tag.
    pub account: &'a str,
}

/// Options from the user's settings that shape generated nicks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NickStyle {
    /// Lower-case the result.
    pub lowercase: bool,
    /// Spaces become underscores instead of vanishing.
    pub underscores: bool,
    /// Keep non-ASCII letters.
    pub utf8: bool,
}

/// Expand a BitlBee `nick_format` (`%-@nick`, `%handle`, `%full_name` …) into a
/// valid nick. Never returns an empty or invalid nick.
pub fn format_nick(format: &str, src: &NickSource<'_>, style: NickStyle) -> String {
    let mut raw = String::new();
    let mut rest = format;
    while let Some(pos) = rest.find('%') {
        raw.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        // Optional "-X" cuts the value at the first X.
        let mut cut: Option<char> = None;
        if let Some(r) = rest.strip_prefix('-') {
            let mut cs = r.chars();
            if let Some(c) = cs.next() {
                cut = Some(c);
                rest = cs.as_str();
            }
        }
        let names: [(&str, String); 6] = [
            ("full_name", src.full_name.unwrap_or(src.handle).to_string()),
            (
                "first_name",
                src.full_name
                    .and_then(|n| n.split_whitespace().next())
                    .unwrap_or(src.handle)
                    .to_string(),
            ),
            ("handle", src.handle.to_string()),
            ("nick", src.handle.to_string()),
            ("group", src.group.unwrap_or("").to_string()),
            ("account", src.account.to_string()),
        ];
        let mut matched = false;
        for (name, value) in names {
            if let Some(r) = rest.strip_prefix(name) {
                let v = match cut {
                    Some(c) => value.split(c).next().unwrap_or("").to_string(),
                    None => value,
                };
                raw.push_str(&v);
                rest = r;
                matched = true;
                break;
            }
        }
        if !matched {
            raw.push('%');
        }
    }
    raw.push_str(rest);
    clean_nick(&raw, style)
}

/// Make any text a valid nick: drop what IRC can't carry, fix the first character,
/// cut to [`NICKLEN`].
pub fn clean_nick(raw: &str, style: NickStyle) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if c == ' ' {
            if style.underscores {
                out.push('_');
            }
        } else if c.is_ascii_alphanumeric()
            || is_special(c)
            || c == '-'
            || (style.utf8 && c.is_alphanumeric())
        {
            out.push(c);
        } else if c == '.' || c == '@' {
            out.push('_');
        }
    }
    if style.lowercase {
        out = irc_lower(&out);
    }
    if out
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_digit() || c == '-')
    {
        out.insert(0, '_');
    }
    truncate_chars(&out, NICKLEN)
}

fn truncate_chars(s: &str, max_bytes: usize) -> String {
    s[..crate::sanitize::floor_boundary(s, max_bytes)].to_string()
}

/// Make `nick` unique given `taken` (which compares RFC 1459 lower-case nicks):
/// append underscores, and when the nick is full, replace its tail with a counter.
pub fn unique_nick(nick: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&irc_lower(nick)) {
        return nick.to_string();
    }
    let mut candidate = nick.to_string();
    while candidate.len() < NICKLEN {
        candidate.push('_');
        if !taken(&irc_lower(&candidate)) {
            return candidate;
        }
    }
    for n in 2u32.. {
        let suffix = n.to_string();
        let base = truncate_chars(nick, NICKLEN - suffix.len());
        let candidate = format!("{base}{suffix}");
        if !taken(&irc_lower(&candidate)) {
            return candidate;
        }
    }
    nick.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(handle: &str) -> NickSource<'_> {
        NickSource {
            handle,
            account: "jabber",
            ..NickSource::default()
        }
    }

    #[test]
    fn default_format_cuts_at_at() {
        assert_eq!(
            format_nick("%-@nick", &src("bob@example.org"), NickStyle::default()),
            "bob"
        );
        assert_eq!(
            format_nick("%handle", &src("bob@example.org"), NickStyle::default()),
            "bob_example_org"
        );
        assert_eq!(
            format_nick("%-@nick", &src("42@x"), NickStyle::default()),
            "_42"
        );
        assert_eq!(
            format_nick("%-@nick", &src("Ünïcode@x"), NickStyle::default()),
            "ncode"
        );
        let s = NickSource {
            full_name: Some("Bob Smith"),
            ..src("b@x")
        };
        assert_eq!(
            format_nick("%full_name", &s, NickStyle::default()),
            "BobSmith"
        );
        let st = NickStyle {
            underscores: true,
            lowercase: true,
            utf8: false,
        };
        assert_eq!(format_nick("%full_name", &s, st), "bob_smith");
        assert_eq!(
            format_nick("[%account]%-@nick", &s, NickStyle::default()),
            "[jabber]b"
        );
    }

    #[test]
    fn uniqueness() {
        let taken = ["bob", "bob_"];
        assert_eq!(unique_nick("Bob", |n| taken.contains(&n)), "Bob__");
        let long = "a".repeat(NICKLEN);
        assert_eq!(
            unique_nick(&long, |n| n == long),
            format!("{}2", "a".repeat(NICKLEN - 1))
        );
    }

    #[test]
    fn validity() {
        assert!(is_valid_nick("alice") && is_valid_nick("[x]-_") && !is_valid_nick("1x"));
        assert!(!is_valid_nick("") && !is_valid_nick("a b") && !is_valid_nick("*"));
        assert!(is_valid_channel("&bitlbee") && is_valid_channel("#x") && !is_valid_channel("x"));
        assert_eq!(irc_lower("A[]\\~"), "a{}|^");
    }
}
