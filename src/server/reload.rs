//! Reloading on SIGHUP: the config file is read again and what can change on a running server
//! changes, without dropping anyone; the rest waits for a restart and says so. A broken file
//! changes nothing. Which settings reload, and when they take effect, is the one table below:
//! their users read them from the live options that [`on_hangup`] publishes.

use std::sync::Arc;

use tokio::sync::watch;

use super::ServerOptions;
use super::settings::{Change, Settings, SettingsError};

/// When a reloaded setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// For everyone at once, connections already open included.
    Now,
    /// For connections made after the reload.
    NewConnections,
}

/// The settings a reload changes (by config file key). Every value is read where it is used
/// from the live [`ServerOptions`], so making a setting reloadable is one line here.
pub const RELOADABLE: &[(&str, Takes)] = &[
    ("max-text", Takes::Now),
    ("msg-rate", Takes::Now),
    ("msg-burst", Takes::Now),
    ("mute-after", Takes::Now),
    ("mute-secs", Takes::Now),
    ("max-connections", Takes::Now),
    ("max-per-ip", Takes::Now),
    ("limit-loopback", Takes::Now),
    ("history", Takes::Now),
    ("history-keep", Takes::Now),
    ("presence-ms", Takes::Now),
    ("no-web", Takes::Now),
    ("allow-origin", Takes::NewConnections),
    ("max-frame", Takes::NewConnections),
    ("queue", Takes::NewConnections),
    ("handshake-timeout", Takes::NewConnections),
    ("join-timeout", Takes::NewConnections),
    ("ping-interval", Takes::NewConnections),
    ("ping-timeout", Takes::NewConnections),
];

/// When a change to `key` takes effect on reload; `None` when it needs a restart.
pub fn takes(key: &str) -> Option<Takes> {
    RELOADABLE
        .iter()
        .find(|(reloadable, _)| *reloadable == key)
        .map(|(_, takes)| *takes)
}

/// What reading the config file again leads to.
#[derive(Debug)]
pub struct Reload {
    /// The settings to run with: the file's new values where they can change, the old ones
    /// where they need a restart.
    pub settings: Settings,
    /// The changes made, and when each takes effect.
    pub applied: Vec<(Change, Takes)>,
    /// Changes in the file that wait for a restart (their old values stay in force).
    pub on_restart: Vec<Change>,
}

/// Reads the config file of `current` again, under the same command line. An error (a broken
/// file, a bad value) leaves everything as it is.
pub fn plan(current: &Settings) -> Result<Reload, SettingsError> {
    let read = current.reload()?;
    let (applied, on_restart): (Vec<_>, Vec<_>) = current
        .changes(&read)
        .into_iter()
        .partition(|change| takes(&change.key).is_some());
    let applied = applied
        .into_iter()
        .filter_map(|change| takes(&change.key).map(|t| (change, t)))
        .collect();
    let settings = current.adopt(&read, |key| takes(key).is_some())?;
    Ok(Reload {
        settings,
        applied,
        on_restart,
    })
}

/// Reloads on every SIGHUP, publishing the new options on `live` and logging each change (or
/// why the file was refused). TLS stays as it was at the start.
#[cfg(unix)]
pub(crate) async fn on_hangup(
    mut current: Settings,
    live: watch::Sender<Arc<ServerOptions>>,
    mut hangups: tokio::signal::unix::Signal,
) {
    while hangups.recv().await.is_some() {
        if let Some(next) = reload(&current, &live) {
            current = next;
        }
    }
}

/// One reload: the settings now in force, or `None` when nothing changed.
fn reload(current: &Settings, live: &watch::Sender<Arc<ServerOptions>>) -> Option<Settings> {
    let Some(path) = current.config_path() else {
        tracing::warn!("SIGHUP: there is no config file to reload (start with --config FILE)");
        return None;
    };
    let config = path.display().to_string();
    let reload = match plan(current) {
        Ok(reload) => reload,
        Err(e) => {
            tracing::error!(
                config,
                error = %e,
                "config file refused; the current settings stay in force"
            );
            return None;
        }
    };
    for (change, takes) in &reload.applied {
        let takes = match takes {
            Takes::Now => "now",
            Takes::NewConnections => "new connections",
        };
        tracing::info!(key = %change.key, from = %change.from, to = %change.to, takes, "setting changed");
    }
    for change in &reload.on_restart {
        tracing::warn!(
            key = %change.key,
            from = %change.from,
            to = %change.to,
            "setting changed in the config file; it takes effect at the next start"
        );
    }
    tracing::info!(
        config,
        changed = reload.applied.len(),
        on_restart = reload.on_restart.len(),
        "config file reloaded"
    );
    if reload.applied.is_empty() {
        return None;
    }
    let tls = live.borrow().tls.clone();
    live.send_replace(Arc::new(ServerOptions {
        tls,
        ..reload.settings.options()
    }));
    Some(reload.settings)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::server::settings::{command, keyed_args};

    #[test]
    fn every_reloadable_name_is_a_key() {
        let cmd = command();
        for (key, _) in RELOADABLE {
            assert!(
                keyed_args(&cmd).any(|arg| arg.get_long() == Some(key)),
                "{key} is not a setting"
            );
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn a_reload_applies_limits_and_keeps_what_needs_a_restart() {
        let config = file("max-text = 100\nport = 1234\n");
        let path = config.path().to_str().unwrap();
        let current = Settings::from_args(["--config", path, "--max-per-ip", "3"]).unwrap();
        let (live, rx) = watch::channel(Arc::new(current.options()));
        std::fs::write(
            config.path(),
            "max-text = 200\nport = 4321\nmax-per-ip = 9\nping-interval = 5\n",
        )
        .unwrap();
        let plan = plan(&current).unwrap();
        let applied: Vec<_> = plan
            .applied
            .iter()
            .map(|(c, t)| (c.to_string(), *t))
            .collect();
        assert_eq!(
            applied,
            [
                ("max-text 100 -> 200".to_owned(), Takes::Now),
                ("ping-interval 25 -> 5".to_owned(), Takes::NewConnections),
            ],
            "max-per-ip stays as the flag says"
        );
        let restart: Vec<_> = plan.on_restart.iter().map(ToString::to_string).collect();
        assert_eq!(restart, ["port 1234 -> 4321"]);

        let next = reload(&current, &live).unwrap();
        let opts = Arc::clone(&rx.borrow());
        assert_eq!(opts.max_text_chars, 200);
        assert_eq!(opts.ping_interval, Some(std::time::Duration::from_secs(5)));
        assert_eq!(opts.max_per_ip, 3);
        assert_eq!(next.command.args.port, 1234, "the port waits for a restart");

        std::fs::write(config.path(), "max-text = nope\n").unwrap();
        assert!(
            reload(&next, &live).is_none(),
            "a broken file changes nothing"
        );
        assert_eq!(rx.borrow().max_text_chars, 200);
        std::fs::write(config.path(), "max-text = 200\nport = 4321\n").unwrap();
        let last = reload(&next, &live).expect("a key left out returns to its default");
        assert_eq!(
            rx.borrow().ping_interval,
            Some(std::time::Duration::from_secs(25))
        );
        assert_eq!(last.command.args.port, 1234);
    }
}
