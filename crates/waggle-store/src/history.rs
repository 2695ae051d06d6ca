//! History queries over one conversation (`CHATHISTORY`), and the conversations
//! active between two times (`CHATHISTORY TARGETS`).
//!
//! A conversation's messages are totally ordered by (time, seq). Every bound
//! becomes an exclusive point in that order: a time `t` stands before every
//! message at `t` or later when it bounds from above, after every message at `t`
//! or earlier when it bounds from below; a msgid stands exactly at its message, so
//! paging by msgid neither skips nor repeats messages that share a millisecond.

use std::time::SystemTime;

use waggle_core::{
    Conversation, ConversationSummary, HistoryBound, HistoryQuery, LoggedMessage, StoreError,
    UserId, UserKey,
};

use crate::columns::{self, ConvKey};
use crate::messages::{MessageRow, logged, message_columns};
use crate::sqlite::{SqliteStore, db_err};

/// A point in (time in ms, seq) order.
type Point = (i64, i64);

/// Before every message.
const START: Point = (i64::MIN, i64::MIN);
/// After every message.
const END: Point = (i64::MAX, i64::MAX);

/// A bound resolved into the point it stands at from below and from above.
#[derive(Debug, Clone, Copy)]
struct Edges {
    lower: Point,
    upper: Point,
}

/// Messages strictly between two points, earliest first.
const ASCENDING: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE user_id = ?1 AND account_id IS ?2 AND conv_kind = ?3 \
     AND target = ?4 AND (at_ms, seq) > (?5, ?6) AND (at_ms, seq) < (?7, ?8) \
     ORDER BY at_ms, seq LIMIT ?9"
);

/// Messages strictly between two points, latest first.
const DESCENDING: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE user_id = ?1 AND account_id IS ?2 AND conv_kind = ?3 \
     AND target = ?4 AND (at_ms, seq) > (?5, ?6) AND (at_ms, seq) < (?7, ?8) \
     ORDER BY at_ms DESC, seq DESC LIMIT ?9"
);

impl SqliteStore {
    /// Where a bound stands; `None` for a msgid not in this conversation.
    async fn edges(
        &self,
        user: UserId,
        c: &ConvKey,
        bound: &HistoryBound,
    ) -> Result<Option<Edges>, StoreError> {
        match bound {
            HistoryBound::Time(t) => Ok(Some(Edges {
                lower: (columns::floor_ms(*t), i64::MAX),
                upper: (columns::ceil_ms(*t), i64::MIN),
            })),
            HistoryBound::MsgId(msgid) => {
                // `+`: look up by msgid, not by scanning the conversation.
                let found: Option<Point> = sqlx::query_as(
                    "SELECT at_ms, seq FROM messages WHERE user_id = ? AND msgid = ? \
                     AND +account_id IS ? AND +conv_kind = ? AND +target = ? LIMIT 1",
                )
                .bind(user.0)
                .bind(msgid)
                .bind(c.account)
                .bind(c.kind)
                .bind(&c.target)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(found.map(|p| Edges { lower: p, upper: p }))
            }
        }
    }

    /// Up to `limit` messages strictly between `lower` and `upper`: the earliest
    /// (`latest_first` false) or the latest ones, returned in ascending order.
    #[allow(clippy::too_many_arguments)]
    async fn range(
        &self,
        user: UserId,
        key: &UserKey,
        c: &ConvKey,
        lower: Point,
        upper: Point,
        limit: u32,
        latest_first: bool,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        let sql = if latest_first { DESCENDING } else { ASCENDING };
        let rows: Vec<MessageRow> = sqlx::query_as(sql)
            .bind(user.0)
            .bind(c.account)
            .bind(c.kind)
            .bind(&c.target)
            .bind(lower.0)
            .bind(lower.1)
            .bind(upper.0)
            .bind(upper.1)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut messages = rows
            .into_iter()
            .map(|r| logged(user, key, r))
            .collect::<Result<Vec<_>, _>>()?;
        if latest_first {
            messages.reverse();
        }
        Ok(messages)
    }

    pub(crate) async fn history_impl(
        &self,
        user: UserId,
        key: &UserKey,
        conversation: &Conversation,
        query: &HistoryQuery,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        let c = ConvKey::of(conversation);
        match query {
            HistoryQuery::Latest { after, limit } => {
                let lower = match after {
                    None => START,
                    Some(bound) => match self.edges(user, &c, bound).await? {
                        Some(e) => e.lower,
                        None => return Ok(Vec::new()),
                    },
                };
                self.range(user, key, &c, lower, END, *limit, true).await
            }
            HistoryQuery::Before { bound, limit } => match self.edges(user, &c, bound).await? {
                Some(e) => {
                    self.range(user, key, &c, START, e.upper, *limit, true)
                        .await
                }
                None => Ok(Vec::new()),
            },
            HistoryQuery::After { bound, limit } => match self.edges(user, &c, bound).await? {
                Some(e) => self.range(user, key, &c, e.lower, END, *limit, false).await,
                None => Ok(Vec::new()),
            },
            HistoryQuery::Around { bound, limit } => {
                let Some(e) = self.edges(user, &c, bound).await? else {
                    return Ok(Vec::new());
                };
                // The message at the bound, if any, counts on the later side.
                let at_or_after = (e.upper.0, e.upper.1.saturating_sub(1));
                let mut before = self
                    .range(user, key, &c, START, e.upper, *limit / 2, true)
                    .await?;
                let rest = limit.saturating_sub(u32::try_from(before.len()).unwrap_or(*limit));
                let after = self
                    .range(user, key, &c, at_or_after, END, rest, false)
                    .await?;
                before.extend(after);
                Ok(before)
            }
            HistoryQuery::Between { from, to, limit } => {
                let (Some(a), Some(b)) = (
                    self.edges(user, &c, from).await?,
                    self.edges(user, &c, to).await?,
                ) else {
                    return Ok(Vec::new());
                };
                // The ones nearest `from` when more than `limit` match: the
                // earliest going forwards, the latest going backwards.
                let backwards = a.lower > b.lower;
                let (first, last) = if backwards { (b, a) } else { (a, b) };
                self.range(user, key, &c, first.lower, last.upper, *limit, backwards)
                    .await
            }
        }
    }

    pub(crate) async fn conversations_impl(
        &self,
        user: UserId,
        from: SystemTime,
        to: SystemTime,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let (early, late) = if from <= to { (from, to) } else { (to, from) };
        let rows: Vec<(Option<i64>, i64, String, i64)> = sqlx::query_as(
            // A conversation counts by its latest message: one whose latest
            // message is after the window is not listed for older ones in it.
            "SELECT account_id, conv_kind, target, latest FROM ( \
                 SELECT account_id, conv_kind, target, MAX(at_ms) AS latest, \
                        MAX(seq) AS last_seq \
                 FROM messages WHERE user_id = ? \
                 GROUP BY account_id, conv_kind, target) \
             WHERE latest > ? AND latest < ? \
             ORDER BY latest, last_seq LIMIT ?",
        )
        .bind(user.0)
        .bind(columns::floor_ms(early))
        .bind(columns::ceil_ms(late))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(account, kind, target, latest)| {
                Ok(ConversationSummary {
                    conversation: ConvKey {
                        kind,
                        account,
                        target,
                    }
                    .conversation()?,
                    latest: columns::from_ms(latest),
                })
            })
            .collect()
    }
}
