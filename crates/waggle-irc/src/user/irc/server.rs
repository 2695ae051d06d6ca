//! CAP, AUTHENTICATE, OPER, NickServ, MOTD, HELP, VERSION, TIME.

use crate::caps::{self, Cap};
use crate::input::Input;
use crate::line::Line;
use crate::registration::{Login, decode_plain, split_client_name};
use crate::user::Cx;
use crate::user::state::Prompt;

const IRC_HELP_INDEX: &str = "Waggle is an IRC gateway: root in &bitlbee takes its commands (/msg root help).\n\
IRC commands: AWAY CAP CHATHISTORY HELP INVITE ISON JOIN KICK LIST MARKREAD MODE MONITOR MOTD NAMES NICK NOTICE OPER PART PING PRIVMSG QUIT SETNAME TAGMSG TIME TOPIC USERHOST VERSION WHO WHOIS";

const IRC_HELP: &[(&str, &str)] = &[
    (
        "AWAY",
        "AWAY [<text>]: mark yourself away on every IM account, or back without text.",
    ),
    (
        "CHATHISTORY",
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS ...: read your message history (IRCv3).",
    ),
    (
        "INVITE",
        "INVITE <nick> <channel>: invite a contact into a chat channel.",
    ),
    ("ISON", "ISON <nick> ...: which of these nicks are online."),
    (
        "JOIN",
        "JOIN <channel>[,<channel>] [<key>]: join a control channel or a chat added with chat add.",
    ),
    (
        "KICK",
        "KICK <channel> <nick> [<reason>]: remove someone from a chat where you moderate.",
    ),
    ("LIST", "LIST [<channel>]: list your channels."),
    (
        "MARKREAD",
        "MARKREAD <target> [timestamp=<time>]: read or move your read marker (IRCv3).",
    ),
    ("MODE", "MODE <nick|channel> [<modes>]: show modes."),
    ("NAMES", "NAMES <channel>: who is in a channel."),
    ("NICK", "NICK <nick>: change your nick."),
    ("NOTICE", "NOTICE <target> <text>: send a notice."),
    (
        "OPER",
        "OPER <anything> <password>: answer root's password prompt without the password showing in a log.",
    ),
    (
        "PART",
        "PART <channel> [<reason>]: leave a channel (and its chat room).",
    ),
    (
        "PRIVMSG",
        "PRIVMSG <nick|channel> <text>: talk to a contact, a chat, or root (commands).",
    ),
    (
        "TOPIC",
        "TOPIC <channel> [<topic>]: show or change a channel's topic.",
    ),
    ("WHO", "WHO <channel|nick>: list users."),
    (
        "WHOIS",
        "WHOIS <nick>: a contact's handle, account and status.",
    ),
];

impl Cx<'_> {
    /// `CAP LS|LIST|REQ|END` after registration (the same answers as during it).
    pub(super) fn cap(&mut self, input: &Input) {
        let server = self.shared.config.name.clone();
        let nick = self.nick.clone();
        let Some(client) = self.client.as_deref_mut() else {
            return;
        };
        let offer = caps::Offer {
            register_before_connect: self.u.shared.config.register_before_connect,
        };
        let lines = caps::answer(
            &server,
            &nick,
            input,
            &mut client.caps,
            &mut client.cap_302,
            offer,
        );
        for line in lines {
            self.send(line);
        }
    }

    /// AUTHENTICATE after registration: an identified client is told it already
    /// is (907); an anonymous one may identify through SASL PLAIN, as `identify`.
    pub(super) async fn authenticate(&mut self, input: &Input) {
        if !self.origin_has(Cap::Sasl) {
            let line = self.numeric("904").param("SASL authentication failed");
            return self.send(line);
        }
        if self.identified() {
            let line = self
                .numeric("907")
                .param("You have already authenticated using SASL");
            return self.send(line);
        }
        let arg = input.arg(0).to_string();
        if arg == "*" {
            if let Some(c) = self.client.as_deref_mut() {
                c.sasl = None;
            }
            let line = self.numeric("906").param("SASL authentication aborted");
            return self.send(line);
        }
        let Some(buffer) = self.client.as_deref_mut().and_then(|c| c.sasl.as_mut()) else {
            if arg.eq_ignore_ascii_case("PLAIN") {
                if let Some(c) = self.client.as_deref_mut() {
                    c.sasl = Some(String::new());
                }
                self.send(Line::new("AUTHENTICATE").param("+"));
            } else {
                let line = self
                    .numeric("908")
                    .param("PLAIN")
                    .param("are available SASL mechanisms");
                self.send(line);
                let line = self.numeric("904").param("SASL authentication failed");
                self.send(line);
            }
            return;
        };
        if arg != "+" {
            buffer.push_str(&arg);
        }
        if arg.len() == 400 && buffer.len() < 4096 {
            return; // more chunks follow
        }
        let payload = self
            .client
            .as_deref_mut()
            .and_then(|c| c.sasl.take())
            .unwrap_or_default();
        let Some((authcid, password)) = decode_plain(&payload) else {
            let line = self.numeric("904").param("SASL authentication failed");
            return self.send(line);
        };
        let (name, _) = split_client_name(&authcid);
        match self.check_password(&name, &password).await {
            Ok(Some((id, key))) => {
                let line = self
                    .numeric("900")
                    .param(self.my_mask())
                    .param(&name)
                    .param(format!("You are now logged in as {name}"));
                self.send(line);
                let line = self.numeric("903").param("SASL authentication successful");
                self.send(line);
                let login = Login { id, key, name };
                // SASL speaks for itself (900/903): no greeting, no +R.
                if self.adopt_login(login, true, true).await {
                    if self.cfg.auto_connect {
                        self.start_auto_accounts();
                    }
                } else if let Some((_, greeting)) = self.ctl.handover.as_mut() {
                    *greeting = None;
                }
            }
            Ok(None) => {
                let line = self.numeric("904").param("SASL authentication failed");
                self.send(line);
            }
            Err(e) => {
                tracing::warn!(error = %e, "store failed during SASL");
                let line = self.numeric("904").param("SASL authentication failed");
                self.send(line);
            }
        }
    }

    /// REGISTER once connected: becomes that user, as root's `register` does.
    pub(super) async fn register_cmd(&mut self, input: &Input) {
        let nick = self.nick.clone();
        let outcome = crate::accounts_reg::register(
            &self.shared,
            Some(&nick),
            self.identified(),
            &input.params,
        )
        .await;
        match outcome {
            crate::accounts_reg::Outcome::Registered { name, id, key } => {
                let login = Login {
                    id,
                    key,
                    name: name.clone(),
                };
                if !self.adopt_login(login, false, false).await {
                    return;
                }
                self.save_everything().await;
                let line = crate::accounts_reg::success(&self.shared.config.name, &name);
                self.send(line);
                self.logged_in_numerics();
            }
            crate::accounts_reg::Outcome::Failed(line) => self.send(line),
        }
    }

    /// VERIFY: registration never needs one.
    pub(super) fn verify(&mut self, input: &Input) {
        let line = crate::accounts_reg::verify(&self.shared.config.name, &input.params);
        self.send(line);
    }

    /// OPER answers root's password prompt.
    pub(super) async fn oper(&mut self, input: &Input) {
        let Some(password) = input.params.get(1).cloned() else {
            return self.need_more_params("OPER");
        };
        let Some(prompt) = self.prompt() else {
            let line = self
                .numeric("491")
                .param("No password was asked for (OPER only answers root's password prompts)");
            return self.send(line);
        };
        self.set_prompt(None);
        match prompt {
            Prompt::Identify { load, force } => {
                let mut words = vec!["identify".to_string()];
                if !load {
                    words.push("-noload".into());
                } else if force {
                    words.push("-force".into());
                }
                words.push(password);
                crate::root::run_line(self, &words).await;
            }
            Prompt::Register => {
                crate::root::run_line(self, &["register".to_string(), password]).await;
            }
            Prompt::AccountPassword(id) => {
                if let Some(a) = self.account_mut(id) {
                    a.rec.password = Some(waggle_core::Secret(password));
                }
                self.save_account(id).await;
                self.root_say("Password set");
            }
        }
    }

    /// `/NICKSERV` and `/NS`: any root command, as in BitlBee.
    pub(super) async fn nickserv(&mut self, input: &Input) {
        let words = crate::root::split_words(&input.params.join(" "));
        crate::root::run_line(self, &words).await;
    }

    /// COMPLETIONS, for the BitlBee completion scripts of irssi and WeeChat:
    /// root's commands, help subjects and global settings, as NOTICEs from root.
    pub(super) fn completions(&mut self) {
        let mut words = vec!["OK".to_string()];
        words.extend(crate::root::COMMANDS.iter().map(|d| d.name.to_string()));
        words.extend(
            crate::root::help::subjects(&self.shared.protocols)
                .into_iter()
                .map(|s| format!("help {s}")),
        );
        words.extend(
            waggle_core::settings::GLOBAL
                .iter()
                .filter(|d| !d.secret)
                .map(|d| format!("set {}", d.name)),
        );
        words.push("END".into());
        let mask = self.root_mask();
        for w in words {
            let line = Line::new("NOTICE")
                .prefix(&mask)
                .param(&self.nick)
                .param(format!("COMPLETIONS {w}"));
            self.send(line);
        }
    }

    pub(super) fn motd(&mut self) {
        for line in crate::user::attach::motd_lines(&self.shared, &self.nick) {
            self.send(line);
        }
    }

    pub(super) fn version(&mut self) {
        let line = self
            .numeric("351")
            .param(format!("Waggle-{}", env!("CARGO_PKG_VERSION")))
            .param(&self.shared.config.name)
            .param("Waggle IRC gateway");
        self.send(line);
    }

    pub(super) fn time(&mut self) {
        let now = time::OffsetDateTime::now_utc();
        let fmt = time::macros::format_description!(
            "[weekday] [month repr:long] [day] [year] -- [hour]:[minute]:[second] +00:00"
        );
        let text = now.format(&fmt).unwrap_or_default();
        let line = self
            .numeric("391")
            .param(&self.shared.config.name)
            .param(text);
        self.send(line);
    }

    /// HELP/HELPOP: IRC commands, then root's help subjects (704/705/706, 524).
    pub(super) fn irc_help(&mut self, args: &[String]) {
        let subject = args.join(" ");
        let text = if subject.is_empty() {
            Some(IRC_HELP_INDEX.to_string())
        } else {
            IRC_HELP
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(&subject))
                .map(|(_, t)| t.to_string())
                .or_else(|| {
                    crate::root::help::text(
                        &crate::root::split_words(&subject),
                        &self.shared.protocols,
                    )
                })
        };
        let shown = if subject.is_empty() {
            "*".to_string()
        } else {
            subject.clone()
        };
        let Some(text) = text else {
            let line = self
                .numeric("524")
                .param(&shown)
                .param("No help available on this topic");
            return self.send(line);
        };
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or_default();
        let line = self.numeric("704").param(&shown).param(first);
        self.send(line);
        for l in lines {
            let line = self
                .numeric("705")
                .param(&shown)
                .param(if l.is_empty() { " " } else { l });
            self.send(line);
        }
        let line = self.numeric("706").param(&shown).param("End of /HELP");
        self.send(line);
    }
}
