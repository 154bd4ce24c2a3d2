//! The wire decoder on arbitrary bytes: `ClientMsg::decode` and `ServerMsg::decode` never panic,
//! and whatever decodes re-encodes to a frame that decodes to the same value.
#![no_main]

use clicom::protocol::{ClientMsg, ServerMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Frames reach the decoder as text; invalid UTF-8 is refused earlier (close 1007), but a
    // lossy conversion still exercises the decoder with replacement characters.
    let text = String::from_utf8_lossy(data);

    if let Ok(msg) = ClientMsg::decode(&text) {
        let again = ClientMsg::decode(&msg.encode())
            .unwrap_or_else(|e| panic!("{msg:?} re-encoded does not decode: {e}"));
        assert_eq!(again, msg, "client message round trip");
    }

    if let Ok(Some(msg)) = ServerMsg::decode(&text) {
        let again = ServerMsg::decode(&msg.encode())
            .unwrap_or_else(|e| panic!("{msg:?} re-encoded does not decode: {e}"));
        assert_eq!(again, Some(msg), "server message round trip");
    }
});
