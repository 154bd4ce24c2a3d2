//! Everything the user sees, owned by the UI loop alone and changed only by
//! [`App::update`], which turns one [`Msg`] (a key, a paste, a click, a resize, a clock tick or a
//! network event) into state changes plus a list of [`Effect`]s for the loop to carry out. No IO
//! happens here: time arrives as `Tick(Instant)`, so every behaviour is testable without sleeping.

mod catchup;
mod outbox;
mod setup;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;

use super::command::{self, COMMANDS, Command, Input};
use super::editor::{CompletionKind, LineEditor};
use super::konami::KeySequence;
use super::layout::pane::LayoutOptions;
use super::layout::{EntryKind, LinkTarget, Palette, Pane};
use super::net::{Identity, NetCmd, NetEvent};
use super::snake::{self, Game, Phase};
use super::stats::Stats;
use super::ui;
use super::url::resolve_server;
use crate::config::Settings;
use crate::protocol::{
    ChatMessage, ClientMsg, Color, DirectMessage, ErrorCode, ServerMsg, Welcome,
};
use crate::text::{name_key, sanitize_line, sanitize_text, tidy_lines};

use catchup::{CatchUp, Shown, Step};
pub use outbox::{Outbox, Outgoing, OutgoingKind};
pub use setup::{CUSTOM as SETUP_CUSTOM, Setup, SetupField};

/// One thing that happened, for [`App::update`].
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A bracketed paste.
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// The clock: countdowns, deadlines. Sent when a deadline from [`App::next_deadline`] is due.
    Tick(Instant),
    Net(NetEvent),
    /// An opener finished: `error` is `None` when it succeeded.
    Opened {
        url: String,
        error: Option<String>,
    },
    /// An effect failed at the edge (saving settings or stats…): shown as an error line.
    Failed(String),
}

/// A setting that `/nick`, `/color`, `/server` or the first-run dialog changed: persisted at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingChange {
    Name(String),
    Color(String),
    Server(String),
}

/// What the UI loop must do after an update.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Start the network task (after the first-run dialog, or at start-up).
    Connect {
        url: String,
        identity: Identity,
    },
    Net(NetCmd),
    /// Open a link with `command` (the config's `open_command`) or the platform opener.
    OpenUrl {
        url: String,
        command: Option<String>,
    },
    SaveSetting(SettingChange),
    SaveStats(Stats),
    Bell,
    /// Set the terminal title (already sanitised).
    SetTitle(String),
    SetMouseCapture(bool),
    /// Repaint the whole screen (Ctrl-L).
    Redraw,
    Quit,
}

/// Where the connection stands, as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// The network task has not been started (first-run dialog).
    Idle,
    Connecting {
        attempt: u32,
    },
    /// The socket is open and `join` sent; `joined` once the server's welcome arrived.
    Connected {
        joined: bool,
    },
    /// Waiting for the next attempt.
    Reconnecting {
        retry_at: Instant,
        attempt: u32,
        reason: String,
    },
    /// Not retrying (the address is unusable, or shutting down).
    Offline {
        reason: String,
    },
}

/// What is on screen.
#[derive(Debug, Clone)]
pub enum Screen {
    /// First run: choose a name and a colour.
    Setup(Box<Setup>),
    /// The chat.
    Chat,
    /// The snake game in place of the message pane; the status line, sidebar and input bar
    /// stay, and the chat goes on underneath (counted as unread).
    Snake,
}

/// A modal layer over the chat screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Link hints: each link on screen labelled; typing a label opens it.
    Hints {
        targets: Vec<(String, LinkTarget)>,
        typed: String,
    },
    /// A multi-line paste waiting for a decision.
    Paste {
        lines: Vec<String>,
    },
    /// Quitting was asked for while messages are unconfirmed: quit anyway, wait, or stay.
    ConfirmQuit,
}

/// How long after joining we wait for the server's history before sending pending messages
/// anyway (an old server sends none).
/// The message limit assumed until a server's `welcome` says its own (the server's default).
const DEFAULT_MAX_TEXT: usize = 2000;
const HISTORY_WAIT: Duration = Duration::from_millis(1500);
/// Colours remembered for the sidebar at most (then forgotten and relearned).
const MAX_USER_COLORS: usize = 10_000;
/// How long to wait before joining again when the server still holds our previous connection,
/// and how many times to try (the server drops a dead connection within a minute).
const JOIN_RETRY: Duration = Duration::from_secs(5);
const MAX_JOIN_RETRIES: u32 = 15;
/// Message ids remembered for de-duplication at least (history replays are far shorter).
const MIN_SEEN: usize = 1000;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// The start-up choices that the loop gives the app.
#[derive(Debug, Clone)]
pub struct AppInit {
    pub settings: Settings,
    /// The server as the user named it (URL or alias) and the URL it resolved to.
    pub server_label: String,
    pub server_url: String,
    pub name: Option<String>,
    pub color: Option<String>,
    pub room: String,
    pub stats: Stats,
    pub palette: Palette,
    pub size: (u16, u16),
    /// Lines shown under the banner (host mode: the address others join).
    pub notices: Vec<String>,
}

pub struct App {
    pub(crate) settings: Settings,
    pub(crate) palette: Palette,
    pub(crate) screen: Screen,
    pub(crate) mode: Mode,
    pub(crate) name: String,
    pub(crate) color: String,
    pub(crate) room: String,
    pub(crate) server_label: String,
    pub(crate) server_url: String,
    pub(crate) conn: ConnState,
    /// The server's longest accepted message, from `welcome.max_text`.
    pub(crate) max_text: Option<usize>,
    pub(crate) pane: Pane,
    /// The room's users, as the last `active_users` said (sanitised).
    pub(crate) users: Vec<String>,
    /// Colours of people seen speaking, by `name_key`, for the sidebar (bounded).
    user_colors: HashMap<String, String>,
    pub(crate) editor: LineEditor,
    pub(crate) outbox: Outbox,
    pub(crate) stats: Stats,
    pub(crate) area: Rect,
    pub(crate) mouse: bool,
    /// Messages and mentions that arrived while the view was away from the newest rows.
    pub(crate) unread: usize,
    pub(crate) mentions: usize,
    /// The next unseen message moves the unread ruler.
    ruler_armed: bool,
    /// `(room, id)` of server messages in the pane, with a fingerprint of their content, so a
    /// history replay after a reconnect adds only what was missed.
    seen: HashMap<(String, u64), u64>,
    /// `seen`'s keys oldest first, so it forgets what left the pane (bounded like the pane).
    seen_order: std::collections::VecDeque<(String, u64)>,
    /// Set after a (re)join or room switch until the history arrives (or the wait ends).
    awaiting_history: Option<Instant>,
    /// Filling the gap a reconnect left: while it runs, the room's messages are held back and
    /// nothing pending is sent.
    catch_up: Option<CatchUp>,
    /// The newest message id shown for the current room since joining it: where a catch-up
    /// after a reconnect starts.
    newest_id: Option<u64>,
    /// `name_key` of the name the server last welcomed us under, to recognise our own ghost:
    /// after a drop the server may still hold the old connection for a while.
    joined_as: Option<String>,
    /// When to try joining again after the server said our own name was taken, and how often
    /// we did.
    retry_join_at: Option<Instant>,
    join_retries: u32,
    /// A `/nick` or `/color` asked of the server, saved once its welcome confirms it.
    requested_name: Option<String>,
    requested_color: Option<String>,
    /// Whether a disconnect was already announced in the pane (failed retries only update the
    /// status line).
    announced_down: bool,
    /// `/reconnect` (or Ctrl-R) closed a live connection: its end is expected, not an error.
    reconnect_requested: bool,
    /// The last server frame was an `error` (its `system` copy for old clients follows).
    last_was_error: bool,
    pub(crate) now: Instant,
    title: String,
    stats_dirty: bool,
    quitting: bool,
    /// The user chose to quit once every pending message is confirmed.
    pub(crate) quit_when_sent: bool,
    /// The last snake game: shown while `screen` is `Snake`, kept paused meanwhile so that
    /// `/snake` resumes it.
    pub(crate) snake: Option<Game>,
    /// Seeds each new game's food placement.
    snake_rng: SmallRng,
    /// The Konami code typed so far in the chat, and the input bar as it was before the code
    /// began (kept while any part of it stays typed), to put back when the code completes.
    konami: KeySequence,
    konami_undo: Option<Box<LineEditor>>,
}

impl App {
    pub fn new(init: AppInit) -> App {
        let now = Instant::now();
        let AppInit {
            settings,
            server_label,
            server_url,
            name,
            color,
            room,
            stats,
            palette,
            size,
            notices,
        } = init;
        let options = LayoutOptions {
            timestamps: settings.timestamps,
            palette,
        };
        let mut pane = Pane::new(settings.scrollback, options);
        let ts = crate::protocol::now_ms() as i64;
        pane.push(ts, EntryKind::Banner(ui::BANNER.trim_end().to_string()));
        for notice in notices {
            pane.push(ts, EntryKind::Info(notice));
        }
        let color = color.unwrap_or_else(|| "1".into());
        let screen = match &name {
            Some(_) => Screen::Chat,
            None => Screen::Setup(Box::new(Setup::new(&color))),
        };
        let mut app = App {
            mouse: settings.mouse,
            settings,
            palette,
            screen,
            mode: Mode::Normal,
            name: name.unwrap_or_default(),
            color,
            room,
            server_label,
            server_url,
            conn: ConnState::Idle,
            max_text: None,
            pane,
            users: Vec::new(),
            user_colors: HashMap::new(),
            editor: LineEditor::new(),
            outbox: Outbox::default(),
            stats,
            area: Rect::new(0, 0, size.0, size.1),
            unread: 0,
            mentions: 0,
            ruler_armed: true,
            seen: HashMap::new(),
            seen_order: std::collections::VecDeque::new(),
            awaiting_history: None,
            catch_up: None,
            newest_id: None,
            joined_as: None,
            retry_join_at: None,
            join_retries: 0,
            requested_name: None,
            requested_color: None,
            announced_down: false,
            reconnect_requested: false,
            last_was_error: false,
            now,
            title: String::new(),
            stats_dirty: false,
            quitting: false,
            quit_when_sent: false,
            snake: None,
            snake_rng: SmallRng::from_os_rng(),
            konami: KeySequence::konami(),
            konami_undo: None,
        };
        app.after_update(&mut Vec::new());
        app
    }

    /// The effects to carry out before the first event: connect (unless the first-run dialog
    /// must ask for a name first) and set the title.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        if matches!(self.screen, Screen::Chat) {
            self.info(format!(
                "Connecting to {} as {}… Type /help for commands and keys.",
                self.server_url, self.name
            ));
            fx.push(self.connect_effect());
        }
        self.after_update(&mut fx);
        fx
    }

    fn connect_effect(&mut self) -> Effect {
        self.conn = ConnState::Connecting { attempt: 1 };
        Effect::Connect {
            url: self.server_url.clone(),
            identity: self.identity(),
        }
    }

    pub fn identity(&self) -> Identity {
        Identity {
            name: self.name.clone(),
            color: self.color.clone(),
            room: self.room.clone(),
        }
    }

    /// Quitting from outside (SIGTERM, SIGHUP): nobody can be asked, so it quits at once.
    pub fn request_quit(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        if !self.outbox.is_empty() {
            tracing::warn!(
                unconfirmed = self.outbox.len(),
                "quitting on a signal with messages not confirmed"
            );
        }
        self.quit_now(&mut fx);
        fx
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting
    }

    pub fn pane(&self) -> &Pane {
        &self.pane
    }

    pub fn editor(&self) -> &LineEditor {
        &self.editor
    }

    pub fn conn(&self) -> &ConnState {
        &self.conn
    }

    pub fn users(&self) -> &[String] {
        &self.users
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The snake game, while it is on screen.
    pub fn shown_game(&self) -> Option<&Game> {
        self.snake
            .as_ref()
            .filter(|_| matches!(self.screen, Screen::Snake))
    }

    /// The colour someone last spoke in, if they spoke while we watched.
    pub fn user_color(&self, name: &str) -> Option<&str> {
        self.user_colors.get(&name_key(name)).map(String::as_str)
    }

    fn remember_color(&mut self, name: &str, color: &str) {
        if self.user_colors.len() >= MAX_USER_COLORS {
            self.user_colors.clear();
        }
        self.user_colors.insert(name_key(name), color.to_string());
    }

    /// When the app next needs a `Tick` even if nothing else happens: the next second of a
    /// reconnect countdown, the end of the history wait. `None`: sleep until an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        if let ConnState::Reconnecting { retry_at, .. } = self.conn
            && retry_at > self.now
        {
            let left = retry_at - self.now;
            let whole = Duration::from_secs(left.as_secs());
            // The displayed number changes when the remaining time crosses a whole second.
            let step = if left > whole {
                left - whole
            } else {
                Duration::from_secs(1)
            };
            consider(self.now + step);
        }
        if let Some(since) = self.awaiting_history {
            consider(since + HISTORY_WAIT);
        }
        if let Some(catch_up) = &self.catch_up {
            consider(catch_up.deadline());
        }
        if let Some(at) = self.retry_join_at {
            consider(at);
        }
        if let Some(step) = self.shown_game().and_then(Game::next_deadline) {
            consider(step);
        }
        next
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(key) => {
                if key.kind != KeyEventKind::Release {
                    self.on_key(key, &mut fx);
                }
            }
            Msg::Paste(text) => {
                self.forget_konami();
                self.on_paste(&text);
            }
            Msg::Mouse(m) => {
                if matches!(m.kind, MouseEventKind::Down(_)) {
                    self.forget_konami();
                }
                self.on_mouse(m, &mut fx);
            }
            Msg::Resize(w, h) => self.area = Rect::new(0, 0, w, h),
            Msg::Tick(now) => self.on_tick(now, &mut fx),
            Msg::Net(ev) => self.on_net(ev, &mut fx),
            Msg::Opened { url, error } => {
                if let Some(error) = error {
                    self.error(format!("could not open {}: {error}", sanitize_line(&url)));
                }
            }
            Msg::Failed(text) => self.error(text),
        }
        self.after_update(&mut fx);
        fx
    }

    /// Bookkeeping after every message: geometry caches for the current size, horizontal
    /// scroll of the input, unread counts and the title.
    fn after_update(&mut self, fx: &mut Vec<Effect>) {
        let regions = ui::regions(self.area);
        self.pane.set_width(regions.pane.width.max(1));
        self.pane.prepare(regions.pane.height);
        self.editor
            .fit(ui::input_text_width(regions.input) as usize);
        if matches!(self.screen, Screen::Snake)
            && let Some(game) = &mut self.snake
        {
            game.resize(regions.pane.width, regions.pane.height);
        }
        if !self.is_away() {
            self.unread = 0;
            self.mentions = 0;
            self.ruler_armed = true;
        }
        // Waiting to quit, or asked whether to: once nothing is unconfirmed, nothing is lost.
        let asked_to_quit = self.quit_when_sent || matches!(self.mode, Mode::ConfirmQuit);
        if asked_to_quit && self.outbox.is_empty() {
            self.quit_now(fx);
        }
        let title = self.title_text();
        if title != self.title {
            self.title = title.clone();
            fx.push(Effect::SetTitle(title));
        }
    }

    /// True when new messages land out of sight: scrolled up, or another screen is up.
    pub fn is_away(&self) -> bool {
        !self.pane.is_following() || !matches!(self.screen, Screen::Chat)
    }

    fn title_text(&self) -> String {
        let room = sanitize_line(&self.room);
        if self.unread > 0 {
            format!("({}) Clicom — #{room}", self.unread)
        } else {
            format!("Clicom — #{room}")
        }
    }

    fn now_ms(&self) -> i64 {
        crate::protocol::now_ms() as i64
    }

    pub(crate) fn info(&mut self, text: impl Into<String>) {
        let ts = self.now_ms();
        self.pane.push(ts, EntryKind::Info(text.into()));
    }

    pub(crate) fn error(&mut self, text: impl Into<String>) {
        let ts = self.now_ms();
        self.pane.push(ts, EntryKind::Error(text.into()));
    }

    fn separator(&mut self, text: impl Into<String>) {
        let ts = self.now_ms();
        self.pane.push(ts, EntryKind::Separator(text.into()));
    }

    fn pane_height(&self) -> u16 {
        ui::regions(self.area).pane.height
    }

    // ---- keys ----------------------------------------------------------------------------

    fn on_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        if let Screen::Setup(setup) = &mut self.screen {
            match setup.on_key(key) {
                setup::Outcome::Continue => {}
                setup::Outcome::Quit => self.quit(fx),
                setup::Outcome::Done { name, color } => self.finish_setup(name, color, fx),
            }
            return;
        }
        if matches!(self.screen, Screen::Snake) && self.on_snake_key(key, fx) {
            return;
        }
        match &mut self.mode {
            Mode::Hints { .. } => return self.on_hint_key(key, fx),
            Mode::Paste { .. } => return self.on_paste_key(key, fx),
            Mode::ConfirmQuit => return self.on_confirm_quit_key(key, fx),
            Mode::Normal => {}
        }
        // The input bar before a key that may begin the Konami code.
        let before = (self.konami.progress() == 0 && self.konami.starts_with(key))
            .then(|| Box::new(self.editor.clone()));
        self.on_chat_key(key, fx);
        self.watch_konami(key, before);
    }

    /// Feeds a key typed in the chat to the Konami detector; when the code completes, the
    /// input bar is put back as it was before the code began and the game opens.
    fn watch_konami(&mut self, key: KeyEvent, before: Option<Box<LineEditor>>) {
        if before.is_some() {
            self.konami_undo = before;
        }
        let done = self.konami.push(key);
        if self.konami.progress() == 0 && !done {
            self.konami_undo = None;
        }
        if done {
            if let Some(editor) = self.konami_undo.take() {
                self.editor = *editor;
            }
            if matches!(self.screen, Screen::Chat) && matches!(self.mode, Mode::Normal) {
                self.open_snake();
            }
        }
    }

    fn forget_konami(&mut self) {
        self.konami.reset();
        self.konami_undo = None;
    }

    /// Shows the game: the paused one if there is one, else a new game sized to the pane.
    fn open_snake(&mut self) {
        let pane = ui::regions(self.area).pane;
        match &mut self.snake {
            Some(game) if !matches!(game.phase(), Phase::Over { .. }) => {
                game.resize(pane.width, pane.height);
            }
            _ => {
                let rng = SmallRng::from_rng(&mut self.snake_rng);
                let best = self.stats.snake_high_score;
                self.snake = Some(Game::new(pane.width, pane.height, best, rng));
            }
        }
        self.screen = Screen::Snake;
    }

    /// A key while the game shows. The game's keys go to it; other keys with Ctrl or Alt, and
    /// F2, still reach the app (Ctrl-C, Ctrl-R…), except link hints, which need the chat.
    /// Returns `false` to let the app handle the key.
    fn on_snake_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let chord = ctrl || key.modifiers.contains(KeyModifiers::ALT);
        if snake::key_to_input(key).is_none() && (chord || key.code == KeyCode::F(2)) {
            return ctrl && key.code == KeyCode::Char('o');
        }
        let now = self.now_instant();
        let Some(game) = &mut self.snake else {
            self.screen = Screen::Chat;
            return false;
        };
        let before = game.phase();
        match game.handle_key(key, now) {
            snake::Outcome::Unchanged | snake::Outcome::Changed => {}
            snake::Outcome::Quit => self.screen = Screen::Chat,
            snake::Outcome::Share(score) => {
                self.queue_outgoing(OutgoingKind::Me, format!("scored {score} at snake"), fx)
            }
        }
        self.note_snake_score(before, fx);
        true
    }

    /// Keeps the stats' high score up with the game's, and saves the stats when a game ends.
    fn note_snake_score(&mut self, before: Phase, fx: &mut Vec<Effect>) {
        let Some(game) = &self.snake else { return };
        if self.stats.record_snake_score(game.high_score()) {
            self.stats_dirty = true;
        }
        let over = |phase: Phase| matches!(phase, Phase::Over { .. });
        if over(game.phase()) && !over(before) && self.stats_dirty {
            fx.push(Effect::SaveStats(self.stats.clone()));
            self.stats_dirty = false;
        }
    }

    fn on_chat_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let height = self.pane_height() as usize;
        let page = height.saturating_sub(1).max(1);
        let e = &mut self.editor;
        match key.code {
            // AltGr arrives as Ctrl+Alt on some systems: it types a character.
            KeyCode::Char(c) if ctrl && alt => e.insert_char(c),
            KeyCode::Enter if !alt => self.submit(fx),
            KeyCode::Char('c') if ctrl => {
                if e.is_empty() {
                    self.quit(fx);
                } else {
                    e.set_text("");
                }
            }
            KeyCode::Char('d') if ctrl => {
                if e.is_empty() {
                    self.quit(fx);
                } else {
                    e.delete();
                }
            }
            KeyCode::Char('a') if ctrl => e.move_home(),
            KeyCode::Char('e') if ctrl => e.move_end(),
            KeyCode::Char('b') if ctrl => e.move_left(),
            KeyCode::Char('f') if ctrl => e.move_right(),
            KeyCode::Char('h') if ctrl => e.backspace(),
            KeyCode::Char('w') if ctrl => e.kill_word_back(),
            KeyCode::Char('u') if ctrl => e.kill_to_start(),
            KeyCode::Char('k') if ctrl => e.kill_to_end(),
            KeyCode::Char('y') if ctrl => e.yank(),
            KeyCode::Char('l') if ctrl => fx.push(Effect::Redraw),
            KeyCode::Char('r') if ctrl => self.reconnect_now(fx),
            KeyCode::Char('o') if ctrl => self.enter_hints(),
            KeyCode::Char('b') if alt => e.move_word_left(),
            KeyCode::Char('f') if alt => e.move_word_right(),
            KeyCode::Char('d') if alt => e.kill_word_forward(),
            KeyCode::Char('y') if alt => e.yank_pop(),
            KeyCode::Char('m') if alt => self.toggle_mouse(fx),
            KeyCode::Backspace if alt || ctrl => e.kill_word_back(),
            KeyCode::Left if ctrl || alt => e.move_word_left(),
            KeyCode::Right if ctrl || alt => e.move_word_right(),
            KeyCode::Char(c) if !ctrl && !alt => e.insert_char(c),
            KeyCode::Backspace => e.backspace(),
            KeyCode::Delete => e.delete(),
            KeyCode::Left => e.move_left(),
            KeyCode::Right => e.move_right(),
            KeyCode::Home if ctrl || e.is_empty() => {
                let h = self.pane_height();
                self.pane.scroll_to_top(h);
            }
            KeyCode::End if ctrl || e.is_empty() => self.pane.scroll_to_bottom(),
            KeyCode::Home => e.move_home(),
            KeyCode::End => e.move_end(),
            KeyCode::Up if key.modifiers.contains(KeyModifiers::SHIFT) => {
                let h = self.pane_height();
                self.pane.scroll_up(1, h);
            }
            KeyCode::Down if key.modifiers.contains(KeyModifiers::SHIFT) => {
                let h = self.pane_height();
                self.pane.scroll_down(1, h);
            }
            KeyCode::Up => e.history_prev(),
            KeyCode::Down => e.history_next(),
            KeyCode::PageUp => {
                let h = self.pane_height();
                self.pane.scroll_up(page, h);
            }
            KeyCode::PageDown => {
                let h = self.pane_height();
                self.pane.scroll_down(page, h);
            }
            KeyCode::Tab => self.complete(false),
            KeyCode::BackTab => self.complete(true),
            KeyCode::F(2) => self.toggle_mouse(fx),
            KeyCode::Esc => {
                if std::mem::take(&mut self.quit_when_sent) {
                    self.info("Not quitting.");
                }
                self.pane.scroll_to_bottom();
            }
            _ => {}
        }
    }

    fn complete(&mut self, backwards: bool) {
        let users = &self.users;
        let me = &self.name;
        self.editor.complete(backwards, |kind, prefix| match kind {
            CompletionKind::Command => command::complete_command(prefix),
            CompletionKind::Nick | CompletionKind::NickAtStart => {
                let p = prefix.to_lowercase();
                let mut names: Vec<String> = users
                    .iter()
                    .filter(|u| *u != me && u.to_lowercase().starts_with(&p))
                    .cloned()
                    .collect();
                names.sort_by_key(|n| n.to_lowercase());
                names
            }
        });
    }

    fn toggle_mouse(&mut self, fx: &mut Vec<Effect>) {
        self.mouse = !self.mouse;
        fx.push(Effect::SetMouseCapture(self.mouse));
    }

    /// Quits, unless messages are still unconfirmed: then asks first (quitting would lose them).
    fn quit(&mut self, fx: &mut Vec<Effect>) {
        if self.outbox.is_empty() {
            return self.quit_now(fx);
        }
        if let Some(game) = &mut self.snake {
            game.pause();
        }
        if matches!(self.screen, Screen::Snake) {
            self.screen = Screen::Chat;
        }
        self.mode = Mode::ConfirmQuit;
    }

    /// The quit dialog: W or Enter waits for the messages and then quits, Q quits anyway,
    /// Esc stays. Other keys (Ctrl-C among them) leave the question open.
    fn on_confirm_quit_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char(c) if plain && c.eq_ignore_ascii_case(&'q') => self.quit_now(fx),
            KeyCode::Enter => self.wait_then_quit(),
            KeyCode::Char(c) if plain && c.eq_ignore_ascii_case(&'w') => self.wait_then_quit(),
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.quit_when_sent = false;
            }
            _ => {}
        }
    }

    fn wait_then_quit(&mut self) {
        self.mode = Mode::Normal;
        self.quit_when_sent = true;
        self.info("Quitting once your messages are confirmed; Esc stays, Ctrl-C asks again.");
    }

    /// A message left the outbox without being confirmed (refused, or its room was left): an
    /// exit waiting for the outbox to empty must not take that for success.
    fn stay_after_a_failure(&mut self) {
        if std::mem::take(&mut self.quit_when_sent) {
            self.error("Not quitting: a message was not sent (see above).");
        }
    }

    fn quit_now(&mut self, fx: &mut Vec<Effect>) {
        if self.quitting {
            return;
        }
        self.mode = Mode::Normal;
        self.quitting = true;
        fx.push(Effect::Net(NetCmd::Shutdown));
        fx.push(Effect::SaveStats(self.stats.clone()));
        fx.push(Effect::Quit);
    }

    fn reconnect_now(&mut self, fx: &mut Vec<Effect>) {
        match self.conn {
            ConnState::Idle => {}
            ConnState::Connected { .. } => {
                self.info("Reconnecting…");
                self.reconnect_requested = true;
                fx.push(Effect::Net(NetCmd::ReconnectNow));
            }
            _ => fx.push(Effect::Net(NetCmd::ReconnectNow)),
        }
    }

    fn finish_setup(&mut self, name: String, color: String, fx: &mut Vec<Effect>) {
        self.name = name.clone();
        self.color = color.clone();
        self.screen = Screen::Chat;
        fx.push(Effect::SaveSetting(SettingChange::Name(name.clone())));
        fx.push(Effect::SaveSetting(SettingChange::Color(color)));
        self.info(format!(
            "Welcome, {name}! Connecting to {}… Type /help for commands and keys.",
            self.server_url
        ));
        let connect = self.connect_effect();
        fx.push(connect);
    }

    // ---- submitting ----------------------------------------------------------------------

    fn submit(&mut self, fx: &mut Vec<Effect>) {
        let line = self.editor.submit();
        let parsed = command::parse(&line);
        let text = match &parsed {
            Ok(Some(Input::Chat(text) | Input::Command(Command::Me(text)))) => Some(text),
            Ok(Some(Input::Command(Command::Msg { text, .. }))) => Some(text),
            _ => None,
        };
        if let Some(text) = text
            && !self.fits(text)
        {
            // Refused here, not by the server (which would close the connection for a frame
            // that large): the line stays in the editor, nothing is lost.
            self.editor.insert_str(&line);
            return;
        }
        match parsed {
            Ok(None) => {}
            Ok(Some(Input::Chat(text))) => self.send_chat(OutgoingKind::Chat, text, fx),
            Ok(Some(Input::Command(cmd))) => self.run_command(cmd, fx),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Whether `text` is within the server's message limit (its `welcome.max_text`, else the
    /// usual 2000); says why not in the pane.
    fn fits(&mut self, text: &str) -> bool {
        let limit = self.max_text.unwrap_or(DEFAULT_MAX_TEXT);
        let chars = text.chars().count();
        if chars > limit {
            self.error(format!(
                "Message too long: {chars} characters; the server's limit is {limit}. Nothing was sent."
            ));
            return false;
        }
        true
    }

    fn send_chat(&mut self, kind: OutgoingKind, text: String, fx: &mut Vec<Effect>) {
        self.pane.set_ruler(None);
        self.pane.scroll_to_bottom();
        self.queue_outgoing(kind, text, fx);
    }

    /// Queues a message to go out as soon as the connection is ready (and shows it pending).
    fn queue_outgoing(&mut self, kind: OutgoingKind, text: String, fx: &mut Vec<Effect>) {
        let ts = self.now_ms();
        self.outbox.push(kind, text, ts);
        self.flush_outbox(fx);
        self.sync_pending();
    }

    fn is_joined(&self) -> bool {
        matches!(self.conn, ConnState::Connected { joined: true })
            && self.awaiting_history.is_none()
            && self.catch_up.is_none()
    }

    /// Sends every pending message when the connection is ready for them.
    fn flush_outbox(&mut self, fx: &mut Vec<Effect>) {
        if !self.is_joined() {
            return;
        }
        for msg in self.outbox.take_pending() {
            fx.push(Effect::Net(NetCmd::Send(msg)));
        }
    }

    /// Mirrors the outbox into the pane's pending rows.
    fn sync_pending(&mut self) {
        let items = self
            .outbox
            .iter()
            .map(|o| {
                let label = match &o.kind {
                    OutgoingKind::Chat => String::new(),
                    OutgoingKind::Me => "me".into(),
                    OutgoingKind::Dm { to } => format!("→ {to}"),
                };
                (
                    o.ts,
                    EntryKind::Pending {
                        name: self.name.clone(),
                        color: self.color.clone(),
                        text: tidy_lines(&sanitize_text(&o.text)).into_owned(),
                        label,
                    },
                )
            })
            .collect();
        self.pane.set_pending(items);
    }

    fn run_command(&mut self, cmd: Command, fx: &mut Vec<Effect>) {
        let online = matches!(self.conn, ConnState::Connected { .. });
        // Connected but refused at join (e.g. the name is taken): a new identity is a new join.
        let refused = matches!(self.conn, ConnState::Connected { joined: false })
            && self.awaiting_history.is_none();
        match cmd {
            Command::Help => self.show_help(),
            Command::Quit => self.quit(fx),
            Command::Who => {
                if online {
                    fx.push(Effect::Net(NetCmd::Send(ClientMsg::Who)));
                } else {
                    let list = self.users.join(", ");
                    self.info(format!("Offline — last known users: {list}"));
                }
            }
            Command::Rooms => {
                if online {
                    fx.push(Effect::Net(NetCmd::Send(ClientMsg::Rooms)));
                } else {
                    self.error("not connected: /rooms needs the server");
                }
            }
            Command::Nick(name) if refused => {
                self.requested_name = Some(name.clone());
                self.name = name;
                self.rejoin(fx);
            }
            Command::Color(Some(color)) if refused => {
                self.requested_color = Some(color.to_string());
                self.color = color.to_string();
                self.rejoin(fx);
            }
            Command::Nick(name) if name == self.name => {
                self.info(format!("You are already {name}."));
            }
            Command::Nick(name) => {
                if online {
                    self.requested_name = Some(name.clone());
                    fx.push(Effect::Net(NetCmd::Send(ClientMsg::Nick { name })));
                } else {
                    self.name = name.clone();
                    fx.push(Effect::Net(NetCmd::SetIdentity(self.identity())));
                    fx.push(Effect::SaveSetting(SettingChange::Name(name.clone())));
                    self.info(format!("You will be {name} when reconnected."));
                    self.sync_pending();
                }
            }
            Command::Color(None) => {
                let choices: Vec<String> = Color::NAMED
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{} {}", i + 1, c.label()))
                    .collect();
                self.info(format!(
                    "Your colour is {}. Choose with /color N or /color #rrggbb: {}",
                    self.color,
                    choices.join(", ")
                ));
            }
            Command::Color(Some(color)) => {
                let wire = color.to_string();
                if online {
                    self.requested_color = Some(wire.clone());
                    fx.push(Effect::Net(NetCmd::Send(ClientMsg::Color { color: wire })));
                } else {
                    self.color = wire.clone();
                    fx.push(Effect::Net(NetCmd::SetIdentity(self.identity())));
                    fx.push(Effect::SaveSetting(SettingChange::Color(wire)));
                    self.info("Colour saved; the server hears of it when reconnected.");
                    self.sync_pending();
                }
            }
            Command::Server(None) => {
                let aliases: Vec<String> = self.settings.servers.keys().cloned().collect();
                let aliases = if aliases.is_empty() {
                    "default, local".to_string()
                } else {
                    format!("default, local, {}", aliases.join(", "))
                };
                self.info(format!(
                    "Server: {} ({}). Switch with /server URL or an alias: {aliases}",
                    self.server_url, self.server_label
                ));
            }
            Command::Server(Some(target)) => match resolve_server(&target, &self.settings) {
                Ok(url) => self.switch_server(target, url, fx),
                Err(e) => self.error(e.to_string()),
            },
            Command::Join(room) => {
                if room == self.room {
                    self.info(format!("You are already in #{room}."));
                } else if online {
                    fx.push(Effect::Net(NetCmd::Send(ClientMsg::JoinRoom { room })));
                } else {
                    let left = format!("#{}", self.room);
                    self.withdraw_unsent(false, &left);
                    self.room = room.clone();
                    self.newest_id = None;
                    fx.push(Effect::Net(NetCmd::SetIdentity(self.identity())));
                    self.separator(format!("#{room}"));
                    self.info(format!("You will join #{room} when reconnected."));
                }
            }
            Command::Msg { to, text } => self.send_chat(OutgoingKind::Dm { to }, text, fx),
            Command::Me(text) => self.send_chat(OutgoingKind::Me, text, fx),
            Command::Stats => {
                let s = &self.stats;
                let mut text = format!(
                    "Messages sent: {} · received: {} · users met: {}",
                    s.sent,
                    s.received,
                    s.users_met.len()
                );
                // Only those who found the game see its record.
                if s.snake_high_score > 0 {
                    text.push_str(&format!(" · snake best: {}", s.snake_high_score));
                }
                self.info(text);
                fx.push(Effect::SaveStats(self.stats.clone()));
                self.stats_dirty = false;
            }
            Command::Clear => {
                self.pane.clear();
            }
            Command::Reconnect => self.reconnect_now(fx),
            Command::Open(n) => {
                let url = self
                    .pane
                    .links_newest_first()
                    .nth(n - 1)
                    .map(|t| t.url.to_string());
                match url {
                    Some(url) => self.open_url(url, fx),
                    None if n == 1 => self.error("no links in the pane"),
                    None => self.error(format!("there are fewer than {n} links in the pane")),
                }
            }
            Command::Snake => self.open_snake(),
        }
    }

    /// Joins again on the open connection with the current identity.
    fn rejoin(&mut self, fx: &mut Vec<Effect>) {
        fx.push(Effect::Net(NetCmd::SetIdentity(self.identity())));
        fx.push(Effect::Net(NetCmd::Send(ClientMsg::Join {
            name: self.name.clone(),
            color: Some(self.color.clone()),
            room: Some(self.room.clone()),
        })));
        self.awaiting_history = Some(self.now_instant());
    }

    fn switch_server(&mut self, label: String, url: String, fx: &mut Vec<Effect>) {
        let left = sanitize_line(&self.server_url).into_owned();
        self.withdraw_unsent(true, &left);
        self.server_label = label.clone();
        self.server_url = url.clone();
        self.users.clear();
        self.seen.clear();
        self.seen_order.clear();
        self.awaiting_history = None;
        self.catch_up = None;
        self.newest_id = None;
        self.announced_down = false;
        self.separator(sanitize_line(&url).into_owned());
        fx.push(Effect::SaveSetting(SettingChange::Server(label)));
        if matches!(self.conn, ConnState::Idle) {
            return;
        }
        self.outbox.requeue_in_flight();
        self.conn = ConnState::Connecting { attempt: 1 };
        fx.push(Effect::Net(NetCmd::SwitchServer(url)));
        self.sync_pending();
    }

    /// The room (or, with `all`, the server) is being left while messages typed for it are
    /// still unconfirmed: they are taken back rather than sent to the next audience, each
    /// shown in an error line and put in the input history so Up brings it back.
    fn withdraw_unsent(&mut self, all: bool, left: &str) {
        let gone = self.outbox.withdraw(all);
        if gone.is_empty() {
            return;
        }
        for o in &gone {
            self.editor.push_history(&o.input_line());
            self.error(format!(
                "not confirmed by {left}, which you left: {} — it is in your input history (Up)",
                sanitize_line(&o.input_line())
            ));
        }
        self.forget_konami();
        self.sync_pending();
        self.stay_after_a_failure();
    }

    fn show_help(&mut self) {
        let mut lines = vec!["Commands:".to_string()];
        for c in COMMANDS {
            let aliases = if c.aliases.is_empty() {
                String::new()
            } else {
                format!(
                    " (also {})",
                    c.aliases
                        .iter()
                        .map(|a| format!("/{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            lines.push(format!("  {:<22} {}{aliases}", c.usage, c.help));
        }
        lines.push("Keys:".into());
        for (keys, what) in ui::KEY_HELP {
            lines.push(format!("  {keys:<22} {what}"));
        }
        self.info(lines.join("\n"));
    }

    fn open_url(&mut self, url: String, fx: &mut Vec<Effect>) {
        fx.push(Effect::OpenUrl {
            url,
            command: self.settings.open_command.clone(),
        });
    }

    // ---- hints and paste -----------------------------------------------------------------

    fn enter_hints(&mut self) {
        let height = self.pane_height();
        let links = self.pane.view(height).links(height);
        if links.is_empty() {
            self.info("No links on screen.");
            return;
        }
        let labels = super::links::hint_labels(links.len());
        let targets = labels
            .into_iter()
            .zip(links)
            .map(|(label, (target, _, _))| (label, target))
            .collect();
        self.mode = Mode::Hints {
            targets,
            typed: String::new(),
        };
    }

    fn on_hint_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let Mode::Hints { targets, typed } = &mut self.mode else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.mode = Mode::Normal
            }
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Char(c) => {
                typed.push(c.to_ascii_lowercase());
                if let Some((_, t)) = targets.iter().find(|(l, _)| l == typed) {
                    let url = t.url.to_string();
                    self.mode = Mode::Normal;
                    self.open_url(url, fx);
                } else if !targets.iter().any(|(l, _)| l.starts_with(typed.as_str())) {
                    typed.clear();
                }
            }
            _ => {}
        }
    }

    fn on_paste(&mut self, text: &str) {
        if !matches!(self.screen, Screen::Chat) || !matches!(self.mode, Mode::Normal) {
            if let Screen::Setup(setup) = &mut self.screen {
                setup.paste(text);
            }
            return;
        }
        let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        let trimmed = normalized.trim_end_matches('\n');
        if !trimmed.contains('\n') {
            let clean: String = trimmed
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .filter(|c| !c.is_control())
                .collect();
            self.editor.insert_str(&clean);
            return;
        }
        let lines: Vec<String> = trimmed
            .split('\n')
            .map(|l| {
                l.replace('\t', "    ")
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect()
            })
            .collect();
        self.mode = Mode::Paste { lines };
    }

    fn on_paste_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let Mode::Paste { lines } = &self.mode else {
            return;
        };
        let lines = lines.clone();
        // The dialog's letters work in either case (its hint shows them as capitals).
        let code = match key.code {
            KeyCode::Char(c) => KeyCode::Char(c.to_ascii_lowercase()),
            code => code,
        };
        match code {
            KeyCode::Enter | KeyCode::Char('o') | KeyCode::Char('1') => {
                let prefix = self.editor.submit();
                let mut text = prefix.clone();
                text.push_str(&lines.join("\n"));
                if !self.fits(&text) {
                    // Still offered: sent line by line, edited, or cancelled.
                    self.editor.insert_str(&prefix);
                    return;
                }
                self.mode = Mode::Normal;
                self.send_chat(OutgoingKind::Chat, text, fx);
            }
            KeyCode::Char('l') | KeyCode::Char('n') => {
                let prefix = self.editor.submit();
                let first = lines.first().map(|l| format!("{prefix}{l}"));
                let longest = first
                    .iter()
                    .chain(lines.iter().skip(1))
                    .max_by_key(|l| l.chars().count())
                    .cloned()
                    .unwrap_or_default();
                if !self.fits(&longest) {
                    self.editor.insert_str(&prefix);
                    return;
                }
                self.mode = Mode::Normal;
                for (i, line) in lines.into_iter().enumerate() {
                    let line = if i == 0 {
                        format!("{prefix}{line}")
                    } else {
                        line
                    };
                    if !line.trim().is_empty() {
                        self.send_chat(OutgoingKind::Chat, line, fx);
                    }
                }
            }
            KeyCode::Char('e') => {
                self.mode = Mode::Normal;
                self.editor.insert_str(&lines.join(" "));
            }
            KeyCode::Esc | KeyCode::Char('c') | KeyCode::Char('q') => self.mode = Mode::Normal,
            _ => {}
        }
    }

    // ---- mouse ---------------------------------------------------------------------------

    fn on_mouse(&mut self, m: MouseEvent, fx: &mut Vec<Effect>) {
        if !matches!(self.screen, Screen::Chat) {
            return;
        }
        let regions = ui::regions(self.area);
        if regions.too_small {
            return;
        }
        let inside = |r: Rect| r.contains(ratatui::layout::Position::new(m.column, m.row));
        match m.kind {
            MouseEventKind::ScrollUp if inside(regions.pane) => {
                self.pane.scroll_up(WHEEL_ROWS, regions.pane.height)
            }
            MouseEventKind::ScrollDown if inside(regions.pane) => {
                self.pane.scroll_down(WHEEL_ROWS, regions.pane.height)
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if inside(regions.pane) {
                    let x = m.column - regions.pane.x;
                    let y = m.row - regions.pane.y;
                    if ui::new_messages_marker(self).is_some() && y + 1 == regions.pane.height {
                        self.pane.scroll_to_bottom();
                        return;
                    }
                    let view = self.pane.view(regions.pane.height);
                    let url = view
                        .link_at(x, y, regions.pane.height)
                        .map(|t| t.url.to_string());
                    if let Some(url) = url {
                        if matches!(self.mode, Mode::Hints { .. }) {
                            self.mode = Mode::Normal;
                        }
                        self.open_url(url, fx);
                    }
                } else if let Some(sidebar) = regions.sidebar
                    && inside(sidebar)
                {
                    let row = (m.row - sidebar.y) as usize;
                    if let Some(name) = ui::sidebar_user_at(self, row).map(str::to_string)
                        && name != self.name
                    {
                        self.editor.set_text(&format!("/msg {name} "));
                    }
                }
            }
            _ => {}
        }
    }

    // ---- time ----------------------------------------------------------------------------

    fn on_tick(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        self.now = now;
        if matches!(self.screen, Screen::Snake)
            && let Some(game) = &mut self.snake
        {
            let before = game.phase();
            game.tick(now);
            self.note_snake_score(before, fx);
        }
        if let Some(at) = self.retry_join_at
            && now >= at
        {
            self.retry_join_at = None;
            if matches!(self.conn, ConnState::Connected { joined: false }) {
                self.rejoin(fx);
            }
        }
        if self.catch_up.as_ref().is_some_and(|c| now >= c.deadline()) {
            tracing::warn!("no answer to a history page; showing what was caught up");
            self.give_up_catch_up(fx);
        }
        if let Some(since) = self.awaiting_history
            && now >= since + HISTORY_WAIT
        {
            self.awaiting_history = None;
            // An old server sends no welcome: being connected is as joined as it gets.
            if matches!(self.conn, ConnState::Connected { .. }) {
                self.conn = ConnState::Connected { joined: true };
            }
            self.flush_outbox(fx);
            self.sync_pending();
        }
    }

    // ---- network -------------------------------------------------------------------------

    fn on_net(&mut self, ev: NetEvent, fx: &mut Vec<Effect>) {
        match ev {
            NetEvent::Connecting { attempt, .. } => {
                self.conn = ConnState::Connecting { attempt };
            }
            NetEvent::Connected { url } => {
                self.conn = ConnState::Connected { joined: false };
                // An old server never sends welcome or history: don't wait for them forever.
                self.awaiting_history = Some(self.now_instant());
                tracing::info!(url = %sanitize_line(&url), "connected");
                self.announced_down = false;
            }
            NetEvent::Disconnected {
                url,
                reason,
                retry_at,
                attempt,
            } => {
                let was_up = matches!(self.conn, ConnState::Connected { .. });
                // The end of a connection the user asked to leave (`/server`, `/reconnect`) is
                // not news; what happens to the next one is.
                let asked = url != self.server_url || std::mem::take(&mut self.reconnect_requested);
                self.retry_join_at = None;
                self.outbox.requeue_in_flight();
                self.awaiting_history = None;
                // What a catch-up held back was never shown: the next one fetches it again.
                self.catch_up = None;
                let reason = sanitize_line(&reason).into_owned();
                if asked {
                    tracing::debug!(%reason, "left a connection on request");
                } else if !self.announced_down || was_up {
                    self.error(format!("Disconnected: {reason}"));
                    self.announced_down = true;
                }
                self.conn = match retry_at {
                    Some(retry_at) => ConnState::Reconnecting {
                        retry_at,
                        attempt,
                        reason,
                    },
                    None => ConnState::Offline { reason },
                };
                self.sync_pending();
            }
            NetEvent::NotSent(msg) => match msg {
                ClientMsg::Message { .. } | ClientMsg::Me { .. } | ClientMsg::Dm { .. } => {
                    self.outbox.requeue_in_flight();
                    self.sync_pending();
                }
                _ => self.error("not sent: not connected"),
            },
            NetEvent::Server(msg) => self.on_server(msg, fx),
        }
    }

    /// Real time for deadlines that start from a network event (ticks carry the clock, but an
    /// event may arrive between ticks).
    fn now_instant(&mut self) -> Instant {
        let now = Instant::now().max(self.now);
        self.now = now;
        now
    }

    fn on_server(&mut self, msg: ServerMsg, fx: &mut Vec<Effect>) {
        let after_error = std::mem::replace(
            &mut self.last_was_error,
            matches!(msg, ServerMsg::Error { .. }),
        );
        match msg {
            // A refusal comes as an `error` and then, for clients that show only `system`
            // lines, the same words again as a `system` line to us alone: shown once.
            ServerMsg::System { room: None, .. } if after_error => {}
            ServerMsg::Welcome(w) => self.on_welcome(w, fx),
            ServerMsg::History { room, messages } => self.on_history(&room, messages, fx),
            ServerMsg::Message(m) => self.on_message(m, true, fx),
            ServerMsg::Dm(dm) => self.on_dm(dm, fx),
            ServerMsg::System { text, .. } => {
                let ts = self.now_ms();
                self.pane.push(
                    ts,
                    EntryKind::System(tidy_lines(&sanitize_text(&text)).into_owned()),
                );
            }
            ServerMsg::ActiveUsers { users, room } => {
                if room.as_deref().is_some_and(|r| r != self.room) {
                    return;
                }
                let mut users: Vec<String> = users
                    .iter()
                    .map(|u| sanitize_line(u).into_owned())
                    .collect();
                users.sort_by_key(|u| u.to_lowercase());
                users.dedup();
                for u in &users {
                    if name_key(u) != name_key(&self.name) && self.stats.meet(u) {
                        self.stats_dirty = true;
                    }
                }
                self.users = users;
            }
            ServerMsg::Who { users } => {
                let users: Vec<String> = users
                    .iter()
                    .map(|u| sanitize_line(u).into_owned())
                    .collect();
                self.info(format!("Online ({}): {}", users.len(), users.join(", ")));
            }
            ServerMsg::Rooms { rooms } => {
                let list: Vec<String> = rooms
                    .iter()
                    .map(|r| format!("#{} ({})", sanitize_line(&r.name), r.users))
                    .collect();
                self.info(format!("Rooms: {}", list.join(", ")));
            }
            ServerMsg::Error { code, text } => self.on_error(code, &text, fx),
        }
    }

    fn on_welcome(&mut self, w: Welcome, fx: &mut Vec<Effect>) {
        let name = sanitize_line(&w.name).into_owned();
        let room = sanitize_line(&w.room).into_owned();
        let first = matches!(self.conn, ConnState::Connected { joined: false });
        let room_changed = room != self.room;
        // A /nick or /color the server has now confirmed is saved.
        if let Some(asked) = self.requested_name.take()
            && name_key(&asked) == name_key(&name)
        {
            fx.push(Effect::SaveSetting(SettingChange::Name(name.clone())));
        }
        if let Some(asked) = self.requested_color.take()
            && asked == w.color
        {
            // The server says so in a `system` line ("Your colour is now …").
            fx.push(Effect::SaveSetting(SettingChange::Color(w.color.clone())));
        }
        if name != self.name {
            if !first {
                self.info(format!("You are now {name}."));
            }
            self.name = name;
        }
        if w.color.parse::<Color>().is_ok() {
            self.color = w.color.clone();
        }
        self.requested_name = None;
        self.requested_color = None;
        if room_changed {
            if let Some(catch_up) = self.catch_up.take() {
                // Leaving the room mid-catch-up: what arrived is shown where it belongs (what
                // is pending waits for the new room's history, as after any room switch).
                self.show_caught_up(catch_up.give_up(), fx);
            }
            self.room = room.clone();
            self.newest_id = None;
            self.users.clear();
            self.separator(format!("#{room}"));
        }
        self.max_text = w.max_text;
        self.joined_as = Some(name_key(&self.name));
        self.join_retries = 0;
        self.retry_join_at = None;
        if first || room_changed {
            self.conn = ConnState::Connected { joined: true };
            self.awaiting_history = Some(self.now_instant());
            if first {
                self.info(format!(
                    "Connected to {} as {} in #{}.",
                    sanitize_line(&self.server_url),
                    self.name,
                    self.room
                ));
            }
        }
        self.sync_pending();
    }

    fn fingerprint(name: &str, text: &str) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        text.hash(&mut h);
        h.finish()
    }

    fn on_history(&mut self, room: &str, mut messages: Vec<ChatMessage>, fx: &mut Vec<Effect>) {
        for m in &mut messages {
            m.room.get_or_insert_with(|| room.to_string());
        }
        let now = self.now_instant();
        if let Some(catch_up) = &mut self.catch_up
            && catch_up.room() == room
        {
            // A page of what was missed.
            let step = catch_up.on_page(messages, now);
            return self.catch_up_step(step, fx);
        }
        if room != self.room {
            // A late answer about a room left: nothing in it is shown, and it is not the
            // history this room's join is waiting for.
            return;
        }
        let rejoined = self.awaiting_history.is_some();
        self.awaiting_history = None;
        if matches!(self.conn, ConnState::Connected { .. }) {
            self.conn = ConnState::Connected { joined: true };
        }
        if rejoined && let Some(seen) = self.newest_id {
            let scrollback = self.settings.scrollback;
            match CatchUp::after_rejoin(room, seen, messages, scrollback, now) {
                Ok((catch_up, step)) => {
                    self.catch_up = Some(catch_up);
                    return self.catch_up_step(step, fx);
                }
                Err(history) => messages = history,
            }
        }
        for m in messages {
            self.on_message(m, false, fx);
        }
        self.flush_outbox(fx);
        self.sync_pending();
    }

    fn catch_up_step(&mut self, step: Step, fx: &mut Vec<Effect>) {
        match step {
            Step::Ask(page) => fx.push(Effect::Net(NetCmd::Send(page))),
            Step::Show(shown) => {
                self.catch_up = None;
                self.show_caught_up(shown, fx);
                self.flush_outbox(fx);
                self.sync_pending();
            }
        }
    }

    /// The catch-up cannot go on (no answer, an error, the room left): shows what it has,
    /// with a marker for the rest.
    fn give_up_catch_up(&mut self, fx: &mut Vec<Effect>) {
        if let Some(catch_up) = self.catch_up.take() {
            self.show_caught_up(catch_up.give_up(), fx);
            self.flush_outbox(fx);
            self.sync_pending();
        }
    }

    fn show_caught_up(&mut self, shown: Vec<Shown>, fx: &mut Vec<Effect>) {
        for item in shown {
            match item {
                Shown::Message { msg, live } => self.on_message(msg, live, fx),
                Shown::Gap(missed) => {
                    let ts = self.now_ms();
                    self.pane.push(ts, EntryKind::Gap { missed });
                }
            }
        }
    }

    fn is_me(&self, name: &str) -> bool {
        name_key(name) == name_key(&self.name)
    }

    /// A room message, live or from history (`live` = false: no bell, no stats). One already
    /// in the pane (same room, id and content: a history replay after a reconnect, or the
    /// server acknowledging a resend) is not shown again.
    fn on_message(&mut self, m: ChatMessage, live: bool, fx: &mut Vec<Effect>) {
        let room = m.room.clone().unwrap_or_else(|| self.room.clone());
        if room != self.room {
            return;
        }
        if live && let Some(catch_up) = &mut self.catch_up {
            // Shown below what was missed, once that is fetched.
            catch_up.hold(m);
            return;
        }
        let own = self.is_me(&m.name);
        // Your own message coming back: it is delivered, whether it is the live echo, the
        // answer to a resend or found in the history after a reconnect. Its cid says which
        // one it is; an echo without one (an old server) answers the oldest in flight.
        let confirmed = match &m.cid {
            Some(cid) => self.outbox.confirm(cid),
            None if own && live => self.outbox.confirm_oldest(&if m.action {
                OutgoingKind::Me
            } else {
                OutgoingKind::Chat
            }),
            None => false,
        };
        if confirmed {
            self.stats.record_sent();
            self.stats_dirty = true;
            self.sync_pending();
        }
        if let Some(id) = m.id {
            let key = (room, id);
            let fingerprint = Self::fingerprint(&m.name, &m.text);
            match self.seen.insert(key.clone(), fingerprint) {
                Some(before) if before == fingerprint => return,
                Some(_) => {}
                None => self.seen_order.push_back(key),
            }
            let cap = self.settings.scrollback.max(MIN_SEEN);
            while self.seen_order.len() > cap {
                if let Some(old) = self.seen_order.pop_front() {
                    self.seen.remove(&old);
                }
            }
            self.newest_id = Some(self.newest_id.map_or(id, |n| n.max(id)));
        }
        if live && !own {
            self.stats.record_received(&m.name);
            self.stats_dirty = true;
        }
        self.remember_color(&m.name, &m.color);
        let name = sanitize_line(&m.name).into_owned();
        let text = tidy_lines(&sanitize_text(&m.text)).into_owned();
        let mention = !own && mentions(&text, &self.name);
        let ts = m.ts.map_or_else(|| self.now_ms(), |t| t as i64);
        let seq = self.pane.push(
            ts,
            EntryKind::Chat {
                name,
                color: m.color,
                text,
                action: m.action,
                mention,
            },
        );
        // Your own line (e.g. a score shared from the game) is never news to you.
        if live && !own {
            self.note_arrival(seq, mention, fx);
        }
    }

    /// Unread bookkeeping for a message that just arrived.
    fn note_arrival(&mut self, seq: u64, mention: bool, fx: &mut Vec<Effect>) {
        if self.is_away() {
            self.unread += 1;
            if mention {
                self.mentions += 1;
            }
            if self.ruler_armed {
                self.pane.set_ruler(Some(seq));
                self.ruler_armed = false;
            }
        }
        if mention && self.settings.bell_on_mention {
            fx.push(Effect::Bell);
        }
    }

    fn on_dm(&mut self, dm: DirectMessage, fx: &mut Vec<Effect>) {
        let outgoing = self.is_me(&dm.from);
        if outgoing {
            let confirmed = match &dm.cid {
                Some(cid) => self.outbox.confirm(cid),
                None => self
                    .outbox
                    .confirm_oldest(&OutgoingKind::Dm { to: dm.to.clone() }),
            };
            if confirmed {
                self.stats.record_sent();
                self.stats_dirty = true;
                self.sync_pending();
            }
        } else {
            self.stats.record_received(&dm.from);
            self.stats_dirty = true;
        }
        let seq = self.pane.push(
            dm.ts as i64,
            EntryKind::Dm {
                from: sanitize_line(&dm.from).into_owned(),
                to: sanitize_line(&dm.to).into_owned(),
                color: dm.color,
                text: tidy_lines(&sanitize_text(&dm.text)).into_owned(),
                outgoing,
            },
        );
        if !outgoing {
            // A private message always counts as a mention.
            self.note_arrival(seq, true, fx);
        }
    }

    fn on_error(&mut self, code: ErrorCode, text: &str, fx: &mut Vec<Effect>) {
        let text = sanitize_line(text).into_owned();
        let page_refused = matches!(
            code,
            ErrorCode::HistoryUnavailable
                | ErrorCode::RateLimited
                | ErrorCode::InvalidRoom
                | ErrorCode::InvalidMessage
                | ErrorCode::UnknownType
                | ErrorCode::NotJoined
        );
        if page_refused && self.catch_up.is_some() {
            // Nothing of ours is in flight during a catch-up: this answers its page.
            tracing::warn!(%code, %text, "a history page was refused");
            return self.give_up_catch_up(fx);
        }
        match code {
            ErrorCode::TooLong
            | ErrorCode::RateLimited
            | ErrorCode::EmptyMessage
            | ErrorCode::Muted
            | ErrorCode::NoSuchUser => {
                let dm_only = code == ErrorCode::NoSuchUser;
                match self.outbox.fail_first(dm_only) {
                    Some(o) => {
                        self.editor.push_history(&o.input_line());
                        // A Konami code typed meanwhile must not undo this.
                        self.forget_konami();
                        self.error(format!(
                            "not sent ({text}): {} — it is in your input history (Up)",
                            sanitize_line(&o.text)
                        ));
                        self.sync_pending();
                        self.stay_after_a_failure();
                    }
                    None => self.error(text),
                }
            }
            ErrorCode::NameTaken
                if matches!(self.conn, ConnState::Connected { joined: false })
                    && self.joined_as.as_deref() == Some(name_key(&self.name).as_str())
                    && self.join_retries < MAX_JOIN_RETRIES =>
            {
                // Most likely our own connection from before the drop, not yet noticed gone
                // by the server: try again shortly instead of asking for another name.
                self.join_refused();
                self.join_retries += 1;
                let at = self.now_instant() + JOIN_RETRY;
                self.retry_join_at = Some(at);
                self.info(format!(
                    "The server still holds your previous connection; joining again in {}s (or choose another name with /nick NAME).",
                    JOIN_RETRY.as_secs()
                ));
            }
            ErrorCode::NameTaken | ErrorCode::InvalidName => {
                self.requested_name = None;
                self.join_refused();
                self.error(format!("{text} — choose another with /nick NAME"));
            }
            ErrorCode::InvalidColor => {
                self.requested_color = None;
                self.join_refused();
                self.error(text);
            }
            _ => self.error(text),
        }
    }

    /// An error before the welcome means the join was refused: stop waiting for a history (an
    /// old server's silence is not the same as a refusal) until the user changes something.
    fn join_refused(&mut self) {
        if matches!(self.conn, ConnState::Connected { joined: false }) {
            self.awaiting_history = None;
        }
    }

    /// Whether stats changed since they were last handed out for saving (the loop saves them
    /// now and then, and on exit).
    pub fn take_stats_if_dirty(&mut self) -> Option<Stats> {
        if self.stats_dirty {
            self.stats_dirty = false;
            Some(self.stats.clone())
        } else {
            None
        }
    }
}

/// Whether `text` names `name` as a whole word (case-insensitive), with or without `@`.
pub fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let name = name.to_lowercase();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut from = 0;
    while let Some(i) = text[from..].find(&name) {
        let start = from + i;
        let end = start + name.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if !is_word(before) && !is_word(after) {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
pub(crate) mod tests;
