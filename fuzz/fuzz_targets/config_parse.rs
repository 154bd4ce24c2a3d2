//! The settings file on arbitrary text: parsing never panics, and a file that loads saves to
//! text that loads to the same settings, also after the edits the client makes (name, flag,
//! server alias).
#![no_main]

use std::path::Path;

use clicom::config::{Config, Flag};
use libfuzzer_sys::fuzz_target;

fn reload(config: &Config) -> Config {
    let saved = config.to_toml_string();
    Config::parse(config.path(), &saved)
        .unwrap_or_else(|e| panic!("saved settings do not load: {e}\n--- saved:\n{saved}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/config.toml");
    let Ok(mut config) = Config::parse(path, text) else {
        return;
    };
    assert_eq!(reload(&config).settings(), config.settings(), "save round trip");

    let mouse = config.settings().mouse;
    config.set_flag(Flag::Mouse, !mouse);
    // These may be refused (a value of the wrong kind in the way); refusing is fine, but an
    // accepted edit must survive a save.
    let _ = config.set_name("Fuzzer");
    let _ = config.set_server_alias("fuzz", "ws://127.0.0.1:1/ws");
    assert_eq!(reload(&config).settings(), config.settings(), "edited round trip");
});
