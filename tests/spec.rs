//! The golden files of `spec/` (see `spec/README.md`) against the Rust core: every row of
//! `spec/cases.tsv` is run, so a new file there is picked up without a code change. The Kotlin
//! test `SpecTest` reads the same manifest for both stores, so the two engines are held to the
//! same bytes.
//!
//! - `json`: `import_json` into an empty store; `ok` rows compare the count and the export,
//!   refused rows expect `InvalidJson` whose message holds the fragment, and an unchanged store.
//! - `snapshot`: `Store::open` of the decoded `.snap.hex`; `ok` rows compare the export,
//!   refused rows expect `SnapshotCorrupt` whose message holds the fragment.
//! - `wal`: the directory's `.hex` files are decoded into a fresh temporary directory, which is
//!   opened with `open_durable`; `ok` rows compare the export and the newest log's size after
//!   the open (the torn tail cut), refused rows expect `SnapshotCorrupt` with the fragment and
//!   a directory left byte for byte as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use userstore::{DurableOptions, Store, StoreError, SyncMode};

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("spec")
}

/// One row of `spec/cases.tsv`.
struct Case {
    kind: String,
    input: String,
    outcome: String,
    expected: String,
    extra: String,
}

fn cases() -> Vec<Case> {
    let text = fs::read_to_string(spec_dir().join("cases.tsv")).expect("spec/cases.tsv");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 5, "five columns in {l:?}");
            Case {
                kind: c[0].to_owned(),
                input: c[1].to_owned(),
                outcome: c[2].to_owned(),
                expected: c[3].to_owned(),
                extra: c[4].to_owned(),
            }
        })
        .collect()
}

/// Hex text to bytes; ASCII whitespace between the digits is ignored (the files hold one
/// field or record per line).
fn hex_decode(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len() % 2 == 0, "an even number of hex digits");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).expect("hex digit"))
        .collect()
}

fn read(rel: &str) -> Vec<u8> {
    fs::read(spec_dir().join(rel)).unwrap_or_else(|e| panic!("spec/{rel}: {e}"))
}

/// Every regular file of `dir` by name, with its bytes.
fn directory_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Whether `message` holds `fragment`; `-` in the manifest means the message is not checked
/// (the engines' messages share no fragment for that case, see `spec/README.md`).
fn fragment_found(message: &str, fragment: &str) -> bool {
    fragment == "-" || message.contains(fragment)
}

/// Checks a refusal: the error kind and the fragment.
fn check_error(case: &Case, result: Result<Store, StoreError>) -> Result<(), String> {
    match result {
        Ok(store) => Err(format!(
            "accepted, export {}",
            String::from_utf8_lossy(&store.export_json())
        )),
        Err(e @ StoreError::SnapshotCorrupt { .. }) if case.outcome == "CorruptSnapshot" => {
            let message = e.to_string();
            if fragment_found(&message, &case.expected) {
                Ok(())
            } else {
                Err(format!("message {message:?} lacks {:?}", case.expected))
            }
        }
        Err(e) => Err(format!("expected {}, got {e:?}", case.outcome)),
    }
}

fn check_export(case: &Case, store: &Store) -> Result<(), String> {
    let expected = read(&case.expected);
    let got = store.export_json();
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "export {:?}, expected {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        ))
    }
}

fn run_json(case: &Case) -> Result<(), String> {
    let store = Store::new();
    let input = read(&case.input);
    match (store.import_json(&input), case.outcome.as_str()) {
        (Ok(n), "ok") => {
            let count: usize = case.extra.parse().expect("a count");
            if n != count {
                return Err(format!("count {n}, expected {count}"));
            }
            check_export(case, &store)
        }
        (Err(e @ StoreError::InvalidJson { .. }), "InvalidJson") => {
            let message = e.to_string();
            if !fragment_found(&message, &case.expected) {
                return Err(format!("message {message:?} lacks {:?}", case.expected));
            }
            if store.export_json() != b"[]" {
                return Err("a refused import changed the store".to_owned());
            }
            Ok(())
        }
        (Ok(n), _) => Err(format!(
            "accepted ({n} records), expected {}: export {}",
            case.outcome,
            String::from_utf8_lossy(&store.export_json())
        )),
        (Err(e), _) => Err(format!("expected {}, got {e:?}", case.outcome)),
    }
}

fn run_snapshot(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("case.snap");
    let hex = String::from_utf8(read(&case.input)).expect("hex text");
    fs::write(&file, hex_decode(&hex)).unwrap();
    let result = Store::open(&file);
    if case.outcome != "ok" {
        return check_error(case, result);
    }
    let store = result.map_err(|e| format!("refused: {e}"))?;
    let count: u64 = case.extra.parse().expect("a count");
    if store.len() != count {
        return Err(format!("{} users, expected {count}", store.len()));
    }
    check_export(case, &store)?;
    // Written again, the snapshot has the golden bytes: the format has one encoding per content.
    let again = dir.path().join("again.snap");
    store.save(&again).map_err(|e| e.to_string())?;
    if fs::read(&again).unwrap() != fs::read(&file).unwrap() {
        return Err("save does not write the golden bytes back".to_owned());
    }
    Ok(())
}

fn run_wal(case: &Case) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    fs::create_dir(&dir).unwrap();
    let mut newest_log = None;
    for entry in fs::read_dir(spec_dir().join(&case.input)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = name
            .strip_suffix(".hex")
            .expect("every file of a wal case is .hex");
        let bytes = hex_decode(&fs::read_to_string(entry.path()).unwrap());
        fs::write(dir.join(target), bytes).unwrap();
        if target.starts_with("log-") && newest_log.as_deref().is_none_or(|n: &str| target > n) {
            newest_log = Some(target.to_owned());
        }
    }
    let before = directory_bytes(&dir);
    let result = Store::open_durable(&dir, DurableOptions::new(SyncMode::Always));
    if case.outcome != "ok" {
        check_error(case, result)?;
        let mut after = directory_bytes(&dir);
        // The lock file is created by the open (step 1) and is not part of the case.
        if !before.contains_key("LOCK") {
            after.remove("LOCK");
        }
        if after != before {
            return Err("a refused open changed the directory".to_owned());
        }
        return Ok(());
    }
    let store = result.map_err(|e| format!("refused: {e}"))?;
    check_export(case, &store)?;
    store.close_log().map_err(|e| e.to_string())?;
    drop(store);
    if case.extra != "-" {
        let expected: u64 = case.extra.parse().expect("a size");
        let log = dir.join(newest_log.expect("a log"));
        let size = fs::metadata(&log).unwrap().len();
        if size != expected {
            return Err(format!(
                "{} is {size} bytes after the open, expected {expected}",
                log.display()
            ));
        }
    }
    Ok(())
}

#[test]
fn every_golden_case_of_the_manifest() {
    let cases = cases();
    assert!(
        cases.len() >= 100,
        "the manifest holds {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let result = match case.kind.as_str() {
            "json" => run_json(case),
            "snapshot" => run_snapshot(case),
            "wal" => run_wal(case),
            other => Err(format!("unknown kind {other}")),
        };
        if let Err(why) = result {
            failures.push(format!("{} {}: {why}", case.kind, case.input));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_file_of_spec_is_in_the_manifest() {
    let cases = cases();
    let mut listed: Vec<String> = Vec::new();
    for c in &cases {
        listed.push(c.input.clone());
        if c.outcome == "ok" {
            listed.push(c.expected.clone());
        }
    }
    for sub in ["json/accepted", "json/refused", "snapshot"] {
        for entry in fs::read_dir(spec_dir().join(sub)).unwrap() {
            let rel = format!("{sub}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                listed.contains(&rel),
                "spec/{rel} is in no row of spec/cases.tsv"
            );
        }
    }
    for entry in fs::read_dir(spec_dir().join("wal")).unwrap() {
        let entry = entry.unwrap();
        let rel = format!("wal/{}", entry.file_name().to_string_lossy());
        assert!(
            listed.contains(&rel),
            "spec/{rel} is in no row of spec/cases.tsv"
        );
    }
}
