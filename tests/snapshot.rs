//! Integration tests of snapshots (`docs/SNAPSHOT.md`): round trips, every kind of damage a file
//! can suffer, and the atomic save that leaves the target untouched when it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use userstore::{Store, StoreError};

/// A fresh, empty directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "userstore-snapshot-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A store with names that test the encoding: NUL, emoji, 256 code points, many scripts.
fn sample_store() -> Store {
    let store = Store::new();
    store.put(0, b"zero").unwrap();
    store.put(7, "a\0b".as_bytes()).unwrap();
    store.put(3, "\0".as_bytes()).unwrap();
    store.put(42, "😀".as_bytes()).unwrap();
    store.put(43, "😀".repeat(256).as_bytes()).unwrap();
    store.put(44, "x".repeat(256).as_bytes()).unwrap();
    store
        .put(45, "Zoë Ελληνικά 日本語 \u{10FFFF}".as_bytes())
        .unwrap();
    store.put(i64::MAX, b"max").unwrap();
    store.put(1000, b"zero").unwrap();
    store
}

fn corrupt_reason(result: Result<Store, StoreError>, path: &Path) -> String {
    match result {
        Err(StoreError::SnapshotCorrupt { path: p, reason }) => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("expected SnapshotCorrupt, got {other:?}"),
    }
}

#[test]
fn roundtrip_keeps_every_user_and_the_name_index() {
    let dir = TempDir::new();
    let path = dir.path("users.snap");
    let store = sample_store();
    store.save(&path).unwrap();
    let opened = Store::open(&path).unwrap();
    assert_eq!(opened.len(), store.len());
    assert_eq!(opened.export_json(), store.export_json());
    assert_eq!(opened.find_by_name(b"zero").unwrap(), vec![0, 1000]);
    assert_eq!(
        opened.get(43).unwrap().as_deref(),
        Some("😀".repeat(256).as_str())
    );
    // Saving what was opened gives the same bytes; no temporary file is left behind.
    let again = dir.path("again.snap");
    opened.save(&again).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&again).unwrap());
    assert_eq!(dir.files(), vec!["again.snap", "users.snap"]);
}

#[test]
fn empty_store_roundtrips() {
    let dir = TempDir::new();
    let path = dir.path("empty.snap");
    Store::new().save(&path).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 36);
    let opened = Store::open(&path).unwrap();
    assert!(opened.is_empty());
    assert_eq!(opened.export_json(), b"[]");
}

#[test]
fn the_same_content_gives_the_same_bytes_whatever_the_insertion_order() {
    let a = Store::new();
    let b = Store::new();
    for id in 0..500i64 {
        a.put(id, format!("user-{id}").as_bytes()).unwrap();
        b.put(499 - id, format!("user-{}", 499 - id).as_bytes())
            .unwrap();
    }
    assert_eq!(a.to_snapshot_bytes(), b.to_snapshot_bytes());
}

#[test]
fn save_replaces_an_existing_file() {
    let dir = TempDir::new();
    let path = dir.path("users.snap");
    sample_store().save(&path).unwrap();
    let small = Store::new();
    small.put(1, b"one").unwrap();
    small.save(&path).unwrap();
    assert_eq!(
        Store::open(&path).unwrap().export_json(),
        small.export_json()
    );
    assert_eq!(dir.files(), vec!["users.snap"]);
}

#[test]
fn truncation_at_any_position_is_detected() {
    let dir = TempDir::new();
    let bytes = sample_store().to_snapshot_bytes();
    let path = dir.path("cut.snap");
    for len in (0..bytes.len())
        .step_by(7)
        .chain([1, 8, 35, 36, bytes.len() - 1])
    {
        fs::write(&path, &bytes[..len]).unwrap();
        let reason = corrupt_reason(Store::open(&path), &path);
        assert!(reason.contains("truncated"), "cut at {len}: {reason}");
    }
}

#[test]
fn appended_bytes_are_detected() {
    let dir = TempDir::new();
    let mut bytes = sample_store().to_snapshot_bytes();
    bytes.push(0);
    let path = dir.path("long.snap");
    fs::write(&path, &bytes).unwrap();
    let reason = corrupt_reason(Store::open(&path), &path);
    assert!(reason.contains("bytes after the end"), "{reason}");
}

#[test]
fn a_flipped_byte_anywhere_is_detected() {
    let dir = TempDir::new();
    let bytes = sample_store().to_snapshot_bytes();
    let path = dir.path("flipped.snap");
    let len = bytes.len();
    // magic, version, flags, total length, user count, first record id, a name, the CRC.
    let cases = [
        (0, "wrong magic"),
        (7, "wrong magic"),
        (8, "unsupported format version"),
        (12, "unknown flags"),
        (16, "header says"),
        (24, "checksum mismatch"),
        (32, "checksum mismatch"),
        (42, "checksum mismatch"),
        (len / 2, "checksum mismatch"),
        (len - 5, "checksum mismatch"),
        (len - 4, "checksum mismatch"),
        (len - 1, "checksum mismatch"),
    ];
    for (at, expected) in cases {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut damaged = bytes.clone();
            damaged[at] ^= mask;
            fs::write(&path, &damaged).unwrap();
            let reason = corrupt_reason(Store::open(&path), &path);
            assert!(reason.contains(expected), "byte {at} ^ {mask:#x}: {reason}");
        }
    }
    // Every single-bit flip of every byte is refused.
    for at in 0..len {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        fs::write(&path, &damaged).unwrap();
        corrupt_reason(Store::open(&path), &path);
    }
}

/// A snapshot of `records` (id, name bytes) with a correct header and CRC, valid or not.
fn forge(records: &[(u64, &[u8])]) -> Vec<u8> {
    forge_with(records, records.len() as u64, 1)
}

fn forge_with(records: &[(u64, &[u8])], count: u64, version: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&userstore::core::SNAPSHOT_MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&count.to_le_bytes());
    for (id, name) in records {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
    }
    let total = (out.len() + 4) as u64;
    out[16..24].copy_from_slice(&total.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn forged_files_with_a_valid_checksum_are_still_checked_record_by_record() {
    let dir = TempDir::new();
    let path = dir.path("forged.snap");
    let long_name = "x".repeat(257);
    let emoji_257 = "😀".repeat(257);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            forge(&[(1, b"a"), (1 << 63, b"b")]),
            "record 1: id 9223372036854775808 is above",
        ),
        (
            forge(&[(u64::MAX, b"b")]),
            "record 0: id 18446744073709551615",
        ),
        (
            forge(&[(2, b"a"), (1, b"b")]),
            "record 1: id 1 does not follow 2",
        ),
        (
            forge(&[(2, b"a"), (2, b"b")]),
            "record 1: id 2 does not follow 2",
        ),
        (forge(&[(1, b""), (2, b"bcd")]), "record 0: name length 0"),
        (
            forge(&[(1, b"ab\xff")]),
            "record 0: the name is not valid UTF-8",
        ),
        (forge(&[(1, b"\xed\xa0\x80")]), "not valid UTF-8"),
        (forge(&[(1, b"\xc0\x80")]), "not valid UTF-8"),
        (forge(&[(1, long_name.as_bytes())]), "too long: 257"),
        (forge(&[(1, emoji_257.as_bytes())]), "name length 1028"),
        (forge_with(&[(1, b"a")], 2, 1), "cannot fit"),
        (
            forge_with(&[(1, b"a"), (2, b"b")], 1, 1),
            "bytes after the last",
        ),
        (
            forge_with(&[(1, b"abcdefghijkl")], 2, 1),
            "record 1: runs past the end",
        ),
        (forge_with(&[], 0, 2), "unsupported format version 2"),
        (forge_with(&[], 0, 0), "unsupported format version 0"),
    ];
    for (bytes, expected) in cases {
        fs::write(&path, &bytes).unwrap();
        let reason = corrupt_reason(Store::open(&path), &path);
        assert!(
            reason.contains(expected),
            "expected {expected:?} in {reason:?}"
        );
    }
    // The forging itself is right: a valid forged file opens.
    fs::write(&path, forge(&[(1, b"a"), (5, "😀".as_bytes())])).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get(5).unwrap().as_deref(), Some("😀"));
}

#[test]
fn wrong_magic_names_the_file() {
    let dir = TempDir::new();
    let path = dir.path("not-a-snapshot.json");
    fs::write(&path, br#"[{"id":1,"name":"a"}]"#).unwrap();
    let err = Store::open(&path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("not-a-snapshot.json"), "{message}");
    assert!(message.contains("wrong magic"), "{message}");
    fs::write(&path, b"").unwrap();
    let reason = corrupt_reason(Store::open(&path), &path);
    assert!(reason.contains("truncated: 0 bytes"), "{reason}");
}

#[test]
fn a_missing_file_is_snapshot_missing() {
    let dir = TempDir::new();
    let path = dir.path("nothing-here.snap");
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err, StoreError::SnapshotMissing { path: path.clone() });
    assert!(err.to_string().contains("nothing-here.snap"), "{err}");
    let in_missing_dir = dir.path("no-dir").join("x.snap");
    assert!(matches!(
        Store::open(&in_missing_dir),
        Err(StoreError::SnapshotMissing { .. })
    ));
}

#[test]
fn reading_a_directory_is_an_io_error() {
    let dir = TempDir::new();
    let err = Store::open(&dir.0).unwrap_err();
    assert!(matches!(err, StoreError::SnapshotIo { .. }), "{err:?}");
}

#[test]
fn a_failed_save_leaves_the_target_untouched_and_no_temporary_file() {
    let dir = TempDir::new();
    // The directory does not exist.
    let missing = dir.path("no-such-dir").join("users.snap");
    let err = sample_store().save(&missing).unwrap_err();
    match &err {
        StoreError::SnapshotIo { path, reason } => {
            assert_eq!(path, &missing);
            assert!(reason.contains("cannot save"), "{reason}");
        }
        other => panic!("expected SnapshotIo, got {other:?}"),
    }
    assert!(err.to_string().contains("users.snap"), "{err}");

    // The target is a non-empty directory: the rename fails after the temporary file was written.
    let target = dir.path("users.snap");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"kept").unwrap();
    assert!(matches!(
        sample_store().save(&target),
        Err(StoreError::SnapshotIo { .. })
    ));
    assert_eq!(fs::read(target.join("keep")).unwrap(), b"kept");
    assert_eq!(dir.files(), vec!["users.snap"], "no temporary file is left");

    // A good snapshot survives a failed save over it from a path that cannot be written.
    let good = dir.path("good.snap");
    sample_store().save(&good).unwrap();
    let before = fs::read(&good).unwrap();
    assert!(Store::new().save(good.join("child")).is_err());
    assert_eq!(fs::read(&good).unwrap(), before);
}

#[test]
fn a_relative_path_without_a_directory_works() {
    // Saved into the current directory (the crate root under cargo test), then removed.
    let name = format!("userstore-relative-{}.snap", std::process::id());
    let store = sample_store();
    store.save(&name).unwrap();
    let opened = Store::open(&name);
    fs::remove_file(&name).unwrap();
    assert_eq!(opened.unwrap().export_json(), store.export_json());
}
