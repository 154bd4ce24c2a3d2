//! End to end: the real `clicom` client in a pseudo-terminal against a real `clicom serve`,
//! used as a person would — typing, pasting, clicking — and checked by reading the screen.

#![allow(clippy::unwrap_used)]

#[path = "support/pty.rs"]
mod pty;

use pty::{ClientHome, Key, Pty, Serve, recording_opener, wait_for_file};

const WIDE: (u16, u16) = (100, 30);

/// A server with its history in its own temporary directory.
struct Site {
    dir: tempfile::TempDir,
    serve: Option<Serve>,
}

impl Site {
    fn start() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let serve = Serve::start(0, &dir.path().join("history.db"), dir.path());
        Site {
            dir,
            serve: Some(serve),
        }
    }

    fn url(&self) -> String {
        self.serve.as_ref().unwrap().url.clone()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.serve.as_ref().unwrap().port)
    }

    fn kill(&mut self) -> u16 {
        let serve = self.serve.take().unwrap();
        let port = serve.port;
        serve.kill();
        port
    }

    /// Starts again on `port` with the same history database.
    fn restart(&mut self, port: u16) {
        self.serve = Some(Serve::start(
            port,
            &self.dir.path().join("history.db"),
            self.dir.path(),
        ));
    }
}

/// A client joined as `name` (colour given on the command line) to `server`.
fn client(home: &ClientHome, server: &str, name: &str, size: (u16, u16)) -> Pty {
    let pty = Pty::spawn(home, &[server, "--name", name, "--color", "2"], &[], size);
    pty.wait_ready("● connected");
    pty
}

#[test]
fn two_clients_chat_and_the_sidebar_lists_both() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let mut bob = client(&hb, &site.addr(), "bob", WIDE);
    alice.wait_for("Users (2)");
    bob.wait_for("Users (2)");
    alice.wait_for("alice (you)");
    bob.wait_for("bob (you)");
    let (x, _) = alice.find("bob").filter(|(x, _)| *x >= 80).unwrap();
    assert!(x >= 80, "bob is listed in alice's sidebar");

    alice.line("hello bob, 你好 👋");
    bob.wait_for("alice: hello bob, 你好 👋");
    bob.line("hi alice");
    alice.wait_for("bob: hi alice");
    // The mention of alice is highlighted on her screen and counted nowhere else.
    bob.line("/me waves");
    alice.wait_for("* bob waves");
    alice.line("/quit");
    assert!(alice.wait_exit(), "a clean exit");
    bob.wait_for("Users (1)");
}

#[test]
fn killing_the_server_shows_the_countdown_and_a_restart_delivers_what_was_typed_offline() {
    let mut site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    alice.line("before the crash");
    bob.wait_for("alice: before the crash");

    let port = site.kill();
    alice.wait_for("reconnecting in");
    alice.wait_until("the attempt number", |s| s.contains("(attempt "));
    alice.line("typed while offline");
    alice.wait_for("typed while offline (pending)");
    alice.wait_until("a pending count", |s| {
        s.lines().next().unwrap_or("").contains("1 pending")
    });

    site.restart(port);
    // No key pressed: the client reconnects on its own, sends the message, and it arrives.
    bob.wait_for("alice: typed while offline");
    alice.wait_gone("(pending)");
    alice.wait_for("● connected");
    let screen = alice.screen();
    assert_eq!(
        screen.matches("typed while offline").count(),
        1,
        "no duplicate after the history replay:\n{screen}"
    );
    assert_eq!(
        screen.matches("before the crash").count(),
        1,
        "history is de-duplicated:\n{screen}"
    );
}

#[test]
fn a_key_skips_the_reconnect_wait() {
    let mut site = Site::start();
    let home = ClientHome::new();
    let mut alice = client(&home, &site.addr(), "alice", WIDE);
    let port = site.kill();
    alice.wait_for("reconnecting in");
    site.restart(port);
    alice.key(Key::Ctrl('r'));
    alice.wait_for("● connected");
}

#[test]
fn server_command_switches_between_two_servers() {
    let (one, two) = (Site::start(), Site::start());
    let (ha, hc) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &one.addr(), "alice", WIDE);
    let carol = client(&hc, &two.addr(), "carol", WIDE);
    alice.wait_for("Users (1)");

    alice.line(&format!("/server {}", two.addr()));
    alice.wait_for(&format!(" {} ", two.url()));
    alice.wait_for("Users (2)");
    alice.wait_for("carol");
    carol.wait_for("alice joined");
    alice.line("on the second server");
    carol.wait_for("alice: on the second server");
    assert!(
        ha.read_config()
            .contains(&format!("server = \"{}\"", two.addr())),
        "the server is saved: {}",
        ha.read_config()
    );

    alice.line(&format!("/server {}", one.url()));
    alice.wait_for(&format!(" {} ", one.url()));
    alice.wait_until("a fresh user list", |s| s.contains("Users (1)"));
    carol.wait_for("Users (1)");
}

#[test]
fn nick_and_color_survive_a_restart_of_the_client() {
    let site = Site::start();
    let home = ClientHome::new();
    home.write_config(&format!(
        "# my settings\nname = \"alice\"\ncolor = \"2\"\nserver = \"{}\"\nkeep_me = 1\n",
        site.addr()
    ));
    let mut first = Pty::spawn(&home, &[], &[], WIDE);
    first.wait_ready("alice (you)");
    first.line("/nick alicia");
    first.wait_for("You are now alicia.");
    first.line("/color 5");
    first.wait_for("Your colour is now Blue (5).");
    first.line("/exit");
    assert!(first.wait_exit());
    let config = home.read_config();
    assert!(config.contains("name = \"alicia\""), "{config}");
    assert!(config.contains("color = \"5\""), "{config}");
    assert!(
        config.contains("# my settings") && config.contains("keep_me = 1"),
        "{config}"
    );

    let second = Pty::spawn(&home, &[], &[], WIDE);
    second.wait_ready("alicia (you)");
    let status = second.row(0);
    assert!(status.contains("alicia"), "{status}");
}

#[test]
fn first_run_asks_for_a_name_and_colour_and_saves_them() {
    let site = Site::start();
    let home = ClientHome::new();
    let mut pty = Pty::spawn(&home, &[&site.addr()], &[], WIDE);
    pty.wait_for("Welcome to Clicom!");
    pty.wait_for("|_|\\___\\___/|_|");
    pty.type_text("Neo");
    pty.wait_for("Neo: Hello, world!");
    pty.key(Key::Enter);
    pty.type_text("4");
    pty.key(Key::Enter);
    pty.wait_for("Neo (you)");
    pty.wait_for("● connected");
    let config = home.read_config();
    assert!(
        config.contains("name = \"Neo\"") && config.contains("color = \"4\""),
        "{config}"
    );
}

#[test]
fn clicking_a_link_from_another_client_opens_exactly_that_url() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let out = ha.dir.path().join("opened.txt");
    let opener = recording_opener(ha.dir.path(), &out);
    ha.write_config(&format!("open_command = \"{}\"\n", opener.display()));
    // Narrow, so the link wraps over rows.
    let mut alice = client(&ha, &site.addr(), "alice", (50, 24));
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    let url = "https://example.com/docs/a/rather/long/path/index.html?q=1&r=(2)";
    let mut bob = bob;
    bob.line(&format!("look: {url}, nice"));
    alice.wait_for("look:");
    alice.wait_for("nice");
    // Click on the link's last row: the piece that wrapped.
    let (x, y) = alice.find("(2)").unwrap();
    let (_, first_row) = alice.find("https://").unwrap();
    assert!(y > first_row, "the link wrapped:\n{}", alice.screen());
    assert!(alice.underlined(x, y), "link cells are underlined");
    alice.click(x, y);
    let opened = wait_for_file(&out, |t| t.ends_with('\n'));
    assert_eq!(opened, format!("{url}\n"));
    // A click on plain text opens nothing.
    let (px, py) = alice.find("look:").unwrap();
    alice.click(px, py);
    alice.line("/stats");
    alice.wait_for("Messages sent:");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), format!("{url}\n"));
}

#[test]
fn hint_mode_opens_a_link_from_the_keyboard() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let out = ha.dir.path().join("opened.txt");
    let opener = recording_opener(ha.dir.path(), &out);
    ha.write_config(&format!("open_command = \"{}\"\n", opener.display()));
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let mut bob = client(&hb, &site.addr(), "bob", WIDE);
    bob.line("first https://one.example/a then www.two.example");
    alice.wait_for("www.two.example");
    alice.key(Key::Ctrl('o'));
    alice.wait_for("type its label");
    alice.type_text("s");
    let opened = wait_for_file(&out, |t| t.ends_with('\n'));
    assert_eq!(opened, "https://www.two.example\n");
    alice.wait_gone("type its label");
}

#[test]
fn sidebar_click_starts_a_private_message() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    alice.wait_for("Users (2)");
    let (x, y) = alice.find("bob").filter(|(x, _)| *x >= 80).unwrap();
    alice.click(x, y);
    alice.wait_for("› /msg bob");
    alice.type_text("psst");
    alice.key(Key::Enter);
    bob.wait_for("[alice → you] psst");
}

#[test]
fn a_multi_line_paste_is_previewed_before_sending() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", WIDE);
    let bob = client(&hb, &site.addr(), "bob", WIDE);
    alice.paste("line one\nline two\nline three");
    alice.wait_for("Paste 3 lines?");
    assert!(!bob.screen().contains("line one"));
    alice.type_text("l");
    bob.wait_for("alice: line three");
    bob.wait_for("alice: line one");
}

#[test]
fn mouse_capture_toggles_and_the_status_line_says_so() {
    let site = Site::start();
    let home = ClientHome::new();
    let mut alice = client(&home, &site.addr(), "alice", WIDE);
    alice.key(Key::F2);
    alice.wait_for("mouse off (F2)");
    alice.wait_until("mouse capture off", |_| !alice.mouse_enabled());
    alice.key(Key::F2);
    alice.wait_gone("mouse off (F2)");
    assert!(alice.mouse_enabled());
}

#[test]
fn sigterm_restores_the_terminal() {
    let site = Site::start();
    let home = ClientHome::new();
    let mut alice = client(&home, &site.addr(), "alice", WIDE);
    let pid = alice.pid().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(alice.wait_exit(), "exit status 0 after SIGTERM");
    let raw = String::from_utf8_lossy(&alice.raw()).into_owned();
    let tail = &raw[raw.rfind("\x1b[?1049l").expect("left the alternate screen")..];
    assert!(raw.contains("\x1b[?1000l"), "mouse capture switched off");
    assert!(tail.contains("\x1b[?25h"), "cursor shown again");
    assert!(!alice.mouse_enabled());
}

#[test]
fn a_too_small_terminal_shows_a_clear_message() {
    let home = ClientHome::new();
    let mut pty = Pty::spawn(&home, &["127.0.0.1:1", "--name", "x"], &[], (20, 5));
    pty.wait_for("too small");
    pty.resize(80, 24);
    pty.wait_for("Users (offline)");
}

#[test]
fn the_title_counts_unread_messages_while_scrolled_up() {
    let site = Site::start();
    let (ha, hb) = (ClientHome::new(), ClientHome::new());
    let mut alice = client(&ha, &site.addr(), "alice", (80, 12));
    let mut bob = client(&hb, &site.addr(), "bob", WIDE);
    for i in 0..15 {
        bob.line(&format!("filler {i}"));
    }
    alice.wait_for("filler 14");
    alice.key(Key::PageUp);
    alice.wait_gone("filler 14");
    bob.line("while you were away");
    alice.wait_for("1 new message");
    alice.wait_until("the title's unread count", |_| {
        alice.title().starts_with("(1) Clicom")
    });
    alice.key(Key::End);
    alice.wait_for("while you were away");
    alice.wait_until("the title without a count", |_| {
        alice.title() == "Clicom — #main"
    });
}

#[test]
fn a_malformed_config_is_reported_with_its_line_and_left_alone() {
    let home = ClientHome::new();
    let broken = "name = \"alice\"\ncolor = \"2\"\nserver = [unclosed\n";
    home.write_config(broken);
    let mut pty = Pty::spawn(&home, &[], &[], WIDE);
    assert!(!pty.wait_exit(), "a failing exit status");
    pty.wait_for("config.toml:3");
    assert_eq!(home.read_config(), broken, "never overwritten");
}

#[test]
fn logs_go_to_a_file_in_the_data_dir_not_the_screen() {
    let site = Site::start();
    let home = ClientHome::new();
    let mut alice = Pty::spawn(
        &home,
        &[&site.addr(), "--name", "alice"],
        &[("RUST_LOG", "debug")],
        WIDE,
    );
    alice.wait_ready("● connected");
    alice.line("/quit");
    assert!(alice.wait_exit());
    let log = std::fs::read_to_string(home.data().join("clicom.log")).unwrap();
    assert!(log.contains("client starting"), "{log}");
    assert!(!alice.screen().contains("INFO"), "{}", alice.screen());
}

/// A CA and a server certificate for 127.0.0.1 signed by it; the CA's PEM text.
struct PrivateCa {
    ca_pem: String,
    server: rustls::ServerConfig,
}

impl PrivateCa {
    fn new() -> PrivateCa {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Clicom home CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        PrivateCa {
            ca_pem: ca.pem(),
            server,
        }
    }
}

/// A TLS-terminating proxy on 127.0.0.1 (as a self-hosted server would sit behind one) that
/// forwards to `backend_port`, until the test process ends.
fn tls_proxy(ca: &PrivateCa, backend_port: u16) -> u16 {
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(ca.server.clone()));
    let addr = pty::serve_on_thread(move |listener| async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", backend_port)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    addr.port()
}

#[test]
fn wss_to_a_server_with_a_private_ca_works_with_ca_file() {
    let site = Site::start();
    let ca = PrivateCa::new();
    let port = tls_proxy(&ca, site.serve.as_ref().unwrap().port);
    let url = format!("wss://127.0.0.1:{port}/ws");

    // Without the CA the certificate is refused, in words, and nothing is sent.
    let stranger = ClientHome::new();
    let refused = Pty::spawn(&stranger, &[&url, "--name", "mallory"], &[], WIDE);
    refused.wait_for("not trusted");
    assert!(!refused.screen().contains("● connected"));

    // The config's ca_file, relative to the settings file, makes it trusted.
    let home = ClientHome::new();
    std::fs::write(home.dir.path().join("home-ca.pem"), &ca.ca_pem).unwrap();
    home.write_config("ca_file = \"home-ca.pem\"\n");
    let mut alice = Pty::spawn(&home, &[&url, "--name", "alice"], &[], WIDE);
    alice.wait_ready("● connected");
    // --ca-file does the same for one run.
    let bob_home = ClientHome::new();
    let pem = bob_home.dir.path().join("ca.pem");
    std::fs::write(&pem, &ca.ca_pem).unwrap();
    let bob = Pty::spawn(
        &bob_home,
        &[&url, "--name", "bob", "--ca-file", pem.to_str().unwrap()],
        &[],
        WIDE,
    );
    bob.wait_ready("● connected");
    alice.line("over TLS, through the proxy");
    bob.wait_for("alice: over TLS, through the proxy");
    assert!(!refused.screen().contains("over TLS"));
}

#[test]
fn an_unreadable_ca_file_stops_the_client_with_a_clear_error() {
    let home = ClientHome::new();
    home.write_config("name = \"alice\"\ncolor = \"2\"\n");
    let missing = home.dir.path().join("missing.pem");
    let mut pty = Pty::spawn(
        &home,
        &[
            "wss://127.0.0.1:9/ws",
            "--ca-file",
            missing.to_str().unwrap(),
        ],
        &[],
        WIDE,
    );
    assert!(!pty.wait_exit(), "a failing exit status");
    pty.wait_for("cannot read the CA file");
    pty.wait_for("missing.pem");
}
