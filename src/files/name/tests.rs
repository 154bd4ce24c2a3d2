use super::*;

#[test]
fn a_path_up_to_bashrc_becomes_a_plain_visible_name() {
    let name = safe_name("../../.bashrc");
    assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
    assert_eq!(name, "_.._.bashrc");
    assert_eq!(safe_name(".bashrc"), "bashrc");
    assert_eq!(safe_name(".."), FALLBACK_NAME);
    assert_eq!(safe_name("."), FALLBACK_NAME);
    assert_eq!(safe_name("/etc/passwd"), "_etc_passwd");
    assert_eq!(safe_name("..\\..\\Windows\\win.ini"), "_.._Windows_win.ini");
    assert_eq!(safe_name("C:\\boot.ini"), "C__boot.ini");
}

#[test]
fn control_and_bidi_characters_never_survive() {
    assert_eq!(safe_name("a\0b.txt"), "a_b.txt");
    assert_eq!(safe_name("bell\x07\x1b[2Jx"), "bell__[2Jx");
    assert_eq!(safe_name("line\nbreak\r.txt"), "line_break_.txt");
    assert_eq!(safe_name("c1\u{9b}31m"), "c1_31m");
    // The right-to-left override would make `evil\u{202E}txt.exe` display as `evilexe.txt`.
    assert_eq!(safe_name("evil\u{202E}txt.exe"), "eviltxt.exe");
    assert_eq!(safe_name("zero\u{200B}width\u{2066}.md"), "zerowidth.md");
    for hostile in ["a\0b", "x\u{202E}y", "\x1b]0;t\x07", "\u{85}n"] {
        let name = safe_name(hostile);
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || crate::text::is_invisible(c)),
            "{name:?}"
        );
    }
}

#[test]
fn windows_device_names_and_forbidden_characters_are_defused() {
    assert_eq!(safe_name("CON"), "_CON");
    assert_eq!(safe_name("con.txt"), "_con.txt");
    assert_eq!(safe_name("Lpt1.tar.gz"), "_Lpt1.tar.gz");
    assert_eq!(safe_name("COM²"), "_COM²");
    assert_eq!(safe_name("console.txt"), "console.txt");
    assert_eq!(safe_name("what?<>|*\".txt"), "what______.txt");
    assert_eq!(safe_name("trailing dots... "), "trailing dots");
    assert_eq!(safe_name("-rf"), "_rf");
}

#[test]
fn empty_and_blank_names_get_a_fallback() {
    for blank in ["", "   ", "...", "\u{200B}", ". . ."] {
        let name = safe_name(blank);
        assert!(
            !name.is_empty() && !name.starts_with('.'),
            "{blank:?} -> {name:?}"
        );
    }
    assert_eq!(safe_name(""), FALLBACK_NAME);
}

#[test]
fn a_300_character_name_is_shortened_keeping_its_extension() {
    let long = format!("{}.jpeg", "a".repeat(300));
    let name = safe_name(&long);
    assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
    assert!(name.ends_with(".jpeg"));
    assert!(name.starts_with("aaaa"));
    // Multi-byte characters are never split, and `.tar.gz` is kept whole.
    let wide = format!("{}.tar.gz", "é".repeat(300));
    let name = safe_name(&wide);
    assert!(
        name.len() <= MAX_NAME_BYTES && name.ends_with(".tar.gz"),
        "{name}"
    );
    let emoji = "🇫🇷🇩🇪".repeat(100);
    let name = safe_name(&emoji);
    assert!(name.len() <= MAX_NAME_BYTES);
    assert!(emoji.starts_with(&name), "cut inside a grapheme: {name}");
    // An "extension" longer than any real one is not kept at the expense of the name.
    let odd = format!("x.{}", "y".repeat(300));
    assert!(safe_name(&odd).starts_with("x."));
}

#[test]
fn components_inside_a_folder_keep_their_dots_but_never_go_up() {
    assert_eq!(safe_component(".gitignore"), ".gitignore");
    assert_eq!(safe_component(".."), FALLBACK_NAME);
    assert_eq!(safe_component("."), FALLBACK_NAME);
    assert_eq!(safe_component("a/b"), "a_b");
    assert_eq!(safe_component(""), FALLBACK_NAME);
}

#[test]
fn names_are_normalised_to_nfc() {
    // "é" as e + combining acute becomes the single precomposed character.
    assert_eq!(safe_name("cafe\u{301}.txt"), "caf\u{e9}.txt");
}

#[test]
fn extensions_split_as_people_expect() {
    assert_eq!(split_ext("notes.txt"), ("notes", ".txt"));
    assert_eq!(split_ext("a.tar.gz"), ("a", ".tar.gz"));
    assert_eq!(split_ext("README"), ("README", ""));
    assert_eq!(split_ext(".profile"), (".profile", ""));
    assert_eq!(split_ext("v1.2 final"), ("v1.2 final", ""));
    assert_eq!(variant("a.tar.gz", 2), "a (2).tar.gz");
    assert_eq!(variant("README", 1), "README (1)");
}

#[test]
fn unique_files_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let (_, first) = create_unique_file(dir.path(), "notes.txt").unwrap();
    let (_, second) = create_unique_file(dir.path(), "notes.txt").unwrap();
    assert_eq!(first, dir.path().join("notes (1).txt"));
    assert_eq!(second, dir.path().join("notes (2).txt"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
    // A directory squatting on the name is skipped too.
    std::fs::create_dir(dir.path().join("pics")).unwrap();
    let made = create_unique_dir(dir.path(), "pics").unwrap();
    assert_eq!(made, dir.path().join("pics (1)"));
}

#[test]
fn concurrent_pickers_each_get_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| create_unique_file(dir.path(), "same.bin").unwrap().1))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "{paths:?}");
}
