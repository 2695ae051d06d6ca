//! `help`: generated from the command registry and the settings registry.

use waggle_core::ProtocolRegistry;
use waggle_core::settings::{self, Scope, SettingDef};

use super::{COMMANDS, CommandDef, Resolve, resolve};
use crate::user::Cx;

const INDEX: &str = "These are the subjects root knows about:\n\n\
\x02quickstart\x02 - A short introduction\n\
\x02commands\x02 - All of root's commands\n\
\x02set\x02 - The settings you can change\n\
\x02channels\x02 - Control channels and chat channels\n\
\x02away\x02 - Being away\n\
\x02groupchats\x02 - Group chats\n\
\x02nick_changes\x02 - Changing your nick\n\
\x02nick_format\x02 - How contacts' nicks are made\n\
\x02identify_methods\x02 - The ways to identify\n\n\
Use \x02help <subject>\x02 or \x02help <command>\x02 for more.";

const QUICKSTART: &str = "Welcome to Waggle, a gateway from IRC to instant messaging networks.\n\n\
First add an account: \x02account add jabber you@example.org\x02 (root asks for the password through /OPER), \
then log it in with \x02account jabber on\x02. Your contacts join &bitlbee as IRC users: \
talk to them with /msg or by addressing them in the channel (\x02nick: hello\x02).\n\n\
To keep your accounts and settings, \x02register\x02 a password; next time \x02identify\x02 with it.";

const CHANNELS: &str = "&bitlbee is the control channel: root lives there together with your contacts.\n\n\
/join another &channel to make another control channel: named after an account tag, a protocol or a buddy-list group, \
it shows just those contacts; choose yourself with \x02channel <name> set fill_by group|account|protocol\x02 plus the matching \
group, account or protocol setting, and who is shown how with show_users.\n\n\
/join a new #channel and /invite a contact there to start a group chat. Named rooms become channels through \
\x02chat add <account> <room> [#channel]\x02; /join the channel to enter the room.";

const AWAY: &str = "/away <message> marks you away on every online account, and /away alone brings you back. \
It is the same as \x02set away <message>\x02 (and \x02set -del away\x02), and it is kept: you are still away the next time you identify.\n\n\
An account's own \x02away\x02 setting (\x02account <id> set away ...\x02) wins over it for that account. \
While no IRC client is attached, \x02detach_away\x02 stands in for being available.\n\n\
Protocols with away states of their own pick the closest one for your message; the message itself is shown to your contacts where the protocol can.";

const GROUPCHATS: &str = "A group chat is an IRC channel whose members are the people in the chat; root commands do not work there.\n\n\
To start one, /join a new #channel and /invite a contact into it, or use \x02chat with <nick>\x02. /invite more people the same way \
(they must be on the same account).\n\n\
Named rooms (XMPP multi-user chats) are added with \x02chat add <account> <room> [#channel]\x02 and entered with /join; \
\x02chat list <account>\x02 lists a server's rooms, and \x02chat add <account> !<number>\x02 takes one from that list. \
An invitation to a room makes its channel and an IRC INVITE: /join it to accept.";

const NICK_CHANGES: &str = "Change your own nick with /nick at any time, identified or not: your settings and accounts stay yours, \
saved under the name you registered with, and you identify with that name's password.\n\n\
Contacts' nicks are changed with \x02rename <old> <new>\x02 (kept across sessions); \x02rename -del <nick>\x02 goes back to the generated one. \
\x02rename root <new>\x02 renames root.";

const NICK_FORMAT: &str = "nick_format (global, or per account with account set) says how a contact's nick is made. Plain text is copied, and these are replaced:\n\n\
 %nick - the nick the protocol suggests, else the handle\n\
 %handle - the handle\n\
 %full_name - the contact's full name\n\
 %first_name - the full name up to its first space\n\
 %group - the contact's buddy-list group\n\
 %account - the account's tag\n\n\
A number right after the % keeps only that many characters (\x02[%3group]%-@nick\x02), and -X cuts the value at the first X \
(\x02%-@handle\x02: the handle up to its @). What a nick cannot hold is dropped, letters with accents become plain ones \
(unless utf8_nicks is on), a leading digit gets an underscore, and nicks are cut to 24 characters.";

const IDENTIFY_METHODS: &str = "All of these identify you the same way:\n\n\
 \x02identify <password>\x02 - to root, in &bitlbee or in a query (see help identify)\n\
 /msg nickserv identify <password>, /nickserv or /ns - the same, for auto-identify scripts\n\
 the server password - the password field of your IRC client's server settings\n\
 SASL PLAIN - when your client has it, the best choice\n\n\
For identifying automatically, use SASL or the server password. With auth_mode closed, the server password is the gateway's own instead.";

/// Help subjects that are not commands, with their text.
const TOPICS: &[(&str, &str)] = &[
    ("index", INDEX),
    ("quickstart", QUICKSTART),
    ("channels", CHANNELS),
    ("away", AWAY),
    ("groupchats", GROUPCHATS),
    ("nick_changes", NICK_CHANGES),
    ("nick_format", NICK_FORMAT),
    ("identify_methods", IDENTIFY_METHODS),
];

/// Every subject `help` knows, for COMPLETIONS: topics, commands and their
/// subcommands, and settings.
pub(crate) fn subjects(protocols: &ProtocolRegistry) -> Vec<String> {
    let mut out: Vec<String> = TOPICS.iter().map(|(t, _)| t.to_string()).collect();
    out.push("commands".into());
    for d in COMMANDS {
        out.push(d.name.to_string());
        for (sub, _, _) in d.subcommands {
            out.push(format!("{} {sub}", d.name));
        }
    }
    out.push("set".into());
    let mut names: Vec<&str> = [settings::GLOBAL, settings::ACCOUNT, settings::CHANNEL]
        .iter()
        .flat_map(|t| t.iter())
        .chain(
            protocols
                .protocols()
                .iter()
                .filter_map(|p| protocols.get(p))
                .flat_map(|b| b.settings().iter()),
        )
        .filter(|d| !d.secret)
        .map(|d| d.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    out.extend(names.into_iter().map(|n| format!("set {n}")));
    out
}

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
        [one] if TOPICS.iter().any(|(t, _)| t.eq_ignore_ascii_case(one)) => TOPICS
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(one))
            .map(|(_, text)| text.to_string())
            .unwrap_or_default(),
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
