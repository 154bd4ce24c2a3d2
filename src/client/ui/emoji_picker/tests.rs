use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::client::emoji::{PickerInput, Recents, complete};

fn draw_picker(picker: &Picker, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| render(picker, f.area(), f.buffer_mut()))
        .expect("draw");
    terminal.backend().buffer().clone()
}

/// The screen as text, one string per row; the cell hidden behind a wide symbol is skipped, so
/// `row[..i].chars().count()` is not a column, but the text reads as it is seen.
fn rows(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| {
            let mut row = String::new();
            let mut x = 0;
            while x < buf.area.width {
                let sym = buf[(x, y)].symbol();
                row.push_str(sym);
                x += u16::try_from(display_width(sym).max(1)).expect("small");
            }
            row
        })
        .collect()
}

/// The column where `needle` is drawn on row `y`.
fn column_of(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    (0..buf.area.width).find(|&x| buf[(x, y)].symbol() == needle)
}

fn text(buf: &Buffer) -> String {
    rows(buf).join("\n")
}

fn type_query(p: &mut Picker, q: &str, cols: usize) {
    for c in q.chars() {
        let _ = p.handle(PickerInput::Char(c), cols);
    }
}

#[test]
fn the_picker_shows_search_tabs_grid_and_the_selected_name() {
    let p = Picker::new(Recents::default());
    let buf = draw_picker(&p, 60, 20);
    let g = PickerGeometry::for_pane(Rect::new(0, 0, 60, 20)).expect("fits");
    assert_eq!(g.frame, Rect::new(0, 6, 47, 14), "bottom-left of the pane");
    let all = text(&buf);
    assert!(all.contains(" Emoji "), "{all}");
    assert!(all.contains("search: type a name"), "{all}");
    assert!(
        all.contains("Enter insert · Tab group · Esc close"),
        "{all}"
    );
    // The current tab is reversed.
    let tabs_y = g.frame.y + 2;
    let x = column_of(&buf, tabs_y, "S").expect("the smileys tab");
    assert!(buf[(x, tabs_y)].modifier.contains(Modifier::REVERSED));
    let people = column_of(&buf, tabs_y, "P").expect("the people tab");
    assert!(!buf[(people, tabs_y)].modifier.contains(Modifier::REVERSED));
    // The first emoji, selected, at the grid's origin; the second one cell further.
    assert_eq!(buf[(g.grid.x, g.grid.y)].symbol(), "😀");
    assert!(
        buf[(g.grid.x, g.grid.y)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    assert_eq!(buf[(g.grid.x + CELL_WIDTH, g.grid.y)].symbol(), "😃");
    assert!(
        !buf[(g.grid.x + CELL_WIDTH, g.grid.y)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    // The result at index `columns` starts the second row.
    let second_row = p.results()[g.columns()].as_str();
    assert_eq!(buf[(g.grid.x, g.grid.y + 1)].symbol(), second_row);
    assert!(all.contains("grinning face  :grinning:"), "{all}");
}

#[test]
fn searching_shows_the_count_and_the_best_match_first() {
    let mut p = Picker::new(Recents::default());
    let g = PickerGeometry::for_pane(Rect::new(0, 0, 50, 16)).expect("fits");
    type_query(&mut p, "rocket", g.columns());
    let buf = draw_picker(&p, 50, 16);
    let all = text(&buf);
    assert!(all.contains("search: rocket▏"), "{all}");
    assert!(all.contains("1 emoji"), "{all}");
    assert_eq!(buf[(g.grid.x, g.grid.y)].symbol(), "🚀");
    assert!(all.contains("rocket  :rocket:"), "{all}");
    let mut p = Picker::new(Recents::default());
    type_query(&mut p, "qqqzzz", g.columns());
    assert!(text(&draw_picker(&p, 50, 16)).contains("no emoji found"));
}

#[test]
fn moving_down_past_the_visible_rows_scrolls_the_grid() {
    let mut p = Picker::new(Recents::default());
    let g = PickerGeometry::for_pane(Rect::new(0, 0, 40, 12)).expect("fits");
    let rows_shown = usize::from(g.grid.height);
    for _ in 0..rows_shown + 2 {
        let _ = p.handle(PickerInput::Down, g.columns());
    }
    let sel = p.selected_index();
    let (x, y) = g.cell_of(sel, sel).expect("the selection is on screen");
    assert_eq!(y, g.grid.bottom() - 1, "on the last grid row");
    let buf = draw_picker(&p, 40, 12);
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    assert_eq!(buf[(x, y)].symbol(), p.results()[sel].as_str());
    assert_eq!(g.cell_of(0, sel), None, "the first row scrolled away");
}

#[test]
fn composed_emoji_in_the_grid_never_break_the_cells() {
    let mut p = Picker::new(Recents::default());
    let g = PickerGeometry::for_pane(Rect::new(0, 0, 47, 14)).expect("fits");
    type_query(&mut p, "family", g.columns());
    let buf = draw_picker(&p, 47, 14);
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            assert_eq!(display_form(sym), sym, "({x},{y}) holds a composed emoji");
        }
    }
    // A ZWJ family shows its first person and a plus; the right border is intact.
    let i = p
        .results()
        .iter()
        .position(|e| e.as_str().contains('\u{200D}'))
        .expect("a ZWJ family");
    let (x, y) = g.cell_of(i, 0).expect("on screen");
    let first = p.results()[i]
        .as_str()
        .chars()
        .next()
        .expect("a person")
        .to_string();
    assert_eq!(buf[(x, y)].symbol(), first);
    assert_eq!(buf[(x + 2, y)].symbol(), "+");
    for y in g.frame.y + 1..g.frame.bottom() - 1 {
        assert_eq!(buf[(g.frame.right() - 1, y)].symbol(), "│", "row {y}");
    }
    // Flags: two one-cell letters in a cell of three.
    let mut p = Picker::new(Recents::default());
    type_query(&mut p, "flag poland", g.columns());
    let buf = draw_picker(&p, 47, 14);
    assert_eq!(buf[(g.grid.x, g.grid.y)].symbol(), "\u{1F1F5}");
    assert_eq!(buf[(g.grid.x + 1, g.grid.y)].symbol(), "\u{1F1F1}");
}

#[test]
fn the_picker_fits_small_panes_or_stays_away() {
    let p = Picker::new(Recents::default());
    assert_eq!(PickerGeometry::for_pane(Rect::new(0, 0, 10, 5)), None);
    for (w, h) in [(1, 1), (10, 5), (11, 6), (12, 6), (30, 8), (100, 40)] {
        let full = Rect::new(0, 0, w + 2, h + 2);
        let pane = Rect::new(1, 1, w, h);
        let mut buf = Buffer::filled(full, ratatui::buffer::Cell::new("x"));
        render(&p, pane, &mut buf);
        for y in 0..full.height {
            for x in 0..full.width {
                if !pane.contains(ratatui::layout::Position::new(x, y)) {
                    assert_eq!(buf[(x, y)].symbol(), "x", "({x},{y}) at {w}x{h}");
                }
            }
        }
    }
    // At a narrow width the tabs scroll to keep the current one in view.
    let mut p = Picker::new(Recents::default());
    while p.tab() != Tab::Group(emojis::Group::Flags) {
        let _ = p.handle(PickerInput::NextTab, 4);
    }
    let all = text(&draw_picker(&p, 20, 10));
    assert!(all.contains("Flags"), "{all}");
}

#[test]
fn the_completion_popup_sits_above_the_input_under_the_colon() {
    let candidates = complete("tad", &Recents::default(), 8);
    assert!(!candidates.is_empty());
    let input = Rect::new(0, 19, 60, 1);
    let mut terminal = Terminal::new(TestBackend::new(60, 20)).expect("test backend");
    terminal
        .draw(|f| render_completions(&candidates, 0, 10, input, f.buffer_mut()))
        .expect("draw");
    let buf = terminal.backend().buffer().clone();
    let rect = completions_rect(&candidates, 10, input, buf.area);
    assert_eq!(rect.x, 10);
    assert_eq!(rect.bottom(), 19, "right above the input bar");
    assert_eq!(usize::from(rect.height), candidates.len() + 2);
    let all = text(&buf);
    assert!(all.contains("🎉 :tada:"), "{all}");
    let y = (0..20u16)
        .find(|&y| column_of(&buf, y, "🎉").is_some())
        .expect("the row");
    let x = column_of(&buf, y, "🎉").expect("the emoji");
    assert_eq!(x, 12, "inside the border, after a space");
    assert!(
        buf[(x, y)].modifier.contains(Modifier::REVERSED),
        "selected"
    );
    // Near the right edge it moves left to fit.
    let rect = completions_rect(&candidates, 58, input, buf.area);
    assert_eq!(rect.right(), 60);
    // A second candidate selected: the first is no longer reversed.
    if candidates.len() > 1 {
        let mut terminal = Terminal::new(TestBackend::new(60, 20)).expect("test backend");
        terminal
            .draw(|f| render_completions(&candidates, 1, 10, input, f.buffer_mut()))
            .expect("draw");
        let buf = terminal.backend().buffer().clone();
        assert!(!buf[(x, y)].modifier.contains(Modifier::REVERSED));
    }
}
