use super::*;

fn index_of(text: &str) -> LineIndex {
    LineIndex::new(Box::new(MemorySource(Arc::from(text))))
}

#[test]
fn rows_carry_line_numbers_and_no_phantom_last_row() {
    let mut idx = index_of("one\ntwo\n\nfour\n");
    let rows = idx.rows(0, 10).unwrap();
    let texts: Vec<_> = rows.iter().map(|r| (r.line, r.text.as_str())).collect();
    assert_eq!(texts, [(1, "one"), (2, "two"), (3, ""), (4, "four")]);
    assert!(idx.complete());
    assert_eq!((idx.rows_known(), idx.last_line_known()), (4, 4));
    let mut idx = index_of("no newline at the end");
    assert_eq!(idx.rows(0, 5).unwrap().len(), 1);
    assert_eq!(index_of("").rows(0, 5).unwrap(), []);
}

#[test]
fn a_long_line_is_cut_into_rows_at_character_boundaries() {
    // 3-byte characters: 4096 is not a multiple of 3, so a naive cut would split one.
    let long = "€".repeat(3000);
    let text = format!("{long}\nshort\n");
    let mut idx = index_of(&text);
    let rows = idx.rows(0, 10).unwrap();
    assert_eq!(rows.len(), 4, "9000 bytes make three rows, then `short`");
    assert!(
        rows.iter()
            .take(3)
            .all(|r| r.line == 1 && !r.text.contains('\u{FFFD}'))
    );
    assert_eq!(
        rows.iter().map(|r| r.continued).collect::<Vec<_>>(),
        [false, true, true, false]
    );
    assert_eq!(
        rows[..3]
            .iter()
            .map(|r| r.text.as_str())
            .collect::<String>(),
        long
    );
    assert_eq!((rows[3].line, rows[3].text.as_str()), (2, "short"));
}

#[test]
fn any_window_reads_the_same_rows_as_reading_from_the_start() {
    let text: String = (1..=2000).map(|i| format!("line {i}\n")).collect();
    let mut idx = index_of(&text);
    let all = idx.rows(0, 3000).unwrap();
    assert_eq!(all.len(), 2000);
    let mut fresh = index_of(&text);
    for start in [0u64, 255, 256, 257, 1000, 1999] {
        let window = fresh.rows(start, 7).unwrap();
        let want = &all[start as usize..(start as usize + 7).min(2000)];
        assert_eq!(window, want, "window at {start}");
    }
}

#[test]
fn a_200_mb_file_opens_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let head: String = (1..=1000).map(|i| format!("entry {i}\n")).collect();
    std::fs::write(&path, &head).unwrap();
    // The rest is a hole: 200 MB on paper, nothing on disk.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    let mut idx = LineIndex::new(Box::new(FileSource::open(&path).unwrap()));
    assert_eq!(idx.len(), 200 << 20);
    let screen = idx.rows(0, 60).unwrap();
    assert_eq!(screen[59].text, "entry 60");
    assert!(
        idx.bytes_read() <= 2 * CHUNK as u64,
        "{} bytes read",
        idx.bytes_read()
    );
    assert!(!idx.complete());
    // Indexing with a budget stops at it, so the UI can do it a slice per tick.
    assert!(!idx.index_to(u64::MAX, 8 << 20).unwrap());
    assert!(idx.bytes_read() < 9 << 20, "{}", idx.bytes_read());
}

#[test]
fn a_scan_finds_rows_and_resumes_after_its_budget() {
    let text: String = (0..50_000)
        .map(|i| {
            if i == 43_210 {
                "needle\n".to_owned()
            } else {
                format!("hay {i}\n")
            }
        })
        .collect();
    let mut idx = index_of(&text);
    let mut at = 10;
    let mut rounds = 0;
    let found = loop {
        rounds += 1;
        match idx.scan(at, 8 * 1024, |_, r| r.text == "needle").unwrap() {
            Scan::Found(row) => break row,
            Scan::Paused(row) => at = row,
            Scan::End => panic!("not found"),
        }
    };
    assert_eq!(found, 43_210);
    assert!(rounds > 1, "the budget split the scan");
    assert_eq!(
        idx.scan(43_211, u64::MAX, |_, r| r.text == "needle")
            .unwrap(),
        Scan::End
    );
}
