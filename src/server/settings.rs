//! `clicom serve`'s settings, from its defaults, a TOML config file and the command line
//! (flags and their environment variables), each overriding the one before. A file's key is a
//! flag's long name and its value goes through that flag's own parser, so every rule is written
//! once, in the flag's `#[arg]`, and holds for both: a new flag is a new key with no code here.
//! Nothing binds or opens a file here but the config file itself.

mod file;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::{ServeArgs, ServerOptions, TlsArgs};

/// Everything `clicom serve` takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeCommand {
    #[command(flatten)]
    pub args: ServeArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Log format on stderr: text for people, json (one object per line) for log shippers.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Read settings from this TOML file (keys are the flags' names; see server.example.toml).
    /// Flags override it; SIGHUP reads it again.
    #[arg(long, value_name = "FILE", env = "CLICOM_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// How the server's log lines look on stderr.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people to read.
    Text,
    /// One JSON object per line (timestamp, level, fields, target), for log shippers.
    Json,
}

/// The flag that names the config file; the one flag that is not also a key.
const CONFIG: &str = "config";

/// Why settings cannot be used. Each error names where the bad value was written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: unknown key `{key}`{hint}", path.display())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        /// ` (did you mean `max-text`?)`, or empty.
        hint: String,
    },
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    /// Values that are each fine but do not go together (a certificate without its key).
    #[error("{origin}: {message}")]
    Conflict { origin: String, message: String },
    /// A flag given to [`Settings::from_args`] that clap refused.
    #[error(transparent)]
    Flags(#[from] clap::Error),
}

/// `clicom serve`'s settings, resolved: the values in force and where they came from, kept so
/// that [`Settings::reload`] can read the file again under the same command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub command: ServeCommand,
    /// Every key's value in force, as text (defaults included, unset keys empty).
    values: BTreeMap<String, Vec<OsString>>,
    /// The keys the command line set, by flag or environment variable; they beat the file.
    line: BTreeMap<String, Vec<OsString>>,
    config: Option<PathBuf>,
}

/// A key whose value differs between two [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.key, self.from, self.to)
    }
}

/// The `serve` command as clap sees it: the same flags `clicom serve` takes.
pub fn command() -> Command {
    let mut cmd = ServeCommand::augment_args(Command::new("serve"));
    cmd.build();
    cmd
}

/// `serve` (the subcommand or [`command`]) without the requirements between its flags: on
/// the command line a pair may be half given, its other half in the config file. [`Settings`]
/// checks them once both are together.
pub fn defer_requirements(serve: Command) -> Command {
    serve.mut_args(|arg| arg.requires(clap::builder::Resettable::<clap::Id>::Reset))
}

/// The flags that are also config file keys: every long flag but `--config`, help and version.
pub fn keyed_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|arg| {
        arg.get_long().is_some()
            && arg.get_id() != CONFIG
            && !matches!(
                arg.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

/// An arg's key in the config file: its long name (`max-text`).
fn key(arg: &Arg) -> &str {
    arg.get_long().unwrap_or_else(|| arg.get_id().as_str())
}

impl Settings {
    /// The settings of a parsed `clicom serve` command line, with its config file (from
    /// `--config` or `$CLICOM_SERVER_CONFIG`) read under it.
    pub fn from_matches(matches: &ArgMatches) -> Result<Settings, SettingsError> {
        let cmd = command();
        let mut line = BTreeMap::new();
        for arg in keyed_args(&cmd) {
            let id = arg.get_id().as_str();
            let given = matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if given && let Some(raw) = matches.get_raw(id) {
                line.insert(key(arg).to_owned(), raw.map(ToOwned::to_owned).collect());
            }
        }
        let config = matches.get_one::<PathBuf>(CONFIG).cloned();
        Settings::resolve(line, config)
    }

    /// Like [`Settings::from_matches`], for `clicom serve`'s arguments (without the program
    /// and subcommand names).
    pub fn from_args<I, T>(args: I) -> Result<Settings, SettingsError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let argv = std::iter::once(OsString::from("serve")).chain(args.into_iter().map(Into::into));
        let matches = defer_requirements(command()).try_get_matches_from(argv)?;
        Settings::from_matches(&matches)
    }

    /// The config file named on the command line, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The server options these settings describe, without TLS (its files are read apart, by
    /// [`TlsArgs::server_config`]).
    pub fn options(&self) -> ServerOptions {
        self.command.args.options()
    }

    /// The same command line over the config file as it reads now: an error if the file is
    /// broken, in which case nothing changes.
    pub fn reload(&self) -> Result<Settings, SettingsError> {
        Settings::resolve(self.line.clone(), self.config.clone())
    }

    /// The keys whose value differs in `other`, in key order.
    pub fn changes(&self, other: &Settings) -> Vec<Change> {
        let keys: std::collections::BTreeSet<&String> =
            self.values.keys().chain(other.values.keys()).collect();
        keys.into_iter()
            .filter_map(|key| {
                let from = self.values.get(key).map_or(&[][..], Vec::as_slice);
                let to = other.values.get(key).map_or(&[][..], Vec::as_slice);
                (from != to).then(|| Change {
                    key: key.clone(),
                    from: shown(from),
                    to: shown(to),
                })
            })
            .collect()
    }

    /// These settings with the value of each key that `take` picks copied from `other`.
    pub fn adopt(
        &self,
        other: &Settings,
        take: impl Fn(&str) -> bool,
    ) -> Result<Settings, SettingsError> {
        let mut values = self.values.clone();
        for (key, value) in &other.values {
            if take(key) {
                values.insert(key.clone(), value.clone());
            }
        }
        let origin = self.origin();
        let (command, values) = parse(&command(), &values, &origin)?;
        Ok(Settings {
            command,
            values,
            line: self.line.clone(),
            config: self.config.clone(),
        })
    }

    fn resolve(
        line: BTreeMap<String, Vec<OsString>>,
        config: Option<PathBuf>,
    ) -> Result<Settings, SettingsError> {
        let cmd = command();
        let mut chosen = match &config {
            Some(path) => file::read(path, &cmd)?,
            None => BTreeMap::new(),
        };
        chosen.extend(line.clone());
        let origin = match &config {
            Some(path) => format!("{} with the command line", path.display()),
            None => "the command line".to_owned(),
        };
        let (command, values) = parse(&cmd, &chosen, &origin)?;
        Ok(Settings {
            command,
            values,
            line,
            config,
        })
    }

    fn origin(&self) -> String {
        match &self.config {
            Some(path) => path.display().to_string(),
            None => "the command line".to_owned(),
        }
    }
}

/// Parses `chosen` (raw values by key; each already passed its flag's parser) as one command
/// line, so that clap also checks how they go together and fills in the defaults. Returns the
/// command and every key's value in force.
fn parse(
    cmd: &Command,
    chosen: &BTreeMap<String, Vec<OsString>>,
    origin: &str,
) -> Result<(ServeCommand, BTreeMap<String, Vec<OsString>>), SettingsError> {
    let mut argv = vec![OsString::from("serve")];
    for arg in keyed_args(cmd) {
        if let Some(values) = chosen.get(key(arg)) {
            argv.extend(as_flags(arg, values));
        }
    }
    let conflict = |e: clap::Error| SettingsError::Conflict {
        origin: origin.to_owned(),
        message: reason(&e),
    };
    let matches = cmd.clone().try_get_matches_from(argv).map_err(conflict)?;
    let command = ServeCommand::from_arg_matches(&matches).map_err(conflict)?;
    let values = keyed_args(cmd)
        .map(|arg| {
            let raw = matches
                .get_raw(arg.get_id().as_str())
                .map(|raw| raw.map(ToOwned::to_owned).collect())
                .unwrap_or_default();
            (key(arg).to_owned(), raw)
        })
        .collect();
    Ok((command, values))
}

/// `values` of `arg` written as flags: `--key=value` for each value, or for a switch that
/// takes none, `--key` when true.
fn as_flags(arg: &Arg, values: &[OsString]) -> Vec<OsString> {
    let long = key(arg);
    if arg.get_action().takes_values() {
        values
            .iter()
            .map(|value| {
                let mut flag = OsString::from(format!("--{long}="));
                flag.push(value);
                flag
            })
            .collect()
    } else if values.iter().any(|value| value == "true") {
        vec![OsString::from(format!("--{long}"))]
    } else {
        Vec::new()
    }
}

/// A value as a log line shows it.
fn shown(values: &[OsString]) -> String {
    match values {
        [] => "(unset)".to_owned(),
        values => values
            .iter()
            .map(|v| v.to_string_lossy())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// What clap found wrong, in words, without its usage lines and without naming the flag (the
/// caller names the key, which for a file is not a flag).
fn reason(e: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(e) {
        return source.to_string();
    }
    if e.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue)
    {
        return format!("expected one of {}", valid.join(", "));
    }
    if e.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg)
    {
        return format!("missing {}", missing.join(", "));
    }
    let text = e.render().to_string();
    let text = text.split("\n\n").next().unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests;
