//! The skype account settings (BitlBee's names and defaults, plus Waggle's
//! `fingerprint` and `cafile`), and the typed configuration read from them.

use std::path::PathBuf;

use waggle_core::settings::parse_bool;
use waggle_core::{AccountSpec, SettingDef, SettingKind};

use crate::error::SkypeError;
use crate::tls::parse_fingerprint;

use waggle_core::settings::account_setting as def;

/// The account settings of the `skype` protocol.
pub static SETTINGS: &[SettingDef] = &[
    def(
        "server",
        Some("localhost"),
        SettingKind::Str,
        "The host skyped runs on.",
    ),
    def(
        "port",
        Some("2727"),
        SettingKind::Int,
        "The TCP port skyped listens on.",
    ),
    def(
        "fingerprint",
        None,
        SettingKind::Str,
        "The SHA-256 fingerprint of skyped's certificate (AB:CD:…). Recorded at the first successful connection; a certificate with another fingerprint is refused.",
    ),
    def(
        "cafile",
        None,
        SettingKind::Str,
        "A file of CA certificates (PEM) to verify skyped's certificate with, instead of pinning its fingerprint.",
    ),
    def("mood_text", None, SettingKind::Str, "Your Skype mood text."),
    def(
        "call",
        None,
        SettingKind::Action,
        "Call someone: a contact's handle, a SkypeOut number (+3612345678) or several handles for a conference call. set -del call hangs up.",
    ),
    def(
        "balance",
        None,
        SettingKind::Action,
        "set balance query shows your SkypeOut balance.",
    ),
    def(
        "skypeout_offline",
        Some("true"),
        SettingKind::Bool,
        "Show SkypeOut contacts as offline (else as away).",
    ),
    def(
        "skypeconsole",
        Some("false"),
        SettingKind::Bool,
        "Add a contact named skypeconsole: what you send it goes to skyped as a raw Skype API command.",
    ),
    def(
        "skypeconsole_receive",
        Some("false"),
        SettingKind::Bool,
        "Show every line skyped sends as a message from skypeconsole in the control channel.",
    ),
    def(
        "auto_join",
        Some("false"),
        SettingKind::Bool,
        "Join your bookmarked Skype chats when the account logs in.",
    ),
    def(
        "test_join",
        Some("false"),
        SettingKind::Bool,
        "Show the Echo / Sound Test Service (echo123) as a contact.",
    ),
    def(
        "show_moods",
        Some("false"),
        SettingKind::Bool,
        "Say in the control channel when a contact changes their mood text.",
    ),
    def(
        "edit_prefix",
        Some("EDIT:"),
        SettingKind::Str,
        "What goes before a message a contact edited.",
    ),
    def(
        "read_groups",
        Some("false"),
        SettingKind::Bool,
        "Read your Skype contact groups (for channels with fill_by group; /invite there moves a contact).",
    ),
];

/// How skyped's certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Exactly the certificate with this SHA-256 hash.
    Pinned(Vec<u8>),
    /// Any certificate a CA in this file vouches for.
    Ca(PathBuf),
    /// Nothing recorded yet: accept, then record the fingerprint.
    FirstUse,
}

/// An account's settings, typed.
#[derive(Debug, Clone)]
pub struct SkypeConfig {
    /// skyped's host.
    pub server: String,
    /// skyped's port.
    pub port: u16,
    /// How its certificate is checked.
    pub trust: Trust,
    /// SkypeOut contacts show as offline.
    pub skypeout_offline: bool,
    /// The skypeconsole contact exists.
    pub skypeconsole: bool,
    /// Everything skyped sends is shown from skypeconsole.
    pub skypeconsole_receive: bool,
    /// Join bookmarked chats at login.
    pub auto_join: bool,
    /// Show echo123.
    pub test_join: bool,
    /// Announce mood text changes.
    pub show_moods: bool,
    /// Put before edited messages.
    pub edit_prefix: String,
    /// Read the contact groups.
    pub read_groups: bool,
    /// Our full name, set at login when given.
    pub display_name: Option<String>,
    /// Our mood text, set at login when given.
    pub mood_text: Option<String>,
    /// Our away text at login.
    pub away: Option<String>,
}

fn default_of(name: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| d.default)
        .unwrap_or("")
}

impl SkypeConfig {
    /// Read an account's settings, refusing values that cannot work.
    pub fn from_spec(spec: &AccountSpec) -> Result<SkypeConfig, SkypeError> {
        let get = |name: &str| spec.setting(name, default_of(name)).to_string();
        let opt = |name: &str| {
            spec.settings
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let port = get("port")
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| {
                SkypeError::Config(format!("Invalid port `{}' for skyped", get("port")))
            })?;
        let server = get("server").trim().to_string();
        if server.is_empty() {
            return Err(SkypeError::Config("The server setting is empty".into()));
        }
        let trust = match (opt("fingerprint"), opt("cafile")) {
            (Some(f), _) => Trust::Pinned(parse_fingerprint(&f).ok_or_else(|| {
                SkypeError::Config(format!(
                    "The fingerprint setting `{f}' is not a SHA-256 fingerprint (64 hex digits)"
                ))
            })?),
            (None, Some(path)) => Trust::Ca(PathBuf::from(path)),
            (None, None) => Trust::FirstUse,
        };
        let mut cfg = SkypeConfig {
            server,
            port,
            trust,
            skypeout_offline: true,
            skypeconsole: false,
            skypeconsole_receive: false,
            auto_join: false,
            test_join: false,
            show_moods: false,
            edit_prefix: get("edit_prefix"),
            read_groups: false,
            display_name: opt("display_name"),
            mood_text: opt("mood_text"),
            away: opt("away"),
        };
        for name in [
            "skypeout_offline",
            "skypeconsole",
            "skypeconsole_receive",
            "auto_join",
            "test_join",
            "show_moods",
            "read_groups",
        ] {
            let value = parse_bool(&get(name)).unwrap_or(default_of(name) == "true");
            cfg.set_flag(name, value);
        }
        Ok(cfg)
    }

    /// Change a boolean setting by name; false when there is no such flag.
    pub fn set_flag(&mut self, name: &str, value: bool) -> bool {
        let flag = match name {
            "skypeout_offline" => &mut self.skypeout_offline,
            "skypeconsole" => &mut self.skypeconsole,
            "skypeconsole_receive" => &mut self.skypeconsole_receive,
            "auto_join" => &mut self.auto_join,
            "test_join" => &mut self.test_join,
            "show_moods" => &mut self.show_moods,
            "read_groups" => &mut self.read_groups,
            _ => return false,
        };
        *flag = value;
        true
    }

    /// The default for a boolean setting.
    pub fn flag_default(name: &str) -> bool {
        default_of(name) == "true"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use waggle_core::{AccountId, Secret};

    fn spec(settings: &[(&str, &str)]) -> AccountSpec {
        AccountSpec {
            id: AccountId(0),
            protocol: "skype".into(),
            handle: "alice".into(),
            password: Secret("foo".into()),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            archive_cursors: Default::default(),
        }
    }

    #[test]
    fn defaults_are_bitlbees() {
        let c = SkypeConfig::from_spec(&spec(&[])).map_err(|e| e.to_string());
        let Ok(c) = c else {
            panic!("{c:?}");
        };
        assert_eq!((c.server.as_str(), c.port), ("localhost", 2727));
        assert_eq!(c.trust, Trust::FirstUse);
        assert!(c.skypeout_offline && !c.skypeconsole && !c.read_groups);
        assert_eq!(c.edit_prefix, "EDIT:");
        for d in SETTINGS {
            if let Some(v) = d.default {
                assert_eq!(d.validate(v).as_deref(), Ok(v), "{}", d.name);
            }
        }
    }

    #[test]
    fn values_and_refusals() {
        let fp = "AB:".repeat(31) + "AB";
        let c = SkypeConfig::from_spec(&spec(&[
            ("port", "4000"),
            ("fingerprint", &fp),
            ("read_groups", "true"),
        ]));
        let Ok(c) = c else { panic!("refused") };
        assert_eq!(c.port, 4000);
        assert_eq!(c.trust, Trust::Pinned(vec![0xAB; 32]));
        assert!(c.read_groups);
        assert!(SkypeConfig::from_spec(&spec(&[("port", "x")])).is_err());
        assert!(SkypeConfig::from_spec(&spec(&[("port", "70000")])).is_err());
        assert!(SkypeConfig::from_spec(&spec(&[("fingerprint", "12:34")])).is_err());
        let c = SkypeConfig::from_spec(&spec(&[("cafile", "/etc/ca.pem")]));
        assert!(matches!(c.map(|c| c.trust), Ok(Trust::Ca(_))));
    }
}
