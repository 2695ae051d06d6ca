//! SASL PLAIN during registration, and PASS as an identify password.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine;
use waggle_tests::{IrcClient, Msg, TestGateway, assert_any, pred};

fn plain(authcid: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{authcid}\0{password}"))
}

/// Register `nick` with `password` and a remembered setting, then disconnect.
async fn registered_user(gw: &TestGateway, nick: &str, password: &str) {
    let mut c = gw.client(nick).await.unwrap();
    c.root_expect(
        &format!("register {password}"),
        "Account successfully created",
    )
    .await
    .unwrap();
    c.root_expect("set status \"from before\"", "status = `from before'")
        .await
        .unwrap();
    c.quit().await.unwrap();
}

async fn start_sasl(gw: &TestGateway, nick: &str) -> IrcClient {
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send(&format!("NICK {nick}")).await.unwrap();
    c.send(&format!("USER {nick} 0 * :{nick}")).await.unwrap();
    c.expect(pred("CAP LS", |m| m.is("CAP") && m.param(1) == "LS"))
        .await
        .unwrap();
    c.send("CAP REQ :sasl").await.unwrap();
    let ack = Msg::parse(&c.expect("CAP").await.unwrap());
    assert_eq!((ack.param(1), ack.trailing()), ("ACK", "sasl"));
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c
}

#[tokio::test]
async fn sasl_plain_success_logs_in_and_loads() {
    let gw = TestGateway::start_default().await.unwrap();
    registered_user(&gw, "alice", "s3cret").await;

    let mut c = start_sasl(&gw, "alice").await;
    c.send(&format!("AUTHENTICATE {}", plain("alice", "s3cret")))
        .await
        .unwrap();
    let l900 = Msg::parse(&c.expect_numeric("900").await.unwrap());
    assert_eq!(l900.param(0), "alice");
    assert!(l900.param(1).starts_with("alice!alice@"), "{l900:?}");
    assert_eq!(l900.param(2), "alice");
    assert_eq!(l900.trailing(), "You are now logged in as alice");
    c.expect_numeric("903").await.unwrap();
    c.send("CAP END").await.unwrap();
    c.finish_registration("alice").await.unwrap();

    // Identified, with the stored settings.
    c.root_expect("save", "Configuration saved").await.unwrap();
    c.root_expect("set status", "status = `from before'")
        .await
        .unwrap();
    c.root_expect("identify s3cret", "already logged in")
        .await
        .unwrap();
}

#[tokio::test]
async fn sasl_plain_wrong_password_fails_with_904() {
    let gw = TestGateway::start_default().await.unwrap();
    registered_user(&gw, "alice", "s3cret").await;

    let mut c = start_sasl(&gw, "alice").await;
    c.send(&format!("AUTHENTICATE {}", plain("alice", "nope")))
        .await
        .unwrap();
    let l = Msg::parse(&c.expect_numeric("904").await.unwrap());
    assert_eq!(l.trailing(), "SASL authentication failed");

    // Unknown user fails the same way.
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c.send(&format!("AUTHENTICATE {}", plain("nobody", "x")))
        .await
        .unwrap();
    c.expect_numeric("904").await.unwrap();

    // Garbage is no crash either.
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c.send("AUTHENTICATE !!!notbase64").await.unwrap();
    c.expect_numeric("904").await.unwrap();

    // The client can still finish registering, unidentified.
    c.send("CAP END").await.unwrap();
    c.finish_registration("alice").await.unwrap();
    c.root_expect("save", "Please create an account first")
        .await
        .unwrap();
}

#[tokio::test]
async fn sasl_abort_unknown_mechanism_and_without_cap() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = start_sasl(&gw, "alice").await;
    c.send("AUTHENTICATE *").await.unwrap();
    c.expect_numeric("906").await.unwrap();
    c.send("AUTHENTICATE SCRAM-SHA-256").await.unwrap();
    let l = Msg::parse(&c.expect_numeric("908").await.unwrap());
    assert_eq!(l.param(1), "PLAIN");
    c.expect_numeric("904").await.unwrap();

    let mut other = gw.connect().await.unwrap();
    other.send("AUTHENTICATE PLAIN").await.unwrap();
    other.expect_numeric("904").await.unwrap();
}

#[tokio::test]
async fn pass_in_open_mode_identifies() {
    let gw = TestGateway::start_default().await.unwrap();
    registered_user(&gw, "alice", "s3cret").await;

    let mut c = gw.connect().await.unwrap();
    c.send("PASS s3cret").await.unwrap();
    let burst = c.register("alice").await.unwrap();
    assert_any(&burst, "Password accepted");
    c.root_expect("set status", "status = `from before'")
        .await
        .unwrap();

    let mut wrong = gw.connect().await.unwrap();
    wrong.send("PASS nope").await.unwrap();
    let burst = wrong.register("alice").await.unwrap();
    assert_any(&burst, "Incorrect password");
}
