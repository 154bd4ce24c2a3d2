use tokio::io::AsyncWriteExt;

use super::*;

fn record(owner: &str, data: &[u8], expires: u64) -> UploadRecord {
    UploadRecord {
        id: Token::random(),
        owner: owner.to_owned(),
        name: "notes.txt".to_owned(),
        size: data.len() as u64,
        sha256: Sha256Digest::of(data),
        created: 100,
        expires,
        file: None,
    }
}

async fn upload(store: &FsStore, rec: &UploadRecord, data: &[u8]) {
    store.create_upload(rec).await.unwrap();
    let mut w = store.append(&rec.id).await.unwrap();
    w.write_all(data).await.unwrap();
    w.flush().await.unwrap();
}

#[test]
fn tokens_are_random_and_only_their_own_form_parses() {
    let a = Token::random();
    assert_ne!(a, Token::random());
    assert_eq!(a.as_str().len(), 48);
    assert_eq!(a.as_str().parse::<Token>().unwrap(), a);
    for bad in [
        "",
        "../../etc/passwd",
        &a.as_str().to_uppercase(),
        &a.as_str()[1..],
        &format!("{a}0"),
    ] {
        assert!(bad.parse::<Token>().is_err(), "{bad}");
    }
    assert!(
        !format!("{a:?}").contains(a.as_str()),
        "Debug must not print the whole token"
    );
}

#[tokio::test]
async fn a_finished_upload_is_stored_once_by_digest_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let data = b"hello files".repeat(1000);
    let (a, b) = (record("alice", &data, 1000), record("bob", &data, 1000));
    upload(&store, &a, &data).await;
    upload(&store, &b, &data).await;
    assert_eq!(
        store.upload(&a.id).await.unwrap().unwrap().1,
        data.len() as u64
    );
    let cap_a = Token::random();
    let fa = store.finish_upload(&a.id, cap_a.clone()).await.unwrap();
    let fb = store.finish_upload(&b.id, Token::random()).await.unwrap();
    assert_eq!(fa.sha256, fb.sha256);
    // Finishing again answers the same file.
    assert_eq!(
        store
            .finish_upload(&a.id, Token::random())
            .await
            .unwrap()
            .cap,
        cap_a
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs")).unwrap().count(),
        1
    );
    drop(store);
    let store = FsStore::open(dir.path()).await.unwrap();
    let rec = store.file(&cap_a).await.unwrap().unwrap();
    let mut content = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut store.open(&rec).await.unwrap(), &mut content)
        .await
        .unwrap();
    assert_eq!(content, data);
    assert_eq!(store.usage("alice", 500).await.unwrap(), data.len() as u64);
}

#[tokio::test]
async fn wrong_bytes_are_discarded_and_short_uploads_are_not_finished() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let rec = record("alice", b"expected", 1000);
    upload(&store, &rec, b"expectex").await;
    let err = store
        .finish_upload(&rec.id, Token::random())
        .await
        .unwrap_err();
    assert!(matches!(err, FinishError::Mismatch(_)), "{err}");
    assert!(store.upload(&rec.id).await.unwrap().is_none());
    let short = record("alice", b"expected", 1000);
    upload(&store, &short, b"exp").await;
    let err = store
        .finish_upload(&short.id, Token::random())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("3 of 8 bytes"), "{err}");
    assert_eq!(store.usage("alice", 0).await.unwrap(), 8);
    assert!(store.delete_upload(&short.id).await.unwrap());
    assert_eq!(store.usage("alice", 0).await.unwrap(), 0);
}

#[tokio::test]
async fn sweeping_removes_expired_records_and_unreferenced_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    let old = record("alice", b"old", 50);
    let new = record("alice", b"new", 5000);
    upload(&store, &old, b"old").await;
    upload(&store, &new, b"new").await;
    let old_cap = Token::random();
    store.finish_upload(&old.id, old_cap.clone()).await.unwrap();
    store.finish_upload(&new.id, Token::random()).await.unwrap();
    let gone = store.sweep(60).await.unwrap();
    assert_eq!(gone, 2, "the old upload and its file");
    assert!(store.file(&old_cap).await.unwrap().is_none());
    assert_eq!(
        std::fs::read_dir(dir.path().join("blobs")).unwrap().count(),
        1
    );
    assert_eq!(store.usage("alice", 60).await.unwrap(), 3);
}
