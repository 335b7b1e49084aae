//! Replays the fuzz targets' committed corpus (`fuzz/corpus/<target>/`) through the same checks
//! the fuzzer runs (`fuzz/src/lib.rs`, included here), so they are part of `cargo test` and
//! `./gradlew check` on stable Rust without libFuzzer. Inputs a fuzz run found to crash are
//! committed to the corpus as well, so they stay fixed.
//!
//! Files named `valid-*` must be accepted and `invalid-*` rejected; others (found by the
//! fuzzer) only have to pass the checks.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::fs;
use std::path::PathBuf;

use userstore::Store;

/// The corpus files of `target`, sorted, with their names.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("a corpus file"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{}: too few seeds", dir.display());
    files
}

/// Runs `check` on every file of `target`'s corpus and `accepts` to check the naming convention.
fn replay(target: &str, check: fn(&[u8]), accepts: fn(&[u8]) -> bool) {
    for (name, data) in corpus(target) {
        check(&data);
        if name.starts_with("valid-") {
            assert!(accepts(&data), "{target}/{name} should be accepted");
        } else if name.starts_with("invalid-") {
            assert!(!accepts(&data), "{target}/{name} should be rejected");
        }
    }
}

#[test]
fn import_json_corpus_passes_the_fuzz_checks() {
    replay("import_json", checks::check_import, |data| {
        Store::new().import_json(data).is_ok()
    });
}

#[test]
fn snapshot_corpus_passes_the_fuzz_checks() {
    replay("snapshot", checks::check_snapshot, |data| {
        Store::from_snapshot_bytes(data).is_ok()
    });
}

#[test]
fn the_repaired_snapshot_has_a_valid_header_and_checksum() {
    let store = Store::new();
    store.put(1, b"a").unwrap();
    store.put(5, "😀".as_bytes()).unwrap();
    let good = store.to_snapshot_bytes();
    let mut damaged = good.clone();
    damaged[..8].copy_from_slice(b"garbage!");
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    assert_eq!(
        checks::repair_snapshot(&damaged).as_deref(),
        Some(&good[..])
    );
    assert_eq!(checks::repair_snapshot(&good[..35]), None);
}
