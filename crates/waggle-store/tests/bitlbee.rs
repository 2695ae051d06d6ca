//! Importing BitlBee's user files: the files a real BitlBee 3.6 wrote (fixtures),
//! hand-made edge cases, hostile input, and the first identify that converts the
//! login.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{TestResult, fresh, map, raw};
use sqlx::Row;
use waggle_core::{ProtocolRegistry, Secret, Store};
use waggle_store::SqliteStore;
use waggle_store::bitlbee::{Catalogue, FileOutcome, ImportReport, MAX_FILE_BYTES};

/// `bitlbee -x hash bitlpw`.
const HASH: &str = "bgNM1D2Xqql1H2B5soXNxn08wolL";
/// `bitlbee -x enc bitlpw <password>` for these passwords.
const JABBER_PW: &str = "jF69jHwtTPHq6e0iAr1J0IB4"; // jabber-pw
const OSCAR_PW: &str = "DTnDd/DQ6A7LPsQBMUEBMCi4"; // oscar-pw
const OTHER_PW: &str = "iaP/Jmmtt4sa46bzaZUel0yI"; // other-pw
const EMPTY_PW: &str = "PHUtdnUn"; // the empty password
const NOT_TEXT_PW: &str = "IuZ0OWEZ4hhzeCNMQSH1mA5t"; // the bytes a, 0xff, b

fn protocols() -> ProtocolRegistry {
    let mut r = ProtocolRegistry::new();
    r.register(Arc::new(waggle_xmpp::XmppBackend::new()));
    r.register(Arc::new(waggle_skype::SkypeBackend::new()));
    r
}

async fn import(
    store: &SqliteStore,
    dir: &Path,
) -> Result<ImportReport, Box<dyn std::error::Error>> {
    let protocols = protocols();
    let catalogue = Catalogue {
        protocols: &protocols,
        valid_nick: waggle_irc::nick::is_valid_nick,
        valid_channel: waggle_irc::nick::is_valid_channel,
    };
    Ok(store.import_bitlbee(dir, &catalogue).await?)
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bitlbee")
}

/// A directory with these files (name, contents).
fn dir_with(files: &[(&str, &str)]) -> Result<tempfile::TempDir, std::io::Error> {
    let dir = tempfile::tempdir()?;
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text)?;
    }
    Ok(dir)
}

fn imported<'a>(report: &'a ImportReport, user: &str) -> &'a waggle_store::bitlbee::UserImport {
    match report.user(user).map(|f| &f.outcome) {
        Some(FileOutcome::Imported(u)) => u,
        other => panic!("{user} not imported: {other:?}\n{report}"),
    }
}

fn skipped(u: &waggle_store::bitlbee::UserImport, what: &str, reason: &str) -> bool {
    u.skipped
        .iter()
        .any(|s| s.what == what && s.reason.contains(reason))
}

/// Every row of every table the import writes, for before/after comparisons.
async fn dump(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let pool = raw(path).await?;
    let mut out = Vec::new();
    for table in [
        "users",
        "user_settings",
        "accounts",
        "account_settings",
        "contacts",
        "channels",
        "channel_settings",
        "bitlbee_imports",
        "bitlbee_logins",
        "bitlbee_account_passwords",
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY 1, 2");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await?
        {
            let cols: Vec<String> = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| v.unwrap_or_default())
                        .or_else(|_| row.try_get::<i64, _>(i).map(|v| v.to_string()))
                        .or_else(|_| row.try_get::<Vec<u8>, _>(i).map(|v| format!("{v:?}")))
                        .unwrap_or_default()
                })
                .collect();
            out.push(format!("{table}: {}", cols.join("|")));
        }
    }
    pool.close().await;
    Ok(out)
}

#[tokio::test]
async fn files_written_by_bitlbee_import_whole() -> TestResult {
    let (_d, _p, store) = fresh().await?;
    let report = import(&store, &fixtures()).await?;
    assert!(!report.has_failures(), "{report}");
    let alice = imported(&report, "Alice");
    assert!(skipped(alice, "global setting charset", "UTF-8"));
    assert!(skipped(
        alice,
        "account twitter (twitter, alicetw)",
        "no backend for protocol twitter"
    ));
    assert!(skipped(
        alice,
        "channel #tw",
        "account twitter, which was not imported"
    ));
    imported(&report, "Bob[away]");

    let (id, key) = store
        .authenticate("Alice", "bitl-pw!42")
        .await?
        .ok_or("the BitlBee password was refused")?;
    let data = store.load(id, &key).await?;
    let accounts: Vec<_> = data
        .accounts
        .iter()
        .map(|a| {
            (
                a.protocol.as_str(),
                a.tag.as_str(),
                a.password.as_ref().map(|s| s.0.as_str()),
                a.position,
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("jabber", "jabber", Some("jab<pw>&1-long-enough"), 0),
            ("skype", "skype", Some("skype-pw-9"), 1)
        ]
    );
    let nicks: Vec<_> = data.contacts.iter().map(|c| c.nick.as_str()).collect();
    assert_eq!(nicks, ["bobby", "caro"]);
    assert_eq!(
        data.settings
            .get("auto_reconnect_delay")
            .map(String::as_str),
        Some("10*2<600")
    );
    assert!(!data.settings.contains_key("charset"));
    let room = data
        .channels
        .iter()
        .find(|c| c.name == "#room")
        .ok_or("no #room")?;
    assert_eq!(
        room.settings.get("room").map(String::as_str),
        Some("room@conference.localhost")
    );
    Ok(())
}

#[tokio::test]
async fn wrong_password_at_first_identify_converts_nothing() -> TestResult {
    let (_d, path, store) = fresh().await?;
    import(&store, &fixtures()).await?;
    let before = dump(&path).await?;
    assert!(store.authenticate("Alice", "bitl-pw!43").await?.is_none());
    assert!(store.authenticate("Alice", "").await?.is_none());
    assert_eq!(
        dump(&path).await?,
        before,
        "a wrong password changes nothing"
    );
    let pool = raw(&path).await?;
    let (sealed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE password_enc IS NOT NULL")
            .fetch_one(&pool)
            .await?;
    assert_eq!(sealed, 0, "nothing is sealed before the right password");
    assert!(store.authenticate("Alice", "bitl-pw!42").await?.is_some());
    let (pending,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM bitlbee_logins")
        .fetch_one(&pool)
        .await?;
    assert_eq!(pending, 1, "only Bob[away] still waits");
    let (hash, verifier): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT password_hash, login_verifier FROM users WHERE name = 'Alice'")
            .fetch_one(&pool)
            .await?;
    assert!(
        hash.is_empty(),
        "the pending BitlBee marker is gone: {hash}"
    );
    assert!(
        verifier.is_some_and(|v| v.len() == 32),
        "Waggle's one-hash login is in place"
    );
    Ok(())
}

#[tokio::test]
async fn an_existing_user_is_left_alone() -> TestResult {
    let (_d, _p, store) = fresh().await?;
    store.create_user("alice", "waggle-pw").await?;
    let report = import(&store, &fixtures()).await?;
    assert!(
        matches!(
            report.user("Alice").map(|f| &f.outcome),
            Some(FileOutcome::UserExists { .. })
        ),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("a Waggle user Alice already exists; not overwritten")
    );
    assert!(store.authenticate("alice", "bitl-pw!42").await?.is_none());
    let (id, key) = store
        .authenticate("alice", "waggle-pw")
        .await?
        .ok_or("the Waggle password stopped working")?;
    assert!(store.load(id, &key).await?.accounts.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_second_run_changes_nothing() -> TestResult {
    let (_d, path, store) = fresh().await?;
    import(&store, &fixtures()).await?;
    let once = dump(&path).await?;
    let report = import(&store, &fixtures()).await?;
    assert_eq!(dump(&path).await?, once);
    assert!(
        report
            .to_string()
            .contains("2 file(s): 0 imported, 2 imported before"),
        "{report}"
    );
    // Nor after the first identify converted the login.
    store
        .authenticate("Alice", "bitl-pw!42")
        .await?
        .ok_or("refused")?;
    let converted = dump(&path).await?;
    import(&store, &fixtures()).await?;
    assert_eq!(dump(&path).await?, converted);
    Ok(())
}

#[tokio::test]
async fn missing_fields_and_unknown_protocols_are_reported() -> TestResult {
    let xml = format!(
        r##"<user nick="carol" password="{HASH}" version="1">
  <setting>nameless</setting>
  <setting name="ops">everybody</setting>
  <setting name="away_devoice">false</setting>
  <account handle="nobody@example.org" password="{OTHER_PW}" tag="x"/>
  <account protocol="jabber" password="{OTHER_PW}" tag="y"/>
  <account protocol="jabber" handle="carol@example.org" tag="jabber" autoconnect="maybe">
    <buddy handle="dave@example.org"/>
    <buddy handle="erin@example.org" nick="erin"/>
    <buddy handle="erin@example.org" nick="erin2"/>
    <buddy handle="frank@example.org" nick="not a nick"/>
    <setting name="tls">on</setting>
    <setting name="sasl" locked="true">false</setting>
    <setting name="priority" locked="true">3</setting>
  </account>
  <account protocol="jabber" handle="carol@gmail.com" password="{JABBER_PW}" tag="jabber" locked="true"/>
  <account protocol="jabber" handle="carol@chat.example" password="{EMPTY_PW}"/>
  <account protocol="jabber" handle="carol@bad.example" password="!!!"/>
  <account protocol="oscar" handle="123456" password="{OSCAR_PW}" tag="icq">
    <buddy handle="654321" nick="olduin"/>
  </account>
  <account protocol="xmpp" handle="carol@odd.example" password="{NOT_TEXT_PW}" tag="odd"/>
  <channel name="&amp;bitlbee" type="control"/>
  <channel name="&amp;BitlBee" type="control"/>
  <channel name="#icq" type="control"><setting name="account">icq</setting></channel>
  <channel name="#aim" type="control"><setting name="protocol">oscar</setting></channel>
  <channel name="#mystery" type="control"><setting name="account">nosuch</setting></channel>
  <channel name="#untyped"/>
  <channel type="chat"/>
  <channel name="bad name" type="control"/>
  <channel name="#odd" type="weird"/>
  <unknown-element/>
</user>"##
    );
    let dir = dir_with(&[("carol.xml", &xml)])?;
    let (_d, _p, store) = fresh().await?;
    let report = import(&store, dir.path()).await?;
    let u = imported(&report, "carol");
    for (what, reason) in [
        ("global setting (unnamed)", "no name attribute"),
        ("global setting ops", "Invalid value for `ops'"),
        (
            "account x (no protocol, nobody@example.org)",
            "no protocol attribute",
        ),
        ("account y (jabber, no handle)", "no handle attribute"),
        ("the password of account jabber", "no password attribute"),
        (
            "the autoconnect attribute of account jabber",
            "neither true nor false",
        ),
        ("a buddy of account jabber", "lacks its handle or nick"),
        (
            "nick erin2 for erin@example.org on account jabber",
            "listed twice",
        ),
        (
            "nick not a nick for frank@example.org on account jabber",
            "not a nick",
        ),
        ("setting sasl of account jabber", "non-SASL login"),
        ("global setting away_devoice", "obsolete in BitlBee"),
        (
            "the lock on setting priority of account jabber",
            "no locked settings",
        ),
        ("the lock on account gtalk", "no locked accounts"),
        (
            "the password of account jabber3",
            "not BitlBee's encrypted form",
        ),
        (
            "account icq (oscar, 123456)",
            "no backend for protocol oscar",
        ),
        ("channel &BitlBee", "listed twice"),
        ("channel #icq", "account icq, which was not imported"),
        (
            "channel #aim",
            "protocol oscar, which Waggle has no backend for",
        ),
        (
            "setting account of channel #mystery",
            "no account is tagged nosuch",
        ),
        ("channel #untyped", "no type attribute"),
        ("a channel", "no name attribute"),
        ("channel bad name", "not a channel name"),
        ("channel #odd", "its type weird"),
    ] {
        assert!(
            skipped(u, what, reason),
            "{what}: {reason} not in\n{report}"
        );
    }
    assert!(
        u.notes
            .iter()
            .any(|n| n.contains("tag jabber is used twice") && n.contains("gtalk")),
        "{:?}",
        u.notes
    );
    assert!(
        u.notes.iter().any(|n| n.contains("tagged jabber2")),
        "{:?}",
        u.notes
    );

    let (id, key) = store
        .authenticate("carol", "bitlpw")
        .await?
        .ok_or("refused")?;
    let data = store.load(id, &key).await?;
    assert!(data.settings.is_empty(), "{:?}", data.settings);
    let accounts: Vec<_> = data
        .accounts
        .iter()
        .map(|a| {
            (
                a.protocol.as_str(),
                a.handle.as_str(),
                a.tag.as_str(),
                a.password.as_ref().map(|s| s.0.as_str()),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("jabber", "carol@example.org", "jabber", None),
            ("jabber", "carol@gmail.com", "gtalk", Some("jabber-pw")),
            // BitlBee's empty password (OAuth) is no password.
            ("jabber", "carol@chat.example", "jabber2", None),
            ("jabber", "carol@bad.example", "jabber3", None),
            // An alias of jabber; its password was not text, so it is dropped.
            ("jabber", "carol@odd.example", "odd", None),
        ]
    );
    let first = data.accounts.first().ok_or("no account")?;
    assert_eq!(first.settings, map(&[("priority", "3"), ("tls", "true")]));
    let nicks: Vec<_> = data.contacts.iter().map(|c| c.nick.as_str()).collect();
    assert_eq!(nicks, ["erin"]);
    let channels: Vec<_> = data.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(channels, ["#mystery", "&bitlbee"]);
    Ok(())
}

#[tokio::test]
async fn hostile_files_fail_clearly_and_the_rest_imports() -> TestResult {
    let good = format!(r#"<user nick="good" password="{HASH}" version="1"/>"#);
    let dir = dir_with(&[
        ("good.xml", &good),
        ("broken.xml", "<user nick='broken' password='x'><account>"),
        (
            "badhash.xml",
            "<user nick='badhash' password='***' version='1'/>",
        ),
        ("shorthash.xml", "<user nick='shorthash' password='AAAA'/>"),
        ("other.xml", &good),
        ("Upper.xml", &good.replace("\"good\"", "\"Upper\"")),
        ("spaced.xml", &good.replace("\"good\"", "\"spa ced\"")),
        (
            "entity.xml",
            "<!DOCTYPE u [<!ENTITY e 'x'>]><user nick='entity' password='x'/>",
        ),
        ("notes.txt", "not a user file"),
        ("good.xml.AbC123", "BitlBee's temporary file"),
    ])?;
    std::fs::write(
        dir.path().join("latin1.xml"),
        b"<user nick='l\xe4' password='x'/>",
    )?;
    let huge = vec![b' '; usize::try_from(MAX_FILE_BYTES)? + 1];
    std::fs::write(dir.path().join("huge.xml"), huge)?;
    std::fs::create_dir(dir.path().join("folder.xml"))?;
    let depth = 150_000;
    let deep = format!(
        "<user nick='deep' password='{HASH}'>{}{}</user>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    std::fs::write(dir.path().join("deep.xml"), deep)?;
    let wide = format!(
        "<user nick='wide' password='{HASH}'>{}</user>",
        "<setting name='x'/>".repeat(210_000)
    );
    std::fs::write(dir.path().join("wide.xml"), wide)?;

    let (_d, _p, store) = fresh().await?;
    let report = import(&store, dir.path()).await?;
    assert!(report.has_failures());
    imported(&report, "good");
    let text = report.to_string();
    for expected in [
        "broken.xml: error: ",
        "not well-formed XML",
        "badhash.xml: error: ",
        "not BitlBee's salted MD5 hash: not valid base64",
        "shorthash.xml: error: ",
        "3 bytes where BitlBee's salted MD5 hash has 21",
        "other.xml: error: ",
        "its nick good does not match the file name (BitlBee keeps that user in good.xml)",
        "Upper.xml: error: ",
        "spaced.xml: error: ",
        "is not a nick Waggle accepts",
        "entity.xml: error: ",
        "latin1.xml: error: ",
        "not UTF-8 text",
        "huge.xml: error: ",
        "larger than 4194304 bytes",
        "wide.xml: error: ",
        "nodes limit",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    assert!(!text.contains("notes.txt") && !text.contains("AbC123") && !text.contains("folder"));
    assert_eq!(report.files.len(), 12, "{text}");
    // Nesting BitlBee never writes is ignored, not a danger.
    imported(&report, "deep");
    assert_eq!(store.list_users().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn users_of_an_auth_backend_are_not_imported() -> TestResult {
    let xml = r#"<user nick="pam" auth_backend="pam" version="1">
  <account protocol="jabber" handle="pam@example.org" password="cGxhaW4=" autoconnect="true" tag="jabber"/>
</user>"#;
    let dir = dir_with(&[("pam.xml", xml)])?;
    let (_d, _p, store) = fresh().await?;
    let report = import(&store, dir.path()).await?;
    assert!(
        report.to_string().contains("pam.xml: user pam not imported: BitlBee checks their password through its pam authentication backend"),
        "{report}"
    );
    assert!(!store.user_exists("pam").await?);
    Ok(())
}

#[tokio::test]
async fn a_missing_directory_is_an_error() -> TestResult {
    let (dir, _p, store) = fresh().await?;
    let err = import(&store, &dir.path().join("nope"))
        .await
        .err()
        .ok_or("importing a missing directory succeeded")?;
    assert!(err.to_string().contains("nope"), "{err}");
    Ok(())
}

#[tokio::test]
async fn an_admin_reset_replaces_the_pending_login() -> TestResult {
    let (_d, path, store) = fresh().await?;
    import(&store, &fixtures()).await?;
    assert_eq!(store.reset_password("Alice", "new-pw").await?, 0);
    assert!(
        store.authenticate("Alice", "bitl-pw!42").await?.is_none(),
        "the BitlBee password is gone after a reset"
    );
    let (id, key) = store
        .authenticate("Alice", "new-pw")
        .await?
        .ok_or("the new password was refused")?;
    let data = store.load(id, &key).await?;
    assert!(data.accounts.iter().all(|a| a.password.is_none()));
    assert_eq!(data.accounts.len(), 2, "the accounts themselves stay");
    let pool = raw(&path).await?;
    let (left,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM bitlbee_account_passwords p JOIN users u ON u.id = p.user_id \
         WHERE u.name = 'Alice'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(left, 0, "the old encrypted passwords are dropped");
    Ok(())
}

#[tokio::test]
async fn concurrent_first_identifies_convert_once() -> TestResult {
    let (_d, _p, store) = fresh().await?;
    import(&store, &fixtures()).await?;
    let (a, b) = tokio::join!(
        store.authenticate("Alice", "bitl-pw!42"),
        store.authenticate("alice", "bitl-pw!42")
    );
    let (a, b) = (a?.ok_or("first refused")?, b?.ok_or("second refused")?);
    assert_eq!(a, b, "both identifies end with the same key");
    let data = store.load(a.0, &a.1).await?;
    assert_eq!(
        data.accounts.first().and_then(|x| x.password.clone()),
        Some(Secret("jab<pw>&1-long-enough".into()))
    );
    Ok(())
}
