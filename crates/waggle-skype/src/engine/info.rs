//! `info`: a contact's profile fields, asked for one by one (the birthday last),
//! then shown together as BitlBee did: a first line after the account's tag,
//! the others as they are (`Full Name: Bob`).

use std::collections::BTreeMap;

use time::{Date, Month, OffsetDateTime};

use super::Engine;
use crate::protocol;

/// The profile properties asked for, in order; BIRTHDAY is last and ends it.
const FIELDS: &[&str] = &[
    "FULLNAME",
    "PHONE_HOME",
    "PHONE_OFFICE",
    "PHONE_MOBILE",
    "NROF_AUTHED_BUDDIES",
    "TIMEZONE",
    "LASTONLINETIMESTAMP",
    "SEX",
    "LANGUAGE",
    "COUNTRY",
    "PROVINCE",
    "CITY",
    "HOMEPAGE",
    "ABOUT",
    "BIRTHDAY",
];

/// Profiles being collected, by handle.
#[derive(Debug, Default)]
pub(super) struct Info {
    pending: BTreeMap<String, BTreeMap<&'static str, String>>,
}

fn field_name(prop: &str) -> Option<&'static str> {
    FIELDS.iter().copied().find(|f| *f == prop)
}

/// `hu Hungarian` → `Hungarian`.
fn after_code(value: &str) -> &str {
    value.split_once(' ').map(|(_, name)| name).unwrap_or(value)
}

/// The longest profile field kept (a contact's ABOUT may come as many lines).
const MAX_FIELD: usize = 16 * 1024;

fn local_time(tz: &str, now: OffsetDateTime) -> Option<String> {
    // Skype's TIMEZONE is the offset from UTC in seconds, plus 24 hours; no
    // place on earth is more than a day away from UTC.
    let offset: i64 = tz.trim().parse().ok()?;
    let offset = offset.checked_sub(86_400).filter(|o| o.abs() <= 86_400)?;
    let t = now.checked_add(time::Duration::seconds(offset))?;
    Some(format!(
        "{:02}:{:02}:{:02}",
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn last_seen(ts: &str, now: OffsetDateTime) -> Option<String> {
    let secs: i64 = ts.trim().parse().ok().filter(|s| *s > 0)?;
    // A time in the future is a broken or hostile peer's: it was now at most.
    let secs = secs.min(now.unix_timestamp());
    let t = OffsetDateTime::from_unix_timestamp(secs).ok()?;
    Some(format!(
        "{}. {:02}. {:02}. {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    ))
}

fn birthday(value: &str, today: Date) -> Option<(String, i32)> {
    let v = value.trim();
    if v.len() != 8 || v == "0" {
        return None;
    }
    let year: i32 = v.get(0..4)?.parse().ok()?;
    let month: u8 = v.get(4..6)?.parse().ok()?;
    let day: u8 = v.get(6..8)?.parse().ok()?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let mut age = today.year() - year;
    if (today.month() as u8, today.day()) < (month, day) {
        age -= 1;
    }
    Some((format!("{} {:02}, {}", date.month(), day, year), age))
}

/// The profile as lines.
fn format(handle: &str, f: &BTreeMap<&'static str, String>, now: OffsetDateTime) -> String {
    let get = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut lines = vec![
        "Contact Information".to_string(),
        format!("Skype Name: {handle}"),
    ];
    let mut push = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            lines.push(format!("{label}: {v}"));
        }
    };
    push("Full Name", get("FULLNAME").map(str::to_string));
    push("Home Phone", get("PHONE_HOME").map(str::to_string));
    push("Office Phone", get("PHONE_OFFICE").map(str::to_string));
    push("Mobile Phone", get("PHONE_MOBILE").map(str::to_string));
    lines.push("Personal Information".into());
    let mut push = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            lines.push(format!("{label}: {v}"));
        }
    };
    push("Contacts", get("NROF_AUTHED_BUDDIES").map(str::to_string));
    push(
        "Local Time",
        get("TIMEZONE").and_then(|tz| local_time(tz, now)),
    );
    push(
        "Last Seen",
        get("LASTONLINETIMESTAMP").and_then(|t| last_seen(t, now)),
    );
    if let Some((date, age)) = get("BIRTHDAY").and_then(|b| birthday(b, now.date())) {
        push("Birthday", Some(date));
        push("Age", Some(age.to_string()));
    }
    push("Gender", get("SEX").map(|s| s.to_lowercase()));
    push(
        "Language",
        get("LANGUAGE").map(|v| after_code(v).to_string()),
    );
    push("Country", get("COUNTRY").map(|v| after_code(v).to_string()));
    push("Region", get("PROVINCE").map(str::to_string));
    push("City", get("CITY").map(str::to_string));
    push("Homepage", get("HOMEPAGE").map(str::to_string));
    if let Some(about) = get("ABOUT") {
        lines.push(about.to_string());
    }
    lines.join("\n")
}

impl Engine {
    /// Ask skyped for a contact's profile.
    pub(super) fn request_info(&mut self, handle: &str) {
        self.info
            .pending
            .insert(handle.to_string(), BTreeMap::new());
        for f in FIELDS {
            self.send(protocol::get("USER", handle, f));
        }
    }

    /// A USER property that may belong to a profile being collected.
    pub(super) fn info_field(&mut self, handle: &str, prop: &str, value: &str) {
        let Some(field) = field_name(prop) else {
            return;
        };
        let Some(fields) = self.info.pending.get_mut(handle) else {
            return;
        };
        match fields.get_mut(field) {
            // ABOUT may come as several lines.
            Some(v) if field == "ABOUT" => {
                if v.len() + value.len() < MAX_FIELD {
                    v.push('\n');
                    v.push_str(value);
                }
            }
            _ => {
                let value = protocol::truncated(value, MAX_FIELD);
                fields.insert(field, value.to_string());
            }
        }
        if field == "BIRTHDAY"
            && let Some(fields) = self.info.pending.remove(handle)
        {
            let text = format(handle, &fields, OffsetDateTime::now_utc());
            self.notice(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_lines() {
        let mut f = BTreeMap::new();
        for (k, v) in [
            ("FULLNAME", "Bob"),
            ("PHONE_HOME", ""),
            ("NROF_AUTHED_BUDDIES", "145"),
            ("TIMEZONE", "90000"),
            ("LASTONLINETIMESTAMP", "1358023469"),
            ("SEX", "MALE"),
            ("LANGUAGE", "hu Hungarian"),
            ("COUNTRY", "hu Hungary"),
            ("CITY", "Budapest"),
            ("BIRTHDAY", "19781108"),
        ] {
            f.insert(field_name(k).unwrap_or("ABOUT"), v.to_string());
        }
        let now = OffsetDateTime::from_unix_timestamp(1_358_100_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let text = format("bob", &f, now);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Contact Information");
        assert!(lines.contains(&"Skype Name: bob"));
        assert!(lines.contains(&"Full Name: Bob"));
        assert!(!text.contains("Home Phone"));
        assert!(lines.contains(&"Contacts: 145"));
        assert!(lines.contains(&"Birthday: November 08, 1978"));
        assert!(lines.contains(&"Age: 34"));
        assert!(lines.contains(&"Gender: male"));
        assert!(lines.contains(&"Language: Hungarian"));
        assert!(lines.contains(&"Country: Hungary"));
        assert!(lines.contains(&"Last Seen: 2013. 01. 12. 20:44 UTC"));
        assert!(lines.iter().any(|l| l.starts_with("Local Time: ")));
    }

    #[test]
    fn absurd_times_do_not_panic() {
        let now = OffsetDateTime::from_unix_timestamp(1_358_100_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(local_time("9223372036854775807", now), None);
        assert_eq!(local_time("-9223372036854775808", now), None);
        assert_eq!(local_time("999999999999", now), None);
        assert_eq!(local_time("86400", now).as_deref(), Some("18:00:00"));
        assert_eq!(
            last_seen("253402300799000", now).as_deref(),
            Some("2013. 01. 13. 18:00 UTC")
        );
        let mut f = BTreeMap::new();
        f.insert("TIMEZONE", "99999999999999".to_string());
        f.insert("LASTONLINETIMESTAMP", "99999999999999".to_string());
        let text = format("bob", &f, now);
        assert!(
            text.contains("Last Seen: 2013. 01. 13. 18:00 UTC"),
            "{text}"
        );
        assert!(!text.contains("Local Time"), "{text}");
    }

    #[test]
    fn odd_birthdays_are_skipped() {
        let today = Date::from_calendar_date(2024, Month::May, 1).unwrap_or(Date::MIN);
        assert_eq!(birthday("0", today), None);
        assert_eq!(birthday("19781340", today), None);
        assert_eq!(
            birthday("20000501", today),
            Some(("May 01, 2000".into(), 24))
        );
    }
}
