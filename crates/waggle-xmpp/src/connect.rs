//! Opening the transport: TCP (to the `server` setting, or found through DNS
//! SRV records, see [`crate::dns`]), then direct TLS or STARTTLS with our own
//! rustls configuration, up to the stream header of the (encrypted) stream.
//!
//! [`XmppConnector`] packages the same steps as a tokio-xmpp
//! [`ServerConnector`], for code that drives tokio-xmpp's own `Client`.

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use sasl::common::ChannelBinding;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
    initiate_stream,
};
use xmpp_parsers::jid::Jid;

use crate::config::{AccountConfig, Security};
use crate::dns::{self, Dns};
use crate::error::XmppError;
use crate::limit::Limited;
use crate::quickack::QuickAck;
use crate::read_buffer::OnDemand;
use crate::tls::{TlsObservation, TlsPolicy, client_config};

/// How long the TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The byte stream under the XML stream: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// Unencrypted.
    Plain(QuickAck),
    /// Encrypted.
    Tls(Box<TlsStream<QuickAck>>),
}

impl Transport {
    /// Whether the transport is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The buffered transport the XML stream runs on, read with a bound on each
/// stanza's size ([`Limited`]) through a buffer held only while bytes wait in it
/// ([`OnDemand`]).
pub type XmppIo = OnDemand<Limited<Transport>>;

/// An XML stream over our transport.
pub type Stream = XmppStream<XmppIo>;

/// Where the TCP connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The account's `server` setting, resolved by the system; no SRV lookup.
    Server {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Found through DNS: the domain's SRV records, else the domain on `port`.
    Dns {
        /// The name servers to ask.
        dns: Dns,
        /// The port used when the domain has no SRV records.
        port: u16,
    },
}

/// Where to connect and how to secure it.
#[derive(Clone)]
pub struct Target {
    /// Where the TCP connection goes.
    pub endpoint: Endpoint,
    /// The XMPP domain (stream `to`, TLS server name; never an SRV target).
    pub domain: String,
    /// TLS mode.
    pub security: Security,
    /// Our rustls configuration; none when the account does not use TLS (the
    /// system's roots are then never read).
    pub tls: Option<Arc<ClientConfig>>,
    /// What the certificate verifier saw.
    pub seen: Arc<Mutex<TlsObservation>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("endpoint", &self.endpoint)
            .field("domain", &self.domain)
            .field("security", &self.security)
            .finish()
    }
}

impl Target {
    /// The target for an account's configuration; without a `server` setting
    /// the server is looked up through `dns`.
    pub async fn for_account(cfg: &AccountConfig, dns: &Dns) -> Result<Target, XmppError> {
        let seen = Arc::new(Mutex::new(TlsObservation::default()));
        let policy = TlsPolicy {
            verify: cfg.tls_verify,
            cafile: cfg.cafile.clone(),
            fingerprint: cfg.fingerprint.clone(),
        };
        let tls = match cfg.security {
            Security::Plain => None,
            Security::DirectTls | Security::StartTls { .. } => {
                Some(client_config(&policy, seen.clone()).await?)
            }
        };
        let endpoint = match &cfg.server {
            Some(host) => Endpoint::Server {
                host: host.clone(),
                port: cfg.port,
            },
            None => Endpoint::Dns {
                dns: dns.clone(),
                port: cfg.port,
            },
        };
        Ok(Target {
            endpoint,
            domain: cfg.jid.domain().to_string(),
            security: cfg.security,
            tls,
            seen,
        })
    }

    /// What the certificate verifier saw last.
    pub fn observation(&self) -> TlsObservation {
        self.seen.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Open a TCP connection: to the `server` setting, or to the first of the
    /// domain's SRV targets (else the domain itself) that accepts it. What the
    /// server sends is acknowledged at once ([`crate::quickack`]), under TLS too.
    pub async fn tcp(&self) -> Result<QuickAck, XmppError> {
        let tcp = match &self.endpoint {
            Endpoint::Server { host, port } => dns::connect_host(host, *port).await?,
            Endpoint::Dns { dns, port } => {
                let service = dns::service(self.security == Security::DirectTls);
                dns::connect_domain(dns, service, &self.domain, *port).await?
            }
        };
        Ok(QuickAck::new(tcp))
    }

    /// Run the TLS handshake over `tcp`.
    pub async fn tls(&self, tcp: QuickAck) -> Result<Transport, XmppError> {
        let name = ServerName::try_from(self.domain.clone())
            .map_err(|e| XmppError::Config(format!("Invalid server name {}: {e}", self.domain)))?;
        let Some(config) = self.tls.clone() else {
            return Err(XmppError::Config("TLS is off for this account".into()));
        };
        let handshake = TlsConnector::from(config).connect(name, tcp);
        let result = tokio::time::timeout(CONNECT_TIMEOUT, handshake).await;
        match result {
            Ok(Ok(s)) => Ok(Transport::Tls(Box::new(s))),
            Ok(Err(e)) => Err(match self.observation().refused {
                Some(why) => XmppError::Certificate(why),
                None => XmppError::Network(format!("TLS handshake failed: {e}")),
            }),
            Err(_) => Err(XmppError::Network("TLS handshake timed out".into())),
        }
    }

    /// Send our stream header over `io` and read the server's.
    pub async fn initiate(
        &self,
        io: Transport,
        timeouts: Timeouts,
    ) -> Result<PendingFeaturesRecv<XmppIo>, XmppError> {
        let header = StreamHeader {
            to: Some(Cow::Borrowed(self.domain.as_str())),
            from: None,
            id: None,
        };
        initiate_stream(
            OnDemand::new(Limited::new(io)),
            xmpp_parsers::ns::JABBER_CLIENT,
            header,
            timeouts,
        )
        .await
        .map_err(|e| XmppError::io("Stream setup failed", &e))
    }

    /// Connect and secure the stream as configured; `progress` hears BitlBee's
    /// login steps.
    pub async fn open<F, Fut>(
        &self,
        timeouts: Timeouts,
        mut progress: F,
    ) -> Result<Opened, XmppError>
    where
        F: FnMut(&'static str) -> Fut + Send,
        Fut: Future<Output = ()> + Send,
    {
        progress("Connecting").await;
        let tcp = self.tcp().await?;
        let io = match self.security {
            Security::DirectTls => self.tls(tcp).await?,
            _ => Transport::Plain(tcp),
        };
        progress("Connected to server, logging in").await;
        let pending = self.initiate(io, timeouts).await?;
        let required = match self.security {
            Security::DirectTls => return Ok(Opened::Pending(Box::new(pending), true)),
            Security::Plain => return Ok(Opened::Pending(Box::new(pending), false)),
            Security::StartTls { required } => required,
        };
        let (features, stream) = features(pending).await?;
        if features.can_starttls() {
            progress("Converting stream to TLS").await;
            let tcp = starttls(stream).await?;
            let tls = self.tls(tcp).await?;
            Ok(Opened::Pending(
                Box::new(self.initiate(tls, timeouts).await?),
                true,
            ))
        } else if required {
            Err(XmppError::Config(
                "TLS is turned on for this account, but is not supported by this server".into(),
            ))
        } else {
            Ok(Opened::Ready(Box::new((features, stream))))
        }
    }
}

/// A stream as [`Target::open`] leaves it.
pub enum Opened {
    /// The server's header was read, its features not yet; `true` when encrypted.
    Pending(Box<PendingFeaturesRecv<XmppIo>>, bool),
    /// Unencrypted, with the features already read (STARTTLS was optional and not offered).
    Ready(Box<(StreamFeatures, Stream)>),
}

/// Read the server's stream features.
pub async fn features(
    pending: PendingFeaturesRecv<XmppIo>,
) -> Result<(StreamFeatures, Stream), XmppError> {
    pending.recv_features().await.map_err(|e| match e {
        tokio_xmpp::xmlstream::RecvFeaturesError::Io(e) => {
            XmppError::io("Reading stream features failed", &e)
        }
        tokio_xmpp::xmlstream::RecvFeaturesError::StreamError(e) => {
            XmppError::Network(format!("Stream error from server: {e}"))
        }
    })
}

/// Ask for `<starttls/>`, wait for `<proceed/>` and return the TCP stream to
/// run the handshake on.
async fn starttls(mut stream: Stream) -> Result<QuickAck, XmppError> {
    let request = XmppStreamElement::Starttls(starttls::Nonza::Request(starttls::Request));
    stream
        .send(&request)
        .await
        .map_err(|e| XmppError::io("STARTTLS failed", &e))?;
    loop {
        match stream.next().await {
            Some(Ok(el)) => match el.into_read_error() {
                Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_))) => break,
                Ok(XmppStreamElement::Starttls(starttls::Nonza::Failure(_))) => {
                    return Err(XmppError::Network("The server refused STARTTLS".into()));
                }
                Ok(other) => tracing::debug!(?other, "ignored during STARTTLS"),
                Err(e) => return Err(XmppError::Protocol(format!("STARTTLS failed: {e}"))),
            },
            Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(e)) => return Err(XmppError::Network(format!("STARTTLS failed: {e}"))),
            None => {
                return Err(XmppError::Network(
                    "Connection closed during STARTTLS".into(),
                ));
            }
        }
    }
    match stream.into_inner().into_inner().into_inner() {
        Transport::Plain(tcp) => Ok(tcp),
        Transport::Tls(_) => Err(XmppError::Protocol("STARTTLS inside TLS".into())),
    }
}

/// A tokio-xmpp [`ServerConnector`] with Waggle's TLS rules (own CA file,
/// fingerprint pinning, STARTTLS or direct TLS), for tokio-xmpp's `Client`.
#[derive(Clone, Debug)]
pub struct XmppConnector {
    target: Target,
}

impl XmppConnector {
    /// A connector for an account's configuration (DNS per the system's
    /// configuration when it has no `server` setting).
    pub async fn new(cfg: &AccountConfig) -> Result<XmppConnector, XmppError> {
        Ok(XmppConnector {
            target: Target::for_account(cfg, &Dns::System).await?,
        })
    }

    /// A connector whose DNS lookups (SRV and addresses, when the account has
    /// no `server` setting) go to these name servers instead of the system's.
    pub async fn with_name_servers(
        cfg: &AccountConfig,
        servers: Vec<SocketAddr>,
    ) -> Result<XmppConnector, XmppError> {
        Ok(XmppConnector {
            target: Target::for_account(cfg, &Dns::NameServers(servers)).await?,
        })
    }
}

impl ServerConnector for XmppConnector {
    type Stream = XmppIo;

    async fn connect(
        &self,
        _jid: &Jid,
        _ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<XmppIo>, ChannelBinding), tokio_xmpp::Error> {
        let opened = self
            .target
            .open(timeouts, |_| async {})
            .await
            .map_err(|e| tokio_xmpp::Error::Io(io::Error::other(e.to_string())))?;
        let Opened::Pending(pending, _) = opened else {
            return Err(tokio_xmpp::Error::Io(io::Error::other(
                "the server offers no STARTTLS",
            )));
        };
        // Prosody 0.12 knows no tls-exporter binding: plain SCRAM it is.
        Ok((*pending, ChannelBinding::None))
    }
}

#[cfg(test)]
mod tests {
    use super::{Dns, Security, Target};
    use crate::config::AccountConfig;
    use std::collections::BTreeMap;
    use waggle_core::{AccountId, AccountSpec, Secret};

    fn config(tls: &str) -> Result<AccountConfig, crate::XmppError> {
        let settings: BTreeMap<String, String> = [("tls", tls), ("cafile", "/dev/zero")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        AccountConfig::from_spec(&AccountSpec {
            id: AccountId(1),
            protocol: "jabber".into(),
            handle: "me@example.org".into(),
            password: Secret("pw".into()),
            settings,
            archive_cursors: Default::default(),
        })
    }

    /// With TLS off nothing about TLS is set up (the system roots and the
    /// `cafile` are not read); with TLS on the `cafile` is checked at once.
    #[tokio::test]
    async fn tls_is_set_up_only_for_accounts_that_use_it() -> Result<(), crate::XmppError> {
        let plain = config("false")?;
        assert_eq!(plain.security, Security::Plain);
        let target = Target::for_account(&plain, &Dns::System).await?;
        assert!(target.tls.is_none());

        let tls = config("true")?;
        assert!(matches!(tls.security, Security::StartTls { .. }));
        let refused = Target::for_account(&tls, &Dns::System).await;
        assert!(
            matches!(&refused, Err(crate::XmppError::Config(why)) if why.contains("/dev/zero")),
            "{refused:?}"
        );
        Ok(())
    }
}
