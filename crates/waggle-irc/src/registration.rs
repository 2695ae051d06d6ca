//! Client registration: PASS, NICK, USER, CAP negotiation and SASL PLAIN, up to the
//! point where the client is welcome and handed to its session.

use std::sync::Arc;

use base64::Engine;
use waggle_core::{UserId, store::UserKey};

use crate::caps::{self, Cap, CapSet};
use crate::codec::Incoming;
use crate::config::AuthMode;
use crate::conn::ClientTx;
use crate::input::Input;
use crate::line::Line;
use crate::nick::is_valid_nick;
use crate::server::Shared;

/// An identified gateway user.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub id: UserId,
    pub key: UserKey,
    pub name: String,
}

/// Failed SASL attempts a connection may make before it registers.
const MAX_SASL_FAILURES: u32 = 5;

/// What registration learnt about the client.
#[derive(Debug)]
pub(crate) struct ClientInfo {
    pub nick: String,
    pub user: String,
    pub realname: String,
    pub host: String,
    /// The address the connection comes from.
    pub peer: Option<std::net::IpAddr>,
    pub caps: CapSet,
    pub cap_302: bool,
    /// Identified through SASL.
    pub login: Option<Login>,
    /// A PASS to try as `identify` (open and registered modes).
    pub identify_with: Option<String>,
    /// The name the client gave itself (`alice@phone` in SASL or USER), for its
    /// own read position; empty without one.
    pub client_name: String,
}

/// Split `login@client` into the login and a client name; the client name keeps
/// letters, digits, `.`, `_` and `-` (at most 32), anything else means no name.
pub(crate) fn split_client_name(name: &str) -> (String, String) {
    match name.rsplit_once('@') {
        Some((login, client))
            if !login.is_empty()
                && !client.is_empty()
                && client.len() <= 32
                && client
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
        {
            (login.to_string(), client.to_string())
        }
        _ => (name.to_string(), String::new()),
    }
}

/// What the connection does next.
pub(crate) enum Step {
    Continue,
    Close,
    Done(Box<ClientInfo>),
}

pub(crate) struct Registration {
    shared: Arc<Shared>,
    client: ClientTx,
    host: String,
    peer: Option<std::net::IpAddr>,
    /// SASL attempts that failed during this registration.
    sasl_failures: u32,
    nick: Option<String>,
    user: Option<(String, String)>,
    pass: Option<String>,
    negotiating: bool,
    cap_302: bool,
    caps: CapSet,
    sasl_buffer: Option<String>,
    login: Option<Login>,
    client_name: String,
}

impl Registration {
    pub fn new(
        shared: Arc<Shared>,
        client: ClientTx,
        host: String,
        peer: Option<std::net::IpAddr>,
    ) -> Self {
        Registration {
            shared,
            client,
            host,
            peer,
            sasl_failures: 0,
            nick: None,
            user: None,
            pass: None,
            negotiating: false,
            cap_302: false,
            caps: CapSet::default(),
            sasl_buffer: None,
            login: None,
            client_name: String::new(),
        }
    }

    fn target(&self) -> String {
        self.nick.clone().unwrap_or_else(|| "*".into())
    }

    fn numeric(&self, code: &str) -> Line {
        Line::new(code)
            .prefix(&self.shared.config.name)
            .param(self.target())
    }

    fn send(&self, line: Line) {
        self.client.line(line);
    }

    pub async fn handle(&mut self, incoming: Incoming) -> Step {
        let msg = match incoming {
            Incoming::Message(m) => m,
            Incoming::TooLong => {
                self.send(self.numeric("417").param("Input line was too long"));
                return Step::Continue;
            }
            Incoming::Invalid { .. } => return Step::Continue,
        };
        let input = Input::from_message(&msg);
        match input.verb.as_str() {
            "PASS" => match input.params.first() {
                Some(p) => self.pass = Some(p.clone()),
                None => self.send(
                    self.numeric("461")
                        .param("PASS")
                        .param("Not enough parameters"),
                ),
            },
            "NICK" => self.nick_cmd(&input),
            "USER" => {
                if input.params.len() < 4
                    || input.params[3].is_empty()
                    || input.params[0].is_empty()
                {
                    self.send(
                        self.numeric("461")
                            .param("USER")
                            .param("Not enough parameters"),
                    );
                } else {
                    self.user = Some((input.params[0].clone(), input.params[3].clone()));
                }
            }
            "CAP" => self.cap(&input),
            "AUTHENTICATE" => {
                self.authenticate(&input).await;
                if self.sasl_exhausted() {
                    self.client.send(format!(
                        "ERROR :Closing link: {} (Too many failed login attempts)",
                        self.host
                    ));
                    return Step::Close;
                }
            }
            "REGISTER" => self.register(&input).await,
            "VERIFY" => self.send(crate::accounts_reg::verify(
                &self.shared.config.name,
                &input.params,
            )),
            "PING" => self.send(crate::line::ping_reply(
                &self.shared.config.name,
                &self.target(),
                input.params.first(),
            )),
            "PONG" => {}
            "QUIT" => {
                self.client.send(format!(
                    "ERROR :Closing link: {} (Quit: {})",
                    self.host,
                    crate::sanitize::one_line(input.arg(0))
                ));
                return Step::Close;
            }
            _ => {
                self.send(
                    self.numeric("451")
                        .param(&input.verb)
                        .param("You have not registered"),
                );
            }
        }
        self.try_finish()
    }

    fn nick_cmd(&mut self, input: &Input) {
        let Some(nick) = input.params.first().filter(|n| !n.is_empty()) else {
            self.send(self.numeric("431").param("No nickname given"));
            return;
        };
        if !is_valid_nick(nick) {
            self.send(self.numeric("432").param(nick).param("Erroneous nickname"));
            return;
        }
        if crate::nick::irc_lower(nick) == "root" {
            self.send(
                self.numeric("433")
                    .param(nick)
                    .param("Nickname is already in use"),
            );
            return;
        }
        self.nick = Some(nick.clone());
    }

    fn cap(&mut self, input: &Input) {
        let sub = input.arg(0).to_ascii_uppercase();
        if matches!(sub.as_str(), "LS" | "REQ") {
            self.negotiating = true;
        }
        if sub == "END" {
            self.negotiating = false;
            if self.sasl_buffer.take().is_some() {
                // The client gave up on SASL: abort it, then register.
                self.send(self.numeric("906").param("SASL authentication aborted"));
            }
        }
        let name = self.shared.config.name.clone();
        let target = self.target();
        let offer = caps::Offer {
            register_before_connect: self.shared.config.register_before_connect,
        };
        for line in caps::answer(
            &name,
            &target,
            input,
            &mut self.caps,
            &mut self.cap_302,
            offer,
        ) {
            self.send(line);
        }
    }

    async fn authenticate(&mut self, input: &Input) {
        if !self.caps.has(Cap::Sasl) {
            self.send(self.numeric("904").param("SASL authentication failed"));
            return;
        }
        if self.login.is_some() {
            self.send(
                self.numeric("907")
                    .param("You have already authenticated using SASL"),
            );
            return;
        }
        // In closed mode the server password comes first.
        if self.shared.config.auth_mode == AuthMode::Closed && !self.server_password_ok() {
            self.sasl_buffer = None;
            self.send(self.numeric("904").param("SASL authentication failed"));
            return;
        }
        let arg = input.arg(0);
        if arg == "*" {
            self.sasl_buffer = None;
            self.send(self.numeric("906").param("SASL authentication aborted"));
            return;
        }
        let Some(buffer) = self.sasl_buffer.as_mut() else {
            if arg.eq_ignore_ascii_case("PLAIN") {
                self.sasl_buffer = Some(String::new());
                self.client.send("AUTHENTICATE +".into());
            } else {
                self.send(
                    self.numeric("908")
                        .param("PLAIN")
                        .param("are available SASL mechanisms"),
                );
                self.send(self.numeric("904").param("SASL authentication failed"));
            }
            return;
        };
        if arg != "+" {
            buffer.push_str(arg);
        }
        if arg.len() == 400 && buffer.len() < 4096 {
            return; // more chunks follow
        }
        let payload = self.sasl_buffer.take().unwrap_or_default();
        let Some((authcid, password)) = decode_plain(&payload) else {
            self.send(self.numeric("904").param("SASL authentication failed"));
            return;
        };
        let (authcid, client_name) = split_client_name(&authcid);
        let wait = self.shared.guard.delay(&authcid, self.peer);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        match self.shared.store.authenticate(&authcid, &password).await {
            Ok(Some((id, key))) => {
                let nick = self.target();
                let user = self
                    .user
                    .as_ref()
                    .map(|u| u.0.clone())
                    .unwrap_or_else(|| nick.clone());
                self.send(
                    self.numeric("900")
                        .param(format!("{nick}!{user}@{}", self.host))
                        .param(&authcid)
                        .param(format!("You are now logged in as {authcid}")),
                );
                self.send(self.numeric("903").param("SASL authentication successful"));
                self.shared.guard.succeeded(&authcid);
                self.login = Some(Login {
                    id,
                    key,
                    name: authcid,
                });
                if !client_name.is_empty() {
                    self.client_name = client_name;
                }
            }
            Ok(None) => {
                tracing::info!(user = %authcid, peer = ?self.peer, "SASL login refused");
                self.shared.guard.failed(&authcid, self.peer);
                self.sasl_failures += 1;
                self.send(self.numeric("904").param("SASL authentication failed"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "store failed during SASL");
                self.send(self.numeric("904").param("SASL authentication failed"));
            }
        }
    }

    /// Whether this registration has used up its SASL attempts.
    fn sasl_exhausted(&self) -> bool {
        self.sasl_failures >= MAX_SASL_FAILURES
    }

    /// REGISTER before the connection is registered (`before-connect`): the new
    /// user is who the connection attaches as.
    async fn register(&mut self, input: &Input) {
        if !self.shared.config.register_before_connect {
            self.send(
                Line::new("FAIL")
                    .prefix(&self.shared.config.name)
                    .param("REGISTER")
                    .param("COMPLETE_CONNECTION_REQUIRED")
                    .param(input.arg(0))
                    .param("Register once connected"),
            );
            return;
        }
        let nick = self.nick.clone();
        match crate::accounts_reg::register(
            &self.shared,
            nick.as_deref(),
            self.login.is_some(),
            &input.params,
        )
        .await
        {
            crate::accounts_reg::Outcome::Registered { name, id, key } => {
                self.send(crate::accounts_reg::success(
                    &self.shared.config.name,
                    &name,
                ));
                self.login = Some(Login { id, key, name });
            }
            crate::accounts_reg::Outcome::Failed(line) => self.send(line),
        }
    }

    fn try_finish(&mut self) -> Step {
        if self.negotiating || self.sasl_buffer.is_some() {
            return Step::Continue;
        }
        let (Some(nick), Some((user, realname))) = (self.nick.clone(), self.user.clone()) else {
            return Step::Continue;
        };
        let cfg = &self.shared.config;
        if cfg.auth_mode == AuthMode::Closed {
            if !self.server_password_ok() {
                self.send(self.numeric("464").param("Password incorrect"));
                self.client.send(format!(
                    "ERROR :Closing link: {} (Password incorrect)",
                    self.host
                ));
                return Step::Close;
            }
            self.pass = None;
        }
        let identify_with = self.pass.take();
        let (user, name_from_user) = split_client_name(&user);
        let client_name = if self.client_name.is_empty() {
            name_from_user
        } else {
            std::mem::take(&mut self.client_name)
        };
        Step::Done(Box::new(ClientInfo {
            nick,
            user: user
                .chars()
                .filter(|c| !c.is_whitespace())
                .take(16)
                .collect(),
            realname,
            host: self.host.clone(),
            peer: self.peer,
            caps: self.caps,
            cap_302: self.cap_302,
            login: self.login.take(),
            identify_with,
            client_name,
        }))
    }

    fn server_password_ok(&self) -> bool {
        match (&self.pass, &self.shared.config.server_password) {
            (Some(given), Some(expected)) => {
                constant_time_eq(given.as_bytes(), expected.as_bytes())
            }
            _ => false,
        }
    }
}

/// Decode a SASL PLAIN payload into (authcid, password).
pub(crate) fn decode_plain(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let mut parts = raw.split(|b| *b == 0);
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    let password = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let authcid = if authcid.is_empty() { authzid } else { authcid };
    Some((
        String::from_utf8(authcid.to_vec()).ok()?,
        String::from_utf8(password.to_vec()).ok()?,
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_payload() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret");
        assert_eq!(decode_plain(&b64), Some(("alice".into(), "secret".into())));
        assert_eq!(decode_plain("!!"), None);
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"alice");
        assert_eq!(decode_plain(&b64), None);
    }
}
