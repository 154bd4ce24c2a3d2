use super::*;
use crate::files::digest::Sha256Digest;

#[test]
fn packing_is_deterministic_and_measured_exactly() {
    let src = tempfile::tempdir().unwrap();
    for i in 0..20 {
        fs::write(src.path().join(format!("f{i}")), format!("{i}")).unwrap();
    }
    let (digest, len, summary) = measure_folder(src.path()).unwrap();
    let mut first = Vec::new();
    pack_folder(src.path(), &mut first).unwrap();
    let mut second = Vec::new();
    pack_folder(src.path(), &mut second).unwrap();
    assert_eq!(first, second);
    assert_eq!(len, first.len() as u64);
    assert_eq!(digest, Sha256Digest::of(&first));
    assert_eq!(summary.files, 20);
    // Sorted by name, owned by nobody in particular.
    let mut archive = tar::Archive::new(&first[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert_eq!(
                (e.header().uid().unwrap(), e.header().gid().unwrap()),
                (0, 0)
            );
            e.path().unwrap().display().to_string()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn special_files_are_skipped_and_named() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("real"), "r").unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(src.path().join("sock")).unwrap();
    std::os::unix::fs::symlink("..", src.path().join("up")).unwrap();
    let mut tar = Vec::new();
    let summary = pack_folder(src.path(), &mut tar).unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(
        summary.skipped,
        [PathBuf::from("sock"), PathBuf::from("up")]
    );
}

#[test]
fn a_file_is_not_a_folder() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f");
    fs::write(&file, "x").unwrap();
    let err = pack_folder(&file, io::sink()).unwrap_err();
    assert!(matches!(err, PackError::NotAFolder(_)), "{err}");
    let err = pack_folder(&src.path().join("missing"), io::sink()).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}
