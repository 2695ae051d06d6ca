//! Every setting in the registry has a test that changes it and sees the
//! gateway behave differently. The list below names that test for each setting;
//! it is checked against the registry (the user, account and channel tables and
//! the protocols' account settings) both ways, and each named test must exist
//! and mention the setting. A new setting without a test fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use waggle_core::SettingDef;
use waggle_core::settings::{ACCOUNT, CHANNEL, GLOBAL};

/// Where a setting is shown to work.
enum By {
    /// A test function: the file (from the repository's root) and its name.
    Test(&'static str, &'static str),
    /// A Skype transcript (IRC side) that sets it, played by tests/skype_transcripts.rs.
    Transcript(&'static str),
}

use By::{Test, Transcript};

const MESSAGES: &str = "tests/messages.rs";
const USER: &str = "tests/settings_user.rs";
const SCOPED: &str = "tests/settings_scoped.rs";
const XMPP_IRC: &str = "tests/xmpp_irc.rs";
const ROOMS: &str = "tests/xmpp_irc_rooms.rs";
const SKYPE: &str = "tests/fixtures/skype";
const PARITY_SETTINGS: &str = "tests/parity_settings.rs";
const PARITY_CHATS: &str = "tests/parity_chats.rs";
const PARITY_XMPP: &str = "tests/parity_xmpp.rs";

/// (scope, setting, where). Scopes: user, account, channel, and the protocols.
#[rustfmt::skip]
const COVERED: &[(&str, &str, By)] = &[
    ("user", "away_devoice", Test(PARITY_SETTINGS, "away_devoice_is_bitlbees_compatibility_switch_for_show_users")),
    ("user", "display_namechanges", Test(PARITY_SETTINGS, "display_namechanges_says_when_a_contact_renames_itself")),
    ("user", "mobile_is_away", Test(PARITY_SETTINGS, "mobile_is_away_shows_mobile_contacts_as_away")),
    ("user", "away_reply_timeout", Test(PARITY_SETTINGS, "a_message_to_an_away_contact_is_answered_with_301_once_per_timeout")),
    ("account", "handle_unknown", Test(PARITY_SETTINGS, "handle_unknown_add_channel_shows_strangers_in_the_channel_and_keeps_them_temporary")),
    ("account", "ignore_auth_requests", Test(PARITY_XMPP, "ignore_auth_requests_leaves_them_unanswered")),
    ("channel", "auto_rejoin", Test(PARITY_CHATS, "auto_rejoin_goes_back_in_after_a_kick_and_a_reconnect")),
    ("channel", "chat_type", Test(PARITY_CHATS, "a_room_type_channel_does_not_start_ad_hoc_chats")),
    ("channel", "translate_to_nicks", Test(PARITY_CHATS, "translate_to_nicks_and_display_name_as_the_room_nick")),
    ("jabber", "activity_timeout", Test(PARITY_XMPP, "activity_timeout_past_lets_the_server_choose_the_resource")),
    ("jabber", "resource_select", Test(PARITY_XMPP, "resource_select_activity_answers_the_resource_that_wrote")),
    ("jabber", "sasl", Test(PARITY_XMPP, "sasl_chooses_and_excludes_mechanisms")),
    ("jabber", "xmlconsole", Test(PARITY_XMPP, "the_xml_console_shows_the_stream_and_sends_what_it_is_given")),
    ("user", "auto_connect", Test(USER, "auto_connect_and_auto_reconnect_decide_when_accounts_log_in")),
    ("user", "auto_reconnect", Test(USER, "auto_connect_and_auto_reconnect_decide_when_accounts_log_in")),
    ("user", "auto_reconnect_delay", Test("tests/hardening.rs", "a_panicking_backend_is_restarted_and_the_user_told")),
    ("user", "away", Test(USER, "set_away_and_status_reach_the_accounts")),
    ("user", "default_target", Test(MESSAGES, "addressing_a_contact_in_the_control_channel")),
    ("user", "detach_away", Test(USER, "detach_away_is_the_away_text_while_no_client_is_attached")),
    ("user", "display_timestamps", Test(MESSAGES, "delayed_message_without_server_time_gets_a_timestamp")),
    ("user", "handle_unknown", Test(MESSAGES, "message_from_an_unknown_handle")),
    ("user", "history_days", Test("crates/waggle-store/tests/retention.rs", "a_users_history_days_applies_when_shorter")),
    ("user", "nick_format", Test(USER, "nick_format_lowercase_underscores_and_utf8_make_the_nicks")),
    ("user", "nick_lowercase", Test(USER, "nick_format_lowercase_underscores_and_utf8_make_the_nicks")),
    ("user", "nick_underscores", Test(USER, "nick_format_lowercase_underscores_and_utf8_make_the_nicks")),
    ("user", "offline_user_quits", Test("tests/contacts.rs", "offline_contact_quits")),
    ("user", "ops", Test(USER, "ops_decides_who_is_opped_in_the_control_channel")),
    ("user", "password", Test("tests/persistence.rs", "a_changed_password_survives_a_restart")),
    ("user", "paste_buffer", Test(USER, "paste_buffer_joins_quick_lines_and_its_delay_bounds_quick")),
    ("user", "paste_buffer_delay", Test(USER, "paste_buffer_joins_quick_lines_and_its_delay_bounds_quick")),
    ("user", "private", Test(MESSAGES, "private_false_shows_messages_in_the_channel")),
    ("user", "query_order", Test(USER, "query_order_picks_the_question_yes_answers")),
    ("user", "root_nick", Test("tests/root_commands.rs", "set_root_nick_renames_root")),
    ("user", "save_on_quit", Test(USER, "save_on_quit_false_still_saves_everything")),
    ("user", "self_messages", Test(XMPP_IRC, "our_other_clients_messages_under_each_self_messages")),
    ("user", "show_users", Test("tests/contacts.rs", "offline_contact_quits")),
    ("user", "simulate_netsplit", Test(USER, "simulate_netsplit_decides_the_quit_reason_of_a_dropped_account")),
    ("user", "status", Test(USER, "set_away_and_status_reach_the_accounts")),
    ("user", "strip_html", Test(USER, "strip_html_and_strip_newlines_change_what_is_shown")),
    ("user", "strip_newlines", Test(USER, "strip_html_and_strip_newlines_change_what_is_shown")),
    ("user", "timezone", Test(MESSAGES, "delayed_message_without_server_time_gets_a_timestamp")),
    ("user", "to_char", Test(USER, "to_char_follows_our_nick_in_the_channel")),
    ("user", "typing_notice", Test("tests/accounts.rs", "typing_notices_when_enabled")),
    ("user", "utf8_nicks", Test(USER, "nick_format_lowercase_underscores_and_utf8_make_the_nicks")),
    ("account", "auto_connect", Test(USER, "auto_connect_and_auto_reconnect_decide_when_accounts_log_in")),
    ("account", "auto_reconnect", Test(USER, "auto_connect_and_auto_reconnect_decide_when_accounts_log_in")),
    ("account", "away", Test(USER, "set_away_and_status_reach_the_accounts")),
    ("account", "display_name", Transcript("mood-and-profile-bitlbee.mock")),
    ("account", "nick_format", Test(SCOPED, "an_accounts_nick_format_and_nick_source_name_its_contacts")),
    ("account", "nick_source", Test(SCOPED, "an_accounts_nick_format_and_nick_source_name_its_contacts")),
    ("account", "password", Test("tests/accounts.rs", "wrong_password_is_a_login_error_without_reconnect")),
    ("account", "status", Test(USER, "set_away_and_status_reach_the_accounts")),
    ("account", "tag", Test("crates/waggle/tests/crash.rs", "what_root_acknowledged_survives_kill_9")),
    ("account", "username", Test(SCOPED, "the_username_is_the_handle_and_read_only")),
    ("channel", "account", Test(SCOPED, "fill_by_account_protocol_and_show_users_pick_a_channels_members")),
    ("channel", "auto_join", Test(ROOMS, "a_password_room_is_joined_with_the_channel_password_and_auto_join")),
    ("channel", "fill_by", Test(SCOPED, "fill_by_account_protocol_and_show_users_pick_a_channels_members")),
    ("channel", "group", Test("tests/irc_commands.rs", "extra_control_channel_filled_by_group")),
    ("channel", "nick", Test(ROOMS, "roles_are_modes_and_nick_changes_are_nick_lines")),
    ("channel", "password", Test(ROOMS, "a_password_room_is_joined_with_the_channel_password_and_auto_join")),
    ("channel", "protocol", Test(SCOPED, "fill_by_account_protocol_and_show_users_pick_a_channels_members")),
    ("channel", "room", Test(SCOPED, "a_channels_type_and_room_decide_what_it_is")),
    ("channel", "show_users", Test(SCOPED, "fill_by_account_protocol_and_show_users_pick_a_channels_members")),
    ("channel", "type", Test(SCOPED, "a_channels_type_and_room_decide_what_it_is")),
    ("jabber", "allow_plaintext_auth", Test(XMPP_IRC, "scram_is_used_where_offered_and_plain_only_where_allowed")),
    ("jabber", "cafile", Test(XMPP_IRC, "tls_verify_off_records_the_first_certificate_in_the_account")),
    ("jabber", "carbons", Test(XMPP_IRC, "carbons_false_shows_nothing_of_our_other_client")),
    ("jabber", "fingerprint", Test("tests/xmpp_login.rs", "pinned_fingerprint_is_accepted_without_a_ca")),
    ("jabber", "port", Test(XMPP_IRC, "scram_is_used_where_offered_and_plain_only_where_allowed")),
    ("jabber", "priority", Test(XMPP_IRC, "priority_is_what_contacts_see_and_away_lowers_it")),
    ("jabber", "resource", Test(XMPP_IRC, "user_agent_and_resource_are_what_contacts_see")),
    ("jabber", "server", Test("tests/xmpp_srv.rs", "an_explicit_server_skips_srv")),
    ("jabber", "ssl", Test("tests/xmpp_login.rs", "direct_tls_logs_in")),
    ("jabber", "tls", Test(XMPP_IRC, "tls_try_logs_in_unencrypted_with_a_warning_and_tls_true_refuses")),
    ("jabber", "tls_verify", Test(XMPP_IRC, "tls_verify_off_records_the_first_certificate_in_the_account")),
    ("jabber", "user_agent", Test(XMPP_IRC, "user_agent_and_resource_are_what_contacts_see")),
    ("skype", "auto_join", Transcript("bookmarks-auto-join-bitlbee.mock")),
    ("skype", "balance", Transcript("balance-and-skypeout-bitlbee.mock")),
    ("skype", "cafile", Transcript("cafile-bitlbee.mock")),
    ("skype", "call", Transcript("balance-and-skypeout-bitlbee.mock")),
    ("skype", "edit_prefix", Transcript("edit-prefix-and-skypeout-bitlbee.mock")),
    ("skype", "fingerprint", Transcript("fingerprint-mismatch-bitlbee.mock")),
    ("skype", "mood_text", Transcript("mood-and-profile-bitlbee.mock")),
    ("skype", "port", Test("tests/skype_backend.rs", "a_skyped_offering_only_tls_1_1_is_refused_and_told_why")),
    ("skype", "read_groups", Transcript("group-invite-moves-bitlbee.mock")),
    ("skype", "server", Test("tests/skype_backend.rs", "a_skyped_offering_only_tls_1_1_is_refused_and_told_why")),
    ("skype", "show_moods", Transcript("mood-and-profile-bitlbee.mock")),
    ("skype", "skypeconsole", Transcript("console-bitlbee.mock")),
    ("skype", "skypeconsole_receive", Transcript("console-bitlbee.mock")),
    ("skype", "skypeout_offline", Transcript("edit-prefix-and-skypeout-bitlbee.mock")),
    ("skype", "test_join", Transcript("test-join-bitlbee.mock")),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every (scope, name) the registry holds.
fn registry() -> BTreeSet<(&'static str, &'static str)> {
    let tables: [(&str, &[SettingDef]); 5] = [
        ("user", GLOBAL),
        ("account", ACCOUNT),
        ("channel", CHANNEL),
        ("jabber", waggle_xmpp::SETTINGS),
        ("skype", waggle_skype::SETTINGS),
    ];
    tables
        .iter()
        .flat_map(|(scope, defs)| defs.iter().map(move |d| (*scope, d.name)))
        .collect()
}

/// The text of test function `name` in `file`: from its `fn` line to the next
/// item at the start of a line.
fn test_body(file: &str, name: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(root().join(file)).map_err(|e| format!("{file}: {e}"))?;
    let start = text
        .find(&format!("fn {name}("))
        .ok_or_else(|| format!("no fn {name} in {file}"))?;
    let rest = &text[start..];
    let end = rest
        .match_indices("\n}")
        .next()
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    Ok(rest[..end].to_string())
}

#[test]
fn every_setting_has_a_test_that_changes_it() {
    let registry = registry();
    let listed: BTreeSet<(&str, &str)> = COVERED.iter().map(|(s, n, _)| (*s, *n)).collect();
    let missing: Vec<_> = registry.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "settings without a test that changes them (write one, then list it in COVERED): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&registry).collect();
    assert!(
        stale.is_empty(),
        "listed settings the registry no longer has: {stale:?}"
    );
}

#[test]
fn each_named_test_exists_and_sets_its_setting() {
    let mut wrong = Vec::new();
    for (scope, name, by) in COVERED {
        match by {
            Test(file, test) => match test_body(file, test) {
                Ok(body) if body.contains(name) => {}
                Ok(_) => wrong.push(format!("{scope} {name}: {file}::{test} never mentions it")),
                Err(e) => wrong.push(format!("{scope} {name}: {e}")),
            },
            Transcript(file) => {
                let path = root().join(SKYPE).join(file);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if !text.contains(&format!(" set {name} ")) {
                    wrong.push(format!("{scope} {name}: {} never sets it", path.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
