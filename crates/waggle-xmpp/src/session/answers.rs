//! The IQs around us: the queries others send us (answered at once) and the
//! answers to ours, each matched to the query by its id and its sender.

use waggle_core::Event;
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::roster::{Roster as RosterQuery, Subscription};
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::{Pending, Session};
use crate::convert::error_text;
use crate::convert::iq as iqc;
use crate::error::XmppError;

impl Session<'_> {
    /// Our block list, for `block <account>` (XMPP has no allow list).
    async fn report_block_list(&self) {
        self.emit(Event::BlockList {
            blocked: self.blocked.iter().cloned().collect(),
            allowed: Vec::new(),
        })
        .await;
    }

    /// An IQ: a query to answer, or the answer to one of ours.
    pub(super) async fn iq_in(&mut self, iq: Iq) -> Result<(), XmppError> {
        match iq {
            Iq::Result {
                from, id, payload, ..
            } => self.answer(&id, from.as_ref(), Ok(payload)).await,
            Iq::Error {
                from, id, error, ..
            } => self.answer(&id, from.as_ref(), Err(error)).await,
            Iq::Get {
                from, id, payload, ..
            } => self.request(from, id, payload, false).await,
            Iq::Set {
                from, id, payload, ..
            } => self.request(from, id, payload, true).await,
        }
    }

    /// An IQ someone sent us: answer it.
    async fn request(
        &mut self,
        from: Option<Jid>,
        id: String,
        payload: Element,
        set: bool,
    ) -> Result<(), XmppError> {
        let trusted = from.as_ref().is_none_or(|f| *f == self.bare());
        let mut reply = if set && trusted && payload.is("query", ns::ROSTER) {
            if let Ok(push) = RosterQuery::try_from(payload) {
                self.roster_push(push).await;
            }
            Iq::empty_result(self.bare().into(), id)
        } else if !set && payload.is("ping", ns::PING) {
            Iq::empty_result(self.bare().into(), id)
        } else if !set && payload.is("query", ns::DISCO_INFO) {
            let query = DiscoInfoQuery::try_from(payload).ok();
            let mut info = iqc::disco_info(&self.live.user_agent);
            info.node = query.and_then(|q| q.node);
            Iq::from_result(id, Some(info))
        } else if !set && payload.is("query", ns::VERSION) {
            Iq::from_result(id, Some(iqc::version(&self.live.user_agent)))
        } else {
            let err = StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "en",
                "",
            );
            Iq::from_error(id, err)
        };
        // Answer whoever asked (the server itself when there is no sender).
        *reply.to_mut() = from;
        self.send(reply).await
    }

    async fn roster_push(&mut self, push: RosterQuery) {
        for item in push.items {
            let jid = item.jid.clone();
            if item.subscription == Subscription::Remove {
                self.roster.remove(&jid);
                self.emit(Event::ContactRemoved {
                    handle: jid.to_string(),
                })
                .await;
            } else {
                self.roster.upsert(item);
                self.contact_changed(&jid).await;
            }
        }
    }

    /// The answer to one of our IQs, if `from` is whom we asked.
    async fn answer(
        &mut self,
        id: &str,
        from: Option<&Jid>,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        let Some(why) = self.iqs.answer(id, from, &self.me) else {
            return Ok(());
        };
        match (why, result) {
            (Pending::AccountInfo, result) => self.account_info(result).await?,
            (Pending::ArchivePage(queryid), result) => self.archive_page(queryid, result).await?,
            (Pending::RoomInfo(room), result) => self.room_info(room, result).await?,
            (Pending::RoomArchivePage(room, queryid), result) => {
                self.room_archive_page(room, queryid, result).await?
            }
            (Pending::Roster, Ok(payload)) => {
                let items = payload
                    .and_then(|p| RosterQuery::try_from(p).ok())
                    .map(|r| r.items)
                    .unwrap_or_default();
                self.roster.replace(items);
                let jids: Vec<BareJid> = self.roster.items().map(|i| i.jid.clone()).collect();
                for jid in jids {
                    self.contact_changed(&jid).await;
                }
                self.logged_in().await?;
            }
            (Pending::Roster, Err(e)) => {
                return Err(XmppError::Protocol(format!(
                    "Could not get the buddy list: {}",
                    error_text(&e)
                )));
            }
            (Pending::RosterSet(handle, adding), Err(e)) => {
                let what = if adding { "add" } else { "remove" };
                self.error(format!("Could not {what} {handle}: {}", error_text(&e)))
                    .await
            }
            (Pending::VCard(handle), result) => {
                let mut lines = iqc::profile_lines(result);
                if let Ok(jid) = BareJid::new(&handle)
                    && self.roster.item(&jid).is_some()
                {
                    lines.extend(self.roster.resource_lines(&jid));
                }
                if lines.is_empty() {
                    lines.push("No profile available".into());
                }
                self.emit(Event::Info { handle, lines }).await;
            }
            (Pending::Version(handle, resource), Ok(Some(p))) => {
                if let Ok(v) = xmpp_parsers::version::VersionResult::try_from(p) {
                    // BitlBee's words: the resource, then each field that has text.
                    let mut text = format!("Resource {resource}");
                    let fields = [
                        ("name", Some(v.name)),
                        ("version", Some(v.version)),
                        ("os", v.os),
                    ];
                    let mut first = true;
                    for (k, val) in fields {
                        let Some(val) = val.filter(|x| !x.trim().is_empty()) else {
                            continue;
                        };
                        text.push_str(if first { " " } else { ", " });
                        text.push_str(&format!("{k}: {val}"));
                        first = false;
                    }
                    self.emit(Event::ActionResult {
                        handle,
                        action: "VERSION".into(),
                        args: vec![text],
                    })
                    .await;
                }
            }
            (Pending::Version(handle, resource), Err(e)) => {
                self.error(format!(
                    "{handle}/{resource} did not say its version: {}",
                    error_text(&e)
                ))
                .await
            }
            (Pending::BlockList, Ok(Some(p))) => {
                if let Ok(list) = xmpp_parsers::blocking::BlocklistResult::try_from(p) {
                    self.blocked = list.items.iter().map(|j| j.to_string()).collect();
                    self.report_block_list().await;
                }
            }
            (Pending::BlockList, Err(e)) => {
                tracing::debug!(error = %error_text(&e), "no block list");
            }
            (Pending::Block(handle, block), Ok(_)) => {
                if let Ok(jid) = xmpp_parsers::jid::Jid::new(&handle) {
                    if block {
                        self.blocked.insert(jid.to_string());
                    } else {
                        self.blocked.remove(&jid.to_string());
                    }
                    self.report_block_list().await;
                }
            }
            (Pending::Block(handle, block), Err(e)) => {
                let what = if block { "block" } else { "unblock" };
                self.error(format!("Could not {what} {handle}: {}", error_text(&e)))
                    .await
            }
            (Pending::ServerItems, Ok(Some(p))) => {
                if let Ok(items) = DiscoItemsResult::try_from(p) {
                    for item in items.items.into_iter().take(20) {
                        let jid = item.jid.to_bare();
                        self.iq_get(
                            Some(item.jid),
                            DiscoInfoQuery { node: None },
                            Pending::ServiceInfo(jid),
                        )
                        .await?;
                    }
                }
            }
            (Pending::ServiceInfo(jid), Ok(Some(p))) => {
                if self.muc_service.is_none()
                    && DiscoInfoResult::try_from(p).is_ok_and(|i| iqc::is_muc_service(&i))
                {
                    tracing::debug!(service = %jid, "group chat service found");
                    self.muc_service = Some(jid);
                }
            }
            (Pending::Room(request), result) => self.tell(iqc::room_answer(request, result)).await,
            (Pending::Carbons, Err(e)) => {
                tracing::debug!(error = %error_text(&e), "carbons not enabled");
            }
            (why, result) => {
                tracing::trace!(?why, ok = result.is_ok(), "IQ answered");
            }
        }
        Ok(())
    }
}
