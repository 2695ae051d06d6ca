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

/// Characters BitlBee keeps in a generated nick (besides non-ASCII letters
/// with `utf8_nicks`): RFC 1459's, with the dash.
fn nick_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '{' | '}' | '^' | '`' | '-' | '_' | '|' | '[' | ']' | '~' | '\\'
        )
}

/// Expand a BitlBee `nick_format` (`%-@nick`, `%handle`, `%full_name`,
/// `%first_name`, `%group`, `%account`, with `-X` to cut at the first X and
/// a number to keep that many characters) into a nick, the way BitlBee's
/// `nick_gen` does: non-ASCII transliterated (unless `utf8`), what a nick
/// cannot hold dropped, a leading digit given an underscore, cut to
/// [`NICKLEN`]. A format with an unknown variable, or one that yields nothing
/// from the handle or name, falls back to the handle up to its `@`.
pub fn format_nick(format: &str, src: &NickSource<'_>, style: NickStyle) -> String {
    generate(format, src, style).unwrap_or_else(|| {
        let base = src.handle.split('@').next().unwrap_or(src.handle);
        let nick = clean_nick(base, style);
        if nick.is_empty() {
            "_".to_string()
        } else {
            nick
        }
    })
}

/// `rest` after `name` when it starts with it (in any case).
fn word<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    rest.get(..name.len())
        .filter(|w| w.eq_ignore_ascii_case(name))
        .and_then(|_| rest.get(name.len()..))
}

fn generate(format: &str, src: &NickSource<'_>, style: NickStyle) -> Option<String> {
    let mut out = String::new();
    let mut ok = false;
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if out.len() >= NICKLEN {
            break;
        }
        let mut cs = rest.chars();
        cs.next();
        rest = cs.as_str();
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut chop: Option<char> = None;
        let mut len = usize::MAX;
        let part: Option<&str> = loop {
            if let Some(r) = rest.strip_prefix('-') {
                let mut cs = r.chars();
                chop = Some(cs.next()?);
                rest = cs.as_str();
            } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                len = rest
                    .get(..digits)
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(usize::MAX);
                rest = rest.get(digits..).unwrap_or("");
            } else if let Some(r) = word(rest, "nick").or_else(|| word(rest, "handle")) {
                rest = r;
                ok = true;
                break Some(src.handle);
            } else if let Some(r) = word(rest, "full_name") {
                rest = r;
                ok |= src.full_name.is_some_and(|n| !n.is_empty());
                break src.full_name;
            } else if let Some(r) = word(rest, "first_name") {
                rest = r;
                ok |= src.full_name.is_some_and(|n| !n.is_empty());
                chop = Some(' ');
                break src.full_name;
            } else if let Some(r) = word(rest, "group") {
                rest = r;
                break src.group;
            } else if let Some(r) = word(rest, "account") {
                rest = r;
                break Some(src.account);
            } else {
                return None;
            }
        };
        let Some(part) = part else { continue };
        let part = if style.utf8 {
            part.to_string()
        } else {
            deunicode::deunicode(part)
        };
        let kept = match chop {
            Some(x) => part.split(x).next().unwrap_or(""),
            None => &part,
        };
        out.extend(kept.chars().take(len));
    }
    if !ok || out.is_empty() {
        return None;
    }
    let nick = clean_nick(&out, style);
    (!nick.is_empty()).then_some(nick)
}

/// BitlBee's `nick_strip`: keep what a nick may hold (spaces become
/// underscores with `underscores`), put an underscore before a leading digit,
/// lower-case with `lowercase`, cut to [`NICKLEN`].
pub fn clean_nick(raw: &str, style: NickStyle) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if c == ' ' {
            if style.underscores {
                out.push('_');
            }
        } else if nick_char(c)
            || (style.utf8 && !c.is_ascii() && !c.is_whitespace() && !c.is_control())
        {
            out.push(c);
        }
        if !style.utf8 && out.len() >= NICKLEN {
            break;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        // BitlBee writes "_" and the rest into NICKLEN bytes, its terminator included.
        out.insert(0, '_');
        out = truncate_chars(&out, NICKLEN - 1);
    }
    if style.lowercase {
        out = if style.utf8 {
            irc_lower(&out.to_lowercase())
        } else {
            irc_lower(&out)
        };
    }
    truncate_chars(&out, NICKLEN)
}

fn truncate_chars(s: &str, max_bytes: usize) -> String {
    s[..crate::sanitize::floor_boundary(s, max_bytes)].to_string()
}

/// Make `nick` unique given `taken` (which compares RFC 1459 lower-case nicks)
/// as BitlBee does: underscores while there is room, then the nick cut short
/// with `_` and two hex digits.
pub fn unique_nick(nick: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut candidate = nick.to_string();
    for n in 0u32..512 {
        if !taken(&irc_lower(&candidate)) {
            return candidate;
        }
        if candidate.len() < NICKLEN - 1 {
            candidate.push('_');
        } else {
            let base = truncate_chars(nick, NICKLEN - 3);
            candidate = format!("{base}_{:02x}", n % 256);
        }
    }
    candidate
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

    fn fmt(format: &str, s: &NickSource<'_>) -> String {
        format_nick(format, s, NickStyle::default())
    }

    #[test]
    fn formats_as_bitlbee() {
        assert_eq!(fmt("%-@nick", &src("bob@example.org")), "bob");
        // Dots and @ are dropped, not turned into underscores.
        assert_eq!(
            fmt("%handle", &src("bob.smith@example.org")),
            "bobsmithexampleorg"
        );
        assert_eq!(fmt("%-@nick", &src("42@x")), "_42");
        // Transliterated, not dropped.
        assert_eq!(fmt("%-@nick", &src("J\u{f6}rg@x")), "Jorg");
        let s = NickSource {
            full_name: Some("Bob Smith"),
            group: Some("Work"),
            ..src("b@x")
        };
        assert_eq!(fmt("%full_name", &s), "BobSmith");
        assert_eq!(fmt("%first_name", &s), "Bob");
        assert_eq!(fmt("[%3group]%-@nick", &s), "[Wor]b");
        assert_eq!(fmt("[%account]%-@nick", &s), "[jabber]b");
        let st = NickStyle {
            underscores: true,
            lowercase: true,
            utf8: false,
        };
        assert_eq!(format_nick("%full_name", &s, st), "bob_smith");
        // Unknown variables, and formats with nothing unique, fall back to the handle.
        assert_eq!(fmt("%bogus", &src("carol@x")), "carol");
        assert_eq!(fmt("%group", &src("carol@x")), "carol");
        assert_eq!(fmt("%full_name", &src("dave@x")), "dave");
        // Cut to 24; a leading digit makes it 23 with the underscore.
        assert_eq!(
            fmt("%handle", &src("abcdefghijklmnopqrstuvwxyz")),
            "abcdefghijklmnopqrstuvwx"
        );
        assert_eq!(
            fmt("%handle", &src("0123456789012345678901234567")),
            "_0123456789012345678901"
        );
        let u = NickStyle {
            utf8: true,
            ..NickStyle::default()
        };
        assert_eq!(format_nick("%-@nick", &src("J\u{f6}rg@x"), u), "J\u{f6}rg");
    }

    #[test]
    fn uniqueness() {
        let taken = ["bob", "bob_"];
        assert_eq!(unique_nick("Bob", |n| taken.contains(&n)), "Bob__");
        let long = "a".repeat(NICKLEN);
        assert_eq!(
            unique_nick(&long, |n| n == long),
            format!("{}_00", "a".repeat(NICKLEN - 3))
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
