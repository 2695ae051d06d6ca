//! The Skype API as skyped relays it, without any I/O: [`parse`] turns a line
//! from skyped into a [`Reply`], and the `format` functions build the lines we
//! send. Every piece of text that goes into an outgoing line passes through
//! [`clean`], so a message body can never end a line early and inject a command.
//!
//! Most lines are `OBJECT ID PROPERTY VALUE` (`USER bob ONLINESTATUS ONLINE`,
//! `CHAT #bob/$alice;4d8c STATUS DIALOG`, `CHATMESSAGE 293 BODY hi`); the value
//! may be empty and may contain spaces, ids never do.

/// One line from skyped, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `PASSWORD OK` (true) or `PASSWORD KO`.
    Password(bool),
    /// A keepalive from skyped, to be answered with `PONG`.
    Ping,
    /// The answer to our `PING`.
    Pong,
    /// `USERS a, b`: the answer to `SEARCH FRIENDS`.
    Users(Vec<String>),
    /// `GROUPS 48, 49`: the answer to `SEARCH GROUPS CUSTOM`.
    Groups(Vec<String>),
    /// `CHATS a, b`: the answer to `SEARCH BOOKMARKEDCHATS`.
    Chats(Vec<String>),
    /// `USERSTATUS ONLINE`: our own status.
    UserStatus(String),
    /// `PROFILE PROPERTY VALUE`: our own profile.
    Profile(Prop),
    /// `OBJECT ID PROPERTY VALUE` for the objects we track.
    Object(Object, Prop),
    /// `ALTER GROUP id ADDUSER|REMOVEUSER handle` (the echo of our change).
    AlterGroup {
        /// The group id.
        id: String,
        /// `ADDUSER` or `REMOVEUSER`.
        action: String,
        /// The handle.
        handle: String,
    },
    /// `ERROR n text`.
    Error(String),
    /// Anything else (`ALTER CHAT LEAVE`, `CHATMEMBER …`, …).
    Other,
}

/// The kinds of objects whose properties we follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `USER handle …`
    User,
    /// `GROUP id …`
    Group,
    /// `CHAT chatname …`
    Chat,
    /// `CHATMESSAGE id …`
    ChatMessage,
    /// `CALL id …`
    Call,
    /// `FILETRANSFER id …`
    FileTransfer,
}

/// An object: its kind and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// What it is.
    pub kind: Kind,
    /// Its id (a handle, a number, a chat name).
    pub id: String,
}

/// A property and its value (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    /// The property name (`ONLINESTATUS`).
    pub name: String,
    /// The value, everything after the name and one space.
    pub value: String,
}

impl Prop {
    fn split(text: &str) -> Prop {
        let (name, value) = text.split_once(' ').unwrap_or((text, ""));
        Prop {
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

/// Split a comma-separated list (`a, b, c`), dropping empty items.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Classify one line from skyped.
pub fn parse(line: &str) -> Reply {
    let line = line.trim_end_matches(['\r', '\n']);
    match line.trim_end() {
        "PING" => return Reply::Ping,
        "PONG" => return Reply::Pong,
        "PASSWORD OK" => return Reply::Password(true),
        "PASSWORD KO" => return Reply::Password(false),
        _ => {}
    }
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let kind = match word {
        "USERS" => return Reply::Users(list(rest)),
        "GROUPS" => return Reply::Groups(list(rest)),
        "CHATS" => return Reply::Chats(list(rest)),
        "USERSTATUS" => return Reply::UserStatus(rest.trim().to_string()),
        "PROFILE" => return Reply::Profile(Prop::split(rest)),
        "ERROR" => return Reply::Error(rest.to_string()),
        "ALTER" => return parse_alter(rest),
        "USER" => Kind::User,
        "GROUP" => Kind::Group,
        "CHAT" => Kind::Chat,
        "CHATMESSAGE" => Kind::ChatMessage,
        "CALL" => Kind::Call,
        "FILETRANSFER" => Kind::FileTransfer,
        _ => return Reply::Other,
    };
    let Some((id, rest)) = rest.split_once(' ') else {
        return Reply::Other;
    };
    if id.is_empty() {
        return Reply::Other;
    }
    Reply::Object(
        Object {
            kind,
            id: id.to_string(),
        },
        Prop::split(rest),
    )
}

fn parse_alter(rest: &str) -> Reply {
    let mut words = rest.splitn(4, ' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("GROUP"), Some(id), Some(action), Some(handle)) => Reply::AlterGroup {
            id: id.to_string(),
            action: action.to_string(),
            handle: handle.trim().to_string(),
        },
        _ => Reply::Other,
    }
}

/// Text made safe for one protocol line: no CR, LF or NUL.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '\r' | '\n') { ' ' } else { c })
        .filter(|c| *c != '\0')
        .collect()
}

/// At most the first `max` bytes of `text`, cut at a character boundary.
pub fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// The lines of a message body, each cleaned, empty ones dropped.
pub fn body_lines(body: &str) -> Vec<String> {
    body.split('\n')
        .map(|l| clean(l.trim_end_matches('\r')))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// `USERNAME user`
pub fn username(user: &str) -> String {
    format!("USERNAME {}", clean(user))
}

/// `PASSWORD password`
pub fn password(password: &str) -> String {
    format!("PASSWORD {}", clean(password))
}

/// `SEARCH what`
pub fn search(what: &str) -> String {
    format!("SEARCH {what}")
}

/// `SET USERSTATUS code`
pub fn set_userstatus(code: &str) -> String {
    format!("SET USERSTATUS {code}")
}

/// `GET object id property`
pub fn get(object: &str, id: &str, prop: &str) -> String {
    format!("GET {object} {} {prop}", clean(id))
}

/// `SET object id property value`
pub fn set(object: &str, id: &str, prop: &str, value: &str) -> String {
    format!("SET {object} {} {prop} {}", clean(id), clean(value))
}

/// `SET CHATMESSAGE id SEEN`: mark a received message read.
pub fn set_seen(id: &str) -> String {
    format!("SET CHATMESSAGE {} SEEN", clean(id))
}

/// `SET PROFILE property value`
pub fn set_profile(prop: &str, value: &str) -> String {
    format!("SET PROFILE {prop} {}", clean(value))
}

/// `MESSAGE handle text` (one line of a private message).
pub fn message(handle: &str, text: &str) -> String {
    format!("MESSAGE {} {}", clean(handle), clean(text))
}

/// `CHATMESSAGE chat text` (one line of a group chat message).
pub fn chat_message(chat: &str, text: &str) -> String {
    format!("CHATMESSAGE {} {}", clean(chat), clean(text))
}

/// `ALTER CHAT chat ACTION [argument]`
pub fn alter_chat(chat: &str, action: &str, arg: Option<&str>) -> String {
    match arg {
        Some(a) => format!("ALTER CHAT {} {action} {}", clean(chat), clean(a)),
        None => format!("ALTER CHAT {} {action}", clean(chat)),
    }
}

/// `ALTER GROUP id ACTION handle`
pub fn alter_group(id: &str, action: &str, handle: &str) -> String {
    format!("ALTER GROUP {} {action} {}", clean(id), clean(handle))
}

/// `CHAT CREATE handles`
pub fn chat_create(handles: &str) -> String {
    format!("CHAT CREATE {}", clean(handles))
}

/// `CREATE GROUP name`
pub fn create_group(name: &str) -> String {
    format!("CREATE GROUP {}", clean(name))
}

/// `CALL target` (a handle, a SkypeOut number, or several for a conference).
pub fn call(target: &str) -> String {
    format!("CALL {}", clean(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: Kind, id: &str, name: &str, value: &str) -> Reply {
        Reply::Object(
            Object {
                kind,
                id: id.into(),
            },
            Prop {
                name: name.into(),
                value: value.into(),
            },
        )
    }

    #[test]
    fn login_and_keepalive() {
        assert_eq!(parse("PASSWORD OK"), Reply::Password(true));
        assert_eq!(parse("PASSWORD KO\r"), Reply::Password(false));
        assert_eq!(parse("PING"), Reply::Ping);
        assert_eq!(parse("PONG"), Reply::Pong);
        assert_eq!(parse("USERSTATUS AWAY"), Reply::UserStatus("AWAY".into()));
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse("USERS echo123, bob"),
            Reply::Users(vec!["echo123".into(), "bob".into()])
        );
        assert_eq!(parse("USERS "), Reply::Users(vec![]));
        assert_eq!(
            parse("GROUPS 48, 49"),
            Reply::Groups(vec!["48".into(), "49".into()])
        );
        assert_eq!(parse("CHATS #a/$b;1"), Reply::Chats(vec!["#a/$b;1".into()]));
    }

    #[test]
    fn objects_with_values_empty_values_and_spaces() {
        assert_eq!(
            parse("USER echo123 FULLNAME Echo / Sound Test Service"),
            object(
                Kind::User,
                "echo123",
                "FULLNAME",
                "Echo / Sound Test Service"
            )
        );
        assert_eq!(
            parse("CHAT #cecil/$bob;4d8cc9965791c6b9 TOPIC "),
            object(Kind::Chat, "#cecil/$bob;4d8cc9965791c6b9", "TOPIC", "")
        );
        assert_eq!(
            parse("CHAT #alice/$bob;a7ab206ec78060f1 ACTIVEMEMBERS"),
            object(
                Kind::Chat,
                "#alice/$bob;a7ab206ec78060f1",
                "ACTIVEMEMBERS",
                ""
            )
        );
        assert_eq!(
            parse("CHATMESSAGE 293 BODY bar  baz "),
            object(Kind::ChatMessage, "293", "BODY", "bar  baz ")
        );
        assert_eq!(
            parse("CALL 178 STATUS RINGING"),
            object(Kind::Call, "178", "STATUS", "RINGING")
        );
        assert_eq!(
            parse("FILETRANSFER 208 FILEPATH /home/alice/text.odt"),
            object(
                Kind::FileTransfer,
                "208",
                "FILEPATH",
                "/home/alice/text.odt"
            )
        );
        assert_eq!(
            parse("GROUP 70 USERS bob, cecil"),
            object(Kind::Group, "70", "USERS", "bob, cecil")
        );
        assert_eq!(
            parse("PROFILE PSTN_BALANCE 1234"),
            Reply::Profile(Prop {
                name: "PSTN_BALANCE".into(),
                value: "1234".into()
            })
        );
    }

    #[test]
    fn alter_and_other_lines() {
        assert_eq!(
            parse("ALTER GROUP 70 ADDUSER bob"),
            Reply::AlterGroup {
                id: "70".into(),
                action: "ADDUSER".into(),
                handle: "bob".into()
            }
        );
        assert_eq!(parse("ALTER CHAT LEAVE"), Reply::Other);
        assert_eq!(parse("ALTER CHAT ADDMEMBERS"), Reply::Other);
        assert_eq!(parse("CHATMEMBER 186 ROLE USER"), Reply::Other);
        assert_eq!(parse("CHAT"), Reply::Other);
        assert_eq!(parse("CHAT  X"), Reply::Other);
        assert_eq!(parse(""), Reply::Other);
        assert_eq!(
            parse("ERROR 7 GET: invalid WHAT"),
            Reply::Error("7 GET: invalid WHAT".into())
        );
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncated("héllo", 2), "h");
        assert_eq!(truncated("héllo", 3), "hé");
        assert_eq!(truncated("hi", 10), "hi");
        assert_eq!(truncated("☃", 1), "");
    }

    #[test]
    fn formatting_is_one_line() {
        assert_eq!(message("bob", "foo"), "MESSAGE bob foo");
        assert_eq!(
            message("bob", "a\r\nSET USERSTATUS OFFLINE"),
            "MESSAGE bob a  SET USERSTATUS OFFLINE"
        );
        assert_eq!(
            chat_message("#cecil/$bob;4d8cc9965791c6b9", "hello"),
            "CHATMESSAGE #cecil/$bob;4d8cc9965791c6b9 hello"
        );
        assert_eq!(get("USER", "bob", "FULLNAME"), "GET USER bob FULLNAME");
        assert_eq!(
            set("USER", "bob", "BUDDYSTATUS", "2 Please authorize me"),
            "SET USER bob BUDDYSTATUS 2 Please authorize me"
        );
        assert_eq!(
            alter_chat("#a", "ADDMEMBERS", Some("cecil")),
            "ALTER CHAT #a ADDMEMBERS cecil"
        );
        assert_eq!(alter_chat("#a", "LEAVE", None), "ALTER CHAT #a LEAVE");
        assert_eq!(username("alice"), "USERNAME alice");
        assert_eq!(password("f\0oo\n"), "PASSWORD foo ");
        assert_eq!(body_lines("one\r\n\ntwo\n"), vec!["one", "two"]);
    }
}
