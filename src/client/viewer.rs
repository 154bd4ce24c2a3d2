//! Full-screen viewers for what arrives in the chat: a text pager (files and long messages),
//! pictures and video. Each is a pure state changed by keys and ticks (and, for video, by
//! frames a decoder thread sends); drawing lives in `ui::viewer`. Nothing here opens or runs
//! what it shows; "open with the system's player" is an action the app carries out.

pub mod highlight;
pub mod lines;
pub mod pager;
pub mod picture;
pub mod video;
