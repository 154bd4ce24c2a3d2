//! The picture viewer: PNG, JPEG, GIF (first frame) and WebP decoded with bounded work — the
//! declared size is checked against [`MAX_PIXELS`] before a pixel is decoded, so a
//! "decompression bomb" (a tiny file announcing gigapixels) is refused — then kept as a preview
//! of at most [`PREVIEW_MAX`] pixels a side. The view fits the picture to the window; `+`/`-`
//! zoom, arrows pan, `0` fits again. The cells to draw (two pixels per cell, drawn with `▀`)
//! are computed when the view changes, so drawing only copies them.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits, RgbImage};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

/// Pixels a picture may have (50 megapixels: more than any camera's photo).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Memory the decoder may allocate.
const MAX_ALLOC: u64 = 512 << 20;
/// The preview's longest side, in pixels: far more than a terminal shows, even zoomed.
pub const PREVIEW_MAX: u32 = 2048;
/// The deepest zoom, relative to "fit".
const MAX_ZOOM: f32 = 16.0;

/// Why a picture cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a PNG, JPEG, GIF or WebP picture")]
    Unsupported,
    #[error(
        "the picture says it is {width}×{height} pixels, over the {} megapixel limit",
        MAX_PIXELS / 1_000_000
    )]
    TooLarge { width: u32, height: u32 },
    #[error("the picture is damaged: {0}")]
    Decode(String),
}

/// A decoded picture: its real size and format, and a preview to draw.
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    pub preview: RgbImage,
}

/// Decodes a picture file (blocking: call it off the UI thread).
pub fn decode_file(path: &Path) -> Result<Picture, PictureError> {
    let bytes = std::fs::read(path)?;
    decode(&bytes)
}

/// Decodes a picture from its bytes (the format is read from them, not from a name).
pub fn decode(bytes: &[u8]) -> Result<Picture, PictureError> {
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, PictureError> {
        Ok(ImageReader::new(Cursor::new(bytes)).with_guessed_format()?)
    };
    let format = match reader()?.format() {
        Some(ImageFormat::Png) => "PNG",
        Some(ImageFormat::Jpeg) => "JPEG",
        Some(ImageFormat::Gif) => "GIF",
        Some(ImageFormat::WebP) => "WebP",
        _ => return Err(PictureError::Unsupported),
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| PictureError::Decode(e.to_string()))?;
    check_size(width, height)?;
    let mut limited = reader()?;
    limited.limits(limits());
    let image = limited
        .decode()
        .map_err(|e| PictureError::Decode(e.to_string()))?;
    Ok(Picture {
        width,
        height,
        format,
        preview: preview(image),
    })
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Refuses a size over [`MAX_PIXELS`] (before decoding: the size is the header's claim).
pub fn check_size(width: u32, height: u32) -> Result<(), PictureError> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        Err(PictureError::TooLarge { width, height })
    } else {
        Ok(())
    }
}

/// Transparent pixels over black, scaled down to [`PREVIEW_MAX`] a side.
fn preview(image: image::DynamicImage) -> RgbImage {
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(px[3]);
        *out = image::Rgb([0, 1, 2].map(|i| (u16::from(px[i]) * a / 255) as u8));
    }
    let (w, h) = rgb.dimensions();
    if w.max(h) <= PREVIEW_MAX {
        return rgb;
    }
    let scale = f64::from(PREVIEW_MAX) / f64::from(w.max(h));
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    image::imageops::resize(&rgb, nw, nh, image::imageops::FilterType::Triangle)
}

/// Reads only a picture's declared size (for a file card), refusing bombs the same way.
pub fn probe(reader: impl BufRead + Seek) -> Result<(u32, u32), PictureError> {
    let (w, h) = ImageReader::new(reader)
        .with_guessed_format()?
        .into_dimensions()
        .map_err(|e| PictureError::Decode(e.to_string()))?;
    check_size(w, h)?;
    Ok((w, h))
}

/// One terminal cell of a half-block picture: the upper pixel's colour and the lower one's.
pub type Cell = ((u8, u8, u8), (u8, u8, u8));

/// What the viewer does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureAction {
    None,
    Redraw,
    Close,
}

/// The picture on screen: zoom, the point of the picture at the centre, and the cells.
pub struct PictureView {
    title: String,
    picture: Picture,
    zoom: f32,
    /// The centre of the view, in preview pixels.
    center: (f32, f32),
    size: (u16, u16),
    /// Where the picture's cells go inside the area, and the cells, row by row.
    placed: (u16, u16, u16, u16),
    cells: Vec<Cell>,
}

impl PictureView {
    pub fn new(title: &str, picture: Picture) -> PictureView {
        let center = (
            picture.preview.width() as f32 / 2.0,
            picture.preview.height() as f32 / 2.0,
        );
        PictureView {
            title: crate::text::sanitize_line(title).into_owned(),
            picture,
            zoom: 1.0,
            center,
            size: (0, 0),
            placed: (0, 0, 0, 0),
            cells: Vec::new(),
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn picture(&self) -> &Picture {
        &self.picture
    }

    pub fn zoom(&self) -> f32 {
        self.zoom
    }

    /// The cells and where they go: (x, y, width, height) within the body.
    pub fn cells(&self) -> ((u16, u16, u16, u16), &[Cell]) {
        (self.placed, &self.cells)
    }

    /// The body is `width` x `height` cells.
    pub fn resize(&mut self, width: u16, height: u16) {
        if self.size != (width, height) {
            self.size = (width, height);
            self.prepare();
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> PictureAction {
        if key.kind == KeyEventKind::Release {
            return PictureAction::None;
        }
        let (vw, vh) = self.visible_span();
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return PictureAction::Close,
            KeyCode::Char('+') | KeyCode::Char('=') => self.zoom = (self.zoom * 1.25).min(MAX_ZOOM),
            KeyCode::Char('-') => self.zoom = (self.zoom / 1.25).max(1.0),
            KeyCode::Char('0') => {
                self.zoom = 1.0;
                self.center = (
                    self.picture.preview.width() as f32 / 2.0,
                    self.picture.preview.height() as f32 / 2.0,
                );
            }
            KeyCode::Left | KeyCode::Char('h') => self.center.0 -= vw / 8.0,
            KeyCode::Right | KeyCode::Char('l') => self.center.0 += vw / 8.0,
            KeyCode::Up | KeyCode::Char('k') => self.center.1 -= vh / 8.0,
            KeyCode::Down | KeyCode::Char('j') => self.center.1 += vh / 8.0,
            _ => return PictureAction::None,
        }
        self.prepare();
        PictureAction::Redraw
    }

    /// Screen pixels per preview pixel: the fit, times the zoom.
    fn scale(&self) -> f32 {
        let (pw, ph) = self.picture.preview.dimensions();
        let (w, h) = (f32::from(self.size.0), f32::from(self.size.1) * 2.0);
        (w / pw as f32).min(h / ph as f32) * self.zoom
    }

    /// The preview pixels the window spans at this zoom.
    fn visible_span(&self) -> (f32, f32) {
        let s = self.scale().max(f32::EPSILON);
        (f32::from(self.size.0) / s, f32::from(self.size.1) * 2.0 / s)
    }

    /// Computes the cells for the current size, zoom and centre (a box filter: each screen
    /// pixel is the average of the preview pixels it covers).
    fn prepare(&mut self) {
        let (pw, ph) = self.picture.preview.dimensions();
        let scale = self.scale();
        if self.size.0 == 0 || self.size.1 == 0 || !scale.is_finite() || scale <= 0.0 {
            self.cells.clear();
            self.placed = (0, 0, 0, 0);
            return;
        }
        // The part of the picture shown, in preview pixels, kept inside the picture.
        let (vw, vh) = self.visible_span();
        let (vw, vh) = (vw.min(pw as f32), vh.min(ph as f32));
        let cx = self.center.0.clamp(vw / 2.0, pw as f32 - vw / 2.0);
        let cy = self.center.1.clamp(vh / 2.0, ph as f32 - vh / 2.0);
        self.center = (cx, cy);
        let (x0, y0) = (cx - vw / 2.0, cy - vh / 2.0);
        // Its size on screen, centred in the body.
        let cols = ((vw * scale).round() as u16).clamp(1, self.size.0);
        let px_rows = ((vh * scale).round() as u16).clamp(1, self.size.1 * 2);
        let rows = px_rows.div_ceil(2);
        let x = (self.size.0 - cols) / 2;
        let y = (self.size.1 - rows) / 2;
        self.placed = (x, y, cols, rows);
        let sample = |sx: u16, sy: u16| -> (u8, u8, u8) {
            if sy >= px_rows {
                return (0, 0, 0);
            }
            let fx0 = x0 + f32::from(sx) * vw / f32::from(cols);
            let fx1 = x0 + f32::from(sx + 1) * vw / f32::from(cols);
            let fy0 = y0 + f32::from(sy) * vh / f32::from(px_rows);
            let fy1 = y0 + f32::from(sy + 1) * vh / f32::from(px_rows);
            average(&self.picture.preview, fx0, fx1, fy0, fy1)
        };
        let mut cells = Vec::with_capacity(usize::from(cols) * usize::from(rows));
        for row in 0..rows {
            for col in 0..cols {
                cells.push((sample(col, row * 2), sample(col, row * 2 + 1)));
            }
        }
        self.cells = cells;
    }
}

/// The mean colour of the preview pixels whose centres fall in `[x0, x1) x [y0, y1)` (at
/// least the one pixel nearest the middle).
fn average(img: &RgbImage, x0: f32, x1: f32, y0: f32, y1: f32) -> (u8, u8, u8) {
    let (w, h) = img.dimensions();
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max - 1);
    let (ax, bx) = (clamp(x0.round(), w), clamp((x1.round() - 1.0).max(x0), w));
    let (ay, by) = (clamp(y0.round(), h), clamp((y1.round() - 1.0).max(y0), h));
    let (mut r, mut g, mut b, mut n) = (0u64, 0u64, 0u64, 0u64);
    for y in ay..=by.max(ay) {
        for x in ax..=bx.max(ax) {
            let p = img.get_pixel(x, y);
            r += u64::from(p[0]);
            g += u64::from(p[1]);
            b += u64::from(p[2]);
            n += 1;
        }
    }
    let n = n.max(1);
    ((r / n) as u8, (g / n) as u8, (b / n) as u8)
}

#[cfg(test)]
mod tests;
