//! `register`, `identify`, `drop` and `save`.

use waggle_core::StoreError;

use crate::config::AuthMode;
use crate::line::Line;
use crate::registration::Login;
use crate::user::Cx;
use crate::user::state::Prompt;

pub(super) async fn register(s: &mut Cx<'_>, args: &[String]) {
    if s.shared.config.auth_mode == AuthMode::Registered {
        s.root_say("This server does not allow registering new accounts");
        return;
    }
    if s.identified() {
        s.root_say("You are already registered and identified.");
        return;
    }
    let Some(password) = args.first() else {
        s.root_say("About to register, use /OPER to enter the password");
        s.set_prompt(Some(Prompt::Register));
        return;
    };
    if password.is_empty() {
        s.root_say("Error registering: the password is empty");
        return;
    }
    let nick = s.nick.clone();
    match s.shared.store.create_user(&nick, password).await {
        Err(StoreError::UserExists(_)) => s.root_say("Nick is already registered"),
        Err(e) => {
            tracing::warn!(error = %e, "register failed");
            s.root_say("Error registering");
        }
        Ok((id, key)) => {
            let login = Login {
                id,
                key,
                name: nick,
            };
            if !s.adopt_login(login, false, false).await {
                return;
            }
            s.save_everything().await;
            for id in s.add_implicit_accounts().await {
                s.start_account(id);
            }
            s.root_say("Account successfully created");
            s.logged_in_numerics();
        }
    }
}

pub(super) async fn identify(s: &mut Cx<'_>, args: &[String]) {
    if s.identified() {
        s.root_say("You're already logged in.");
        return;
    }
    let (mut load, mut force, mut password) = (true, false, args.first().cloned());
    match args.first().map(String::as_str) {
        Some(flag) if flag.starts_with("-no") => {
            load = false;
            password = args.get(1).cloned();
        }
        Some(flag) if flag.starts_with("-force") => {
            force = true;
            password = args.get(1).cloned();
        }
        Some(_) if !s.accounts.is_empty() => {
            s.root_say(
                "You're trying to identify yourself, but already have at least one IM account set up. \
                 Use \x02identify -noload\x02 or \x02identify -force\x02 instead (see \x02help identify\x02).",
            );
            return;
        }
        _ => {}
    }
    let Some(password) = password else {
        s.root_say("About to identify, use /OPER to enter the password");
        s.set_prompt(Some(Prompt::Identify { load, force }));
        return;
    };
    let name = s.nick.clone();
    let result = s.check_password(&name, &password).await;
    match result {
        Ok(Some((id, key))) => {
            let login = Login { id, key, name };
            if !s.adopt_login(login, load, force).await {
                return;
            }
            if !load {
                s.save_everything().await;
            }
            s.root_say(if load {
                "Password accepted, settings and accounts loaded"
            } else {
                "Password accepted"
            });
            s.logged_in_numerics();
            if load && s.cfg.auto_connect {
                s.start_auto_accounts();
            }
        }
        Ok(None) => match s.shared.store.user_exists(&name).await {
            Ok(true) => s.root_say("Incorrect password"),
            Ok(false) => s.root_say("The nick is (probably) not registered"),
            Err(_) => s.root_say("Unknown error while loading configuration"),
        },
        Err(e) => {
            tracing::warn!(error = %e, "identify failed");
            s.root_say("Unknown error while loading configuration");
        }
    }
}

pub(super) async fn drop_user(s: &mut Cx<'_>, args: &[String]) {
    let name = s
        .login
        .as_ref()
        .map(|l| l.name.clone())
        .unwrap_or_else(|| s.nick.clone());
    let Some(password) = args.first() else {
        return s.root_say("Not enough parameters given (need 1).");
    };
    match s.check_password(&name, password).await {
        Ok(Some(_)) => match s.shared.store.delete_user(&name).await {
            Ok(_) => {
                if let Some(login) = s.login.take()
                    && let Some(me) = s.self_tx.upgrade()
                {
                    s.shared.users.release(login.id, &me);
                }
                for a in &mut s.accounts {
                    a.rec.row = None;
                }
                let line = Line::new("MODE")
                    .prefix(s.my_mask())
                    .param(&s.nick)
                    .param("-R");
                s.all(line);
                s.root_say(&format!("Account `{name}' removed"));
            }
            Err(e) => s.root_say(&format!("Error: `{e}'")),
        },
        Ok(None) => match s.shared.store.user_exists(&name).await {
            Ok(true) => s.root_say("Password invalid"),
            _ => s.root_say("That account does not exist"),
        },
        Err(e) => s.root_say(&format!("Error: `{e}'")),
    }
}

pub(super) fn save(s: &mut Cx<'_>) {
    if s.identified() {
        s.root_say("Configuration saved");
    } else {
        s.root_say("Please create an account first (see \x02help register\x02)");
    }
}
