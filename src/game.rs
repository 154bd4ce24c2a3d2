//! Rules of the games people play against each other over the chat server. Pure values and
//! functions shared by both sides: the client draws and plays them, the server (when it relays
//! a game) replays the same rules to refuse illegal moves and to record who won.

pub mod four;
