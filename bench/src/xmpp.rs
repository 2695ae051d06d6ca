//! A lean XMPP client that plays one contact: plaintext c2s, SASL PLAIN,
//! resource binding, an available presence, then a reader task that records
//! every benchmark message it receives and turns away iq requests. Thousands
//! of them fit in the benchmark's process without loading the machine that
//! runs the gateways.

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Mutex;

use crate::prosody::{DOMAIN, PORT};
use crate::tracker::{Key, Tracker};

/// How long the login of one contact may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes the server may send during the login before we give up.
const LOGIN_BYTES: usize = 64 * 1024;

/// A logged-in contact.
pub struct Contact {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    /// The bare JID of the gateway user this contact talks to.
    peer: String,
}

fn header() -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{DOMAIN}' version='1.0'>"
    )
}

/// Read into `buf` until it contains one of `needles`; returns the index of the
/// needle found and the position just after it.
async fn read_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    needles: &[&str],
) -> Result<(usize, usize)> {
    let mut chunk = [0u8; 4096];
    loop {
        for (i, n) in needles.iter().enumerate() {
            if let Some(at) = find(buf, n.as_bytes()) {
                return Ok((i, at + n.len()));
            }
        }
        if buf.len() > LOGIN_BYTES {
            bail!("the server sent too much during the login");
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!(
                "the server closed the stream during the login: {}",
                String::from_utf8_lossy(buf)
            );
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Drop everything up to `at` from `buf`.
fn consume(buf: &mut Vec<u8>, at: usize) {
    buf.drain(..at.min(buf.len()));
}

async fn login(stream: &mut TcpStream, node: &str, password: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    stream.write_all(header().as_bytes()).await?;
    let (_, at) = read_until(stream, &mut buf, &["</stream:features>"]).await?;
    consume(&mut buf, at);
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{node}\0{password}"));
    let auth =
        format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{creds}</auth>");
    stream.write_all(auth.as_bytes()).await?;
    let (which, at) = read_until(stream, &mut buf, &["<success", "<failure"]).await?;
    if which == 1 {
        bail!("{node}: authentication refused");
    }
    consume(&mut buf, at);
    // The restart: everything before the new stream's features is done with.
    buf.clear();
    stream.write_all(header().as_bytes()).await?;
    let (_, at) = read_until(stream, &mut buf, &["</stream:features>"]).await?;
    consume(&mut buf, at);
    let bind = "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                <resource>bench</resource></bind></iq>";
    stream.write_all(bind.as_bytes()).await?;
    let (_, at) = read_until(stream, &mut buf, &["</iq>"]).await?;
    consume(&mut buf, at);
    stream.write_all(b"<presence/>").await?;
    Ok(buf)
}

impl Contact {
    /// Log `node@localhost` in and start its reader; `peer` is the gateway
    /// user's account (a user part) it will write to.
    pub async fn connect(
        node: &str,
        password: &str,
        peer: &str,
        tracker: Arc<Tracker>,
    ) -> Result<Contact> {
        let mut stream = tokio::time::timeout(LOGIN_TIMEOUT, async {
            let mut s = TcpStream::connect(("127.0.0.1", PORT)).await?;
            s.set_nodelay(true)?;
            let rest = login(&mut s, node, password).await?;
            Ok::<_, anyhow::Error>((s, rest))
        })
        .await
        .with_context(|| format!("{node}: login timed out"))??;
        let rest = std::mem::take(&mut stream.1);
        let (r, w) = stream.0.into_split();
        let writer = Arc::new(Mutex::new(w));
        let source = Cursor::new(rest).chain(r);
        tokio::spawn(read_stanzas(source, writer.clone(), tracker));
        Ok(Contact {
            writer,
            peer: format!("{peer}@{DOMAIN}"),
        })
    }

    /// Send each message of `keys` to the peer, all in one write.
    pub async fn send(&self, keys: &[Key]) -> Result<()> {
        let mut out = String::with_capacity(keys.len() * 128);
        for k in keys {
            out.push_str("<message type='chat' to='");
            out.push_str(&self.peer);
            out.push_str("'><body>");
            out.push_str(&escape(k.body()));
            out.push_str("</body></message>");
        }
        let mut w = self.writer.lock().await;
        tokio::time::timeout(Duration::from_secs(60), w.write_all(out.as_bytes()))
            .await
            .context("write to prosody timed out")??;
        Ok(())
    }
}

#[derive(Default)]
struct Stanza {
    name: String,
    from: String,
    type_: String,
    id: String,
    in_body: bool,
    body: String,
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> String {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
        .unwrap_or_default()
}

fn begin(e: &quick_xml::events::BytesStart<'_>) -> Stanza {
    Stanza {
        name: e.local_name().as_ref().to_string(),
        from: attr(e, "from"),
        type_: attr(e, "type"),
        id: attr(e, "id"),
        ..Stanza::default()
    }
}

/// The reader: benchmark messages go to the tracker; iq get/set are refused
/// (service-unavailable), as a client that implements nothing does.
async fn read_stanzas<R: AsyncRead + Unpin>(
    source: R,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    tracker: Arc<Tracker>,
) {
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(source));
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut stanza: Option<Stanza> = None;
    loop {
        buf.clear();
        let event = match reader.read_event_into_async(&mut buf).await {
            Ok(e) => e,
            Err(_) => return,
        };
        let done = match event {
            Event::Start(e) => {
                if depth == 0 {
                    stanza = Some(begin(&e));
                } else if depth == 1
                    && e.local_name().as_ref() == "body"
                    && let Some(s) = stanza.as_mut()
                {
                    s.in_body = true;
                }
                depth += 1;
                false
            }
            Event::Empty(e) => {
                if depth == 0 {
                    stanza = Some(begin(&e));
                }
                depth == 0
            }
            Event::Text(t) => {
                if let Some(s) = stanza.as_mut().filter(|s| s.in_body) {
                    s.body.push_str(&t.xml10_content());
                }
                false
            }
            Event::GeneralRef(r) => {
                if let Some(s) = stanza.as_mut().filter(|s| s.in_body) {
                    let text = match r.as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => r.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(c) = text {
                        s.body.push(c);
                    }
                }
                false
            }
            Event::End(_) => {
                if depth == 0 {
                    return; // </stream:stream>
                }
                depth -= 1;
                if depth == 1
                    && let Some(s) = stanza.as_mut()
                {
                    s.in_body = false;
                }
                depth == 0
            }
            Event::Eof => return,
            _ => false,
        };
        if done && let Some(s) = stanza.take() {
            handle(s, &writer, &tracker).await;
        }
    }
}

async fn handle(s: Stanza, writer: &Mutex<OwnedWriteHalf>, tracker: &Tracker) {
    match s.name.as_str() {
        "message" if s.type_ != "error" => {
            if let Some(key) = Key::parse(&s.body) {
                tracker.received(key, Instant::now());
            }
        }
        "iq" if s.type_ == "get" || s.type_ == "set" => {
            let reply = format!(
                "<iq type='error' to='{}' id='{}'><error type='cancel'>\
                 <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 </error></iq>",
                escape(&s.from),
                escape(&s.id)
            );
            let mut w = writer.lock().await;
            let _ =
                tokio::time::timeout(Duration::from_secs(10), w.write_all(reply.as_bytes())).await;
        }
        _ => {}
    }
}
