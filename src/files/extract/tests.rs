use std::os::unix::fs::PermissionsExt;

use tar::{Builder, EntryType, Header};

use super::*;
use crate::files::pack::pack_folder;

/// A scratch area: `downloads/` (the destination) beside `outside/` (which an escape would hit).
struct Scene {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    downloads: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        let downloads = root.join("downloads");
        fs::create_dir(&downloads).unwrap();
        fs::create_dir(root.join("outside")).unwrap();
        Scene {
            _tmp: tmp,
            root,
            downloads,
        }
    }

    /// Every path under the scene's root, relative to it, sorted.
    fn tree(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if fs::symlink_metadata(&path).unwrap().is_dir() {
                    walk(&path, base, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }

    /// Extracting `tar` is refused; afterwards the scene holds exactly what it held before.
    fn refuse(&self, tar: &[u8], limits: ExtractLimits) -> ExtractError {
        let before = self.tree();
        let err = extract_folder(tar, &self.downloads, "received", limits).unwrap_err();
        assert_eq!(self.tree(), before, "the refusal of `{err}` left something");
        assert_eq!(before, ["downloads", "outside"]);
        err
    }
}

/// A raw header whose name (and link name) are written byte for byte, bypassing the checks
/// `tar`'s builder makes, as a hostile sender would.
fn raw_header(kind: EntryType, name: &[u8], link: &[u8], size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_mode(0o755);
    h.set_size(size);
    if kind == EntryType::GNUSparse {
        h.as_gnu_mut().unwrap().set_real_size(size);
    }
    h.set_cksum();
    h
}

/// Kind, name, link name, content.
type RawEntry<'a> = (EntryType, &'a [u8], &'a [u8], &'a [u8]);

fn tar_of(entries: &[RawEntry]) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for (kind, name, link, data) in entries {
        b.append(&raw_header(*kind, name, link, data.len() as u64), *data)
            .unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn a_packed_folder_round_trips_without_links_or_exec_bits() {
    let src = tempfile::tempdir().unwrap();
    fs::create_dir_all(src.path().join("sub/deeper")).unwrap();
    fs::write(src.path().join("a.txt"), "alpha").unwrap();
    fs::write(src.path().join(".hidden"), "dot").unwrap();
    fs::write(src.path().join("sub/deeper/b.bin"), vec![7u8; 70_000]).unwrap();
    fs::write(src.path().join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(src.path().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.path().join("link")).unwrap();
    fs::create_dir(src.path().join("empty")).unwrap();

    let mut tar = Vec::new();
    let summary = pack_folder(src.path(), &mut tar).unwrap();
    assert_eq!(summary.files, 4);
    assert_eq!(summary.dirs, 3);
    assert_eq!(summary.content_bytes, 5 + 3 + 70_000 + 18);
    assert_eq!(summary.skipped, [PathBuf::from("link")]);

    let scene = Scene::new();
    let got = extract_folder(
        &tar[..],
        &scene.downloads,
        "my project",
        ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(got.dir, scene.downloads.join("my project"));
    assert_eq!(
        (got.files, got.dirs, got.bytes),
        (4, 3, summary.content_bytes)
    );
    assert_eq!(fs::read_to_string(got.dir.join("a.txt")).unwrap(), "alpha");
    assert_eq!(fs::read_to_string(got.dir.join(".hidden")).unwrap(), "dot");
    assert_eq!(
        fs::read(got.dir.join("sub/deeper/b.bin")).unwrap(),
        vec![7u8; 70_000]
    );
    assert!(got.dir.join("empty").is_dir());
    assert!(!got.dir.join("link").exists());
    let mode = fs::metadata(got.dir.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o111,
        0,
        "received files are never executable: {mode:o}"
    );
    // A second copy goes beside the first, never over it; no work directory is left.
    let again = extract_folder(
        &tar[..],
        &scene.downloads,
        "my project",
        ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(again.dir, scene.downloads.join("my project (1)"));
    let names: Vec<_> = fs::read_dir(&scene.downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_dot_dot_entry_is_refused_and_nothing_is_written() {
    let scene = Scene::new();
    let tar = tar_of(&[
        (EntryType::Regular, b"fine.txt", b"", b"ok"),
        (EntryType::Regular, b"../outside/pwned", b"", b"x"),
    ]);
    let err = scene.refuse(&tar, ExtractLimits::default());
    assert!(matches!(err, ExtractError::Climbs { .. }), "{err}");
    assert_eq!(err.entry(), Some("../outside/pwned"));
    assert!(
        err.to_string().contains("`../outside/pwned` climbs out"),
        "{err}"
    );
    let hidden = tar_of(&[(EntryType::Regular, b"a/../../b", b"", b"x")]);
    assert!(matches!(
        scene.refuse(&hidden, ExtractLimits::default()),
        ExtractError::Climbs { .. }
    ));
}

#[test]
fn absolute_entries_are_refused() {
    let scene = Scene::new();
    for name in [
        &b"/etc/cron.d/evil"[..],
        b"C:/Windows/evil.dll",
        b"//server/share",
    ] {
        let err = scene.refuse(
            &tar_of(&[(EntryType::Regular, name, b"", b"x")]),
            ExtractLimits::default(),
        );
        assert!(matches!(err, ExtractError::Absolute { .. }), "{err}");
    }
}

#[test]
fn a_symlink_pointing_out_is_refused() {
    let scene = Scene::new();
    let tar = tar_of(&[
        (EntryType::Symlink, b"innocent", b"../outside", b""),
        (EntryType::Regular, b"innocent/pwned", b"", b"x"),
    ]);
    let err = scene.refuse(&tar, ExtractLimits::default());
    assert!(
        err.to_string().contains("`innocent` is a symbolic link"),
        "{err}"
    );
}

#[test]
fn a_hard_link_out_is_refused() {
    let scene = Scene::new();
    let tar = tar_of(&[(EntryType::Link, b"passwd", b"/etc/passwd", b"")]);
    let err = scene.refuse(&tar, ExtractLimits::default());
    assert!(err.to_string().contains("`passwd` is a hard link"), "{err}");
}

#[test]
fn devices_fifos_and_sparse_files_are_refused() {
    let scene = Scene::new();
    for (kind, word) in [
        (EntryType::Char, "device"),
        (EntryType::Block, "device"),
        (EntryType::Fifo, "FIFO"),
        (EntryType::GNUSparse, "sparse file"),
    ] {
        let err = scene.refuse(
            &tar_of(&[(kind, b"thing", b"", b"")]),
            ExtractLimits::default(),
        );
        assert!(err.to_string().contains(word), "{err}");
    }
}

#[test]
fn a_20000_entry_tar_is_refused_at_the_entry_cap() {
    let scene = Scene::new();
    let mut b = Builder::new(Vec::new());
    for i in 0..20_000 {
        let name = format!("f{i}");
        b.append(
            &raw_header(EntryType::Regular, name.as_bytes(), b"", 0),
            &[][..],
        )
        .unwrap();
    }
    let tar = b.into_inner().unwrap();
    let err = scene.refuse(&tar, ExtractLimits::default());
    assert!(
        matches!(err, ExtractError::TooManyEntries { limit: 10_000, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("more than 10000 entries (at `f10000`)"),
        "{err}"
    );
}

#[test]
fn a_tar_unpacking_past_the_size_cap_is_refused() {
    let scene = Scene::new();
    let limits = ExtractLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };
    let piece = vec![1u8; 600 * 1024];
    let tar = tar_of(&[
        (EntryType::Regular, b"one", b"", &piece),
        (EntryType::Regular, b"two", b"", &piece),
    ]);
    let err = scene.refuse(&tar, limits);
    assert!(
        err.to_string()
            .contains("more than 1048576 bytes (at `two`)"),
        "{err}"
    );
    // A header announcing 4 GiB of content without any is refused from the header alone.
    let mut b = Builder::new(Vec::new());
    let h = raw_header(EntryType::Regular, b"bomb", b"", 4 << 30);
    b.get_mut().extend_from_slice(h.as_bytes());
    let err = scene.refuse(&b.into_inner().unwrap(), limits);
    assert!(matches!(err, ExtractError::TooLarge { .. }), "{err}");
}

#[test]
fn hostile_entry_names_are_made_safe_per_component() {
    let scene = Scene::new();
    let tar = tar_of(&[
        (
            EntryType::Regular,
            "sub/evil\u{202E}txt.exe".as_bytes(),
            b"",
            b"x",
        ),
        (EntryType::Regular, b"sub/bell\x07.txt", b"", b"y"),
        (EntryType::Regular, b"./dot/./ok", b"", b"z"),
    ]);
    let got = extract_folder(
        &tar[..],
        &scene.downloads,
        "../../.bashrc",
        ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(got.dir, scene.downloads.join("_.._.bashrc"));
    assert_eq!(
        fs::read_to_string(got.dir.join("sub/eviltxt.exe")).unwrap(),
        "x"
    );
    assert_eq!(
        fs::read_to_string(got.dir.join("sub/bell_.txt")).unwrap(),
        "y"
    );
    assert_eq!(fs::read_to_string(got.dir.join("dot/ok")).unwrap(), "z");
}

#[test]
fn duplicate_entries_and_damage_are_refused() {
    let scene = Scene::new();
    let dup = tar_of(&[
        (EntryType::Regular, b"same", b"", b"1"),
        (EntryType::Regular, b"same", b"", b"2"),
    ]);
    assert!(matches!(
        scene.refuse(&dup, ExtractLimits::default()),
        ExtractError::Duplicate { .. }
    ));
    let mut cut = tar_of(&[(EntryType::Regular, b"long", b"", &[5u8; 5000])]);
    cut.truncate(2048);
    assert!(matches!(
        scene.refuse(&cut, ExtractLimits::default()),
        ExtractError::Damaged(_)
    ));
}
