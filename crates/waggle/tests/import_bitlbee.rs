//! `waggle import-bitlbee` on files written by a real BitlBee 3.6: a user registered
//! over IRC, jabber (online, against a real Prosody) and twitter accounts, a skype
//! account as BitlBee ≤ 3.5 kept it, global, account and channel settings, a buddy
//! added with a nick and one renamed; `save`, then the import, then the first
//! identify through the real store with the BitlBee password.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bitlbee;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use waggle_core::{Secret, Store};
use waggle_store::SqliteStore;

const BIN: &str = env!("CARGO_BIN_EXE_waggle");

const LOGIN: &str = "bitl-pw!42";
const JABBER_PW: &str = "jab<pw>&1-long-enough";
const SKYPE_PW: &str = "skype-pw-9";

fn import(db: &Path, dir: &Path) -> Output {
    Command::new(BIN)
        .arg("--database")
        .arg(db)
        .arg("import-bitlbee")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run waggle")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Session one: register, accounts, buddies, settings, channels, save.
fn first_session(sandbox: &bitlbee::Sandbox) -> Result<()> {
    let mut irc = sandbox.connect("Alice")?;
    irc.root(&format!("register {LOGIN}"), "Account successfully created")?;
    irc.root(
        &format!("account add jabber alice@localhost {JABBER_PW}"),
        "Account successfully added with tag jabber",
    )?;
    for (key, value, shown) in [
        ("server", "127.0.0.1", "127.0.0.1"),
        ("tls", "false", "false"),
        ("resource", "laptop", "laptop"),
        ("priority", "5", "5"),
        ("proxy", "<local>", "<local>"),
        ("display_name", "\"Alice A\"", "Alice A"),
    ] {
        irc.root(
            &format!("account jabber set {key} {value}"),
            &format!("{key} = `{shown}'"),
        )?;
    }
    irc.root(
        "account add twitter alicetw",
        "Account successfully added with tag twitter",
    )?;
    irc.root(
        "account twitter set auto_connect false",
        "auto_connect = `false'",
    )?;
    irc.root("account jabber on", "jabber - Logging in: Logged in")?;
    // A buddy added with a nick, and one renamed once it is on the list.
    irc.root("add jabber carol@localhost caro", "carol@localhost")?;
    irc.root("add jabber bob@localhost", "bob@localhost")?;
    irc.root_until(
        "rename bob bobby",
        "Nick successfully changed",
        "does not exist",
    )?;
    for (key, value) in [
        // Keeps the Waggle that identifies them below from dialling out.
        ("auto_connect", "false"),
        ("auto_reconnect_delay", "10*2<600"),
        ("paste_buffer_delay", "3"),
        ("handle_unknown", "ignore"),
        ("private", "false"),
        ("strip_html", "false"),
        ("nick_format", "%full_name"),
        ("charset", "iso8859-1"),
    ] {
        irc.root(&format!("set {key} {value}"), &format!("{key} = `{value}'"))?;
    }
    for (channel, account) in [("#work", "jabber"), ("#tw", "twitter")] {
        irc.send(&format!("JOIN {channel}"))?;
        irc.expect("the join", |l| l.contains(&format!("JOIN :{channel}")))?;
        for (key, value) in [
            ("type", "control"),
            ("fill_by", "account"),
            ("account", account),
        ] {
            irc.root(
                &format!("channel {channel} set {key} {value}"),
                &format!("{key} = `{value}'"),
            )?;
        }
    }
    irc.root(
        "chat add jabber room@conference.localhost #room",
        "Chatroom successfully added",
    )?;
    for (key, value) in [
        ("nick", "alicenick"),
        ("auto_join", "true"),
        ("password", "roompw"),
    ] {
        irc.root(
            &format!("channel #room set {key} {value}"),
            &format!("{key} = `{value}'"),
        )?;
    }
    irc.root("save", "Configuration saved")?;
    irc.quit()
}

/// Add a skype account as BitlBee ≤ 3.5 (with its skype plugin) wrote one, its
/// password encrypted by `bitlbee -x enc`; BitlBee 3.6 keeps accounts of protocols
/// it lacks and writes them back at the next save.
fn add_old_skype_account(file: &Path) -> Result<()> {
    let xml = std::fs::read_to_string(file)?;
    let sealed = bitlbee::bitlbee_encrypt(LOGIN, SKYPE_PW)?;
    let account = format!(
        "\t<account protocol=\"skype\" handle=\"alice.skype\" password=\"{sealed}\" autoconnect=\"false\" tag=\"skype\">\n\
         \t\t<setting name=\"port\">2728</setting>\n\
         \t\t<setting name=\"read_groups\">true</setting>\n\
         \t\t<setting name=\"skypeout_offline\">false</setting>\n\
         \t</account>\n"
    );
    let at = xml.find("\t<channel").context("no channel in the file")?;
    let mut out = xml.clone();
    out.insert_str(at, &account);
    std::fs::write(file, out)?;
    Ok(())
}

/// Session two: identify (BitlBee loads the skype account raw) and save again.
fn second_session(sandbox: &bitlbee::Sandbox) -> Result<()> {
    let mut irc = sandbox.connect("Alice")?;
    irc.root(
        &format!("identify {LOGIN}"),
        "Password accepted, settings and accounts loaded",
    )?;
    irc.root("save", "Configuration saved")?;
    irc.quit()
}

/// A second user whose nick BitlBee lower-cases into an odd file name.
fn other_user(sandbox: &bitlbee::Sandbox) -> Result<()> {
    let mut irc = sandbox.connect("Bob[away]")?;
    irc.root("register bobs-pw", "Account successfully created")?;
    irc.root(
        "account add jabber bob@localhost bobpw",
        "Account successfully added with tag jabber",
    )?;
    irc.root("account jabber set tag work", "tag = `work'")?;
    irc.root(
        "account work set auto_connect false",
        "auto_connect = `false'",
    )?;
    irc.root("set ops user", "ops = `user'")?;
    irc.root("save", "Configuration saved")?;
    irc.quit()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The imported user identifies to a real Waggle over IRC, a wrong password first:
/// the IRC side knows nothing of imports.
fn identify_over_irc(db: &Path) -> Result<()> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _daemon = Daemon(
        Command::new(BIN)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database"])
            .arg(db)
            .env("WAGGLE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e).context("the gateway never listened"),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut send = |line: &str| writer.write_all(format!("{line}\r\n").as_bytes());
    let mut expect = |needle: &str| -> Result<String> {
        let mut seen = Vec::new();
        for _ in 0..500 {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            if line.contains(needle) {
                return Ok(line);
            }
            seen.push(line);
        }
        anyhow::bail!("Waggle never said {needle:?}; it said {seen:#?}")
    };
    send("NICK Alice")?;
    send("USER alice 0 * :Alice")?;
    expect(" 001 Alice ")?;
    send("PRIVMSG &bitlbee :identify bitl-pw!43")?;
    expect("Incorrect password")?;
    send(&format!("PRIVMSG &bitlbee :identify {LOGIN}"))?;
    expect("Password accepted, settings and accounts loaded")?;
    send("PRIVMSG &bitlbee :account list")?;
    let jabber = expect("alice@localhost")?;
    let skype = expect("alice.skype")?;
    ensure!(
        jabber.contains("jabber") && skype.contains("skype"),
        "{jabber}{skype}"
    );
    expect("End of account list")?;
    Ok(())
}

async fn check_store(db: &Path) -> Result<()> {
    let store = SqliteStore::open(db).await?;
    ensure!(
        store.authenticate("Alice", "bitl-pw!43").await?.is_none(),
        "a wrong password must fail"
    );
    let (id, key) = store
        .authenticate("alice", LOGIN)
        .await?
        .context("the BitlBee password was refused")?;
    let data = store.load(id, &key).await?;
    assert_eq!(
        data.settings,
        map(&[
            ("auto_connect", "false"),
            ("auto_reconnect_delay", "10*2<600"),
            ("handle_unknown", "ignore"),
            ("nick_format", "%full_name"),
            ("paste_buffer_delay", "3"),
            ("private", "false"),
            ("strip_html", "false"),
        ])
    );
    let summary: Vec<_> = data
        .accounts
        .iter()
        .map(|a| (a.protocol.as_str(), a.handle.as_str(), a.tag.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("jabber", "alice@localhost", "jabber"),
            ("skype", "alice.skype", "skype")
        ]
    );
    let (jabber, skype) = (&data.accounts[0], &data.accounts[1]);
    assert_eq!(jabber.password, Some(Secret(JABBER_PW.into())));
    assert_eq!(skype.password, Some(Secret(SKYPE_PW.into())));
    assert_eq!(
        jabber.settings,
        map(&[
            ("display_name", "Alice A"),
            ("priority", "5"),
            ("resource", "laptop"),
            ("server", "127.0.0.1"),
            ("tls", "false"),
        ])
    );
    assert_eq!(
        skype.settings,
        map(&[
            ("auto_connect", "false"),
            ("port", "2728"),
            ("read_groups", "true"),
            ("skypeout_offline", "false"),
        ])
    );
    let mut nicks: Vec<_> = data
        .contacts
        .iter()
        .map(|c| (c.account_row, c.handle.as_str(), c.nick.as_str()))
        .collect();
    nicks.sort_unstable();
    let row = jabber.row.context("no row")?;
    assert_eq!(
        nicks,
        [
            (row, "bob@localhost", "bobby"),
            (row, "carol@localhost", "caro")
        ]
    );
    let channels: BTreeMap<_, _> = data
        .channels
        .iter()
        .map(|c| (c.name.as_str(), c.settings.clone()))
        .collect();
    assert_eq!(
        channels.keys().copied().collect::<Vec<_>>(),
        ["#room", "#work", "&bitlbee"],
        "#tw shows the twitter account, which Waggle has not"
    );
    assert_eq!(
        channels["#work"],
        map(&[
            ("account", "jabber"),
            ("fill_by", "account"),
            ("type", "control")
        ])
    );
    assert_eq!(
        channels["#room"],
        map(&[
            ("account", "jabber"),
            ("auto_join", "true"),
            ("chat_type", "room"),
            ("nick", "alicenick"),
            ("password", "roompw"),
            ("room", "room@conference.localhost"),
            ("type", "chat"),
        ])
    );
    assert_eq!(
        channels["&bitlbee"].get("auto_join").map(String::as_str),
        Some("true")
    );

    // Converted: the same password now opens Argon2id credentials, same key.
    let (id2, key2) = store
        .authenticate("Alice", LOGIN)
        .await?
        .context("the second identify failed")?;
    ensure!(
        id2 == id && key2 == key,
        "the second identify must give the same key"
    );

    let (bob, bob_key) = store
        .authenticate("Bob[away]", "bobs-pw")
        .await?
        .context("Bob[away] was refused")?;
    let data = store.load(bob, &bob_key).await?;
    assert_eq!(data.settings, map(&[("ops", "user")]));
    let acc = data.accounts.first().context("no account")?;
    assert_eq!(
        (acc.tag.as_str(), acc.password.clone()),
        ("work", Some(Secret("bobpw".into())))
    );
    assert_eq!(acc.settings, map(&[("auto_connect", "false")]));
    store.close().await;
    Ok(())
}

#[test]
fn import_from_a_real_bitlbee() -> Result<()> {
    let Some(sandbox) =
        bitlbee::Sandbox::start(&[("alice", JABBER_PW), ("bob", "bobpw"), ("carol", "carolpw")])?
    else {
        return Ok(());
    };
    first_session(&sandbox)?;
    let file = sandbox.users_dir().join("alice.xml");
    add_old_skype_account(&file)?;
    let before = std::fs::read_to_string(&file)?;
    second_session(&sandbox)?;
    let written = std::fs::read_to_string(&file)?;
    ensure!(
        written != before && written.contains("protocol=\"skype\""),
        "BitlBee must have written the skype account back itself:\n{written}"
    );
    other_user(&sandbox)?;
    // Refreshing the committed fixtures: BITLBEE_FIXTURE_OUT=<dir> keeps the files.
    if let Some(out) = std::env::var_os("BITLBEE_FIXTURE_OUT") {
        for name in ["alice.xml", "bob{away}.xml"] {
            std::fs::copy(sandbox.users_dir().join(name), Path::new(&out).join(name))?;
        }
    }

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("waggle.db");
    let o = import(&db, &sandbox.users_dir());
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for line in [
        "alice.xml: imported user Alice",
        "took account jabber (jabber, alice@localhost)",
        "took nick bobby for bob@localhost on account jabber",
        "took setting tls of account jabber",
        "skipped global setting charset: Waggle speaks UTF-8",
        "skipped global setting last_version",
        "skipped account twitter (twitter, alicetw): Waggle has no backend for protocol twitter",
        "skipped setting proxy of account jabber",
        "took setting read_groups of account skype",
        "skipped channel #tw: it belongs to account twitter, which was not imported",
        "note: account jabber has tls off",
        "bob{away}.xml: imported user Bob[away]",
        "2 file(s): 2 imported",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }

    identify_over_irc(&db)?;
    tokio::runtime::Runtime::new()?.block_on(check_store(&db))?;

    // A second run changes nothing and says so.
    let o = import(&db, &sandbox.users_dir());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("user Alice was imported before; nothing changed")
            && text(&o).contains("2 file(s): 0 imported, 2 imported before"),
        "{}",
        text(&o)
    );
    Ok(())
}
