//! The client's settings file: a flat TOML document (see `config.example.toml`) read into
//! [`Settings`] and edited in place with `toml_edit`, so the user's comments, layout and keys we do
//! not know survive every save. A malformed file is an error naming the line; it is never
//! replaced with defaults. Saves are atomic (temp file in the same directory, then rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Document, DocumentMut, Item, Table, Value};

use crate::protocol::{Color, DEFAULT_ROOM};
use crate::text;

/// What the client reads from the settings file; every key is optional in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `None` until the user picks one (the first-run dialog asks).
    pub name: Option<String>,
    /// Wire form: `1`..`6` or lowercase `#rrggbb`.
    pub color: Option<String>,
    /// The default server: a URL, `host:port` or an alias (see `client::url`).
    pub server: String,
    pub room: String,
    /// Program that opens links; the URL is passed as one argument, never through a shell.
    pub open_command: Option<String>,
    pub mouse: bool,
    pub timestamps: bool,
    /// How many messages the pane keeps.
    pub scrollback: usize,
    pub bell_on_mention: bool,
    /// Emit OSC 8 hyperlinks so terminals that support them make links clickable.
    pub hyperlinks: bool,
    /// Extra CA certificates (PEM) trusted for `wss://`; relative paths are relative to the
    /// settings file.
    pub ca_file: Option<PathBuf>,
    /// The user's own server aliases: `[servers]` in the file.
    pub servers: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            name: None,
            color: None,
            server: "local".into(),
            room: DEFAULT_ROOM.into(),
            open_command: None,
            mouse: true,
            timestamps: true,
            scrollback: 10_000,
            bell_on_mention: false,
            hyperlinks: true,
            ca_file: None,
            servers: BTreeMap::new(),
        }
    }
}

/// The on/off settings, for [`Config::set_flag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Mouse,
    Timestamps,
    BellOnMention,
    Hyperlinks,
}

impl Flag {
    /// The key in the settings file.
    pub fn key(self) -> &'static str {
        match self {
            Flag::Mouse => "mouse",
            Flag::Timestamps => "timestamps",
            Flag::BellOnMention => "bell_on_mention",
            Flag::Hyperlinks => "hyperlinks",
        }
    }
}

/// The allowed range of `scrollback`: enough to be useful, bounded so memory stays modest.
pub const SCROLLBACK_RANGE: std::ops::RangeInclusive<usize> = 100..=1_000_000;

/// Alias names that mean something built in and cannot be redefined in `[servers]`.
const RESERVED_ALIAS: &str = "default";

/// Why settings could not be loaded, changed or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A known key has the wrong type or an unacceptable value (from the file, or a setter).
    #[error("{}: `{key}` {message}", location(path, *line))]
    Invalid {
        path: PathBuf,
        key: String,
        /// 1-based line in the file; `None` when the bad value came from a setter.
        line: Option<usize>,
        message: String,
    },
}

fn location(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", path.display()),
        None => path.display().to_string(),
    }
}

/// The settings file: where it lives, the document as the user wrote it, and what it means.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    doc: DocumentMut,
    settings: Settings,
}

impl Config {
    /// Reads `path`. A missing file gives the defaults (and is created by the first save); an
    /// unreadable or malformed one is an error, and nothing is written.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config {
                path: path.to_path_buf(),
                doc: DocumentMut::new(),
                settings: Settings::default(),
            }),
            Err(source) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Reads the file named by [`crate::paths::config_file`].
    pub fn load_default() -> Result<Config, ConfigError> {
        Config::load(&crate::paths::config_file())
    }

    /// Interprets `text` as the contents of `path` (which is where [`Config::save`] writes).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let parsed = Document::parse(text).map_err(|err| {
            let (line, column) = line_col(text, err.span().map_or(0, |span| span.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: err.message().trim().to_string(),
            }
        })?;
        let settings = Reader { path, text }.settings(parsed.as_table())?;
        Ok(Config {
            path: path.to_path_buf(),
            doc: parsed.into_mut(),
            settings,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The document as it would be saved.
    pub fn to_toml_string(&self) -> String {
        self.doc.to_string()
    }

    /// Sets `name` after checking it with the same rules the server applies.
    pub fn set_name(&mut self, name: &str) -> Result<(), ConfigError> {
        let name = text::validate_name(name).map_err(|e| self.invalid("name", e.to_string()))?;
        set_value(self.doc.as_table_mut(), "name", Value::from(name.as_str()));
        self.settings.name = Some(name);
        Ok(())
    }

    /// Sets `color` (1-6, a colour name or `#rrggbb`), stored in wire form.
    pub fn set_color(&mut self, color: &str) -> Result<(), ConfigError> {
        let color = color
            .parse::<Color>()
            .map_err(|e| self.invalid("color", e.to_string()))?
            .to_string();
        set_value(
            self.doc.as_table_mut(),
            "color",
            Value::from(color.as_str()),
        );
        self.settings.color = Some(color);
        Ok(())
    }

    /// Sets the default server as the user typed it (a URL, `host:port` or an alias).
    pub fn set_server(&mut self, server: &str) -> Result<(), ConfigError> {
        let server = server.trim();
        if server.is_empty() || server.chars().any(char::is_control) {
            return Err(self.invalid("server", "must be a URL, host:port or an alias".into()));
        }
        set_value(self.doc.as_table_mut(), "server", Value::from(server));
        self.settings.server = server.to_string();
        Ok(())
    }

    /// Sets the room joined at start-up.
    pub fn set_room(&mut self, room: &str) -> Result<(), ConfigError> {
        let room = text::validate_room(room).map_err(|e| self.invalid("room", e.to_string()))?;
        set_value(self.doc.as_table_mut(), "room", Value::from(room.as_str()));
        self.settings.room = room;
        Ok(())
    }

    /// Turns one of the on/off settings on or off.
    pub fn set_flag(&mut self, flag: Flag, on: bool) {
        set_value(self.doc.as_table_mut(), flag.key(), Value::from(on));
        *match flag {
            Flag::Mouse => &mut self.settings.mouse,
            Flag::Timestamps => &mut self.settings.timestamps,
            Flag::BellOnMention => &mut self.settings.bell_on_mention,
            Flag::Hyperlinks => &mut self.settings.hyperlinks,
        } = on;
    }

    /// Adds or changes an alias in `[servers]`, creating the table if needed.
    pub fn set_server_alias(&mut self, alias: &str, url: &str) -> Result<(), ConfigError> {
        let key = format!("servers.{alias}");
        check_alias(alias).map_err(|message| self.invalid(&key, message))?;
        let url = url.trim();
        if url.is_empty() || url.chars().any(char::is_control) {
            return Err(self.invalid(&key, "must be a URL or host:port".into()));
        }
        let root = self.doc.as_table_mut();
        if !root.get("servers").is_some_and(Item::is_table_like) {
            root.insert("servers", Item::Table(Table::new()));
        }
        let servers = root
            .get_mut("servers")
            .and_then(Item::as_table_like_mut)
            .expect("`servers` was just made a table");
        match servers.get_mut(alias) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = Value::from(url);
                *old.decor_mut() = decor;
            }
            _ => {
                servers.insert(alias, Item::Value(Value::from(url)));
            }
        }
        self.settings
            .servers
            .insert(alias.to_string(), url.to_string());
        Ok(())
    }

    /// Changes the file on disk with `change`: reads it again first, so edits made to it since
    /// it was loaded (by the user, by another client) are kept, then applies `change` and saves.
    /// A file that has become unreadable or malformed is an error and is left as it is.
    pub fn edit(
        &mut self,
        change: impl FnOnce(&mut Config) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        self.reload()?;
        change(self)?;
        self.save()
    }

    /// Replaces the document with the file's current contents (a file that is gone keeps what
    /// was loaded, so a save recreates it).
    fn reload(&mut self) -> Result<(), ConfigError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                *self = Config::parse(&self.path, &text)?;
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ConfigError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Writes the document atomically: a temporary file in the same directory, then a rename,
    /// so a crash mid-save leaves the old file or the new one, never half of one. Creates the
    /// directory if needed.
    pub fn save(&self) -> Result<(), ConfigError> {
        write_atomically(&self.path, self.doc.to_string().as_bytes()).map_err(|source| {
            ConfigError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }

    fn invalid(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_string(),
            line: None,
            message,
        }
    }
}

/// Replaces a top-level value, keeping the comments around it (its decor), or adds it.
fn set_value(table: &mut Table, key: &str, value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = value;
            *old.decor_mut() = decor;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

fn check_alias(alias: &str) -> Result<(), String> {
    if alias.is_empty() || alias.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("alias must be a non-empty word without spaces".into());
    }
    if alias == RESERVED_ALIAS {
        return Err("cannot be redefined: `default` always means the `server` key".into());
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
/// A symlinked file (dotfile managers) is written through to its target, and an existing
/// file keeps its permissions.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".clicom-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        file.as_file().set_permissions(meta.permissions())?;
    }
    file.as_file().sync_all()?;
    file.persist(&target).map_err(|err| err.error)?;
    Ok(())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Reads the known keys out of a parsed document, with line numbers for errors.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Reader<'_> {
    fn settings(&self, root: &Table) -> Result<Settings, ConfigError> {
        let mut s = Settings::default();
        if let Some(name) = self.string(root, "name")?.filter(|n| !n.trim().is_empty()) {
            let name =
                text::validate_name(name).map_err(|e| self.bad(root, "name", e.to_string()))?;
            s.name = Some(name);
        }
        if let Some(color) = self.color(root)? {
            s.color = Some(color);
        }
        if let Some(server) = self.string(root, "server")? {
            if server.trim().is_empty() {
                return Err(self.bad(root, "server", "must not be empty".into()));
            }
            s.server = server.trim().to_string();
        }
        if let Some(room) = self.string(root, "room")? {
            s.room =
                text::validate_room(room).map_err(|e| self.bad(root, "room", e.to_string()))?;
        }
        s.open_command = self
            .string(root, "open_command")?
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        s.ca_file = self
            .string(root, "ca_file")?
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match self.path.parent() {
                Some(dir) => dir.join(p),
                None => PathBuf::from(p),
            });
        for (key, slot) in [
            ("mouse", &mut s.mouse),
            ("timestamps", &mut s.timestamps),
            ("bell_on_mention", &mut s.bell_on_mention),
            ("hyperlinks", &mut s.hyperlinks),
        ] {
            if let Some(value) = self.boolean(root, key)? {
                *slot = value;
            }
        }
        if let Some(n) = self.integer(root, "scrollback")? {
            s.scrollback = usize::try_from(n)
                .ok()
                .filter(|n| SCROLLBACK_RANGE.contains(n))
                .ok_or_else(|| {
                    let message = format!(
                        "must be between {} and {} (found {n})",
                        SCROLLBACK_RANGE.start(),
                        SCROLLBACK_RANGE.end()
                    );
                    self.bad(root, "scrollback", message)
                })?;
        }
        s.servers = self.servers(root)?;
        Ok(s)
    }

    fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|span| line_col(self.text, span.start).0)
    }

    /// An error about top-level `key`, located at the key.
    fn bad(&self, root: &Table, key: &str, message: String) -> ConfigError {
        let line = root
            .get_key_value(key)
            .and_then(|(k, item)| self.line(k.span().or_else(|| item.span())));
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            line,
            message,
        }
    }

    fn wrong_type(&self, root: &Table, key: &str, expected: &str) -> ConfigError {
        let found = root.get(key).map_or("nothing", Item::type_name);
        self.bad(root, key, format!("must be {expected}, found {found}"))
    }

    fn string<'t>(&self, root: &'t Table, key: &str) -> Result<Option<&'t str>, ConfigError> {
        match root.get(key) {
            None => Ok(None),
            Some(item) => item
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong_type(root, key, "a string")),
        }
    }

    fn boolean(&self, root: &Table, key: &str) -> Result<Option<bool>, ConfigError> {
        match root.get(key) {
            None => Ok(None),
            Some(item) => item
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong_type(root, key, "true or false")),
        }
    }

    fn integer(&self, root: &Table, key: &str) -> Result<Option<i64>, ConfigError> {
        match root.get(key) {
            None => Ok(None),
            Some(item) => item
                .as_integer()
                .map(Some)
                .ok_or_else(|| self.wrong_type(root, key, "a whole number")),
        }
    }

    /// `color` as a string ("2", "#ff6600", "green") or, like the original client, a number.
    fn color(&self, root: &Table) -> Result<Option<String>, ConfigError> {
        let raw = match root.get("color") {
            None => return Ok(None),
            Some(item) => match (item.as_str(), item.as_integer()) {
                (Some(s), _) if s.trim().is_empty() => return Ok(None),
                (Some(s), _) => s.to_string(),
                (None, Some(n)) => n.to_string(),
                _ => {
                    return Err(self.wrong_type(
                        root,
                        "color",
                        "a string like \"2\" or \"#ff6600\"",
                    ));
                }
            },
        };
        raw.parse::<Color>()
            .map(|c| Some(c.to_string()))
            .map_err(|e| self.bad(root, "color", e.to_string()))
    }

    fn servers(&self, root: &Table) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut servers = BTreeMap::new();
        let Some(item) = root.get("servers") else {
            return Ok(servers);
        };
        let Some(table) = item.as_table_like() else {
            return Err(self.wrong_type(root, "servers", "a table of alias = \"URL\""));
        };
        for (alias, value) in table.iter() {
            let key = format!("servers.{alias}");
            let invalid = |message: String| ConfigError::Invalid {
                path: self.path.to_path_buf(),
                key: key.clone(),
                line: self.line(value.span()),
                message,
            };
            check_alias(alias).map_err(&invalid)?;
            let url = value.as_str().ok_or_else(|| {
                invalid(format!("must be a string URL, found {}", value.type_name()))
            })?;
            if url.trim().is_empty() {
                return Err(invalid("must not be empty".into()));
            }
            servers.insert(alias.to_string(), url.trim().to_string());
        }
        Ok(servers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/tmp/clicom-test/config.toml"), text)
    }

    #[test]
    fn missing_file_gives_defaults_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        let config = Config::load(&path).unwrap();
        assert_eq!(config.settings(), &Settings::default());
        assert_eq!(config.settings().server, "local");
        assert_eq!(config.settings().room, "main");
        assert!(config.settings().mouse && config.settings().hyperlinks);
        assert_eq!(config.settings().scrollback, 10_000);
        assert!(!path.exists());
    }

    #[test]
    fn an_absolute_ca_file_is_kept_and_an_empty_one_is_none() {
        let s = parse("ca_file = \"/etc/ssl/home.pem\"\n").unwrap();
        assert_eq!(
            s.settings().ca_file.as_deref(),
            Some(Path::new("/etc/ssl/home.pem"))
        );
        let s = parse("ca_file = \" \"\n").unwrap();
        assert_eq!(s.settings().ca_file, None);
        assert!(parse("ca_file = 3\n").is_err());
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            r##"
name = "alice"
color = "#FF6600"
server = "work"
room = "#Rust"
open_command = "firefox"
mouse = false
timestamps = false
scrollback = 500
bell_on_mention = true
hyperlinks = false
ca_file = "certs/home-ca.pem"
[servers]
work = "wss://chat.example.com/ws"
home = "10.0.0.2:10000"
"##,
        )
        .unwrap();
        let s = config.settings();
        assert_eq!(s.name.as_deref(), Some("alice"));
        assert_eq!(s.color.as_deref(), Some("#ff6600"));
        assert_eq!(s.server, "work");
        assert_eq!(s.room, "rust");
        assert_eq!(s.open_command.as_deref(), Some("firefox"));
        assert!(!s.mouse && !s.timestamps && !s.hyperlinks && s.bell_on_mention);
        assert_eq!(s.scrollback, 500);
        assert_eq!(
            s.ca_file.as_deref(),
            Some(Path::new("/tmp/clicom-test/certs/home-ca.pem")),
            "relative to the settings file"
        );
        assert_eq!(s.servers["work"], "wss://chat.example.com/ws");
        assert_eq!(s.servers["home"], "10.0.0.2:10000");
    }

    #[test]
    fn numeric_colour_like_the_original_client_is_accepted() {
        let config = parse("color = 3\n").unwrap();
        assert_eq!(config.settings().color.as_deref(), Some("3"));
        let config = parse("color = \"green\"\nservers = { a = \"b:1\" }\n").unwrap();
        assert_eq!(config.settings().color.as_deref(), Some("2"));
        assert_eq!(config.settings().servers["a"], "b:1");
    }

    #[test]
    fn edits_keep_comments_layout_and_unknown_keys() {
        let original = r##"# My Clicom settings
name = "alice"   # who I am
color = "2"                 # 1-6 or "#rrggbb"

# where to go
server = "local"
theme = "solarized"         # not a key Clicom knows (yet)

[servers]                   # aliases
work = "wss://chat.example.com/ws"  # the office

[plugins.future]
enabled = true
"##;
        let mut config = parse(original).unwrap();
        config.set_name("bob").unwrap();
        config.set_color("#00FF00").unwrap();
        config.set_server("work").unwrap();
        config.set_room("lobby").unwrap();
        config
            .set_server_alias("work", "wss://chat2.example.com/ws")
            .unwrap();
        config.set_server_alias("lan", "192.168.1.5:10000").unwrap();
        let saved = config.to_toml_string();
        let expected = r##"# My Clicom settings
name = "bob"   # who I am
color = "#00ff00"                 # 1-6 or "#rrggbb"

# where to go
server = "work"
theme = "solarized"         # not a key Clicom knows (yet)
room = "lobby"

[servers]                   # aliases
work = "wss://chat2.example.com/ws"  # the office
lan = "192.168.1.5:10000"

[plugins.future]
enabled = true
"##;
        assert_eq!(saved, expected);
        let reread = parse(&saved).unwrap();
        assert_eq!(reread.settings(), config.settings());
    }

    #[test]
    fn an_edit_keeps_what_was_written_to_the_file_since_it_was_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\nname = \"alice\"\n").unwrap();
        let mut config = Config::load(&path).unwrap();
        // Meanwhile, the user edits the file by hand.
        std::fs::write(
            &path,
            "# mine\nname = \"alice\"\nopen_command = \"firefox\" # added\n[servers]\nhome = \"10.0.0.2:10000\"\n",
        )
        .unwrap();
        config.edit(|c| c.set_color("5")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("open_command = \"firefox\" # added"),
            "{text}"
        );
        assert!(text.contains("home = \"10.0.0.2:10000\""), "{text}");
        assert!(text.contains("color = \"5\""), "{text}");
        assert!(text.starts_with("# mine\n"), "{text}");
        assert_eq!(config.settings().open_command.as_deref(), Some("firefox"));
    }

    #[test]
    fn an_edit_leaves_a_file_that_became_malformed_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "name = \"alice\"\n").unwrap();
        let mut config = Config::load(&path).unwrap();
        let broken = "name = \"alice\"\n[servers\n";
        std::fs::write(&path, broken).unwrap();
        let err = config.edit(|c| c.set_color("2")).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { line: 2, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
        // A file that is gone is written again from what was loaded, plus the change.
        std::fs::remove_file(&path).unwrap();
        config.edit(|c| c.set_color("2")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "name = \"alice\"\ncolor = \"2\"\n"
        );
    }

    #[test]
    fn save_and_load_round_trip_on_disk_without_leaving_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "# keep me\nmystery = [1, 2]\nname = \"alice\"\n").unwrap();
        let mut config = Config::load(&path).unwrap();
        config.set_color("5").unwrap();
        config.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# keep me\nmystery = [1, 2]\n"), "{text}");
        let reread = Config::load(&path).unwrap();
        assert_eq!(reread.settings().color.as_deref(), Some("5"));
        assert_eq!(reread.settings().name.as_deref(), Some("alice"));
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(entries, ["config.toml"]);
    }

    #[cfg(unix)]
    #[test]
    fn save_writes_through_a_symlink_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles").join("clicom.toml");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "name = \"alice\"\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();

        let mut config = Config::load(&link).unwrap();
        config.set_color("4").unwrap();
        config.save().unwrap();

        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let text = std::fs::read_to_string(&real).unwrap();
        assert_eq!(text, "name = \"alice\"\ncolor = \"4\"\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn first_save_creates_the_directory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("config.toml");
        let mut config = Config::load(&path).unwrap();
        config.set_name("zoë").unwrap();
        config.save().unwrap();
        let reread = Config::load(&path).unwrap();
        assert_eq!(reread.settings().name.as_deref(), Some("zoë"));
    }

    #[test]
    fn malformed_file_is_an_error_with_line_and_column_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = "name = \"alice\"\ncolor = \"2\"\nserver = local\n";
        std::fs::write(&path, text).unwrap();
        let err = Config::load(&path).unwrap_err();
        let ConfigError::Parse {
            path: err_path,
            line,
            column,
            ..
        } = &err
        else {
            panic!("expected a parse error, got {err:?}")
        };
        assert_eq!(err_path, &path);
        assert_eq!((*line, *column), (3, 10));
        let shown = err.to_string();
        assert!(shown.contains("config.toml:3:10"), "{shown}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn wrong_types_name_the_key_and_line() {
        let cases = [
            (
                "name = \"a\"\nmouse = \"yes\"\n",
                "mouse",
                2,
                "true or false",
            ),
            (
                "\n\nscrollback = \"lots\"\n",
                "scrollback",
                3,
                "whole number",
            ),
            ("name = 5\n", "name", 1, "string"),
            ("room = true\n", "room", 1, "string"),
            ("color = [1]\n", "color", 1, "string"),
            ("servers = \"x\"\n", "servers", 1, "table"),
            (
                "[servers]\nok = \"a:1\"\nbad = 7\n",
                "servers.bad",
                3,
                "string",
            ),
            ("hyperlinks = 1\n", "hyperlinks", 1, "true or false"),
        ];
        for (text, key, want_line, want_words) in cases {
            let err = parse(text).unwrap_err();
            let ConfigError::Invalid { key: k, line, .. } = &err else {
                panic!("{text:?}: expected Invalid, got {err:?}")
            };
            assert_eq!(k, key, "{text:?}");
            assert_eq!(*line, Some(want_line), "{text:?}");
            assert!(err.to_string().contains(want_words), "{err}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_rules_reason() {
        for (text, key) in [
            ("color = \"7\"\n", "color"),
            ("name = \"a\\u001b[31mb\"\n", "name"),
            (
                "name = \"this name is far too long to be allowed\"\n",
                "name",
            ),
            ("room = \"no spaces\"\n", "room"),
            ("scrollback = 5\n", "scrollback"),
            ("scrollback = -1\n", "scrollback"),
            ("server = \"  \"\n", "server"),
            ("[servers]\ndefault = \"a:1\"\n", "servers.default"),
        ] {
            match parse(text) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text:?}"),
                other => panic!("{text:?}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn empty_optional_strings_mean_unset() {
        let config = parse("name = \"\"\ncolor = \"\"\nopen_command = \" \"\n").unwrap();
        assert_eq!(config.settings().name, None);
        assert_eq!(config.settings().color, None);
        assert_eq!(config.settings().open_command, None);
    }

    #[test]
    fn flags_toggle_in_place_and_survive_a_reload() {
        let mut config = parse("mouse = true # click links\n").unwrap();
        config.set_flag(Flag::Mouse, false);
        config.set_flag(Flag::BellOnMention, true);
        assert_eq!(
            config.to_toml_string(),
            "mouse = false # click links\nbell_on_mention = true\n"
        );
        let reread = parse(&config.to_toml_string()).unwrap();
        assert!(!reread.settings().mouse);
        assert!(reread.settings().bell_on_mention);
        assert_eq!(reread.settings(), config.settings());
    }

    #[test]
    fn setters_refuse_bad_values_and_change_nothing() {
        let mut config = parse("name = \"alice\"\n").unwrap();
        let before = config.to_toml_string();
        assert!(matches!(
            config.set_name("\u{202E}evil"),
            Err(ConfigError::Invalid { ref key, line: None, .. }) if key == "name"
        ));
        assert!(config.set_color("#12345").is_err());
        assert!(config.set_room("a b").is_err());
        assert!(config.set_server("").is_err());
        assert!(config.set_server_alias("default", "x:1").is_err());
        assert!(config.set_server_alias("two words", "x:1").is_err());
        assert_eq!(config.to_toml_string(), before);
        assert_eq!(config.settings().name.as_deref(), Some("alice"));
    }

    #[test]
    fn unreadable_path_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
    }

    #[test]
    fn example_config_parses_and_sets_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let config = Config::load(&path).unwrap();
        let s = config.settings();
        assert!(s.name.is_some() && s.color.is_some() && s.open_command.is_some());
        assert!(!s.servers.is_empty());
        for alias in s.servers.keys().chain([&s.server]) {
            let resolved = crate::client::url::resolve_server(alias, s);
            assert!(resolved.is_ok(), "example server {alias:?}: {resolved:?}");
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for key in [
            "name",
            "color",
            "server",
            "room",
            "open_command",
            "mouse",
            "timestamps",
            "scrollback",
            "bell_on_mention",
            "hyperlinks",
            "ca_file",
            "[servers]",
        ] {
            let documented = text
                .lines()
                .any(|l| l.starts_with(key) || l.starts_with(&format!("# {key} = ")));
            assert!(documented, "config.example.toml lacks {key}");
        }
    }
}
