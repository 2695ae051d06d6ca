//! Contact commands: `add`, `remove`, `info`, `rename`, `block`, `allow`, `blist`
//! and `group`.

use waggle_core::{AccountId, Command, Contact, PresenceState};

use crate::line::Line;
use crate::nick::{irc_lower, is_valid_nick};
use crate::user::Cx;
use crate::user::state::{AccountState, NickOwner};

fn online_account(s: &Cx<'_>, key: &str) -> Result<AccountId, &'static str> {
    let id = s.find_account(key).ok_or("Invalid account")?;
    match s.account_by_id(id) {
        Some(a) if a.accepts_commands() => Ok(id),
        _ => Err("That account is not on-line"),
    }
}

/// A contact named by nick, or by account and handle.
fn target(s: &Cx<'_>, args: &[String]) -> Result<(AccountId, String), String> {
    if let [acc, handle, ..] = args {
        let id = online_account(s, acc).map_err(str::to_string)?;
        return Ok((id, handle.clone()));
    }
    let nick = &args[0];
    let c = s
        .contact_by_nick(nick)
        .ok_or_else(|| format!("Nick `{nick}' does not exist"))?;
    match s.account_by_id(c.account) {
        Some(a) if a.accepts_commands() => Ok((c.account, c.handle.clone())),
        Some(_) => Err("That account is not on-line".into()),
        None => Err("Invalid account".into()),
    }
}

pub(super) async fn add(s: &mut Cx<'_>, args: &[String]) {
    let (tmp, args) = match args.first() {
        Some(f) if f.eq_ignore_ascii_case("-tmp") => (true, &args[1..]),
        _ => (false, args),
    };
    if args.len() < 2 {
        s.root_say("Not enough parameters given (need 2).");
        return;
    }
    let id = match online_account(s, &args[0]) {
        Ok(id) => id,
        Err(e) => return s.root_say(e),
    };
    // Refused before anything is said or a nick is taken for the contact.
    let can_add = s
        .account_by_id(id)
        .and_then(|a| s.shared.protocols.get(&a.rec.protocol))
        .is_some_and(|b| b.capabilities().contact_list);
    if !can_add {
        return s.root_say("Command `add' not supported by this protocol");
    }
    let mut handle = args[1].clone();
    // As BitlBee: `add jabber bob` means bob at the account's own domain.
    let domains = s
        .account_by_id(id)
        .and_then(|a| s.shared.protocols.get(&a.rec.protocol))
        .is_some_and(|b| b.handle_domains());
    if domains && !handle.starts_with('_') {
        let local = handle.strip_suffix('@').unwrap_or(&handle).to_string();
        if !local.contains('@')
            && let Some(domain) = s
                .account_by_id(id)
                .and_then(|a| a.rec.handle.split_once('@').map(|(_, d)| d.to_string()))
        {
            let domain = domain.split('/').next().unwrap_or(&domain).to_string();
            handle = format!("{local}@{domain}");
        }
    }
    if let Some(nick) = args.get(2) {
        if !is_valid_nick(nick) {
            return s.root_say(&format!("The requested nick `{nick}' is invalid"));
        }
        if s.nick_taken(&irc_lower(nick)) {
            return s.root_say(&format!("The requested nick `{nick}' already exists"));
        }
        s.nicks
            .insert(irc_lower(nick), NickOwner::Contact(id, handle.clone()));
        let (user, host) = s.contact_user_host(&protocol_of(s, id), &handle);
        s.contacts.insert(
            (id, handle.clone()),
            Box::new(crate::user::state::ContactEntry {
                account: id,
                handle: handle.clone(),
                nick: nick.clone(),
                display_name: None,
                group: None,
                presence: Default::default(),
                persistent: !tmp,
                last_channel: None,
                away_reply_after: None,
                online_since: None,
                user,
                host,
            }),
        );
    }
    if tmp {
        s.upsert_contact(
            id,
            Contact {
                handle: handle.clone(),
                ..Contact::default()
            },
            false,
        );
        let nick = s
            .contacts
            .get(&(id, handle.clone()))
            .map(|c| c.nick.clone())
            .unwrap_or_default();
        s.sync_control_channels(None);
        s.root_say(&format!(
            "Temporarily assigned nickname `{nick}' to contact `{handle}'"
        ));
        return;
    }
    let group = s
        .channels
        .iter()
        .find(|c| c.joined && matches!(c.cfg.fill_by, crate::user::settings::FillBy::Group(_)))
        .and_then(|c| c.cfg.group.clone());
    match &group {
        Some(g) => s.root_say(&format!("Adding `{handle}' to contact list (group {g})")),
        None => s.root_say(&format!("Adding `{handle}' to contact list")),
    }
    if s.send_command(id, Command::AddContact { handle, group })
        .is_err()
    {
        s.root_say("Command `add' not supported by this protocol");
    }
}

fn protocol_of(s: &Cx<'_>, id: AccountId) -> String {
    s.account_by_id(id)
        .map(|a| a.rec.protocol.clone())
        .unwrap_or_default()
}

pub(super) async fn remove(s: &mut Cx<'_>, args: &[String]) {
    let nick = &args[0];
    let Some(c) = s.contact_by_nick(nick).cloned() else {
        return s.root_say(&format!("Buddy `{nick}' not found"));
    };
    if s.send_command(
        c.account,
        Command::RemoveContact {
            handle: c.handle.clone(),
        },
    )
    .is_err()
    {
        let online = s
            .account_by_id(c.account)
            .is_some_and(|a| a.state == AccountState::Online);
        if online {
            return s.root_say("Command `remove' not supported by this protocol");
        }
    }
    s.forget_contact(c.account, &c.handle).await;
    s.root_say(&format!(
        "Buddy `{}' (nick {}) removed from contact list",
        c.handle, c.nick
    ));
}

pub(super) fn info(s: &mut Cx<'_>, args: &[String]) {
    match target(s, args) {
        Ok((id, handle)) => {
            if s.send_command(id, Command::GetInfo { handle }).is_err() {
                s.root_say("Command `info' not supported by this protocol");
            }
        }
        Err(e) => s.root_say(&e),
    }
}

pub(super) async fn rename(s: &mut Cx<'_>, args: &[String]) {
    let del = args[0].eq_ignore_ascii_case("-del");
    let old = if del { args.get(1) } else { Some(&args[0]) };
    let Some(old) = old.cloned() else {
        return s.root_say("Not enough parameters given (need 2).");
    };
    if irc_lower(&old) == irc_lower(&s.nick) {
        return s.root_say("Use /nick to change your own nickname");
    }
    if s.is_root(&old) && !del {
        let Some(new) = args.get(1).cloned() else {
            return s.root_say("Not enough parameters given (need 2).");
        };
        if !is_valid_nick(&new) {
            return s.root_say(&format!("Nick `{new}' is invalid"));
        }
        if !s.is_root(&new) && s.nick_taken(&irc_lower(&new)) {
            return s.root_say(&format!("Nick `{new}' already exists"));
        }
        super::set::rename_root(s, &new).await;
        return s.root_say("Nick successfully changed");
    }
    let Some(c) = s.contact_by_nick(&old).cloned() else {
        return s.root_say(&format!("Nick `{old}' does not exist"));
    };
    let new = if del {
        s.nicks.remove(&irc_lower(&c.nick));
        let fresh = s.make_nick(
            c.account,
            &c.handle,
            c.display_name.as_deref(),
            c.group.as_deref(),
        );
        s.nicks.insert(
            irc_lower(&c.nick),
            NickOwner::Contact(c.account, c.handle.clone()),
        );
        fresh
    } else {
        let Some(new) = args.get(1).cloned() else {
            return s.root_say("Not enough parameters given (need 2).");
        };
        if !is_valid_nick(&new) {
            return s.root_say(&format!("Nick `{new}' is invalid"));
        }
        if irc_lower(&new) != irc_lower(&c.nick) && s.nick_taken(&irc_lower(&new)) {
            return s.root_say(&format!("Nick `{new}' already exists"));
        }
        new
    };
    let old_mask = c.mask();
    s.nicks.remove(&irc_lower(&c.nick));
    s.nicks.insert(
        irc_lower(&new),
        NickOwner::Contact(c.account, c.handle.clone()),
    );
    if let Some(e) = s.contacts.get_mut(&(c.account, c.handle.clone())) {
        e.nick = new.clone();
    }
    for ch in s.channels.iter_mut() {
        if let Some(mut m) = ch.members.remove(&irc_lower(&c.nick)) {
            m.nick = new.clone();
            m.mask = format!(
                "{new}!{}",
                old_mask.split_once('!').map(|x| x.1).unwrap_or("")
            );
            ch.members.insert(irc_lower(&new), m);
        }
    }
    s.send(Line::new("NICK").prefix(old_mask).param(&new));
    s.save_contact(c.account, &c.handle).await;
    if del {
        s.root_say(&format!("Nickname reset to `{new}'"));
    } else {
        s.root_say("Nick successfully changed");
    }
}

pub(super) fn block_allow(s: &mut Cx<'_>, args: &[String], block: bool) {
    let word = if block { "block" } else { "allow" };
    if let [key] = args
        && let Some(id) = s.find_account(key)
        && s.account_by_id(id).is_some_and(|a| a.is_active())
    {
        return list_of(s, id, block);
    }
    let (id, handle) = match target(s, args) {
        Ok(t) => t,
        Err(e) => return s.root_say(&e),
    };
    let cmd = if block {
        Command::Block {
            handle: handle.clone(),
        }
    } else {
        Command::Allow {
            handle: handle.clone(),
        }
    };
    if s.send_command(id, cmd).is_err() {
        return s.root_say(&format!("Command `{word}' not supported by this protocol"));
    }
    if block {
        s.root_say(&format!("Buddy `{handle}' moved from allow- to block-list"));
    } else {
        s.root_say(&format!("Buddy `{handle}' moved from block- to allow-list"));
    }
}

/// `block <account>` / `allow <account>`: the list with each handle's nick.
fn list_of(s: &mut Cx<'_>, id: AccountId, block: bool) {
    let Some(a) = s.account_by_id(id) else { return };
    let list = if block { &a.blocked } else { &a.allowed };
    let row = |h: &str, n: &str, tabs: bool| {
        if tabs {
            format!("{h}\t{n}")
        } else {
            format!("{h:<32.32}  {n:<16.16}")
        }
    };
    let tabs = s.tabular;
    let mut lines = vec![row("Handle", "Nickname", tabs)];
    for h in list {
        let nick = s
            .contacts
            .get(&(id, h.clone()))
            .map(|c| c.nick.as_str())
            .unwrap_or("(none)");
        lines.push(row(h, nick, tabs));
    }
    lines.push("End of list.".into());
    for l in lines {
        s.root_say(&l);
    }
}

pub(super) fn blist(s: &mut Cx<'_>, args: &[String]) {
    let (online, away, offline) = match args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        Some("all") => (true, true, true),
        Some("offline") => (false, false, true),
        Some("away") => (false, true, false),
        Some("online") => (true, false, false),
        _ => (true, true, false),
    };
    let pattern = match args.get(1) {
        Some(p) => match regex_lite::RegexBuilder::new(p)
            .case_insensitive(true)
            .build()
        {
            Ok(r) => Some(r),
            Err(e) => {
                s.root_say(&e.to_string());
                None
            }
        },
        None => None,
    };
    let tabs = s.tabular;
    let row = |a: &str, b: &str, c: &str| {
        if tabs {
            format!("{a}\t{b}\t{c}")
        } else {
            format!("{:<24.24}  {:<40.40}  {}", a, b, c)
        }
    };
    s.root_say(&row("Nick", "Handle/Account", "Status"));
    // As BitlBee: typed in a control channel, only the contacts it takes.
    let scope = s
        .reply_to
        .as_deref()
        .and_then(|t| s.channel(t))
        .filter(|c| !c.is_chat())
        .cloned();
    let mut lines = Vec::new();
    let mut list: Vec<_> = s
        .contacts
        .values()
        .filter(|c| scope.as_ref().is_none_or(|ch| s.channel_wants(ch, c)))
        .collect();
    list.sort_by_key(|c| irc_lower(&c.nick));
    let (mut n_on, mut n_away, mut n_off) = (0, 0, 0);
    for c in list {
        let matches = pattern.as_ref().is_none_or(|r| r.is_match(&c.nick));
        let tag = s
            .account_by_id(c.account)
            .map(|a| a.rec.tag.as_str())
            .unwrap_or("");
        let who = format!("{} {}", c.handle, tag);
        match s.shown_state(c) {
            PresenceState::Online => {
                n_on += 1;
                if matches && online {
                    let st = match &c.presence.message {
                        Some(m) => format!("Online ({m})"),
                        None => "Online".into(),
                    };
                    lines.push(row(&c.nick, &who, &st));
                }
            }
            PresenceState::Away => {
                n_away += 1;
                if matches && away {
                    let st = s.away_text(c).unwrap_or_else(|| "Away".into());
                    lines.push(row(&c.nick, &who, &st));
                }
            }
            PresenceState::Offline => {
                n_off += 1;
                if matches && offline {
                    lines.push(row(&c.nick, &who, "Offline"));
                }
            }
        }
    }
    for l in lines {
        s.root_say(&l);
    }
    s.root_say(&format!(
        "{} buddies ({n_on} available, {n_away} away, {n_off} offline)",
        n_on + n_away + n_off
    ));
}

pub(super) fn group(s: &mut Cx<'_>, args: &[String]) {
    let sub = args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_else(|| "list".into());
    let mut groups: Vec<String> = s
        .contacts
        .values()
        .filter_map(|c| c.group.clone())
        .collect();
    groups.sort_by_key(|g| g.to_lowercase());
    groups.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    if "list".starts_with(&sub) {
        if s.tabular {
            s.root_say("Group list:");
        }
        for (i, g) in groups.iter().enumerate() {
            s.root_say(&format!("{i}. {g}"));
        }
        s.root_say("End of group list");
    } else if "info".starts_with(&sub) {
        let Some(name) = args.get(1) else {
            return s.root_say("Not enough parameters given (need 2).");
        };
        if !groups.iter().any(|g| g.eq_ignore_ascii_case(name)) {
            return s.root_say(&format!(
                "Unknown group: {name}. Please use \x02group list\x02 to get a list of available groups."
            ));
        }
        let mut members: Vec<String> = s
            .contacts
            .values()
            .filter(|c| {
                c.group
                    .as_deref()
                    .is_some_and(|g| g.eq_ignore_ascii_case(name))
            })
            .map(|c| c.nick.clone())
            .collect();
        members.sort_by_key(|n| irc_lower(n));
        if s.tabular {
            s.root_say(&format!("Members of {name}:"));
        }
        for (i, m) in members.iter().enumerate() {
            s.root_say(&format!("{i}. {m}"));
        }
        s.root_say("End of member list");
    } else {
        s.root_say(&format!(
            "Unknown command: group {}. Please use \x02help commands\x02 to get a list of available commands.",
            args[0]
        ));
    }
}
