//! What a line typed in the input bar means: chat text or one of the slash commands, checked
//! here (names, rooms, colours) so that a mistake is a local error line and never goes out as
//! chat. Also the command table that `/help` and Tab completion read.

use crate::protocol::Color;
use crate::text::{validate_name, validate_room};

/// A slash command with its arguments already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Quit,
    Who,
    Nick(String),
    /// `None` shows the current colour and the choices.
    Color(Option<Color>),
    /// `None` shows the current server and the aliases.
    Server(Option<String>),
    Join(String),
    Rooms,
    Msg {
        to: String,
        text: String,
    },
    Me(String),
    Stats,
    Clear,
    Reconnect,
    /// `/open` (the latest link) or `/open N` (the N-th latest, 1 = latest).
    Open(usize),
    /// The easter egg; deliberately absent from [`COMMANDS`].
    Snake,
}

/// A submitted input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Text to send to the room (`//text` sends "/text").
    Chat(String),
    Command(Command),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command /{0} — type /help for the list")]
    Unknown(String),
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// One row of the command table: the name, other names, the usage line and what it does.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub help: &'static str,
}

/// Every public command, in `/help` order.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "help",
        aliases: &[],
        usage: "/help",
        help: "show commands and keys",
    },
    CommandInfo {
        name: "msg",
        aliases: &[],
        usage: "/msg USER TEXT",
        help: "send a private message",
    },
    CommandInfo {
        name: "me",
        aliases: &[],
        usage: "/me ACTION",
        help: "describe an action (* you waves)",
    },
    CommandInfo {
        name: "who",
        aliases: &["list"],
        usage: "/who",
        help: "list who is in the room",
    },
    CommandInfo {
        name: "join",
        aliases: &[],
        usage: "/join ROOM",
        help: "switch to another room (created on demand)",
    },
    CommandInfo {
        name: "rooms",
        aliases: &[],
        usage: "/rooms",
        help: "list the rooms on this server",
    },
    CommandInfo {
        name: "nick",
        aliases: &[],
        usage: "/nick NAME",
        help: "change your name (saved)",
    },
    CommandInfo {
        name: "color",
        aliases: &["colour"],
        usage: "/color [1-6|#rrggbb]",
        help: "change your colour (saved)",
    },
    CommandInfo {
        name: "server",
        aliases: &[],
        usage: "/server [URL|ALIAS]",
        help: "switch servers: ws://, wss://, host:port, default, local or a [servers] alias (saved)",
    },
    CommandInfo {
        name: "open",
        aliases: &[],
        usage: "/open [N]",
        help: "open the latest link, or the N-th latest",
    },
    CommandInfo {
        name: "stats",
        aliases: &[],
        usage: "/stats",
        help: "messages sent and received, users met",
    },
    CommandInfo {
        name: "clear",
        aliases: &[],
        usage: "/clear",
        help: "clear the message pane",
    },
    CommandInfo {
        name: "reconnect",
        aliases: &[],
        usage: "/reconnect",
        help: "reconnect now instead of waiting",
    },
    CommandInfo {
        name: "exit",
        aliases: &["quit"],
        usage: "/exit",
        help: "leave Clicom (asks first if messages are unsent)",
    },
];

/// Command names (with aliases) starting with `prefix` (which includes the `/`), for Tab.
pub fn complete_command(prefix: &str) -> Vec<String> {
    let Some(prefix) = prefix.strip_prefix('/') else {
        return Vec::new();
    };
    let prefix = prefix.to_lowercase();
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
        .filter(|name| name.starts_with(&prefix))
        .map(|name| format!("/{name}"))
        .collect()
}

/// Parses a submitted line. Blank lines are `Ok(None)`: nothing to do.
pub fn parse(line: &str) -> Result<Option<Input>, CommandError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Input::Chat(line.to_string())));
    };
    if rest.starts_with('/') {
        return Ok(Some(Input::Chat(rest.to_string())));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    let cmd = match name.to_lowercase().as_str() {
        "help" | "?" => Command::Help,
        "exit" | "quit" | "q" => Command::Quit,
        "who" | "list" | "names" => Command::Who,
        "nick" => {
            if args.is_empty() {
                return Err(CommandError::Usage("/nick NAME"));
            }
            Command::Nick(validate_name(args).map_err(|e| CommandError::Invalid(e.to_string()))?)
        }
        "color" | "colour" => {
            if args.is_empty() {
                Command::Color(None)
            } else {
                Command::Color(Some(
                    args.parse::<Color>()
                        .map_err(|e| CommandError::Invalid(e.to_string()))?,
                ))
            }
        }
        "server" | "connect" => Command::Server((!args.is_empty()).then(|| args.to_string())),
        "join" => {
            if args.is_empty() {
                return Err(CommandError::Usage("/join ROOM"));
            }
            Command::Join(validate_room(args).map_err(|e| CommandError::Invalid(e.to_string()))?)
        }
        "rooms" => Command::Rooms,
        "msg" | "dm" | "query" => {
            let Some((to, text)) = args.split_once(char::is_whitespace) else {
                return Err(CommandError::Usage("/msg USER TEXT"));
            };
            let text = text.trim();
            if text.is_empty() {
                return Err(CommandError::Usage("/msg USER TEXT"));
            }
            Command::Msg {
                to: to.to_string(),
                text: text.to_string(),
            }
        }
        "me" => {
            if args.is_empty() {
                return Err(CommandError::Usage("/me ACTION"));
            }
            Command::Me(args.to_string())
        }
        "stats" => Command::Stats,
        "clear" => Command::Clear,
        "reconnect" => Command::Reconnect,
        "open" => {
            if args.is_empty() {
                Command::Open(1)
            } else {
                match args.parse::<usize>() {
                    Ok(n) if n >= 1 => Command::Open(n),
                    _ => return Err(CommandError::Usage("/open [N] (N = 1 for the latest link)")),
                }
            }
        }
        "snake" => Command::Snake,
        _ => {
            return Err(CommandError::Unknown(
                crate::text::sanitize_line(name).chars().take(32).collect(),
            ));
        }
    };
    Ok(Some(Input::Command(cmd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        match parse(line) {
            Ok(Some(Input::Command(c))) => c,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn plain_text_is_chat_and_double_slash_escapes() {
        assert_eq!(parse("hello"), Ok(Some(Input::Chat("hello".into()))));
        assert_eq!(
            parse("//not a command"),
            Ok(Some(Input::Chat("/not a command".into())))
        );
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn every_issue_command_parses() {
        assert_eq!(cmd("/help"), Command::Help);
        assert_eq!(cmd("/exit"), Command::Quit);
        assert_eq!(cmd("/quit"), Command::Quit);
        assert_eq!(cmd("/who"), Command::Who);
        assert_eq!(cmd("/list"), Command::Who);
        assert_eq!(cmd("/nick  Bob  Smith "), Command::Nick("Bob Smith".into()));
        assert_eq!(cmd("/color 3"), Command::Color(Some(Color::Magenta)));
        assert_eq!(
            cmd("/color #FF6600"),
            Command::Color(Some(Color::Rgb(255, 102, 0)))
        );
        assert_eq!(cmd("/color"), Command::Color(None));
        assert_eq!(cmd("/server work"), Command::Server(Some("work".into())));
        assert_eq!(cmd("/server"), Command::Server(None));
        assert_eq!(cmd("/join #Rust"), Command::Join("rust".into()));
        assert_eq!(cmd("/rooms"), Command::Rooms);
        assert_eq!(
            cmd("/msg bob  hi there "),
            Command::Msg {
                to: "bob".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(cmd("/me waves"), Command::Me("waves".into()));
        assert_eq!(cmd("/stats"), Command::Stats);
        assert_eq!(cmd("/clear"), Command::Clear);
        assert_eq!(cmd("/reconnect"), Command::Reconnect);
        assert_eq!(cmd("/open"), Command::Open(1));
        assert_eq!(cmd("/open 3"), Command::Open(3));
        assert_eq!(cmd("/HELP"), Command::Help, "names are case-insensitive");
    }

    #[test]
    fn unknown_commands_are_errors_not_chat() {
        assert_eq!(
            parse("/frobnicate now"),
            Err(CommandError::Unknown("frobnicate".into()))
        );
        let err = parse("/\u{1b}[2J").unwrap_err();
        assert!(
            !err.to_string().contains('\u{1b}'),
            "the echoed name is sanitised: {err}"
        );
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert_eq!(parse("/nick"), Err(CommandError::Usage("/nick NAME")));
        assert!(matches!(
            parse("/nick bad\u{200b}name"),
            Err(CommandError::Invalid(_))
        ));
        assert!(matches!(parse("/color 9"), Err(CommandError::Invalid(_))));
        assert!(matches!(parse("/join a b"), Err(CommandError::Invalid(_))));
        assert_eq!(
            parse("/msg bob"),
            Err(CommandError::Usage("/msg USER TEXT"))
        );
        assert_eq!(parse("/me"), Err(CommandError::Usage("/me ACTION")));
        assert!(matches!(parse("/open 0"), Err(CommandError::Usage(_))));
    }

    #[test]
    fn command_completion_includes_aliases_and_hides_the_egg() {
        assert_eq!(complete_command("/e"), ["/exit"]);
        assert_eq!(complete_command("/q"), ["/quit"]);
        assert_eq!(complete_command("/co"), ["/color", "/colour"]);
        assert!(complete_command("/s").iter().all(|c| c != "/snake"));
        assert!(complete_command("/").len() >= COMMANDS.len());
        assert!(complete_command("x").is_empty());
    }
}
