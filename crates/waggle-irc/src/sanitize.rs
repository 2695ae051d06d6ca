//! Making outside text safe to put into IRC parameters.
//!
//! Text that comes from outside the IRC connection (IM message bodies, contact
//! names, topics, status texts, server errors) may contain CR, LF and NUL. Put
//! into an IRC line as is, a CR or LF would end the line early and let the
//! remote side inject lines of its own (`\r\n:root!root@… PRIVMSG …`), and NUL
//! is not allowed on the wire at all. Every such text passes through one of:
//!
//! - [`lines`] for multi-line bodies that become one message per line;
//! - [`one_line`] for single-line parameters (topics, realnames, status texts,
//!   quit reasons);
//! - [`split_for_privmsg`] to cut one (already single) line into pieces that fit
//!   in a PRIVMSG/NOTICE.
//!
//! The codec's encoder strips CR/LF/NUL again as a last line of defence, but that
//! would glue lines together; these helpers keep the meaning.

/// Split `text` into lines at `\r\n`, `\n` and lone `\r`, dropping NUL characters.
///
/// Like [`str::lines`], a line ending at the very end does not produce a final
/// empty line, and an empty `text` gives no lines. Empty lines *inside* the text
/// are kept (as empty strings) so that callers that care about layout can keep
/// it; callers that send one PRIVMSG per line must skip the empty ones (IRC has
/// no empty messages).
pub fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' => out.push(std::mem::take(&mut cur)),
            '\0' => {}
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Flatten `text` to a single line: every line break (`\r\n`, `\n` or a lone
/// `\r`) becomes one space and NUL characters are removed. Nothing else changes
/// (no trimming), so text without CR, LF or NUL comes back identical.
pub fn one_line(text: &str) -> String {
    if !text.contains(['\r', '\n', '\0']) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\n' => out.push(' '),
            '\0' => {}
            c => out.push(c),
        }
    }
    out
}

/// Largest index `<= max` that is a char boundary of `s`.
pub(crate) fn floor_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cut one line of text into chunks of at most `max_bytes` bytes each, for
/// sending as several PRIVMSG/NOTICE lines.
///
/// Chunks end at UTF-8 character boundaries. Where possible a chunk ends at the
/// last space that fits, and that one space is dropped (the break replaces it);
/// a space is only used if it lies in the second half of the chunk, otherwise
/// (a long word, a URL) the text is cut mid-word at the last character that
/// fits. Joining the chunks back (with a space where a space was dropped) gives
/// the original text.
///
/// `text` should already be a single line (see [`lines`]); this function does
/// not look at line breaks. An empty `text` gives no chunks. If `max_bytes` is
/// smaller than a character, that character becomes a chunk on its own (so the
/// function always makes progress; a `max_bytes` of at least 4 never needs this).
pub fn split_for_privmsg(text: &str, max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() <= max_bytes {
            out.push(rest.to_owned());
            break;
        }
        let mut cut = floor_boundary(rest, max_bytes);
        if cut == 0 {
            // Not even one character fits: send it alone.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
            out.push(rest[..cut].to_owned());
            rest = &rest[cut..];
            continue;
        }
        // `cut < rest.len()` here. A space right at `cut` (just past the chunk)
        // is the best break of all; else the last space in the chunk.
        let space = if rest.as_bytes()[cut] == b' ' {
            Some(cut)
        } else {
            rest[..cut].rfind(' ').filter(|&i| i > 0 && i >= cut / 2)
        };
        match space {
            Some(i) => {
                out.push(rest[..i].to_owned());
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest[..cut].to_owned());
                rest = &rest[cut..];
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_every_line_ending() {
        assert_eq!(lines("a\r\nb\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(lines("a\n\nb"), ["a", "", "b"]);
        assert_eq!(lines("a\r\n\r\nb"), ["a", "", "b"]);
        assert_eq!(lines("a\r\rb"), ["a", "", "b"]);
        assert_eq!(lines("a\n"), ["a"]);
        assert_eq!(lines("\n"), [""]);
        assert!(lines("").is_empty());
        assert_eq!(lines("one line"), ["one line"]);
    }

    #[test]
    fn lines_drop_nul_and_never_contain_breaks() {
        let evil = "hi\0\r\n:root!root@localhost PRIVMSG #bitlbee :owned\r\0\n";
        let out = lines(evil);
        assert_eq!(
            out,
            ["hi", ":root!root@localhost PRIVMSG #bitlbee :owned", ""]
        );
        for l in &out {
            assert!(!l.contains(['\r', '\n', '\0']));
        }
    }

    #[test]
    fn one_line_flattens() {
        assert_eq!(one_line("plain text"), "plain text");
        assert_eq!(one_line("a\r\nb\nc\rd"), "a b c d");
        assert_eq!(one_line("a\0b"), "ab");
        assert_eq!(one_line("topic\r\n:x!y@z KILL me"), "topic :x!y@z KILL me");
        assert_eq!(one_line("\r\n"), " ");
        assert!(!one_line("\r\r\n\n\0").contains(['\r', '\n', '\0']));
    }

    #[test]
    fn split_short_text_is_one_chunk() {
        assert_eq!(split_for_privmsg("hello", 10), ["hello"]);
        assert_eq!(split_for_privmsg("0123456789", 10), ["0123456789"]);
        assert!(split_for_privmsg("", 10).is_empty());
    }

    #[test]
    fn split_prefers_last_space() {
        assert_eq!(
            split_for_privmsg("the quick brown fox jumps", 12),
            ["the quick", "brown fox", "jumps"]
        );
        // A space exactly at the limit.
        assert_eq!(split_for_privmsg("abcde fgh", 5), ["abcde", "fgh"]);
    }

    #[test]
    fn split_cuts_long_words() {
        assert_eq!(split_for_privmsg("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // The only space is too early: cut mid-word instead of a tiny chunk.
        assert_eq!(
            split_for_privmsg("a bcdefghijklmnop", 8),
            ["a bcdefg", "hijklmno", "p"]
        );
    }

    #[test]
    fn split_respects_utf8_boundaries() {
        let text = "ééééé"; // 10 bytes
        let chunks = split_for_privmsg(text, 3);
        assert_eq!(chunks, ["é", "é", "é", "é", "é"]);
        let text = "日本語のテキストです。".repeat(20);
        for max in [1, 2, 3, 4, 5, 7, 50, 400] {
            let chunks = split_for_privmsg(&text, max);
            assert_eq!(chunks.concat(), text, "max {max}");
            for c in &chunks {
                assert!(c.len() <= max.max(3), "{c:?} longer than {max}");
                assert!(!c.is_empty());
            }
        }
    }

    #[test]
    fn split_round_trips_and_bounds() {
        let words = "lorem ipsum dolor sit amet, consectetur adipiscing élit, ñ 😀 x";
        let text = words.repeat(30);
        for max in [4, 10, 33, 100, 450] {
            let chunks = split_for_privmsg(&text, max);
            for c in &chunks {
                assert!(c.len() <= max, "{c:?} longer than {max}");
                assert!(!c.is_empty());
            }
            // Reassemble: each boundary either dropped one space or cut mid-text.
            let joined_len: usize = chunks.iter().map(String::len).sum();
            assert!(joined_len <= text.len());
            assert!(text.len() - joined_len < chunks.len());
            let mut rebuilt = String::new();
            for c in &chunks {
                if !rebuilt.is_empty() && !text[rebuilt.len()..].starts_with(c.as_str()) {
                    rebuilt.push(' ');
                }
                rebuilt.push_str(c);
            }
            assert_eq!(rebuilt, text, "max {max}");
        }
    }
}
