use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use super::*;
use crate::client::layout::Palette;
use crate::client::ui::viewer::{body, picture::render};

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

/// A 64x64 PNG: red, green / blue, white quadrants.
fn quadrants_png() -> Vec<u8> {
    let img = RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb(match (x < 32, y < 32) {
            (true, true) => RED,
            (false, true) => GREEN,
            (true, false) => BLUE,
            (false, false) => WHITE,
        })
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn draw(view: &PictureView, palette: Palette, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        let area = f.area();
        render(view, palette, area, f.buffer_mut())
    })
    .unwrap();
    term.backend().buffer().clone()
}

fn view_of(png: &[u8], w: u16, h: u16) -> PictureView {
    let mut view = PictureView::new("q.png", decode(png).unwrap());
    let b = body(Rect::new(0, 0, w, h));
    view.resize(b.width, b.height);
    view
}

#[test]
fn half_block_cells_carry_the_pictures_colours_at_the_expected_places() {
    // 20 columns x 10 body rows = 20 x 20 screen pixels: the square picture fills it.
    let view = view_of(&quadrants_png(), 20, 12);
    assert_eq!(view.cells().0, (0, 0, 20, 10));
    let buf = draw(&view, Palette { truecolor: true }, 20, 12);
    let rgb = |c: [u8; 3]| Color::Rgb(c[0], c[1], c[2]);
    for (x, y, want) in [(2, 2, RED), (17, 2, GREEN), (2, 9, BLUE), (17, 9, WHITE)] {
        let cell = &buf[(x, y)];
        assert_eq!(cell.symbol(), "▀");
        assert_eq!((cell.fg, cell.bg), (rgb(want), rgb(want)), "cell {x},{y}");
    }
    // 256 colours: the nearest palette entries.
    let buf = draw(&view, Palette { truecolor: false }, 20, 12);
    assert_eq!(buf[(2, 2)].fg, Color::Indexed(196));
    assert_eq!(buf[(17, 9)].bg, Color::Indexed(231));
    assert!(crate::client::ui::viewer::pager::KEYS.len() > 1);
}

#[test]
fn a_wide_window_centres_the_fitted_picture_and_zoom_and_pan_move_it() {
    let mut view = view_of(&quadrants_png(), 40, 12);
    // 10 rows = 20 pixels high, so 20 columns wide, centred in 40.
    assert_eq!(view.cells().0, (10, 0, 20, 10));
    for _ in 0..8 {
        view.handle_key(KeyEvent::from(KeyCode::Char('+')));
    }
    // Zoomed in on the centre: all four colours still meet there; fills the window's height.
    let ((_, _, w, h), _) = view.cells();
    assert_eq!(h, 10);
    assert!(w > 20, "{w}");
    // Panning left far enough shows only the left half (red over blue).
    for _ in 0..20 {
        view.handle_key(KeyEvent::from(KeyCode::Left));
    }
    let ((_, _, w, _), cells) = view.cells();
    let top_right = cells[usize::from(w) - 1].0;
    assert_eq!(
        top_right,
        (255, 0, 0),
        "the right edge is red once panned left"
    );
    view.handle_key(KeyEvent::from(KeyCode::Char('0')));
    assert_eq!(view.cells().0, (10, 0, 20, 10));
    assert_eq!(
        view.handle_key(KeyEvent::from(KeyCode::Char('q'))),
        PictureAction::Close
    );
}

/// A PNG whose header announces `w` x `h` pixels, with a few bytes of data.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // zlib of a few zero bytes: a real bomb would be a long run of them, highly compressed.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_decompression_bomb_png_is_refused_before_decoding() {
    let png = bomb_png(100_000, 100_000);
    assert!(png.len() < 100);
    let err = decode(&png).unwrap_err();
    assert!(
        matches!(
            err,
            PictureError::TooLarge {
                width: 100_000,
                height: 100_000
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("100000×100000"), "{err}");
    assert!(err.to_string().contains("50 megapixel limit"), "{err}");
    assert!(matches!(
        probe(Cursor::new(&png)),
        Err(PictureError::TooLarge { .. })
    ));
    // Within the limit, the header alone does not make a picture: a clear error, no panic.
    assert!(matches!(
        decode(&bomb_png(100, 100)),
        Err(PictureError::Decode(_))
    ));
}

#[test]
fn only_picture_formats_are_accepted_whatever_the_name() {
    // A GIF signature with garbage after it: refused by its (absurd) size or as damaged.
    assert!(matches!(
        decode(b"GIF87a but not really"),
        Err(PictureError::Decode(_) | PictureError::TooLarge { .. })
    ));
    assert!(matches!(
        decode(b"#!/bin/sh\necho hi\n"),
        Err(PictureError::Unsupported)
    ));
    assert!(matches!(decode(b""), Err(PictureError::Unsupported)));
}
