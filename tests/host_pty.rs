//! End to end: `clicom host` in a pseudo-terminal is a working chat on its own — it shows the
//! address to join, another client joins it and they talk, its history lives in the data dir,
//! and quitting it says goodbye to the others.

#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;

use pty::{ClientHome, Pty};

#[test]
fn host_mode_is_a_chat_others_can_join() {
    let host_home = ClientHome::new();
    let mut host = Pty::spawn(
        &host_home,
        &[
            "host",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            "hosty",
            "--color",
            "3",
        ],
        &[],
        (100, 30),
    );
    host.wait_ready("● connected");
    host.wait_for("hosty joined the chat. (1 online)");
    let screen = host.screen();
    let marker = "others join with `clicom ws://";
    let start = screen
        .find(marker)
        .unwrap_or_else(|| panic!("the join address is shown:\n{screen}"))
        + marker.len();
    let addr: String = screen[start..].chars().take_while(|c| *c != '/').collect();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(
        host_home.data().join("history.db").exists(),
        "history lives in the data dir"
    );

    let guest_home = ClientHome::new();
    let mut guest = Pty::spawn(&guest_home, &[&addr, "--name", "guest"], &[], (100, 30));
    guest.wait_ready("● connected");
    host.wait_for("guest joined the chat. (2 online)");
    guest.line("hello host");
    host.wait_for("guest: hello host");
    host.line("welcome, guest");
    guest.wait_for("hosty: welcome, guest");

    host.line("/quit");
    assert!(host.wait_exit(), "the host exits cleanly");
    guest.wait_for("Server is shutting down.");
    guest.wait_for("1001");
}
