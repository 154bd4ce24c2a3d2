//! The server's config file: a flat TOML table whose keys are `clicom serve`'s long flag names.
//! Each value is checked here by its flag's own parser, so that a mistake is reported with the
//! file, line and key before anything starts.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use clap::error::ErrorKind;
use clap::{Arg, Command};
use toml_edit::{Item, Value};

use super::{SettingsError, key, keyed_args, reason};

/// Reads the file at `path` into raw values by key, each checked by its flag's parser.
pub(super) fn read(
    path: &Path,
    cmd: &Command,
) -> Result<BTreeMap<String, Vec<OsString>>, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, cmd)
}

pub(super) fn parse(
    path: &Path,
    text: &str,
    cmd: &Command,
) -> Result<BTreeMap<String, Vec<OsString>>, SettingsError> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |span| span.start));
        SettingsError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })?;
    let args: BTreeMap<&str, &Arg> = keyed_args(cmd).map(|arg| (key(arg), arg)).collect();
    let mut check = cmd.clone();
    let mut values = BTreeMap::new();
    for (name, item) in doc.as_table().iter() {
        let line = doc
            .as_table()
            .get_key_value(name)
            .and_then(|(k, _)| k.span())
            .map_or(1, |span| line_col(text, span.start).0);
        let invalid = |message: String| SettingsError::Invalid {
            path: path.to_owned(),
            line,
            key: name.to_owned(),
            message,
        };
        let Some(arg) = args.get(name) else {
            return Err(SettingsError::UnknownKey {
                path: path.to_owned(),
                line,
                key: name.to_owned(),
                hint: suggestion(name, args.keys().copied()),
            });
        };
        let raw = raw_values(item, arg).map_err(invalid)?;
        for value in &raw {
            check_value(&mut check, arg, value).map_err(invalid)?;
        }
        values.insert(
            name.to_owned(),
            raw.into_iter().map(OsString::from).collect(),
        );
    }
    Ok(values)
}

/// The value of a key as the text a flag would be given: one for a scalar, one per element
/// for an array (only where the flag may be repeated).
fn raw_values(item: &Item, arg: &Arg) -> Result<Vec<String>, String> {
    let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
    match item {
        Item::Value(Value::Array(array)) if repeatable => array.iter().map(scalar).collect(),
        Item::Value(Value::Array(_)) => Err("takes one value, not a list".to_owned()),
        Item::Value(value) => Ok(vec![scalar(value)?]),
        Item::Table(_) | Item::ArrayOfTables(_) => {
            Err("is a setting, not a section: write `key = value`".to_owned())
        }
        Item::None => Ok(Vec::new()),
    }
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.value().clone()),
        Value::Integer(i) => Ok(i.value().to_string()),
        Value::Float(f) => Ok(f.value().to_string()),
        Value::Boolean(b) => Ok(b.value().to_string()),
        Value::Datetime(_) => Err("a date is not a value this setting takes".to_owned()),
        Value::Array(_) | Value::InlineTable(_) => {
            Err("takes a string, number or true/false".to_owned())
        }
    }
}

/// Runs `value` through `arg`'s parser by parsing `--key=value` alone; only errors about the
/// value count here (a missing companion flag is checked once all values are together).
fn check_value(cmd: &mut Command, arg: &Arg, value: &str) -> Result<(), String> {
    let flags = super::as_flags(arg, &[OsString::from(value)]);
    if flags.is_empty() && value != "false" {
        // A switch: its parser takes only true or false.
        return Err(format!("expected true or false, not {value:?}"));
    }
    let argv = std::iter::once(OsString::from("serve")).chain(flags);
    match cmd.try_get_matches_from_mut(argv) {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            ErrorKind::InvalidValue
            | ErrorKind::ValueValidation
            | ErrorKind::InvalidUtf8
            | ErrorKind::NoEquals
            | ErrorKind::TooManyValues
            | ErrorKind::UnknownArgument => Err(reason(&e)),
            _ => Ok(()),
        },
    }
}

/// ` (did you mean `max-text`?)` for a key close to a known one, else nothing.
fn suggestion<'a>(unknown: &str, known: impl Iterator<Item = &'a str>) -> String {
    let wanted = unknown.replace('_', "-").to_lowercase();
    known
        .map(|key| (strsim::jaro(&wanted, key), key))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, key)| format!(" (did you mean `{key}`?)"))
        .unwrap_or_default()
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}
