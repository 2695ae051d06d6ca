//! `channel` and `chat`: the channel list, channel settings, and chat rooms bound
//! to channels.

use waggle_core::{Capabilities, Command};

use super::set::{self, Target};
use crate::nick::{CHANNELLEN, irc_lower};
use crate::user::state::{AccountState, Channel};
use crate::user::{CONTROL_CHANNEL, Cx};

pub(super) async fn channel(s: &mut Cx<'_>, args: &[String]) {
    let sub = args[0].to_ascii_lowercase();
    if "list".starts_with(&sub) {
        if s.tabular {
            s.root_say("Channel list:");
        }
        let lines: Vec<String> = s
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let kind = if c.is_chat() { "chat" } else { "control" };
                let joined = if c.joined { " (joined)" } else { "" };
                format!("{i:2}. {}, {kind} channel{joined}", c.name)
            })
            .collect();
        for l in lines {
            s.root_say(&l);
        }
        s.root_say("End of channel list");
        return;
    }
    let Some(name) = s.find_channel(&args[0]) else {
        // BitlBee's short form, typed in a channel: `channel set …` is about it.
        let here = s
            .reply_to
            .clone()
            .filter(|t| t.starts_with(['#', '&']))
            .and_then(|t| s.find_channel(&t));
        match here {
            Some(here) if !sub.is_empty() && "set".starts_with(&sub) => {
                set::run(s, Target::Channel(here), &args[1..]).await;
            }
            _ => s.root_say(&format!("Could not find channel `{}'", args[0])),
        }
        return;
    };
    let Some(verb) = args.get(1).map(|v| v.to_ascii_lowercase()) else {
        return s.root_say("Not enough parameters given (need 2).");
    };
    if "set".starts_with(&verb) {
        set::run(s, Target::Channel(name), &args[2..]).await;
    } else if "del".starts_with(&verb) {
        delete_channel(s, &name).await;
    } else {
        s.root_say(&format!(
            "Unknown command: channel [...] {}. Please use \x02help commands\x02 to get a list of available commands.",
            args[1]
        ));
    }
}

async fn delete_channel(s: &mut Cx<'_>, name: &str) {
    let joined = s.channel(name).is_some_and(|c| c.joined);
    if joined || irc_lower(name) == irc_lower(CONTROL_CHANNEL) {
        s.root_say(&format!(
            "Couldn't remove channel (main channel {CONTROL_CHANNEL} or channels you're still in cannot be deleted)."
        ));
        return;
    }
    s.channels.retain(|c| irc_lower(&c.name) != irc_lower(name));
    s.delete_channel_row(name).await;
    s.root_say(&format!("Channel {name} deleted."));
}

fn capabilities(s: &Cx<'_>, id: waggle_core::AccountId) -> Capabilities {
    s.account_by_id(id)
        .and_then(|a| s.shared.protocols.get(&a.rec.protocol))
        .map(|b| b.capabilities())
        .unwrap_or_default()
}

pub(super) async fn chat(s: &mut Cx<'_>, args: &[String]) {
    let sub = args[0].to_ascii_lowercase();
    match sub.as_str() {
        "add" => {
            if args.len() < 3 {
                return s.root_say("Not enough parameters given (need 3).");
            }
            let Some(id) = s.find_account(&args[1]) else {
                return s.root_say("Invalid account");
            };
            if !capabilities(s, id).rooms {
                return s.root_say("Named chatrooms not supported on that account.");
            }
            let room = match args[2].strip_prefix('!') {
                // BitlBee's `chat add <account> !N`: the Nth room of `chat list`.
                Some(n) => {
                    if s.account_by_id(id)
                        .is_none_or(|a| a.state != AccountState::Online)
                    {
                        return s.root_say("Not logged in to account.");
                    }
                    if !capabilities(s, id).room_list {
                        return s.root_say("Listing chatrooms not supported on that account.");
                    }
                    let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
                    let found = digits
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| i.checked_sub(1))
                        .and_then(|i| s.account_by_id(id).and_then(|a| a.room_list.get(i)))
                        .map(|r| r.id.clone());
                    match found {
                        Some(r) => r,
                        None => return s.root_say("Invalid chatroom index"),
                    }
                }
                None => args[2].clone(),
            };
            let mut channel = match args.get(3) {
                Some(c) => c.clone(),
                None => room.split('@').next().unwrap_or(&room).to_string(),
            };
            if !channel.starts_with(['#', '&']) {
                channel = format!("#{channel}");
            }
            channel = channel
                .chars()
                .filter(|c| !matches!(c, ' ' | ',' | '\x07' | ':' | '\r' | '\n' | '\0'))
                .collect();
            channel.truncate(crate::sanitize::floor_boundary(&channel, CHANNELLEN));
            if s.channel(&channel).is_some() {
                return s.root_say(&format!(
                    "A channel named `{channel}' already exists. Join with \x02/join {channel}\x02 or see \x02help channel\x02 to modify it"
                ));
            }
            if let Some(why) = s.channel_limit_reached(true) {
                return s.root_say(&why);
            }
            let tag = s
                .account_by_id(id)
                .map(|a| a.rec.tag.clone())
                .unwrap_or_default();
            let mut ch = Channel::new(&channel);
            ch.set("type", Some("chat".into()));
            ch.set("chat_type", Some("room".into()));
            ch.set("account", Some(tag));
            ch.set("room", Some(room));
            s.channels.push(ch);
            s.save_channel(&channel).await;
            s.root_say(&format!(
                "Chatroom successfully added, join with \x02/join {channel}\x02"
            ));
        }
        "list" => {
            if args.len() < 2 {
                return s.root_say("Not enough parameters given (need 2).");
            }
            let Some(id) = s.find_account(&args[1]) else {
                return s.root_say("Invalid account");
            };
            if s.account_by_id(id)
                .is_none_or(|a| a.state != AccountState::Online)
            {
                return s.root_say("Not logged in to account.");
            }
            if !capabilities(s, id).room_list {
                return s.root_say("Listing chatrooms not supported on that account.");
            }
            let _ = s.send_command(
                id,
                Command::ListRooms {
                    server: args.get(2).cloned(),
                },
            );
        }
        "with" => {
            if args.len() < 2 {
                return s.root_say("Not enough parameters given (need 2).");
            }
            let Some(c) = s.contact_by_nick(&args[1]).cloned() else {
                return s.root_say(&format!("Can't open a groupchat with {}.", args[1]));
            };
            if s.send_command(c.account, Command::ChatWith { handle: c.handle })
                .is_err()
            {
                s.root_say(&format!("Can't open a groupchat with {}.", args[1]));
            }
        }
        "del" => {
            if args.len() < 2 {
                return s.root_say("Not enough parameters given (need 2).");
            }
            match s.find_channel(&args[1]) {
                Some(name) => delete_channel(s, &name).await,
                None => s.root_say(&format!("Could not find channel `{}'", args[1])),
            }
        }
        _ => s.root_say(&format!(
            "Unknown command: chat {}. Did you mean \x02channel {}\x02?",
            args[0], args[0]
        )),
    }
}
