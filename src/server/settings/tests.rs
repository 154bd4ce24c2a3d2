use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::server::HistoryLocation;

/// Every key, each away from its default.
const EVERY_KEY: &str = r#"
bind = "127.0.0.2"
port = 4321
db = ":memory:"
save = "/tmp/clicom-session.jsonl"
msg-rate = 2.5
msg-burst = 3
mute-after = 4
mute-secs = 5
max-text = 600
max-frame = 4096
max-connections = 700
max-per-ip = 8
limit-loopback = true
handshake-timeout = 9
join-timeout = 11
ping-interval = 0
ping-timeout = 12
queue = 32
history = 13
history-keep = 1000
presence-ms = 14
conformance-echo = true
no-web = true
allow-origin = ["https://chat.example.com", "http://localhost:8080"]
tls-cert = "/etc/clicom/cert.pem"
tls-key = "/etc/clicom/key.pem"
log-format = "json"
"#;

fn config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn with_file(file: &tempfile::NamedTempFile, flags: &[&str]) -> Result<Settings, SettingsError> {
    let path = file.path().to_str().unwrap().to_owned();
    let args = ["--config".to_owned(), path]
        .into_iter()
        .chain(flags.iter().map(|f| (*f).to_owned()));
    Settings::from_args(args)
}

#[test]
fn every_key_in_the_file_reaches_the_options() {
    let file = config(EVERY_KEY);
    let settings = with_file(&file, &[]).unwrap();
    let cmd = &settings.command;
    let opts = settings.options();
    assert_eq!(
        cmd.args.addr(),
        "127.0.0.2:4321".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(opts.db, HistoryLocation::Memory);
    assert_eq!(
        cmd.args.save.as_deref(),
        Some(Path::new("/tmp/clicom-session.jsonl"))
    );
    assert_eq!(opts.msg_rate, 2.5);
    assert_eq!(opts.msg_burst, 3);
    assert_eq!(opts.mute_after, 4);
    assert_eq!(opts.mute_for, Duration::from_secs(5));
    assert_eq!(opts.max_text_chars, 600);
    assert_eq!(opts.max_frame_bytes, 4096);
    assert_eq!(opts.max_connections, 700);
    assert_eq!(opts.max_per_ip, 8);
    assert!(opts.limit_loopback);
    assert_eq!(opts.handshake_timeout, Duration::from_secs(9));
    assert_eq!(opts.join_timeout, Duration::from_secs(11));
    assert_eq!(opts.ping_interval, None);
    assert_eq!(opts.ping_timeout, Duration::from_secs(12));
    assert_eq!(opts.outbound_queue, 32);
    assert_eq!(opts.history_on_join, 13);
    assert_eq!(opts.history_keep, 1000);
    assert_eq!(opts.presence_window, Duration::from_millis(14));
    assert!(opts.conformance_echo);
    assert!(!opts.web);
    assert_eq!(
        opts.allowed_origins,
        ["https://chat.example.com", "http://localhost:8080"]
    );
    assert_eq!(
        cmd.tls.tls_cert.as_deref(),
        Some(Path::new("/etc/clicom/cert.pem"))
    );
    assert_eq!(
        cmd.tls.tls_key.as_deref(),
        Some(Path::new("/etc/clicom/key.pem"))
    );
    assert_eq!(cmd.log_format, LogFormat::Json);
}

/// A flag added without a key in [`EVERY_KEY`] fails here, and each key alone changes what the
/// server is given (so none is read and then dropped).
#[test]
fn every_flag_is_a_key_and_each_key_takes_effect() {
    let cmd = command();
    let defaults = Settings::from_args(Vec::<String>::new()).unwrap();
    let all = file::parse(Path::new("every-key.toml"), EVERY_KEY, &cmd).unwrap();
    for arg in keyed_args(&cmd) {
        let key = key(arg);
        let value = all
            .get(key)
            .unwrap_or_else(|| panic!("`--{key}` has no key in EVERY_KEY"));
        let line = format!("{key} = {}\n", toml_value(value));
        // The TLS pair is only valid together.
        let text = match key {
            "tls-cert" => format!("{line}tls-key = \"k.pem\"\n"),
            "tls-key" => format!("{line}tls-cert = \"c.pem\"\n"),
            _ => line,
        };
        let file = config(&text);
        let settings = with_file(&file, &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            settings
                .changes(&defaults)
                .iter()
                .filter(|c| c.key == key)
                .count(),
            1,
            "{key} changes nothing"
        );
        assert_ne!(
            format!("{:?}", settings.command),
            format!("{:?}", defaults.command),
            "{key}"
        );
    }
}

fn toml_value(raw: &[OsString]) -> String {
    let text = raw[0].to_str().unwrap();
    if text.parse::<f64>().is_ok() || text == "true" || text == "false" {
        text.to_owned()
    } else {
        format!("{text:?}")
    }
}

#[test]
fn flags_override_the_file_and_the_file_overrides_defaults() {
    let file = config("max-text = 600\nmax-per-ip = 3\nlimit-loopback = true\n");
    let settings = with_file(&file, &["--max-text", "700", "--limit-loopback=false"]).unwrap();
    let opts = settings.options();
    assert_eq!(opts.max_text_chars, 700, "the flag wins");
    assert_eq!(opts.max_per_ip, 3, "the file beats the default");
    assert!(
        !opts.limit_loopback,
        "a switch set in the file can be turned off"
    );
    assert_eq!(
        opts.max_connections,
        crate::server::defaults::MAX_CONNECTIONS
    );
}

#[test]
fn an_unknown_key_names_its_file_and_line() {
    let file = config("# limits\nmax-text = 600\n\nmax_per_ip = 3\n");
    let err = with_file(&file, &[]).unwrap_err();
    let text = err.to_string();
    let at = format!("{}:4: unknown key `max_per_ip`", file.path().display());
    assert!(text.starts_with(&at), "{text}");
    assert!(text.ends_with("(did you mean `max-per-ip`?)"), "{text}");
    let err = with_file(&config("colour = 3\n"), &[]).unwrap_err();
    assert!(err.to_string().ends_with("unknown key `colour`"), "{err}");
    let err = with_file(&config("\n[limits]\nmax-text = 5\n"), &[]).unwrap_err();
    assert!(
        err.to_string().contains(":2: unknown key `limits`"),
        "{err}"
    );
    let err = with_file(&config("config = \"other.toml\"\n"), &[]).unwrap_err();
    assert!(matches!(err, SettingsError::UnknownKey { .. }), "{err}");
}

#[test]
fn a_bad_value_names_key_line_and_rule() {
    for (text, line, key, rule) in [
        ("\nmax-text = 0\n", 2, "max-text", "must be at least 1"),
        ("queue = 8", 1, "queue", "must be at least 16"),
        ("\n\nmsg-rate = -1.0", 3, "msg-rate", "from 0 up"),
        ("max-text = \"lots\"", 1, "max-text", "whole number"),
        ("port = 70000", 1, "port", "65535"),
        (
            "log-format = \"xml\"",
            1,
            "log-format",
            "expected one of text, json",
        ),
        ("limit-loopback = \"yes\"", 1, "limit-loopback", "true"),
        ("bind = \"example.com\"", 1, "bind", "invalid"),
        ("max-text = [1, 2]", 1, "max-text", "not a list"),
    ] {
        let file = config(text);
        let err = with_file(&file, &[]).unwrap_err();
        let shown = err.to_string();
        let at = format!("{}:{line}: `{key}`: ", file.path().display());
        assert!(shown.starts_with(&at), "{text:?}: {shown}");
        assert!(shown.contains(rule), "{text:?}: {shown}");
    }
}

#[test]
fn broken_toml_names_line_and_column() {
    let file = config("max-text = 600\nmax-per-ip = = 3\n");
    let err = with_file(&file, &[]).unwrap_err();
    let at = format!("{}:2:", file.path().display());
    assert!(err.to_string().starts_with(&at), "{err}");
    assert!(err.to_string().contains("invalid TOML"), "{err}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = Settings::from_args(["--config", path.to_str().unwrap()]).unwrap_err();
    assert!(matches!(err, SettingsError::Read { .. }), "{err}");
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

#[test]
fn values_that_only_work_together_are_checked_together() {
    let file = config("tls-cert = \"cert.pem\"\n");
    let err = with_file(&file, &[]).unwrap_err();
    assert!(matches!(err, SettingsError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("--tls-key"), "{err}");
    let settings = with_file(&file, &["--tls-key", "key.pem"]).unwrap();
    assert_eq!(
        settings.command.tls.tls_cert.as_deref(),
        Some(Path::new("cert.pem"))
    );
}

#[test]
fn a_reload_reads_the_file_again_under_the_same_flags() {
    let mut file = config("max-text = 600\nmax-per-ip = 3\n");
    let before = with_file(&file, &["--max-per-ip", "5"]).unwrap();
    file.as_file_mut().set_len(0).unwrap();
    std::fs::write(file.path(), "max-text = 900\nmax-per-ip = 4\nhistory = 7\n").unwrap();
    let after = before.reload().unwrap();
    assert_eq!(after.options().max_text_chars, 900);
    assert_eq!(after.options().max_per_ip, 5, "the flag still wins");
    let changes: Vec<String> = before
        .changes(&after)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(changes, ["history 50 -> 7", "max-text 600 -> 900"]);

    std::fs::write(file.path(), "max-text = 0\n").unwrap();
    assert!(before.reload().is_err());
}

#[test]
fn adopt_takes_only_the_chosen_keys() {
    let file = config("max-text = 600\nport = 1234\n");
    let before = with_file(&file, &[]).unwrap();
    std::fs::write(file.path(), "max-text = 900\nport = 4321\n").unwrap();
    let after = before.reload().unwrap();
    let mixed = before.adopt(&after, |key| key == "max-text").unwrap();
    assert_eq!(mixed.options().max_text_chars, 900);
    assert_eq!(mixed.command.args.port, 1234);
    assert_eq!(
        before.changes(&mixed).len(),
        1,
        "{:?}",
        before.changes(&mixed)
    );
}

/// `server.example.toml` documents every key, commented out at its default: uncommented, it
/// must parse, and change nothing from the defaults but the keys that have none.
#[test]
fn the_example_file_documents_every_key_at_its_default() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/server.example.toml"))
            .unwrap();
    let cmd = command();
    for arg in keyed_args(&cmd) {
        let key = key(arg);
        let documented = example
            .lines()
            .any(|line| line.starts_with(&format!("# {key} = ")));
        assert!(documented, "server.example.toml has no `# {key} = …` line");
    }
    let uncommented: String = example
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| {
            line.split_once(" = ")
                .is_some_and(|(key, _)| keyed_args(&cmd).any(|arg| arg.get_long() == Some(key)))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let file = config(&uncommented);
    let settings = with_file(&file, &[]).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    let defaults = Settings::from_args(Vec::<String>::new()).unwrap();
    let changed: Vec<String> = defaults
        .changes(&settings)
        .into_iter()
        .map(|c| c.key)
        .collect();
    // Keys without a default show an example value instead.
    assert_eq!(
        changed,
        ["allow-origin", "db", "save", "tls-cert", "tls-key"],
        "{uncommented}"
    );
}
