//! Hostile `import_json` inputs against the core: nesting 100k levels deep, 10k-digit numbers,
//! 10 MB strings, and 100 MB imports (valid and invalid) whose peak memory is measured in a child
//! process. Each must be rejected with `InvalidJson` (store unchanged) or accepted, never a panic,
//! a stack overflow (which would abort the whole test binary) or unbounded memory.

use std::process::Command;

use userstore::{Store, StoreError};

/// The store's content, to compare before and after a rejection.
fn content(store: &Store) -> Vec<u8> {
    store.export_json()
}

/// `input` is rejected as invalid JSON, with a message containing `expected`, and changes nothing.
fn assert_rejected(input: &[u8], expected: &str, what: &str) {
    let store = Store::new();
    store.put(1, b"kept").unwrap();
    let before = content(&store);
    match store.import_json(input) {
        Err(StoreError::InvalidJson { .. }) => {}
        other => panic!("{what}: expected InvalidJson, got {other:?}"),
    }
    let message = store.import_json(input).unwrap_err().to_string();
    assert!(
        message.to_lowercase().contains(expected),
        "{what}: message {:?} should contain {expected:?}",
        &message[..message.len().min(300)]
    );
    assert_eq!(content(&store), before, "{what}: the store changed");
}

#[test]
fn nesting_100k_levels_is_rejected_without_stack_overflow() {
    let n = 100_000;
    let cases = [
        ("open arrays", "[".repeat(n), "record 0"),
        (
            "balanced arrays",
            "[".repeat(n) + &"]".repeat(n),
            "record 0",
        ),
        (
            "balanced objects in an ignored value",
            format!(
                r#"[{{"id":1,"name":"a","x":{}1{}}}]"#,
                r#"{"k":"#.repeat(n),
                "}".repeat(n)
            ),
            "nesting deeper than 128",
        ),
        (
            "arrays in an ignored value",
            format!(
                r#"[{{"id":1,"name":"a","x":{}{}}}]"#,
                "[".repeat(n),
                "]".repeat(n)
            ),
            "nesting deeper than 128",
        ),
        (
            "arrays as the name",
            format!(r#"[{{"id":1,"name":{}{}}}]"#, "[".repeat(n), "]".repeat(n)),
            "record 0",
        ),
        (
            "records in records",
            r#"[{"id":1,"name":"a","x":["#.repeat(n / 20),
            "record 0",
        ),
    ];
    for (what, input, expected) in cases {
        assert_rejected(input.as_bytes(), expected, what);
    }
}

#[test]
fn numbers_of_10k_digits_are_rejected_as_ids_and_skipped_when_ignored() {
    let digits = "9".repeat(10_000);
    for id in [
        digits.clone(),
        format!("1{digits}"),
        format!("0.{digits}"),
        format!("1e{digits}"),
    ] {
        let input = format!(r#"[{{"id":{id},"name":"a"}}]"#);
        assert_rejected(input.as_bytes(), "record 0", "a 10k-digit id");
    }
    for ignored in [
        digits.clone(),
        format!("-{digits}"),
        format!("0.{digits}"),
        format!("1e{digits}"),
        format!("1e-{digits}"),
    ] {
        let store = Store::new();
        let input = format!(r#"[{{"id":5,"name":"a","x":{ignored}}}]"#);
        assert_eq!(store.import_json(input.as_bytes()), Ok(1));
        assert_eq!(store.get(5).unwrap().as_deref(), Some("a"));
    }
}

#[test]
fn a_10_mb_name_is_rejected_and_a_10_mb_ignored_string_skipped() {
    let huge = "é".repeat(5 << 20); // 10 MiB of UTF-8
    let input = format!(r#"[{{"id":1,"name":"{huge}"}}]"#);
    assert_rejected(input.as_bytes(), "too long", "a 10 MB name");
    let escaped = r"\u00e9".repeat(1 << 20);
    let input = format!(r#"[{{"id":1,"name":"{escaped}"}}]"#);
    assert_rejected(input.as_bytes(), "too long", "an escaped 6 MB name");
    let input = format!(r#"[{{"id":1,"name":"a","{huge}":1,"{huge}":2}}]"#);
    assert_rejected(input.as_bytes(), "duplicate key", "duplicate 10 MB keys");
    let store = Store::new();
    let input = format!(r#"[{{"id":3,"name":"c","x":"{huge}"}}]"#);
    assert_eq!(store.import_json(input.as_bytes()), Ok(1));
}

/// A 100 MiB input: valid records, the same with a syntax error at the very end, or one record
/// whose name is the whole input.
fn input_100mb(kind: &str) -> Vec<u8> {
    let size = 100 << 20;
    let mut out = Vec::with_capacity(size);
    match kind {
        "valid" | "invalid-end" => {
            out.push(b'[');
            let mut id = 0u64;
            loop {
                let record = format!(
                    r#"{}{{"id":{id},"name":"user {}"}}"#,
                    if id == 0 { "" } else { "," },
                    id % 1000
                );
                if out.len() + record.len() + 2 > size {
                    break;
                }
                out.extend_from_slice(record.as_bytes());
                id += 1;
            }
            out.push(if kind == "valid" { b']' } else { b',' });
            out.resize(size, b' ');
        }
        "huge-name" => {
            out.extend_from_slice(br#"[{"id":1,"name":""#);
            out.resize(size - 3, b'a');
            out.extend_from_slice(br#""}]"#);
        }
        _ => panic!("unknown kind {kind}"),
    }
    out
}

/// A field of /proc/self/status in bytes.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap();
    let kb: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// The child's half of [`imports_of_100_mb_use_bounded_memory`]: one import, with the peak RSS
/// during it (VmHWM, reset just before) printed as `RESULT ...`. Does nothing unless run as the
/// child.
#[test]
#[ignore = "run by imports_of_100_mb_use_bounded_memory in a child process"]
fn child_import_100mb() {
    let Ok(kind) = std::env::var("USERSTORE_MALICIOUS_CHILD") else {
        return;
    };
    let input = input_100mb(&kind);
    let store = Store::new();
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = proc_status("VmRSS");
    let started = std::time::Instant::now();
    let outcome = match store.import_json(&input) {
        Ok(count) => format!("accepted count={count}"),
        Err(StoreError::InvalidJson { .. }) => "rejected".to_owned(),
        Err(other) => format!("error {other:?}"),
    };
    let millis = started.elapsed().as_millis();
    let peak = proc_status("VmHWM");
    println!(
        "RESULT kind={kind} input_bytes={} outcome={outcome} size={} peak_growth={} millis={millis}",
        input.len(),
        store.len(),
        peak - before
    );
}

/// 100 MiB imports, each in a child process (this test binary, running [`child_import_100mb`]):
/// the import may use at most 6 times the input's size on top of what the process held before
/// (the input itself).
#[test]
fn imports_of_100_mb_use_bounded_memory() {
    if !std::path::Path::new("/proc/self/clear_refs").exists() {
        eprintln!("skipped: needs Linux /proc/self/clear_refs");
        return;
    }
    let limit = 6u64 * (100 << 20);
    for (kind, outcome) in [
        ("valid", "accepted"),
        ("invalid-end", "rejected"),
        ("huge-name", "rejected"),
    ] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_import_100mb",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("USERSTORE_MALICIOUS_CHILD", kind)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{kind}: child failed: {stdout}");
        let line = stdout
            .lines()
            .find_map(|l| l.find("RESULT ").map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("{kind}: no RESULT line in {stdout}"));
        assert!(line.contains(&format!("outcome={outcome}")), "{line}");
        let growth: u64 = line
            .split(' ')
            .find_map(|kv| kv.strip_prefix("peak_growth="))
            .unwrap()
            .parse()
            .unwrap();
        println!("{line} bound={limit}");
        assert!(
            growth <= limit,
            "{kind}: peak RSS grew by {growth} bytes, bound {limit}"
        );
        if kind != "valid" {
            assert!(line.contains("size=0"), "{line}");
        }
    }
}
