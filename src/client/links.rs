//! Links in chat text: finding them (the `linkify` crate, http/https and `www.` only), labelling
//! them for the keyboard hint mode, and opening them — with the platform opener or the
//! configured `open_command`, the URL passed as one argument and never through a shell.

use linkify::{LinkFinder, LinkKind};

/// A link found in text: its byte range and the URL to open (`www.` hosts get `https://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLink {
    pub start: usize,
    pub end: usize,
    pub url: String,
}

/// Finds the openable links in `text`. Only `http://`, `https://` and `www.` links count;
/// other schemes (`javascript:`, `file:`, `ftp:`…) and bare domains are left as text.
pub fn find(text: &str) -> Vec<FoundLink> {
    if !text.contains('.') {
        return Vec::new();
    }
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
    finder
        .links(text)
        .filter_map(|link| {
            let s = link.as_str();
            let url = openable_url(s)?;
            Some(FoundLink {
                start: link.start(),
                end: link.end(),
                url,
            })
        })
        .collect()
}

/// The URL a link's text opens, if it is one we open at all.
pub fn openable_url(s: &str) -> Option<String> {
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // A scheme with nothing after it is not a link.
        let rest = &s[s.find("//")? + 2..];
        return (!rest.is_empty()).then(|| s.to_string());
    }
    if lower.starts_with("www.") && s.len() > 4 {
        return Some(format!("https://{s}"));
    }
    None
}

/// Letters for hint labels, easiest to reach first.
const HINT_ALPHABET: &str = "asdfghjklqwertyuiopzxcvbnm";

/// `n` distinct labels, none a prefix of another: single letters while they suffice, else
/// two letters each.
pub fn hint_labels(n: usize) -> Vec<String> {
    let letters: Vec<char> = HINT_ALPHABET.chars().collect();
    if n <= letters.len() {
        return letters.iter().take(n).map(|c| c.to_string()).collect();
    }
    letters
        .iter()
        .flat_map(|a| letters.iter().map(move |b| format!("{a}{b}")))
        .take(n)
        .collect()
}

/// The URL as it may appear inside an OSC 8 escape: only printable ASCII, everything else
/// percent-encoded, so no byte of it can end or start an escape sequence.
pub fn osc8_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if (0x21..0x7f).contains(&b) && b != b';' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("refusing to open {0:?}: only http and https links are opened")]
    Refused(String),
    #[error("open_command is empty")]
    EmptyCommand,
    #[error("open_command cannot be read: {0} (quote a path with spaces as in a shell)")]
    BadCommand(String),
    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status})")]
    Failed { program: String, status: String },
    #[error("no program to open links: {0} (set open_command in the config)")]
    Platform(std::io::Error),
}

/// Opens `url` with `command` (program and fixed arguments split as a shell would split them,
/// quotes included, but never run by a shell; the URL added as the last argument) or, without
/// one, the platform's default opener. Runs the opener as a
/// child process and waits for it off the UI thread; the caller spawns this as a task.
pub async fn open(url: String, command: Option<String>) -> Result<(), OpenError> {
    if openable_url(&url).as_deref() != Some(url.as_str()) {
        return Err(OpenError::Refused(url));
    }
    match command.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(command) => {
            let words =
                shell_words::split(command).map_err(|e| OpenError::BadCommand(e.to_string()))?;
            let mut words = words.into_iter();
            let program = words.next().ok_or(OpenError::EmptyCommand)?;
            let status = tokio::process::Command::new(&program)
                .args(words)
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await
                .map_err(|source| OpenError::Spawn {
                    program: program.clone(),
                    source,
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(OpenError::Failed {
                    program,
                    status: status.to_string(),
                })
            }
        }
        None => tokio::task::spawn_blocking(move || open::that(&url))
            .await
            .map_err(|e| OpenError::Platform(std::io::Error::other(e)))?
            .map_err(OpenError::Platform),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<String> {
        find(text).into_iter().map(|l| l.url).collect()
    }

    fn spans(text: &str) -> Vec<&str> {
        find(text)
            .into_iter()
            .map(|l| &text[l.start..l.end])
            .collect()
    }

    #[test]
    fn finds_http_https_and_www() {
        assert_eq!(
            urls("a http://a.example/x and https://b.example/y?q=1#f or www.c.example"),
            [
                "http://a.example/x",
                "https://b.example/y?q=1#f",
                "https://www.c.example"
            ]
        );
    }

    #[test]
    fn punctuation_and_parentheses_stay_outside() {
        assert_eq!(spans("see https://example.com."), ["https://example.com"]);
        assert_eq!(spans("(https://example.com)"), ["https://example.com"]);
        assert_eq!(
            spans("wiki: https://en.wikipedia.org/wiki/Rust_(programming_language), nice"),
            ["https://en.wikipedia.org/wiki/Rust_(programming_language)"]
        );
        assert_eq!(
            spans("\"https://example.com/a\"!"),
            ["https://example.com/a"]
        );
        assert_eq!(
            spans("https://example.com/a?, next"),
            ["https://example.com/a"]
        );
    }

    #[test]
    fn unicode_text_around_and_inside_links() {
        let text = "日本語 https://例え.jp/パス です";
        assert_eq!(spans(text), ["https://例え.jp/パス"]);
        let l = &find(text)[0];
        assert!(text.is_char_boundary(l.start) && text.is_char_boundary(l.end));
    }

    #[test]
    fn other_schemes_and_bare_domains_are_refused() {
        for text in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ftp://files.example.com/x",
            "mailto:a@example.com",
            "example.com",
            "xhttps://evil.example",
            "http://",
        ] {
            assert!(urls(text).is_empty(), "{text:?} gave {:?}", urls(text));
        }
        assert_eq!(openable_url("javascript:alert(1)"), None);
        assert_eq!(
            openable_url("HTTPS://EXAMPLE.COM"),
            Some("HTTPS://EXAMPLE.COM".into())
        );
    }

    #[test]
    fn hint_labels_are_distinct_and_prefix_free() {
        assert_eq!(hint_labels(3), ["a", "s", "d"]);
        for n in [1, 26, 27, 100] {
            let labels = hint_labels(n);
            assert_eq!(labels.len(), n);
            for (i, a) in labels.iter().enumerate() {
                for (j, b) in labels.iter().enumerate() {
                    assert!(i == j || !b.starts_with(a.as_str()), "{a} prefixes {b}");
                }
            }
        }
    }

    #[test]
    fn osc8_urls_cannot_carry_escapes() {
        assert_eq!(osc8_url("https://a.b/é x"), "https://a.b/%C3%A9%20x");
        assert!(
            osc8_url("https://a/\u{1b}\\\u{7}")
                .bytes()
                .all(|b| (0x21..0x7f).contains(&b))
        );
    }

    /// Writes an executable script at `script` that appends each argument it gets, one per
    /// line, to `out`.
    fn recording_script(script: &std::path::Path, out: &std::path::Path) {
        std::fs::write(
            script,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\n",
                out.display()
            ),
        )
        .unwrap();
        let mut perm = std::fs::metadata(script).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(script, perm).unwrap();
    }

    #[tokio::test]
    async fn open_command_gets_the_url_as_one_argument() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let script = dir.path().join("opener.sh");
        recording_script(&script, &out);
        let url = "https://example.com/a?b=1&c=$(touch%20pwned);x".to_string();
        open(url.clone(), Some(format!("{} --flag", script.display())))
            .await
            .unwrap();
        let args = std::fs::read_to_string(&out).unwrap();
        assert_eq!(args, format!("--flag\n{url}\n"));
    }

    #[tokio::test]
    async fn open_command_paths_with_spaces_can_be_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("My Browser");
        std::fs::create_dir(&bin).unwrap();
        let out = dir.path().join("args");
        let script = bin.join("open it.sh");
        recording_script(&script, &out);
        let url = "https://example.com/".to_string();
        let command = format!("'{}' --profile \"work stuff\"", script.display());
        open(url.clone(), Some(command)).await.unwrap();
        let args = std::fs::read_to_string(&out).unwrap();
        assert_eq!(args, format!("--profile\nwork stuff\n{url}\n"));
    }

    #[tokio::test]
    async fn failing_openers_and_refused_urls_are_errors() {
        assert!(matches!(
            open("https://example.com".into(), Some("'unterminated".into())).await,
            Err(OpenError::BadCommand(_))
        ));
        assert!(matches!(
            open("https://example.com".into(), Some("false".into())).await,
            Err(OpenError::Failed { .. })
        ));
        assert!(matches!(
            open(
                "https://example.com".into(),
                Some("/nonexistent/opener".into())
            )
            .await,
            Err(OpenError::Spawn { .. })
        ));
        assert!(matches!(
            open("file:///etc/passwd".into(), Some("true".into())).await,
            Err(OpenError::Refused(_))
        ));
    }
}
