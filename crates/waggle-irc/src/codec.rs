//! The IRC wire codec: bytes from a client become [`Incoming`] items, outgoing
//! lines become bytes.
//!
//! We do not use `irc-proto`'s own codec: it has no line-length limit (a client
//! could make us buffer megabytes without a newline) and it turns invalid UTF-8
//! into an I/O error that ends the stream. [`IrcCodec`] frames lines itself and
//! only hands finished, bounded, valid-UTF-8 lines to [`irc_proto::Message`]'s
//! parser. Bad content is always reported as an item ([`Incoming::TooLong`],
//! [`Incoming::Invalid`]), never as an error: the only decoder error is I/O.
//!
//! Framing rules (decoding):
//! - a line ends at `\n` or at `\r` (so `\r\n`, `\n` and a lone `\r` all work);
//!   the empty lines this produces (and any others) are skipped silently;
//! - a line may have at most [`MAX_LINE`] bytes including CRLF for the part after
//!   the optional IRCv3 message tags, plus at most [`MAX_TAGS`] bytes for a leading
//!   `@tags ` part (including `@` and the space). A longer line yields one
//!   [`Incoming::TooLong`] and the rest of it, up to and including the next line
//!   end, is dropped as it arrives, without being buffered;
//! - invalid UTF-8 is repaired lossily (U+FFFD);
//! - a line without a command (only tags, only a prefix, only spaces) or one that
//!   `irc-proto` rejects yields [`Incoming::Invalid`].
//!
//! Encoding takes a complete line without CRLF as a `String`, removes any `\r`,
//! `\n` and NUL in it (nothing can inject a second line), cuts it to the limits at
//! a UTF-8 boundary and appends `\r\n`.

use crate::sanitize::floor_boundary;
use std::str::FromStr;

use bytes::{Buf, BufMut, BytesMut};
use irc_proto::error::ProtocolError;
use irc_proto::{Command, Message};
use tokio_util::codec::{Decoder, Encoder};

/// Maximum length in bytes of the part of a line after the message tags,
/// including the terminating CRLF (RFC 1459/2812).
pub const MAX_LINE: usize = 512;

/// Maximum length in bytes of the leading message-tags part of a line,
/// including the `@` and the space after it (IRCv3 message-tags).
pub const MAX_TAGS: usize = 8191;

/// The longest non-tag content (without the line ending) we accept or send.
const MAX_CONTENT: usize = MAX_LINE - 2;

/// One decoded line from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A well-formed IRC message.
    Message(Message),
    /// The line exceeded [`MAX_LINE`] (plus [`MAX_TAGS`] for its tags) and was
    /// dropped; reported once per over-long line (answer with `417`).
    TooLong,
    /// The line could not be parsed into a message.
    Invalid {
        /// The offending line (lossily decoded, without its line ending).
        line: String,
        /// A short, human-readable reason.
        reason: String,
    },
}

/// Errors of [`IrcCodec`]. Only I/O fails the stream; bad content never does.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Reading from or writing to the underlying transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A [`Decoder`] of [`Incoming`] lines and an [`Encoder`] of `String` lines for
/// the IRC wire. See the [module documentation](self) for the rules.
#[derive(Debug, Default, Clone)]
pub struct IrcCodec {
    /// How many bytes at the start of the buffer are known to hold no line end.
    scanned: usize,
    /// We are inside an over-long line that was already reported: drop
    /// everything up to and including the next line end.
    discarding: bool,
}

impl IrcCodec {
    /// A codec in its initial state (same as `IrcCodec::default()`).
    pub fn new() -> Self {
        Self::default()
    }
}

/// Position of the first line end (`\n` or `\r`) in `buf`.
fn find_eol(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n' || b == b'\r')
}

/// Whether `content` (a line without its ending, or the beginning of one) is
/// beyond the limits. Monotonic: once true for a prefix, true for every extension.
fn over_limit(content: &[u8]) -> bool {
    let (tags_len, rest_len) = if content.first() == Some(&b'@') {
        match content.iter().position(|&b| b == b' ') {
            Some(sp) => (sp + 1, content.len() - sp - 1),
            None => (content.len(), 0),
        }
    } else {
        (0, content.len())
    };
    tags_len > MAX_TAGS || rest_len > MAX_CONTENT
}

/// Why `line` has no command, mirroring how `irc-proto` splits a line (tags up to
/// the first space, then a `:prefix` up to the next space, then the command).
fn missing_command(line: &str) -> Option<&'static str> {
    let mut rest = line;
    if rest.starts_with('@') {
        match rest.find(' ') {
            Some(i) => rest = &rest[i + 1..],
            None => return Some("message tags without a command"),
        }
    }
    if rest.starts_with(':') {
        match rest.find(' ') {
            Some(i) => rest = &rest[i + 1..],
            None => return Some("prefix without a command"),
        }
    }
    if rest.is_empty() || rest.starts_with(' ') {
        return Some("no command");
    }
    None
}

/// The command word of a line that has one (after the optional tags and prefix).
fn command_word(line: &str) -> &str {
    let mut rest = line;
    for marker in ['@', ':'] {
        if rest.starts_with(marker) {
            rest = rest.split_once(' ').map_or("", |(_, r)| r);
        }
    }
    rest.trim_start_matches(' ').split(' ').next().unwrap_or("")
}

/// Parse one complete line (without its line ending) into an [`Incoming`].
///
/// Does not check the length limits (the decoder does that on the raw bytes);
/// useful for tests and for lines that did not come through the decoder.
pub fn parse_line(line: &str) -> Incoming {
    let invalid = |reason: String| Incoming::Invalid {
        line: line.to_owned(),
        reason,
    };
    if let Some(reason) = missing_command(line) {
        return invalid(reason.to_owned());
    }
    match Message::from_str(line) {
        // Defensive: irc-proto represents "no command" as an empty raw command.
        Ok(msg) if matches!(&msg.command, Command::Raw(c, _) if c.is_empty()) => {
            invalid("no command".to_owned())
        }
        Ok(mut msg) => {
            // irc-proto 1.1 parses ISON into `Command::USERHOST`: keep the verb sent.
            if let Command::USERHOST(nicks) = &msg.command
                && command_word(line).eq_ignore_ascii_case("ISON")
            {
                msg.command = Command::Raw("ISON".to_owned(), nicks.clone());
            }
            Incoming::Message(msg)
        }
        Err(ProtocolError::InvalidMessage { cause, .. }) => invalid(cause.to_string()),
        Err(e) => invalid(e.to_string()),
    }
}

/// Turn one framed line (without its ending) into an item; `None` for an empty line.
fn line_item(content: &[u8]) -> Option<Incoming> {
    if content.is_empty() {
        return None;
    }
    if over_limit(content) {
        return Some(Incoming::TooLong);
    }
    Some(parse_line(&String::from_utf8_lossy(content)))
}

impl Decoder for IrcCodec {
    type Item = Incoming;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, CodecError> {
        loop {
            if self.discarding {
                match find_eol(src) {
                    Some(i) => {
                        src.advance(i + 1);
                        self.discarding = false;
                        self.scanned = 0;
                    }
                    None => {
                        src.clear();
                        return Ok(None);
                    }
                }
                continue;
            }
            let from = self.scanned.min(src.len());
            match find_eol(&src[from..]) {
                Some(rel) => {
                    let end = from + rel;
                    let line = src.split_to(end + 1);
                    self.scanned = 0;
                    match line_item(&line[..end]) {
                        Some(item) => return Ok(Some(item)),
                        None => continue,
                    }
                }
                None => {
                    if over_limit(src) {
                        // Report now, drop what we have and the rest of the line
                        // as it arrives: memory stays bounded.
                        src.clear();
                        self.scanned = 0;
                        self.discarding = true;
                        return Ok(Some(Incoming::TooLong));
                    }
                    self.scanned = src.len();
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, CodecError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        // What is left is a final line without a line end (or nothing).
        self.scanned = 0;
        if self.discarding {
            self.discarding = false;
            src.clear();
            return Ok(None);
        }
        let rest = src.split();
        Ok(line_item(&rest))
    }
}

/// Cut the `@tags ` part (including `@` and its trailing space) to at most
/// [`MAX_TAGS`] bytes by dropping whole tags from the end, never cutting inside a
/// tag or an escape (`;` never occurs escaped). Returns what to write: the part
/// unchanged when it fits, else `@` plus the tags that fit *without* the trailing
/// space (the caller adds it), or `""` when not even the first tag fits.
fn fit_tags(tags: &str) -> &str {
    if tags.len() <= MAX_TAGS {
        return tags;
    }
    let body = &tags[1..tags.len() - 1];
    // `@` + body[..i] + ` ` must fit.
    let room = MAX_TAGS - 2;
    let keep = body
        .match_indices(';')
        .map(|(i, _)| i)
        .take_while(|&i| i <= room)
        .last()
        .unwrap_or(0);
    if keep == 0 {
        return "";
    }
    &tags[..keep + 1]
}

impl Encoder<String> for IrcCodec {
    type Error = CodecError;

    fn encode(&mut self, line: String, dst: &mut BytesMut) -> Result<(), CodecError> {
        let clean: String = if line.contains(['\r', '\n', '\0']) {
            line.chars()
                .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
                .collect()
        } else {
            line
        };
        if clean.is_empty() {
            return Ok(());
        }
        let (tags, rest) = match clean.find(' ') {
            Some(sp) if clean.starts_with('@') => clean.split_at(sp + 1),
            _ => ("", clean.as_str()),
        };
        let tags = fit_tags(tags);
        let rest = &rest[..floor_boundary(rest, MAX_CONTENT)];
        dst.reserve(tags.len() + rest.len() + 3);
        dst.put_slice(tags.as_bytes());
        if !tags.is_empty() && !tags.ends_with(' ') {
            dst.put_u8(b' ');
        }
        dst.put_slice(rest.as_bytes());
        dst.put_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Feed `input` to a fresh codec in one go and collect every item, EOF included.
    fn decode_all(input: &[u8]) -> Vec<Incoming> {
        let mut codec = IrcCodec::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item);
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        assert!(buf.is_empty(), "bytes left over at EOF");
        out
    }

    fn encode(line: &str) -> Vec<u8> {
        let mut codec = IrcCodec::new();
        let mut buf = BytesMut::new();
        codec.encode(line.to_owned(), &mut buf).unwrap();
        buf.to_vec()
    }

    fn msg(item: &Incoming) -> &Message {
        match item {
            Incoming::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn is_invalid(item: &Incoming) -> bool {
        matches!(item, Incoming::Invalid { .. })
    }

    #[test]
    fn all_line_endings_work() {
        let items = decode_all(b"PING a\r\nPING b\nPING c\rPING d");
        let got: Vec<_> = items.iter().map(|i| msg(i).command.clone()).collect();
        let want: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|s| Command::PING((*s).to_owned(), None))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn cr_only_line_endings() {
        let items = decode_all(b"NICK a\rUSER u 0 * :Real Name\r\r\r");
        assert_eq!(items.len(), 2);
        assert_eq!(msg(&items[0]).command, Command::NICK("a".into()));
        assert_eq!(
            msg(&items[1]).command,
            Command::USER("u".into(), "0".into(), "Real Name".into())
        );
    }

    #[test]
    fn empty_lines_are_skipped() {
        let items = decode_all(b"\r\n\n\r\r\nPING x\r\n\r\n");
        assert_eq!(items.len(), 1);
        assert_eq!(msg(&items[0]).command, Command::PING("x".into(), None));
    }

    #[test]
    fn crlf_split_across_reads() {
        let mut codec = IrcCodec::new();
        let mut buf = BytesMut::from(&b"PING x\r"[..]);
        assert!(matches!(
            codec.decode(&mut buf).unwrap(),
            Some(Incoming::Message(_))
        ));
        buf.extend_from_slice(b"\nPI");
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"NG y\n");
        let m = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(msg(&m).command, Command::PING("y".into(), None));
        assert!(buf.is_empty());
    }

    #[test]
    fn lines_without_command_are_invalid() {
        for input in [
            &b":prefix.only"[..],
            b":prefix ",
            b"@a=b",
            b"@a=b ",
            b"@a=b :pfx",
            b"   ",
            b"  PING x",
        ] {
            let items = decode_all(input);
            assert_eq!(items.len(), 1, "{input:?}");
            assert!(is_invalid(&items[0]), "{input:?} gave {:?}", items[0]);
        }
        match &decode_all(b":srv\r\n")[0] {
            Incoming::Invalid { line, reason } => {
                assert_eq!(line, ":srv");
                assert_eq!(reason, "prefix without a command");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_lines_never_end_the_stream() {
        // (irc-proto itself only rejects what `missing_command` catches first: its
        // other commands fall back to `Command::Raw`.)
        let items = decode_all(b"PING a\r\n:x\r\n@t\r\n\xff\xfe\r\n \r\nPING b\r\n");
        assert_eq!(items.len(), 6, "{items:?}");
        assert_eq!(msg(&items[0]).command, Command::PING("a".into(), None));
        assert!(is_invalid(&items[1]) && is_invalid(&items[2]) && is_invalid(&items[4]));
        assert_eq!(
            msg(&items[3]).command,
            Command::Raw("\u{fffd}\u{fffd}".into(), vec![])
        );
        assert_eq!(msg(&items[5]).command, Command::PING("b".into(), None));
    }

    #[test]
    fn invalid_utf8_is_repaired() {
        let items = decode_all(b"PRIVMSG #c :caf\xe9 \xff\xfe ok\r\nPING next\r\n");
        assert_eq!(items.len(), 2);
        assert_eq!(
            msg(&items[0]).command,
            Command::PRIVMSG("#c".into(), "caf\u{fffd} \u{fffd}\u{fffd} ok".into())
        );
        assert_eq!(msg(&items[1]).command, Command::PING("next".into(), None));
    }

    #[test]
    fn limit_is_512_with_crlf() {
        let ok = format!("PRIVMSG #c :{}", "a".repeat(MAX_CONTENT - 12));
        assert_eq!(ok.len(), 510);
        let items = decode_all(format!("{ok}\r\n").as_bytes());
        assert!(matches!(items[..], [Incoming::Message(_)]), "{items:?}");

        let long = format!("{ok}a\r\nPING after\r\n");
        let items = decode_all(long.as_bytes());
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], Incoming::TooLong);
        assert_eq!(msg(&items[1]).command, Command::PING("after".into(), None));
    }

    #[test]
    fn tags_have_their_own_limit() {
        let tags = format!("@t={} ", "v".repeat(MAX_TAGS - 4));
        assert_eq!(tags.len(), MAX_TAGS);
        let body = format!("PRIVMSG #c :{}", "a".repeat(MAX_CONTENT - 12));
        let items = decode_all(format!("{tags}{body}\r\n").as_bytes());
        let m = msg(&items[0]);
        assert_eq!(m.tags.as_ref().map(Vec::len), Some(1));

        // One byte more in the tags.
        let tags_long = format!("@t={} ", "v".repeat(MAX_TAGS - 3));
        let items = decode_all(format!("{tags_long}PING x\r\nPING y\r\n").as_bytes());
        assert_eq!(items[0], Incoming::TooLong);
        assert_eq!(msg(&items[1]).command, Command::PING("y".into(), None));

        // Tags never spill over into the non-tag budget and vice versa.
        let items = decode_all(format!("@t=v {body}a\r\n").as_bytes());
        assert_eq!(items, vec![Incoming::TooLong]);

        // Tags without a space, growing past the limit without a newline.
        let mut codec = IrcCodec::new();
        let mut buf = BytesMut::from(format!("@{}", "t".repeat(MAX_TAGS)).as_bytes());
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Incoming::TooLong));
        assert!(buf.is_empty());
    }

    #[test]
    fn ten_megabytes_without_newline_stay_bounded() {
        let mut codec = IrcCodec::new();
        let mut buf = BytesMut::new();
        let chunk = vec![b'x'; 4096];
        let mut too_long = 0;
        let mut fed = 0;
        while fed < 10 * 1024 * 1024 {
            buf.extend_from_slice(&chunk);
            fed += chunk.len();
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                assert_eq!(item, Incoming::TooLong);
                too_long += 1;
            }
            assert!(
                buf.len() <= MAX_TAGS + MAX_LINE,
                "buffer grew to {}",
                buf.len()
            );
        }
        assert_eq!(too_long, 1);
        buf.extend_from_slice(b"xxx\r\nPRIVMSG #c :hello\r\n");
        let item = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            msg(&item).command,
            Command::PRIVMSG("#c".into(), "hello".into())
        );
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn eof_inside_overlong_line_is_quiet() {
        let mut input = b"PING a\r\n".to_vec();
        input.extend(vec![b'x'; 20_000]);
        let items = decode_all(&input);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], Incoming::TooLong);
    }

    #[test]
    fn final_line_without_newline() {
        let items = decode_all(b"PING a\r\nQUIT :bye");
        assert_eq!(items.len(), 2);
        assert_eq!(msg(&items[1]).command, Command::QUIT(Some("bye".into())));
    }

    #[test]
    fn tags_are_parsed() {
        let items = decode_all(b"@label=1;+draft/x :nick!u@h PRIVMSG #c :hi\r\n");
        let m = msg(&items[0]);
        let tags = m.tags.as_ref().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].0, "label");
        assert_eq!(tags[0].1.as_deref(), Some("1"));
        assert_eq!(m.source_nickname(), Some("nick"));
    }

    #[test]
    fn encoder_appends_crlf() {
        assert_eq!(encode(":srv 001 me :Welcome"), b":srv 001 me :Welcome\r\n");
    }

    #[test]
    fn encoder_cannot_inject_lines() {
        let out = encode(":a PRIVMSG me :hi\r\n:root!root@x PRIVMSG me :pwned\0\r");
        assert_eq!(out, b":a PRIVMSG me :hi:root!root@x PRIVMSG me :pwned\r\n");
        assert_eq!(out.iter().filter(|&&b| b == b'\n' || b == b'\r').count(), 2);
        // And round-trips as a single line.
        let items = decode_all(&out);
        assert_eq!(items.len(), 1);
        // Nothing at all for a line that is only line breaks.
        assert!(encode("\r\n\0").is_empty());
    }

    #[test]
    fn encoder_truncates_at_char_boundary() {
        let line = format!("PRIVMSG #ch :{}", "é".repeat(400));
        let out = encode(&line);
        assert!(out.len() <= MAX_LINE);
        assert!(out.ends_with(b"\r\n"));
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.trim_end().ends_with('é'));
        // 13 + 249 * 2 = 511 would split an 'é': 13 + 248 * 2 = 509, plus CRLF.
        assert_eq!(text.len(), 511);
    }

    #[test]
    fn encoder_keeps_tags_apart_from_the_limit() {
        let tags = format!("@time=2024-01-01T00:00:00.000Z;x={} ", "v".repeat(1000));
        let body = format!(":n!u@h PRIVMSG #c :{}", "a".repeat(600));
        let out = encode(&format!("{tags}{body}"));
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with(&tags));
        assert_eq!(text.len(), tags.len() + MAX_LINE);
    }

    #[test]
    fn encoder_drops_whole_tags_beyond_the_tag_limit() {
        let big = "v".repeat(MAX_TAGS);
        let out = encode(&format!("@a=1;b={big};c=2 PING x"));
        assert_eq!(out, b"@a=1 PING x\r\n");
        let out = encode(&format!("@b={big} PING x"));
        assert_eq!(out, b"PING x\r\n");
    }

    #[test]
    fn ison_stays_ison() {
        let items = decode_all(b"ISON a b\r\n@t=1 :p ison c\r\nUSERHOST d\r\n");
        let got: Vec<_> = items.iter().map(|i| msg(i).command.clone()).collect();
        assert_eq!(
            got,
            [
                Command::Raw("ISON".into(), vec!["a".into(), "b".into()]),
                Command::Raw("ISON".into(), vec!["c".into()]),
                Command::USERHOST(vec!["d".into()]),
            ]
        );
    }
}
