//! The terminal client: a full-screen chat UI over one WebSocket connection. `App` (app.rs) owns
//! everything the user sees and changes only through `update(Msg) -> Vec<Effect>`; this file
//! runs the loop that feeds it terminal and network events and carries out its effects. The
//! network task (net.rs) owns the socket and the reconnect schedule.

pub mod app;
pub mod backoff;
pub mod command;
pub mod editor;
pub mod emoji;
pub mod four;
pub mod konami;
pub mod layout;
pub mod links;
pub mod net;
pub mod snake;
pub mod stats;
pub mod terminal;
pub mod tls;
pub mod ui;
pub mod url;
pub mod viewer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use ratatui::crossterm::event::{Event, EventStream, MouseEventKind};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::protocol::Color;
use crate::text::{validate_name, validate_room};
use app::{App, AppInit, Effect, Msg, SettingChange};
use layout::Palette;
use net::{NetEvent, NetHandle};
use stats::Stats;
use terminal::Tui;

/// `clicom [URL] [--name NAME] [--color C] [--room ROOM] [--config PATH]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientArgs {
    /// Server to join: ws://…, wss://…, host:port, or an alias (default, local, or a name from
    /// the config's [servers] table). Default: the config's `server` setting.
    pub url: Option<String>,
    /// Also trust the CA certificates in this PEM file for wss:// (a server with a private or
    /// self-made CA). Default: the config's `ca_file`, if any.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
}

/// Who you are for one run, and where your settings live: shared by the client and host mode.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SessionArgs {
    /// Your name for this run (otherwise the configured one; the first run asks).
    #[arg(long)]
    pub name: Option<String>,
    /// Your colour for this run: 1-6 (Cyan, Green, Magenta, Yellow, Blue, White) or #rrggbb.
    #[arg(long)]
    pub color: Option<String>,
    /// The room to join (default: the configured one, else "main").
    #[arg(long)]
    pub room: Option<String>,
    /// The settings file (default: $CLICOM_CONFIG, else config.toml in the platform config dir).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// Everything `run_with` needs: the command line plus what host mode adds.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub args: ClientArgs,
    /// Lines shown under the banner (host mode: the address others can join).
    pub notices: Vec<String>,
}

impl From<ClientArgs> for ClientOptions {
    fn from(args: ClientArgs) -> ClientOptions {
        ClientOptions {
            args,
            notices: Vec::new(),
        }
    }
}

/// Runs the client until the user quits (or SIGTERM/SIGHUP). Must run inside a tokio runtime.
pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    run_with(args.into()).await
}

/// Largest number of queued events handled before a frame is drawn, so a flood can never hold
/// the screen back for long; everything that is already waiting is handled first.
const MAX_BATCH: usize = 4096;
/// How often changed stats are written while running (they are always written on exit).
const STATS_SAVE_EVERY: Duration = Duration::from_secs(60);

/// Runs the client with start-up options (see [`run`]).
pub async fn run_with(opts: ClientOptions) -> anyhow::Result<()> {
    let ClientOptions { args, mut notices } = opts;
    let config_path = args
        .session
        .config
        .clone()
        .unwrap_or_else(crate::paths::config_file);
    let mut config = Config::load(&config_path).map_err(anyhow::Error::new)?;
    let settings = config.settings().clone();

    let name = match args.session.name.as_deref().or(settings.name.as_deref()) {
        Some(raw) => {
            Some(validate_name(raw).map_err(|e| anyhow::anyhow!("invalid name {raw:?}: {e}"))?)
        }
        None => None,
    };
    let color = match args.session.color.as_deref().or(settings.color.as_deref()) {
        Some(raw) => Some(
            raw.parse::<Color>()
                .map_err(anyhow::Error::new)?
                .to_string(),
        ),
        None => None,
    };
    let room = match args.session.room.as_deref() {
        Some(raw) => {
            validate_room(raw).map_err(|e| anyhow::anyhow!("invalid room {raw:?}: {e}"))?
        }
        None => {
            validate_room(&settings.room).unwrap_or_else(|_| crate::protocol::DEFAULT_ROOM.into())
        }
    };
    let server_label = args.url.clone().unwrap_or_else(|| settings.server.clone());
    let server_url = url::resolve_server(&server_label, &settings).map_err(anyhow::Error::new)?;
    let mut net_options = net::NetOptions::default();
    if let Some(path) = args.ca_file.as_ref().or(settings.ca_file.as_ref()) {
        net_options.extra_roots = tls::load_ca_file(path).map_err(anyhow::Error::new)?;
    }
    let (stats, warning) = Stats::load();
    notices.extend(warning);

    let mut tui = Tui::enter(settings.mouse).context("cannot set up the terminal")?;
    let size = tui
        .terminal
        .size()
        .context("cannot read the terminal size")?;
    let mut app = App::new(AppInit {
        settings,
        server_label,
        server_url,
        name,
        color,
        room,
        stats,
        palette: Palette::from_env(),
        size: (size.width, size.height),
        notices,
    });
    tracing::info!(url = %app.server_url, "client starting");
    let result = event_loop(&mut app, &mut tui, &mut config, net_options).await;
    drop(tui);
    result
}

/// The IO around the app: the network task, openers and the files.
struct Edges {
    net: Option<(NetHandle, mpsc::Receiver<NetEvent>)>,
    /// How every network task is started (the trusted CA certificates among them).
    net_options: net::NetOptions,
    /// Results of work done off the loop (link openers) come back here as messages.
    done_tx: mpsc::Sender<Msg>,
    /// Messages produced while carrying out effects, handled before the next event.
    queue: VecDeque<Msg>,
    redraw_all: bool,
}

async fn event_loop(
    app: &mut App,
    tui: &mut Tui,
    config: &mut Config,
    net_options: net::NetOptions,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut events = EventStream::new();
    let (done_tx, mut done_rx) = mpsc::channel::<Msg>(64);
    let mut edges = Edges {
        net: None,
        net_options,
        done_tx,
        queue: VecDeque::new(),
        redraw_all: false,
    };
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut stats_timer = tokio::time::interval(STATS_SAVE_EVERY);
    stats_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let start = app.start();
    carry_out(start, app, tui, config, &mut edges)?;
    let mut dirty = true;
    loop {
        while let Some(msg) = edges.queue.pop_front() {
            let fx = app.update(msg);
            carry_out(fx, app, tui, config, &mut edges)?;
            dirty = true;
        }
        if app.is_quitting() {
            break;
        }
        if dirty {
            if edges.redraw_all {
                tui.repaint()?;
                edges.redraw_all = false;
            }
            tui.terminal.draw(|f| ui::render(app, f))?;
            dirty = false;
        }
        let deadline = app.next_deadline();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        let first: Option<Msg> = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => to_msg(ev),
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("cannot read the terminal")),
                None => break,
            },
            Some(ev) = next_net(&mut edges.net) => Some(Msg::Net(ev)),
            Some(msg) = done_rx.recv() => Some(msg),
            _ = sleep => Some(Msg::Tick(Instant::now())),
            _ = sigterm.recv() => { quit(app, tui, config, &mut edges)?; break; }
            _ = sighup.recv() => { quit(app, tui, config, &mut edges)?; break; }
            _ = stats_timer.tick() => {
                if let Some(stats) = app.take_stats_if_dirty() {
                    carry_out(vec![Effect::SaveStats(stats)], app, tui, config, &mut edges)?;
                }
                None
            }
        };
        let Some(first) = first else {
            continue;
        };
        // Render coalescing: handle everything already waiting, then draw once.
        let mut batch = vec![first];
        let started = Instant::now();
        for _ in 0..MAX_BATCH {
            // Polled with this task's waker (not a no-op one, which crossterm would keep and
            // then never wake us for the next key).
            if let std::task::Poll::Ready(Some(Ok(ev))) = futures_util::poll!(events.next()) {
                if let Some(m) = to_msg(ev) {
                    batch.push(m);
                }
                continue;
            }
            if let Some((_, rx)) = &mut edges.net
                && let Ok(ev) = rx.try_recv()
            {
                batch.push(Msg::Net(ev));
                continue;
            }
            if let Ok(m) = done_rx.try_recv() {
                batch.push(m);
                continue;
            }
            break;
        }
        // A deadline that passed while the batch gathered is handled in the same frame.
        if app.next_deadline().is_some_and(|t| t <= started) {
            batch.push(Msg::Tick(started));
        }
        for msg in batch {
            let fx = app.update(msg);
            carry_out(fx, app, tui, config, &mut edges)?;
        }
        dirty = true;
    }
    shutdown(app, &mut edges).await;
    Ok(())
}

/// The next event from the network task; never resolves while there is none.
async fn next_net(net: &mut Option<(NetHandle, mpsc::Receiver<NetEvent>)>) -> Option<NetEvent> {
    match net {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Terminal events the app cares about; mouse motion is dropped here so it never redraws.
fn to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Paste(s) => Some(Msg::Paste(s)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Moved | MouseEventKind::Drag(_) | MouseEventKind::Up(_) => None,
            _ => Some(Msg::Mouse(m)),
        },
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::FocusGained | Event::FocusLost => None,
    }
}

fn quit(
    app: &mut App,
    tui: &mut Tui,
    config: &mut Config,
    edges: &mut Edges,
) -> anyhow::Result<()> {
    let fx = app.request_quit();
    carry_out(fx, app, tui, config, edges)
}

/// Closes the connection cleanly (waiting a little for the task to finish its close).
async fn shutdown(app: &mut App, edges: &mut Edges) {
    if let Some(stats) = app.take_stats_if_dirty()
        && let Err(e) = stats.save()
    {
        tracing::warn!(error = %e, "stats not saved");
    }
    if let Some((handle, mut rx)) = edges.net.take() {
        handle.send(net::NetCmd::Shutdown);
        drop(handle);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while rx.recv().await.is_some() {}
        })
        .await;
    }
}

/// Carries out the app's effects at the edges; failures come back as messages.
fn carry_out(
    fx: Vec<Effect>,
    app: &mut App,
    tui: &mut Tui,
    config: &mut Config,
    edges: &mut Edges,
) -> anyhow::Result<()> {
    for effect in fx {
        match effect {
            Effect::Connect { url, identity } => {
                if let Some((old, _)) = edges.net.take() {
                    old.send(net::NetCmd::Shutdown);
                }
                edges.net = Some(net::spawn_with(url, identity, edges.net_options.clone()));
            }
            Effect::Net(cmd) => {
                let Some((handle, _)) = &edges.net else {
                    if let net::NetCmd::Send(msg) = cmd {
                        edges.queue.push_back(Msg::Net(NetEvent::NotSent(msg)));
                    }
                    continue;
                };
                if !handle.send(cmd.clone())
                    && let net::NetCmd::Send(msg) = cmd
                {
                    edges.queue.push_back(Msg::Net(NetEvent::NotSent(msg)));
                }
            }
            Effect::OpenUrl { url, command } => {
                let done = edges.done_tx.clone();
                tokio::spawn(async move {
                    let error = links::open(url.clone(), command)
                        .await
                        .err()
                        .map(|e| e.to_string());
                    if let Some(e) = &error {
                        tracing::warn!(%url, error = %e, "opening a link failed");
                    }
                    let _ = done.send(Msg::Opened { url, error }).await;
                });
            }
            Effect::SaveSetting(change) => {
                let result = config.edit(|config| match &change {
                    SettingChange::Name(name) => config.set_name(name),
                    SettingChange::Color(color) => config.set_color(color),
                    SettingChange::Server(server) => config.set_server(server),
                });
                if let Err(e) = result {
                    tracing::warn!(error = %e, ?change, "settings not saved");
                    edges
                        .queue
                        .push_back(Msg::Failed(format!("could not save settings: {e}")));
                }
            }
            Effect::SaveStats(stats) => {
                if let Err(e) = stats.save() {
                    tracing::warn!(error = %e, "stats not saved");
                    edges.queue.push_back(Msg::Failed(e.to_string()));
                }
            }
            Effect::Bell => tui.bell()?,
            Effect::SetTitle(title) => tui.set_title(&title)?,
            Effect::SetMouseCapture(on) => tui.set_mouse(on)?,
            Effect::Redraw => edges.redraw_all = true,
            Effect::Quit => {}
        }
    }
    let _ = app;
    Ok(())
}
