//! Reading one BitlBee `storage_xml` file (format version 1) into plain records.
//!
//! The shape BitlBee 3.6 writes (`storage_xml.c`, `xml_generate`):
//!
//! ```text
//! <user nick="Alice" password="base64(md5+salt)" version="1">   (or auth_backend="…")
//!   <setting name="…" [locked="true"]>value</setting>            global settings
//!   <account protocol="jabber" handle="…" password="base64(iv+rc4)"
//!            autoconnect="true" tag="jabber" [server="…"] [locked="true"]>
//!     <buddy handle="…" nick="…"/>                                 stored nicks
//!     <setting name="…">value</setting>                            account settings
//!   </account>
//!   <channel name="#x" type="control|chat"> <setting …/> </channel>
//! </user>
//! ```
//!
//! Only settings that differ from BitlBee's defaults are written. Everything is kept
//! here as found (attributes may be missing); deciding what is usable is the
//! importer's job, so it can say precisely what it skipped and why.

use std::io::Read;
use std::path::Path;

use super::ImportError;

/// The largest file read. BitlBee's files are a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The most XML nodes a file may have (well above any real buddy list).
const MAX_NODES: u32 = 200_000;
/// The only format version BitlBee has written.
const FORMAT_VERSION: &str = "1";

/// A `<setting>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSetting {
    /// Its `name` attribute.
    pub name: Option<String>,
    /// Its text (empty when it has none).
    pub value: String,
    /// `locked="true"`.
    pub locked: bool,
}

/// A `<buddy>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawBuddy {
    pub handle: Option<String>,
    pub nick: Option<String>,
}

/// An `<account>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawAccount {
    pub protocol: Option<String>,
    pub handle: Option<String>,
    /// The encrypted password, still in base64.
    pub password: Option<String>,
    pub autoconnect: Option<String>,
    pub tag: Option<String>,
    pub server: Option<String>,
    pub locked: bool,
    pub settings: Vec<RawSetting>,
    pub buddies: Vec<RawBuddy>,
}

/// A `<channel>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawChannel {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub settings: Vec<RawSetting>,
}

/// A whole `<user>` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawUser {
    /// The `nick` attribute.
    pub nick: String,
    /// The login hash, still in base64; `None` with an auth backend.
    pub password: Option<String>,
    /// BitlBee's external authentication backend (PAM, LDAP), if the user has one.
    pub auth_backend: Option<String>,
    pub settings: Vec<RawSetting>,
    pub accounts: Vec<RawAccount>,
    pub channels: Vec<RawChannel>,
}

/// Read a file of at most [`MAX_FILE_BYTES`] and parse it.
pub(crate) fn read_file(path: &Path) -> Result<RawUser, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ImportError::Format {
        path: path.to_path_buf(),
        what: format!(
            "not UTF-8 text (byte {} is not; BitlBee writes UTF-8)",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse(&text).map_err(|what| ImportError::Format {
        path: path.to_path_buf(),
        what,
    })
}

fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

fn is_true(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.attribute(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn elements<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn settings(node: roxmltree::Node<'_, '_>) -> Vec<RawSetting> {
    elements(node, "setting")
        .map(|s| RawSetting {
            name: attr(s, "name"),
            value: s
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect(),
            locked: is_true(s, "locked"),
        })
        .collect()
}

/// Parse a file's text. The error says what is wrong, for [`ImportError::Format`].
pub(crate) fn parse(text: &str) -> Result<RawUser, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "user" {
        return Err(format!(
            "the root element is <{}>, not BitlBee's <user>",
            root.tag_name().name()
        ));
    }
    if let Some(version) = root.attribute("version")
        && version != FORMAT_VERSION
    {
        return Err(format!(
            "format version {version:?}; only BitlBee's version 1 is known"
        ));
    }
    let nick = attr(root, "nick").ok_or("<user> has no nick attribute")?;
    let password = attr(root, "password");
    let auth_backend = attr(root, "auth_backend");
    if password.is_none() && auth_backend.is_none() {
        return Err("<user> has neither a password nor an auth_backend attribute".into());
    }
    let accounts = elements(root, "account")
        .map(|a| RawAccount {
            protocol: attr(a, "protocol"),
            handle: attr(a, "handle"),
            password: attr(a, "password"),
            autoconnect: attr(a, "autoconnect"),
            tag: attr(a, "tag"),
            server: attr(a, "server"),
            locked: is_true(a, "locked"),
            settings: settings(a),
            buddies: elements(a, "buddy")
                .map(|b| RawBuddy {
                    handle: attr(b, "handle"),
                    nick: attr(b, "nick"),
                })
                .collect(),
        })
        .collect();
    let channels = elements(root, "channel")
        .map(|c| RawChannel {
            name: attr(c, "name"),
            kind: attr(c, "type"),
            settings: settings(c),
        })
        .collect();
    Ok(RawUser {
        nick,
        password,
        auth_backend,
        settings: settings(root),
        accounts,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bitlbee_file_parses() -> Result<(), String> {
        let user = parse(
            r#"<user password="bgNM1D2Xqql1H2B5soXNxn08wolL" nick="Alice" version="1">
	<setting name="auto_reconnect_delay">10*2&lt;600</setting>
	<account protocol="jabber" handle="alice@localhost" password="D+p2P0LTkhz48+Ki2Wlp7tRt" autoconnect="true" tag="jabber" server="127.0.0.1">
		<buddy handle="bob@localhost" nick="bobby"/>
		<setting name="tls" locked="true">false</setting>
	</account>
	<channel name="&amp;bitlbee" type="control">
		<setting name="auto_join">true</setting>
	</channel>
</user>"#,
        )?;
        assert_eq!(user.nick, "Alice");
        assert_eq!(user.settings[0].value, "10*2<600");
        let acc = &user.accounts[0];
        assert_eq!(acc.server.as_deref(), Some("127.0.0.1"));
        assert_eq!(acc.buddies[0].nick.as_deref(), Some("bobby"));
        assert!(acc.settings[0].locked);
        assert_eq!(user.channels[0].name.as_deref(), Some("&bitlbee"));
        Ok(())
    }

    #[test]
    fn broken_files_are_explained() {
        for (text, expected) in [
            ("<user nick='a' password='x'>", "not well-formed XML"),
            ("<users nick='a' password='x'/>", "not BitlBee's <user>"),
            ("<user password='x'/>", "no nick attribute"),
            ("<user nick='a'/>", "neither a password"),
            ("<user nick='a' password='x' version='2'/>", "version \"2\""),
            (
                "<!DOCTYPE user [<!ENTITY a 'aaaa'>]><user nick='&a;' password='x'/>",
                "not well-formed XML",
            ),
            ("", "not well-formed XML"),
        ] {
            match parse(text) {
                Ok(u) => panic!("{text:?} parsed as {u:?}"),
                Err(e) => assert!(e.contains(expected), "{text:?}: {e}"),
            }
        }
    }

    #[test]
    fn a_setting_without_text_is_empty() -> Result<(), String> {
        let user = parse("<user nick='a' password='x'><setting name='away'/></user>")?;
        assert_eq!(user.settings[0].value, "");
        assert_eq!(user.settings[0].name.as_deref(), Some("away"));
        Ok(())
    }
}
