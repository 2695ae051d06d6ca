//! XEP-0114 servers answer with a pre-RFC 6120 stream header, without
//! `version='1.0'` (Prosody does), which tokio-xmpp's XML stream refuses unless
//! the crate-wide `component` feature is on. [`HeaderFix`] reads the server's
//! stream header before the XML stream does and adds the attribute when it is
//! missing; everything after the header passes untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The longest stream header accepted.
const MAX_HEADER: usize = 4096;

/// A stream whose first `<stream:stream …>` start tag gets `version='1.0'`.
pub(crate) struct HeaderFix<S> {
    inner: S,
    /// Bytes read while looking for the end of the header.
    scanned: Vec<u8>,
    /// Bytes to hand out before reading on (the fixed header and what followed).
    ready: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<S> HeaderFix<S> {
    pub fn new(inner: S) -> HeaderFix<S> {
        HeaderFix {
            inner,
            scanned: Vec::new(),
            ready: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

/// Where the stream header's start tag ends (the index of its `>`), and
/// whether it has a `version` attribute; `None` while incomplete.
fn header_end(bytes: &[u8]) -> Option<(usize, bool)> {
    let text = std::str::from_utf8(bytes).ok().or_else(|| {
        // Cut at the last complete character.
        (1..4).find_map(|n| {
            let cut = bytes.get(..bytes.len().saturating_sub(n))?;
            std::str::from_utf8(cut).ok()
        })
    })?;
    let start = text.find("<stream:stream")?;
    let tag = text.get(start..)?;
    let mut quote: Option<char> = None;
    let mut outside = String::new();
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '>') => {
                let has_version = outside
                    .split(|c: char| c.is_whitespace() || c == '=')
                    .any(|w| w == "version");
                return Some((start + i, has_version));
            }
            (None, c) => outside.push(c),
        }
    }
    None
}

impl<S: AsyncRead + Unpin> AsyncRead for HeaderFix<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.pos < this.ready.len() {
                let rest = this.ready.get(this.pos..).unwrap_or_default();
                let n = rest.len().min(buf.remaining());
                buf.put_slice(rest.get(..n).unwrap_or_default());
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    // End of stream before a header: pass on what there is.
                    this.done = true;
                    this.ready = std::mem::take(&mut this.scanned);
                    this.pos = 0;
                    if this.ready.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(Ok(())) => {
                    this.scanned.extend_from_slice(rb.filled());
                    if let Some((end, has_version)) = header_end(&this.scanned) {
                        let mut ready = this.scanned.get(..end).unwrap_or_default().to_vec();
                        if !has_version {
                            ready.extend_from_slice(b" version='1.0'");
                        }
                        ready.extend_from_slice(this.scanned.get(end..).unwrap_or_default());
                        this.scanned = Vec::new();
                        this.ready = ready;
                        this.pos = 0;
                        this.done = true;
                    } else if this.scanned.len() > MAX_HEADER {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the server's stream header is too long",
                        )));
                    }
                }
            }
        }
    }
}

waggle_xmpp::forward_writes!(impl<S> HeaderFix<S> => inner);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn through(input: &[u8]) -> String {
        let (mut a, b) = tokio::io::duplex(64);
        let input = input.to_vec();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in input.chunks(7) {
                let _ = a.write_all(chunk).await;
            }
        });
        let mut fixed = HeaderFix::new(b);
        let mut out = String::new();
        fixed.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn adds_the_version_only_when_missing() {
        let prosody = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
                       xmlns:stream='http://etherx.jabber.org/streams' id='a>b' from='gw'><handshake/>";
        let out = through(prosody.as_bytes()).await;
        assert_eq!(
            out,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams' id='a>b' from='gw' version='1.0'><handshake/>"
        );
        let modern = "<stream:stream version=\"1.0\" id='x'>rest";
        assert_eq!(through(modern.as_bytes()).await, modern);
    }
}
