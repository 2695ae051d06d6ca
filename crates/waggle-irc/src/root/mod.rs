//! Root's commands: one registry that both parses command lines (with prefix
//! abbreviation and quoting) and generates `help`, so the two cannot drift.

mod account;
mod auth;
mod chat;
mod contacts;
pub(crate) mod help;
mod misc;
mod set;

use crate::config::AuthMode;
use crate::user::Cx;

/// Which handler a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Id {
    Help,
    Register,
    Identify,
    Drop,
    Save,
    Set,
    Account,
    Channel,
    Chat,
    Add,
    Remove,
    Info,
    Rename,
    Block,
    Allow,
    Yes,
    No,
    Qlist,
    Blist,
    Group,
    Transfer,
    Plugins,
    Otr,
}

/// A root command's definition.
#[derive(Debug)]
pub(crate) struct CommandDef {
    pub name: &'static str,
    pub id: Id,
    /// Arguments needed after the command word.
    pub min_args: usize,
    /// Usable before identifying in `registered` mode.
    pub anonymous_ok: bool,
    pub syntax: &'static [&'static str],
    pub summary: &'static str,
    pub help: &'static str,
    /// Subcommands, for prefix matching and `help <command> <sub>`.
    pub subcommands: &'static [(&'static str, &'static str, &'static str)],
}

/// Every root command.
pub(crate) static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "help",
        id: Id::Help,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["help [subject]"],
        summary: "Show help",
        help: "Shows help on a command or subject. Start with \x02help commands\x02 or \x02help set\x02.",
        subcommands: &[],
    },
    CommandDef {
        name: "account",
        id: Id::Account,
        min_args: 1,
        anonymous_ok: false,
        syntax: &[
            "account add <protocol> <handle> [<password>]",
            "account list",
            "account <id|tag> del|on|off|set",
            "account on|off",
        ],
        summary: "IM account management",
        help: "Adds, lists, removes and switches IM accounts. An account is named by its number in \x02account list\x02 or by its tag.",
        subcommands: &[
            (
                "add",
                "account add <protocol> <handle> [<password>]",
                "Adds an account. Without a password, root asks for it through /OPER so it never shows in a log. The first account of a protocol gets the protocol's name as tag, the next name2 and so on.",
            ),
            (
                "del",
                "account <account id> del",
                "Removes an account (switch it off first).",
            ),
            (
                "on",
                "account [<account id>] on",
                "Logs an account in; without an id, every account with auto_connect.",
            ),
            (
                "off",
                "account [<account id>] off",
                "Logs an account off; without an id, all of them.",
            ),
            (
                "list",
                "account list",
                "Lists your accounts with their numbers, tags and state.",
            ),
            (
                "set",
                "account <account id> set [-del] [<setting> [<value>]]",
                "Shows or changes an account's settings.",
            ),
        ],
    },
    CommandDef {
        name: "add",
        id: Id::Add,
        min_args: 2,
        anonymous_ok: false,
        syntax: &["add [-tmp] <account id> <handle> [<nick>]"],
        summary: "Add a buddy to your contact list",
        help: "Adds a contact to an account's buddy list, optionally with the nick to show. With -tmp it is shown without being added to the list on the server.",
        subcommands: &[],
    },
    CommandDef {
        name: "allow",
        id: Id::Allow,
        min_args: 1,
        anonymous_ok: false,
        syntax: &[
            "allow <nick>",
            "allow <account id> <handle>",
            "allow <account id>",
        ],
        summary: "Unblock someone",
        help: "Takes someone off an account's block list (and onto its allow list, where the protocol has one). With just an account, lists that account's allow list.",
        subcommands: &[],
    },
    CommandDef {
        name: "block",
        id: Id::Block,
        min_args: 1,
        anonymous_ok: false,
        syntax: &[
            "block <nick>",
            "block <account id> <handle>",
            "block <account id>",
        ],
        summary: "Block someone",
        help: "Puts someone on an account's block list: they no longer see you nor reach you. With just an account, lists that account's block list.",
        subcommands: &[],
    },
    CommandDef {
        name: "blist",
        id: Id::Blist,
        min_args: 0,
        anonymous_ok: false,
        syntax: &["blist [all|online|offline|away] [<pattern>]"],
        summary: "List all the buddies in the current channel",
        help: "Lists your contacts with their handle, account and status: typed in a control channel, those that channel shows; only those whose nick matches the pattern (a regular expression) when one is given. Without a word, online and away ones.",
        subcommands: &[],
    },
    CommandDef {
        name: "channel",
        id: Id::Channel,
        min_args: 1,
        anonymous_ok: false,
        syntax: &[
            "channel list",
            "channel <channel> set [-del] [<setting> [<value>]]",
            "channel <channel> del",
        ],
        summary: "Channel list maintenance",
        help: "Lists your channels, changes their settings, or deletes them. A channel is named by its number in \x02channel list\x02 or its name.",
        subcommands: &[
            ("list", "channel list", "Lists your channels."),
            (
                "set",
                "channel <channel id> set [-del] [<setting> [<value>]]",
                "Shows or changes a channel's settings (fill_by, group, auto_join …).",
            ),
            (
                "del",
                "channel <channel id> del",
                "Deletes a channel you are not in.",
            ),
        ],
    },
    CommandDef {
        name: "chat",
        id: Id::Chat,
        min_args: 1,
        anonymous_ok: false,
        syntax: &[
            "chat add <account id> <room> [<channel>]",
            "chat list <account id> [<server>]",
            "chat with <nick>",
            "chat del <channel>",
        ],
        summary: "Chatroom list maintenance",
        help: "Binds group chats to IRC channels: \x02chat add\x02 then /join the channel.",
        subcommands: &[
            (
                "add",
                "chat add <account id> <room> [<channel>]",
                "Adds a chat room as a channel (named after the room unless given); /join it to enter.",
            ),
            (
                "list",
                "chat list <account id> [<server>]",
                "Lists the rooms a server offers.",
            ),
            (
                "with",
                "chat with <nick>",
                "Opens a new group chat with a contact.",
            ),
            (
                "del",
                "chat del <channel>",
                "Removes a chat channel (same as channel <channel> del).",
            ),
        ],
    },
    CommandDef {
        name: "drop",
        id: Id::Drop,
        min_args: 1,
        anonymous_ok: true,
        syntax: &["drop <password>"],
        summary: "Drop your account",
        help: "Deletes your registration and everything stored for you. Give your password to confirm.",
        subcommands: &[],
    },
    CommandDef {
        name: "ft",
        id: Id::Transfer,
        min_args: 0,
        anonymous_ok: false,
        syntax: &["ft [list|cancel <id>|reject]"],
        summary: "Short for transfer",
        help: "The same as \x02transfer\x02.",
        subcommands: &[],
    },
    CommandDef {
        name: "group",
        id: Id::Group,
        min_args: 0,
        anonymous_ok: false,
        syntax: &["group list", "group info <group>"],
        summary: "Contact group management",
        help: "Lists the groups of your buddy list, or the members of one.",
        subcommands: &[
            ("list", "group list", "Lists buddy-list groups."),
            ("info", "group info <group>", "Lists a group's members."),
        ],
    },
    CommandDef {
        name: "identify",
        id: Id::Identify,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["identify [-noload|-force] <password>"],
        summary: "Identify yourself with your password",
        help: "Logs you in with the password you registered with: your settings and accounts are loaded and accounts with auto_connect come online. -noload only checks the password; -force loads even though you already added accounts in this session. Without a password, root asks for it through /OPER.",
        subcommands: &[],
    },
    CommandDef {
        name: "info",
        id: Id::Info,
        min_args: 1,
        anonymous_ok: false,
        syntax: &["info <nick>", "info <account id> <handle>"],
        summary: "Request user information",
        help: "Asks the contact's network for their profile.",
        subcommands: &[],
    },
    CommandDef {
        name: "no",
        id: Id::No,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["no [<question number>]"],
        summary: "Deny a request",
        help: "Rejects a pending request (see qlist); without a number the one query_order picks.",
        subcommands: &[],
    },
    CommandDef {
        name: "otr",
        id: Id::Otr,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["otr ..."],
        summary: "Off-the-record encryption (not offered)",
        help: "Waggle does not offer OTR: no otr command or setting does anything here. For end-to-end encryption, use an IM client that does it (OMEMO for XMPP, say) on that conversation.",
        subcommands: &[],
    },
    CommandDef {
        name: "plugins",
        id: Id::Plugins,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["plugins", "plugins info <name>"],
        summary: "List the protocols this gateway has",
        help: "Lists the protocol backends built into this gateway; \x02plugins info <protocol>\x02 tells more about one.",
        subcommands: &[],
    },
    CommandDef {
        name: "qlist",
        id: Id::Qlist,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["qlist"],
        summary: "List all the unanswered questions root asked",
        help: "Lists pending requests with their numbers, for yes and no.",
        subcommands: &[],
    },
    CommandDef {
        name: "register",
        id: Id::Register,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["register [<password>]"],
        summary: "Register yourself",
        help: "Registers your current nick with a password and saves everything in this session; from then on every change is saved as it happens. Without a password, root asks for it through /OPER.",
        subcommands: &[],
    },
    CommandDef {
        name: "remove",
        id: Id::Remove,
        min_args: 1,
        anonymous_ok: false,
        syntax: &["remove <nick>"],
        summary: "Remove a buddy from your contact list",
        help: "Removes a contact from its account's buddy list.",
        subcommands: &[],
    },
    CommandDef {
        name: "rename",
        id: Id::Rename,
        min_args: 1,
        anonymous_ok: false,
        syntax: &["rename <oldnick> <newnick>", "rename -del <nick>"],
        summary: "Rename (renick) a buddy",
        help: "Gives a contact another nick, kept across sessions; -del goes back to the generated one.",
        subcommands: &[],
    },
    CommandDef {
        name: "save",
        id: Id::Save,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["save"],
        summary: "Save your account data",
        help: "Everything is saved as it changes; this only confirms it.",
        subcommands: &[],
    },
    CommandDef {
        name: "set",
        id: Id::Set,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["set [-del] [<setting> [<value>]]"],
        summary: "Miscellaneous settings",
        help: "Without arguments lists your settings; with a name shows one; with a value changes it; -del resets it. \x02help set <setting>\x02 describes each.",
        subcommands: &[],
    },
    CommandDef {
        name: "transfer",
        id: Id::Transfer,
        min_args: 0,
        anonymous_ok: false,
        syntax: &["transfer [list|cancel <id>|reject]"],
        summary: "Monitor, cancel, or reject file transfers",
        help: "Lists file transfers and cancels or rejects them.",
        subcommands: &[],
    },
    CommandDef {
        name: "yes",
        id: Id::Yes,
        min_args: 0,
        anonymous_ok: true,
        syntax: &["yes [<question number>]"],
        summary: "Accept a request",
        help: "Accepts a pending request (see qlist); without a number the one query_order picks.",
        subcommands: &[],
    },
];

/// Find a name in a list by exact match, else by unique prefix.
pub(crate) fn resolve<'a, T>(
    items: &'a [T],
    name: &str,
    key: impl Fn(&T) -> &str,
) -> Result<&'a T, Resolve> {
    let lower = name.to_ascii_lowercase();
    if let Some(x) = items.iter().find(|x| key(x) == lower) {
        return Ok(x);
    }
    let mut matches = items.iter().filter(|x| key(x).starts_with(&lower));
    match (matches.next(), matches.next()) {
        (Some(x), None) if !lower.is_empty() => Ok(x),
        (Some(_), Some(_)) => Err(Resolve::Ambiguous),
        _ => Err(Resolve::Unknown),
    }
}

/// Why a name did not resolve.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolve {
    Unknown,
    Ambiguous,
}

/// Split a command line into words; "double" or 'single' quotes group words and a
/// backslash escapes the next character inside quotes.
pub(crate) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '\'' {
            let quote = c;
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                } else if c == quote {
                    break;
                } else {
                    word.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

/// Run one root command line (already split into words).
pub(crate) async fn run_line(s: &mut Cx<'_>, words: &[String]) {
    let Some(first) = words.first() else { return };
    let def = match resolve(COMMANDS, first, |d| d.name) {
        Ok(d) => d,
        Err(Resolve::Ambiguous) => {
            let options: Vec<&str> = COMMANDS
                .iter()
                .filter(|d| d.name.starts_with(&first.to_ascii_lowercase()))
                .map(|d| d.name)
                .collect();
            s.root_say(&format!(
                "Ambiguous command: {first} (could be: {})",
                options.join(", ")
            ));
            return;
        }
        Err(Resolve::Unknown) => {
            s.root_say(&format!(
                "Unknown command: {first}. Please use \x02help commands\x02 to get a list of available commands."
            ));
            return;
        }
    };
    let args = &words[1..];
    if args.len() < def.min_args {
        s.root_say(&format!(
            "Not enough parameters given (need {}).",
            def.min_args
        ));
        return;
    }
    // As BitlBee: only `registered` mode wants an identified user (`closed`
    // asked for the server password before the client got in).
    if !def.anonymous_ok && !s.identified() && s.shared.config.auth_mode == AuthMode::Registered {
        s.root_say("This server only accepts registered users");
        return;
    }
    match def.id {
        Id::Help => help::help(s, args),
        Id::Register => auth::register(s, args).await,
        Id::Identify => auth::identify(s, args).await,
        Id::Drop => auth::drop_user(s, args).await,
        Id::Save => auth::save(s),
        Id::Set => set::global(s, args).await,
        Id::Account => account::account(s, args).await,
        Id::Channel => chat::channel(s, args).await,
        Id::Chat => chat::chat(s, args).await,
        Id::Add => contacts::add(s, args).await,
        Id::Remove => contacts::remove(s, args).await,
        Id::Info => contacts::info(s, args),
        Id::Rename => contacts::rename(s, args).await,
        Id::Block => contacts::block_allow(s, args, true),
        Id::Allow => contacts::block_allow(s, args, false),
        Id::Yes => misc::answer(s, args, true),
        Id::No => misc::answer(s, args, false),
        Id::Qlist => misc::qlist(s),
        Id::Blist => contacts::blist(s, args),
        Id::Group => contacts::group(s, args),
        Id::Transfer => misc::transfer(s, args),
        Id::Plugins => misc::plugins(s, args),
        Id::Otr => s.root_say(
            "OTR is not offered by Waggle: there is no off-the-record encryption here. See \x02help otr\x02.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            split_words(r#"set status "out to lunch""#),
            vec!["set", "status", "out to lunch"]
        );
        assert_eq!(split_words(r#"a 'b \' c' d"#), vec!["a", "b ' c", "d"]);
        assert_eq!(split_words("  acc   li "), vec!["acc", "li"]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn abbreviation() {
        assert_eq!(
            resolve(COMMANDS, "acc", |d| d.name).map(|d| d.id),
            Ok(Id::Account)
        );
        assert_eq!(
            resolve(COMMANDS, "a", |d| d.name).map(|d| d.id),
            Err(Resolve::Ambiguous)
        );
        assert_eq!(
            resolve(COMMANDS, "xyz", |d| d.name).map(|d| d.id),
            Err(Resolve::Unknown)
        );
        assert_eq!(
            resolve(COMMANDS, "add", |d| d.name).map(|d| d.id),
            Ok(Id::Add)
        );
    }

    #[test]
    fn registry_is_sorted_and_unique() {
        let names: Vec<&str> = COMMANDS.iter().map(|d| d.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names.len(), sorted.len());
    }
}
