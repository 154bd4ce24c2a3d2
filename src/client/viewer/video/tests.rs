use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::*;
use crate::client::layout::Palette;
use crate::client::ui::viewer::video::render;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::from(code)
}

fn draw(view: &VideoView, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        let area = f.area();
        render(view, Palette { truecolor: true }, area, f.buffer_mut())
    })
    .unwrap();
    term.backend().buffer().clone()
}

fn screen_text(buf: &Buffer) -> String {
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

/// ffmpeg is needed unless CI did not ask for the tools (then the test says so and passes).
fn ffmpeg_or_skip() -> bool {
    if available("ffmpeg") {
        return true;
    }
    assert!(
        std::env::var_os("CLICOM_REQUIRE_TOOLS").is_none(),
        "ffmpeg is required here (apt-get install ffmpeg)"
    );
    eprintln!("SKIPPED: ffmpeg is not installed");
    false
}

/// A 2 s, 64x48 video: red for the first second, then blue (lossless FFV1 in Matroska).
fn test_video(dir: &Path) -> PathBuf {
    let path = dir.join("clip.mkv");
    let ok = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x48:r=10:d=1",
        ])
        .args(["-f", "lavfi", "-i", "color=c=blue:s=64x48:r=10:d=1"])
        .args([
            "-filter_complex",
            "[0:v][1:v]concat=n=2:v=1[v]",
            "-map",
            "[v]",
        ])
        .args(["-c:v", "ffv1"])
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make the test video");
    path
}

/// The next event, waiting up to 20 s.
async fn next(rx: &mut mpsc::Receiver<VideoEvent>) -> VideoEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .expect("the channel stays open until an end")
}

#[tokio::test]
async fn ffmpeg_frames_carry_the_videos_colours_and_seeking_restarts_at_the_position() {
    if !ffmpeg_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = test_video(dir.path());
    let probe = probe(&path).expect("ffprobe reads the test video");
    assert_eq!(
        (probe.width, probe.height, probe.codec.as_str()),
        (64, 48, "ffv1")
    );
    let mut view = VideoView::new(&path, 1234, Some(probe), true);
    assert_eq!(view.resize(16, 6), VideoAction::Redraw);
    let VideoAction::Play { at, generation } = view.handle_key(key(KeyCode::Char(' '))) else {
        panic!("space plays");
    };
    assert_eq!(at, Duration::ZERO);
    let (tx, mut rx) = mpsc::channel(4);
    let decoder = Decoder::spawn(&path, at, view.pixels(), generation, tx).unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(view.on_event(ev), VideoAction::Redraw);
    let (w, h, cells) = view.frame().unwrap().clone();
    assert_eq!((w, h), (16, 6));
    // 64x48 in 16x12 pixels: 16x12 exactly (4:3), so no padding; the middle is red.
    let (top, _) = cells[usize::from(w) * 3 + 8];
    assert!(top.0 > 200 && top.1 < 60 && top.2 < 60, "{top:?}");
    let buf = draw(&view, 16, 8);
    assert_eq!(buf[(8, 4)].symbol(), "▀");
    drop(decoder);

    // Seek forward past the first second: the frames are blue and the position moved.
    view.handle_key(key(KeyCode::Char(' ')));
    assert_eq!(view.playback(), Playback::Paused);
    let VideoAction::Play { at, generation } = view.handle_key(key(KeyCode::Right)) else {
        panic!("a seek plays");
    };
    assert!(at >= Duration::from_secs(1), "{at:?}");
    let (tx, mut rx) = mpsc::channel(4);
    let _decoder = Decoder::spawn(
        &path,
        Duration::from_millis(1500),
        view.pixels(),
        generation,
        tx,
    )
    .unwrap();
    let ev = next(&mut rx).await;
    view.on_event(ev);
    let (top, bottom) = view.frame().unwrap().2[usize::from(w) * 3 + 8];
    assert!(
        top.2 > 200 && top.0 < 60 && bottom.2 > 200,
        "{top:?} {bottom:?}"
    );
    assert!(view.position() >= Duration::from_millis(1500));
    // To the end: the last event says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no end of the video");
        if let VideoEvent::Ended { .. } = next(&mut rx).await {
            break;
        }
    }
}

#[test]
fn frames_of_a_stopped_decoder_are_ignored() {
    let mut view = VideoView::new(Path::new("v.mp4"), 1, None, true);
    view.resize(2, 1);
    let VideoAction::Play { generation, .. } = view.handle_key(key(KeyCode::Char(' '))) else {
        panic!();
    };
    view.handle_key(key(KeyCode::Char(' ')));
    let stale = VideoEvent::Frame {
        generation,
        at: Duration::ZERO,
        width: 2,
        height: 2,
        rgb: vec![255; 12],
    };
    assert_eq!(view.on_event(stale), VideoAction::None);
    assert!(view.frame().is_none());
}

#[test]
fn without_ffmpeg_the_metadata_is_shown_and_opening_elsewhere_is_offered() {
    let probe = Probe {
        duration: Some(Duration::from_secs(83)),
        width: 1920,
        height: 1080,
        codec: "h264".into(),
    };
    let mut view = VideoView::new(Path::new("/tmp/holiday.mp4"), 5_000_000, Some(probe), false);
    view.resize(60, 10);
    assert_eq!(view.playback(), Playback::Unavailable);
    assert_eq!(
        view.handle_key(key(KeyCode::Char(' '))),
        VideoAction::None,
        "nothing to play"
    );
    let text = screen_text(&draw(&view, 60, 12));
    assert!(text.contains("ffmpeg is not installed"), "{text}");
    assert!(text.contains("size: 5000000 bytes"), "{text}");
    assert!(text.contains("video: 1920×1080 h264"), "{text}");
    assert!(text.contains("duration: 1:23"), "{text}");
    assert_eq!(
        view.handle_key(key(KeyCode::Char('o'))),
        VideoAction::OpenExternally(PathBuf::from("/tmp/holiday.mp4"))
    );
    // Over the pixel limit the same: never decoded.
    let huge = Probe {
        width: 100_000,
        height: 100_000,
        ..Probe::default()
    };
    let view = VideoView::new(Path::new("bomb.mkv"), 10, Some(huge), true);
    assert_eq!(view.playback(), Playback::TooLarge);
}
