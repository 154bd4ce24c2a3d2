//! docs/SECURITY.md names a test for every hostile input; each named test and fuzz target must
//! exist, so the table cannot silently point at something renamed or removed.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn every_test_named_in_security_md_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/SECURITY.md")).unwrap();
    let mut checked = 0;
    let mut missing = Vec::new();
    for quoted in doc.split('`').skip(1).step_by(2) {
        if let Some(target) = quoted.strip_prefix("fuzz/") {
            let file = root.join("fuzz/fuzz_targets").join(format!("{target}.rs"));
            if !file.exists() {
                missing.push(quoted.to_owned());
            }
            checked += 1;
            continue;
        }
        let Some((file, name)) = quoted.split_once("::") else {
            continue;
        };
        if !(file.starts_with("src/") || file.starts_with("tests/")) || !file.ends_with(".rs") {
            continue;
        }
        let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        // Unit tests of a module may live in its tests.rs beside it.
        let beside = root.join(file.trim_end_matches(".rs")).join("tests.rs");
        let beside = std::fs::read_to_string(beside).unwrap_or_default();
        let defined = |s: &str| s.contains(&format!("fn {name}("));
        if !defined(&source) && !defined(&beside) {
            missing.push(quoted.to_owned());
        }
        checked += 1;
    }
    assert!(
        checked >= 40,
        "only {checked} references found; is the table intact?"
    );
    assert!(
        missing.is_empty(),
        "SECURITY.md names tests that do not exist: {missing:#?}"
    );
}
