//! What `clicom` installs beside itself: shell completion scripts (`clicom completions`) and
//! man pages (`clicom man`), checked with the real tools that read them (bash, groff).
//! A tool that is missing skips its check, unless `CLICOM_REQUIRE_TOOLS` is set (CI sets it).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn clicom(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(args)
        .output()
        .expect("the clicom binary runs");
    assert!(
        out.status.success(),
        "clicom {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `tool` runs here; without it, a check is skipped (or fails when tools are required).
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CLICOM_REQUIRE_TOOLS").is_none(),
            "{tool} is required (CLICOM_REQUIRE_TOOLS is set) but not installed"
        );
        eprintln!("{tool} is not installed: check skipped");
    }
    found
}

/// Loads the bash script in a fresh `bash` and asks its completion function, as bash would
/// on Tab, for the words completing `line`'s last word.
fn complete_in_bash(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}' || exit 3\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         complete -p clicom >/dev/null || exit 4\n\
         _clicom clicom \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completion_loads_and_completes_subcommands_and_flags() {
    if !have("bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("clicom.bash");
    std::fs::write(&script, clicom(&["completions", "bash"]).stdout).unwrap();
    assert_eq!(complete_in_bash(&script, &["clicom", "se"]), ["serve"]);
    assert_eq!(
        complete_in_bash(&script, &["clicom", "serve", "--max-t"]),
        ["--max-text"]
    );
    assert_eq!(
        complete_in_bash(&script, &["clicom", "serve", "--log-f"]),
        ["--log-format"]
    );
    assert_eq!(
        complete_in_bash(&script, &["clicom", "completions", "f"]),
        ["fish"]
    );
}

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = String::from_utf8(clicom(&["completions", shell]).stdout).unwrap();
        for word in ["serve", "host", "max-text", "log-format"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_clicom"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn man_writes_a_page_per_command_that_groff_reads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = clicom(&["man", dir.path().to_str().unwrap()]);
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            Path::new(line)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for page in [
        "clicom.1",
        "clicom-serve.1",
        "clicom-host.1",
        "clicom-bench.1",
        "clicom-completions.1",
        "clicom-man.1",
    ] {
        assert!(listed.iter().any(|p| p == page), "{page} in {listed:?}");
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        let name = page.trim_end_matches(".1");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!(".TH {name} 1 "))),
            "{page} has no .TH header"
        );
    }
    let serve = std::fs::read_to_string(dir.path().join("clicom-serve.1")).unwrap();
    assert!(
        serve.contains("\\-\\-config"),
        "serve's page lists --config"
    );
    if !have("groff") {
        return;
    }
    for page in &listed {
        // -k: UTF-8 in, as man does; -ww: every warning; -z: no output, only the checks.
        let out = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(dir.path().join(page))
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tutf8"])
        .arg(dir.path().join("clicom-serve.1"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("clicom-serve - Run a chat server"),
        "{shown}"
    );
}
