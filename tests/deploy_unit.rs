//! `deploy/clicom.service`: systemd accepts it (`systemd-analyze verify`, with ExecStart
//! pointed at the binary just built), its sandbox scores as exposed as little as a network
//! server can (`systemd-analyze security --offline`), and it runs the server the way the docs
//! say. Skipped without systemd-analyze, unless `CLICOM_REQUIRE_TOOLS` is set (CI sets it).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

const UNIT: &str = include_str!("../deploy/clicom.service");
const INSTALLED: &str = "/usr/local/bin/clicom";

fn have_systemd_analyze() -> bool {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("CLICOM_REQUIRE_TOOLS").is_none(),
            "systemd-analyze is required (CLICOM_REQUIRE_TOOLS is set) but not installed"
        );
        eprintln!("systemd-analyze is not installed: check skipped");
    }
    found
}

/// The unit as it would be installed, but starting the binary under test.
fn unit_here(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("clicom.service");
    std::fs::write(&path, UNIT.replace(INSTALLED, env!("CARGO_BIN_EXE_clicom"))).unwrap();
    path
}

#[test]
fn systemd_accepts_the_unit() {
    if !have_systemd_analyze() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_here(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // An unknown or misspelt setting is only a warning to systemd: none is allowed here.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn the_sandbox_leaves_little_exposed() {
    if !have_systemd_analyze() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_here(dir.path());
    // The threshold counts tenths: 20 is an exposure of 2.0 out of 10 ("OK"). The unit
    // scores 1.4; what remains is what a network server needs (sockets, its state dir).
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let verdict = report
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or("no verdict");
    assert!(
        out.status.success(),
        "{verdict}\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lines of `[Service]` setting `key`, values only.
fn values<'a>(key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    UNIT.lines()
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn the_unit_runs_serve_with_its_config_state_dir_and_reload() {
    assert_eq!(
        values("ExecStart"),
        [format!("{INSTALLED} serve --config /etc/clicom/server.toml").as_str()]
    );
    assert_eq!(values("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    assert_eq!(values("StateDirectory"), ["clicom"]);
    assert!(
        values("Environment")
            .iter()
            .any(|env| env.split(' ').any(|e| e == "CLICOM_DATA_DIR=%S/clicom")),
        "history goes to the state directory"
    );
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("CapabilityBoundingSet", ""),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert!(values(key).contains(&value), "{key}={value}");
    }
}
