//! IRC commands of a registered client, one module per family:
//! [`messages`] (PRIVMSG, NOTICE, TAGMSG), [`channels`] (JOIN, PART, TOPIC,
//! NAMES, LIST, INVITE, KICK, channel MODE), [`users`] (WHO, WHOIS, ISON,
//! USERHOST, NICK, user MODE, AWAY, SETNAME) and [`server`] (CAP, PING,
//! VERSION, TIME, MOTD, HELP, OPER, AUTHENTICATE).

mod channels;
mod messages;
mod server;
mod users;

use irc_proto::Message;

use super::Cx;
use crate::input::Input;

impl Cx<'_> {
    /// Handle one line of the origin client.
    pub(crate) async fn handle_irc(&mut self, msg: Message) {
        let input = Input::from_message(&msg);
        tracing::trace!(verb = %input.verb, "<-");
        match input.verb.as_str() {
            "PRIVMSG" | "NOTICE" => self.privmsg(&input).await,
            "TAGMSG" => self.tagmsg(&input),
            "JOIN" => self.join(&input).await,
            "PART" => self.part(&input).await,
            "NAMES" => self.names(&input),
            "TOPIC" => self.topic(&input).await,
            "MODE" => self.mode(&input),
            "WHO" => self.who(&input),
            "WHOIS" => self.whois(&input),
            "WHOWAS" => self.whowas(&input),
            "WATCH" => self.watch(&input),
            "COMPLETIONS" => self.completions(),
            "ISON" => self.ison(&input),
            "USERHOST" => self.userhost_cmd(&input),
            "AWAY" => {
                self.set_away(input.params.first().filter(|t| !t.is_empty()).cloned())
                    .await
            }
            "INVITE" => self.invite(&input),
            "KICK" => self.kick(&input),
            "LIST" => self.list(&input),
            "OPER" => self.oper(&input).await,
            "NICK" => self.nick_change(&input),
            "NICKSERV" | "NS" => self.nickserv(&input).await,
            "MOTD" => self.motd(),
            "HELP" | "HELPOP" => self.irc_help(&input.params),
            "MONITOR" => self.monitor(&input),
            "CHATHISTORY" => self.chathistory(&input).await,
            "MARKREAD" => self.markread(&input).await,
            "VERSION" => self.version(),
            "TIME" => self.time(),
            "CAP" => self.cap(&input),
            "SETNAME" => self.setname(&input),
            "AUTHENTICATE" => self.authenticate(&input).await,
            "REGISTER" => self.register_cmd(&input).await,
            "VERIFY" => self.verify(&input),
            "USER" | "PASS" => {
                let line = self.numeric("462").param("You may not reregister");
                self.send(line);
            }
            "PING" => {
                let line = crate::line::ping_reply(
                    &self.shared.config.name,
                    &self.nick,
                    input.params.first(),
                );
                self.send(line);
            }
            "PONG" | "QUIT" => {}
            "WALLOPS" => {
                let line = self
                    .numeric("481")
                    .param("Permission Denied- You're not an IRC operator");
                self.send(line);
            }
            _ => {
                let line = self
                    .numeric("421")
                    .param(&input.verb)
                    .param("Unknown command");
                self.send(line);
            }
        }
    }

    /// `461 <verb> :Not enough parameters` to the origin.
    pub(crate) fn need_more_params(&mut self, verb: &str) {
        let line = self
            .numeric("461")
            .param(verb)
            .param("Not enough parameters");
        self.send(line);
    }

    /// `403 <channel> :No such channel` to the origin.
    pub(crate) fn no_such_channel(&mut self, name: &str) {
        let line = self.numeric("403").param(name).param("No such channel");
        self.send(line);
    }

    /// `401 <nick> :No such nick/channel` to the origin.
    pub(crate) fn no_such_nick(&mut self, nick: &str) {
        let line = self
            .numeric("401")
            .param(nick)
            .param("No such nick/channel");
        self.send(line);
    }
}
