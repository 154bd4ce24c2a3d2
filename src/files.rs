//! Files sent through the chat, the parts both sides share: safe names for what strangers
//! offer, folders packed as tar streams and unpacked with every entry checked, SHA-256 of
//! streams, the resumable HTTP transfer (`transfer`, the client's side) and the server's file
//! endpoints over a content store (`serve`, `store`). Nothing here runs or opens what it
//! receives; the viewers live in `client::viewer`.

pub mod digest;
pub mod extract;
pub mod name;
pub mod pack;
pub mod serve;
pub mod store;
pub mod transfer;
