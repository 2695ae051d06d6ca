//! Users' addresses: `alice` is `alice@<domain>`, the login name lower-cased and
//! escaped as XEP-0106 says, so that any IRC nick makes a valid localpart.

/// The characters XEP-0106 escapes, with their escape (backslash excluded).
const ESCAPES: &[(char, &str)] = &[
    (' ', "20"),
    ('"', "22"),
    ('&', "26"),
    ('\'', "27"),
    ('/', "2f"),
    (':', "3a"),
    ('<', "3c"),
    ('>', "3e"),
    ('@', "40"),
];

/// Whether `s` starts with one of the ten XEP-0106 escape codes.
fn starts_with_code(s: &str) -> bool {
    let code = s.get(..2).map(str::to_ascii_lowercase);
    code.is_some_and(|c| c == "5c" || ESCAPES.iter().any(|(_, e)| *e == c))
}

/// XEP-0106 escaping: the nine forbidden characters always, a backslash only
/// where it would otherwise read as an escape.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if let Some((_, code)) = ESCAPES.iter().find(|(ch, _)| *ch == c) {
            out.push('\\');
            out.push_str(code);
        } else if c == '\\' && s.get(i + 1..).is_some_and(starts_with_code) {
            out.push_str("\\5c");
        } else {
            out.push(c);
        }
    }
    out
}

/// Undo [`escape`].
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\\'
            && let Some(code) = rest.get(1..3).map(str::to_ascii_lowercase)
        {
            let ch = if code == "5c" {
                Some('\\')
            } else {
                ESCAPES.iter().find(|(_, e)| *e == code).map(|(ch, _)| *ch)
            };
            if let Some(ch) = ch {
                out.push(ch);
                rest = rest.get(3..).unwrap_or_default();
                continue;
            }
        }
        out.push(c);
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    out
}

/// The localpart of a gateway user's JID.
pub fn localpart(user: &str) -> String {
    escape(&user.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_xep_0106_says() {
        assert_eq!(localpart("Alice"), "alice");
        assert_eq!(escape("d'artagnan"), "d\\27artagnan");
        assert_eq!(escape("a b@c/d:e"), "a\\20b\\40c\\2fd\\3ae");
        assert_eq!(escape("c:\\net"), "c\\3a\\net");
        assert_eq!(escape("c:\\5c"), "c\\3a\\5c5c");
        assert_eq!(escape("[m]{|}^`_-"), "[m]{|}^`_-");
        for s in ["c:\\5c", "a\\b", "x\\20y", "\\", "trailing\\", "é&<>\""] {
            assert_eq!(unescape(&escape(s)), s, "{s:?}");
        }
        assert_eq!(unescape("\\zz\\2F"), "\\zz/");
    }
}
