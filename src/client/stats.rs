//! The user's `/stats`: messages sent and received, people met, the snake high score. Kept as
//! JSON in the data dir (not in the settings file), written atomically. A corrupt file never stops
//! the client: it is moved aside, stats start fresh, and the caller gets a warning to show.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::write_atomically;

/// Past this many names, `users_met` stops growing, so the file stays small whatever happens.
pub const MAX_USERS_MET: usize = 100_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    pub users_met: BTreeSet<String>,
    pub snake_high_score: u32,
}

/// Why stats could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("could not save stats to {}: {source}", path.display())]
pub struct StatsError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Stats {
    /// `stats.json` in [`crate::paths::data_dir`].
    pub fn default_path() -> PathBuf {
        crate::paths::data_dir().join("stats.json")
    }

    /// Loads from [`Stats::default_path`]; see [`Stats::load_from`].
    pub fn load() -> (Stats, Option<String>) {
        Stats::load_from(&Stats::default_path())
    }

    /// Loads stats; never fails. A missing file is fresh stats. An unreadable or corrupt one
    /// gives fresh stats and a warning for the user; a corrupt file is first renamed to
    /// `<name>.bad` so the next save does not destroy what may still be recovered by hand.
    pub fn load_from(path: &Path) -> (Stats, Option<String>) {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return (Stats::default(), None);
            }
            Err(err) => {
                let warning = format!(
                    "could not read stats from {}: {err}; counting from zero",
                    path.display()
                );
                return (Stats::default(), Some(warning));
            }
        };
        match serde_json::from_slice::<Stats>(&bytes) {
            Ok(stats) => (stats, None),
            Err(err) => {
                let aside = aside_path(path);
                let kept = match std::fs::rename(path, &aside) {
                    Ok(()) => format!("the old file is kept as {}", aside.display()),
                    Err(rename_err) => format!("could not move it aside: {rename_err}"),
                };
                let warning = format!(
                    "stats file {} is corrupt ({err}); counting from zero, {kept}",
                    path.display()
                );
                (Stats::default(), Some(warning))
            }
        }
    }

    /// Saves to [`Stats::default_path`].
    pub fn save(&self) -> Result<(), StatsError> {
        self.save_to(&Stats::default_path())
    }

    /// Writes atomically (temp file + rename), creating the directory if needed.
    pub fn save_to(&self, path: &Path) -> Result<(), StatsError> {
        let json = serde_json::to_vec_pretty(self).expect("stats always serialise");
        write_atomically(path, &json).map_err(|source| StatsError {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn record_sent(&mut self) {
        self.sent = self.sent.saturating_add(1);
    }

    /// Counts a message received from `from` and meets them.
    pub fn record_received(&mut self, from: &str) {
        self.received = self.received.saturating_add(1);
        self.meet(from);
    }

    /// Remembers a name; `true` if it is someone new.
    pub fn meet(&mut self, name: &str) -> bool {
        let name = name.trim();
        if name.is_empty() || self.users_met.len() >= MAX_USERS_MET {
            return false;
        }
        if self.users_met.contains(name) {
            return false;
        }
        self.users_met.insert(name.to_string())
    }

    /// Records a finished snake game; `true` if it is a new high score.
    pub fn record_snake_score(&mut self, score: u32) -> bool {
        if score > self.snake_high_score {
            self.snake_high_score = score;
            true
        } else {
            false
        }
    }
}

fn aside_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bad");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_fresh_stats_without_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (stats, warning) = Stats::load_from(&dir.path().join("stats.json"));
        assert_eq!(stats, Stats::default());
        assert_eq!(warning, None);
    }

    #[test]
    fn stats_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("stats.json");
        let mut stats = Stats::default();
        stats.record_sent();
        stats.record_sent();
        stats.record_received("bob");
        stats.record_received("carol");
        stats.record_received("bob");
        assert!(stats.record_snake_score(12));
        stats.save_to(&path).unwrap();
        let (loaded, warning) = Stats::load_from(&path);
        assert_eq!(warning, None);
        assert_eq!(loaded, stats);
        assert_eq!((loaded.sent, loaded.received), (2, 3));
        assert_eq!(
            loaded.users_met.iter().collect::<Vec<_>>(),
            ["bob", "carol"]
        );
        assert_eq!(loaded.snake_high_score, 12);
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["stats.json"], "no temp file is left behind");
    }

    #[test]
    fn corrupt_file_gives_fresh_stats_a_warning_and_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.json");
        std::fs::write(&path, b"{\"sent\": 5, \"received\": ").unwrap();
        let (stats, warning) = Stats::load_from(&path);
        assert_eq!(stats, Stats::default());
        let warning = warning.expect("a corrupt file is reported");
        assert!(warning.contains("corrupt"), "{warning}");
        assert!(warning.contains("stats.json.bad"), "{warning}");
        let aside = dir.path().join("stats.json.bad");
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            b"{\"sent\": 5, \"received\": "
        );
        stats.save_to(&path).unwrap();
        assert!(
            aside.exists(),
            "saving fresh stats does not destroy the old file"
        );
    }

    #[test]
    fn wrong_shapes_count_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.json");
        std::fs::write(&path, br#"{"sent": "many"}"#).unwrap();
        let (stats, warning) = Stats::load_from(&path);
        assert_eq!(stats, Stats::default());
        assert!(warning.is_some());
    }

    #[test]
    fn missing_and_unknown_fields_are_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.json");
        std::fs::write(&path, br#"{"sent": 4, "future_field": [1, 2]}"#).unwrap();
        let (stats, warning) = Stats::load_from(&path);
        assert_eq!(warning, None);
        assert_eq!(stats.sent, 4);
        assert_eq!(stats.received, 0);
    }

    #[test]
    fn meeting_counts_each_name_once_and_is_bounded() {
        let mut stats = Stats::default();
        assert!(stats.meet("alice"));
        assert!(!stats.meet("alice"));
        assert!(!stats.meet("  "));
        for i in 0..MAX_USERS_MET + 10 {
            stats.meet(&format!("user{i}"));
        }
        assert_eq!(stats.users_met.len(), MAX_USERS_MET);
    }

    #[test]
    fn only_a_better_snake_score_is_a_high_score() {
        let mut stats = Stats::default();
        assert!(stats.record_snake_score(5));
        assert!(!stats.record_snake_score(5));
        assert!(!stats.record_snake_score(3));
        assert!(stats.record_snake_score(6));
        assert_eq!(stats.snake_high_score, 6);
    }

    #[test]
    fn unreadable_file_is_a_warning_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let (stats, warning) = Stats::load_from(dir.path());
        assert_eq!(stats, Stats::default());
        assert!(warning.is_some());
    }
}
