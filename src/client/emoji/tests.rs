use super::*;

#[test]
fn known_shortcodes_become_emoji() {
    assert_eq!(replace_shortcodes(":tada: done"), "🎉 done");
    assert_eq!(replace_shortcodes("ok :+1: and :-1:"), "ok 👍 and 👎");
    assert_eq!(replace_shortcodes("(:smile:)"), "(😄)");
    assert_eq!(replace_shortcodes(":heart::fire:"), "❤️🔥");
    assert_eq!(replace_shortcodes("score :100:!"), "score 💯!");
    assert_eq!(
        replace_shortcodes("\u{1F44B} :wave:"),
        "\u{1F44B} \u{1F44B}"
    );
}

#[test]
fn unknown_names_times_and_half_shortcodes_stay_as_typed() {
    for text in [
        "no emoji here",
        ":notanemoji: stays",
        "at 12:30:45 sharp",
        "ratio 3:100:7",
        "ipv6 fe80::1:2",
        "a:smile:b",
        ":smile",
        "smile:",
        ":Smile:",
        "::",
        ":: tada ::",
    ] {
        assert!(
            matches!(replace_shortcodes(text), Cow::Borrowed(t) if t == text),
            "{text:?} -> {:?}",
            replace_shortcodes(text)
        );
    }
    assert_eq!(replace_shortcodes(":nope::tada:"), ":nope:🎉");
}

#[test]
fn links_and_code_keep_their_colons() {
    for text in [
        "see https://example.com/:smile:/x",
        "www.example.com/a/:tada:",
        "run `echo :tada:` now",
    ] {
        assert_eq!(replace_shortcodes(text), text);
    }
    assert_eq!(
        replace_shortcodes("`:tada:` is :tada:"),
        "`:tada:` is 🎉",
        "only the one outside the code"
    );
    assert_eq!(
        replace_shortcodes(":tada: https://example.com"),
        "🎉 https://example.com"
    );
}

#[test]
fn shortcodes_in_reports_ranges() {
    let text = "hi :wave: you :tada:";
    let found = shortcodes_in(text);
    assert_eq!(found.len(), 2);
    assert_eq!(&text[found[0].0.clone()], ":wave:");
    assert_eq!(found[1].1.as_str(), "🎉");
}

#[test]
fn the_partial_name_before_the_cursor_is_found() {
    let text = "hello :smi";
    let p = partial_at(text, text.len()).expect("a partial");
    assert_eq!(p.query, "smi");
    assert_eq!(&text[p.range.clone()], ":smi");
    // Also in the middle of the line, with the cursor right after the partial.
    let text = "a :ta b";
    assert_eq!(partial_at(text, 5).map(|p| p.query), Some("ta".into()));
    assert_eq!(partial_at(":Smi", 4).map(|p| p.query), Some("smi".into()));
    assert_eq!(partial_at(":+1", 3).map(|p| p.query), Some("+1".into()));
    // Not: too short, a time, no colon, a completed one, a space in between, inside a word.
    for (text, cursor) in [
        (":s", 2),
        ("at 12:30", 8),
        ("smile", 5),
        (":smile: ", 8),
        (": smi", 5),
        ("ab:smi", 6),
        ("x", 9),
    ] {
        assert_eq!(partial_at(text, cursor), None, "{text:?} at {cursor}");
    }
}

#[test]
fn completions_rank_exact_then_prefix_then_recent() {
    let none = Recents::default();
    let found = complete("smile", &none, MAX_COMPLETIONS);
    assert_eq!(found[0].shortcode, "smile", "the exact name first");
    assert!(found.len() <= MAX_COMPLETIONS);
    assert!(
        found[1..]
            .iter()
            .all(|c| c.shortcode.starts_with("smile") || c.shortcode.contains("_smile")),
        "{found:?}"
    );
    let prefix: Vec<&str> = complete("smi", &none, 50)
        .iter()
        .map(|c| c.shortcode)
        .collect();
    let first_word_match = prefix
        .iter()
        .position(|c| !c.starts_with("smi"))
        .unwrap_or(prefix.len());
    assert!(
        prefix[first_word_match..]
            .iter()
            .all(|c| !c.starts_with("smi")),
        "names starting with the query come before later-word matches: {prefix:?}"
    );
    assert!(prefix.contains(&"smirk"));
    // A recently used emoji jumps ahead of other prefix matches, but not ahead of an exact one.
    let mut recents = Recents::default();
    recents.push("😏");
    let found = complete("smi", &recents, MAX_COMPLETIONS);
    assert_eq!(found[0].shortcode, "smirk", "{found:?}");
    recents.push("😸");
    let found = complete("smile", &recents, MAX_COMPLETIONS);
    assert_eq!(found[0].shortcode, "smile");
    assert_eq!(found[1].emoji.as_str(), "😸", "{found:?}");
    assert_eq!(complete("zzzzzz", &none, 8), vec![]);
    assert_eq!(complete("smi", &none, 3).len(), 3);
}

#[test]
fn a_completion_replaces_the_partial_and_puts_the_cursor_after_it() {
    let text = "so :ta and more";
    let p = partial_at(text, 6).expect("a partial");
    let (out, cursor) = apply_completion(text, &p, "🎉");
    assert_eq!(out, "so 🎉 and more");
    assert_eq!(&out[..cursor], "so 🎉");
}

#[test]
fn recents_are_bounded_deduplicated_and_restored() {
    let mut r = Recents::default();
    for e in ["😀", "🎉", "😀"] {
        r.push(e);
    }
    assert_eq!(r.to_saved(), vec!["😀", "🎉"]);
    assert_eq!(r.position("🎉"), Some(1));
    for e in emojis::iter().take(MAX_RECENTS + 10) {
        r.push(e.as_str());
    }
    assert_eq!(r.to_saved().len(), MAX_RECENTS);
    let saved = vec![
        "🎉".to_string(),
        "not an emoji".to_string(),
        "😀".to_string(),
        "🎉".to_string(),
    ];
    let restored = Recents::from_saved(&saved);
    assert_eq!(restored.to_saved(), vec!["🎉", "😀"]);
}

#[test]
fn the_picker_searches_by_shortcode_and_name_and_browses_groups() {
    let mut p = Picker::new(Recents::default());
    assert_eq!(
        p.tab(),
        Tab::Group(Group::SmileysAndEmotion),
        "nothing recent yet"
    );
    assert_eq!(p.selected().map(Emoji::as_str), Some("😀"));
    for c in "rocket".chars() {
        assert_eq!(p.handle(PickerInput::Char(c), 8), PickerResponse::Changed);
    }
    assert_eq!(p.selected().map(Emoji::as_str), Some("🚀"));
    // By words of the name, in any order.
    let mut p = Picker::new(Recents::default());
    for c in "cat face".chars() {
        let _ = p.handle(PickerInput::Char(c), 8);
    }
    assert!(
        p.results().iter().any(|e| e.as_str() == "🐱"),
        "{:?}",
        p.results()
    );
    assert!(p.results().iter().all(|e| {
        let n = e.name();
        n.contains("cat") && n.contains("face") || e.shortcodes().any(|c| c.contains("cat_face"))
    }));
    // Backspace to empty goes back to the tab.
    for _ in 0.."cat face".len() {
        let _ = p.handle(PickerInput::Backspace, 8);
    }
    assert_eq!(
        p.handle(PickerInput::Backspace, 8),
        PickerResponse::Unchanged
    );
    assert_eq!(p.selected().map(Emoji::as_str), Some("😀"));
    // Tabs cycle through the groups; flags are there.
    while p.tab() != Tab::Group(Group::Flags) {
        assert_eq!(p.handle(PickerInput::NextTab, 8), PickerResponse::Changed);
    }
    assert!(p.results().iter().any(|e| e.as_str() == "🇵🇱"));
    let _ = p.handle(PickerInput::NextTab, 8);
    assert_eq!(p.tab(), Tab::Recent);
    assert!(p.results().is_empty());
    assert_eq!(p.handle(PickerInput::Choose, 8), PickerResponse::Unchanged);
    let _ = p.handle(PickerInput::PrevTab, 8);
    assert_eq!(p.tab(), Tab::Group(Group::Flags));
}

#[test]
fn the_picker_moves_in_a_grid_and_choosing_notes_a_recent() {
    let mut p = Picker::new(Recents::default());
    let n = p.results().len();
    assert!(n > 20);
    assert_eq!(
        p.handle(PickerInput::Left, 8),
        PickerResponse::Unchanged,
        "at the start"
    );
    assert_eq!(p.handle(PickerInput::Right, 8), PickerResponse::Changed);
    assert_eq!(p.selected_index(), 1);
    let _ = p.handle(PickerInput::Down, 8);
    assert_eq!(p.selected_index(), 9);
    let _ = p.handle(PickerInput::Up, 8);
    assert_eq!(p.selected_index(), 1);
    let _ = p.handle(PickerInput::Up, 8);
    assert_eq!(p.selected_index(), 0);
    let chosen = p.selected().expect("a selection").as_str();
    assert_eq!(
        p.handle(PickerInput::Choose, 8),
        PickerResponse::Chosen(chosen)
    );
    assert_eq!(p.recents().position(chosen), Some(0));
    assert_eq!(p.handle(PickerInput::Close, 8), PickerResponse::Closed);
    // Opening again starts on the recent tab with the choice first.
    let p = Picker::new(p.recents().clone());
    assert_eq!(p.tab(), Tab::Recent);
    assert_eq!(p.selected().map(Emoji::as_str), Some(chosen));
}

#[test]
fn search_puts_recent_emoji_first_among_equals() {
    let mut recents = Recents::default();
    let plain = search("heart", &recents);
    assert_eq!(plain[0].as_str(), "❤️", "the exact shortcode first");
    let prefixed: Vec<&Emoji> = plain
        .iter()
        .copied()
        .filter(|e| {
            e.shortcodes()
                .any(|c| c != "heart" && c.starts_with("heart"))
        })
        .collect();
    assert!(prefixed.len() > 3, "{prefixed:?}");
    let (first, last) = (prefixed[0], prefixed[prefixed.len() - 1]);
    let at = |list: &[&Emoji], e: &Emoji| list.iter().position(|x| *x == e);
    assert!(at(&plain, first) < at(&plain, last));
    recents.push(last.as_str());
    let ranked = search("heart", &recents);
    assert_eq!(ranked[0].as_str(), "❤️");
    assert!(
        at(&ranked, last) < at(&ranked, first),
        "{:?}",
        ranked
            .iter()
            .take(8)
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
    );
}
