//! Presence changes of one room since they were last announced, and the one `system` line that
//! announces them. Coalescing joins, leaves and renames this way is what keeps a join storm of
//! N clients at O(N) frames; a single change keeps the original server's exact wording.

use std::time::Duration;

/// Rooms up to this size announce presence at the configured window.
pub const FULL_ROOM: usize = 1000;

/// The longest a room gathers presence changes.
pub const MAX_WINDOW: Duration = Duration::from_secs(5);

/// How long a room of `members` gathers presence changes before announcing them. Every
/// announcement sends the whole user list to every member, O(members²) bytes, so beyond
/// `full_room` members the window grows with the square of the size (capped at
/// [`MAX_WINDOW`]): a big room's presence traffic stays near a `full_room`-member room's.
pub fn window(base: Duration, members: usize, full_room: usize) -> Duration {
    let full_room = full_room.max(1);
    if members <= full_room {
        return base;
    }
    let scale = (members as f64 / full_room as f64).powi(2);
    base.mul_f64(scale).min(MAX_WINDOW.max(base))
}

/// Joins, leaves and renames not yet announced, in the order they first happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceChanges {
    joined: Vec<String>,
    left: Vec<String>,
    renamed: Vec<(String, String)>,
}

impl PresenceChanges {
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty() && self.renamed.is_empty()
    }

    /// `name` joined. A leave of the same name in this window (a quick reconnect) cancels out.
    pub fn join(&mut self, name: &str) {
        if let Some(i) = self.left.iter().position(|n| n == name) {
            self.left.remove(i);
        } else {
            self.joined.push(name.to_owned());
        }
    }

    /// `name` left. Someone who joined in this window and leaves again was never announced,
    /// so nothing is said; someone renamed in this window leaves under their announced name.
    pub fn leave(&mut self, name: &str) {
        if let Some(i) = self.joined.iter().position(|n| n == name) {
            self.joined.remove(i);
        } else if let Some(i) = self.renamed.iter().position(|(_, to)| to == name) {
            let (from, _) = self.renamed.remove(i);
            self.left.push(from);
        } else {
            self.left.push(name.to_owned());
        }
    }

    /// `from` is now called `to`. Chains collapse (`a→b→c` is `a→c`; `a→b→a` is nothing), and
    /// someone who joined in this window is announced under the new name.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(n) = self.joined.iter_mut().find(|n| *n == from) {
            *n = to.to_owned();
        } else if let Some(i) = self.renamed.iter().position(|(_, t)| t == from) {
            if self.renamed[i].0 == to {
                self.renamed.remove(i);
            } else {
                self.renamed[i].1 = to.to_owned();
            }
        } else {
            self.renamed.push((from.to_owned(), to.to_owned()));
        }
    }

    /// The announcement for these changes in a room that now has `online` members, or `None`
    /// when they cancelled out.
    pub fn announcement(&self, online: usize) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        if !self.joined.is_empty() {
            parts.push(format!("{} joined the chat.", name_list(&self.joined)));
        }
        if !self.left.is_empty() {
            parts.push(format!("{} left the chat.", name_list(&self.left)));
        }
        const RENAMES_SHOWN: usize = 3;
        for (from, to) in self.renamed.iter().take(RENAMES_SHOWN) {
            parts.push(format!("{from} is now known as {to}."));
        }
        if self.renamed.len() > RENAMES_SHOWN {
            parts.push(format!(
                "{} others changed their names.",
                self.renamed.len() - RENAMES_SHOWN
            ));
        }
        let text = parts.join(" ");
        if self.joined.is_empty() && self.left.is_empty() {
            // Only renames: the number online did not change.
            return Some(text);
        }
        Some(format!("{text} ({online} online)"))
    }
}

/// "Alice", "Alice and Bob", "Alice, Bob and Carol", "Alice, Bob and 3 others".
fn name_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} others", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_rooms_gather_presence_longer() {
        let base = Duration::from_millis(40);
        assert_eq!(window(base, 1, 1000), base);
        assert_eq!(window(base, 1000, 1000), base);
        assert_eq!(window(base, 2000, 1000), base * 4);
        assert_eq!(window(base, 10_000, 1000), Duration::from_secs(4));
        assert_eq!(window(base, 100_000, 1000), MAX_WINDOW);
        assert_eq!(window(Duration::ZERO, 5000, 1000), Duration::ZERO);
    }

    #[test]
    fn a_single_change_keeps_the_original_wording() {
        let mut p = PresenceChanges::default();
        p.join("Alice");
        assert_eq!(
            p.announcement(3).as_deref(),
            Some("Alice joined the chat. (3 online)")
        );
        let mut p = PresenceChanges::default();
        p.leave("Alice");
        assert_eq!(
            p.announcement(2).as_deref(),
            Some("Alice left the chat. (2 online)")
        );
    }

    #[test]
    fn many_joins_make_one_line() {
        let mut p = PresenceChanges::default();
        for name in ["Alice", "Bob", "Carol", "Dave", "Eve"] {
            p.join(name);
        }
        assert_eq!(
            p.announcement(12).as_deref(),
            Some("Alice, Bob and 3 others joined the chat. (12 online)")
        );
        let mut p = PresenceChanges::default();
        p.join("Alice");
        p.join("Bob");
        assert_eq!(
            p.announcement(2).as_deref(),
            Some("Alice and Bob joined the chat. (2 online)")
        );
        p.join("Carol");
        assert_eq!(
            p.announcement(3).as_deref(),
            Some("Alice, Bob and Carol joined the chat. (3 online)")
        );
    }

    #[test]
    fn joins_and_leaves_together() {
        let mut p = PresenceChanges::default();
        p.join("Alice");
        p.leave("Bob");
        assert_eq!(
            p.announcement(4).as_deref(),
            Some("Alice joined the chat. Bob left the chat. (4 online)")
        );
    }

    #[test]
    fn join_then_leave_in_one_window_says_nothing() {
        let mut p = PresenceChanges::default();
        p.join("Alice");
        p.leave("Alice");
        assert!(p.is_empty());
        assert_eq!(p.announcement(1), None);
    }

    #[test]
    fn quick_reconnect_says_nothing() {
        let mut p = PresenceChanges::default();
        p.leave("Alice");
        p.join("Alice");
        assert_eq!(p.announcement(1), None);
    }

    #[test]
    fn renames_collapse_and_follow_joins() {
        let mut p = PresenceChanges::default();
        p.rename("a", "b");
        p.rename("b", "c");
        assert_eq!(p.announcement(5).as_deref(), Some("a is now known as c."));
        p.rename("c", "a");
        assert!(p.is_empty(), "a round trip is no change");

        let mut p = PresenceChanges::default();
        p.join("newbie");
        p.rename("newbie", "Nina");
        assert_eq!(
            p.announcement(2).as_deref(),
            Some("Nina joined the chat. (2 online)")
        );

        let mut p = PresenceChanges::default();
        p.rename("Bob", "Robert");
        p.leave("Robert");
        assert_eq!(
            p.announcement(1).as_deref(),
            Some("Bob left the chat. (1 online)"),
            "others only ever knew the old name"
        );
    }
}
