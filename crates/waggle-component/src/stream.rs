//! The XEP-0114 stream: TCP to the server's component port, a stream header in
//! `jabber:component:accept`, the SHA-1 handshake over the stream id and the
//! secret, and stanzas both ways.
//!
//! Stanzas are parsed and built with xmpp-parsers' client-namespace types; the
//! namespace is translated here, at the boundary: `jabber:component:accept` in,
//! `jabber:client` out of [`to_client`], and back with [`to_component`]. Only
//! elements that inherit the stanza's namespace change (a forwarded
//! `jabber:client` message inside a payload keeps its own).
//!
//! Every stanza read is size-limited: the bytes read since the last complete
//! element are counted, and going past the limit ends the connection.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_xmpp::xmlstream::{ReadError, StreamHeader, Timeouts, XmlStream, initiate_stream};
use waggle_xmpp::quickack::QuickAck;
use xmpp_parsers::component::Handshake;
use xmpp_parsers::minidom::{Element, Node};
use xmpp_parsers::ns;

use crate::config::ComponentConfig;
use crate::error::LinkError;
use crate::header::HeaderFix;

/// The namespace of stream errors' conditions.
const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// A TCP stream that counts the bytes read and fails past a limit.
pub(crate) struct Metered<S> {
    inner: S,
    count: Arc<AtomicUsize>,
    limit: usize,
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        let total = self.count.fetch_add(read, Ordering::Relaxed) + read;
        if total > self.limit {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a stanza larger than {} bytes", self.limit),
            )));
        }
        result
    }
}

waggle_xmpp::forward_writes!(impl<S> Metered<S> => inner);

/// The XML stream over the metered socket.
pub(crate) type Xml = XmlStream<BufReader<Metered<HeaderFix<QuickAck>>>, Element>;

/// An open, authenticated component stream.
pub(crate) struct Connection {
    /// The stream.
    pub xml: Xml,
    /// Bytes read since the last complete element.
    meter: Arc<AtomicUsize>,
}

impl Connection {
    /// The next element, already in the client namespace.
    pub async fn next(&mut self) -> Option<Result<Element, ReadError>> {
        let item = self.xml.next().await;
        if matches!(item, Some(Ok(_))) {
            self.meter.store(0, Ordering::Relaxed);
        }
        item.map(|r| r.map(to_client))
    }

    /// Write a client-namespace element.
    pub async fn send(&mut self, el: Element) -> io::Result<()> {
        self.xml.send(&to_component(el)).await
    }

    /// Close the stream politely (bounded by the caller).
    pub async fn close(&mut self) {
        let _ = self.xml.shutdown().await;
    }
}

/// Connect, open the stream and do the handshake.
pub(crate) async fn open(
    cfg: &ComponentConfig,
    timeouts: Timeouts,
) -> Result<Connection, LinkError> {
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| LinkError::Network(format!("cannot connect to {}: {e}", cfg.server())))?;
    let meter = Arc::new(AtomicUsize::new(0));
    let io = BufReader::new(Metered {
        inner: HeaderFix::new(QuickAck::new(tcp)),
        count: meter.clone(),
        limit: cfg.max_stanza,
    });
    let header = StreamHeader {
        from: None,
        to: Some(Cow::Borrowed(cfg.domain.as_str())),
        id: None,
    };
    let mut pending = initiate_stream(io, ns::COMPONENT, header, timeouts)
        .await
        .map_err(|e| LinkError::Network(format!("stream header: {e}")))?;
    let id = pending
        .take_header()
        .id
        .map(|id| id.into_owned())
        .ok_or_else(|| LinkError::Protocol("the server sent no stream id".into()))?;
    let mut xml: Xml = pending.skip_features();
    let handshake = Handshake::from_stream_id_and_password(id, &cfg.secret.0);
    xml.send(&handshake)
        .await
        .map_err(|e| LinkError::Network(format!("sending the handshake: {e}")))?;
    loop {
        match xml.next().await {
            Some(Ok(el)) if el.is("handshake", ns::COMPONENT) => {
                meter.store(0, Ordering::Relaxed);
                return Ok(Connection { xml, meter });
            }
            Some(Ok(el)) if el.is("error", ns::STREAM) => {
                return Err(LinkError::Refused(stream_error_text(&el)));
            }
            Some(Ok(el)) => {
                return Err(LinkError::Protocol(format!(
                    "unexpected <{}/> instead of the handshake answer",
                    el.name()
                )));
            }
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::ParseError(e))) => {
                return Err(LinkError::Protocol(format!("during the handshake: {e}")));
            }
            Some(Err(ReadError::HardError(e))) => {
                return Err(LinkError::Network(format!("during the handshake: {e}")));
            }
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                return Err(LinkError::Refused(
                    "the server closed the stream (wrong secret or unknown component?)".into(),
                ));
            }
        }
    }
}

/// A stream error's condition and text, as one line.
pub(crate) fn stream_error_text(el: &Element) -> String {
    let condition = el
        .children()
        .find(|c| c.ns() == STREAM_ERRORS && c.name() != "text")
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| "undefined-condition".into());
    let text = el
        .get_child("text", STREAM_ERRORS)
        .map(|t| t.text())
        .filter(|t| !t.trim().is_empty());
    match text {
        Some(t) => format!("{condition} ({})", t.trim()),
        None => condition,
    }
}

/// The element with the component namespace turned into the client one.
pub(crate) fn to_client(el: Element) -> Element {
    renamespace(el, ns::COMPONENT, ns::JABBER_CLIENT)
}

/// The element with the client namespace turned into the component one.
pub(crate) fn to_component(el: Element) -> Element {
    renamespace(el, ns::JABBER_CLIENT, ns::COMPONENT)
}

fn renamespace(el: Element, from: &str, to: &str) -> Element {
    if el.ns() != from {
        return el;
    }
    rebuild(el, from, to)
}

fn rebuild(mut el: Element, from: &str, to: &str) -> Element {
    let mut builder = Element::builder(el.name(), to);
    for ((attr_ns, name), value) in el.attrs().iter() {
        builder = builder.attr_ns(attr_ns.clone(), name.clone(), value.clone());
    }
    for node in el.take_nodes() {
        builder = match node {
            Node::Element(child) if child.ns() == from => builder.append(rebuild(child, from, to)),
            other => builder.append(other),
        };
    }
    builder.build()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_change_only_where_inherited() {
        let el: Element = "<message xmlns='jabber:component:accept' to='a@gw' from='b@x' id='1'>\
            <body>hi</body><forwarded xmlns='urn:xmpp:forward:0'>\
            <message xmlns='jabber:client' from='c@x'><body>inner</body></message></forwarded>\
            </message>"
            .parse()
            .expect("xml");
        let c = to_client(el);
        assert!(c.is("message", ns::JABBER_CLIENT));
        assert_eq!(c.attr("to"), Some("a@gw"));
        assert_eq!(
            c.get_child("body", ns::JABBER_CLIENT).map(|b| b.text()),
            Some("hi".into())
        );
        let inner = c
            .get_child("forwarded", "urn:xmpp:forward:0")
            .and_then(|f| f.get_child("message", ns::JABBER_CLIENT));
        assert!(inner.is_some());
        let back = to_component(c);
        assert!(back.is("message", ns::COMPONENT));
        assert!(back.has_child("body", ns::COMPONENT));
        let inner = back
            .get_child("forwarded", "urn:xmpp:forward:0")
            .and_then(|f| f.get_child("message", ns::JABBER_CLIENT));
        assert!(inner.is_some(), "a nested stanza keeps its namespace");
    }

    #[tokio::test]
    async fn reading_past_the_limit_since_the_last_element_fails() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut a, b) = tokio::io::duplex(4096);
        let count = Arc::new(AtomicUsize::new(0));
        let mut m = Metered {
            inner: b,
            count: count.clone(),
            limit: 1000,
        };
        a.write_all(&[b'x'; 800]).await.expect("write");
        let mut buf = vec![0u8; 800];
        m.read_exact(&mut buf).await.expect("under the limit");
        // A complete element resets the count.
        count.store(0, Ordering::Relaxed);
        a.write_all(&[b'x'; 800]).await.expect("write");
        m.read_exact(&mut buf).await.expect("under the limit again");
        a.write_all(&[b'x'; 800]).await.expect("write");
        let err = m.read_exact(&mut buf).await.expect_err("over the limit");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn stream_errors_read_as_a_line() {
        let el: Element = "<error xmlns='http://etherx.jabber.org/streams'>\
            <not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bad secret</text></error>"
            .parse()
            .expect("xml");
        assert_eq!(stream_error_text(&el), "not-authorized (bad secret)");
    }
}
