//! Filling the gap an outage leaves. The history the server sends on a rejoin holds only the
//! room's newest messages; when it starts past the last id seen before the drop, the messages
//! in between were missed. They are fetched page by page with `history {before, limit}`,
//! newest first (ids increase by one per room, so the exact count is known), while the join
//! history and the live messages are held back; then everything is shown in id order, with a
//! marker wherever messages stay missing: more than the scrollback can hold (the oldest are
//! left out), or gone from the server. Pure: the app sends the requests and draws the result.

use std::time::{Duration, Instant};

use crate::protocol::{ChatMessage, ClientMsg};

/// How long one page may take before the catch-up shows what it has.
pub const PAGE_WAIT: Duration = Duration::from_secs(5);
/// The most messages asked for at once (the server's own page limit).
const PAGE: usize = 200;
/// The most messages fetched in all: five pages, which with the join leaves most of the
/// server's burst of ten frames for the messages typed offline.
const MAX_FETCH: usize = 1000;

/// What to show once the gap is filled, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A room message; `live` when it arrived live (bells, unread counts) rather than from
    /// history.
    Message { msg: ChatMessage, live: bool },
    /// This many messages are missing here.
    Gap(u64),
}

/// What the app does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this request and wait for its `history`.
    Ask(ClientMsg),
    /// Done: show these.
    Show(Vec<Shown>),
}

#[derive(Debug, Clone)]
pub struct CatchUp {
    room: String,
    /// The newest id seen before the drop: everything above it until `until` was missed.
    seen: u64,
    /// The oldest id of the join history.
    until: u64,
    /// The next page ends below this id.
    cursor: u64,
    /// How many of the missed messages may be fetched in all.
    budget: usize,
    /// The page asked for, and when: an answer shorter than `asked` means the server has
    /// nothing older.
    asked: usize,
    asked_at: Instant,
    /// The server has nothing more below `cursor` (or stopped answering).
    exhausted: bool,
    /// Fetched missed messages, newest page first.
    fetched: Vec<ChatMessage>,
    /// The join history and the live messages since, in arrival order.
    held: Vec<Shown>,
}

impl CatchUp {
    /// After a rejoin to `room`: whether the join `history` leaves a gap above `seen`, the id
    /// of the newest message seen before the drop. If so, returns the catch-up (holding that
    /// history) and what to do first. `scrollback` bounds what is fetched: the pane must
    /// still hold the history, the marker and some of what came before.
    pub fn after_rejoin(
        room: &str,
        seen: u64,
        history: Vec<ChatMessage>,
        scrollback: usize,
        now: Instant,
    ) -> Result<(CatchUp, Step), Vec<ChatMessage>> {
        let until = match history.first().and_then(|m| m.id) {
            Some(first) if first > seen.saturating_add(1) => first,
            _ => return Err(history),
        };
        let budget = (scrollback * 3 / 4)
            .saturating_sub(history.len())
            .min(MAX_FETCH);
        let mut catch_up = CatchUp {
            room: room.to_owned(),
            seen,
            until,
            cursor: until,
            budget,
            asked: 0,
            asked_at: now,
            exhausted: false,
            fetched: Vec::new(),
            held: history
                .into_iter()
                .map(|msg| Shown::Message { msg, live: false })
                .collect(),
        };
        let step = catch_up.next(now);
        Ok((catch_up, step))
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    /// When the page asked for is overdue.
    pub fn deadline(&self) -> Instant {
        self.asked_at + PAGE_WAIT
    }

    /// A live message of the room, shown after the gap is filled.
    pub fn hold(&mut self, msg: ChatMessage) {
        self.held.push(Shown::Message { msg, live: true });
    }

    /// The answer to the page asked for.
    pub fn on_page(&mut self, messages: Vec<ChatMessage>, now: Instant) -> Step {
        let answered = messages.len();
        let mut oldest = self.cursor;
        for m in messages {
            let Some(id) = m.id else { continue };
            let missed = id > self.seen && id < self.cursor;
            if missed && !self.fetched.iter().any(|f| f.id == Some(id)) {
                oldest = oldest.min(id);
                self.fetched.push(m);
            }
        }
        if oldest == self.cursor || answered < self.asked {
            self.exhausted = true;
        }
        self.cursor = oldest;
        self.next(now)
    }

    /// The server could not answer (an error, or no answer in time): show what there is.
    pub fn give_up(mut self) -> Vec<Shown> {
        self.exhausted = true;
        self.finish()
    }

    fn next(&mut self, now: Instant) -> Step {
        let left_in_gap = self.cursor.saturating_sub(self.seen + 1);
        let left_in_budget = self.budget.saturating_sub(self.fetched.len());
        let limit = (left_in_gap.min(PAGE as u64) as usize).min(left_in_budget);
        if self.exhausted || limit == 0 {
            return Step::Show(self.finish());
        }
        self.asked = limit;
        self.asked_at = now;
        Step::Ask(ClientMsg::History {
            room: Some(self.room.clone()),
            before: Some(self.cursor),
            limit: Some(limit as u32),
        })
    }

    /// Everything in id order, a marker wherever ids are missing between `seen` and the join
    /// history. Leaves the catch-up empty.
    fn finish(&mut self) -> Vec<Shown> {
        let mut fetched = std::mem::take(&mut self.fetched);
        let held = std::mem::take(&mut self.held);
        fetched.sort_by_key(|m| m.id);
        let mut shown = Vec::with_capacity(fetched.len() + held.len() + 2);
        let mut prev = self.seen;
        for msg in fetched {
            let id = msg.id.unwrap_or(prev + 1);
            if id > prev + 1 {
                shown.push(Shown::Gap(id - prev - 1));
            }
            prev = id;
            shown.push(Shown::Message { msg, live: false });
        }
        if self.until > prev + 1 {
            shown.push(Shown::Gap(self.until - prev - 1));
        }
        shown.extend(held);
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: u64) -> ChatMessage {
        ChatMessage {
            name: "bob".into(),
            color: "3".into(),
            text: format!("m{id}"),
            id: Some(id),
            ts: Some(1_700_000_000_000 + id),
            room: Some("main".into()),
            action: false,
            cid: None,
        }
    }

    /// What the server would answer: up to `limit` of `stored` below `before`, oldest first.
    fn page(stored: &[u64], request: &ClientMsg) -> Vec<ChatMessage> {
        let ClientMsg::History {
            before: Some(before),
            limit: Some(limit),
            ..
        } = request
        else {
            panic!("not a page request: {request:?}")
        };
        let below: Vec<u64> = stored.iter().copied().filter(|id| id < before).collect();
        let skip = below.len().saturating_sub(*limit as usize);
        below[skip..].iter().map(|&id| msg(id)).collect()
    }

    /// Runs a catch-up against a server holding `stored`; returns the requests and the result.
    fn run(seen: u64, stored: &[u64], join: usize, scrollback: usize) -> (usize, Vec<Shown>) {
        let now = Instant::now();
        let history: Vec<_> = stored[stored.len() - join..]
            .iter()
            .map(|&i| msg(i))
            .collect();
        let (mut cu, mut step) = CatchUp::after_rejoin("main", seen, history, scrollback, now)
            .unwrap_or_else(|_| panic!("a gap"));
        let mut asked = 0;
        loop {
            match step {
                Step::Ask(request) => {
                    asked += 1;
                    let answer = page(stored, &request);
                    step = cu.on_page(answer, now);
                }
                Step::Show(shown) => return (asked, shown),
            }
        }
    }

    fn ids(shown: &[Shown]) -> Vec<String> {
        shown
            .iter()
            .map(|s| match s {
                Shown::Message { msg, .. } => msg.id.unwrap().to_string(),
                Shown::Gap(n) => format!("gap {n}"),
            })
            .collect()
    }

    #[test]
    fn no_gap_no_catch_up() {
        let now = Instant::now();
        let history = vec![msg(10), msg(11)];
        for seen in [9, 10, 11, 50] {
            assert!(CatchUp::after_rejoin("main", seen, history.clone(), 1000, now).is_err());
        }
        assert!(CatchUp::after_rejoin("main", 3, Vec::new(), 1000, now).is_err());
    }

    #[test]
    fn everything_missed_is_fetched_in_pages_and_shown_in_order() {
        // Seen up to 10; 500 said since; the join history holds the newest 50.
        let stored: Vec<u64> = (1..=510).collect();
        let (asked, shown) = run(10, &stored, 50, 10_000);
        assert_eq!(asked, 3, "450 missed: pages of 200, 200 and 50");
        assert_eq!(
            ids(&shown),
            (11..=510).map(|i| i.to_string()).collect::<Vec<_>>()
        );
        assert!(
            shown
                .iter()
                .all(|s| matches!(s, Shown::Message { live: false, .. }))
        );
    }

    #[test]
    fn more_than_the_scrollback_holds_leaves_a_marker_above_the_newest() {
        let stored: Vec<u64> = (1..=130).collect();
        // Scrollback 100: three quarters, less the join history of 50, may be fetched.
        let (asked, shown) = run(10, &stored, 50, 100);
        assert_eq!(asked, 1);
        let mut expected = vec!["gap 45".to_string()];
        expected.extend((56..=130).map(|i| i.to_string()));
        assert_eq!(ids(&shown), expected);
    }

    #[test]
    fn the_fetch_is_bounded_even_with_a_huge_scrollback() {
        let stored: Vec<u64> = (1..=5000).collect();
        let (asked, shown) = run(0, &stored, 50, 1_000_000);
        assert_eq!(asked, 5);
        assert_eq!(ids(&shown)[0], "gap 3950");
        assert_eq!(shown.len(), 1 + 1000 + 50);
    }

    #[test]
    fn messages_the_server_no_longer_has_are_marked_where_they_were() {
        // Ids 20..=29 were never saved (history was failing) and 1..=14 were pruned.
        let stored: Vec<u64> = (15..=19).chain(30..=100).collect();
        let (_, shown) = run(10, &stored, 50, 10_000);
        let ids = ids(&shown);
        assert_eq!(ids[0], "gap 4");
        assert_eq!(ids[1..6], ["15", "16", "17", "18", "19"]);
        assert_eq!(ids[6], "gap 10");
        assert_eq!(ids[7], "30");
        assert_eq!(ids.last().unwrap(), "100");
        assert_eq!(ids.len(), 1 + 5 + 1 + 71);
    }

    #[test]
    fn live_messages_wait_below_the_history_and_a_failure_shows_what_there_is() {
        let now = Instant::now();
        let history: Vec<_> = (60..=109).map(msg).collect();
        let (mut cu, step) = CatchUp::after_rejoin("main", 9, history, 10_000, now).unwrap();
        assert!(matches!(
            step,
            Step::Ask(ClientMsg::History {
                before: Some(60),
                limit: Some(50),
                ..
            })
        ));
        assert_eq!(cu.deadline(), now + PAGE_WAIT);
        cu.hold(msg(110));
        let shown = cu.give_up();
        assert_eq!(ids(&shown)[0], "gap 50");
        assert_eq!(ids(&shown).last().unwrap(), "110");
        assert!(matches!(
            shown.last(),
            Some(Shown::Message { live: true, .. })
        ));
    }

    #[test]
    fn a_page_with_nothing_new_ends_the_catch_up() {
        let now = Instant::now();
        let history: Vec<_> = (60..=70).map(msg).collect();
        let (mut cu, _) = CatchUp::after_rejoin("main", 9, history, 10_000, now).unwrap();
        // A server that ignores `before` answers with its newest: nothing in the gap.
        let step = cu.on_page((60..=70).map(msg).collect(), now);
        let Step::Show(shown) = step else {
            panic!("{step:?}")
        };
        assert_eq!(ids(&shown)[0], "gap 50");
        assert_eq!(shown.len(), 12);
    }
}
