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

pub(super) fn plugins(s: &mut Cx<'_>) {
    let protocols = s.available_protocols();
    s.root_say(&format!("Enabled Protocols: {protocols}"));
}
