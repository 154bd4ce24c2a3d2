//! The hidden snake game as a pure, deterministic state machine.
//! Time arrives as `Instant`s and randomness from a caller-seeded `SmallRng`, so a game replays
//! exactly in tests. It never sleeps, spawns or draws: drawing lives in `ui::snake`, the clock
//! and the keyboard belong to the UI loop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::SmallRng;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Terminal columns per board cell: two columns by one row looks about square.
pub const CELL_WIDTH: u16 = 2;
/// Smallest board, in cells, worth playing on; below it the game pauses.
pub const MIN_COLS: u16 = 12;
/// See [`MIN_COLS`].
pub const MIN_ROWS: u16 = 8;
/// Step interval of a new game.
pub const START_INTERVAL: Duration = Duration::from_millis(170);
/// How much faster each food makes the snake, down to [`MIN_INTERVAL`].
pub const INTERVAL_STEP: Duration = Duration::from_millis(4);
/// The fastest the snake gets.
pub const MIN_INTERVAL: Duration = Duration::from_millis(70);
/// Length of a new snake.
const START_LEN: u16 = 3;
/// Turns typed faster than the snake steps wait here, one applied per step. Bounded so that
/// mashing keys cannot steer the snake for seconds after the fingers stopped.
const MAX_QUEUED_TURNS: usize = 3;
/// Most overdue steps one `tick` runs. After a longer stall (a suspended laptop, a stopped
/// process) the clock restarts instead of running the snake blind into a wall.
const MAX_CATCH_UP: u32 = 4;

/// The size, in terminal cells, the pane needs for the smallest board (border included).
pub const MIN_PANE: (u16, u16) = pane_size_for(MIN_COLS, MIN_ROWS);

/// The board, in cells, that fits a pane of `width` x `height` terminal cells: one cell of
/// border all around, each board cell [`CELL_WIDTH`] columns wide.
pub const fn board_size_for(width: u16, height: u16) -> (u16, u16) {
    (
        width.saturating_sub(2) / CELL_WIDTH,
        height.saturating_sub(2),
    )
}

/// The pane, in terminal cells, a board of `cols` x `rows` cells needs (border included).
pub const fn pane_size_for(cols: u16, rows: u16) -> (u16, u16) {
    (
        cols.saturating_mul(CELL_WIDTH).saturating_add(2),
        rows.saturating_add(2),
    )
}

/// A board cell; (0, 0) is the top left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    pub x: u16,
    pub y: u16,
}

impl Pos {
    pub const fn new(x: u16, y: u16) -> Pos {
        Pos { x, y }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Up,
    Down,
    Left,
    Right,
}

impl Dir {
    pub const fn opposite(self) -> Dir {
        match self {
            Dir::Up => Dir::Down,
            Dir::Down => Dir::Up,
            Dir::Left => Dir::Right,
            Dir::Right => Dir::Left,
        }
    }
}

/// What a key means to the game (see [`key_to_input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Steer; also starts a ready game and resumes a paused one.
    Turn(Dir),
    /// Pause, or start/resume.
    Pause,
    /// A new game after game over; also starts/resumes.
    Restart,
    /// Share the score after game over (once per game).
    Share,
    /// Back to the chat; a running game pauses.
    Quit,
}

/// What the app should do after [`Game::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// Nothing visible changed (a turn may have been queued).
    Unchanged,
    /// Redraw.
    Changed,
    /// Leave the game and show the chat again.
    Quit,
    /// Post this score to the room, e.g. "/me scored 42 at snake".
    Share(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A fresh game waiting for the first direction key.
    Ready,
    Running,
    Paused,
    /// The snake hit a wall or itself (`won: false`), or filled the board (`won: true`).
    Over {
        won: bool,
    },
}

/// Why the game cannot be played at the current size. While blocked the game stays paused;
/// sizes are of the whole pane in terminal cells, as given to [`Game::resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The pane is smaller than the smallest board.
    TooSmall { need_width: u16, need_height: u16 },
    /// The board shrank below the snake's own extent.
    SnakeTooBig { need_width: u16, need_height: u16 },
}

/// Maps a key to the game; `None` for keys the game does not use, key releases, and anything
/// with Ctrl/Alt held (so the app's global bindings such as Ctrl-C keep working).
///
/// Arrows, WASD (either case) and hjkl steer; `p`/Space pause; `q`/Esc quit; Enter restarts;
/// `b` shares ("brag") — not `s`, which is a WASD direction.
pub fn key_to_input(key: KeyEvent) -> Option<Input> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let chord = KeyModifiers::CONTROL
        | KeyModifiers::ALT
        | KeyModifiers::SUPER
        | KeyModifiers::HYPER
        | KeyModifiers::META;
    if key.modifiers.intersects(chord) {
        return None;
    }
    let input = match key.code {
        KeyCode::Up | KeyCode::Char('w' | 'W' | 'k' | 'K') => Input::Turn(Dir::Up),
        KeyCode::Down | KeyCode::Char('s' | 'S' | 'j' | 'J') => Input::Turn(Dir::Down),
        KeyCode::Left | KeyCode::Char('a' | 'A' | 'h' | 'H') => Input::Turn(Dir::Left),
        KeyCode::Right | KeyCode::Char('d' | 'D' | 'l' | 'L') => Input::Turn(Dir::Right),
        KeyCode::Char('p' | 'P' | ' ') => Input::Pause,
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Input::Quit,
        KeyCode::Enter => Input::Restart,
        KeyCode::Char('b' | 'B') => Input::Share,
        _ => return None,
    };
    Some(input)
}

/// One game of snake on a board fitted to the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    rng: SmallRng,
    /// The pane size last given to `new`/`resize`, in terminal cells.
    pane: (u16, u16),
    cols: u16,
    rows: u16,
    /// Head first. Never empty once a game was placed on a playable board.
    snake: VecDeque<Pos>,
    /// The direction of the last step (or of the start): the neck lies opposite it.
    heading: Dir,
    /// Turns not yet applied, oldest first; at most `MAX_QUEUED_TURNS`.
    turns: VecDeque<Dir>,
    /// `None` only when the board is full (won) or not yet placed.
    food: Option<Pos>,
    phase: Phase,
    blocked: Option<Blocked>,
    score: u32,
    high_score: u32,
    /// The high score when this game began, to tell a new record.
    best_before: u32,
    shared: bool,
    interval: Duration,
    /// When the next step is due; `Some` exactly when running and not blocked.
    next_step: Option<Instant>,
}

impl Game {
    /// A ready game (waiting for the first direction key) sized to a pane of `width` x `height`
    /// terminal cells. `high_score` is the best so far (from the stats); `rng` places the food.
    pub fn new(width: u16, height: u16, high_score: u32, rng: SmallRng) -> Game {
        let mut game = Game {
            rng,
            pane: (width, height),
            cols: 0,
            rows: 0,
            snake: VecDeque::new(),
            heading: Dir::Right,
            turns: VecDeque::new(),
            food: None,
            phase: Phase::Ready,
            blocked: None,
            score: 0,
            high_score,
            best_before: high_score,
            shared: false,
            interval: START_INTERVAL,
            next_step: None,
        };
        game.apply_size();
        game
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Why the game cannot be played at the current size, if it cannot.
    pub fn blocked(&self) -> Option<Blocked> {
        self.blocked
    }

    pub fn score(&self) -> u32 {
        self.score
    }

    /// The best score including this game's; persist it when it grew.
    pub fn high_score(&self) -> u32 {
        self.high_score
    }

    /// Whether this game beat the high score it started with.
    pub fn is_new_high_score(&self) -> bool {
        self.score > self.best_before
    }

    /// Whether this game's score was already shared.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// The board in cells (columns, rows).
    pub fn board(&self) -> (u16, u16) {
        (self.cols, self.rows)
    }

    /// The pane size last given to [`Game::new`] or [`Game::resize`].
    pub fn pane(&self) -> (u16, u16) {
        self.pane
    }

    /// The snake's cells, head first. After game over or while blocked some may lie outside
    /// the current board (the board shrank): draw only those inside.
    pub fn snake(&self) -> impl ExactSizeIterator<Item = Pos> + '_ {
        self.snake.iter().copied()
    }

    pub fn head(&self) -> Option<Pos> {
        self.snake.front().copied()
    }

    /// The direction of the last step: where the head faces.
    pub fn heading(&self) -> Dir {
        self.heading
    }

    /// Turns typed but not yet applied, oldest first.
    pub fn queued_turns(&self) -> impl ExactSizeIterator<Item = Dir> + '_ {
        self.turns.iter().copied()
    }

    pub fn food(&self) -> Option<Pos> {
        self.food
    }

    /// Time between steps at the current speed.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// 1 at the start, one more per speed-up, up to the top speed.
    pub fn speed_level(&self) -> u32 {
        let gained = START_INTERVAL.saturating_sub(self.interval);
        let steps = gained.as_micros() / INTERVAL_STEP.as_micros().max(1);
        1 + u32::try_from(steps).unwrap_or(u32::MAX - 1)
    }

    /// When the next step is due: sleep until then and call [`Game::tick`]. `None` while the
    /// game is ready, paused, over or blocked (nothing will happen without a key or resize).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_step
    }

    /// Runs every step due at `now` (at most a few; a long stall restarts the clock). Returns
    /// whether anything changed, i.e. whether to redraw.
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut steps = 0;
        while let Some(due) = self.next_step {
            if now < due {
                break;
            }
            if steps == MAX_CATCH_UP {
                self.next_step = Some(now + self.interval);
                break;
            }
            self.step();
            steps += 1;
            self.next_step = match self.phase {
                Phase::Running => Some(due + self.interval),
                _ => None,
            };
        }
        steps > 0
    }

    /// Applies a key's meaning; `now` starts the clock when the game starts or resumes.
    pub fn handle(&mut self, input: Input, now: Instant) -> Outcome {
        if input == Input::Quit {
            self.pause();
            return Outcome::Quit;
        }
        if self.blocked.is_some() {
            return Outcome::Unchanged;
        }
        match (input, self.phase) {
            (Input::Turn(dir), Phase::Running) => {
                self.queue_turn(dir);
                Outcome::Unchanged
            }
            (Input::Turn(dir), Phase::Ready | Phase::Paused) => {
                self.queue_turn(dir);
                self.run(now);
                Outcome::Changed
            }
            (Input::Pause, Phase::Running) => {
                self.pause();
                Outcome::Changed
            }
            (Input::Pause | Input::Restart, Phase::Ready | Phase::Paused) => {
                self.run(now);
                Outcome::Changed
            }
            (Input::Restart, Phase::Over { .. }) => {
                self.new_game();
                Outcome::Changed
            }
            (Input::Share, Phase::Over { .. }) if !self.shared => {
                self.shared = true;
                Outcome::Share(self.score)
            }
            _ => Outcome::Unchanged,
        }
    }

    /// [`key_to_input`] then [`Game::handle`]; keys the game does not use are `Unchanged`.
    pub fn handle_key(&mut self, key: KeyEvent, now: Instant) -> Outcome {
        match key_to_input(key) {
            Some(input) => self.handle(input, now),
            None => Outcome::Unchanged,
        }
    }

    /// Pauses a running game (e.g. when the app hides it). Returns whether it was running.
    pub fn pause(&mut self) -> bool {
        if self.phase != Phase::Running {
            return false;
        }
        self.phase = Phase::Paused;
        self.next_step = None;
        true
    }

    /// Re-fits the board to a pane of `width` x `height` terminal cells. A pane too small to
    /// play, or smaller than the snake, pauses the game with a [`Blocked`] reason; once big
    /// enough again the game waits paused for a key. A snake that still fits but pokes out is
    /// moved back in (and the game pauses so the player can see where it went). Returns
    /// whether anything changed.
    pub fn resize(&mut self, width: u16, height: u16) -> bool {
        if (width, height) == self.pane {
            return false;
        }
        self.pane = (width, height);
        self.apply_size();
        true
    }

    fn apply_size(&mut self) {
        (self.cols, self.rows) = board_size_for(self.pane.0, self.pane.1);
        if self.cols < MIN_COLS || self.rows < MIN_ROWS {
            let (need_width, need_height) = MIN_PANE;
            self.block(Blocked::TooSmall {
                need_width,
                need_height,
            });
            return;
        }
        self.blocked = None;
        match self.phase {
            Phase::Ready => self.place_start(),
            Phase::Running | Phase::Paused => self.fit_snake(),
            // The finished board is only a backdrop for the game-over box: drawing clips it.
            Phase::Over { .. } => {}
        }
    }

    fn block(&mut self, reason: Blocked) {
        self.pause();
        self.blocked = Some(reason);
    }

    /// Puts a fresh snake left of centre, heading right, and places food.
    fn place_start(&mut self) {
        let head = Pos::new(self.cols / 3 + START_LEN - 1, self.rows / 2);
        self.snake = (0..START_LEN)
            .map(|i| Pos::new(head.x - i, head.y))
            .collect();
        self.heading = Dir::Right;
        self.turns.clear();
        self.place_food();
    }

    /// Keeps the snake on a resized board: shifts it back inside if it pokes out, or blocks
    /// when its extent is larger than the board.
    fn fit_snake(&mut self) {
        let Some(head) = self.head() else { return };
        let (mut min, mut max) = (head, head);
        for p in &self.snake {
            min = Pos::new(min.x.min(p.x), min.y.min(p.y));
            max = Pos::new(max.x.max(p.x), max.y.max(p.y));
        }
        let (span_x, span_y) = (max.x - min.x + 1, max.y - min.y + 1);
        if span_x > self.cols || span_y > self.rows {
            let (need_width, need_height) =
                pane_size_for(span_x.max(MIN_COLS), span_y.max(MIN_ROWS));
            self.block(Blocked::SnakeTooBig {
                need_width,
                need_height,
            });
            return;
        }
        let dx = (max.x + 1).saturating_sub(self.cols);
        let dy = (max.y + 1).saturating_sub(self.rows);
        if dx > 0 || dy > 0 {
            for p in &mut self.snake {
                *p = Pos::new(p.x - dx, p.y - dy);
            }
            self.pause();
        }
        let food_ok = self
            .food
            .is_some_and(|f| self.in_bounds(f) && !self.snake.contains(&f));
        if !food_ok {
            self.place_food();
        }
    }

    /// Picks the food's cell uniformly among the free cells; a full board is a win.
    fn place_food(&mut self) {
        let (cols, rows) = (usize::from(self.cols), usize::from(self.rows));
        let mut taken = vec![false; cols * rows];
        for p in &self.snake {
            if self.in_bounds(*p) {
                taken[usize::from(p.y) * cols + usize::from(p.x)] = true;
            }
        }
        let free = taken.iter().filter(|t| !**t).count();
        if free == 0 {
            self.food = None;
            self.finish(true);
            return;
        }
        let nth = self.rng.random_range(0..free);
        self.food = taken
            .iter()
            .enumerate()
            .filter(|(_, t)| !**t)
            .nth(nth)
            .and_then(|(i, _)| {
                let x = u16::try_from(i % cols).ok()?;
                let y = u16::try_from(i / cols).ok()?;
                Some(Pos::new(x, y))
            });
    }

    fn in_bounds(&self, p: Pos) -> bool {
        p.x < self.cols && p.y < self.rows
    }

    /// Queues a turn unless it repeats or reverses the direction the snake will have by then
    /// (reversing into the neck is ignored), or the queue is full.
    fn queue_turn(&mut self, dir: Dir) {
        let last = self.turns.back().copied().unwrap_or(self.heading);
        if dir == last || dir == last.opposite() || self.turns.len() >= MAX_QUEUED_TURNS {
            return;
        }
        self.turns.push_back(dir);
    }

    fn run(&mut self, now: Instant) {
        self.phase = Phase::Running;
        self.next_step = Some(now + self.interval);
    }

    fn new_game(&mut self) {
        self.phase = Phase::Ready;
        self.score = 0;
        self.best_before = self.high_score;
        self.shared = false;
        self.interval = START_INTERVAL;
        self.next_step = None;
        self.place_start();
    }

    fn finish(&mut self, won: bool) {
        self.phase = Phase::Over { won };
        self.next_step = None;
        self.turns.clear();
    }

    /// One move. The tail leaves its cell in the same step (unless the snake grows), so the
    /// head may move into the cell the tail is leaving.
    fn step(&mut self) {
        if let Some(dir) = self.turns.pop_front() {
            self.heading = dir;
        }
        let Some(head) = self.head() else { return };
        let next = match self.heading {
            Dir::Up => head.y.checked_sub(1).map(|y| Pos::new(head.x, y)),
            Dir::Down => Some(Pos::new(head.x, head.y + 1)),
            Dir::Left => head.x.checked_sub(1).map(|x| Pos::new(x, head.y)),
            Dir::Right => Some(Pos::new(head.x + 1, head.y)),
        };
        let Some(next) = next.filter(|p| self.in_bounds(*p)) else {
            self.finish(false);
            return;
        };
        let grows = self.food == Some(next);
        let staying = if grows {
            self.snake.len()
        } else {
            self.snake.len() - 1
        };
        if self.snake.iter().take(staying).any(|p| *p == next) {
            self.finish(false);
            return;
        }
        self.snake.push_front(next);
        if grows {
            self.score += 1;
            self.high_score = self.high_score.max(self.score);
            self.interval = interval_for(self.score);
            self.place_food();
        } else {
            self.snake.pop_back();
        }
    }
}

/// The step interval after eating `food` times.
pub fn interval_for(food: u32) -> Duration {
    START_INTERVAL
        .saturating_sub(INTERVAL_STEP.saturating_mul(food))
        .max(MIN_INTERVAL)
}

#[cfg(test)]
impl Game {
    /// A ready game on a `cols` x `rows` board with this snake (head first), heading and food
    /// (`None`: placed by the seeded RNG). Start it with `Input::Pause`.
    pub(crate) fn with_snake(
        cols: u16,
        rows: u16,
        body: &[(u16, u16)],
        heading: Dir,
        food: Option<(u16, u16)>,
        seed: u64,
    ) -> Game {
        use rand::SeedableRng;
        let (width, height) = pane_size_for(cols, rows);
        let mut game = Game::new(width, height, 0, SmallRng::seed_from_u64(seed));
        game.snake = body.iter().map(|&(x, y)| Pos::new(x, y)).collect();
        game.heading = heading;
        match food {
            Some((x, y)) => game.food = Some(Pos::new(x, y)),
            None => game.place_food(),
        }
        game
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> SmallRng {
        SmallRng::seed_from_u64(seed)
    }

    fn cells(game: &Game) -> Vec<(u16, u16)> {
        game.snake().map(|p| (p.x, p.y)).collect()
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// Starts a ready game now and returns the start time.
    fn start(game: &mut Game) -> Instant {
        start_at(game, Instant::now())
    }

    fn start_at(game: &mut Game, t0: Instant) -> Instant {
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Running);
        t0
    }

    /// Jumps to the next deadline and ticks once; returns that time.
    fn advance(game: &mut Game) -> Instant {
        let due = game.next_deadline().expect("the game should be running");
        assert!(game.tick(due), "a due step must change the game");
        due
    }

    /// A fair player: heads for the food along a safe direction when it can, otherwise takes
    /// any safe direction (in random order), so the snake lives long and grows long.
    fn chase(game: &Game, steer: &mut SmallRng) -> Dir {
        let head = game.head().expect("a placed snake");
        let (cols, rows) = game.board();
        let mut dirs = [Dir::Up, Dir::Down, Dir::Left, Dir::Right];
        for i in (1..dirs.len()).rev() {
            dirs.swap(i, steer.random_range(0..=i));
        }
        let towards = |d: Dir| match (d, game.food()) {
            (Dir::Up, Some(f)) => f.y < head.y,
            (Dir::Down, Some(f)) => f.y > head.y,
            (Dir::Left, Some(f)) => f.x < head.x,
            (Dir::Right, Some(f)) => f.x > head.x,
            (_, None) => false,
        };
        dirs.sort_by_key(|d| !towards(*d));
        let safe = |d: Dir| {
            let next = match d {
                Dir::Up => head.y.checked_sub(1).map(|y| Pos::new(head.x, y)),
                Dir::Down => Some(Pos::new(head.x, head.y + 1)),
                Dir::Left => head.x.checked_sub(1).map(|x| Pos::new(x, head.y)),
                Dir::Right => Some(Pos::new(head.x + 1, head.y)),
            };
            next.is_some_and(|p| p.x < cols && p.y < rows && !game.snake().any(|s| s == p))
        };
        dirs.into_iter()
            .find(|d| safe(*d))
            .unwrap_or(game.heading())
    }

    /// A snake filling a `cols` x `rows` board row by row (boustrophedon), head first, leaving
    /// the last `free` cells of that path empty. The head is the path's last occupied cell.
    fn filling_snake(cols: u16, rows: u16, free: usize) -> Vec<(u16, u16)> {
        let mut path = Vec::new();
        for y in 0..rows {
            for i in 0..cols {
                let x = if y % 2 == 0 { i } else { cols - 1 - i };
                path.push((x, y));
            }
        }
        path.truncate(path.len() - free);
        path.reverse();
        path
    }

    #[test]
    fn arrows_wasd_and_hjkl_all_steer() {
        let cases = [
            (KeyCode::Up, Dir::Up),
            (KeyCode::Char('w'), Dir::Up),
            (KeyCode::Char('k'), Dir::Up),
            (KeyCode::Down, Dir::Down),
            (KeyCode::Char('s'), Dir::Down),
            (KeyCode::Char('j'), Dir::Down),
            (KeyCode::Left, Dir::Left),
            (KeyCode::Char('a'), Dir::Left),
            (KeyCode::Char('h'), Dir::Left),
            (KeyCode::Right, Dir::Right),
            (KeyCode::Char('D'), Dir::Right),
            (KeyCode::Char('l'), Dir::Right),
        ];
        for (code, dir) in cases {
            assert_eq!(key_to_input(key(code)), Some(Input::Turn(dir)), "{code:?}");
        }
    }

    #[test]
    fn control_keys_map_to_pause_quit_restart_share() {
        assert_eq!(key_to_input(key(KeyCode::Char('p'))), Some(Input::Pause));
        assert_eq!(key_to_input(key(KeyCode::Char(' '))), Some(Input::Pause));
        assert_eq!(key_to_input(key(KeyCode::Char('q'))), Some(Input::Quit));
        assert_eq!(key_to_input(key(KeyCode::Esc)), Some(Input::Quit));
        assert_eq!(key_to_input(key(KeyCode::Enter)), Some(Input::Restart));
        assert_eq!(key_to_input(key(KeyCode::Char('b'))), Some(Input::Share));
        assert_eq!(key_to_input(key(KeyCode::Char('x'))), None);
        assert_eq!(key_to_input(key(KeyCode::Tab)), None);
    }

    #[test]
    fn key_releases_and_ctrl_or_alt_chords_are_not_game_keys() {
        let release =
            KeyEvent::new_with_kind(KeyCode::Up, KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(key_to_input(release), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(key_to_input(ctrl_c), None);
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(key_to_input(ctrl_q), None);
        let alt_left = KeyEvent::new(KeyCode::Left, KeyModifiers::ALT);
        assert_eq!(key_to_input(alt_left), None);
        let shift_w = KeyEvent::new(KeyCode::Char('W'), KeyModifiers::SHIFT);
        assert_eq!(key_to_input(shift_w), Some(Input::Turn(Dir::Up)));
    }

    #[test]
    fn new_game_is_ready_and_waits_without_a_deadline() {
        let mut game = Game::new(60, 20, 7, rng(1));
        assert_eq!(game.board(), (29, 18));
        assert_eq!(game.phase(), Phase::Ready);
        assert_eq!(game.next_deadline(), None);
        assert_eq!(game.snake().len(), 3);
        assert_eq!(game.heading(), Dir::Right);
        assert_eq!(game.high_score(), 7);
        let before = cells(&game);
        assert!(!game.tick(Instant::now() + Duration::from_secs(60)));
        assert_eq!(cells(&game), before);
    }

    #[test]
    fn a_direction_key_starts_the_game_and_applies_the_turn() {
        let mut game = Game::new(60, 20, 0, rng(1));
        let head = game.head().expect("placed");
        let t0 = Instant::now();
        assert_eq!(game.handle(Input::Turn(Dir::Up), t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(game.next_deadline(), Some(t0 + START_INTERVAL));
        advance(&mut game);
        assert_eq!(game.head(), Some(Pos::new(head.x, head.y - 1)));
    }

    #[test]
    fn snake_moves_one_cell_per_interval_and_keeps_its_length() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert!(!game.tick(t0 + START_INTERVAL - Duration::from_millis(1)));
        assert_eq!(cells(&game), [(5, 5), (4, 5), (3, 5)]);
        assert!(game.tick(t0 + START_INTERVAL));
        assert_eq!(cells(&game), [(6, 5), (5, 5), (4, 5)]);
        assert_eq!(game.next_deadline(), Some(t0 + 2 * START_INTERVAL));
    }

    #[test]
    fn one_tick_runs_every_step_that_is_due() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert!(game.tick(t0 + 3 * START_INTERVAL + Duration::from_millis(5)));
        assert_eq!(game.head(), Some(Pos::new(8, 5)));
        assert_eq!(game.next_deadline(), Some(t0 + 4 * START_INTERVAL));
    }

    #[test]
    fn a_long_stall_runs_only_a_few_steps_then_restarts_the_clock() {
        let mut game = Game::with_snake(
            40,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        let late = t0 + Duration::from_secs(30);
        assert!(game.tick(late));
        assert_eq!(game.head(), Some(Pos::new(5 + MAX_CATCH_UP as u16, 5)));
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(game.next_deadline(), Some(late + START_INTERVAL));
    }

    #[test]
    fn reversing_into_the_neck_is_ignored() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        start(&mut game);
        assert_eq!(
            game.handle(Input::Turn(Dir::Left), Instant::now()),
            Outcome::Unchanged
        );
        assert_eq!(game.queued_turns().len(), 0);
        advance(&mut game);
        assert_eq!(cells(&game), [(6, 5), (5, 5), (4, 5)]);
        assert_eq!(game.phase(), Phase::Running);
    }

    #[test]
    fn turns_within_one_tick_are_queued_and_applied_one_per_step() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        // Up then Left before the next step: a quick U-turn, not a reversal.
        let _ = game.handle(Input::Turn(Dir::Up), t0);
        let _ = game.handle(Input::Turn(Dir::Left), t0);
        assert_eq!(
            game.queued_turns().collect::<Vec<_>>(),
            [Dir::Up, Dir::Left]
        );
        advance(&mut game);
        assert_eq!(game.head(), Some(Pos::new(5, 4)));
        advance(&mut game);
        assert_eq!(cells(&game), [(4, 4), (5, 4), (5, 5)]);
        assert_eq!(game.heading(), Dir::Left);
        assert_eq!(game.phase(), Phase::Running);
    }

    #[test]
    fn a_queued_turn_is_checked_against_the_turn_before_it() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        let _ = game.handle(Input::Turn(Dir::Up), t0);
        // Down would reverse the queued Up; Up again repeats it: neither takes a slot.
        let _ = game.handle(Input::Turn(Dir::Down), t0);
        let _ = game.handle(Input::Turn(Dir::Up), t0);
        assert_eq!(game.queued_turns().collect::<Vec<_>>(), [Dir::Up]);
        advance(&mut game);
        advance(&mut game);
        assert_eq!(game.head(), Some(Pos::new(5, 3)));
    }

    #[test]
    fn the_turn_queue_is_bounded() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        for dir in [Dir::Up, Dir::Left, Dir::Down, Dir::Right, Dir::Up] {
            let _ = game.handle(Input::Turn(dir), t0);
        }
        assert_eq!(
            game.queued_turns().collect::<Vec<_>>(),
            [Dir::Up, Dir::Left, Dir::Down]
        );
        for _ in 0..3 {
            advance(&mut game);
        }
        assert_eq!(game.queued_turns().len(), 0);
        assert_eq!(cells(&game), [(4, 5), (4, 4), (5, 4)]);
        assert_eq!(game.heading(), Dir::Down);
    }

    #[test]
    fn eating_food_grows_the_snake_scores_and_moves_the_food() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((6, 5)),
            1,
        );
        start(&mut game);
        advance(&mut game);
        assert_eq!(cells(&game), [(6, 5), (5, 5), (4, 5), (3, 5)]);
        assert_eq!(game.score(), 1);
        let food = game.food().expect("free cells remain");
        assert!(!game.snake().any(|p| p == food));
        advance(&mut game);
        assert_eq!(cells(&game), [(7, 5), (6, 5), (5, 5), (4, 5)]);
    }

    #[test]
    fn hitting_each_wall_ends_the_game() {
        let cases = [
            ([(19, 5), (18, 5), (17, 5)], Dir::Right),
            ([(0, 5), (1, 5), (2, 5)], Dir::Left),
            ([(5, 0), (5, 1), (5, 2)], Dir::Up),
            ([(5, 9), (5, 8), (5, 7)], Dir::Down),
        ];
        for (body, dir) in cases {
            let mut game = Game::with_snake(20, 10, &body, dir, Some((10, 4)), 1);
            start(&mut game);
            advance(&mut game);
            assert_eq!(game.phase(), Phase::Over { won: false }, "{dir:?}");
            assert_eq!(game.next_deadline(), None);
            // The head stays where it crashed, the snake keeps its cells.
            assert_eq!(cells(&game), body.to_vec());
        }
    }

    #[test]
    fn running_into_its_own_body_ends_the_game() {
        // Head at (5,5) going up into (5,4), which is body.
        let body = [(5, 5), (6, 5), (6, 4), (5, 4), (4, 4), (3, 4)];
        let mut game = Game::with_snake(20, 10, &body, Dir::Left, Some((0, 0)), 1);
        let t0 = start(&mut game);
        let _ = game.handle(Input::Turn(Dir::Up), t0);
        advance(&mut game);
        assert_eq!(game.phase(), Phase::Over { won: false });
        assert_eq!(game.head(), Some(Pos::new(5, 5)));
    }

    #[test]
    fn moving_into_the_cell_the_tail_leaves_is_safe() {
        // A 2x2 ring: the head steps onto the tail's cell while the tail moves on.
        let body = [(5, 5), (5, 4), (4, 4), (4, 5)];
        let mut game = Game::with_snake(20, 10, &body, Dir::Down, Some((0, 0)), 1);
        let t0 = start(&mut game);
        let _ = game.handle(Input::Turn(Dir::Left), t0);
        advance(&mut game);
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(cells(&game), [(4, 5), (5, 5), (5, 4), (4, 4)]);
        // And it can keep circling.
        let _ = game.handle(Input::Turn(Dir::Up), t0);
        advance(&mut game);
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(cells(&game), [(4, 4), (4, 5), (5, 5), (5, 4)]);
    }

    #[test]
    fn food_never_lands_on_the_snake_in_long_random_games() {
        let mut longest = 0;
        for seed in 0..20 {
            let (width, height) = MIN_PANE;
            let mut game = Game::new(width, height, 0, rng(seed));
            let mut steer = rng(seed + 1000);
            let mut now = start(&mut game);
            for _ in 0..5000 {
                if game.phase() != Phase::Running {
                    break;
                }
                let dir = chase(&game, &mut steer);
                let _ = game.handle(Input::Turn(dir), now);
                now = advance(&mut game);
                if let Some(food) = game.food() {
                    assert!(
                        !game.snake().any(|p| p == food),
                        "seed {seed}: food on the snake"
                    );
                    assert!(food.x < MIN_COLS && food.y < MIN_ROWS);
                }
            }
            longest = longest.max(game.snake().len());
        }
        // The games must have reached crowded boards for this to prove anything.
        assert!(longest >= 30, "longest snake only {longest}");
    }

    #[test]
    fn on_a_nearly_full_board_food_goes_to_the_only_free_cell() {
        for seed in 0..10 {
            let body = filling_snake(MIN_COLS, MIN_ROWS, 1);
            let game = Game::with_snake(MIN_COLS, MIN_ROWS, &body, Dir::Right, None, seed);
            // The path ends at the bottom-left corner on an even number of rows.
            assert_eq!(game.food(), Some(Pos::new(0, MIN_ROWS - 1)));
        }
    }

    #[test]
    fn food_is_picked_among_all_free_cells() {
        let body = filling_snake(MIN_COLS, MIN_ROWS, 3);
        let free = [(0, MIN_ROWS - 1), (1, MIN_ROWS - 1), (2, MIN_ROWS - 1)];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let game = Game::with_snake(MIN_COLS, MIN_ROWS, &body, Dir::Right, None, seed);
            let food = game.food().expect("three free cells");
            assert!(free.contains(&(food.x, food.y)), "food at {food:?}");
            seen.insert((food.x, food.y));
        }
        assert_eq!(seen.len(), 3, "every free cell should come up: {seen:?}");
    }

    #[test]
    fn eating_the_last_free_cell_wins() {
        let body = filling_snake(MIN_COLS, MIN_ROWS, 1);
        let mut game = Game::with_snake(MIN_COLS, MIN_ROWS, &body, Dir::Left, None, 3);
        start(&mut game);
        advance(&mut game);
        assert_eq!(game.phase(), Phase::Over { won: true });
        assert_eq!(game.food(), None);
        assert_eq!(game.next_deadline(), None);
        assert_eq!(game.snake().len(), usize::from(MIN_COLS * MIN_ROWS));
    }

    #[test]
    fn each_food_shortens_the_interval_down_to_a_floor() {
        assert_eq!(interval_for(0), START_INTERVAL);
        assert_eq!(interval_for(1), START_INTERVAL - INTERVAL_STEP);
        assert!(interval_for(10) < interval_for(9));
        assert_eq!(interval_for(1_000), MIN_INTERVAL);
        assert_eq!(interval_for(u32::MAX), MIN_INTERVAL);
        let mut last = START_INTERVAL;
        for food in 1..100 {
            let now = interval_for(food);
            assert!(now <= last && now >= MIN_INTERVAL);
            last = now;
        }
    }

    #[test]
    fn eating_speeds_the_snake_up() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((6, 5)),
            1,
        );
        start(&mut game);
        assert_eq!(game.speed_level(), 1);
        let ate_at = advance(&mut game);
        assert_eq!(game.interval(), START_INTERVAL - INTERVAL_STEP);
        assert_eq!(
            game.next_deadline(),
            Some(ate_at + START_INTERVAL - INTERVAL_STEP)
        );
        assert_eq!(game.speed_level(), 2);
    }

    #[test]
    fn pause_stops_time_and_resume_restarts_the_clock() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(game.next_deadline(), None);
        assert!(!game.tick(t0 + Duration::from_secs(10)));
        assert_eq!(game.head(), Some(Pos::new(5, 5)));
        let later = t0 + Duration::from_secs(20);
        assert_eq!(game.handle(Input::Pause, later), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(game.next_deadline(), Some(later + START_INTERVAL));
        advance(&mut game);
        assert_eq!(game.head(), Some(Pos::new(6, 5)));
    }

    #[test]
    fn a_direction_key_resumes_a_paused_game() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert!(game.pause());
        assert!(!game.pause(), "pausing twice is a no-op");
        assert_eq!(game.handle(Input::Turn(Dir::Down), t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Running);
        advance(&mut game);
        assert_eq!(game.head(), Some(Pos::new(5, 6)));
    }

    #[test]
    fn quit_pauses_a_running_game_and_asks_to_leave() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert_eq!(game.handle(Input::Quit, t0), Outcome::Quit);
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(game.next_deadline(), None);
        let mut ready = Game::new(60, 20, 0, rng(1));
        assert_eq!(ready.handle(Input::Quit, t0), Outcome::Quit);
        assert_eq!(ready.phase(), Phase::Ready);
    }

    #[test]
    fn after_game_over_enter_restarts_and_share_reports_the_score_once() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(17, 5), (16, 5), (15, 5)],
            Dir::Right,
            Some((18, 5)),
            1,
        );
        let t0 = start(&mut game);
        assert_eq!(
            game.handle(Input::Share, t0),
            Outcome::Unchanged,
            "no sharing mid-game"
        );
        assert_eq!(
            game.handle(Input::Restart, t0),
            Outcome::Unchanged,
            "no restart mid-game"
        );
        advance(&mut game);
        assert_eq!(game.score(), 1);
        advance(&mut game);
        advance(&mut game);
        assert_eq!(game.phase(), Phase::Over { won: false });
        assert_eq!(game.handle(Input::Turn(Dir::Up), t0), Outcome::Unchanged);
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Unchanged);
        assert_eq!(game.handle(Input::Share, t0), Outcome::Share(1));
        assert!(game.shared());
        assert_eq!(game.handle(Input::Share, t0), Outcome::Unchanged);

        assert_eq!(game.handle(Input::Restart, t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Ready);
        assert_eq!(game.score(), 0);
        assert_eq!(game.interval(), START_INTERVAL);
        assert_eq!(game.snake().len(), 3);
        assert!(!game.shared());
        assert_eq!(game.high_score(), 1);
    }

    #[test]
    fn the_high_score_follows_the_score_and_marks_a_new_record() {
        let (width, height) = pane_size_for(20, 10);
        let mut game = Game::new(width, height, 1, rng(1));
        game.snake = [(5, 5), (4, 5), (3, 5)]
            .iter()
            .map(|&(x, y)| Pos::new(x, y))
            .collect();
        game.food = Some(Pos::new(6, 5));
        start(&mut game);
        advance(&mut game);
        assert_eq!((game.score(), game.high_score()), (1, 1));
        assert!(!game.is_new_high_score(), "equalling is not beating");
        game.food = Some(Pos::new(8, 5));
        advance(&mut game);
        advance(&mut game);
        assert_eq!((game.score(), game.high_score()), (2, 2));
        assert!(game.is_new_high_score());
    }

    #[test]
    fn a_pane_too_small_blocks_the_game_until_it_grows() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((0, 0)),
            1,
        );
        let t0 = start(&mut game);
        assert!(game.resize(MIN_PANE.0 - 1, 30));
        assert_eq!(
            game.blocked(),
            Some(Blocked::TooSmall {
                need_width: MIN_PANE.0,
                need_height: MIN_PANE.1
            })
        );
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(game.next_deadline(), None);
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Unchanged);
        assert_eq!(game.handle(Input::Turn(Dir::Up), t0), Outcome::Unchanged);
        assert_eq!(game.phase(), Phase::Paused);
        assert!(game.resize(40, MIN_PANE.1 - 1));
        assert!(game.blocked().is_some());
        assert!(
            !game.resize(40, MIN_PANE.1 - 1),
            "same size: nothing changes"
        );

        // Big enough again: still paused, waiting for the player, snake where it was.
        assert!(game.resize(MIN_PANE.0, MIN_PANE.1));
        assert_eq!(game.blocked(), None);
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(cells(&game), [(5, 5), (4, 5), (3, 5)]);
        assert_eq!(game.handle(Input::Pause, t0), Outcome::Changed);
        assert_eq!(game.phase(), Phase::Running);
    }

    #[test]
    fn a_game_created_too_small_is_placed_when_the_pane_grows() {
        let mut game = Game::new(10, 5, 0, rng(1));
        assert!(matches!(game.blocked(), Some(Blocked::TooSmall { .. })));
        assert_eq!(
            game.handle(Input::Turn(Dir::Up), Instant::now()),
            Outcome::Unchanged
        );
        assert_eq!(game.phase(), Phase::Ready);
        assert!(game.resize(60, 20));
        assert_eq!(game.blocked(), None);
        assert_eq!(game.phase(), Phase::Ready);
        assert_eq!(cells(&game), [(11, 9), (10, 9), (9, 9)]);
        assert!(game.food().is_some());
    }

    #[test]
    fn a_ready_game_is_recentred_on_resize() {
        let mut game = Game::new(60, 20, 0, rng(1));
        assert!(game.resize(100, 40));
        assert_eq!(game.board(), (49, 38));
        assert_eq!(cells(&game), [(18, 19), (17, 19), (16, 19)]);
        let food = game.food().expect("placed");
        assert!(food.x < 49 && food.y < 38 && !game.snake().any(|p| p == food));
    }

    #[test]
    fn growing_the_pane_keeps_the_game_running_in_place() {
        let mut game = Game::with_snake(
            20,
            10,
            &[(5, 5), (4, 5), (3, 5)],
            Dir::Right,
            Some((2, 2)),
            1,
        );
        start(&mut game);
        let (width, height) = pane_size_for(30, 15);
        assert!(game.resize(width, height));
        assert_eq!(game.phase(), Phase::Running);
        assert_eq!(cells(&game), [(5, 5), (4, 5), (3, 5)]);
        assert_eq!(game.food(), Some(Pos::new(2, 2)));
        assert!(game.next_deadline().is_some());
    }

    #[test]
    fn shrinking_moves_a_snake_that_pokes_out_back_in_and_pauses() {
        let body = [(17, 8), (16, 8), (15, 8), (15, 7)];
        let mut game = Game::with_snake(20, 10, &body, Dir::Right, Some((19, 9)), 1);
        start(&mut game);
        let (width, height) = pane_size_for(MIN_COLS, MIN_ROWS);
        assert!(game.resize(width, height));
        assert_eq!(game.blocked(), None);
        assert_eq!(game.phase(), Phase::Paused);
        // Shifted left by 6 and up by 1: the shape is kept, touching the right and bottom walls.
        assert_eq!(cells(&game), [(11, 7), (10, 7), (9, 7), (9, 6)]);
        let food = game.food().expect("free cells remain");
        assert!(
            food.x < MIN_COLS && food.y < MIN_ROWS,
            "food moved inside: {food:?}"
        );
        assert!(!game.snake().any(|p| p == food));
    }

    #[test]
    fn shrinking_below_the_snake_blocks_until_it_fits() {
        // A snake 16 cells wide cannot fit a 12-cell board.
        let body: Vec<(u16, u16)> = (0..16).rev().map(|x| (x + 2, 5)).collect();
        let mut game = Game::with_snake(20, 10, &body, Dir::Right, Some((0, 0)), 1);
        start(&mut game);
        let (width, height) = pane_size_for(MIN_COLS, 10);
        assert!(game.resize(width, height));
        let (need_width, need_height) = pane_size_for(16, MIN_ROWS);
        assert_eq!(
            game.blocked(),
            Some(Blocked::SnakeTooBig {
                need_width,
                need_height
            })
        );
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(
            game.handle(Input::Pause, Instant::now()),
            Outcome::Unchanged
        );
        assert!(game.resize(need_width, need_height));
        assert_eq!(game.blocked(), None);
        assert_eq!(game.phase(), Phase::Paused);
        assert_eq!(
            game.head(),
            Some(Pos::new(15, 5)),
            "shifted left to touch the wall"
        );
    }

    #[test]
    fn the_same_seed_and_keys_replay_the_same_game() {
        let t0 = Instant::now();
        let play = |seed: u64| {
            let mut game = Game::new(40, 16, 0, rng(seed));
            let mut steer = rng(7);
            let mut now = start_at(&mut game, t0);
            let mut foods = Vec::new();
            for _ in 0..300 {
                if game.phase() != Phase::Running {
                    break;
                }
                let _ = game.handle(Input::Turn(chase(&game, &mut steer)), now);
                now = advance(&mut game);
                foods.push(game.food());
            }
            (game, foods)
        };
        let (a, foods_a) = play(42);
        let (b, foods_b) = play(42);
        assert!(a.score() >= 3, "the replay should eat a few times");
        assert_eq!(a, b);
        assert_eq!(foods_a, foods_b);
        let (c, _) = play(43);
        assert_ne!(a.food(), c.food());
    }
}
