//! Root's `register`, `identify` and `drop`, the /OPER password prompts, and
//! two users on one gateway kept apart.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::{TestGateway, any_contains, assert_any, assert_none};

#[tokio::test]
async fn register_then_identify_in_a_new_session() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let lines = c.root_lines("register s3cret").await.unwrap();
    assert_any(&c.root_texts(&lines), "Account successfully created");
    // Identified users get +R.
    assert_any(&lines, "MODE alice +R");
    c.root_expect("register other", "already registered and identified")
        .await
        .unwrap();
    c.root_expect("save", "Configuration saved").await.unwrap();
    c.quit().await.unwrap();

    let mut c = gw.client("alice").await.unwrap();
    c.root_expect(
        "identify s3cret",
        "Password accepted, settings and accounts loaded",
    )
    .await
    .unwrap();
    c.root_expect("identify s3cret", "You're already logged in.")
        .await
        .unwrap();
}

#[tokio::test]
async fn register_a_taken_nick_and_bad_passwords() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut a = gw.client("alice").await.unwrap();
    a.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    a.quit().await.unwrap();

    let mut b = gw.client("alice").await.unwrap();
    b.root_expect("register another", "Nick is already registered")
        .await
        .unwrap();
    b.root_expect("register \"\"", "the password is empty")
        .await
        .unwrap();
    b.root_expect("identify wrong", "Incorrect password")
        .await
        .unwrap();
    b.root_expect("save", "Please create an account first")
        .await
        .unwrap();
}

#[tokio::test]
async fn identify_an_unregistered_nick() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("nobody").await.unwrap();
    c.root_expect("identify whatever", "The nick is (probably) not registered")
        .await
        .unwrap();
    c.root_expect("drop whatever", "That account does not exist")
        .await
        .unwrap();
}

#[tokio::test]
async fn identify_noload_keeps_the_session_and_saves_it() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("set status stored", "status = `stored'")
        .await
        .unwrap();
    c.quit().await.unwrap();
    // A registered user stays running without a client; after a restart alice
    // is not running, so identify loads (or, with -noload, does not load) her.
    gw.restart().await.unwrap();

    let mut c = gw.client("alice").await.unwrap();
    c.root_expect(
        "account add test alice@test.example pw",
        "Account successfully added",
    )
    .await
    .unwrap();
    // With an account set up in this session, plain identify refuses …
    c.root_expect("identify s3cret", "identify -noload")
        .await
        .unwrap();
    // … and -noload keeps this session's accounts (and settings) instead.
    c.root_expect("identify -noload s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("account list", "alice@test.example")
        .await
        .unwrap();
    let status = c.root("set status").await.unwrap();
    assert_any(&status, "status is empty");
    c.quit().await.unwrap();

    // -noload saved this session's account under the login.
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("account list", "alice@test.example")
        .await
        .unwrap();
}

#[tokio::test]
async fn drop_with_wrong_then_right_password() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("drop wrong", "Password invalid")
        .await
        .unwrap();
    let lines = c.root_lines("drop s3cret").await.unwrap();
    assert_any(&c.root_texts(&lines), "Account `alice' removed");
    assert_any(&lines, "MODE alice -R");
    c.root_expect("drop", "Not enough parameters")
        .await
        .unwrap();
    c.quit().await.unwrap();

    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify s3cret", "not registered")
        .await
        .unwrap();
    // The name is free again.
    c.root_expect("register new", "Account successfully created")
        .await
        .unwrap();
}

#[tokio::test]
async fn oper_answers_register_and_identify_prompts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("OPER x nothing-asked").await.unwrap();
    c.expect_numeric("491").await.unwrap();
    c.root_expect("register", "use /OPER to enter the password")
        .await
        .unwrap();
    c.send("OPER alice s3cret").await.unwrap();
    let texts = c.sync_root().await.unwrap();
    assert_any(&texts, "Account successfully created");
    c.quit().await.unwrap();

    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify", "use /OPER to enter the password")
        .await
        .unwrap();
    c.send("OPER alice s3cret").await.unwrap();
    let texts = c.sync_root().await.unwrap();
    assert_any(&texts, "Password accepted");
    c.send("OPER").await.unwrap();
    c.expect_numeric("461").await.unwrap();
}

#[tokio::test]
async fn oper_answers_the_account_password_prompt() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let texts = c.root("account add test bob").await.unwrap();
    assert_any(&texts, "Account successfully added with tag test");
    assert_any(
        &texts,
        "You can now use the /OPER command to enter the password",
    );
    // The password never shows up in a log: it comes through OPER.
    c.send("OPER bob hunter2").await.unwrap();
    let texts = c.sync_root().await.unwrap();
    assert_any(&texts, "Password set");
    let texts = c.root("account test set password").await.unwrap();
    assert_none(&texts, "hunter2");
    c.root_wait("account test on", "test - Logging in: Logged in")
        .await
        .unwrap();
    let acc = gw.hub().account("bob").await.unwrap();
    assert_eq!(acc.password(), "hunter2");
}

#[tokio::test]
async fn account_on_without_password_asks_for_it() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test bob").await.unwrap();
    c.root_expect("account test on", "Enter password for account test first")
        .await
        .unwrap();
    c.send("OPER bob pw").await.unwrap();
    c.sync().await.unwrap();
    c.root_wait("account test on", "test - Logging in: Logged in")
        .await
        .unwrap();
}

#[tokio::test]
async fn two_users_are_isolated() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut a = gw.client("alice").await.unwrap();
    let mut b = gw.client("bob").await.unwrap();
    a.root_expect("register alicepw", "Account successfully created")
        .await
        .unwrap();
    b.root_expect("register bobpw", "Account successfully created")
        .await
        .unwrap();
    a.root("account add test alice@test.example pw")
        .await
        .unwrap();
    b.root("account add test bob@test.example pw")
        .await
        .unwrap();
    b.root("set status busy").await.unwrap();

    let la = a.root("account list").await.unwrap();
    let lb = b.root("account list").await.unwrap();
    assert_any(&la, "alice@test.example");
    assert_none(&la, "bob@test.example");
    assert_any(&lb, "bob@test.example");
    assert_none(&lb, "alice@test.example");
    assert_any(&a.root("set status").await.unwrap(), "status is empty");

    // A third connection can't identify as alice with bob's password; with
    // hers it attaches to the running alice and sees her accounts, not bob's.
    let mut m = gw.client("alice").await.unwrap();
    m.root_expect("identify bobpw", "Incorrect password")
        .await
        .unwrap();
    m.root_expect("identify alicepw", "Password accepted")
        .await
        .unwrap();
    let lm = m.root("account list").await.unwrap();
    assert_any(&lm, "alice@test.example");
    assert!(!any_contains(&lm, "bob@test.example"), "{lm:?}");
    m.quit().await.unwrap();

    // Each user's data comes back to them only.
    a.quit().await.unwrap();
    b.quit().await.unwrap();
    let mut a = gw.client("alice").await.unwrap();
    a.root_expect("identify alicepw", "Password accepted")
        .await
        .unwrap();
    let la = a.root("account list").await.unwrap();
    assert_any(&la, "alice@test.example");
    assert_none(&la, "bob@test.example");
}
