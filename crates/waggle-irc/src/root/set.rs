//! `set` for every scope: global (`set`), account (`account <id> set`) and channel
//! (`channel <ch> set`), all driven by the settings registry.

use std::collections::BTreeMap;

use waggle_core::settings::{self, SettingDef, SettingError, SettingKind};
use waggle_core::{AccountId, Command, Secret};

use crate::line::Line;
use crate::user::Cx;
use crate::user::state::AccountState;

/// What `set` operates on.
pub(super) enum Target {
    Global,
    Account(AccountId),
    Channel(String),
}

fn show(s: &mut Cx<'_>, def: Option<&SettingDef>, name: &str, value: Option<&str>) {
    match (def, value) {
        (Some(d), Some(_)) if d.secret => s.root_say(&format!("{name} = `********' (hidden)")),
        (_, Some(v)) => s.root_say(&format!("{name} = `{v}'")),
        (_, None) => s.root_say(&format!("{name} is empty")),
    }
}

fn defs_for(s: &Cx<'_>, target: &Target) -> Vec<SettingDef> {
    match target {
        Target::Global => settings::GLOBAL.to_vec(),
        Target::Account(id) => {
            let proto = s
                .account_by_id(*id)
                .map(|a| a.rec.protocol.clone())
                .unwrap_or_default();
            settings::ACCOUNT
                .iter()
                .chain(s.protocol_settings(&proto))
                .copied()
                .collect()
        }
        Target::Channel(_) => settings::CHANNEL.to_vec(),
    }
}

fn explicit(s: &Cx<'_>, target: &Target) -> BTreeMap<String, String> {
    match target {
        Target::Global => s.settings.clone(),
        Target::Account(id) => {
            let Some(a) = s.account_by_id(*id) else {
                return BTreeMap::new();
            };
            let mut m = a.rec.settings.clone();
            m.insert("tag".into(), a.rec.tag.clone());
            m.insert("username".into(), a.rec.handle.clone());
            if a.rec.password.is_some() {
                m.insert("password".into(), "set".into());
            }
            m
        }
        Target::Channel(name) => s
            .channel(name)
            .map(|c| c.settings().clone())
            .unwrap_or_default(),
    }
}

/// Run `set` arguments against a target.
pub(super) async fn run(s: &mut Cx<'_>, target: Target, args: &[String]) {
    let defs = defs_for(s, &target);
    let values = explicit(s, &target);
    let effective = |name: &str, def: Option<&SettingDef>| -> Option<String> {
        values
            .get(name)
            .cloned()
            .or_else(|| def.and_then(|d| d.default.map(str::to_string)))
    };
    let (del, name, value) = match args {
        [] => {
            for d in &defs {
                if (!d.secret || values.contains_key(d.name)) && !d.hidden {
                    show(s, Some(d), d.name, effective(d.name, Some(d)).as_deref());
                }
            }
            return;
        }
        [flag, name, ..] if flag.eq_ignore_ascii_case("-del") => (true, name.clone(), None),
        [flag] if flag.eq_ignore_ascii_case("-del") => {
            s.root_say("Not enough parameters given (need 2).");
            return;
        }
        [name] => (false, name.clone(), None),
        [name, value, ..] => (false, name.clone(), Some(value.clone())),
    };
    let def = defs
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(&name))
        .copied();
    let Some(def) = def else {
        s.root_say(&SettingError::Unknown(name.clone()).to_string());
        if matches!(target, Target::Global) {
            s.root_say("It might be an account or channel setting. See \x02help account set\x02 and \x02help channel set\x02.");
        }
        return;
    };
    if !del && value.is_none() {
        show(
            s,
            Some(&def),
            def.name,
            effective(def.name, Some(&def)).as_deref(),
        );
        return;
    }
    if def.read_only {
        s.root_say("This setting can not be changed");
        return;
    }
    let new = match value {
        Some(v) => match def.validate(&v) {
            Ok(v) => Some(v),
            Err(e) => {
                s.root_say(&e.to_string());
                return;
            }
        },
        None => None,
    };
    match apply(s, &target, &def, new.clone()).await {
        Ok(()) if def.secret => s.root_say("Setting changed successfully"),
        // An action is not stored: show what was run.
        Ok(()) if def.kind == SettingKind::Action => show(s, Some(&def), def.name, new.as_deref()),
        Ok(()) if def.name == "away_devoice" => show(s, Some(&def), def.name, def.default),
        Ok(()) => {
            let values = explicit(s, &target);
            let shown = values
                .get(def.name)
                .cloned()
                .or_else(|| def.default.map(str::to_string));
            show(s, Some(&def), def.name, shown.as_deref());
            if let Target::Account(id) = target
                && def.at_login
                && s.account_by_id(id).is_some_and(|a| a.is_active())
            {
                let tag = s
                    .account_by_id(id)
                    .map(|a| a.rec.tag.clone())
                    .unwrap_or_default();
                s.root_say(&format!(
                    "The account reads this setting when it logs in: it applies from its next connection (account {tag} off, then on)"
                ));
            }
        }
        Err(msg) => s.root_say(&msg),
    }
}

async fn apply(
    s: &mut Cx<'_>,
    target: &Target,
    def: &SettingDef,
    value: Option<String>,
) -> Result<(), String> {
    match target {
        Target::Global => apply_global(s, def, value).await,
        Target::Account(id) => apply_account(s, *id, def, value).await,
        Target::Channel(name) => {
            let name = name.clone();
            let Some(ch) = s.channel_mut(&name) else {
                return Err(format!("Could not find channel `{name}'"));
            };
            ch.set(def.name, value);
            s.save_channel(&name).await;
            s.sync_control_channels(None);
            Ok(())
        }
    }
}

async fn apply_global(
    s: &mut Cx<'_>,
    def: &SettingDef,
    value: Option<String>,
) -> Result<(), String> {
    if def.name == "password" {
        let (Some(login), Some(new)) = (s.login.clone(), value) else {
            return Err("Please identify first (and give a new password)".into());
        };
        return s
            .shared
            .store
            .change_password(login.id, &login.key, &new)
            .await
            .map_err(|e| format!("Failed to change setting: {e}"));
    }
    if def.name == "away_devoice" {
        // BitlBee's compatibility shim: not stored, it sets show_users everywhere.
        s.root_say(
            "Setting `away_devoice' is obsolete, use the `show_users' channel setting instead.",
        );
        let spec = match value.as_deref().and_then(settings::parse_bool) {
            Some(false) => "online,special%,away",
            _ => "online+,special%,away",
        };
        let names: Vec<String> = s.channels.iter().map(|c| c.name.clone()).collect();
        for name in names {
            if let Some(ch) = s.channel_mut(&name) {
                ch.set("show_users", Some(spec.to_string()));
            }
            s.save_channel(&name).await;
        }
        s.sync_control_channels(None);
        return Ok(());
    }
    let old_root = s.root_nick();
    s.put_setting(def.name, value.clone());
    s.save_setting(def.name, value.as_deref()).await;
    match def.name {
        "away" | "status" => s.broadcast_presence(),
        "root_nick" => {
            let new_root = s.root_nick();
            if !crate::nick::is_valid_nick(&new_root)
                || s.nicks.contains_key(&crate::nick::irc_lower(&new_root))
            {
                s.put_setting("root_nick", Some(old_root.clone()));
                s.save_setting("root_nick", Some(&old_root)).await;
                return Err(format!("Nick `{new_root}' is invalid or taken"));
            }
            root_renamed(s, &old_root, &new_root);
        }
        "ops" | "show_users" | "mobile_is_away" => s.sync_control_channels(None),
        _ => {}
    }
    Ok(())
}

async fn apply_account(
    s: &mut Cx<'_>,
    id: AccountId,
    def: &SettingDef,
    value: Option<String>,
) -> Result<(), String> {
    let online = s
        .account_by_id(id)
        .is_some_and(|a| a.state == AccountState::Online);
    if def.kind == SettingKind::Action {
        // A command to the running account (Skype's `call`), never stored.
        if !online {
            return Err("This setting can only be used while the account is online".into());
        }
        let cmd = Command::ApplySetting {
            key: def.name.to_string(),
            value,
        };
        return s
            .send_command(id, cmd)
            .map_err(|_| "The account did not take the setting".to_string());
    }
    if def.name == "tag" {
        let Some(tag) = value else {
            return Err("The tag can not be empty".into());
        };
        if s.accounts
            .iter()
            .any(|a| a.id != id && a.rec.tag.eq_ignore_ascii_case(&tag))
        {
            return Err(format!("Tag `{tag}' is already in use"));
        }
        if let Some(a) = s.account_mut(id) {
            a.rec.tag = tag;
        }
    } else if def.name == "password" {
        if let Some(a) = s.account_mut(id) {
            a.rec.password = value.map(Secret);
        }
    } else if let Some(a) = s.account_mut(id) {
        match &value {
            Some(v) => a.rec.settings.insert(def.name.to_string(), v.clone()),
            None => a.rec.settings.remove(def.name),
        };
        a.settings_changed();
    }
    s.save_account(id).await;
    if matches!(def.name, "away" | "status") {
        s.broadcast_presence();
    }
    if online && !def.secret && !def.read_only && def.name != "tag" {
        // Let the running account apply it (e.g. Skype's display_name, mood_text).
        let _ = s.send_command(
            id,
            Command::ApplySetting {
                key: def.name.to_string(),
                value: explicit(s, &Target::Account(id)).get(def.name).cloned(),
            },
        );
    }
    Ok(())
}

/// Show root's new nick everywhere (its setting already changed).
fn root_renamed(s: &mut Cx<'_>, old_root: &str, new_root: &str) {
    let server = s.shared.config.name.clone();
    let mask = format!("{old_root}!{old_root}@{server}");
    s.all(Line::new("NICK").prefix(mask).param(new_root));
    for ch in s.channels.iter_mut() {
        if let Some(mut m) = ch.members.remove(&crate::nick::irc_lower(old_root)) {
            m.nick = new_root.to_string();
            m.mask = format!("{new_root}!{new_root}@{server}");
            ch.members.insert(crate::nick::irc_lower(new_root), m);
        }
    }
}

/// `rename root <new>`: the same as `set root_nick <new>`, as in BitlBee.
pub(super) async fn rename_root(s: &mut Cx<'_>, new_root: &str) {
    let old_root = s.root_nick();
    s.put_setting("root_nick", Some(new_root.to_string()));
    s.save_setting("root_nick", Some(new_root)).await;
    root_renamed(s, &old_root, new_root);
}

pub(super) async fn global(s: &mut Cx<'_>, args: &[String]) {
    run(s, Target::Global, args).await;
}
