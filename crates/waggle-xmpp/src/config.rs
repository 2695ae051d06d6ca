//! The account settings this backend declares, and the typed configuration one
//! login is made from.
//!
//! Names and defaults follow BitlBee's jabber module so that `account jabber set …`
//! works as BitlBee users expect; `cafile`, `fingerprint` and
//! `allow_plaintext_auth` are Waggle's own.

use std::path::PathBuf;

use waggle_core::settings::parse_bool;
use waggle_core::{AccountSpec, SettingDef, SettingKind};
use xmpp_parsers::jid::BareJid;

use crate::error::XmppError;
use crate::tls::parse_fingerprint;

use waggle_core::settings::account_setting as def;

/// The account settings of the `jabber` protocol (in addition to the common ones).
pub static SETTINGS: &[SettingDef] = &[
    def(
        "server",
        None,
        SettingKind::Str,
        "The host to connect to. When unset, the server is found through the domain's DNS SRV records (_xmpp-client._tcp, or _xmpps-client._tcp with ssl on), else the domain itself.",
    )
    .at_login(),
    def(
        "port",
        Some("5222"),
        SettingKind::Int,
        "The port to connect to, with server set or when the domain has no SRV records (5223 is used instead when ssl is on and port was not set).",
    )
    .at_login(),
    def(
        "tls",
        Some("true"),
        SettingKind::Choice(&["true", "try", "false"]),
        "STARTTLS: true requires it, try uses it when the server offers it, false never uses it.",
    )
    .at_login(),
    def(
        "ssl",
        Some("false"),
        SettingKind::Bool,
        "Direct TLS from the first byte (XEP-0368 style, usually port 5223) instead of STARTTLS.",
    )
    .at_login(),
    def(
        "tls_verify",
        Some("true"),
        SettingKind::Bool,
        "Verify the server's certificate against the system's CA certificates (and cafile). When off, the first certificate seen is trusted and its fingerprint recorded in the fingerprint setting.",
    )
    .at_login(),
    def(
        "cafile",
        None,
        SettingKind::Str,
        "A PEM file of extra CA certificates to trust for this account.",
    )
    .at_login(),
    def(
        "fingerprint",
        None,
        SettingKind::Str,
        "The SHA-256 fingerprint of the server's certificate (hex, colons optional). When set, exactly this certificate is accepted, verified or not.",
    )
    .at_login(),
    def(
        "resource",
        Some("Waggle"),
        SettingKind::Str,
        "The XMPP resource of this connection.",
    )
    .at_login(),
    def(
        "priority",
        Some("0"),
        SettingKind::Int,
        "The presence priority (-128 to 127); lowered by 5 while you are away.",
    ),
    def(
        "carbons",
        Some("true"),
        SettingKind::Bool,
        "Ask the server for copies of messages sent and received by your other clients (XEP-0280).",
    )
    .at_login(),
    def(
        "user_agent",
        Some("Waggle"),
        SettingKind::Str,
        "The client name given to contacts who ask for our software version.",
    ),
    def(
        "resource_select",
        Some("activity"),
        SettingKind::Choice(&["activity", "priority"]),
        "Which of a contact's resources (devices) your messages go to: activity, the one that last wrote to you (within activity_timeout, else the server chooses); priority, the one with the highest priority.",
    ),
    def(
        "activity_timeout",
        Some("600"),
        SettingKind::Int,
        "Seconds a resource that wrote to you stays the one resource_select activity sends to.",
    ),
    def(
        "xmlconsole",
        Some("false"),
        SettingKind::Bool,
        "Show the raw XML stream to and from the server as messages from the contact _xmlconsole; what you send it goes to the server as it is (an iq, message or presence stanza). Adding the contact _xmlconsole does the same for the session.",
    ),
    def(
        "sasl",
        Some("true"),
        SettingKind::Str,
        "The SASL mechanisms to log in with: true for any the server offers (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN), a comma-separated list to use only those, or names with a leading - to leave them out (-PLAIN). Waggle always logs in with SASL.",
    )
    .at_login(),
    def(
        "allow_plaintext_auth",
        Some("false"),
        SettingKind::Bool,
        "Allow SASL PLAIN over an unencrypted connection (sends the password in clear).",
    )
    .at_login(),
];

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte.
    DirectTls,
    /// STARTTLS; `required` refuses servers that don't offer it.
    StartTls {
        /// Fail when the server does not offer STARTTLS.
        required: bool,
    },
    /// No TLS at all.
    Plain,
}

/// Which of a contact's resources a message goes to (`resource_select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceSelect {
    /// The one that wrote last, while within `activity_timeout`.
    Activity,
    /// The one with the highest priority.
    Priority,
}

/// The SASL mechanisms an account may log in with (`sasl`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslChoice {
    /// Only these, when given.
    pub only: Option<std::collections::BTreeSet<String>>,
    /// Never these.
    pub exclude: std::collections::BTreeSet<String>,
}

impl SaslChoice {
    /// Parse `true`, `PLAIN,SCRAM-SHA-1` or `-PLAIN`.
    pub fn parse(value: &str) -> Result<SaslChoice, XmppError> {
        let value = value.trim();
        match parse_bool(value) {
            Some(true) => return Ok(SaslChoice::default()),
            Some(false) => {
                return Err(XmppError::Config(
                    "sasl false (the old non-SASL login) is not offered: Waggle always logs in with SASL; set sasl to true or to the mechanisms to use".into(),
                ));
            }
            None => {}
        }
        let mut out = SaslChoice::default();
        for word in value.split([',', ' ']).filter(|w| !w.is_empty()) {
            match word.strip_prefix('-') {
                Some(m) => {
                    out.exclude.insert(m.to_ascii_uppercase());
                }
                None => {
                    out.only
                        .get_or_insert_with(Default::default)
                        .insert(word.to_ascii_uppercase());
                }
            }
        }
        Ok(out)
    }

    /// The mechanisms of `usable` this choice allows.
    pub fn filter(
        &self,
        usable: std::collections::BTreeSet<String>,
    ) -> std::collections::BTreeSet<String> {
        usable
            .into_iter()
            .filter(|m| self.only.as_ref().is_none_or(|o| o.contains(m)))
            .filter(|m| !self.exclude.contains(m))
            .collect()
    }
}

/// What one login needs, checked and typed.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Our bare JID.
    pub jid: BareJid,
    /// The resource to bind.
    pub resource: String,
    /// The `server` setting: the host to connect to; `None` looks the domain's
    /// server up through DNS SRV records (else the domain itself).
    pub server: Option<String>,
    /// The port to connect to (with `server`, or when the domain has no SRV records).
    pub port: u16,
    /// TLS mode.
    pub security: Security,
    /// Verify the certificate chain.
    pub tls_verify: bool,
    /// Extra CA certificates.
    pub cafile: Option<PathBuf>,
    /// A pinned SHA-256 certificate fingerprint.
    pub fingerprint: Option<Vec<u8>>,
    /// Presence priority while available.
    pub priority: i8,
    /// Enable message carbons.
    pub carbons: bool,
    /// Our software name for version queries.
    pub user_agent: String,
    /// Allow PLAIN without TLS.
    pub allow_plaintext_auth: bool,
    /// Which resource messages go to.
    pub resource_select: ResourceSelect,
    /// How long the resource that wrote last stays the one messages go to.
    pub activity_timeout: std::time::Duration,
    /// Show the raw stream as the `_xmlconsole` contact from the start.
    pub xmlconsole: bool,
    /// Leave subscription requests unanswered instead of asking.
    pub ignore_auth_requests: bool,
    /// The SASL mechanisms allowed.
    pub sasl: SaslChoice,
    /// Initial away message.
    pub away: Option<String>,
    /// Initial status message.
    pub status: Option<String>,
}

fn setting<'a>(spec: &'a AccountSpec, key: &str) -> Option<&'a str> {
    let default = SETTINGS
        .iter()
        .find(|d| d.name == key)
        .and_then(|d| d.default);
    spec.settings
        .get(key)
        .map(String::as_str)
        .or(default)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn flag(spec: &AccountSpec, key: &str) -> Result<bool, XmppError> {
    match setting(spec, key) {
        None => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| XmppError::Config(format!("Invalid {key}: {v}"))),
    }
}

impl AccountConfig {
    /// Read and check an account's handle and settings.
    pub fn from_spec(spec: &AccountSpec) -> Result<AccountConfig, XmppError> {
        let (bare, handle_resource) = match spec.handle.split_once('/') {
            Some((b, r)) => (b, Some(r)),
            None => (spec.handle.as_str(), None),
        };
        let jid = BareJid::new(bare.trim())
            .map_err(|e| XmppError::Config(format!("Invalid JID {:?}: {e}", spec.handle)))?;
        if jid.node().is_none() {
            return Err(XmppError::Config(format!(
                "Invalid JID {:?}: it needs a user name (user@server)",
                spec.handle
            )));
        }
        let resource = handle_resource
            .filter(|r| !r.is_empty())
            .or_else(|| setting(spec, "resource"))
            .unwrap_or("Waggle")
            .to_string();
        let ssl = flag(spec, "ssl")?;
        let security = if ssl {
            Security::DirectTls
        } else {
            match setting(spec, "tls").map(str::to_ascii_lowercase).as_deref() {
                Some("try") => Security::StartTls { required: false },
                Some(v) if parse_bool(v) == Some(false) => Security::Plain,
                Some(v) if parse_bool(v) == Some(true) => Security::StartTls { required: true },
                None => Security::StartTls { required: true },
                Some(v) => return Err(XmppError::Config(format!("Invalid tls: {v}"))),
            }
        };
        let port = match spec.settings.get("port").map(|p| p.trim()) {
            Some(p) if !p.is_empty() => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| XmppError::Config(format!("Invalid port: {p}")))?,
            _ if ssl => 5223,
            _ => 5222,
        };
        let server = setting(spec, "server").map(str::to_string);
        let priority = match setting(spec, "priority") {
            None => 0,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .map(|p| p.clamp(-128, 127) as i8)
                .ok_or_else(|| XmppError::Config(format!("Invalid priority: {p}")))?,
        };
        let fingerprint = match setting(spec, "fingerprint") {
            None => None,
            Some(f) => Some(parse_fingerprint(f).ok_or_else(|| {
                XmppError::Config(format!(
                    "Invalid fingerprint {f:?}: expected 64 hex digits (a SHA-256 hash)"
                ))
            })?),
        };
        let text = |key: &str| {
            spec.settings
                .get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(AccountConfig {
            jid,
            resource,
            server,
            port,
            security,
            tls_verify: flag(spec, "tls_verify")?,
            cafile: setting(spec, "cafile").map(PathBuf::from),
            fingerprint,
            priority,
            carbons: flag(spec, "carbons")?,
            user_agent: setting(spec, "user_agent").unwrap_or("Waggle").to_string(),
            allow_plaintext_auth: flag(spec, "allow_plaintext_auth")?,
            resource_select: match setting(spec, "resource_select") {
                Some("priority") => ResourceSelect::Priority,
                _ => ResourceSelect::Activity,
            },
            activity_timeout: std::time::Duration::from_secs(
                setting(spec, "activity_timeout")
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(600)
                    .max(0) as u64,
            ),
            xmlconsole: flag(spec, "xmlconsole")?,
            ignore_auth_requests: spec
                .settings
                .get("ignore_auth_requests")
                .and_then(|v| parse_bool(v))
                .unwrap_or(false),
            sasl: SaslChoice::parse(setting(spec, "sasl").unwrap_or("true"))?,
            away: text("away"),
            status: text("status"),
        })
    }

    /// Whether TLS is used at all.
    pub fn wants_tls(&self) -> bool {
        self.security != Security::Plain
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use waggle_core::{AccountId, Secret};

    fn spec(handle: &str, settings: &[(&str, &str)]) -> AccountSpec {
        AccountSpec {
            id: AccountId(1),
            protocol: "jabber".into(),
            handle: handle.into(),
            password: Secret("pw".into()),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            archive_cursors: Default::default(),
        }
    }

    #[test]
    fn defaults_follow_bitlbee() {
        let c = AccountConfig::from_spec(&spec("me@example.org", &[])).expect("config");
        assert_eq!(c.server, None);
        assert_eq!(c.port, 5222);
        assert_eq!(c.security, Security::StartTls { required: true });
        assert!(c.tls_verify && c.carbons && !c.allow_plaintext_auth);
        assert_eq!(c.resource, "Waggle");
        assert_eq!(c.priority, 0);
    }

    #[test]
    fn settings_are_read() {
        let c = AccountConfig::from_spec(&spec(
            "Me@Example.org/phone",
            &[
                ("server", "127.0.0.1"),
                ("ssl", "true"),
                ("priority", "300"),
                ("fingerprint", &"ab:".repeat(32)[..95]),
            ],
        ))
        .expect("config");
        assert_eq!(c.jid.as_str(), "me@example.org");
        assert_eq!(c.resource, "phone");
        assert_eq!((c.server.as_deref(), c.port), (Some("127.0.0.1"), 5223));
        assert_eq!(c.security, Security::DirectTls);
        assert_eq!(c.priority, 127);
        assert_eq!(c.fingerprint, Some(vec![0xab; 32]));
        let c = AccountConfig::from_spec(&spec("a@b", &[("tls", "try")])).expect("config");
        assert_eq!(c.security, Security::StartTls { required: false });
        let c = AccountConfig::from_spec(&spec("a@b", &[("tls", "false")])).expect("config");
        assert_eq!(c.security, Security::Plain);
    }

    #[test]
    fn bad_values_are_config_errors() {
        for (handle, settings) in [
            ("example.org", vec![]),
            ("a@b", vec![("port", "70000")]),
            ("a@b", vec![("fingerprint", "abc")]),
            ("a@b", vec![("tls", "maybe")]),
        ] {
            assert!(matches!(
                AccountConfig::from_spec(&spec(handle, &settings)),
                Err(XmppError::Config(_))
            ));
        }
    }

    #[test]
    fn sasl_choices() {
        let set = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<std::collections::BTreeSet<_>>()
        };
        let usable = set(&["PLAIN", "SCRAM-SHA-1"]);
        assert_eq!(
            SaslChoice::parse("true").unwrap().filter(usable.clone()),
            usable
        );
        assert_eq!(
            SaslChoice::parse("-plain").unwrap().filter(usable.clone()),
            set(&["SCRAM-SHA-1"])
        );
        assert_eq!(
            SaslChoice::parse("PLAIN").unwrap().filter(usable.clone()),
            set(&["PLAIN"])
        );
        assert!(SaslChoice::parse("false").is_err());
    }

    #[test]
    fn setting_defaults_validate() {
        for d in SETTINGS {
            if let Some(v) = d.default {
                assert_eq!(d.validate(v).as_deref(), Ok(v), "{}", d.name);
            }
        }
    }
}
