//! The video viewer. With `ffmpeg` installed, a [`Decoder`] runs it as a child process that
//! writes raw RGB frames, scaled to the cell grid (two pixels per cell) at a modest rate in
//! real time, and a thread reads them into a channel; the view keeps only the latest frame.
//! Pause stops ffmpeg, play and seek (←/→ ±5 s) start it again at the position (`-ss`). No
//! audio. Without ffmpeg the view shows what it knows (size, type; duration and resolution
//! when `ffprobe` is there) and offers to open the file with the system's player — an action
//! for the app, never done on its own. The process handling is here, at the edge; the view
//! is pure and drawn by `ui::viewer::video`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;

use super::picture::{Cell, MAX_PIXELS};

/// Frames per second decoded for the terminal.
pub const FPS: u32 = 12;
/// A seek's step.
pub const SEEK: Duration = Duration::from_secs(5);

/// What `ffprobe` says about a video.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    pub duration: Option<Duration>,
    pub width: u32,
    pub height: u32,
    pub codec: String,
}

/// Whether `program` runs here (`ffmpeg` / `ffprobe`).
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Asks `ffprobe` for the first video stream's size, codec and the duration (blocking).
pub fn probe(path: &Path) -> Option<Probe> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-print_format",
            "json",
        ])
        .args([
            "-show_entries",
            "stream=width,height,codec_name:format=duration",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let stream = json.get("streams")?.get(0)?;
    let num = |v: &serde_json::Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    Some(Probe {
        width: num(stream.get("width")?)?,
        height: num(stream.get("height")?)?,
        codec: crate::text::sanitize_line(stream.get("codec_name")?.as_str().unwrap_or("?"))
            .into_owned(),
        duration: json
            .get("format")
            .and_then(|f| f.get("duration"))
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(Duration::from_secs_f64),
    })
}

/// What the decoder thread sends.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoEvent {
    /// `rgb` is `width * height * 3` bytes; `generation` names the decoder that made it.
    Frame {
        generation: u64,
        at: Duration,
        width: u16,
        height: u16,
        rgb: Vec<u8>,
    },
    Ended {
        generation: u64,
    },
    Failed {
        generation: u64,
        reason: String,
    },
}

/// A running `ffmpeg`; dropping it kills the process.
pub struct Decoder {
    child: Child,
}

impl Decoder {
    /// Starts decoding `path` from `at`, as `width` x `height` pixels (even height: two per
    /// cell), sending frames to `tx`. The reading thread ends with the process.
    pub fn spawn(
        path: &Path,
        at: Duration,
        (width, height): (u16, u16),
        generation: u64,
        tx: mpsc::Sender<VideoEvent>,
    ) -> std::io::Result<Decoder> {
        let (w, h) = (width.max(2), height.max(2));
        let filter = format!(
            "fps={FPS},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
        );
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-ss"])
            .arg(format!("{:.3}", at.as_secs_f64()))
            .arg("-i")
            .arg(path)
            .args(["-an", "-sn", "-vf", &filter])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe"))?;
        std::thread::spawn(move || {
            let mut frame = vec![0u8; usize::from(w) * usize::from(h) * 3];
            let mut n: u32 = 0;
            while stdout.read_exact(&mut frame).is_ok() {
                let ev = VideoEvent::Frame {
                    generation,
                    at: at + Duration::from_secs_f64(f64::from(n) / f64::from(FPS)),
                    width: w,
                    height: h,
                    rgb: frame.clone(),
                };
                // The view went away or moved on: stop reading, ffmpeg then stops on its pipe.
                if tx.blocking_send(ev).is_err() {
                    return;
                }
                n += 1;
            }
            let mut err = String::new();
            let _ = stderr.read_to_string(&mut err);
            let err = err.lines().next().unwrap_or("").trim().to_owned();
            let ev = if n == 0 && !err.is_empty() {
                VideoEvent::Failed {
                    generation,
                    reason: crate::text::sanitize_line(&err).into_owned(),
                }
            } else {
                VideoEvent::Ended { generation }
            };
            let _ = tx.blocking_send(ev);
        });
        Ok(Decoder { child })
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the app should do after a key or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoAction {
    None,
    Redraw,
    Close,
    /// Start a decoder (dropping any running one) at `at` for the view's pixel size.
    Play {
        at: Duration,
        generation: u64,
    },
    /// Stop the running decoder (paused).
    Stop,
    /// Open the file with the system's player (the user asked).
    OpenExternally(PathBuf),
}

/// Playing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playback {
    /// No ffmpeg: metadata and the offer to open it elsewhere.
    Unavailable,
    /// Refused: over the pixel limit.
    TooLarge,
    Paused,
    Playing,
    Ended,
}

pub struct VideoView {
    title: String,
    path: PathBuf,
    bytes: u64,
    probe: Option<Probe>,
    playback: Playback,
    position: Duration,
    /// Bumped at every start, so frames of a stopped decoder are ignored.
    generation: u64,
    size: (u16, u16),
    /// The latest frame as half-block cells (width x rows).
    frame: Option<(u16, u16, Vec<Cell>)>,
    error: Option<String>,
}

impl VideoView {
    /// A view of `path` (`bytes` long); `ffmpeg` says whether it can be played here.
    pub fn new(path: &Path, bytes: u64, probe: Option<Probe>, ffmpeg: bool) -> VideoView {
        let too_large = probe
            .as_ref()
            .is_some_and(|p| u64::from(p.width) * u64::from(p.height) > MAX_PIXELS);
        let title = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        VideoView {
            title: crate::text::sanitize_line(&title).into_owned(),
            path: path.to_owned(),
            bytes,
            probe,
            playback: match (ffmpeg, too_large) {
                (_, true) => Playback::TooLarge,
                (false, _) => Playback::Unavailable,
                (true, _) => Playback::Paused,
            },
            position: Duration::ZERO,
            generation: 0,
            size: (0, 0),
            frame: None,
            error: None,
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn probe(&self) -> Option<&Probe> {
        self.probe.as_ref()
    }
    pub fn playback(&self) -> Playback {
        self.playback
    }
    pub fn position(&self) -> Duration {
        self.position
    }
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    pub fn frame(&self) -> Option<&(u16, u16, Vec<Cell>)> {
        self.frame.as_ref()
    }

    /// The pixel size decoders should produce: the body's cells, two pixels per cell.
    pub fn pixels(&self) -> (u16, u16) {
        (self.size.0.max(2), self.size.1.max(1) * 2)
    }

    /// The body is `width` x `height` cells. While playing, a new size restarts the decoder.
    pub fn resize(&mut self, width: u16, height: u16) -> VideoAction {
        if self.size == (width, height) {
            return VideoAction::None;
        }
        self.size = (width, height);
        if self.playback == Playback::Playing {
            self.start()
        } else {
            VideoAction::Redraw
        }
    }

    fn start(&mut self) -> VideoAction {
        self.generation += 1;
        self.playback = Playback::Playing;
        self.error = None;
        VideoAction::Play {
            at: self.position,
            generation: self.generation,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> VideoAction {
        if key.kind == KeyEventKind::Release {
            return VideoAction::None;
        }
        let playable = matches!(
            self.playback,
            Playback::Paused | Playback::Playing | Playback::Ended
        );
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => VideoAction::Close,
            KeyCode::Char('o') => VideoAction::OpenExternally(self.path.clone()),
            KeyCode::Char(' ') if playable => match self.playback {
                Playback::Playing => {
                    self.playback = Playback::Paused;
                    self.generation += 1;
                    VideoAction::Stop
                }
                Playback::Ended => {
                    self.position = Duration::ZERO;
                    self.start()
                }
                _ => self.start(),
            },
            KeyCode::Left | KeyCode::Right if playable => {
                self.position = if key.code == KeyCode::Left {
                    self.position.saturating_sub(SEEK)
                } else {
                    let end = self.probe.as_ref().and_then(|p| p.duration);
                    let to = self.position + SEEK;
                    end.map_or(to, |e| to.min(e))
                };
                // A seek plays from the new position.
                self.start()
            }
            _ => VideoAction::None,
        }
    }

    /// A decoder's event; those of an older decoder are ignored.
    pub fn on_event(&mut self, ev: VideoEvent) -> VideoAction {
        match ev {
            VideoEvent::Frame {
                generation,
                at,
                width,
                height,
                rgb,
            } if generation == self.generation => {
                self.position = at;
                let rows = height / 2;
                let px = |x: u16, y: u16| {
                    let i = (usize::from(y) * usize::from(width) + usize::from(x)) * 3;
                    rgb.get(i..i + 3).map_or((0, 0, 0), |p| (p[0], p[1], p[2]))
                };
                let cells = (0..rows)
                    .flat_map(|r| (0..width).map(move |c| (c, r)))
                    .map(|(c, r)| (px(c, r * 2), px(c, r * 2 + 1)))
                    .collect();
                self.frame = Some((width, rows, cells));
                VideoAction::Redraw
            }
            VideoEvent::Ended { generation } if generation == self.generation => {
                self.playback = Playback::Ended;
                VideoAction::Redraw
            }
            VideoEvent::Failed { generation, reason } if generation == self.generation => {
                self.playback = Playback::Paused;
                self.error = Some(reason);
                VideoAction::Redraw
            }
            _ => VideoAction::None,
        }
    }
}

#[cfg(test)]
mod tests;
