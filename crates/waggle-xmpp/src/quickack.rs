//! Acknowledging what a server sent at once. A server that writes a stanza in
//! pieces without TCP_NODELAY (Prosody does, for the presences of a login)
//! holds the last piece back until the first is acknowledged, and Linux delays
//! that acknowledgement by 40 ms while the gateway has nothing to send back.
//! TCP_QUICKACK does not stick, so it is set again after every read that brought
//! data.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// Ask the kernel to acknowledge what `tcp` received without delay.
fn ack_now(tcp: &TcpStream) {
    let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
}

/// A TCP stream that acknowledges every read at once (see the module).
#[derive(Debug)]
pub struct QuickAck {
    inner: TcpStream,
}

impl QuickAck {
    /// Wrap `tcp`, with Nagle's algorithm off for what we send.
    pub fn new(tcp: TcpStream) -> QuickAck {
        let _ = tcp.set_nodelay(true);
        QuickAck { inner: tcp }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &TcpStream {
        &self.inner
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            ack_now(&this.inner);
        }
        read
    }
}

crate::forward_writes!(QuickAck => inner);

#[cfg(test)]
mod tests {
    use super::QuickAck;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A read that brings data leaves the socket in quick-acknowledgement mode.
    #[tokio::test]
    async fn a_read_asks_for_an_immediate_acknowledgement() -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
        let (mut server, _) = listener.accept().await?;
        let mut stream = QuickAck::new(client);
        let sock = socket2::SockRef::from(stream.get_ref());
        sock.set_tcp_quickack(false)?;
        assert!(!sock.tcp_quickack()?);
        server.write_all(b"<presence/>").await?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await?;
        assert_eq!(buf.get(..n), Some(&b"<presence/>"[..]));
        assert!(socket2::SockRef::from(stream.get_ref()).tcp_quickack()?);
        assert!(stream.get_ref().nodelay()?);
        Ok(())
    }
}
