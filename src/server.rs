//! The Clicom chat server's building blocks: flood limits, presence announcements and history.

pub mod history;
pub mod limits;
pub mod presence;
