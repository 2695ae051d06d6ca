//! A bound on what one stanza may cost us: the XML parser under tokio-xmpp
//! builds each stanza whole in memory and has no size limit of its own, so
//! the transport is read through [`Limited`], which follows the element
//! nesting byte by byte and fails the read once one top-level element (a
//! stanza, the stream header, any nonza) passes [`MAX_STANZA`] bytes. The
//! connection then ends like any broken one.
//!
//! The tracking is lexical only (tags, quoted attribute values, comments,
//! CDATA, processing instructions); the parser above still checks the XML.
//! A `<stream:stream>` start tag starts a new stream at depth 1, as the
//! restarts after STARTTLS and SASL do.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The largest top-level element accepted from the server, in bytes. Prosody
/// refuses stanzas over 256 KiB from its clients; a roster of thousands of
/// contacts still fits.
pub const MAX_STANZA: usize = 1024 * 1024;

/// The qualified name of the stream element, as every server writes it.
const STREAM_TAG: &[u8] = b"stream:stream";
/// How much of a tag name is kept (enough to recognise [`STREAM_TAG`]).
const NAME_KEPT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tags.
    Text,
    /// Just after `<`.
    Open,
    /// In a start tag's name.
    Name,
    /// In a start tag, after the name.
    Attrs,
    /// In a quoted attribute value.
    Quoted(u8),
    /// A `/` in a start tag (`<x/>` if `>` follows).
    Slash,
    /// In an end tag.
    End,
    /// In `<?…?>`; the flag: the last byte was `?`.
    Pi(bool),
    /// After `<!`: a comment, CDATA or a declaration; bytes matched so far.
    Bang(usize),
    /// In a comment; how many `-` were just seen.
    Comment(u8),
    /// In CDATA; how many `]` were just seen.
    Cdata(u8),
    /// In another `<!…>` declaration.
    Declaration,
}

/// Follows the nesting of the bytes read and measures each top-level element.
#[derive(Debug, Clone)]
pub struct StanzaMeter {
    limit: usize,
    state: State,
    depth: usize,
    /// Inside a top-level element (or the stream header).
    measuring: bool,
    size: usize,
    name: Vec<u8>,
}

/// A top-level element passed the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server sent a stanza larger than {0} bytes")]
pub struct TooLarge(pub usize);

impl StanzaMeter {
    /// A meter failing past `limit` bytes per top-level element.
    pub fn new(limit: usize) -> StanzaMeter {
        StanzaMeter {
            limit,
            state: State::Text,
            depth: 0,
            measuring: false,
            size: 0,
            name: Vec::new(),
        }
    }

    /// The element nesting now (1 between stanzas).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Follow `bytes`; an error once an element is too large.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), TooLarge> {
        for &b in bytes {
            if self.state == State::Open && self.depth <= 1 && !matches!(b, b'/' | b'?' | b'!') {
                self.measuring = true;
                self.size = 1;
            }
            if self.measuring {
                self.size += 1;
                if self.size > self.limit {
                    return Err(TooLarge(self.limit));
                }
            }
            self.step(b);
        }
        Ok(())
    }

    fn finished_element(&mut self) {
        if self.depth <= 1 {
            self.measuring = false;
            self.size = 0;
        }
    }

    fn step(&mut self, b: u8) {
        self.state = match (self.state, b) {
            (State::Text, b'<') => State::Open,
            (State::Text, _) => State::Text,
            (State::Open, b'/') => State::End,
            (State::Open, b'?') => State::Pi(false),
            (State::Open, b'!') => State::Bang(0),
            (State::Open, _) => {
                self.name.clear();
                self.name.push(b);
                State::Name
            }
            (State::Name, b'>') => {
                self.start_tag_closed();
                State::Text
            }
            (State::Name, b'/') => State::Slash,
            (State::Name, b' ' | b'\t' | b'\r' | b'\n') => State::Attrs,
            (State::Name, _) => {
                if self.name.len() < NAME_KEPT {
                    self.name.push(b);
                }
                State::Name
            }
            (State::Attrs, b'"' | b'\'') => State::Quoted(b),
            (State::Attrs, b'/') => State::Slash,
            (State::Attrs, b'>') => {
                self.start_tag_closed();
                State::Text
            }
            (State::Attrs, _) => State::Attrs,
            (State::Quoted(q), _) if b == q => State::Attrs,
            (State::Quoted(q), _) => State::Quoted(q),
            (State::Slash, b'>') => {
                // An empty element: nothing opened, something finished.
                self.finished_element();
                State::Text
            }
            (State::Slash, b'"' | b'\'') => State::Quoted(b),
            (State::Slash, _) => State::Attrs,
            (State::End, b'>') => {
                self.depth = self.depth.saturating_sub(1);
                self.finished_element();
                State::Text
            }
            (State::End, _) => State::End,
            (State::Pi(true), b'>') => State::Text,
            (State::Pi(_), _) => State::Pi(b == b'?'),
            (State::Bang(n), _) => self.bang(n, b),
            (State::Comment(2), b'>') => State::Text,
            (State::Comment(n), b'-') => State::Comment((n + 1).min(2)),
            (State::Comment(_), _) => State::Comment(0),
            (State::Cdata(n), b']') => State::Cdata((n + 1).min(2)),
            (State::Cdata(2), b'>') => State::Text,
            (State::Cdata(_), _) => State::Cdata(0),
            (State::Declaration, b'>') => State::Text,
            (State::Declaration, _) => State::Declaration,
        };
    }

    /// After `<!`: `--` opens a comment, `[CDATA[` a CDATA section.
    fn bang(&mut self, matched: usize, b: u8) -> State {
        const COMMENT: &[u8] = b"--";
        const CDATA: &[u8] = b"[CDATA[";
        let comment = matched < COMMENT.len() && COMMENT.get(matched) == Some(&b);
        let cdata = CDATA.get(matched) == Some(&b);
        if comment && matched + 1 == COMMENT.len() {
            State::Comment(0)
        } else if cdata && matched + 1 == CDATA.len() {
            State::Cdata(0)
        } else if comment || cdata {
            State::Bang(matched + 1)
        } else if b == b'>' {
            State::Text
        } else {
            State::Declaration
        }
    }

    fn start_tag_closed(&mut self) {
        if self.name == STREAM_TAG && self.depth <= 1 {
            // A stream header (again, after a restart): stanzas come at depth 2.
            self.depth = 1;
            self.measuring = false;
            self.size = 0;
        } else {
            self.depth += 1;
        }
    }
}

/// A reader that fails once one top-level element passes the limit; writes
/// pass through.
#[derive(Debug)]
pub struct Limited<T> {
    inner: T,
    meter: StanzaMeter,
}

impl<T> Limited<T> {
    /// Read `inner` with the default [`MAX_STANZA`] limit.
    pub fn new(inner: T) -> Limited<T> {
        Self::with_limit(inner, MAX_STANZA)
    }

    /// Read `inner` with another limit.
    pub fn with_limit(inner: T, limit: usize) -> Limited<T> {
        Limited {
            inner,
            meter: StanzaMeter::new(limit),
        }
    }

    /// The reader inside.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Take the reader out (the measure restarts with whatever wraps it next).
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = buf.filled().get(before..).unwrap_or_default();
                match this.meter.feed(new) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(e) => {
                        // Nothing counts as read when the read fails.
                        buf.set_filled(before);
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)))
                    }
                }
            }
            other => other,
        }
    }
}

crate::forward_writes!(impl<T> Limited<T> => inner);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>";

    #[test]
    fn follows_stanzas_and_restarts() {
        let mut m = StanzaMeter::new(200);
        m.feed(HEADER.as_bytes()).unwrap();
        assert_eq!(m.depth(), 1);
        m.feed(b"<stream:features><bind xmlns='urn'/></stream:features> ")
            .unwrap();
        assert_eq!(m.depth(), 1);
        // A restart after SASL: a new header while the old stream is open.
        m.feed(b"<success xmlns='sasl'/>").unwrap();
        m.feed(HEADER.as_bytes()).unwrap();
        assert_eq!(m.depth(), 1);
        m.feed(
            b"<message a='>' b=\"/>\"><body>x &lt; y<![CDATA[<no>]]></body><!-- <c> --></message>",
        )
        .unwrap();
        assert_eq!(m.depth(), 1);
        m.feed(b"</stream:stream>").unwrap();
        assert_eq!(m.depth(), 0);
    }

    #[test]
    fn many_small_stanzas_are_fine() {
        let mut m = StanzaMeter::new(200);
        m.feed(HEADER.as_bytes()).unwrap();
        for _ in 0..10_000 {
            m.feed(b"<message><body>hello there</body></message>\n")
                .unwrap();
        }
    }

    #[test]
    fn one_huge_stanza_fails_however_it_is_split() {
        let mut m = StanzaMeter::new(1000);
        m.feed(HEADER.as_bytes()).unwrap();
        m.feed(b"<message><body>").unwrap();
        let mut failed = false;
        for _ in 0..100 {
            if m.feed(&[b'a'; 50]).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
        // A huge attribute value, or a header that never ends, too.
        let mut m = StanzaMeter::new(1000);
        m.feed(HEADER.as_bytes()).unwrap();
        assert!(
            m.feed(&[b"<iq id='".as_slice(), &[b'1'; 2000]].concat())
                .is_err()
        );
        let mut m = StanzaMeter::new(1000);
        assert!(
            m.feed(&[b"<stream:stream a='".as_slice(), &[b'1'; 2000]].concat())
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_reader_fails_with_invalid_data() {
        use tokio::io::AsyncReadExt;
        let data = [HEADER.as_bytes(), b"<message>", &[b'z'; 5000]].concat();
        let mut r = Limited::with_limit(&data[..], 1000);
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let ok = [HEADER.as_bytes(), b"<message/>"].concat();
        let mut r = Limited::with_limit(&ok[..], 1000);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).await.is_ok());
    }
}
