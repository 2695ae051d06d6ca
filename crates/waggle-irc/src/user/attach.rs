//! What a newly attached client is sent: the welcome (001–005, MOTD), the user's
//! nick if it registered with another, the channels it is in (JOIN, topic,
//! NAMES) and the messages it has not seen since its last read position.

use tracing::info;

use super::state::{Channel, NickOwner};
use super::task::Task;
use super::{CONTROL_CHANNEL, CONTROL_TOPIC, NewClient};
use crate::client::Client;
use crate::line::Line;
use crate::outbox::{ClientId, To};
use crate::registration::Login;

const WELCOME: &str = "Welcome to the Waggle gateway!\n\n\
If you've never used Waggle before, please do read the help information using \
the \x02help\x02 command. Lots of FAQs are answered there.\n\
If you already have an account on this server, just use the \x02identify\x02 \
command to identify yourself.";

/// The welcome burst for a client registered as `nick`: 001–005 and the MOTD.
pub(crate) fn welcome_lines(shared: &crate::server::Shared, nick: &str) -> Vec<Line> {
    let name = &shared.config.name;
    let version = env!("CARGO_PKG_VERSION");
    let numeric = |code: &str| Line::new(code).prefix(name).param(nick);
    let mut out = vec![
        numeric("001").param(format!("Welcome to the Waggle gateway, {nick}")),
        numeric("002").param(format!("Host {name} is running Waggle {version}.")),
        numeric("003").param("Waggle, an IRC gateway to instant messaging networks"),
        numeric("004").params([name.as_str(), version, "abBiRsw", "Cimnpstv"]),
    ];
    let tokens = [
        "PREFIX=(ohv)@%+".to_string(),
        "CHANTYPES=&#".into(),
        "CHANMODES=,,,Cimnpst".into(),
        format!("NICKLEN={}", crate::nick::NICKLEN),
        format!("CHANNELLEN={}", crate::nick::CHANNELLEN),
        format!("NETWORK={}", shared.config.network),
        "SAFELIST".into(),
        "CASEMAPPING=rfc1459".into(),
        "MAXTARGETS=1".into(),
        "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,NAMES:,WHOIS:1,KICK:1".into(),
        "AWAYLEN=200".into(),
        "TOPICLEN=390".into(),
        "BOT=B".into(),
        format!("MONITOR={}", super::monitor::MONITOR_LIMIT),
        format!("CHATHISTORY={}", super::history::CHATHISTORY_LIMIT),
        "MSGREFTYPES=timestamp,msgid".into(),
    ];
    // At most 12 tokens a line keeps every 005 within IRC's 15 parameters.
    for chunk in tokens.chunks(12) {
        out.push(
            numeric("005")
                .params(chunk)
                .param("are supported by this server"),
        );
    }
    out.extend(motd_lines(shared, nick));
    out
}

/// The MOTD (375/372/376).
pub(crate) fn motd_lines(shared: &crate::server::Shared, nick: &str) -> Vec<Line> {
    let name = &shared.config.name;
    let numeric = |code: &str| Line::new(code).prefix(name).param(nick);
    let mut out = vec![numeric("375").param(format!("- {name} Message Of The Day - "))];
    for line in &shared.motd {
        out.push(numeric("372").param(format!("- {line}")));
    }
    out.push(numeric("376").param("End of /MOTD command."));
    out
}

impl Task {
    /// Add a client to the attached ones; returns its id.
    fn add_client(&mut self, new: &NewClient) -> ClientId {
        let client = Client::new(
            new.id,
            new.info.client_name.clone(),
            new.tx.clone(),
            new.closed.clone(),
            new.info.caps,
            new.info.cap_302,
            new.info.peer,
        );
        if !new.welcomed {
            for line in welcome_lines(&self.user.shared, &new.info.nick) {
                client.write(line);
            }
        }
        self.clients.push(client);
        new.id
    }

    /// The first client of a fresh task: it gives the user their nick and mask,
    /// joins the control channel, and identifies (SASL, PASS) or not.
    pub(super) async fn begin(&mut self, first: NewClient, login: Option<Login>) {
        let info = &first.info;
        self.user.nick = info.nick.clone();
        self.user.user = info.user.clone();
        self.user.realname = info.realname.clone();
        self.user.host = info.host.clone();
        let identify_with = info.identify_with.clone();
        let id = self.add_client(&first);
        self.open_control_channel();
        let mut cx = self.cx(Some(id));
        cx.join_channel_now(CONTROL_CHANNEL);
        cx.root_say(WELCOME);
        if let Some(login) = login {
            if cx.adopt_login(login, true, false).await {
                cx.logged_in_numerics();
                if cx.cfg.auto_connect {
                    cx.start_auto_accounts();
                }
            }
        } else if let Some(pass) = identify_with {
            crate::root::run_line(&mut cx, &["identify".to_string(), pass]).await;
        }
        self.flush(Some(id)).await;
        self.after_input(Some(id)).await;
    }

    /// A user started without a client (unattended restart): load, connect, away.
    pub(super) async fn begin_unattended(&mut self, login: Login) {
        self.user.nick = login.name.clone();
        self.user.user = login.name.clone();
        self.user.realname = login.name.clone();
        self.user.host = self.user.shared.config.name.clone();
        self.user.detached = true;
        self.open_control_channel();
        if let Some(ch) = self.user.channel_mut(CONTROL_CHANNEL) {
            ch.joined = true;
        }
        let mut cx = self.cx(None);
        cx.sync_control_channels(None);
        if cx.adopt_login(login, true, false).await {
            info!("started unattended");
            cx.start_auto_accounts();
        }
        self.flush(None).await;
    }

    fn open_control_channel(&mut self) {
        self.user.nicks.insert("root".into(), NickOwner::Root);
        if self.user.channel(CONTROL_CHANNEL).is_none() {
            let mut control = Channel::new(CONTROL_CHANNEL);
            control.topic = Some(CONTROL_TOPIC.into());
            control.topic_by = Some(self.user.root_nick());
            self.user.channels.push(control);
        }
    }

    /// Another client attaches to this (identified, running) user.
    pub(super) async fn attach(&mut self, new: NewClient) {
        if self.user.login.is_none() {
            // Only identified users are shared; an anonymous session has one client.
            new.tx.send(format!(
                "ERROR :Closing link: {} (session not available)",
                new.info.host
            ));
            new.closed.cancel();
            return;
        }
        let id = self.add_client(&new);
        info!(clients = self.clients.len(), "client attached");
        let was_detached = self.user.detached;
        self.user.detached = false;
        if crate::nick::irc_lower(&new.info.nick) != crate::nick::irc_lower(&self.user.nick) {
            let old = format!("{}!{}@{}", new.info.nick, self.user.user, self.user.host);
            let line = Line::new("NICK").prefix(old).param(&self.user.nick);
            self.out.line(To::Client(id), line);
        }
        let mut cx = self.cx(Some(id));
        cx.logged_in_numerics();
        cx.burst_channels(To::Client(id), &new.view);
        if let Some(away) = cx.away() {
            let line = cx.numeric("306").param(format!("You're now away: {away}"));
            cx.send(line);
        }
        for (rec, was_on) in new.accounts {
            cx.keep_account(rec, was_on).await;
        }
        if was_detached {
            cx.broadcast_presence();
        }
        self.flush(Some(id)).await;
        self.replay(id).await;
        if let Some(text) = new.greeting {
            self.cx(Some(id)).root_say(&text);
            self.flush(Some(id)).await;
        }
        self.after_input(Some(id)).await;
    }
}
