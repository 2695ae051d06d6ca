//! The XML stream's read buffer, held only while it holds bytes.
//!
//! tokio-xmpp's parser reads through `AsyncBufRead`. A `BufStream` keeps its
//! buffer for as long as the connection lives, and an account that is online
//! spends most of that time quiet: with a thousand accounts, 8 MiB of empty
//! buffers. [`OnDemand`] takes a buffer when a read brings bytes and lets it go
//! once they have all been consumed and the socket has nothing more (the next
//! read would wait). Writes go straight through: tokio-xmpp collects what it
//! sends in a buffer of its own and writes it whole.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// What one read from the server may bring at most.
pub const READ_BUFFER: usize = 8 * 1024;

/// A byte stream read through a buffer that exists only while bytes wait in it.
#[derive(Debug)]
pub struct OnDemand<T> {
    inner: T,
    buf: BytesMut,
}

impl<T> OnDemand<T> {
    /// Buffer reads from `inner`.
    pub fn new(inner: T) -> Self {
        OnDemand {
            inner,
            buf: BytesMut::new(),
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream underneath, dropping whatever was read and not consumed: after
    /// STARTTLS's `<proceed/>` nothing the server sent in the clear may reach the
    /// encrypted stream.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// How many bytes the read buffer holds room for now (0 when it is released).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<T: AsyncRead + Unpin> AsyncBufRead for OnDemand<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            // An empty buffer that is the only owner of its allocation gets all
            // of it back here, without copying.
            this.buf.reserve(READ_BUFFER);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buf) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.buf = BytesMut::new();
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(&this.buf[..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let amt = amt.min(this.buf.len());
        this.buf.advance(amt);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for OnDemand<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = match self.as_mut().poll_fill_buf(cx) {
            Poll::Ready(Ok(available)) => available,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let n = available.len().min(out.remaining());
        out.put_slice(available.get(..n).unwrap_or_default());
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

crate::forward_writes!(impl<T> OnDemand<T> => inner);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, duplex};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Poll `fill_buf` once without waiting: the bytes, or `None` if it would wait.
    fn try_fill<T: AsyncRead + Unpin>(s: &mut OnDemand<T>) -> io::Result<Option<Vec<u8>>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(s).poll_fill_buf(&mut cx) {
            Poll::Ready(bytes) => bytes.map(|b| Some(b.to_vec())),
            Poll::Pending => Ok(None),
        }
    }

    #[tokio::test]
    async fn the_buffer_is_held_while_bytes_wait_and_released_once_read() -> TestResult {
        let (mut server, client) = duplex(64 * 1024);
        let mut s = OnDemand::new(client);
        assert_eq!(s.buffer_capacity(), 0, "nothing read yet");
        assert_eq!(try_fill(&mut s)?, None);
        assert_eq!(s.buffer_capacity(), 0, "a read that waits holds nothing");

        server.write_all(b"<message/><presence/>").await?;
        assert_eq!(
            try_fill(&mut s)?.as_deref(),
            Some(&b"<message/><presence/>"[..])
        );
        Pin::new(&mut s).consume(10);
        assert!(s.buffer_capacity() >= 11, "unread bytes keep the buffer");
        assert_eq!(try_fill(&mut s)?.as_deref(), Some(&b"<presence/>"[..]));
        Pin::new(&mut s).consume(11);
        assert_eq!(try_fill(&mut s)?, None);
        assert_eq!(s.buffer_capacity(), 0, "released once read and quiet");
        Ok(())
    }

    #[tokio::test]
    async fn everything_arrives_in_order_across_reads_of_any_size() -> TestResult {
        let (mut server, client) = duplex(4 * 1024);
        let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                for chunk in sent.chunks(3_000) {
                    server.write_all(chunk).await?;
                }
                io::Result::Ok(())
            })
        };
        let mut s = OnDemand::new(client);
        let mut got = Vec::new();
        let mut small = [0u8; 7];
        while got.len() < sent.len() / 2 {
            let n = s.read(&mut small).await?;
            got.extend(small.iter().take(n));
        }
        while got.len() < sent.len() {
            let chunk = s.fill_buf().await?.to_vec();
            assert!(!chunk.is_empty() && chunk.len() <= READ_BUFFER);
            Pin::new(&mut s).consume(chunk.len());
            got.extend_from_slice(&chunk);
        }
        writer.await??;
        assert_eq!(got, sent);
        assert!(s.fill_buf().await?.is_empty(), "end of stream");
        Ok(())
    }

    #[tokio::test]
    async fn writes_go_straight_through() -> TestResult {
        let (mut server, client) = duplex(1024);
        let mut s = OnDemand::new(client);
        s.write_all(b"<iq type='get'/>").await?;
        s.flush().await?;
        let mut got = [0u8; 16];
        server.read_exact(&mut got).await?;
        assert_eq!(&got, b"<iq type='get'/>");
        assert_eq!(s.buffer_capacity(), 0, "writing takes no read buffer");
        Ok(())
    }
}
