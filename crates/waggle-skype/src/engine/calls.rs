//! Calls (outgoing through CTCP `CALL` or `set call`, incoming as questions) and
//! incoming file transfer notices. skyped tells a call's or transfer's status
//! by id; who it is with is asked for, and the notice goes out with the answer.

use std::collections::BTreeMap;

use super::{Engine, Question};
use crate::protocol;

/// How many calls or transfers are tracked at most.
const MAX_TRACKED: usize = 64;

/// A call status waiting for the partner's handle to be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallNews {
    Ringing,
    Missed,
    Cancelled,
    Finished,
    Refused,
}

#[derive(Debug, Default)]
struct Call {
    outgoing: bool,
    news: Option<CallNews>,
    duration: Option<String>,
    failure: Option<u32>,
}

/// A transfer status waiting for the partner's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferNews {
    New,
    Transferring,
    Completed,
    Failed,
}

#[derive(Debug, Default)]
struct Transfer {
    outgoing: bool,
    news: Option<TransferNews>,
    path: Option<String>,
}

/// Calls and transfers by id.
#[derive(Debug, Default)]
pub(super) struct Calls {
    calls: BTreeMap<String, Call>,
    /// The call HANGUP ends.
    active: Option<String>,
    transfers: BTreeMap<String, Transfer>,
}

fn bounded<'a, T: Default>(map: &'a mut BTreeMap<String, T>, id: &str) -> &'a mut T {
    if !map.contains_key(id) && map.len() >= MAX_TRACKED {
        map.pop_first();
    }
    map.entry(id.to_string()).or_default()
}

/// Why a call failed, from its FAILUREREASON.
fn failure_text(code: Option<u32>) -> &'static str {
    match code {
        Some(1) => "Miscellaneous error",
        Some(2) => "User or phone number does not exist.",
        Some(3) => "User is offline",
        Some(4) => "No proxy found",
        Some(5) => "Session terminated.",
        Some(6) => "No common codec found.",
        Some(7) => "Sound I/O error.",
        Some(8) => "Problem with remote sound device.",
        Some(9) => "Call blocked by recipient.",
        Some(10) => "Recipient not a friend.",
        Some(11) => "Current user not authorized by recipient.",
        Some(12) => "Sound recording error.",
        _ => "Unknown error",
    }
}

impl Engine {
    pub(super) fn on_call(&mut self, id: &str, prop: &str, value: &str) {
        let value = value.trim();
        match prop {
            "STATUS" => self.on_call_status(id, value),
            "FAILUREREASON" => bounded(&mut self.calls.calls, id).failure = value.parse().ok(),
            "DURATION" => bounded(&mut self.calls.calls, id).duration = Some(value.to_string()),
            "PARTNER_HANDLE" => self.call_partner(id, value),
            _ => {}
        }
    }

    fn on_call_status(&mut self, id: &str, status: &str) {
        let news = match status {
            "UNPLACED" => {
                bounded(&mut self.calls.calls, id).outgoing = true;
                self.calls.active = Some(id.to_string());
                return;
            }
            "INPROGRESS" => {
                self.calls.active = Some(id.to_string());
                return;
            }
            "FAILED" => {
                let call = self.calls.calls.remove(id).unwrap_or_default();
                self.forget_active(id);
                self.error(format!("Call failed: {}", failure_text(call.failure)));
                return;
            }
            "RINGING" => CallNews::Ringing,
            "MISSED" => CallNews::Missed,
            "CANCELLED" => CallNews::Cancelled,
            "FINISHED" => CallNews::Finished,
            "REFUSED" => CallNews::Refused,
            _ => return,
        };
        let call = bounded(&mut self.calls.calls, id);
        call.news = Some(news);
        if news == CallNews::Ringing && !call.outgoing {
            self.calls.active = Some(id.to_string());
        }
        self.send(protocol::get("CALL", id, "PARTNER_HANDLE"));
    }

    fn forget_active(&mut self, id: &str) {
        if self.calls.active.as_deref() == Some(id) {
            self.calls.active = None;
        }
    }

    fn call_partner(&mut self, id: &str, who: &str) {
        let Some(call) = self.calls.calls.get_mut(id) else {
            return;
        };
        let Some(news) = call.news.take() else {
            return;
        };
        let outgoing = call.outgoing;
        let duration = call.duration.clone();
        let text = match (news, outgoing) {
            (CallNews::Ringing, true) => format!("You are currently ringing the user {who}."),
            (CallNews::Ringing, false) => {
                self.ask(
                    Question::Call(id.to_string()),
                    format!("The user {who} is currently ringing you."),
                );
                return;
            }
            (CallNews::Missed, _) => format!("You have missed a call from user {who}."),
            (CallNews::Cancelled, _) => format!("You cancelled the call to the user {who}."),
            (CallNews::Refused, true) => format!("The user {who} refused the call."),
            (CallNews::Refused, false) => format!("You refused the call from user {who}."),
            (CallNews::Finished, _) => match duration {
                Some(d) => {
                    format!("You finished the call to the user {who} (duration: {d} seconds).")
                }
                None => format!("You finished the call to the user {who}."),
            },
        };
        if news != CallNews::Ringing {
            self.calls.calls.remove(id);
            self.forget_active(id);
        }
        self.notice(text);
    }

    /// CTCP HANGUP or `set -del call`: end the current call.
    pub(super) fn hang_up(&mut self) {
        match self.calls.active.take() {
            Some(id) => self.send(protocol::set("CALL", &id, "STATUS", "FINISHED")),
            None => self.error("There are no active calls currently.".into()),
        }
    }

    pub(super) fn on_file_transfer(&mut self, id: &str, prop: &str, value: &str) {
        let value = value.trim();
        match prop {
            "TYPE" => bounded(&mut self.calls.transfers, id).outgoing = value == "OUTGOING",
            "FILEPATH" => bounded(&mut self.calls.transfers, id).path = Some(value.to_string()),
            "STATUS" => {
                let news = match value {
                    "NEW" => TransferNews::New,
                    "TRANSFERRING" => TransferNews::Transferring,
                    "COMPLETED" => TransferNews::Completed,
                    "FAILED" => TransferNews::Failed,
                    _ => return,
                };
                let t = bounded(&mut self.calls.transfers, id);
                if t.outgoing {
                    return;
                }
                t.news = Some(news);
                self.send(protocol::get("FILETRANSFER", id, "PARTNER_HANDLE"));
            }
            "PARTNER_HANDLE" => self.transfer_partner(id, value),
            _ => {}
        }
    }

    fn transfer_partner(&mut self, id: &str, who: &str) {
        let Some(t) = self.calls.transfers.get_mut(id) else {
            return;
        };
        let Some(news) = t.news.take() else {
            return;
        };
        let text = match news {
            TransferNews::New => format!("The user {who} offered a new file for you."),
            TransferNews::Transferring => match t.path.take() {
                Some(path) => {
                    format!("File transfer from user {who} started, saving to {path}.")
                }
                None => format!("File transfer from user {who} started."),
            },
            TransferNews::Completed => format!("File transfer from user {who} completed."),
            TransferNews::Failed => format!("Failed to transfer file from user {who}."),
        };
        if matches!(news, TransferNews::Completed | TransferNews::Failed) {
            self.calls.transfers.remove(id);
        }
        self.notice(text);
    }
}
