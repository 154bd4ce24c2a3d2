//! The terminal as a resource: raw mode, alternate screen, bracketed paste and mouse capture
//! switched on together and always switched off together — on a normal exit, when the guard is
//! dropped, and from the panic hook — so that a crash never leaves the user's shell unusable.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::terminal::{
    self as ct, EnterAlternateScreen, LeaveAlternateScreen, SetTitle,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::layout::Rect;

pub type Backend = CrosstermBackend<Stdout>;

/// xterm window operations 22/23: push and pop the title; terminals without them ignore them.
const PUSH_TITLE: &[u8] = b"\x1b[22;0t";
const POP_TITLE: &[u8] = b"\x1b[23;0t";

/// Whether the terminal is in our mode, so restoring twice (guard drop after the panic hook)
/// writes nothing the second time.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK_INSTALLED: AtomicBool = AtomicBool::new(false);

/// The terminal in full-screen mode; restores it when dropped.
pub struct Tui {
    pub terminal: Terminal<Backend>,
    mouse: bool,
}

impl Tui {
    /// Enters raw mode and the alternate screen, with bracketed paste and (if `mouse`) mouse
    /// capture. Installs the restoring panic hook first.
    pub fn enter(mouse: bool) -> io::Result<Tui> {
        install_panic_hook();
        ct::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        let setup = (|| {
            // Save the window title (xterm's title stack) so that ours goes away with us.
            out.write_all(PUSH_TITLE)?;
            execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
            if mouse {
                execute!(out, EnableMouseCapture)?;
            }
            Terminal::new(CrosstermBackend::new(io::stdout()))
        })();
        match setup {
            Ok(terminal) => Ok(Tui { terminal, mouse }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn mouse(&self) -> bool {
        self.mouse
    }

    /// Turns mouse capture on or off (off gives the terminal's own text selection back).
    pub fn set_mouse(&mut self, on: bool) -> io::Result<()> {
        if on != self.mouse {
            if on {
                execute!(io::stdout(), EnableMouseCapture)?;
            } else {
                execute!(io::stdout(), DisableMouseCapture)?;
            }
            self.mouse = on;
        }
        Ok(())
    }

    /// Sets the window title. The caller passes sanitised text.
    pub fn set_title(&mut self, title: &str) -> io::Result<()> {
        execute!(io::stdout(), SetTitle(title))
    }

    /// Clears the screen and makes the next draw paint every cell (Ctrl-L), without asking the
    /// terminal where its cursor is: crossterm's event reader owns stdin, so such a query
    /// (which `Terminal::clear` makes) times out and fails. For a full-screen viewport,
    /// `Terminal::resize` clears the whole screen and forgets the frame last drawn.
    pub fn repaint(&mut self) -> io::Result<()> {
        let size = self.terminal.size()?;
        self.terminal
            .resize(Rect::new(0, 0, size.width, size.height))
    }

    pub fn bell(&mut self) -> io::Result<()> {
        let mut out = io::stdout();
        out.write_all(b"\x07")?;
        out.flush()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as it was: mouse and paste modes off, main screen, cooked mode,
/// cursor visible. Safe to call more than once and from a panic.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.write_all(POP_TITLE);
    let _ = ct::disable_raw_mode();
    let _ = out.flush();
}

/// Chains a hook that restores the terminal before the default one prints the panic, so the
/// message lands on a normal screen.
pub fn install_panic_hook() {
    if HOOK_INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
