//! Turning a parsed BitlBee file into what Waggle will store, deciding for every
//! setting, account, buddy and channel whether it is taken, and saying why not.

use std::collections::{BTreeMap, HashSet};

use waggle_core::settings::{ACCOUNT, CHANNEL, GLOBAL, Scope, parse_bool};
use waggle_core::{Backend, ChannelRecord};

use super::Catalogue;
use super::legacy;
use super::parse::{RawAccount, RawChannel, RawSetting, RawUser};
use super::report::{Skipped, UserImport};
use super::settings::{Verdict, map};

/// An account as it will be stored.
#[derive(Debug, Clone)]
pub(crate) struct PlannedAccount {
    /// Waggle's canonical protocol name.
    pub protocol: String,
    pub handle: String,
    pub tag: String,
    /// BitlBee's encrypted password (`iv || ciphertext`), decrypted at first identify.
    pub password: Option<Vec<u8>>,
    pub settings: BTreeMap<String, String>,
    /// Stored nicks: (handle, nick).
    pub buddies: Vec<(String, String)>,
}

/// A user as it will be stored.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The login hash: MD5 digest then salt.
    pub login_hash: Vec<u8>,
    pub settings: BTreeMap<String, String>,
    pub accounts: Vec<PlannedAccount>,
    pub channels: Vec<ChannelRecord>,
    /// The user name and what was taken and skipped.
    pub report: UserImport,
}

/// What a file amounts to.
#[derive(Debug)]
pub(crate) enum Planned {
    /// A user to create.
    User(Box<Plan>),
    /// A user that cannot come over, and why.
    NotImportable { user: String, reason: String },
}

struct Planner<'a> {
    catalogue: &'a Catalogue<'a>,
    report: UserImport,
}

impl Planner<'_> {
    fn skip(&mut self, what: impl Into<String>, reason: impl Into<String>) {
        self.report.skipped.push(Skipped {
            what: what.into(),
            reason: reason.into(),
        });
    }

    /// Map a list of settings into `into`; `what` names one (`global setting x`).
    fn settings(
        &mut self,
        scope: Scope,
        extra: &[waggle_core::SettingDef],
        raw: &[RawSetting],
        what: &dyn Fn(&str) -> String,
        into: &mut BTreeMap<String, String>,
    ) {
        let table = match scope {
            Scope::Global => GLOBAL,
            Scope::Account => ACCOUNT,
            Scope::Channel => CHANNEL,
        };
        for s in raw {
            let Some(name) = s.name.as_deref() else {
                self.skip(what("(unnamed)"), "the setting has no name attribute");
                continue;
            };
            match map(scope, table, extra, name, &s.value) {
                Verdict::Take { name, value } => {
                    self.report.taken.push(what(&name));
                    if s.locked {
                        self.skip(
                            format!("the lock on {}", what(&name)),
                            "Waggle has no locked settings",
                        );
                    }
                    into.insert(name, value);
                }
                Verdict::Skip(reason) => self.skip(what(name), reason),
            }
        }
    }

    fn account(
        &mut self,
        raw: &RawAccount,
        index: usize,
        planned: &[PlannedAccount],
        lost_tags: &mut HashSet<String>,
    ) -> Option<PlannedAccount> {
        let label = format!(
            "account {} ({}, {})",
            raw.tag.as_deref().unwrap_or("without a tag"),
            raw.protocol.as_deref().unwrap_or("no protocol"),
            raw.handle.as_deref().unwrap_or("no handle"),
        );
        let lose = |tags: &mut HashSet<String>| {
            if let Some(t) = &raw.tag {
                tags.insert(t.to_ascii_lowercase());
            }
        };
        let Some(protocol) = raw.protocol.as_deref().filter(|p| !p.is_empty()) else {
            lose(lost_tags);
            self.skip(label, "it has no protocol attribute");
            return None;
        };
        let Some(handle) = raw.handle.as_deref().filter(|h| !h.trim().is_empty()) else {
            lose(lost_tags);
            self.skip(label, "it has no handle attribute");
            return None;
        };
        let Some(backend) = self.catalogue.protocols.get(protocol).cloned() else {
            lose(lost_tags);
            self.skip(
                label,
                format!(
                    "Waggle has no backend for protocol {protocol} (its {} setting(s) and {} buddy nick(s) stay behind)",
                    raw.settings.len(),
                    raw.buddies.len()
                ),
            );
            return None;
        };
        let tag = self.tag(raw, protocol, handle, index, planned);
        let mut acc = PlannedAccount {
            protocol: backend.protocol().to_owned(),
            handle: handle.to_owned(),
            tag: tag.clone(),
            password: None,
            settings: BTreeMap::new(),
            buddies: Vec::new(),
        };
        self.report
            .taken
            .push(format!("account {tag} ({}, {handle})", acc.protocol));
        match raw
            .password
            .as_deref()
            .map(|p| legacy::decode_base64(p).and_then(|b| legacy::check_cipher(&b).map(|()| b)))
        {
            Some(Ok(sealed)) => acc.password = Some(sealed),
            Some(Err(e)) => self.skip(
                format!("the password of account {tag}"),
                format!("it is not BitlBee's encrypted form ({e}); set it again"),
            ),
            None => self.skip(
                format!("the password of account {tag}"),
                "the account has no password attribute; set it again",
            ),
        }
        if raw.locked {
            self.skip(
                format!("the lock on account {tag}"),
                "Waggle has no locked accounts",
            );
        }
        // BitlBee applies the attributes first, then the settings.
        let mut attributes = Vec::new();
        if let Some(server) = &raw.server {
            attributes.push(RawSetting {
                name: Some("server".into()),
                value: server.clone(),
                locked: false,
            });
        }
        match raw.autoconnect.as_deref().map(parse_bool) {
            None | Some(Some(true)) => {}
            Some(Some(false)) => attributes.push(RawSetting {
                name: Some("auto_connect".into()),
                value: "false".into(),
                locked: false,
            }),
            Some(None) => self.skip(
                format!("the autoconnect attribute of account {tag}"),
                "it is neither true nor false",
            ),
        }
        let what = |name: &str| format!("setting {name} of account {tag}");
        let extra = backend.settings();
        self.settings(Scope::Account, extra, &attributes, &what, &mut acc.settings);
        self.settings(
            Scope::Account,
            extra,
            &raw.settings,
            &what,
            &mut acc.settings,
        );
        self.plaintext_note(protocol, backend.as_ref(), &acc);
        self.buddies(raw, &mut acc);
        Some(acc)
    }

    /// BitlBee's jabber sends PLAIN over an unencrypted link when `tls` is off;
    /// Waggle's refuses unless told. Say so rather than quietly weakening it.
    fn plaintext_note(&mut self, protocol: &str, backend: &dyn Backend, acc: &PlannedAccount) {
        let allows = "allow_plaintext_auth";
        if protocol.eq_ignore_ascii_case("jabber")
            && acc.settings.get("tls").map(String::as_str) == Some("false")
            && backend.settings().iter().any(|d| d.name == allows)
            && !acc.settings.contains_key(allows)
        {
            self.report.notes.push(format!(
                "account {} has tls off: BitlBee sent its password in clear then, Waggle does so only with `account {} set {allows} true`",
                acc.tag, acc.tag
            ));
        }
    }

    fn buddies(&mut self, raw: &RawAccount, acc: &mut PlannedAccount) {
        let mut seen = HashSet::new();
        for b in &raw.buddies {
            let (Some(handle), Some(nick)) = (b.handle.as_deref(), b.nick.as_deref()) else {
                self.skip(
                    format!("a buddy of account {}", acc.tag),
                    "it lacks its handle or nick attribute",
                );
                continue;
            };
            let what = format!("nick {nick} for {handle} on account {}", acc.tag);
            if !(self.catalogue.valid_nick)(nick) {
                self.skip(what, "not a nick Waggle accepts");
            } else if handle.is_empty() || !seen.insert(handle.to_owned()) {
                self.skip(what, "its handle is empty or listed twice");
            } else {
                self.report.taken.push(what);
                acc.buddies.push((handle.to_owned(), nick.to_owned()));
            }
        }
    }

    /// The file's tag when it is free, else BitlBee's own choice: the protocol name
    /// (`gtalk` for Google addresses) with the first free number from 2.
    fn tag(
        &mut self,
        raw: &RawAccount,
        protocol: &str,
        handle: &str,
        index: usize,
        planned: &[PlannedAccount],
    ) -> String {
        let free = |t: &str| !planned.iter().any(|a| a.tag.eq_ignore_ascii_case(t));
        if let Some(tag) = raw.tag.as_deref().filter(|t| !t.trim().is_empty())
            && free(tag)
        {
            return tag.to_owned();
        }
        let base = if protocol.eq_ignore_ascii_case("jabber")
            && (handle.contains("@gmail.com") || handle.contains("@googlemail.com"))
        {
            "gtalk".to_owned()
        } else {
            protocol.to_ascii_lowercase()
        };
        let tag = std::iter::once(base.clone())
            .chain((2..=planned.len() + 2).map(|n| format!("{base}{n}")))
            .find(|t| free(t))
            .unwrap_or_else(|| format!("{base}-{index}"));
        self.report.notes.push(match raw.tag.as_deref() {
            Some(old) if !old.trim().is_empty() => {
                format!("account tag {old} is used twice; the later account is tagged {tag}")
            }
            _ => format!("account {protocol} {handle} has no tag; it is tagged {tag}"),
        });
        tag
    }

    fn channel(
        &mut self,
        raw: &RawChannel,
        accounts: &[PlannedAccount],
        lost_tags: &HashSet<String>,
        seen: &mut HashSet<String>,
    ) -> Option<ChannelRecord> {
        let Some(name) = raw.name.as_deref() else {
            self.skip("a channel", "it has no name attribute");
            return None;
        };
        let label = format!("channel {name}");
        let Some(kind) = raw.kind.as_deref() else {
            self.skip(label, "it has no type attribute");
            return None;
        };
        if !(self.catalogue.valid_channel)(name) {
            self.skip(label, "not a channel name Waggle accepts");
            return None;
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            self.skip(label, "it is listed twice; the first is kept");
            return None;
        }
        let mut settings = BTreeMap::new();
        match map(Scope::Channel, CHANNEL, &[], "type", kind) {
            Verdict::Take { name, value } => settings.insert(name, value),
            Verdict::Skip(reason) => {
                self.skip(label, format!("its type {kind}: {reason}"));
                return None;
            }
        };
        // References to accounts and protocols must point at what Waggle has.
        let mut kept = Vec::new();
        for s in &raw.settings {
            let key = s.name.as_deref().map(str::to_ascii_lowercase);
            match key.as_deref() {
                Some("account") => {
                    if let Some(a) = accounts
                        .iter()
                        .find(|a| a.tag.eq_ignore_ascii_case(s.value.trim()))
                    {
                        kept.push(RawSetting {
                            value: a.tag.clone(),
                            ..s.clone()
                        });
                    } else if lost_tags.contains(&s.value.trim().to_ascii_lowercase()) {
                        self.skip(
                            label,
                            format!("it belongs to account {}, which was not imported", s.value),
                        );
                        return None;
                    } else {
                        self.skip(
                            format!("setting account of channel {name}"),
                            format!("no account is tagged {}", s.value),
                        );
                    }
                }
                Some("protocol") => match self.catalogue.protocols.get(s.value.trim()) {
                    Some(b) => kept.push(RawSetting {
                        value: b.protocol().to_owned(),
                        ..s.clone()
                    }),
                    None => {
                        self.skip(
                            label,
                            format!(
                                "it shows protocol {}, which Waggle has no backend for",
                                s.value
                            ),
                        );
                        return None;
                    }
                },
                _ => kept.push(s.clone()),
            }
        }
        self.report.taken.push(label);
        let what = |n: &str| format!("setting {n} of channel {name}");
        self.settings(Scope::Channel, &[], &kept, &what, &mut settings);
        Some(ChannelRecord {
            name: name.to_owned(),
            settings,
        })
    }
}

/// Decide what of `raw` (read from `<file_stem>.xml`) Waggle takes. `Err` says why
/// the file as a whole is unusable.
pub(crate) fn plan(
    raw: &RawUser,
    file_stem: &str,
    catalogue: &Catalogue,
) -> Result<Planned, String> {
    let user = raw.nick.clone();
    if !(catalogue.valid_nick)(&user) {
        return Err(format!("its nick {user:?} is not a nick Waggle accepts"));
    }
    let lc = legacy::nick_lc(&user);
    if lc != file_stem {
        return Err(format!(
            "its nick {user} does not match the file name (BitlBee keeps that user in {lc}.xml)"
        ));
    }
    if let Some(backend) = &raw.auth_backend {
        return Ok(Planned::NotImportable {
            user,
            reason: format!(
                "BitlBee checks their password through its {backend} authentication backend, which Waggle does not have; create them with `waggle user add`"
            ),
        });
    }
    let hash = raw.password.as_deref().unwrap_or_default();
    let login_hash = legacy::decode_login_hash(hash)
        .map_err(|e| format!("its password attribute is not BitlBee's salted MD5 hash: {e}"))?;

    let mut p = Planner {
        catalogue,
        report: UserImport {
            user: user.clone(),
            ..UserImport::default()
        },
    };
    let mut settings = BTreeMap::new();
    let what = |n: &str| format!("global setting {n}");
    p.settings(Scope::Global, &[], &raw.settings, &what, &mut settings);

    let mut accounts: Vec<PlannedAccount> = Vec::new();
    let mut lost_tags = HashSet::new();
    for (index, a) in raw.accounts.iter().enumerate() {
        if let Some(acc) = p.account(a, index, &accounts, &mut lost_tags) {
            accounts.push(acc);
        }
    }
    let mut channels = Vec::new();
    let mut seen = HashSet::new();
    for c in &raw.channels {
        if let Some(ch) = p.channel(c, &accounts, &lost_tags, &mut seen) {
            channels.push(ch);
        }
    }
    Ok(Planned::User(Box::new(Plan {
        login_hash,
        settings,
        accounts,
        channels,
        report: p.report,
    })))
}
