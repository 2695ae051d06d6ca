//! `help`: generated from the command registry and the settings registry.

use waggle_core::ProtocolRegistry;
use waggle_core::settings::{self, Scope, SettingDef};

use super::{COMMANDS, CommandDef, Resolve, resolve};
use crate::user::Cx;

const INDEX: &str = "These are the subjects root knows about:\n\n\
\x02quickstart\x02 - A short introduction\n\
\x02commands\x02 - All of root's commands\n\
\x02set\x02 - The settings you can change\n\
\x02channels\x02 - Control channels and chat channels\n\n\
Use \x02help <subject>\x02 or \x02help <command>\x02 for more.";

const QUICKSTART: &str = "Welcome to Waggle, a gateway from IRC to instant messaging networks.\n\n\
First add an account: \x02account add jabber you@example.org\x02 (root asks for the password through /OPER), \
then log it in with \x02account jabber on\x02. Your contacts join &bitlbee as IRC users: \
talk to them with /msg or by addressing them in the channel (\x02nick: hello\x02).\n\n\
To keep your accounts and settings, \x02register\x02 a password; next time \x02identify\x02 with it.";

const CHANNELS: &str = "&bitlbee is the control channel: root lives there together with your contacts.\n\n\
/join any other &channel or #channel to make another control channel and choose who it shows with \
\x02channel <name> set fill_by group|account|protocol\x02 plus the matching group, account or protocol setting.\n\n\
Group chats become channels through \x02chat add <account> <room> [#channel]\x02; /join the channel to enter the room.";

pub(super) fn help(s: &mut Cx<'_>, args: &[String]) {
    let text = text(args, &s.shared.protocols).unwrap_or_else(|| {
        format!(
            "No help available on `{}'. Try \x02help commands\x02.",
            args.join(" ")
        )
    });
    s.root_say(&text);
}

/// The help text on a subject, command, subcommand or setting; `None` when there is none.
pub(crate) fn text(args: &[String], protocols: &ProtocolRegistry) -> Option<String> {
    Some(match args {
        [] => INDEX.to_string(),
        [one] if one.eq_ignore_ascii_case("index") => INDEX.to_string(),
        [one] if one.eq_ignore_ascii_case("quickstart") => QUICKSTART.to_string(),
        [one] if one.eq_ignore_ascii_case("channels") => CHANNELS.to_string(),
        [one] if one.eq_ignore_ascii_case("commands") => commands(),
        [first, rest @ ..] if first.eq_ignore_ascii_case("set") => match rest.first() {
            None => settings_list(protocols),
            Some(name) => setting_help(name, protocols)?,
        },
        [first, rest @ ..] => match resolve(COMMANDS, first, |d| d.name) {
            Ok(def) => command_help(def, rest.first().map(String::as_str)),
            Err(Resolve::Ambiguous | Resolve::Unknown) => return None,
        },
    })
}

fn commands() -> String {
    let mut out =
        String::from("These are all root commands. See \x02help <command name>\x02 for more.\n");
    for d in COMMANDS {
        out.push_str(&format!("\n* \x02{}\x02 - {}", d.name, d.summary));
    }
    out
}

fn command_help(def: &CommandDef, sub: Option<&str>) -> String {
    if let Some(sub) = sub
        && let Ok((_, syntax, text)) = resolve(def.subcommands, sub, |x| x.0)
    {
        return format!("Syntax: {syntax}\n\n{text}");
    }
    let mut out = String::new();
    for syn in def.syntax {
        out.push_str(&format!("Syntax: {syn}\n"));
    }
    out.push('\n');
    out.push_str(def.help);
    if !def.subcommands.is_empty() {
        out.push_str("\n\nSubcommands:");
        for (name, syntax, _) in def.subcommands {
            out.push_str(&format!("\n* \x02{name}\x02: {syntax}"));
        }
        out.push_str(&format!(
            "\n\nSee \x02help {} <subcommand>\x02 for more.",
            def.name
        ));
    }
    out
}

fn settings_list(protocols: &ProtocolRegistry) -> String {
    let mut out = String::from("Settings (see \x02help set <name>\x02):\n\nGlobal:");
    for d in settings::GLOBAL.iter().filter(|d| !d.secret && !d.hidden) {
        out.push_str(&format!(" {}", d.name));
    }
    out.push_str("\nAccount:");
    for d in settings::ACCOUNT.iter().filter(|d| !d.secret) {
        out.push_str(&format!(" {}", d.name));
    }
    out.push_str("\nChannel:");
    for d in settings::CHANNEL.iter().filter(|d| !d.secret) {
        out.push_str(&format!(" {}", d.name));
    }
    for name in protocols.protocols() {
        let Some(backend) = protocols.get(name) else {
            continue;
        };
        let extra: Vec<&str> = backend
            .settings()
            .iter()
            .filter(|d| !d.secret)
            .map(|d| d.name)
            .collect();
        if !extra.is_empty() {
            out.push_str(&format!("\n{name} accounts: {}", extra.join(" ")));
        }
    }
    out
}

fn describe(d: &SettingDef) -> String {
    let scope = match d.scope {
        Scope::Global => "global",
        Scope::Account => "account",
        Scope::Channel => "channel",
    };
    format!(
        "Help on setting `{}' ({scope}):\nType: {}\nDefault: {}\n\n{}",
        d.name,
        d.type_name(),
        d.default.unwrap_or("empty"),
        d.help
    )
}

/// Help for a setting of any scope, protocols' account settings included.
pub(super) fn setting_help(name: &str, protocols: &ProtocolRegistry) -> Option<String> {
    let mut defs: Vec<String> = [settings::GLOBAL, settings::ACCOUNT, settings::CHANNEL]
        .iter()
        .filter_map(|t| settings::find(t, &[], name))
        .map(describe)
        .collect();
    for proto in protocols.protocols() {
        if let Some(d) = protocols
            .get(proto)
            .and_then(|b| settings::find(&[], b.settings(), name))
        {
            defs.push(format!("({proto} accounts) {}", describe(d)));
        }
    }
    (!defs.is_empty()).then(|| defs.join("\n\n"))
}
