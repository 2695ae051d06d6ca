//! Checks the IRC message parser we build on (`irc-proto`, used by
//! `waggle_irc::codec`) against the public ircdocs parser test vectors, vendored
//! under `tests/fixtures/irc-parser-tests/` (see the README there).
//!
//! Every case of every file runs. Where irc-proto knowingly differs from a
//! vector, the case is listed in an explicit exception list together with the
//! exact result irc-proto gives; the test checks that each listed case still
//! fails in exactly that way, so the list cannot silently grow or go stale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use irc_proto::message::Tag;
use irc_proto::{Command, Message, Prefix};
use serde::Deserialize;

/// The raw text of one vendored vector file.
fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/irc-parser-tests")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How many cases the file holds, counted on the raw text (each case starts
/// with a `  - <marker>:` line), independently of the YAML parsing.
fn raw_case_count(text: &str, marker: &str) -> usize {
    let start = format!("  - {marker}:");
    text.lines().filter(|l| l.starts_with(&start)).count()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile<T> {
    tests: Vec<T>,
}

/// The atoms of a message as the vectors describe them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Atoms {
    /// Tags in file order; a tag without a value is `""`.
    #[serde(default)]
    tags: Option<serde_yaml::Mapping>,
    #[serde(default)]
    source: Option<String>,
    verb: String,
    #[serde(default)]
    params: Vec<String>,
}

impl Atoms {
    /// The tags as ordered `(key, value)` pairs.
    fn tag_pairs(&self) -> Vec<(String, String)> {
        self.tags
            .iter()
            .flatten()
            .map(|(k, v)| {
                let k = k.as_str().expect("tag key is a string");
                let v = v.as_str().expect("tag value is a string");
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitCase {
    input: String,
    atoms: Atoms,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinCase {
    desc: String,
    atoms: Atoms,
    matches: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserhostCase {
    source: String,
    atoms: UserhostAtoms,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserhostAtoms {
    #[serde(default)]
    nick: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    host: String,
}

/// A message reduced to the vectors' atoms, for comparison.
#[derive(Debug, PartialEq)]
struct Split {
    tags: BTreeMap<String, String>,
    source: Option<String>,
    verb: String,
    params: Vec<String>,
}

impl Split {
    fn expected(atoms: &Atoms) -> Split {
        Split {
            tags: atoms.tag_pairs().into_iter().collect(),
            source: atoms.source.clone(),
            verb: atoms.verb.clone(),
            params: atoms.params.clone(),
        }
    }

    fn of(msg: &Message) -> Split {
        // irc-proto keeps every tag in order; the vectors say a parser SHOULD keep
        // only the last of duplicate keys, which is what folding into a map does
        // (and what our code does when it looks tags up). No value means "".
        let tags = msg
            .tags
            .iter()
            .flatten()
            .map(|Tag(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect();
        let (verb, params) = verb_and_params(&msg.command);
        Split {
            tags,
            source: msg.prefix.as_ref().map(Prefix::to_string),
            verb,
            params,
        }
    }
}

/// The verb and parameters irc-proto parsed. Untyped commands (`Raw`, numeric
/// `Response`) carry them directly; for the typed ones (`PRIVMSG`, `MODE`, …)
/// the only generic way is irc-proto's own serialisation, split back with the
/// plain RFC 1459 rules by [`split_wire`].
fn verb_and_params(cmd: &Command) -> (String, Vec<String>) {
    match cmd {
        Command::Raw(verb, args) => (verb.clone(), args.clone()),
        Command::Response(resp, args) => (format!("{:03}", *resp as u16), args.clone()),
        typed => split_wire(&String::from(typed)),
    }
}

/// Split `VERB p1 p2 :trailing` (atoms separated by one or more spaces).
fn split_wire(line: &str) -> (String, Vec<String>) {
    let mut rest = line.trim_start_matches(' ');
    let (verb, after) = rest.split_once(' ').unwrap_or((rest, ""));
    rest = after;
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing.to_owned());
            break;
        }
        let (p, after) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(p.to_owned());
        rest = after;
    }
    (verb.to_owned(), params)
}

/// A msg-split vector irc-proto is known to answer differently.
struct SplitException {
    /// The vector's `input`, exactly.
    input: &'static str,
    /// What irc-proto gives instead of the vector's params (tags, source and
    /// verb must still match the vector).
    actual_params: &'static [&'static str],
    /// Why this is acceptable.
    #[allow(dead_code)]
    why: &'static str,
}

/// Known, documented differences (see `NOTES-dependencies.md`, irc-proto section).
/// Each entry is checked to still fail in exactly the recorded way.
const SPLIT_EXCEPTIONS: &[SplitException] = &[SplitException {
    input: ":SomeOp MODE #channel +oo SomeUser :AnotherUser",
    actual_params: &["#channel", "+o+o", "SomeUser", "AnotherUser"],
    why: "irc-proto parses MODE into typed modes and writes one sign per mode: \
          `+oo` comes back as `+o+o`. Same meaning, not byte-equal.",
}];

#[test]
fn msg_split() {
    let text = fixture("msg-split.yaml");
    let file: VectorFile<SplitCase> = serde_yaml::from_str(&text).unwrap();
    let expected_count = raw_case_count(&text, "input");
    assert!(expected_count > 0);
    assert_eq!(file.tests.len(), expected_count, "YAML vs raw case count");

    let mut passed = 0;
    let mut excepted = Vec::new();
    let mut failures = Vec::new();
    for case in &file.tests {
        let want = Split::expected(&case.atoms);
        let msg = match Message::from_str(&case.input) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{:?}: parse error {e}", case.input));
                continue;
            }
        };
        let got = Split::of(&msg);
        // Whatever irc-proto parsed must also survive its own round trip.
        let again = Message::from_str(&msg.to_string());
        if again.as_ref().ok() != Some(&msg) {
            failures.push(format!("{:?}: round trip gave {again:?}", case.input));
            continue;
        }
        match SPLIT_EXCEPTIONS.iter().find(|x| x.input == case.input) {
            None if got == want => passed += 1,
            None => failures.push(format!(
                "{:?}:\n  want {want:?}\n  got  {got:?}",
                case.input
            )),
            Some(x) => {
                let recorded = Split {
                    params: x.actual_params.iter().map(|s| s.to_string()).collect(),
                    ..Split::expected(&case.atoms)
                };
                assert_ne!(got, want, "exception {:?} now passes: remove it", x.input);
                assert_eq!(got, recorded, "exception {:?} changed", x.input);
                excepted.push(x.input);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "msg-split failures:\n{}",
        failures.join("\n")
    );
    let listed: Vec<_> = SPLIT_EXCEPTIONS.iter().map(|x| x.input).collect();
    assert_eq!(
        excepted, listed,
        "every exception must match exactly one vector"
    );
    assert_eq!(passed + excepted.len(), expected_count);
    println!(
        "msg-split: {passed} passed, {} known exceptions, {expected_count} cases",
        excepted.len()
    );
}

/// Build a message from the vector's atoms with irc-proto.
fn build(atoms: &Atoms) -> Message {
    let tags = atoms.tags.as_ref().map(|_| {
        atoms
            .tag_pairs()
            .into_iter()
            .map(|(k, v)| Tag(k, (!v.is_empty()).then_some(v)))
            .collect()
    });
    let params = atoms.params.iter().map(String::as_str).collect();
    Message::with_tags(tags, atoms.source.as_deref(), &atoms.verb, params).unwrap()
}

#[test]
fn msg_join() {
    let text = fixture("msg-join.yaml");
    let file: VectorFile<JoinCase> = serde_yaml::from_str(&text).unwrap();
    let expected_count = raw_case_count(&text, "desc");
    assert!(expected_count > 0);
    assert_eq!(file.tests.len(), expected_count, "YAML vs raw case count");

    // No known exceptions: irc-proto passes every msg-join vector.
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &file.tests {
        let wire = build(&case.atoms).to_string();
        let line = wire.trim_end_matches(['\r', '\n']);
        if case
            .matches
            .iter()
            .any(|m| m.trim_end_matches(['\r', '\n']) == line)
        {
            passed += 1;
        } else {
            failures.push(format!(
                "{}: got {line:?}, want one of {:?}",
                case.desc, case.matches
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "msg-join failures:\n{}",
        failures.join("\n")
    );
    assert_eq!(passed, expected_count);
    println!("msg-join: {passed} passed, {expected_count} cases");
}

/// Split a `nick!user@host` source into its parts (missing parts are empty),
/// using irc-proto's prefix parser as the gateway does.
fn split_userhost(s: &str) -> (String, String, String) {
    match Prefix::new_from_str(s) {
        Prefix::Nickname(nick, user, host) => (nick, user, host),
        Prefix::ServerName(name) => (name, String::new(), String::new()),
    }
}

#[test]
fn userhost_split() {
    let text = fixture("userhost-split.yaml");
    let file: VectorFile<UserhostCase> = serde_yaml::from_str(&text).unwrap();
    let expected_count = raw_case_count(&text, "source");
    assert!(expected_count > 0);
    assert_eq!(file.tests.len(), expected_count, "YAML vs raw case count");

    let mut passed = 0;
    for case in &file.tests {
        let want = (
            case.atoms.nick.clone(),
            case.atoms.user.clone(),
            case.atoms.host.clone(),
        );
        assert_eq!(split_userhost(&case.source), want, "{:?}", case.source);
        passed += 1;
    }
    assert_eq!(passed, expected_count);
    println!("userhost-split: {passed} passed, {expected_count} cases");
}

#[test]
fn split_wire_helper() {
    let (verb, params) = split_wire("MODE #c +o  nick :a b ");
    assert_eq!(verb, "MODE");
    assert_eq!(params, ["#c", "+o", "nick", "a b "]);
    assert_eq!(split_wire("AWAY"), ("AWAY".to_owned(), vec![]));
    assert_eq!(
        split_wire("AWAY :"),
        ("AWAY".to_owned(), vec![String::new()])
    );
}
