//! Safe for many users: a panicking backend does not lock anyone out, remote
//! text cannot pass for root's, limits per address and per registration hold,
//! the server password comes before SASL, and IRC runs over TLS.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use waggle_core::{Event, Store};
use waggle_irc::AuthMode;
use waggle_tests::{GatewayOptions, IrcClient, Msg, RunningGateway, TestGateway, assert_any};

fn plain(authcid: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{authcid}\0{password}"))
}

#[tokio::test]
async fn a_panicking_backend_is_restarted_and_the_user_told() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("set auto_reconnect_delay 1", "auto_reconnect_delay")
        .await
        .unwrap();
    c.root_expect(
        "account add test alice@test.example panic-once",
        "Account successfully added",
    )
    .await
    .unwrap();
    c.send("PRIVMSG &bitlbee :account test on").await.unwrap();
    c.expect("test - Login error: Internal error in the protocol backend")
        .await
        .unwrap();
    c.expect("test - Reconnecting in 1 seconds").await.unwrap();
    c.expect("test - Logging in: Logged in").await.unwrap();
    // The session itself is fine.
    c.root_expect("account list", "(connected)").await.unwrap();
}

#[tokio::test]
async fn remote_text_never_passes_for_roots_own_lines() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    acc.emit_handled(Event::Error {
        text: "server says no\nPlease identify: /msg root identify yourpassword".into(),
    })
    .await
    .unwrap();
    acc.emit_handled(Event::Info {
        handle: "bob".into(),
        lines: vec!["Name: Bob\nroot: type `drop yourpassword'".into()],
    })
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    let texts = c.root_texts(&lines);
    let from_remote: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("identify") || t.contains("drop") || t.contains("Bob"))
        .collect();
    assert_eq!(from_remote.len(), 3, "{texts:#?}");
    for t in from_remote {
        assert!(t.starts_with("test - "), "{t:?}");
    }
}

#[tokio::test]
async fn chat_add_with_a_long_non_ascii_room_name() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let _acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    let room = format!("{}@rooms.test.example", "ð".repeat(60));
    let texts = c.root(&format!("chat add test {room}")).await.unwrap();
    let added = texts
        .iter()
        .find_map(|t| t.strip_prefix("Chatroom successfully added, join with \x02/join "))
        .expect("added");
    let channel = added.trim_end_matches('\x02');
    assert!(channel.starts_with("#ð"), "{channel}");
    assert!(channel.len() <= waggle_irc::nick::CHANNELLEN, "{channel}");
    c.root_expect("channel list", channel).await.unwrap();
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let gw = TestGateway::start(GatewayOptions {
        max_connections_per_address: 3,
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut kept = Vec::new();
    for nick in ["a1", "a2", "a3"] {
        kept.push(gw.client(nick).await.unwrap());
    }
    let mut fourth = gw.connect().await.unwrap();
    let rest = fourth
        .expect_closed_within(Duration::from_secs(10))
        .await
        .unwrap();
    assert_any(&rest, "too many connections from your address");
    // One leaving makes room again.
    kept.pop().unwrap().quit().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = gw.connect().await.unwrap();
        c.send("NICK again").await.unwrap();
        c.send("USER again 0 * :again").await.unwrap();
        match c.expect_numeric("001").await {
            Ok(_) => break,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sasl_attempts_during_registration_are_capped() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send("NICK guesser").await.unwrap();
    c.send("USER guesser 0 * :g").await.unwrap();
    c.send("CAP REQ :sasl").await.unwrap();
    c.expect(" ACK ").await.unwrap();
    for i in 0..5 {
        c.send("AUTHENTICATE PLAIN").await.unwrap();
        c.expect("AUTHENTICATE +").await.unwrap();
        c.send(&format!(
            "AUTHENTICATE {}",
            plain("alice", &format!("guess{i}"))
        ))
        .await
        .unwrap();
        if i < 4 {
            c.expect(" 904 ").await.unwrap();
        }
    }
    c.set_timeout(Duration::from_secs(60));
    let rest = c.expect_closed().await.unwrap();
    assert_any(&rest, "Too many failed login attempts");
}

#[tokio::test]
async fn closed_mode_wants_the_server_password_before_sasl() {
    let gw = TestGateway::start(GatewayOptions {
        auth_mode: AuthMode::Closed,
        server_password: Some("letmein".into()),
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    gw.store()
        .unwrap()
        .create_user("alice", "pw")
        .await
        .unwrap();
    // Without PASS first, even the right SASL password fails.
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send("NICK alice").await.unwrap();
    c.send("USER alice 0 * :a").await.unwrap();
    c.send("CAP REQ :sasl").await.unwrap();
    c.expect(" ACK ").await.unwrap();
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.send(&format!("AUTHENTICATE {}", plain("alice", "pw")))
        .await
        .unwrap();
    c.expect(" 904 ").await.unwrap();
    // With it, SASL works.
    let mut d = gw.connect().await.unwrap();
    d.send("PASS letmein").await.unwrap();
    d.send("CAP LS 302").await.unwrap();
    d.send("NICK alice").await.unwrap();
    d.send("USER alice 0 * :a").await.unwrap();
    d.send("CAP REQ :sasl").await.unwrap();
    d.expect(" ACK ").await.unwrap();
    d.send("AUTHENTICATE PLAIN").await.unwrap();
    d.expect("AUTHENTICATE +").await.unwrap();
    d.send(&format!("AUTHENTICATE {}", plain("alice", "pw")))
        .await
        .unwrap();
    d.expect(" 903 ").await.unwrap();
    d.send("CAP END").await.unwrap();
    d.finish_registration("alice").await.unwrap();
}

/// A self-signed certificate for `localhost`, written to `dir` as PEM files.
fn certificate(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path, cert)
}

/// A TLS connection that trusts exactly `cert`, registered as `nick`; returns
/// the lines up to the end of the MOTD.
async fn tls_register(
    addr: std::net::SocketAddr,
    cert: &rcgen::Certificate,
    nick: &str,
) -> std::io::Result<(
    BufReader<tokio::io::ReadHalf<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>,
    tokio::io::WriteHalf<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
)> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .map_err(std::io::Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name =
        rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    let tls = connector.connect(name, tcp).await?;
    let (r, mut w) = tokio::io::split(tls);
    w.write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n").as_bytes())
        .await?;
    Ok((BufReader::new(r), w))
}

async fn read_until(
    r: &mut BufReader<impl tokio::io::AsyncRead + Unpin>,
    needle: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout_at(deadline, r.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:#?}"))
            .unwrap();
        assert!(n > 0, "closed before {needle:?}: {seen:#?}");
        let line = line.trim_end().to_string();
        let done = line.contains(needle);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn irc_over_tls_and_the_certificate_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path, first) = certificate(dir.path(), "first");
    let tls = waggle_irc::ServerTls::load(&cert_path, &key_path).unwrap();
    let gw = RunningGateway::launch_with_tls(
        &dir.path().join("waggle.db"),
        GatewayOptions::default().server_config(),
        waggle_core::ProtocolRegistry::new(),
        Some(tls.clone()),
    )
    .await
    .unwrap();
    let addr = gw.tls_addr().unwrap();

    // A real TLS handshake (no client certificate), then IRC as usual.
    let (mut r, mut w) = tls_register(addr, &first, "alice").await.unwrap();
    read_until(&mut r, " 001 alice ").await;
    read_until(&mut r, " 366 alice &bitlbee ").await;
    w.write_all(b"PRIVMSG &bitlbee :plugins\r\n").await.unwrap();
    read_until(&mut r, "Enabled Protocols").await;

    // Plain text on the TLS port is no IRC session, and harms nobody.
    let mut plain_client = IrcClient::connect(addr).await.unwrap();
    plain_client.send("NICK eve").await.unwrap();
    plain_client.send("USER eve 0 * :eve").await.unwrap();
    let rest = plain_client.expect_closed().await.unwrap();
    assert!(!rest.iter().any(|l| Msg::parse(l).is("001")), "{rest:?}");

    // A new certificate on disk, reloaded: new connections get it, the open one goes on.
    let (cert2, key2, second) = certificate(dir.path(), "second");
    std::fs::copy(&cert2, &cert_path).unwrap();
    std::fs::copy(&key2, &key_path).unwrap();
    tls.reload().unwrap();
    assert!(
        tls_register(addr, &first, "bob").await.is_err(),
        "the old certificate is gone"
    );
    let (mut r2, _w2) = tls_register(addr, &second, "carol").await.unwrap();
    read_until(&mut r2, " 001 carol ").await;
    w.write_all(b"PRIVMSG &bitlbee :plugins\r\n").await.unwrap();
    read_until(&mut r, "Enabled Protocols").await;

    // A broken file is refused and the pair in use stays.
    std::fs::write(&key_path, "not a key").unwrap();
    assert!(tls.reload().is_err());
    let (mut r3, _w3) = tls_register(addr, &second, "dave").await.unwrap();
    read_until(&mut r3, " 001 dave ").await;
    gw.stop().await.unwrap();
}

#[tokio::test]
async fn per_user_limits_hold_for_accounts_channels_and_chats() {
    let gw = TestGateway::start(GatewayOptions {
        user_limits: waggle_irc::UserLimits {
            accounts: 2,
            channels: 3,
            chats: 1,
        },
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    c.root_expect(
        "account add test second@test.example pw",
        "Account successfully added",
    )
    .await
    .unwrap();
    c.root_expect(
        "account add test third@test.example pw",
        "You may have at most 2 accounts on this server",
    )
    .await
    .unwrap();
    c.root_expect("account list", "second@test.example")
        .await
        .unwrap();

    // &bitlbee and one chat channel: a second chat channel is refused ...
    c.send("JOIN #one").await.unwrap();
    c.expect(" JOIN :#one").await.unwrap();
    c.send("JOIN #two").await.unwrap();
    c.expect(" 405 alice #two :You may have at most 1 chat channels on this server")
        .await
        .unwrap();
    // ... a control channel is not, until there are three channels in all.
    c.send("JOIN &ctl").await.unwrap();
    c.expect(" JOIN :&ctl").await.unwrap();
    c.send("JOIN &more").await.unwrap();
    c.expect(" 405 alice &more :You may have at most 3 channels on this server")
        .await
        .unwrap();
    c.root_expect(
        "chat add test room@chat.example #r",
        "You may have at most 3 channels on this server",
    )
    .await
    .unwrap();

    // A room joined from elsewhere is left again, and the user told.
    let room = waggle_core::RoomId("elsewhere@chat.example".into());
    acc.emit_handled(Event::RoomJoined {
        room: room.clone(),
        topic: None,
        occupants: Vec::new(),
    })
    .await
    .unwrap();
    c.expect("test - Left the group chat elsewhere@chat.example: You may have at most 3 channels")
        .await
        .unwrap();
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        waggle_core::Command::LeaveRoom { room }
    );
    // Only the three channels exist: nothing was made for what was refused.
    c.send("LIST").await.unwrap();
    let listed = c.sync().await.unwrap();
    let names: Vec<String> = listed
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("322"))
        .filter_map(|m| m.params.get(1).cloned())
        .collect();
    assert_eq!(names.len(), 3, "{listed:#?}");
    for refused in ["#two", "&more", "#r", "#elsewhere"] {
        assert!(!names.iter().any(|n| n == refused), "{listed:#?}");
    }
}
