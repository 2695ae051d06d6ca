//! `account`: add, list, del, on, off and set.

use waggle_core::registry::KNOWN_PROTOCOLS;
use waggle_core::{AccountId, AccountRecord, Secret};

use super::set::{self, Target};
use crate::user::Cx;
use crate::user::state::{Account, AccountState, Prompt};

fn canonical_protocol(s: &Cx<'_>, name: &str) -> Option<String> {
    if let Some(b) = s.shared.protocols.get(name) {
        return Some(b.protocol().to_string());
    }
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "xmpp" | "jabber" => Some("jabber".into()),
        _ if KNOWN_PROTOCOLS.contains(&lower.as_str()) => Some(lower),
        _ => None,
    }
}

fn missing_backend(s: &Cx<'_>, protocol: &str) -> String {
    format!(
        "This Waggle has no `{protocol}' backend yet, so the account can't go online. Protocols available: {}",
        s.available_protocols()
    )
}

pub(super) async fn account(s: &mut Cx<'_>, args: &[String]) {
    let sub = args[0].to_ascii_lowercase();
    let is = |word: &str, min: usize| sub.len() >= min && word.starts_with(&sub);
    if is("add", 1) {
        return add(s, &args[1..]).await;
    }
    if is("list", 1) {
        return list(s);
    }
    if args.len() == 1 && is("on", 2) {
        if s.accounts.is_empty() {
            s.root_say("No accounts known. Use `account add' to add one.");
            return;
        }
        s.root_say("Trying to get all accounts connected...");
        s.start_auto_accounts();
        return;
    }
    if args.len() == 1 && is("off", 2) {
        s.root_say("Deactivating all active (re)connections...");
        let ids: Vec<AccountId> = s
            .accounts
            .iter()
            .filter(|a| a.is_active())
            .map(|a| a.id)
            .collect();
        for id in ids {
            s.stop_account(id);
        }
        return;
    }
    if args.len() < 2 {
        s.root_say("Not enough parameters given (need 2).");
        return;
    }
    let reserved = ["on", "off", "set", "del"].contains(&sub.as_str());
    let Some(id) = (!reserved).then(|| s.find_account(&args[0])).flatten() else {
        s.root_say(&format!("Could not find account `{}'.", args[0]));
        return;
    };
    let verb = args[1].to_ascii_lowercase();
    let is = |word: &str, min: usize| verb.len() >= min && word.starts_with(&verb);
    if is("del", 1) {
        let active = s.account_by_id(id).is_some_and(|a| a.is_active());
        if active {
            s.root_say("Account is still logged in, can't delete");
            return;
        }
        let Some(pos) = s.accounts.iter().position(|a| a.id == id) else {
            return;
        };
        let acc = s.accounts.remove(pos);
        let handles: Vec<String> = s
            .contacts
            .keys()
            .filter(|(a, _)| *a == id)
            .map(|(_, h)| h.clone())
            .collect();
        for h in handles {
            if let Some(c) = s.contacts.remove(&(id, h)) {
                s.nicks.remove(&crate::nick::irc_lower(&c.nick));
            }
        }
        s.questions.retain(|q| q.account != id);
        s.delete_account_row(acc.rec.row).await;
        renumber(s).await;
        s.sync_control_channels(None);
        s.root_say("Account deleted");
    } else if is("on", 2) {
        let Some(acc) = s.account_by_id(id) else {
            return;
        };
        if acc.is_active() {
            s.root_say("Account already online");
        } else if s.shared.protocols.get(&acc.rec.protocol).is_none() {
            let proto = acc.rec.protocol.clone();
            s.root_say(&format!("Unknown protocol `{proto}'"));
            s.root_say(&missing_backend(s, &proto));
        } else {
            s.start_account(id);
        }
    } else if is("off", 2) {
        let active = s.account_by_id(id).is_some_and(|a| a.is_active());
        let connecting = s
            .account_by_id(id)
            .is_some_and(|a| a.state != AccountState::Online);
        if !active {
            s.root_say("Account already offline");
        } else {
            s.stop_account(id);
            if connecting {
                s.root_say("Reconnect cancelled");
            }
        }
    } else if is("set", 1) {
        set::run(s, Target::Account(id), &args[2..]).await;
    } else {
        s.root_say(&format!(
            "Unknown command: account {}. Please use \x02help commands\x02 to get a list of available commands.",
            args[1]
        ));
    }
}

async fn add(s: &mut Cx<'_>, args: &[String]) {
    if args.len() < 2 {
        s.root_say("Not enough parameters given (need 3).");
        return;
    }
    if args.len() < 3
        && let Some(pending) = s
            .accounts
            .iter()
            .find(|a| a.rec.password.is_none() && s.prompt() == Some(Prompt::AccountPassword(a.id)))
    {
        s.root_say(&format!(
            "Enter password for account {} first (use /OPER)",
            pending.rec.tag
        ));
        return;
    }
    let Some(protocol) = canonical_protocol(s, &args[0]) else {
        s.root_say("Unknown protocol");
        s.root_say(&format!(
            "`{}' is not a protocol this Waggle knows. Protocols available: {}",
            args[0],
            s.available_protocols()
        ));
        return;
    };
    if s.shared
        .protocols
        .get(&protocol)
        .is_some_and(|b| b.implicit_account(&s.nick).is_some())
    {
        s.root_say(&format!(
            "Accounts of protocol `{protocol}' are made by the gateway: every registered user has one (see account list)"
        ));
        return;
    }
    // The accounts the gateway makes itself are not the user's to count.
    let added = s
        .accounts
        .iter()
        .filter(|a| {
            s.shared
                .protocols
                .get(&a.rec.protocol)
                .is_none_or(|b| b.implicit_account(&s.nick).is_none())
        })
        .count();
    let most = s.shared.config.user_limits.accounts;
    if added >= most {
        s.root_say(&format!(
            "You may have at most {most} accounts on this server (see account list; account del removes one)"
        ));
        return;
    }
    let handle = args[1].clone();
    if s.accounts
        .iter()
        .any(|a| a.rec.protocol == protocol && a.rec.handle.eq_ignore_ascii_case(&handle))
    {
        s.root_say(&format!(
            "Warning: You already have an account with protocol `{protocol}' and username `{handle}'. Are you accidentally trying to add it twice?"
        ));
    }
    let mut tag = protocol.clone();
    let mut n = 2;
    while s
        .accounts
        .iter()
        .any(|a| a.rec.tag.eq_ignore_ascii_case(&tag))
    {
        tag = format!("{protocol}{n}");
        n += 1;
    }
    let id = AccountId(s.next_account);
    s.next_account += 1;
    let rec = AccountRecord {
        row: None,
        protocol: protocol.clone(),
        handle,
        tag: tag.clone(),
        password: args.get(2).cloned().map(Secret),
        settings: Default::default(),
        position: s.accounts.len() as u32,
    };
    let has_password = rec.password.is_some();
    s.accounts.push(Account::new(id, rec));
    s.save_account(id).await;
    s.root_say(&format!("Account successfully added with tag {tag}"));
    if !has_password {
        s.set_prompt(Some(Prompt::AccountPassword(id)));
        s.root_say("You can now use the /OPER command to enter the password");
    }
    if s.shared.protocols.get(&protocol).is_none() {
        s.root_say(&format!("Warning: {}", missing_backend(s, &protocol)));
    }
}

fn list(s: &mut Cx<'_>) {
    let mut lines = Vec::new();
    if s.tabular {
        lines.push("Account list:".to_string());
    }
    for (i, a) in s.accounts.iter().enumerate() {
        let state = match a.state {
            AccountState::Online => " (connected)",
            AccountState::Connecting if a.is_active() => " (connecting)",
            _ => "",
        };
        let protocol = if s.shared.protocols.get(&a.rec.protocol).is_some() {
            a.rec.protocol.clone()
        } else {
            format!("{} (missing!)", a.rec.protocol)
        };
        lines.push(format!(
            "{i:2} ({}): {protocol}, {}{state}",
            a.rec.tag, a.rec.handle
        ));
    }
    for l in lines {
        s.root_say(&l);
    }
    s.root_say("End of account list");
}

async fn renumber(s: &mut Cx<'_>) {
    let ids: Vec<(AccountId, u32)> = s
        .accounts
        .iter()
        .enumerate()
        .filter(|(i, a)| a.rec.position != *i as u32)
        .map(|(i, a)| (a.id, i as u32))
        .collect();
    for (id, pos) in ids {
        if let Some(a) = s.account_mut(id) {
            a.rec.position = pos;
        }
        s.save_account(id).await;
    }
}
