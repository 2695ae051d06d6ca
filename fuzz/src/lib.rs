//! The fuzz targets' entry points: each takes the raw bytes of one input and runs
//! them through the product code the way the network or a file would, checking
//! the properties that must hold for any input (besides not panicking).
//!
//! The targets in `fuzz_targets/` call these functions, and the workspace's test
//! `fuzz_corpus` includes this very file and replays every corpus file through
//! them on stable Rust, so a corpus input found once keeps being checked.

use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};
use waggle_core::ProtocolRegistry;
use waggle_irc::codec::{Incoming, IrcCodec, MAX_LINE, MAX_TAGS};
use waggle_irc::input::Input;
use waggle_irc::sanitize;
use waggle_skype::codec::LineCodec;
use waggle_skype::engine::{Engine, Out};
use waggle_skype::{SkypeConfig, Trust, protocol};
use waggle_xmpp::convert::{error_text, iq as iqc, mam, message, presence};
use waggle_xmpp::limit::StanzaMeter;
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::roster::Roster;
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::vcard::VCard;

/// The names of the targets, as directories under `fuzz/corpus/`.
pub const TARGETS: &[&str] = &["irc_line", "skyped", "root_line", "xmpp_stanza", "config"];

/// Run one input through the target called `name`; false for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "irc_line" => irc_line(data),
        "skyped" => skyped(data),
        "root_line" => root_line(data),
        "xmpp_stanza" => xmpp_stanza(data),
        "config" => config(data),
        _ => return false,
    }
    true
}

/// Piece sizes (mostly 1 to 16 bytes, some up to 1 KiB) for feeding `data` to
/// a decoder in several reads, the same for the same input.
fn pieces(data: &[u8]) -> Vec<usize> {
    let mut seed = data
        .iter()
        .fold(0x9e37_79b9_u32 ^ data.len() as u32, |h, &b| {
            h.rotate_left(5) ^ u32::from(b)
        })
        | 1;
    let mut out = Vec::new();
    let mut left = data.len();
    while left > 0 {
        // xorshift32
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        // Mostly small reads (the edge cases), now and then a large one.
        let n = if seed % 8 == 0 {
            (seed >> 3) % 1024 + 1
        } else {
            seed % 16 + 1
        } as usize;
        let n = n.min(left);
        out.push(n);
        left -= n;
    }
    out
}

/// Feed `data` to a decoder in reads of the given sizes, then end the stream;
/// every item (or the first error) in order. `bound` is checked on what the
/// decoder keeps buffered between reads.
fn decode_in<D: Decoder>(
    mut codec: D,
    data: &[u8],
    sizes: &[usize],
    bound: usize,
) -> (Vec<D::Item>, bool) {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut at = 0;
    for &n in sizes {
        buf.extend_from_slice(&data[at..at + n]);
        at += n;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(_) => return (items, true),
            }
        }
        assert!(buf.len() <= bound, "decoder kept {} bytes", buf.len());
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => break,
            Err(_) => return (items, true),
        }
    }
    assert!(buf.is_empty(), "bytes left over at the end of the stream");
    (items, false)
}

/// Target `irc_line`: a client's bytes through [`IrcCodec`] (in one read and in
/// many: the same lines either way, the buffer bounded), each message flattened
/// to an [`Input`], its text cut as replies are, and our encoder's output for it
/// taken back by our own decoder as one line.
pub fn irc_line(data: &[u8]) {
    let bound = MAX_TAGS + MAX_LINE;
    let (whole, _) = decode_in(IrcCodec::new(), data, &[data.len()], usize::MAX);
    let (split, _) = decode_in(IrcCodec::new(), data, &pieces(data), bound);
    assert_eq!(
        whole, split,
        "the same bytes in other reads gave other lines"
    );
    // The checks per message are costly: the first few messages are enough.
    for item in whole.iter().take(16) {
        let Incoming::Message(msg) = item else {
            continue;
        };
        let input = Input::from_message(msg);
        assert!(!input.verb.is_empty(), "a message without a verb");
        let _ = input.tag("label");
        let text = input.arg(1);
        for line in sanitize::lines(text) {
            assert!(!line.contains(['\r', '\n', '\0']));
            let max = 4 + line.len() % 400;
            for chunk in sanitize::split_for_privmsg(&line, max) {
                assert!(
                    !chunk.is_empty() && chunk.len() <= max,
                    "chunk {chunk:?} > {max}"
                );
            }
        }
        assert!(!sanitize::one_line(text).contains(['\r', '\n', '\0']));
        encoded_is_one_line(msg.to_string());
    }
    encoded_is_one_line(String::from_utf8_lossy(data).into_owned());
}

/// What [`IrcCodec`] encodes is one line within the limits, which it decodes
/// again as (at most) one item that is not over-long.
fn encoded_is_one_line(line: String) {
    let mut buf = BytesMut::new();
    if IrcCodec::new().encode(line, &mut buf).is_err() {
        panic!("encoding into memory failed");
    }
    if buf.is_empty() {
        return;
    }
    assert!(buf.ends_with(b"\r\n"), "no CRLF at the end");
    let breaks = buf
        .iter()
        .filter(|&&b| matches!(b, b'\r' | b'\n' | 0))
        .count();
    assert_eq!(breaks, 2, "a line break or NUL inside the line");
    let (items, _) = decode_in(IrcCodec::new(), &buf, &[buf.len()], usize::MAX);
    assert!(items.len() <= 1, "our own line decoded as {}", items.len());
    assert!(
        !items.contains(&Incoming::TooLong),
        "our own line is too long for us"
    );
}

/// A Skype configuration with the flags picked by the bits of `flags`.
fn skype_config(flags: u8) -> SkypeConfig {
    let bit = |i: u8| flags & (1 << i) != 0;
    SkypeConfig {
        server: "127.0.0.1".into(),
        port: 2727,
        trust: Trust::FirstUse,
        skypeout_offline: bit(0),
        skypeconsole: bit(1),
        skypeconsole_receive: bit(2),
        auto_join: bit(3),
        test_join: bit(4),
        show_moods: bit(5),
        edit_prefix: "EDIT:".into(),
        read_groups: bit(6),
        display_name: bit(7).then(|| "Alice".into()),
        mood_text: None,
        away: None,
    }
}

/// The lines the engine wants sent: each one line without NUL.
fn check_lines(out: &[Out]) {
    for o in out {
        if let Out::Line(l) = o {
            assert!(
                !l.contains(['\r', '\n', '\0']),
                "unsafe line to skyped: {l:?}"
            );
        }
    }
}

/// Target `skyped`: the first byte picks the account's flags, the rest is what
/// skyped sends. It goes through [`LineCodec`] (a small limit in one read and in
/// many must agree; the real limit yields the lines), each line is classified by
/// [`protocol::parse`] and handled by a logged-in [`Engine`], whose questions are
/// answered as they come (yes, no, yes …).
pub fn skyped(data: &[u8]) {
    let (flags, stream) = match data.split_first() {
        Some((f, rest)) => (*f, rest),
        None => (0, data),
    };
    let small = 64;
    let a = decode_in(LineCodec::new(small), stream, &[stream.len()], usize::MAX);
    let b = decode_in(LineCodec::new(small), stream, &pieces(stream), small + 1);
    assert_eq!(a, b, "the same bytes in other reads gave other lines");
    for line in &a.0 {
        assert!(
            line.len() <= small,
            "a line of {} bytes, over the limit",
            line.len()
        );
        assert!(!line.contains('\n'), "a newline inside a line");
    }
    let (lines, _) = decode_in(LineCodec::default(), stream, &[stream.len()], usize::MAX);

    let mut engine = Engine::new(skype_config(flags), "alice");
    engine.start();
    engine.on_line("USERSTATUS ONLINE");
    check_lines(&engine.drain());
    let mut accept = true;
    for line in &lines {
        let _ = protocol::parse(line);
        engine.on_line(line);
        let out = engine.drain();
        check_lines(&out);
        for o in out {
            if let Out::Event(waggle_core::Event::QuestionAsked { id, .. }) = o {
                engine.on_command(waggle_core::Command::AnswerQuestion { id, accept });
                accept = !accept;
                check_lines(&engine.drain());
            }
        }
    }
}

/// The protocols the gateway is built with, for the settings `help set` knows.
fn protocols() -> &'static ProtocolRegistry {
    static REGISTRY: OnceLock<ProtocolRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = ProtocolRegistry::new();
        r.register(Arc::new(waggle_xmpp::XmppBackend::new()));
        r.register(Arc::new(waggle_skype::SkypeBackend::new()));
        r
    })
}

/// Target `root_line`: a line typed to root, split into words with its quotes
/// (without quotes the same as splitting at spaces), its command and
/// subcommand resolved in the registry by name or unique prefix, and the help
/// text for the same words.
pub fn root_line(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    let parsed = waggle_irc::fuzzing::root_line(&line, protocols());
    if !line.contains(['"', '\'']) {
        let plain: Vec<&str> = line.trim().split(' ').filter(|w| !w.is_empty()).collect();
        assert_eq!(parsed.words, plain, "unquoted words split differently");
    }
    if let (Some(name), Some(first)) = (parsed.command, parsed.words.first()) {
        assert!(
            name.starts_with(&first.to_ascii_lowercase()),
            "{first:?} resolved to {name}"
        );
    }
    assert!(!(parsed.ambiguous && parsed.command.is_some()));
    if let (Some(sub), Some(word)) = (parsed.subcommand, parsed.words.get(1)) {
        assert!(
            sub.starts_with(&word.to_ascii_lowercase()),
            "{word:?} resolved to {sub}"
        );
    }
}

/// The account the XMPP stanzas are addressed to.
fn xmpp_me() -> BareJid {
    match BareJid::new("me@example.org") {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    }
}

/// Target `xmpp_stanza`: bytes from the server measured by [`StanzaMeter`] (in
/// one read and in many: the same verdict), then, if they are one XML element,
/// taken as the stanza it is and turned into what the session acts on: a
/// message classified (and, from an archive, as a chat and as a room line), a
/// presence classified, an IQ's payload read as a roster, vCard, disco answer or
/// error.
pub fn xmpp_stanza(data: &[u8]) {
    let limit = 512;
    let mut whole = StanzaMeter::new(limit);
    let once = whole.feed(data).is_err();
    let mut piecewise = StanzaMeter::new(limit);
    let mut at = 0;
    let mut failed = false;
    for n in pieces(data) {
        if piecewise.feed(&data[at..at + n]).is_err() {
            failed = true;
            break;
        }
        at += n;
    }
    assert_eq!(
        once, failed,
        "the same bytes in other reads measured otherwise"
    );
    let _ = (whole.depth(), piecewise.depth());

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(el) = text.parse::<Element>() else {
        return;
    };
    let me = xmpp_me();
    match el.name() {
        "message" => {
            let Ok(msg) = Message::try_from(el) else {
                return;
            };
            let _ = mam::ids(&msg, &me);
            if let message::Inbound::Archived(a) = message::classify(msg, &me) {
                let room = a.archive.clone().unwrap_or_else(|| me.clone());
                let _ = message::archived_chat(a.clone(), &me);
                let _ = message::archived_room_line(a, &room);
            }
        }
        "presence" => {
            let Some(inbound) = Presence::try_from(el).ok().and_then(presence::classify) else {
                return;
            };
            if let presence::Kind::Available { show, .. } = &inbound.kind {
                let _ = presence::state_of(show.as_ref());
            }
        }
        "iq" => {
            if let Ok(iq) = Iq::try_from(el) {
                iq_payload(iq);
            }
        }
        _ => {}
    }
}

/// What the session makes of an IQ's payload.
fn iq_payload(iq: Iq) {
    let payload = match iq {
        Iq::Get { payload, .. } | Iq::Set { payload, .. } => payload,
        Iq::Result { payload, .. } => match payload {
            Some(p) => p,
            None => return,
        },
        Iq::Error { error, .. } => {
            let _ = error_text(&error);
            return;
        }
    };
    if let Ok(roster) = Roster::try_from(payload.clone()) {
        for item in &roster.items {
            let _ = iqc::contact(item, waggle_core::Presence::default());
        }
    }
    if let Ok(vcard) = VCard::try_from(payload.clone()) {
        for line in iqc::vcard_lines(&vcard) {
            assert!(!line.is_empty());
        }
    }
    if let Ok(items) = DiscoItemsResult::try_from(payload.clone()) {
        let rooms = iqc::room_list(&items);
        assert_eq!(rooms.len(), items.items.len());
    }
    if let Ok(info) = DiscoInfoResult::try_from(payload.clone()) {
        let _ = iqc::is_muc_service(&info);
    }
    if let Ok(error) = StanzaError::try_from(payload) {
        let _ = error_text(&error);
    }
}

/// Target `config`: a configuration file's text through [`waggle::config::Config`]
/// as `waggle` and `waggle check-config` read it, and, when it is accepted, the
/// settings the daemon derives from it.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = waggle::config::Config::parse(text) else {
        return;
    };
    assert!(
        config.server_config().is_ok(),
        "an accepted configuration has no server settings"
    );
    let retention = config.retention();
    assert!(retention.max_age.as_secs() > 0);
    let _ = config.store_options();
}
