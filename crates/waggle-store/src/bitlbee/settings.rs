//! Mapping one BitlBee setting onto Waggle's settings registry: taken (under
//! Waggle's name, in its canonical form) or skipped with the reason.

use waggle_core::settings::{self, Scope, SettingDef, SettingKind, parse_bool};

/// What becomes of one BitlBee setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Stored under this name with this value.
    Take { name: String, value: String },
    /// Not stored, for this reason.
    Skip(String),
}

/// BitlBee settings Waggle has on purpose no use for, with the reason.
fn known_reason(scope: Scope, name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let reason = match (scope, name.as_str()) {
        (Scope::Global, "charset") => "Waggle speaks UTF-8 to IRC clients only",
        (Scope::Global, "last_version") => {
            "BitlBee's record of the last version it greeted you with"
        }
        (Scope::Global, "debug") => "BitlBee's protocol debugging output",
        (Scope::Global, "password") => {
            "the login password is taken from the file's password hash, at your first identify"
        }
        (Scope::Global, "show_offline" | "away_devoice") => {
            "obsolete in BitlBee; show_users says the same"
        }
        (Scope::Global, n) if n.starts_with("otr_") => "Waggle does not offer OTR",
        (Scope::Account, "password") => {
            "the account's password is taken from its password attribute"
        }
        (Scope::Account, "username") => "the account's login is taken from its handle attribute",
        (Scope::Account, "tag") => "the account's tag is taken from its tag attribute",
        (Scope::Account, "oauth") => "Waggle has no OAuth logins",
        (
            Scope::Account,
            "mail_notifications" | "mail_notifications_handle" | "mail_notifications_limit",
        ) => "Google Talk's mail notifications, which no XMPP server sends any more",
        _ => return None,
    };
    Some(reason)
}

fn scope_word(scope: Scope) -> &'static str {
    match scope {
        Scope::Global => "global",
        Scope::Account => "account",
        Scope::Channel => "channel",
    }
}

/// Map `name = value` of `scope` onto `table` (plus a protocol's `extra` account
/// settings).
pub(crate) fn map(
    scope: Scope,
    table: &[SettingDef],
    extra: &[SettingDef],
    name: &str,
    value: &str,
) -> Verdict {
    if let Some(reason) = known_reason(scope, name) {
        return Verdict::Skip(reason.into());
    }
    let Some(def) = settings::find(table, extra, name) else {
        return Verdict::Skip(format!(
            "Waggle has no {} setting of that name",
            scope_word(scope)
        ));
    };
    if scope == Scope::Account && def.name == "sasl" && parse_bool(value) == Some(false) {
        return Verdict::Skip(
            "BitlBee's old non-SASL login, which Waggle does not offer (it always uses SASL)"
                .into(),
        );
    }
    if def.kind == SettingKind::Action {
        return Verdict::Skip("an action on the online account, not a stored value".into());
    }
    if def.secret && scope != Scope::Channel {
        return Verdict::Skip("a password, which is not kept as a setting".into());
    }
    match def.validate(value) {
        Ok(value) => Verdict::Take {
            name: def.name.to_owned(),
            value,
        },
        Err(e) => match (def.kind, parse_bool(value)) {
            // BitlBee takes any boolean spelling for true/try/false choices (jabber `tls`).
            (SettingKind::Choice(words), Some(b)) if words.contains(&"true") => Verdict::Take {
                name: def.name.to_owned(),
                value: b.to_string(),
            },
            _ => Verdict::Skip(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waggle_core::settings::{ACCOUNT, CHANNEL, GLOBAL};

    fn take(name: &str, value: &str) -> Verdict {
        Verdict::Take {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn known_names_are_taken_in_canonical_form() {
        assert_eq!(
            map(Scope::Global, GLOBAL, &[], "private", "off"),
            take("private", "false")
        );
        assert_eq!(
            map(Scope::Global, GLOBAL, &[], "Nick_Format", "%full_name"),
            take("nick_format", "%full_name")
        );
        assert_eq!(
            map(Scope::Channel, CHANNEL, &[], "password", "roompw"),
            take("password", "roompw")
        );
    }

    #[test]
    fn unusable_ones_are_skipped_with_a_reason() {
        for (scope, table, name, value, reason) in [
            (Scope::Global, GLOBAL, "charset", "iso8859-1", "UTF-8"),
            (Scope::Global, GLOBAL, "otr_policy", "never", "OTR"),
            (
                Scope::Global,
                GLOBAL,
                "no_such_thing",
                "1",
                "no global setting",
            ),
            (
                Scope::Global,
                GLOBAL,
                "ops",
                "everybody",
                "Invalid value for `ops'",
            ),
            (
                Scope::Account,
                ACCOUNT,
                "password",
                "x",
                "password attribute",
            ),
            (
                Scope::Account,
                ACCOUNT,
                "proxy",
                "<local>",
                "no account setting",
            ),
        ] {
            match map(scope, table, &[], name, value) {
                Verdict::Skip(why) => assert!(why.contains(reason), "{name}: {why}"),
                other => panic!("{name} was {other:?}"),
            }
        }
    }
}
