//! IRCv3 `draft/account-registration`: `REGISTER <account> <email> <password>`
//! makes a gateway user from the current nick, as root's `register` does, so
//! clients can sign up without talking to root; `VERIFY` has nothing to verify
//! (no e-mail is ever asked for). Failures are standard replies.

use waggle_core::{StoreError, UserId, UserKey};

use crate::config::AuthMode;
use crate::line::Line;
use crate::server::Shared;

/// What a REGISTER asked for, once checked.
pub(crate) enum Outcome {
    /// The user exists now.
    Registered {
        name: String,
        id: UserId,
        key: UserKey,
    },
    /// A `FAIL REGISTER …` reply.
    Failed(Line),
}

fn fail(server: &str, code: &str, account: &str, text: &str) -> Line {
    Line::new("FAIL")
        .prefix(server)
        .param("REGISTER")
        .param(code)
        .param(account)
        .param(text)
}

/// Check and carry out `REGISTER` for a client whose nick is `nick`.
pub(crate) async fn register(
    shared: &Shared,
    nick: Option<&str>,
    identified: bool,
    params: &[String],
) -> Outcome {
    let server = shared.config.name.as_str();
    let account = params.first().map(String::as_str).unwrap_or("*");
    let (Some(_), Some(password)) = (params.get(1), params.get(2)) else {
        return Outcome::Failed(fail(
            server,
            "INVALID_PARAMS",
            account,
            "Not enough parameters",
        ));
    };
    if shared.config.auth_mode != AuthMode::Open {
        return Outcome::Failed(fail(
            server,
            "DISALLOWED",
            account,
            "This server does not allow registering new accounts",
        ));
    }
    if identified {
        return Outcome::Failed(fail(
            server,
            "ALREADY_AUTHENTICATED",
            account,
            "You are already registered and identified",
        ));
    }
    let Some(nick) = nick else {
        return Outcome::Failed(fail(
            server,
            "INVALID_PARAMS",
            account,
            "Choose a nick first",
        ));
    };
    if account != "*" && crate::nick::irc_lower(account) != crate::nick::irc_lower(nick) {
        return Outcome::Failed(fail(
            server,
            "ACCOUNT_NAME_MUST_BE_NICK",
            account,
            "Your account name is your nick",
        ));
    }
    if password.is_empty() || password.contains(' ') {
        return Outcome::Failed(fail(
            server,
            "UNACCEPTABLE_PASSWORD",
            nick,
            "The password must be one word, not empty",
        ));
    }
    match shared.store.create_user(nick, password).await {
        Ok((id, key)) => Outcome::Registered {
            name: nick.to_string(),
            id,
            key,
        },
        Err(StoreError::UserExists(_)) => Outcome::Failed(fail(
            server,
            "ACCOUNT_EXISTS",
            nick,
            "Nick is already registered",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "REGISTER failed");
            Outcome::Failed(fail(
                server,
                "TEMPORARILY_UNAVAILABLE",
                nick,
                "Error registering",
            ))
        }
    }
}

/// `REGISTER SUCCESS <account> :…`
pub(crate) fn success(server: &str, name: &str) -> Line {
    Line::new("REGISTER")
        .prefix(server)
        .param("SUCCESS")
        .param(name)
        .param("Account successfully created")
}

/// The answer to `VERIFY`: no verification is ever pending here.
pub(crate) fn verify(server: &str, params: &[String]) -> Line {
    Line::new("FAIL")
        .prefix(server)
        .param("VERIFY")
        .param("INVALID_CODE")
        .param(params.first().map(String::as_str).unwrap_or("*"))
        .param("No verification is pending: registration needs none")
}
