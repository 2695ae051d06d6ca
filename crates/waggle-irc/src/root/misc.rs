//! `yes`, `no`, `qlist`, `transfer` and `plugins`.

use waggle_core::Command;

use crate::user::Cx;

pub(super) fn answer(s: &mut Cx<'_>, args: &[String], accept: bool) {
    if s.questions.is_empty() {
        return s.root_say("Did I ask you something?");
    }
    let index = match args.first() {
        Some(n) => match n.parse::<usize>() {
            Ok(i) if i < s.questions.len() => i,
            _ => return s.root_say("Invalid query number"),
        },
        None if s.cfg.fifo => 0,
        None => s.questions.len() - 1,
    };
    let q = s.questions.remove(index);
    let tag = s
        .account_by_id(q.account)
        .map(|a| a.rec.tag.clone())
        .unwrap_or_default();
    let _ = s.send_command(q.account, Command::AnswerQuestion { id: q.id, accept });
    let verb = if accept { "Accepted" } else { "Rejected" };
    s.root_say(&format!("{tag} - {verb}: {}", q.text));
}

pub(super) fn qlist(s: &mut Cx<'_>) {
    if s.questions.is_empty() {
        return s.root_say("There are no pending questions.");
    }
    s.root_say("Pending queries:");
    let lines: Vec<String> = s
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let tag = s
                .account_by_id(q.account)
                .map(|a| a.rec.tag.as_str())
                .unwrap_or("Waggle");
            format!("{i}, {tag}: {}", q.text)
        })
        .collect();
    for l in lines {
        s.root_say(&l);
    }
}

pub(super) fn transfer(s: &mut Cx<'_>, args: &[String]) {
    match args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        None | Some("list") => s.root_say("No pending transfers"),
        Some("cancel") | Some("reject") => s.root_say("No such transfer"),
        Some(other) => s.root_say(&format!(
            "Unknown command: transfer {other}. Please use \x02help commands\x02 to get a list of available commands."
        )),
    }
}

/// `plugins`: BitlBee's table of plugins (here: the built-in protocol
/// backends) and the protocol list; `plugins info <name>` for one of them.
pub(super) fn plugins(s: &mut Cx<'_>, args: &[String]) {
    let version = env!("CARGO_PKG_VERSION");
    let names: Vec<String> = s
        .shared
        .protocols
        .protocols()
        .iter()
        .map(|p| p.to_string())
        .collect();
    if args.first().is_some_and(|a| a.eq_ignore_ascii_case("info")) {
        let Some(name) = args.get(1) else {
            return s.root_say("Not enough parameters given (need 2).");
        };
        // As BitlBee: nothing for a name it does not know.
        let Some(found) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) else {
            return;
        };
        let text = format!(
            "{found}:\n  Version: {version}\n  Description: the {found} protocol, built into Waggle"
        );
        return s.root_say(&text);
    }
    let row = |a: &str, b: &str, tabs: bool| {
        if tabs {
            format!("{a}\t{b}")
        } else {
            format!("{a:<30}  {b}")
        }
    };
    let tabs = s.tabular;
    let mut lines = vec![row("Plugin", "Version", tabs)];
    for n in &names {
        lines.push(row(n, version, tabs));
    }
    lines.push(" ".into());
    lines.push(format!("Enabled Protocols: {}", s.available_protocols()));
    for l in lines {
        s.root_say(&l);
    }
}
